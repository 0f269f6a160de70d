//! Load scores as the design defines them, written out here rather than borrowed from the
//! core's planner: the oracle judges plans and convergence with its own arithmetic.

use shardsim_core::config::LoadWeights;
use shardsim_core::load::ShardLoad;
use shardsim_core::planner::RATE_FLOOR_PER_NODE_PER_S;

/// Each shard's score: every term normalised by the cluster's mean per accepting node, so
/// that unlike units compare, rates by no less than the design's floor per node (below it
/// a rate is noise); a node's score is the sum of its shards'.
pub fn shard_scores(loads: &[ShardLoad], accepting_nodes: usize, weights: &LoadWeights) -> Vec<f64> {
    let nodes = accepting_nodes.max(1) as f64;
    let total = |field: fn(&ShardLoad) -> u64| loads.iter().map(field).sum::<u64>();
    let unit = |total: u64, weight: f64| if total == 0 { 0.0 } else { weight * nodes / total as f64 };
    let rate_floor = RATE_FLOOR_PER_NODE_PER_S * accepting_nodes.max(1) as u64;
    let byte_unit = unit(total(|load| load.bytes), weights.bytes);
    let write_unit = unit(total(|load| load.writes_per_s).max(rate_floor), weights.writes_per_s);
    let read_unit = unit(total(|load| load.reads_per_s).max(rate_floor), weights.reads_per_s);
    let count_unit = unit(loads.len() as u64, weights.shard_count);
    loads
        .iter()
        .map(|load| {
            byte_unit * load.bytes as f64
                + write_unit * load.writes_per_s as f64
                + read_unit * load.reads_per_s as f64
                + count_unit
        })
        .collect()
}

/// The mean score a balance gap is judged against: the mean with each rate term no less
/// than a cluster at the floor would give it (its weight), since below the floor rate
/// differences are noise. Above the floor, `mean` itself.
pub fn balance_mean(loads: &[ShardLoad], accepting_nodes: usize, weights: &LoadWeights, mean: f64) -> f64 {
    let floor = (RATE_FLOOR_PER_NODE_PER_S * accepting_nodes.max(1) as u64) as f64;
    let total = |field: fn(&ShardLoad) -> u64| loads.iter().map(field).sum::<u64>() as f64;
    let below_floor = |total: f64, weight: f64| weight * (floor - total).max(0.0) / floor;
    mean + below_floor(total(|load| load.writes_per_s), weights.writes_per_s)
        + below_floor(total(|load| load.reads_per_s), weights.reads_per_s)
}

/// Slack for float sums: a plan's arithmetic and ours may round differently.
pub fn epsilon(mean: f64) -> f64 {
    1e-9 * mean.abs().max(1.0)
}
