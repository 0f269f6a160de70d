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

use crate::config::{PlannerKind, ProtocolConfig};
use crate::ids::{NodeId, ShardId};
use crate::load::ClusterView;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Move {
    pub shard: ShardId,
    pub from: NodeId,
    pub to: NodeId,
}

/// Drain moves first (a leaving node must empty); otherwise the configured planner.
pub fn plan(view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
    let caps = config.enforced_caps();
    let drain = plan_drain(view, caps);
    if !drain.is_empty() {
        return drain;
    }
    match config.planner {
        PlannerKind::LoadBased => plan_load_based(view, &config.load_weights, config.load_imbalance_threshold, caps),
        PlannerKind::LeastShard => plan_least_shard(view, config.least_shard, caps),
    }
}
