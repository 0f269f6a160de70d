//! The migration tracker: at most one non-terminal migration per shard, within caps.
//!
//! The coordinator owns it and persists every record it changes (see
//! [`MigrationTracker::record_op`]); [`MigrationTracker::restore`] rebuilds it on boot.

use crate::config::MigrationCaps;
use crate::ids::{ActorId, Epoch, Instant, LogIndex, MigrationId, NodeId, PeerIdentity, ShardId};
use crate::log::Digest;
use crate::phase::{AbortReason, IllegalTransition, Phase};
use crate::storage::{put, StorageKey, StorageOp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationRecord {
    pub id: MigrationId,
    pub shard: ShardId,
    pub source_node: NodeId,
    pub target_node: NodeId,
    /// Identities at the start: a change of either aborts the migration.
    pub source: PeerIdentity,
    pub target: PeerIdentity,
    pub from_epoch: Epoch,
    pub phase: Phase,
    pub abort_reason: Option<AbortReason>,
    pub started_at: Instant,
    pub cutover_started_at: Option<Instant>,
    pub sealed: Option<(LogIndex, Digest)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerError {
    ShardBusy {
        shard: ShardId,
        active: MigrationId,
    },
    TotalCapReached,
    NodeCapReached {
        node: NodeId,
    },
    SourceIsTarget {
        node: NodeId,
    },
    UnknownMigration {
        migration: MigrationId,
    },
    NotDataNodes,
    Illegal(IllegalTransition),
    /// Restored records break the tracker's own rules: the disk is corrupt.
    CorruptState(String),
}

impl fmt::Display for TrackerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrackerError::ShardBusy { shard, active } => {
                write!(f, "{shard} already has active migration {active}")
            }
            TrackerError::TotalCapReached => write!(f, "active migration cap reached"),
            TrackerError::NodeCapReached { node } => {
                write!(f, "{node} reached its active migration cap")
            }
            TrackerError::SourceIsTarget { node } => {
                write!(f, "{node} cannot migrate a shard to itself")
            }
            TrackerError::UnknownMigration { migration } => {
                write!(f, "unknown migration {migration}")
            }
            TrackerError::NotDataNodes => write!(f, "source and target must be data nodes"),
            TrackerError::Illegal(error) => write!(f, "{error}"),
            TrackerError::CorruptState(detail) => write!(f, "corrupt tracker state: {detail}"),
        }
    }
}

impl std::error::Error for TrackerError {}

#[derive(Clone, Debug, serde::Serialize)]
pub struct MigrationTracker {
    caps: MigrationCaps,
    terminal_kept_max: usize,
    records: BTreeMap<MigrationId, MigrationRecord>,
    active_by_shard: BTreeMap<ShardId, MigrationId>,
    active_by_node: BTreeMap<NodeId, usize>,
    /// Oldest first, so pruning keeps the newest terminal records.
    terminal_order: VecDeque<MigrationId>,
    next_id: MigrationId,
    /// The `PhaseShortcut` canary: base copy may jump to cut-over.
    allow_phase_shortcut: bool,
}

impl MigrationTracker {
    pub fn new(caps: MigrationCaps, terminal_kept_max: usize) -> MigrationTracker {
        MigrationTracker {
            caps,
            terminal_kept_max,
            records: BTreeMap::new(),
            active_by_shard: BTreeMap::new(),
            active_by_node: BTreeMap::new(),
            terminal_order: VecDeque::new(),
            next_id: MigrationId(1),
            allow_phase_shortcut: false,
        }
    }

    /// Plants the `PhaseShortcut` canary: base copy may jump straight to cut-over.
    pub fn with_phase_shortcut(mut self, allowed: bool) -> MigrationTracker {
        self.allow_phase_shortcut = allowed;
        self
    }

    /// Rebuilds the tracker from persisted records. Caps are not re-checked (they may
    /// have changed); the one-active-per-shard rule is.
    pub fn restore(
        caps: MigrationCaps,
        terminal_kept_max: usize,
        next_id: MigrationId,
        records: impl IntoIterator<Item = MigrationRecord>,
    ) -> Result<MigrationTracker, TrackerError> {
        let mut tracker = MigrationTracker::new(caps, terminal_kept_max);
        tracker.next_id = next_id;
        let mut sorted: Vec<MigrationRecord> = records.into_iter().collect();
        sorted.sort_by_key(|record| record.id);
        for record in sorted {
            if record.id >= next_id {
                return Err(TrackerError::CorruptState(format!("{} at or past next id {}", record.id, next_id)));
            }
            if record.phase.is_terminal() {
                tracker.terminal_order.push_back(record.id);
            } else {
                if let Some(active) = tracker.active_by_shard.insert(record.shard, record.id) {
                    return Err(TrackerError::CorruptState(format!(
                        "{} and {} both active on {}",
                        active, record.id, record.shard
                    )));
                }
                *tracker.active_by_node.entry(record.source_node).or_default() += 1;
                *tracker.active_by_node.entry(record.target_node).or_default() += 1;
            }
            tracker.records.insert(record.id, record);
        }
        tracker.check_invariants();
        Ok(tracker)
    }

    pub fn next_id(&self) -> MigrationId {
        self.next_id
    }

    pub fn get(&self, id: MigrationId) -> Option<&MigrationRecord> {
        self.records.get(&id)
    }

    pub fn active_for_shard(&self, shard: ShardId) -> Option<&MigrationRecord> {
        self.active_by_shard.get(&shard).and_then(|id| self.records.get(id))
    }

    pub fn active(&self) -> impl Iterator<Item = &MigrationRecord> {
        self.active_by_shard.values().filter_map(|id| self.records.get(id))
    }

    pub fn active_ids(&self) -> Vec<MigrationId> {
        let mut ids: Vec<MigrationId> = self.active_by_shard.values().copied().collect();
        ids.sort();
        ids
    }

    pub fn records(&self) -> impl Iterator<Item = &MigrationRecord> {
        self.records.values()
    }

    pub fn active_total(&self) -> usize {
        self.active_by_shard.len()
    }

    pub fn active_for_node(&self, node: NodeId) -> usize {
        self.active_by_node.get(&node).copied().unwrap_or(0)
    }

    pub fn active_by_node(&self) -> Vec<(NodeId, usize)> {
        self.active_by_node.iter().filter(|(_, count)| **count > 0).map(|(node, count)| (*node, *count)).collect()
    }

    /// Whether `begin` would accept a migration between these nodes for this shard.
    pub fn admits(&self, shard: ShardId, source: NodeId, target: NodeId) -> Result<(), TrackerError> {
        if source == target {
            return Err(TrackerError::SourceIsTarget { node: source });
        }
        if let Some(active) = self.active_by_shard.get(&shard) {
            return Err(TrackerError::ShardBusy { shard, active: *active });
        }
        if self.active_total() >= self.caps.active_total_max {
            return Err(TrackerError::TotalCapReached);
        }
        for node in [source, target] {
            if self.active_for_node(node) >= self.caps.active_per_node_max {
                return Err(TrackerError::NodeCapReached { node });
            }
        }
        Ok(())
    }

    /// Registers a new migration in `BaseCopy`. The caller persists `record_op` and
    /// `next_id` before telling anyone.
    pub fn begin(
        &mut self,
        shard: ShardId,
        source: PeerIdentity,
        target: PeerIdentity,
        from_epoch: Epoch,
        now: Instant,
    ) -> Result<MigrationId, TrackerError> {
        let (ActorId::Node(source_node), ActorId::Node(target_node)) = (source.actor, target.actor) else {
            return Err(TrackerError::NotDataNodes);
        };
        self.admits(shard, source_node, target_node)?;
        let id = self.next_id;
        self.next_id = MigrationId(id.0 + 1);
        let record = MigrationRecord {
            id,
            shard,
            source_node,
            target_node,
            source,
            target,
            from_epoch,
            phase: Phase::BaseCopy,
            abort_reason: None,
            started_at: now,
            cutover_started_at: None,
            sealed: None,
        };
        self.records.insert(id, record);
        self.active_by_shard.insert(shard, id);
        *self.active_by_node.entry(source_node).or_default() += 1;
        *self.active_by_node.entry(target_node).or_default() += 1;
        self.check_invariants();
        Ok(id)
    }

    /// Moves a migration to `to` if that is legal; returns the phase it left.
    pub fn advance(&mut self, id: MigrationId, to: Phase, now: Instant) -> Result<Phase, TrackerError> {
        let record = self.records.get_mut(&id).ok_or(TrackerError::UnknownMigration { migration: id })?;
        let from = record.phase;
        let shortcut = self.allow_phase_shortcut && from == Phase::BaseCopy && to == Phase::CutOver;
        if !from.can_advance_to(to) && !shortcut {
            return Err(TrackerError::Illegal(IllegalTransition { from, to }));
        }
        record.phase = to;
        if to == Phase::CutOver {
            record.cutover_started_at = Some(now);
        }
        if to.is_terminal() {
            let (shard, source, target) = (record.shard, record.source_node, record.target_node);
            self.active_by_shard.remove(&shard);
            for node in [source, target] {
                let count = self.active_by_node.get_mut(&node).expect("active migration counted on its nodes");
                *count -= 1;
                if *count == 0 {
                    self.active_by_node.remove(&node);
                }
            }
            self.terminal_order.push_back(id);
        }
        self.check_invariants();
        Ok(from)
    }

    pub fn fail(&mut self, id: MigrationId, reason: AbortReason, now: Instant) -> Result<Phase, TrackerError> {
        let from = self.advance(id, Phase::Failed, now)?;
        self.records.get_mut(&id).expect("just advanced").abort_reason = Some(reason);
        Ok(from)
    }

    pub fn record_sealed(&mut self, id: MigrationId, index: LogIndex, digest: Digest) {
        if let Some(record) = self.records.get_mut(&id) {
            record.sealed = Some((index, digest));
        }
    }

    /// Forgets the oldest terminal records past the bound; returns the ops that delete them.
    pub fn prune(&mut self) -> Vec<StorageOp> {
        let mut ops = Vec::new();
        while self.terminal_order.len() > self.terminal_kept_max {
            let id = self.terminal_order.pop_front().expect("length checked");
            self.records.remove(&id);
            ops.push(StorageOp::Delete { key: StorageKey::Migration(id) });
        }
        ops
    }

    /// The op that persists one record as it is now.
    pub fn record_op(&self, id: MigrationId) -> StorageOp {
        put(StorageKey::Migration(id), self.records.get(&id).expect("persisting a known migration"))
    }

    /// The tracker's own rules; a failure is a bug in this module.
    pub fn check_invariants(&self) {
        let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
        for (shard, id) in &self.active_by_shard {
            let record = &self.records[id];
            assert_eq!(record.shard, *shard, "active index points at another shard");
            assert!(!record.phase.is_terminal(), "terminal migration {id} indexed as active");
            *per_node.entry(record.source_node).or_default() += 1;
            *per_node.entry(record.target_node).or_default() += 1;
        }
        // This scan grows with the records kept, so only debug builds pay for it on every change.
        if cfg!(debug_assertions) {
            let active_records = self.records.values().filter(|record| !record.phase.is_terminal()).count();
            assert_eq!(active_records, self.active_by_shard.len(), "a non-terminal migration is not indexed");
        }
        assert_eq!(per_node, self.active_by_node, "per-node active counts drifted");
    }
}
