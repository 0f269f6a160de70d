//! Akka's least-shard allocation strategy, sans-IO.

use super::{Move, MoveBudget};
use crate::config::{LeastShardConfig, MigrationCaps};
use crate::ids::{NodeId, ShardId};
use crate::load::ClusterView;
use std::collections::{BTreeMap, BTreeSet};

/// Places new shards, one by one, on the accepting node with the fewest shards (ties to
/// the lowest id), counting each placement before the next. O(S + shards * N).
pub fn allocate_least_shard(view: &ClusterView, new_shards: &[ShardId]) -> Vec<(ShardId, NodeId)> {
    let mut counts: BTreeMap<NodeId, usize> =
        view.nodes.iter().filter(|node| node.accepts_shards).map(|node| (node.node, 0)).collect();
    for shard in &view.shards {
        if let Some(count) = counts.get_mut(&shard.owner) {
            *count += 1;
        }
    }
    let mut placements = Vec::with_capacity(new_shards.len());
    for shard in new_shards {
        let Some((node, count)) = counts.iter_mut().min_by_key(|(node, count)| (**count, **node)) else {
            break;
        };
        *count += 1;
        placements.push((*shard, *node));
    }
    placements
}

/// While the most-loaded node holds more than `rebalance_threshold_shards` shards above
/// the least-loaded accepting node, move its lowest-id movable shard there. At most
/// min(absolute limit, relative limit x shard count, caps) moves, at least one.
///
/// Complexity: O(S log S + moves * N) for S shards and N nodes. A move only happens when
/// the gap exceeds the threshold (at least 1), so the target ends at most at the source's
/// new count: no overshoot.
pub fn plan_least_shard(view: &ClusterView, config: LeastShardConfig, caps: MigrationCaps) -> Vec<Move> {
    plan_least_shard_with(view, config, caps, false)
}

/// `threshold_ignored` plants the `LeastShardOvershoot` canary: any gap of one shard moves.
pub(crate) fn plan_least_shard_with(
    view: &ClusterView,
    config: LeastShardConfig,
    caps: MigrationCaps,
    threshold_ignored: bool,
) -> Vec<Move> {
    let accepting: BTreeSet<NodeId> =
        view.nodes.iter().filter(|node| node.accepts_shards).map(|node| node.node).collect();
    let mut owned: BTreeMap<NodeId, Vec<ShardId>> = view.nodes.iter().map(|node| (node.node, Vec::new())).collect();
    let mut counts: BTreeMap<NodeId, usize> = owned.keys().map(|node| (*node, 0)).collect();
    for shard in &view.shards {
        // A shard in flight counts where it is going: planning as if it stayed put sends
        // a second shard to a node that is already receiving one, and moves chase it.
        if let Some(count) = counts.get_mut(&shard.migrating_to.unwrap_or(shard.owner)) {
            *count += 1;
        }
        if shard.migrating_to.is_none() {
            if let Some(owned) = owned.get_mut(&shard.owner) {
                owned.push(shard.shard);
            }
        }
    }
    for shards in owned.values_mut() {
        // Popped from the back: lowest id first.
        shards.sort_by(|a, b| b.cmp(a));
    }
    let relative_limit = (config.relative_limit * view.shards.len() as f64).floor() as usize;
    let round_limit = config.absolute_limit_shards.min(relative_limit).max(1);
    let mut budget = MoveBudget::new(view, caps);
    let mut moves = Vec::new();
    while moves.len() < round_limit && !budget.exhausted() {
        let most = counts
            .iter()
            .filter(|(node, _)| budget.node_has_room(**node) && !owned[*node].is_empty())
            .max_by_key(|(node, count)| (**count, std::cmp::Reverse(**node)))
            .map(|(node, count)| (*node, *count));
        let Some((from, from_count)) = most else {
            break;
        };
        let least = counts
            .iter()
            .filter(|(node, _)| accepting.contains(*node) && budget.allows(from, **node))
            .min_by_key(|(node, count)| (**count, **node))
            .map(|(node, count)| (*node, *count));
        let Some((to, to_count)) = least else { break };
        // A gap of at least 2 leaves the target no fuller than the source after the move.
        let threshold = if threshold_ignored { 0 } else { config.rebalance_threshold_shards.max(1) };
        if from_count <= to_count + threshold {
            break;
        }
        let shard = owned.get_mut(&from).expect("owner known").pop().expect("checked non-empty");
        budget.spend(from, to);
        *counts.get_mut(&from).expect("counted") -= 1;
        *counts.get_mut(&to).expect("counted") += 1;
        moves.push(Move { shard, from, to });
    }
    moves
}
