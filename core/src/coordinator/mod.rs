//! The coordinator: membership, routing, the migration tracker, the rebalancer, and the
//! orchestration of every migration's phases. One per cluster; restartable from its disk.
//!
//! Driver contract: see [`Actor`]. The coordinator asks for a tick every
//! `coordinator_tick_ms`; all its deadlines are checked there.

mod membership;
mod phases;
mod placement;
mod reconcile;
mod recovery;

pub use membership::{HeartbeatOutcome, Liveness, Member, MemberRecord, Membership};

use crate::canary::Canary;
use crate::config::ProtocolConfig;
use crate::effects::Outbox;
use crate::entropy::Entropy;
use crate::ids::{ActorId, Address, Incarnation, Instant, MigrationId, NodeId, PeerIdentity};
use crate::input::{Actor, Command, Input, InputError};
use crate::observation::Observation;
use crate::planner::Planner;
use crate::rebalancer::Rebalancer;
use crate::routing::RoutingTable;
use crate::timer::Timer;
use crate::tracker::MigrationTracker;
use crate::wire::{decode, Fate, Message};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What the coordinator keeps on its disk besides routes, members and migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinatorMeta {
    pub incarnation: Incarnation,
    pub next_migration_id: MigrationId,
}

/// Volatile per-migration bookkeeping, rebuilt empty after a restart.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
struct Liaison {
    last_heard_at: Option<Instant>,
    last_sent_at: Option<Instant>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Coordinator {
    #[serde(skip)] // fixed for a whole run: not part of a state
    config: ProtocolConfig,
    #[serde(skip)] // fixed for a whole run: not part of a state
    planner: Arc<dyn Planner>,
    identity: Option<PeerIdentity>,
    grace_started_at: Instant,
    meta: CoordinatorMeta,
    routing: RoutingTable,
    members: Membership,
    tracker: MigrationTracker,
    rebalancer: Rebalancer,
    liaisons: BTreeMap<MigrationId, Liaison>,
    shard_loads: BTreeMap<crate::ids::ShardId, crate::load::ShardLoad>,
    /// The epoch at which each shard's owner was last seen holding it (volatile).
    confirmed: BTreeMap<crate::ids::ShardId, crate::ids::Epoch>,
    /// Shards whose owner was seen to have lost them, at the routed epoch (volatile).
    lost: BTreeMap<crate::ids::ShardId, crate::ids::Epoch>,
    /// Shards whose owner refused them as corrupt while the previous owner may still
    /// retain the log, since when (volatile): rehomed from it, or re-created empty once
    /// it has not turned up within a migration timeout.
    refused_since: BTreeMap<crate::ids::ShardId, Instant>,
}

impl Coordinator {
    /// A coordinator with the configuration's built-in planner.
    pub fn new(config: ProtocolConfig) -> Coordinator {
        let planner = config.planner.planner();
        Coordinator::with_planner(config, planner)
    }

    /// A coordinator that asks `planner` for its rebalancing moves.
    pub fn with_planner(config: ProtocolConfig, planner: Arc<dyn Planner>) -> Coordinator {
        let tracker = MigrationTracker::new(config.enforced_caps(), config.terminal_migrations_kept_max)
            .with_phase_shortcut(config.has_canary(Canary::PhaseShortcut));
        Coordinator {
            config,
            planner,
            identity: None,
            grace_started_at: Instant::ZERO,
            meta: CoordinatorMeta { incarnation: Incarnation(0), next_migration_id: MigrationId(1) },
            routing: RoutingTable::new(),
            members: Membership::new(),
            tracker,
            rebalancer: Rebalancer::new(),
            liaisons: BTreeMap::new(),
            shard_loads: BTreeMap::new(),
            confirmed: BTreeMap::new(),
            lost: BTreeMap::new(),
            refused_since: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &ProtocolConfig {
        &self.config
    }

    pub fn routing(&self) -> &RoutingTable {
        &self.routing
    }

    pub fn tracker(&self) -> &MigrationTracker {
        &self.tracker
    }

    pub fn members(&self) -> &Membership {
        &self.members
    }

    fn me(&self) -> PeerIdentity {
        self.identity.expect("booted")
    }

    fn member_address(&self, node: NodeId) -> Option<Address> {
        self.members.get(node).map(|member| member.identity().address)
    }

    fn send_to_node(&self, out: &mut Outbox, node: NodeId, to_incarnation: Option<Incarnation>, body: Message) {
        if let Some(address) = self.member_address(node) {
            out.send(self.me(), address, to_incarnation, body);
        }
    }

    fn on_datagram(&mut self, now: Instant, from: Address, bytes: &[u8], out: &mut Outbox) -> Result<(), InputError> {
        let envelope = decode(bytes)?;
        let sender = envelope.from;
        match (sender.actor, envelope.body) {
            (ActorId::Node(node), Message::Heartbeat(heartbeat)) => {
                self.on_heartbeat(now, node, sender, heartbeat, out)
            }
            (ActorId::Node(_), Message::SourceProgress { migration, shard, progress }) => {
                self.on_source_progress(now, sender, migration, shard, progress, out)
            }
            (ActorId::Node(_), Message::SourceSealed { migration, shard, index, digest }) => {
                self.on_source_sealed(now, sender, migration, shard, index, digest, out)
            }
            (ActorId::Node(_), Message::SourceRefused { migration, shard }) => {
                self.on_source_refused(now, sender, migration, shard, out)
            }
            (ActorId::Node(_), Message::TargetVerified { migration, shard, held_index, digest }) => {
                self.on_target_verified(now, sender, migration, shard, held_index, digest, out)
            }
            (ActorId::Node(_), Message::FateQuery { migration, shard, from_epoch }) => {
                let fate = self.fate(migration, shard, from_epoch);
                if fate != Fate::InProgress {
                    out.observe(Observation::FateAnswered { migration, shard, fate });
                }
                out.send(self.me(), from, Some(sender.incarnation), Message::FateReply { migration, shard, fate });
                Ok(())
            }
            (ActorId::Client(_), Message::RouteQuery { shard }) => {
                let route = self.routing.get(shard);
                let owner =
                    route.and_then(|route| self.member_address(route.owner).map(|address| (route.owner, address)));
                let epoch = route.map(|route| route.epoch).unwrap_or_default();
                out.send(self.me(), from, Some(sender.incarnation), Message::RouteReply { shard, owner, epoch });
                Ok(())
            }
            (_, body) => Err(InputError::UnexpectedMessage { kind: body.kind(), from: sender }),
        }
    }

    fn on_command(&mut self, now: Instant, command: &Command, out: &mut Outbox) -> Result<(), InputError> {
        match command {
            Command::Decommission { node } => {
                if !self.members.set_draining(*node, now) {
                    return Err(InputError::Refused(format!("{node} is not a member that can drain")));
                }
                out.persist(self.members.record_op(*node));
                self.observe_member(*node, out);
                self.rebalancer.kick();
                Ok(())
            }
            other => Err(InputError::Refused(format!("the coordinator does not take {other:?}"))),
        }
    }

    /// Persists a migration record (not at all under the `TrackerNotPersisted` canary).
    fn persist_record(&self, migration: MigrationId, out: &mut Outbox) {
        if !self.config.has_canary(Canary::TrackerNotPersisted) {
            out.persist(self.tracker.record_op(migration));
        }
    }

    /// The incarnation to address a migration peer by; none under `IdentityCheckSkipped`,
    /// which tracks peers by node id only.
    fn pinned(&self, incarnation: Incarnation) -> Option<Incarnation> {
        (!self.config.has_canary(Canary::IdentityCheckSkipped)).then_some(incarnation)
    }

    fn observe_member(&self, node: NodeId, out: &mut Outbox) {
        if let Some(member) = self.members.get(node) {
            tracing::info!(%node, identity = %member.identity(), status = %member.status_name(), "member changed");
            out.observe(Observation::MemberChanged { node, identity: member.identity(), status: member.status_name() });
        }
    }

    /// Cross-structure rules; a failure is a bug in the coordinator.
    pub fn check_invariants(&self) {
        self.tracker.check_invariants();
        for record in self.tracker.active() {
            let route = self.routing.get(record.shard).expect("a migrating shard has a route");
            assert_eq!(route.owner, record.source_node, "active migration of {} not from its owner", record.shard);
            assert_eq!(route.epoch, record.from_epoch, "active migration of {} from a stale epoch", record.shard);
        }
    }
}

impl Actor for Coordinator {
    fn handle(
        &mut self,
        now: Instant,
        input: Input<'_>,
        _entropy: &mut dyn Entropy,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if let Input::Boot { disk, address, unreadable } = input {
            if let Some(key) = unreadable.first() {
                return Err(InputError::DiskUnreadable(*key));
            }
            return self.boot(now, disk, address, out);
        }
        if self.identity.is_none() {
            return Err(InputError::NotBooted);
        }
        let result = match input {
            Input::Boot { .. } => unreachable!("handled above"),
            Input::Datagram { from, bytes } => self.on_datagram(now, from, bytes, out),
            Input::Timeout(Timer::Watchdog) => {
                self.on_watchdog(now, out);
                Ok(())
            }
            Input::Timeout(Timer::Placement) => {
                self.on_placement(now, out);
                Ok(())
            }
            Input::Timeout(timer) => Err(InputError::Refused(format!("the coordinator has no {timer} timer"))),
            Input::Command(command) => self.on_command(now, command, out),
            Input::SyncFailed => {
                out.restart();
                Ok(())
            }
            Input::DiskFull { .. } => Err(InputError::Refused("the coordinator keeps no log".to_string())),
            Input::ClockStepped { by_ms } => {
                self.on_clock_stepped(now, by_ms, out);
                Ok(())
            }
        };
        self.check_invariants();
        result
    }

    fn identity(&self) -> Option<PeerIdentity> {
        self.identity
    }
}
