//! Driving migrations through their phases: begin, advance, commit, abort, and the
//! deadlines and resends checked on every tick.

use super::{Coordinator, Liaison, Liveness};
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Instant, LogIndex, MigrationId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::load::{ClusterView, NodeView, ShardLoad, ShardView};
use crate::log::Digest;
use crate::observation::Observation;
use crate::phase::{AbortReason, Phase};
use crate::planner::{self, allocate_least_shard, Move, PlanSource};
use crate::rebalancer::{GateInputs, RebalancerTiming, TickDecision};
use crate::routing::Route;
use crate::storage::{put, StorageKey};
use crate::wire::{Message, SourceProgress};

impl Coordinator {
    pub(super) fn on_tick(&mut self, now: Instant, out: &mut Outbox) {
        for node in self.members.on_tick(now, &self.config) {
            self.observe_member(node, out);
            self.rebalancer.kick();
        }
        self.check_migrations(now, out);
        self.allocate_unassigned(out);
        self.finish_decommissions(now, out);
        self.maybe_rebalance(now, out);
        out.set_timer(now.plus_ms(self.config.coordinator_tick_ms));
    }

    /// The one active migration `sender` may speak for as source or target, or a typed
    /// error for a stale or unknown one.
    fn active_record_from(
        &self,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        as_source: bool,
    ) -> Result<crate::tracker::MigrationRecord, InputError> {
        let record = self
            .tracker
            .get(migration)
            .filter(|record| record.shard == shard && !record.phase.is_terminal())
            .ok_or_else(|| InputError::Stale(format!("{migration} on {shard} is not active")))?;
        let expected = if as_source { record.source } else { record.target };
        if expected != sender {
            return Err(InputError::Stale(format!("{migration} expects {expected}, got {sender}")));
        }
        Ok(record.clone())
    }

    fn heard(&mut self, migration: MigrationId, now: Instant) {
        self.liaisons.entry(migration).or_default().last_heard_at = Some(now);
    }

    pub(super) fn on_source_progress(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        progress: SourceProgress,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let record = self.active_record_from(sender, migration, shard, true)?;
        self.heard(migration, now);
        let mut phase = record.phase;
        let lag_entries = progress.source_last.0.saturating_sub(progress.target_applied.0);
        let caught_up = lag_entries <= self.config.catchup_lag_threshold_entries;
        let base_copied = progress.target_applied >= progress.snapshot_index;
        if phase == Phase::BaseCopy && base_copied && caught_up && self.config.has_canary(Canary::PhaseShortcut) {
            phase = Phase::CatchUp; // The planted bug: catch-up is never entered.
        } else if phase == Phase::BaseCopy && base_copied {
            self.advance(now, migration, Phase::CatchUp, out);
            phase = Phase::CatchUp;
        }
        if phase == Phase::CatchUp && caught_up {
            self.advance(now, migration, Phase::CutOver, out);
            let incarnation = self.pinned(record.source.incarnation);
            self.send_to_node(out, record.source_node, incarnation, Message::StartCutover { migration, shard });
            self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_source_sealed(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        index: LogIndex,
        digest: Digest,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let record = self.active_record_from(sender, migration, shard, true)?;
        if record.phase != Phase::CutOver {
            return Err(InputError::Stale(format!("{migration} sealed in phase {}", record.phase)));
        }
        self.heard(migration, now);
        if record.sealed != Some((index, digest)) {
            self.tracker.record_sealed(migration, index, digest);
            self.persist_record(migration, out);
        }
        if self.config.has_canary(Canary::CommitWithoutTargetCheck) {
            // The planted bug: the source's word is taken for what the target holds.
            let record = self.tracker.get(migration).expect("active").clone();
            self.commit(now, &record, (index, digest), (index, digest), record.target, out);
            return Ok(());
        }
        let verify = Message::VerifyTarget { migration, shard, sealed_index: index };
        self.send_to_node(out, record.target_node, self.pinned(record.target.incarnation), verify);
        self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
        Ok(())
    }

    pub(super) fn on_source_refused(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        self.active_record_from(sender, migration, shard, true)?;
        self.abort(now, migration, AbortReason::SourceRefused, out);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_target_verified(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        held_index: LogIndex,
        digest: Digest,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let trusting = self.config.has_canary(Canary::IdentityCheckSkipped);
        let by_node_id = self
            .tracker
            .get(migration)
            .filter(|record| {
                trusting && record.shard == shard && !record.phase.is_terminal() && record.target.actor == sender.actor
            })
            .cloned();
        let record = match by_node_id.ok_or(()).or_else(|()| self.active_record_from(sender, migration, shard, false)) {
            Ok(record) => record,
            Err(error) => {
                // The target answering from a new life: the identity changed mid-migration.
                let active = self.tracker.get(migration).filter(|record| !record.phase.is_terminal()).cloned();
                if let Some(record) = active.filter(|record| record.target.actor == sender.actor) {
                    self.abort(now, record.id, AbortReason::TargetIdentityChanged, out);
                    return Ok(());
                }
                return Err(error);
            }
        };
        let Some((sealed_index, sealed_digest)) = record.sealed.filter(|_| record.phase == Phase::CutOver) else {
            return Err(InputError::Stale(format!("{migration} verified before it sealed")));
        };
        let target_now = self.members.get(record.target_node).map(|member| member.identity());
        if target_now != Some(record.target) && !trusting {
            self.abort(now, migration, AbortReason::TargetIdentityChanged, out);
            return Ok(());
        }
        if (held_index, digest) != (sealed_index, sealed_digest) {
            self.abort(now, migration, AbortReason::SealMismatch, out);
            return Ok(());
        }
        self.commit(now, &record, (sealed_index, sealed_digest), (held_index, digest), sender, out);
        Ok(())
    }

    /// Commits a verified cut-over, unless it overran the write-pause budget.
    fn commit(
        &mut self,
        now: Instant,
        record: &crate::tracker::MigrationRecord,
        (sealed_index, sealed_digest): (LogIndex, Digest),
        (held_index, digest): (LogIndex, Digest),
        target_now: PeerIdentity,
        out: &mut Outbox,
    ) {
        let (migration, shard) = (record.id, record.shard);
        let pause_ms = now.ms_since(record.cutover_started_at.expect("cut-over started"));
        if pause_ms > self.config.write_pause_budget_ms && !self.config.has_canary(Canary::PauseBudgetIgnored) {
            self.abort(now, migration, AbortReason::WritePauseBudget, out);
            return;
        }
        // The commit point: the routing entry, durable before anyone hears of it.
        let epoch = record.from_epoch.next();
        let route = Route { owner: record.target_node, epoch, owner_identity: Some(target_now) };
        out.persist(self.routing.set(shard, route));
        tracing::info!(%migration, %shard, owner = %record.target_node, %epoch, pause_ms, "cut-over committed");
        out.observe(Observation::RoutingCommitted {
            migration,
            shard,
            owner: record.target_node,
            epoch,
            sealed_index,
            sealed_digest,
            target_held_index: held_index,
            target_digest: digest,
            target_at_start: record.target,
            target_now,
            pause_ms,
            budget_ms: self.config.write_pause_budget_ms,
        });
        self.advance(now, migration, Phase::Complete, out);
        let commit = Message::CommitMigration {
            migration,
            shard,
            owner: record.target_node,
            address: record.target.address,
            epoch,
        };
        self.send_to_node(out, record.target_node, None, commit.clone());
        self.send_to_node(out, record.source_node, None, commit);
    }

    /// A legal phase change, persisted and observed. Illegal ones are our own bug.
    pub(super) fn advance(&mut self, now: Instant, migration: MigrationId, to: Phase, out: &mut Outbox) {
        let from = self.tracker.advance(migration, to, now).expect("coordinator only makes legal transitions");
        self.after_change(migration, from, to, out);
    }

    pub(super) fn abort(&mut self, now: Instant, migration: MigrationId, reason: AbortReason, out: &mut Outbox) {
        let from = self.tracker.fail(migration, reason, now).expect("aborting an active migration");
        let record = self.tracker.get(migration).expect("just failed").clone();
        tracing::info!(%migration, shard = %record.shard, ?reason, "migration aborted");
        out.observe(Observation::MigrationAborted { migration, shard: record.shard, reason });
        self.after_change(migration, from, Phase::Failed, out);
        let abort = Message::AbortMigration { migration, shard: record.shard };
        self.send_to_node(out, record.source_node, None, abort.clone());
        self.send_to_node(out, record.target_node, None, abort);
    }

    fn after_change(&mut self, migration: MigrationId, from: Phase, to: Phase, out: &mut Outbox) {
        self.persist_record(migration, out);
        let shard = self.tracker.get(migration).expect("known").shard;
        out.observe(Observation::MigrationPhase { migration, shard, from, to });
        if to.is_terminal() {
            // Room for the next move: plan it soon rather than a full interval later, unless
            // the plan depends on loads (the new owner's rates are not measured yet: planning
            // on them now moves the shard on again).
            let draining =
                self.members.iter().any(|(_, member)| member.record.draining && !member.record.decommissioned);
            if draining || self.config.planner == crate::config::PlannerKind::LeastShard {
                self.rebalancer.kick();
            }
            self.liaisons.remove(&migration);
            for op in self.tracker.prune() {
                out.persist(op);
            }
        }
    }

    /// Identity changes, lost members, deadlines and resends, for every active migration.
    fn check_migrations(&mut self, now: Instant, out: &mut Outbox) {
        for migration in self.tracker.active_ids() {
            let record = self.tracker.get(migration).expect("active").clone();
            let source = self.members.get(record.source_node);
            let target = self.members.get(record.target_node);
            let checks_identity = !self.config.has_canary(Canary::IdentityCheckSkipped);
            let budget_enforced = !self.config.has_canary(Canary::PauseBudgetIgnored);
            let reason = if checks_identity && target.map(|member| member.identity()) != Some(record.target) {
                Some(AbortReason::TargetIdentityChanged)
            } else if checks_identity && source.map(|member| member.identity()) != Some(record.source) {
                Some(AbortReason::SourceIdentityChanged)
            } else if [source, target].into_iter().flatten().any(|member| member.liveness == Liveness::Down) {
                Some(AbortReason::MemberLost)
            } else if now.ms_since(record.started_at) >= self.config.migration_timeout_ms {
                Some(AbortReason::Timeout)
            } else if budget_enforced
                && record
                    .cutover_started_at
                    .is_some_and(|started| now.ms_since(started) > self.config.write_pause_budget_ms)
            {
                Some(AbortReason::WritePauseBudget)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.abort(now, migration, reason, out);
                continue;
            }
            self.resend_if_quiet(now, &record, out);
        }
    }

    fn resend_if_quiet(&mut self, now: Instant, record: &crate::tracker::MigrationRecord, out: &mut Outbox) {
        let resend_ms = self.config.migration_resend_ms;
        let liaison = self.liaisons.get(&record.id).copied().unwrap_or(Liaison::default());
        let quiet = |at: Option<Instant>| at.is_none_or(|at| now.ms_since(at) >= resend_ms);
        if !quiet(liaison.last_sent_at) || !quiet(liaison.last_heard_at) {
            return;
        }
        let (migration, shard) = (record.id, record.shard);
        let (node, incarnation, message) = match (record.phase, record.sealed) {
            (Phase::BaseCopy | Phase::CatchUp, _) => (
                record.source_node,
                record.source.incarnation,
                Message::StartMigration { migration, shard, epoch: record.from_epoch, target: record.target },
            ),
            (Phase::CutOver, None) => {
                (record.source_node, record.source.incarnation, Message::StartCutover { migration, shard })
            }
            (Phase::CutOver, Some((sealed_index, _))) => (
                record.target_node,
                record.target.incarnation,
                Message::VerifyTarget { migration, shard, sealed_index },
            ),
            (Phase::Complete | Phase::Failed, _) => return,
        };
        self.send_to_node(out, node, self.pinned(incarnation), message);
        self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
    }

    /// The planners' input, from membership, routing, reported loads and the tracker.
    pub fn cluster_view(&self) -> ClusterView {
        let nodes: Vec<NodeView> = self
            .members
            .iter()
            .filter(|(_, member)| member.is_usable())
            .map(|(node, member)| NodeView {
                node,
                accepts_shards: member.accepts_shards(),
                cpu_permille: member.load.cpu_permille,
            })
            .collect();
        let shards = self
            .routing
            .iter()
            .filter(|(_, route)| nodes.iter().any(|node| node.node == route.owner))
            .map(|(shard, route)| ShardView {
                shard,
                owner: route.owner,
                load: self.shard_loads.get(&shard).copied().unwrap_or(ShardLoad { shard, ..ShardLoad::default() }),
                migrating: self.tracker.active_for_shard(shard).is_some(),
            })
            .collect();
        if self.config.has_canary(Canary::CapsIgnored) {
            // The planted bug: the planners are told nothing is in flight.
            return ClusterView { nodes, shards, active_by_node: Vec::new(), active_total: 0 };
        }
        ClusterView {
            nodes,
            shards,
            active_by_node: self.tracker.active_by_node(),
            active_total: self.tracker.active_total(),
        }
    }

    fn allocate_unassigned(&mut self, out: &mut Outbox) {
        if self.routing.len() >= self.config.shard_count as usize {
            return;
        }
        let unassigned: Vec<ShardId> =
            (0..self.config.shard_count).map(ShardId).filter(|shard| self.routing.get(*shard).is_none()).collect();
        let view = self.cluster_view();
        for (shard, owner) in allocate_least_shard(&view, &unassigned) {
            let epoch = crate::ids::Epoch::INITIAL;
            let owner_identity = self.members.get(owner).map(|member| member.identity());
            out.persist(self.routing.set(shard, Route { owner, epoch, owner_identity }));
            out.observe(Observation::ShardAllocated { shard, owner, epoch });
            let incarnation = self.members.get(owner).map(|member| member.identity().incarnation);
            self.send_to_node(out, owner, incarnation, Message::AssignShard { shard, epoch });
        }
    }

    fn finish_decommissions(&mut self, now: Instant, out: &mut Outbox) {
        let drained: Vec<_> = self
            .members
            .iter()
            .filter(|(node, member)| {
                member.record.draining
                    && !member.record.decommissioned
                    && self.tracker.active_for_node(*node) == 0
                    && self.routing.owned_by(*node).next().is_none()
            })
            .map(|(node, _)| node)
            .collect();
        for node in drained {
            self.members.set_decommissioned(node, now);
            out.persist(self.members.record_op(node));
            self.observe_member(node, out);
        }
    }

    fn maybe_rebalance(&mut self, now: Instant, out: &mut Outbox) {
        let gate = GateInputs { membership_stable: self.membership_settled(now), busiest: self.busiest() };
        let timing = RebalancerTiming {
            interval_ms: self.config.rebalance_interval_ms,
            min_interval_ms: self.config.rebalance_min_interval_ms,
            cpu_threshold_permille: self.config.cpu_backpressure_threshold_permille,
        };
        match self.rebalancer.decide(now, gate, timing) {
            TickDecision::NotDue => {}
            TickDecision::SkipUnstable => {
                out.observe(Observation::RebalanceSkipped { reason: "membership unstable".to_string() })
            }
            TickDecision::SkipBackpressure { node, cpu_permille } => {
                out.observe(Observation::RebalanceSkipped { reason: format!("{node} at {cpu_permille} permille CPU") });
                // A leaving node must empty however hot the cluster runs: drains ignore
                // back-pressure (but not the election gate, which `decide` checked first).
                let view = self.planner_view();
                let drain = planner::plan_drain_for(&view, &self.config);
                self.dispatch(now, PlanSource::Drain, view, drain, out);
            }
            TickDecision::Plan => {
                let view = self.planner_view();
                let (source, moves) = planner::plan(&view, &self.config);
                self.dispatch(now, source, view, moves, out);
            }
        }
    }

    /// The election gate: settled after the boot grace, with stable membership (only the
    /// joining and suspect members count under the `ElectionGateSkipped` canary).
    fn membership_settled(&self, now: Instant) -> bool {
        if self.config.has_canary(Canary::ElectionGateSkipped) {
            return self.members.is_settled();
        }
        let graced = now.ms_since(self.booted_at) >= self.config.election_grace_ms;
        graced && self.members.is_stable(now, &self.config)
    }

    /// The busiest member (nobody, under the `BackpressureIgnored` canary).
    fn busiest(&self) -> Option<(crate::ids::NodeId, u32)> {
        (!self.config.has_canary(Canary::BackpressureIgnored)).then(|| self.members.busiest()).flatten()
    }

    /// The planners' view, as the canaries that distort it see it.
    fn planner_view(&self) -> ClusterView {
        let mut view = self.cluster_view();
        if self.config.has_canary(Canary::DrainingForgotten) {
            for node in view.nodes.iter_mut() {
                node.accepts_shards |=
                    self.members.get(node.node).is_some_and(|member| member.liveness == Liveness::Active);
            }
        }
        if self.config.has_canary(Canary::EmptyNodesIgnored) {
            let holding: Vec<crate::ids::NodeId> = view.shards.iter().map(|shard| shard.owner).collect();
            for node in view.nodes.iter_mut().filter(|node| !holding.contains(&node.node)) {
                node.accepts_shards = false;
            }
        }
        view
    }

    /// Observes the plan with the view it came from, then starts its moves.
    fn dispatch(&mut self, now: Instant, source: PlanSource, view: ClusterView, moves: Vec<Move>, out: &mut Outbox) {
        if moves.is_empty() {
            return;
        }
        out.observe(Observation::PlanDispatched { source, view, moves: moves.clone() });
        for planned in moves {
            self.begin_migration(now, planned, out);
        }
    }

    fn begin_migration(&mut self, now: Instant, planned: Move, out: &mut Outbox) {
        let (Some(source), Some(target)) = (self.members.get(planned.from), self.members.get(planned.to)) else {
            return;
        };
        let (source, target) = (source.identity(), target.identity());
        let Some(route) = self.routing.get(planned.shard).filter(|route| route.owner == planned.from) else {
            return;
        };
        let Ok(migration) = self.tracker.begin(planned.shard, source, target, route.epoch, now) else {
            return;
        };
        self.meta.next_migration_id = self.tracker.next_id();
        out.persist(put(StorageKey::CoordinatorMeta, &self.meta));
        self.persist_record(migration, out);
        tracing::info!(%migration, shard = %planned.shard, from = %planned.from, to = %planned.to, "migration started");
        out.observe(Observation::MigrationStarted {
            migration,
            shard: planned.shard,
            source,
            target,
            from_epoch: route.epoch,
        });
        let start = Message::StartMigration { migration, shard: planned.shard, epoch: route.epoch, target };
        self.send_to_node(out, planned.from, self.pinned(source.incarnation), start);
        self.liaisons.insert(migration, Liaison { last_heard_at: None, last_sent_at: Some(now) });
    }
}
