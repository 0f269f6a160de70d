//! The load-based planner: weighted score over bytes, writes/s, reads/s and shard count;
//! moves from the hottest node to the coldest.

use super::{Move, MoveBudget};
use crate::config::{LoadWeights, MigrationCaps};
use crate::ids::{NodeId, ShardId};
use crate::load::ClusterView;
use std::collections::{BTreeMap, BTreeSet};

/// Rates are normalised by at least this many operations per second per node: below it,
/// a node's rate is mostly which load window a write fell in (one write in a half-second
/// window reads 2/s), and a planner that chased those differences would move a shard
/// every tick in a nearly idle cluster (CockroachDB's allocator has the same floor, as
/// its minimum QPS for a rebalance).
pub const RATE_FLOOR_PER_NODE_PER_S: u64 = 25;

/// Each shard's contribution to its owner's score. Every term is normalised by the
/// cluster's mean per accepting node (rates by at least [`RATE_FLOOR_PER_NODE_PER_S`]),
/// so the weights compare unlike units; a node's score is the sum of its shards' scores,
/// which makes a planned move's effect exact.
pub fn shard_scores(view: &ClusterView, weights: &LoadWeights) -> Vec<f64> {
    let nodes = view.nodes.iter().filter(|node| node.accepts_shards).count().max(1) as f64;
    let (mut bytes, mut writes, mut reads) = (0u64, 0u64, 0u64);
    for shard in &view.shards {
        bytes += shard.load.bytes;
        writes += shard.load.writes_per_s;
        reads += shard.load.reads_per_s;
    }
    let per_unit = |total: u64, weight: f64| {
        if total == 0 {
            0.0
        } else {
            weight * nodes / total as f64
        }
    };
    let byte_unit = per_unit(bytes, weights.bytes);
    let rate_floor = RATE_FLOOR_PER_NODE_PER_S * nodes as u64;
    let write_unit = per_unit(writes.max(rate_floor), weights.writes_per_s);
    let read_unit = per_unit(reads.max(rate_floor), weights.reads_per_s);
    let count_unit = per_unit(view.shards.len() as u64, weights.shard_count);
    view.shards
        .iter()
        .map(|shard| {
            byte_unit * shard.load.bytes as f64
                + write_unit * shard.load.writes_per_s as f64
                + read_unit * shard.load.reads_per_s as f64
                + count_unit
        })
        .collect()
}

/// The mean a gap is judged against: the cluster's mean score with each rate counted at
/// no less than its floor. Below the floor, rate differences between nodes are noise (a
/// few writes more or less in a window, or a shard just moved whose window restarted
/// empty): against the bare mean they read as imbalance, and the planner moved a shard
/// every tick in a nearly idle cluster. Above the floor this is the mean itself.
pub fn balance_mean(view: &ClusterView, weights: &LoadWeights, mean: f64) -> f64 {
    let nodes = view.nodes.iter().filter(|node| node.accepts_shards).count().max(1) as u64;
    let rate_floor = RATE_FLOOR_PER_NODE_PER_S * nodes;
    let (writes, reads) = view.shards.iter().fold((0u64, 0u64), |(writes, reads), shard| {
        (writes + shard.load.writes_per_s, reads + shard.load.reads_per_s)
    });
    // A rate term's share of the mean is its weight x total / max(total, floor).
    let shortfall = |total: u64, weight: f64| weight * (1.0 - total.min(rate_floor) as f64 / rate_floor as f64);
    mean + shortfall(writes, weights.writes_per_s) + shortfall(reads, weights.reads_per_s)
}

/// Repeatedly: take the hottest node (ties to the lowest id) and the coldest accepting
/// node; stop when their gap is within `threshold` x the [`balance_mean`]; otherwise move the
/// hottest's largest movable shard whose score is at most half the gap (ties to the
/// lowest shard id), so the target ends no hotter than the source: no overshoot and no
/// ping-pong. A target that already received shards also stays no hotter than each of
/// those sources was before the plan, and no node both sends and receives in one plan.
/// A hottest node with no such shard is set aside for this tick.
///
/// Complexity: O(S log S + moves * (N + S/N)) for S shards on N nodes.
pub fn plan_load_based(view: &ClusterView, weights: &LoadWeights, threshold: f64, caps: MigrationCaps) -> Vec<Move> {
    plan_load_based_with(view, weights, threshold, caps, false)
}

/// `overshoot` plants the `PlannerOvershoot` canary: any movable shard may go, however hot.
pub(crate) fn plan_load_based_with(
    view: &ClusterView,
    weights: &LoadWeights,
    threshold: f64,
    caps: MigrationCaps,
    overshoot: bool,
) -> Vec<Move> {
    let scores = shard_scores(view, weights);
    let accepting: BTreeSet<NodeId> =
        view.nodes.iter().filter(|node| node.accepts_shards).map(|node| node.node).collect();
    if accepting.len() < 2 {
        return Vec::new();
    }
    let mut node_score: BTreeMap<NodeId, f64> = view.nodes.iter().map(|node| (node.node, 0.0)).collect();
    // Movable shards per node, sorted by descending score then ascending id.
    let mut movable: BTreeMap<NodeId, Vec<(f64, ShardId)>> = BTreeMap::new();
    for (shard, score) in view.shards.iter().zip(&scores) {
        if let Some(total) = node_score.get_mut(&shard.owner) {
            *total += score;
            if shard.migrating_to.is_none() {
                movable.entry(shard.owner).or_default().push((*score, shard.shard));
            }
        }
    }
    for shards in movable.values_mut() {
        shards.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    }
    let mean = accepting.iter().map(|node| node_score[node]).sum::<f64>() / accepting.len() as f64;
    let balance_mean = balance_mean(view, weights, mean);
    let mut budget = MoveBudget::new(view, caps);
    let mut set_aside: BTreeSet<NodeId> = BTreeSet::new();
    // A target must end no hotter than any source that sent it a shard was before the
    // plan: a later, hotter source must not push it past an earlier, cooler one. And no
    // node both receives and sends in one plan: chains are churn.
    let initial_score = node_score.clone();
    let mut ceiling: BTreeMap<NodeId, f64> = BTreeMap::new();
    let mut senders: BTreeSet<NodeId> = BTreeSet::new();
    let mut moves = Vec::new();
    while !budget.exhausted() {
        let hottest = node_score
            .iter()
            .filter(|(node, _)| {
                !set_aside.contains(*node) && !ceiling.contains_key(*node) && budget.node_has_room(**node)
            })
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(node, score)| (*node, *score));
        let Some((from, from_score)) = hottest else {
            break;
        };
        let coldest = node_score
            .iter()
            .filter(|(node, _)| accepting.contains(*node) && !senders.contains(*node) && budget.allows(from, **node))
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(b.0)))
            .map(|(node, score)| (*node, *score));
        let Some((to, to_score)) = coldest else {
            set_aside.insert(from);
            continue;
        };
        let gap = from_score - to_score;
        if gap <= threshold * balance_mean {
            if accepting.contains(&from) {
                break;
            }
            set_aside.insert(from);
            continue;
        }
        let room = ceiling.get(&to).map_or(f64::INFINITY, |ceiling| ceiling - to_score);
        let largest_score = if overshoot { f64::INFINITY } else { (gap / 2.0).min(room) };
        let shards = movable.entry(from).or_default();
        let Some(position) = shards.iter().position(|(score, _)| *score <= largest_score && *score > 0.0) else {
            set_aside.insert(from);
            continue;
        };
        let (score, shard) = shards.remove(position);
        budget.spend(from, to);
        *node_score.get_mut(&from).expect("scored") -= score;
        *node_score.get_mut(&to).expect("scored") += score;
        senders.insert(from);
        let source_before = initial_score[&from];
        ceiling.entry(to).and_modify(|ceiling| *ceiling = ceiling.min(source_before)).or_insert(source_before);
        moves.push(Move { shard, from, to });
    }
    moves
}
