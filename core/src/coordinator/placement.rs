//! Placement: which shard goes where. Allocating unassigned shards, finishing
//! decommissions, and — when the rebalancer's gates allow — asking the planner for moves
//! and starting them as migrations.

use super::{Coordinator, Liaison, Liveness};
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Instant, ShardId};
use crate::load::{ClusterView, NodeView, ShardLoad, ShardView};
use crate::observation::Observation;
use crate::planner::{self, allocate_least_shard, Move, PlanSource};
use crate::rebalancer::{GateInputs, RebalancerTiming, TickDecision};
use crate::routing::Route;
use crate::storage::{put, StorageKey};
use crate::timer::Timer;
use crate::wire::Message;

impl Coordinator {
    /// [`Timer::Placement`]: allocate, finish decommissions, rebalance when the gates allow.
    pub(super) fn on_placement(&mut self, now: Instant, out: &mut Outbox) {
        self.allocate_unassigned(out);
        self.finish_decommissions(now, out);
        self.maybe_rebalance(now, out);
        out.set_timer(Timer::Placement, now.plus_ms(self.config.coordinator_tick_ms));
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
            // A shard its owner lost waits for a rehome or a re-creation; no plan may move
            // it (its source would refuse, again and again).
            .filter(|(shard, _)| !self.lost.contains_key(shard))
            .map(|(shard, route)| ShardView {
                shard,
                owner: route.owner,
                load: self.shard_loads.get(&shard).copied().unwrap_or(ShardLoad { shard, ..ShardLoad::default() }),
                migrating_to: self.tracker.active_for_shard(shard).map(|record| record.target_node),
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

    pub(super) fn allocate_unassigned(&mut self, out: &mut Outbox) {
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

    pub(super) fn finish_decommissions(&mut self, now: Instant, out: &mut Outbox) {
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

    pub(super) fn maybe_rebalance(&mut self, now: Instant, out: &mut Outbox) {
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
                let (source, moves) = planner::plan(self.planner.as_ref(), &view, &self.config);
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
        let graced = now.ms_since(self.grace_started_at) >= self.config.at_least_ms(self.config.election_grace_ms);
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
