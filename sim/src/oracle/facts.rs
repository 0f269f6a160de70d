//! What the oracle has learnt so far from observations: the history its invariants read.

use super::coverage::Coverage;
use super::entities::EntityAcks;
use super::registry::{Checks, CHECKERS};
use super::state::ClusterState;
use shardsim_core::fixed_hash::FixedHashTable;
use shardsim_core::log::Digest;
use shardsim_core::phase::Phase;
use shardsim_core::wire::ShardRole;
use shardsim_core::{
    ActorId, EntityKey, Epoch, Instant, LogIndex, MigrationId, NodeId, Observation, PeerIdentity, ProtocolConfig,
    ShardId, WriteId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// When something happened: its place in the order of observations (many happen in one
/// simulated millisecond), and its time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Moment {
    pub sequence: u64,
    pub at: Instant,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackedMigration {
    pub shard: ShardId,
    pub source: NodeId,
    pub target: NodeId,
    pub target_identity: PeerIdentity,
    pub started: Moment,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verification {
    pub at: Moment,
    pub identity: PeerIdentity,
    pub durable: Result<(LogIndex, Digest), String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AckedWrite {
    pub index: LogIndex,
    pub epoch: Epoch,
    pub node: NodeId,
}

#[derive(Clone, Debug, Default)]
pub struct Facts {
    pub config: ProtocolConfig,
    /// Migrations the coordinator started and has not (observably) ended.
    pub active: BTreeMap<MigrationId, TrackedMigration>,
    pub phases: BTreeMap<MigrationId, Phase>,
    /// The committed owner of each (shard, epoch): allocations and cut-overs. (The
    /// fixed-hash tables here are looked up at every ack and never walked in an order
    /// that matters.)
    pub owner_at: FixedHashTable<(ShardId, Epoch), NodeId>,
    pub committed_epoch: FixedHashTable<ShardId, Epoch>,
    pub first_acker: FixedHashTable<(ShardId, Epoch), NodeId>,
    /// Every write acked per shard: looked up at each ack, walked only by the checks
    /// that report the lowest failing write id (so the walk's order does not matter).
    pub acked: BTreeMap<ShardId, FixedHashTable<WriteId, AckedWrite>>,
    /// What each node acked since it last booted: what its next boot must still hold.
    pub acks_since_boot: FixedHashTable<NodeId, Vec<(ShardId, WriteId)>>,
    pub boots: BTreeMap<NodeId, Vec<(Moment, PeerIdentity)>>,
    /// Observations seen so far: orders events within one millisecond.
    pub sequence: u64,
    pub fenced_at: BTreeMap<MigrationId, Instant>,
    pub sealed: BTreeMap<MigrationId, (LogIndex, Digest)>,
    /// When, and as whom, each migration's target last verified what it holds, and what
    /// its disk durably held then.
    pub verified: BTreeMap<MigrationId, Verification>,
    /// The epoch each node last held each shard at, indexed by shard id: read for every
    /// shard a node holds after each of its steps, so a slice, not a tree.
    pub node_epochs: BTreeMap<NodeId, Vec<Epoch>>,
    pub route_epochs: BTreeMap<ShardId, Epoch>,
    pub liveness_started_at: Option<Instant>,
    /// Records the nemesis tore or flipped on a node's disk, with what they were meant to
    /// hold, until the node's next boot reads them back.
    pub damaged_records: BTreeMap<NodeId, Vec<(shardsim_core::storage::StorageKey, bytes::Bytes)>>,
    /// The migrations each shard started after the heal, and how each ended.
    pub moves_since_liveness: BTreeMap<ShardId, Vec<MoveAfterHeal>>,
    pub last_ack_at: FixedHashTable<ShardId, Instant>,
    pub counters: Counters,
    /// When the coordinator last booted: the start of its election grace.
    pub coordinator_booted_at: Instant,
    /// The last membership change the coordinator reported (or its boot, which restores
    /// every member as suspect).
    pub membership_changed_at: Option<Instant>,
    pub entity_acks: FixedHashTable<(ShardId, EntityKey), EntityAcks>,
    pub coverage: Coverage,
    /// Where each shard has been: the convergence figures' moves and thrash.
    pub moves: super::convergence::MoveHistory,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub migrations_started: u64,
    pub migrations_completed: u64,
    pub migrations_aborted: BTreeMap<String, u64>,
    pub writes_acked: u64,
    pub writes_abandoned: u64,
    pub node_boots: u64,
    pub coordinator_boots: u64,
    /// Shards whose only copy the nemesis destroyed (data loss by definition).
    #[serde(default)]
    pub shards_lost: u64,
}

impl Counters {
    /// The run's totals that no invariant needs (writes acked are the writes checker's).
    fn observe(&mut self, observation: &Observation) {
        match observation {
            Observation::NodeBooted { .. } => self.node_boots += 1,
            Observation::CoordinatorBooted { .. } => self.coordinator_boots += 1,
            Observation::MigrationStarted { .. } => self.migrations_started += 1,
            Observation::MigrationPhase { to: Phase::Complete, .. } => self.migrations_completed += 1,
            Observation::MigrationAborted { reason, .. } => {
                *self.migrations_aborted.entry(format!("{reason:?}")).or_default() += 1
            }
            Observation::ClientGaveUp { .. } => self.writes_abandoned += 1,
            _ => {}
        }
    }
}

/// One migration a shard started after the heal: what a thrashing report lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoveAfterHeal {
    pub migration: MigrationId,
    pub source: ActorId,
    pub target: ActorId,
    /// `None` while it is under way.
    pub end: Option<String>,
}

impl fmt::Display for MoveAfterHeal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = self.end.as_deref().unwrap_or("under way");
        write!(f, "{} {}->{} {end}", self.migration, self.source, self.target)
    }
}

impl Facts {
    /// The oracle judges against the configuration as designed: it drops any canaries.
    pub fn new(mut config: ProtocolConfig) -> Facts {
        config.canaries.clear();
        Facts { config, ..Facts::default() }
    }

    pub fn start_liveness(&mut self, at: Instant) {
        self.liveness_started_at = Some(at);
        self.moves_since_liveness.clear();
    }

    /// Learns from one observation and appends the checks it triggers to `checks`: the
    /// shared counters here, then each family's checker in the registry's order.
    pub fn observe(
        &mut self,
        at: Instant,
        _actor: ActorId,
        observation: &Observation,
        state: &dyn ClusterState,
        checks: &mut Checks,
    ) {
        self.sequence += 1;
        let moment = Moment { sequence: self.sequence, at };
        self.coverage.observe(observation);
        self.counters.observe(observation);
        self.moves.observe(observation);
        for checker in CHECKERS {
            (checker.observe)(self, moment, observation, state, checks);
        }
    }

    /// After a node's step: appends each family's checks of its state to `checks`.
    pub fn after_step(&mut self, node: NodeId, state: &dyn ClusterState, checks: &mut Checks) {
        for checker in CHECKERS {
            (checker.after_step)(self, node, state, checks);
        }
    }

    /// The nemesis destroyed the only copy of `shard`: what was acked to it is gone by
    /// definition, so the checks that acked writes and entity states survive start again
    /// from here (every write acked later is checked as before).
    pub fn shard_lost(&mut self, shard: ShardId) {
        self.acked.remove(&shard);
        for acks in self.acks_since_boot.values_mut() {
            acks.retain(|(acked_shard, _)| *acked_shard != shard);
        }
        self.entity_acks.retain(|(entity_shard, _), _| *entity_shard != shard);
        self.counters.shards_lost += 1;
    }

    /// Shards a node holds as owner (fenced or not), with their epochs.
    pub fn owned_by(state: &dyn ClusterState, node: NodeId) -> BTreeSet<(ShardId, Epoch)> {
        state
            .node(node)
            .map(|actor| {
                actor
                    .shards()
                    .iter()
                    .filter_map(|(shard, held)| match held.role {
                        ShardRole::Owned { epoch } | ShardRole::Fenced { epoch, .. } => Some((*shard, epoch)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
