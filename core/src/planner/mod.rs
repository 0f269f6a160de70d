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
pub use load_based::{plan_load_based, shard_scores};

use crate::canary::Canary;
use crate::config::{PlannerKind, ProtocolConfig};
use crate::ids::{NodeId, ShardId};
use crate::load::ClusterView;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Move {
    pub shard: ShardId,
    pub from: NodeId,
    pub to: NodeId,
}

/// Which rule produced a plan: the oracle judges each against its own contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PlanSource {
    /// Moves off nodes that no longer accept shards (draining for decommission).
    Drain,
    LoadBased,
    LeastShard,
}

impl PlanSource {
    pub fn name(self) -> &'static str {
        match self {
            PlanSource::Drain => "drain",
            PlanSource::LoadBased => "load_based",
            PlanSource::LeastShard => "least_shard",
        }
    }
}

/// Drain moves first (a leaving node must empty); otherwise the configured planner.
pub fn plan(view: &ClusterView, config: &ProtocolConfig) -> (PlanSource, Vec<Move>) {
    let caps = config.caps;
    let drain = plan_drain_for(view, config);
    if !drain.is_empty() {
        return (PlanSource::Drain, drain);
    }
    match config.planner {
        PlannerKind::LoadBased => (
            PlanSource::LoadBased,
            load_based::plan_load_based_with(
                view,
                &config.load_weights,
                config.load_imbalance_threshold,
                caps,
                overshoots(config),
            ),
        ),
        PlannerKind::LeastShard => {
            let threshold_ignored = config.has_canary(Canary::LeastShardOvershoot);
            (
                PlanSource::LeastShard,
                least_shard::plan_least_shard_with(view, config.least_shard, caps, threshold_ignored),
            )
        }
    }
}

/// The drain moves alone (what back-pressure still lets through).
pub fn plan_drain_for(view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
    drain::plan_drain_with(view, config.caps, config.has_canary(Canary::DrainingTarget))
}

/// The `PlannerOvershoot` canary: the load-based planner moves any shard, however hot.
fn overshoots(config: &ProtocolConfig) -> bool {
    config.has_canary(Canary::PlannerOvershoot)
}
