//! `FewestShardsFirst`: a planner written outside `core/`, against the `Planner` trait
//! alone. Also compiled into `tests/tests/outside_planner.rs`.

use shardsim::core::load::ClusterView;
use shardsim::core::planner::{Move, MoveBudget, PlanSource, Planner};
use shardsim::core::{NodeId, ProtocolConfig};
use std::collections::BTreeMap;

/// The name its plans carry (coverage counts them as `plan_<name>`).
pub const NAME: &str = "fewest_shards_first";

#[derive(Debug)]
pub struct FewestShardsFirst {
    /// Ignores the caps and moves the whole surplus at once (a bug, for the oracle to find).
    pub sloppy: bool,
}

impl Planner for FewestShardsFirst {
    fn source(&self) -> PlanSource {
        PlanSource::Custom(NAME.to_string())
    }

    fn plan(&self, view: &ClusterView, config: &ProtocolConfig) -> Vec<Move> {
        let mut counts: BTreeMap<NodeId, usize> =
            view.nodes.iter().filter(|node| node.accepts_shards).map(|node| (node.node, 0)).collect();
        for shard in &view.shards {
            if let Some(count) = counts.get_mut(&shard.owner) {
                *count += 1;
            }
        }
        let fullest = counts.iter().max_by_key(|(node, count)| (**count, std::cmp::Reverse(**node)));
        let emptiest = counts.iter().min_by_key(|(node, count)| (**count, **node));
        let (Some((&from, &most)), Some((&to, &fewest))) = (fullest, emptiest) else { return Vec::new() };
        let budget = MoveBudget::new(view, config.caps);
        let within_caps = !budget.exhausted() && budget.allows(from, to);
        if most <= fewest + 1 || !(within_caps || self.sloppy) {
            return Vec::new();
        }
        let moves = if self.sloppy { (most - fewest) / 2 } else { 1 };
        view.shards
            .iter()
            .filter(|shard| shard.owner == from && shard.migrating_to.is_none())
            .take(moves)
            .map(|shard| Move { shard: shard.shard, from, to })
            .collect()
    }

    fn reads_loads(&self) -> bool {
        false
    }
}
