//! Rebalance planners: pure functions from a [`ClusterView`] to a list of [`Move`]s.
//!
//! Every planner obeys the same rules, enforced through [`MoveBudget`]: it never moves a
//! shard with an active migration, never exceeds the caps (moves per tick, active in
//! total, active per node), and never picks a target that does not accept shards.

mod budget;
mod drain;
mod least_shard;
mod load_based;

pub use budget::MoveBudget;
pub use drain::plan_drain;
pub use least_shard::{allocate_least_shard, plan_least_shard};
pub use load_based::{plan_load_based, shard_scores, RATE_FLOOR_PER_NODE_PER_S};

use crate::canary::Canary;
use crate::config::{PlannerKind, ProtocolConfig};
use crate::ids::{NodeId, ShardId};
use crate::load::ClusterView;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Move {
    pub shard: ShardId,
    pub from: NodeId,
    pub to: NodeId,
}

/// Which rule produced a plan: the oracle judges each built-in planner against its own
/// contract, and every plan against the rules all planners share.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PlanSource {
    /// Moves off nodes that no longer accept shards (draining for decommission).
    Drain,
    LoadBased,
    LeastShard,
    /// A planner from outside the core, by the name it gives.
    Custom(String),
}

impl PlanSource {
    pub fn name(&self) -> &str {
        match self {
            PlanSource::Drain => "drain",
            PlanSource::LoadBased => "load_based",
            PlanSource::LeastShard => "least_shard",
            PlanSource::Custom(name) => name,
        }
    }
}

/// A rebalance planner: the coordinator asks it for moves when the rebalancer's gates
/// allow (drains are planned before it is asked). It is a pure function of the view and
/// the configuration. A move it returns that breaks the caps, moves a shard in flight or
/// targets a node that does not accept shards is not started, and the oracle's
/// `planner_sound` reports the plan.
pub trait Planner: fmt::Debug + Send + Sync {
    /// How plans, reports and the oracle name it.
    fn source(&self) -> PlanSource;

    fn plan(&self, view: &ClusterView, config: &ProtocolConfig) -> Vec<Move>;

    /// Whether its plans read measured loads. Then a finished migration does not trigger
    /// an early sweep: the new owner's rates are not measured yet, and planning on them
    /// moves the shard on again.
    fn reads_loads(&self) -> bool {
        true
    }
}

/// Moves shards from the hottest nodes to the coldest by a weighted load score.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadBasedPlanner;

impl Planner for LoadBasedPlanner {
    fn source(&self) -> PlanSource {
        PlanSource::LoadBased
    }

    fn plan(&self, view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
        load_based::plan_load_based_with(
            view,
            &config.load_weights,
            config.load_imbalance_threshold,
            config.caps,
            overshoots(config),
        )
    }
}

/// Evens out shard counts (Akka's least-shard allocation strategy).
#[derive(Clone, Copy, Debug, Default)]
pub struct LeastShardPlanner;

impl Planner for LeastShardPlanner {
    fn source(&self) -> PlanSource {
        PlanSource::LeastShard
    }

    fn plan(&self, view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
        let threshold_ignored = config.has_canary(Canary::LeastShardOvershoot);
        least_shard::plan_least_shard_with(view, config.least_shard, config.caps, threshold_ignored)
    }

    fn reads_loads(&self) -> bool {
        false
    }
}

impl PlannerKind {
    /// The built-in planner of this kind.
    pub fn planner(self) -> Arc<dyn Planner> {
        match self {
            PlannerKind::LoadBased => Arc::new(LoadBasedPlanner),
            PlannerKind::LeastShard => Arc::new(LeastShardPlanner),
        }
    }
}

/// Drain moves first (a leaving node must empty); otherwise `planner`'s.
pub fn plan(planner: &dyn Planner, view: &ClusterView, config: &ProtocolConfig) -> (PlanSource, Vec<Move>) {
    let drain = plan_drain_for(view, config);
    if !drain.is_empty() {
        return (PlanSource::Drain, drain);
    }
    (planner.source(), planner.plan(view, config))
}

/// The drain moves alone (what back-pressure still lets through).
pub fn plan_drain_for(view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
    drain::plan_drain_with(view, config.caps, config.has_canary(Canary::DrainingTarget))
}

/// The `PlannerOvershoot` canary: the load-based planner moves any shard, however hot.
fn overshoots(config: &ProtocolConfig) -> bool {
    config.has_canary(Canary::PlannerOvershoot)
}
