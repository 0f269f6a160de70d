//! What the oracle has learnt so far from observations: the history its invariants read.

use super::control::{self, PLANNER_SOUND, REBALANCE_GATES_RESPECTED, TARGETS_ACCEPTING_MEMBERS};
use super::coverage::Coverage;
use super::entities::{self, EntityAcks, ENTITY_SINGLE_HOME, ENTITY_STATE_CONTINUOUS};
use super::state::{durable_log, ClusterState, EPOCH_MONOTONIC};
use super::{liveness, migrations, writes, Check, Invariant};
use shardsim_core::log::Digest;
use shardsim_core::phase::Phase;
use shardsim_core::wire::ShardRole;
use shardsim_core::{
    ActorId, EntityKey, Epoch, Instant, LogIndex, MigrationId, NodeId, Observation, PeerIdentity, ProtocolConfig,
    ShardId, WriteId,
};
use std::collections::{BTreeMap, BTreeSet};

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
    /// The committed owner of each (shard, epoch): allocations and cut-overs.
    pub owner_at: BTreeMap<(ShardId, Epoch), NodeId>,
    pub committed_epoch: BTreeMap<ShardId, Epoch>,
    pub first_acker: BTreeMap<(ShardId, Epoch), NodeId>,
    pub acked: BTreeMap<ShardId, BTreeMap<WriteId, AckedWrite>>,
    /// What each node acked since it last booted: what its next boot must still hold.
    pub acks_since_boot: BTreeMap<NodeId, Vec<(ShardId, WriteId)>>,
    pub boots: BTreeMap<NodeId, Vec<(Moment, PeerIdentity)>>,
    /// Observations seen so far: orders events within one millisecond.
    pub sequence: u64,
    pub fenced_at: BTreeMap<MigrationId, Instant>,
    pub sealed: BTreeMap<MigrationId, (LogIndex, Digest)>,
    /// When, and as whom, each migration's target last verified what it holds, and what
    /// its disk durably held then.
    pub verified: BTreeMap<MigrationId, Verification>,
    pub node_epochs: BTreeMap<(NodeId, ShardId), Epoch>,
    pub route_epochs: BTreeMap<ShardId, Epoch>,
    pub liveness_started_at: Option<Instant>,
    pub moves_since_liveness: BTreeMap<ShardId, u32>,
    pub last_ack_at: BTreeMap<ShardId, Instant>,
    pub counters: Counters,
    /// When the coordinator last booted: the start of its election grace.
    pub coordinator_booted_at: Instant,
    /// The last membership change the coordinator reported (or its boot, which restores
    /// every member as suspect).
    pub membership_changed_at: Option<Instant>,
    pub entity_acks: BTreeMap<(ShardId, EntityKey), EntityAcks>,
    pub coverage: Coverage,
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

    /// Learns from one observation and returns the checks it triggers, by invariant name.
    pub fn observe(
        &mut self,
        at: Instant,
        _actor: ActorId,
        observation: &Observation,
        state: &dyn ClusterState,
    ) -> Vec<(&'static Invariant, Check)> {
        self.sequence += 1;
        let moment = Moment { sequence: self.sequence, at };
        self.coverage.observe(observation);
        match observation {
            Observation::NodeBooted { node, identity } => {
                self.counters.node_boots += 1;
                self.boots.entry(*node).or_default().push((moment, *identity));
                let checks = vec![
                    (&writes::NO_LOST_ACKED_WRITE, writes::node_holds_its_acked_writes(self, *node, state)),
                    (&EPOCH_MONOTONIC, self.check_node_epochs(*node, state)),
                ];
                self.acks_since_boot.remove(node);
                checks
            }
            Observation::WriteAcked { .. } => self.on_write_acked(at, observation),
            Observation::EntityStarted { node, shard, entity, state: started } => vec![
                (&ENTITY_SINGLE_HOME, entities::entity_single_home(*node, *shard, *entity, state)),
                (&ENTITY_STATE_CONTINUOUS, entities::entity_state_continuous(self, *node, *shard, *entity, *started)),
            ],
            Observation::PlanDispatched { source, view, moves } => {
                vec![(&PLANNER_SOUND, control::planner_sound(self, source, view, moves))]
            }
            Observation::MemberChanged { .. } => {
                self.membership_changed_at = Some(at);
                vec![]
            }
            Observation::OwnershipTaken { node, shard, epoch, .. } => {
                vec![(
                    &writes::NO_LOST_ACKED_WRITE,
                    writes::new_owner_holds_acked_writes(self, *node, *shard, *epoch, state),
                )]
            }
            Observation::ShardFenced { migration, .. } => {
                self.fenced_at.entry(*migration).or_insert(at);
                vec![]
            }
            Observation::TargetVerified { node, migration, identity, shard, .. } => {
                let durable = match state.durable_disk(ActorId::Node(*node)) {
                    Some(disk) => durable_log(disk, *shard),
                    None => Err(format!("{node} has no disk")),
                };
                self.verified.insert(*migration, Verification { at: moment, identity: *identity, durable });
                vec![]
            }
            Observation::ShardSealed { migration, index, digest, .. } => {
                self.sealed.insert(*migration, (*index, *digest));
                vec![]
            }
            Observation::ShardAllocated { shard, owner, epoch } => {
                self.owner_at.insert((*shard, *epoch), *owner);
                self.raise_committed_epoch(*shard, *epoch);
                vec![(&EPOCH_MONOTONIC, self.check_route_epochs(state))]
            }
            Observation::ShardRehomed { shard, owner, epoch, .. } => {
                self.owner_at.insert((*shard, *epoch), *owner);
                self.raise_committed_epoch(*shard, *epoch);
                vec![(&EPOCH_MONOTONIC, self.check_route_epochs(state))]
            }
            Observation::CoordinatorBooted { .. } => {
                self.counters.coordinator_boots += 1;
                self.coordinator_booted_at = at;
                self.membership_changed_at = Some(at);
                vec![(&EPOCH_MONOTONIC, self.check_route_epochs(state))]
            }
            Observation::MigrationStarted { migration, shard, source, target, .. } => {
                self.on_migration_started(moment, *migration, *shard, (*source, *target), state)
            }
            Observation::MigrationPhase { migration, from, to, .. } => {
                let check = migrations::phase_order(self, *migration, *from, *to);
                self.phases.insert(*migration, *to);
                if to.is_terminal() {
                    self.active.remove(migration);
                }
                if *to == Phase::Complete {
                    self.counters.migrations_completed += 1;
                }
                vec![(&migrations::PHASE_ORDER, check)]
            }
            Observation::MigrationAborted { reason, .. } => {
                *self.counters.migrations_aborted.entry(format!("{reason:?}")).or_default() += 1;
                vec![]
            }
            Observation::RoutingCommitted { migration, shard, owner, epoch, .. } => {
                let checks: Vec<(&'static Invariant, Check)> = vec![
                    (
                        &migrations::CUTOVER_CAUGHT_UP,
                        migrations::cutover_caught_up(self, *migration, *shard, *owner, state),
                    ),
                    (&migrations::IDENTITY_CHANGE_ABORTS, migrations::identity_change_aborts(self, *migration, moment)),
                    (
                        &migrations::WRITE_PAUSE_WITHIN_BUDGET,
                        migrations::write_pause_within_budget(self, *migration, at),
                    ),
                    (&migrations::PHASE_ORDER, migrations::committed_in_cut_over(self, *migration)),
                ];
                self.owner_at.insert((*shard, *epoch), *owner);
                self.raise_committed_epoch(*shard, *epoch);
                let mut checks = checks;
                checks.push((&EPOCH_MONOTONIC, self.check_route_epochs(state)));
                checks
            }
            Observation::ClientGaveUp { .. } => {
                self.counters.writes_abandoned += 1;
                vec![]
            }
            _ => vec![],
        }
    }

    fn on_write_acked(&mut self, at: Instant, observation: &Observation) -> Vec<(&'static Invariant, Check)> {
        let Observation::WriteAcked { node, shard, epoch, named_epoch, write_id, index, entity } = *observation else {
            unreachable!("called for write acks only")
        };
        let single_writer = writes::single_writer(self, node, shard, epoch);
        let consistent = writes::ack_consistent(self, shard, write_id, index);
        let named = writes::acked_at_named_epoch(node, shard, write_id, epoch, named_epoch);
        self.first_acker.entry((shard, epoch)).or_insert(node);
        self.acks_since_boot.entry(node).or_default().push((shard, write_id));
        let acked = AckedWrite { index, epoch, node };
        if self.acked.entry(shard).or_default().insert(write_id, acked).is_none() {
            self.counters.writes_acked += 1;
            let entity_acks = self.entity_acks.entry((shard, entity)).or_default();
            entity_acks.writes += 1;
            entity_acks.last_index = entity_acks.last_index.max(index);
        }
        self.last_ack_at.insert(shard, at);
        vec![
            (&writes::SINGLE_WRITER, single_writer),
            (&writes::ACKED_AT_NAMED_EPOCH, named),
            (&writes::NO_LOST_ACKED_WRITE, consistent),
        ]
    }

    fn on_migration_started(
        &mut self,
        moment: Moment,
        migration: MigrationId,
        shard: ShardId,
        (source, target): (PeerIdentity, PeerIdentity),
        state: &dyn ClusterState,
    ) -> Vec<(&'static Invariant, Check)> {
        self.counters.migrations_started += 1;
        let one_active = migrations::one_active_migration_per_shard(self, shard, migration);
        let (ActorId::Node(source_node), ActorId::Node(target_node)) = (source.actor, target.actor) else {
            return vec![(&migrations::ONE_ACTIVE_MIGRATION_PER_SHARD, Err(format!("{migration} between non-nodes")))];
        };
        let tracked = TrackedMigration {
            shard,
            source: source_node,
            target: target_node,
            target_identity: target,
            started: moment,
        };
        self.active.insert(migration, tracked);
        self.phases.insert(migration, Phase::BaseCopy);
        let mut checks = vec![
            (&migrations::ONE_ACTIVE_MIGRATION_PER_SHARD, one_active),
            (&migrations::MIGRATION_CAPS, migrations::migration_caps(self)),
            (&TARGETS_ACCEPTING_MEMBERS, control::targets_accepting_members(migration, source, target, state)),
            (
                &REBALANCE_GATES_RESPECTED,
                control::rebalance_gates_respected(self, migration, source_node, moment.at, state),
            ),
        ];
        if self.liveness_started_at.is_some() {
            let moves = self.moves_since_liveness.entry(shard).or_default();
            *moves += 1;
            checks.push((&liveness::NO_THRASHING, liveness::no_thrashing(shard, *moves)));
        }
        checks
    }

    fn raise_committed_epoch(&mut self, shard: ShardId, epoch: Epoch) {
        let committed = self.committed_epoch.entry(shard).or_default();
        *committed = (*committed).max(epoch);
    }

    /// `epoch_monotonic` for one node: no shard's epoch goes back, restarts included.
    pub fn check_node_epochs(&mut self, node: NodeId, state: &dyn ClusterState) -> Check {
        let Some(actor) = state.node(node) else { return Ok(()) };
        for (shard, held) in actor.shards() {
            let epoch = held.role.epoch();
            let seen = self.node_epochs.entry((node, *shard)).or_default();
            if epoch < *seen {
                return Err(format!("{node} holds {shard} at {epoch} ({:?}) after having seen {seen}", held.role));
            }
            *seen = epoch;
        }
        Ok(())
    }

    /// `epoch_monotonic` for the coordinator's routing table, restarts included.
    pub fn check_route_epochs(&mut self, state: &dyn ClusterState) -> Check {
        let Some(coordinator) = state.coordinator() else { return Ok(()) };
        for (shard, route) in coordinator.routing().iter() {
            let seen = self.route_epochs.entry(shard).or_default();
            if route.epoch < *seen {
                return Err(format!(
                    "the coordinator routes {shard} at {} after having routed it at {seen}",
                    route.epoch
                ));
            }
            *seen = route.epoch;
        }
        Ok(())
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
