//! Liveness, checked after every fault has healed: migrations end, every shard takes
//! writes again, the cluster converges to balance and stays there.

use super::balance::{balance_mean, shard_scores};
use super::facts::{Facts, Moment, MoveAfterHeal};
use super::registry::{no_step_checks, Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use shardsim_core::config::{LoadWeights, PlannerKind};
use shardsim_core::coordinator::Liveness;
use shardsim_core::load::ShardLoad;
use shardsim_core::phase::Phase;
use shardsim_core::wire::ShardRole;
use shardsim_core::{MigrationId, NodeId, Observation, ShardId};
use std::collections::BTreeMap;

pub const CONVERGENCE: Invariant = Invariant::liveness(
    "convergence",
    "Once every fault has healed, within the bound: every migration ends, every shard takes writes and is served by its routed owner, draining nodes end decommissioned, and the cluster is balanced by its planner's measure.",
);
pub const NO_THRASHING: Invariant = Invariant::liveness(
    "no_thrashing",
    "No shard starts more than three migrations after the heal (a move back and forth, or a migration that keeps aborting).",
);
/// Migrations of one shard allowed in the liveness phase before it counts as thrashing.
pub const LIVENESS_MOVES_PER_SHARD_MAX: u32 = 3;
/// Load scores are rates over windows, and the planner reads them a heartbeat late: the
/// oracle calls a cluster unbalanced only past this multiple of the planner's threshold.
pub const LOAD_THRESHOLD_SLACK: f64 = 1.5;

pub const CHECKER: Checker = Checker {
    family: Family::Liveness,
    invariants: &[&CONVERGENCE, &NO_THRASHING],
    observe,
    after_step: no_step_checks,
};

/// Follows each migration started after the heal, to its end; convergence itself is
/// judged by the driver's checks.
fn observe(
    facts: &mut Facts,
    _moment: Moment,
    observation: &Observation,
    _state: &dyn ClusterState,
    checks: &mut Checks,
) {
    if facts.liveness_started_at.is_none() {
        return;
    }
    let ended = |facts: &mut Facts, shard: &ShardId, migration: &MigrationId, end: String| {
        let mut moves = facts.moves_since_liveness.get_mut(shard).into_iter().flatten();
        if let Some(started) = moves.find(|started| started.migration == *migration) {
            started.end = Some(end);
        }
    };
    match observation {
        Observation::MigrationStarted { migration, shard, source, target, .. } => {
            let moves = facts.moves_since_liveness.entry(*shard).or_default();
            moves.push(MoveAfterHeal { migration: *migration, source: source.actor, target: target.actor, end: None });
            checks.push((&NO_THRASHING, no_thrashing(*shard, moves)));
        }
        Observation::MigrationPhase { migration, shard, to: Phase::Complete, .. } => {
            ended(facts, shard, migration, "completed".to_string());
        }
        Observation::MigrationAborted { migration, shard, reason } => {
            ended(facts, shard, migration, format!("aborted ({reason:?})"));
        }
        _ => {}
    }
}

/// At most [`LIVENESS_MOVES_PER_SHARD_MAX`] migrations of one shard after the heal; the
/// report lists each with how it ended, so that a shard moved back and forth reads apart
/// from one whose migration keeps timing out.
pub fn no_thrashing(shard: ShardId, moves: &[MoveAfterHeal]) -> Check {
    if moves.len() > LIVENESS_MOVES_PER_SHARD_MAX as usize {
        let listed: Vec<String> = moves.iter().map(ToString::to_string).collect();
        return Err(format!(
            "{shard} started {} migrations after the faults healed (bound {LIVENESS_MOVES_PER_SHARD_MAX}): {}",
            moves.len(),
            listed.join(", ")
        ));
    }
    Ok(())
}

/// Where a shard is routed and how its owner holds it: what a stuck shard's report needs.
fn describe_shard(shard: ShardId, state: &dyn ClusterState) -> String {
    let Some(route) = state.coordinator().and_then(|coordinator| coordinator.routing().get(shard)) else {
        return format!("{shard} (unrouted)");
    };
    let held = match state.node(route.owner) {
        None => "down".to_string(),
        Some(node) => match node.shard(shard) {
            None => "nothing".to_string(),
            Some(held) => format!("{:?}", held.role),
        },
    };
    format!("{shard} (routed to {} at {}; it holds {held})", route.owner, route.epoch)
}

/// Every liveness condition not met yet, as a sentence each.
pub fn unmet(facts: &Facts, state: &dyn ClusterState) -> Vec<String> {
    let mut unmet = Vec::new();
    let Some(coordinator) = state.coordinator() else {
        return vec!["the coordinator is down".to_string()];
    };
    let active = coordinator.tracker().active_total();
    if active > 0 {
        unmet.push(format!("{active} migrations still active at the coordinator"));
    }
    if !facts.active.is_empty() {
        let ids: Vec<String> = facts.active.keys().map(|id| id.to_string()).collect();
        unmet.push(format!("migrations never ended: {}", ids.join(", ")));
    }
    let shard_count = facts.config.shard_count;
    if coordinator.routing().len() < shard_count as usize {
        unmet.push(format!("{} of {shard_count} shards routed", coordinator.routing().len()));
    }
    let since = facts.liveness_started_at.unwrap_or_default();
    let silent: Vec<String> = (0..shard_count)
        .map(ShardId)
        .filter(|shard| facts.last_ack_at.get(shard).is_none_or(|at| *at < since))
        .map(|shard| describe_shard(shard, state))
        .collect();
    if !silent.is_empty() {
        unmet.push(format!("no write acked since the faults healed on {}", silent.join(", ")));
    }
    let unsettled: Vec<String> = coordinator
        .routing()
        .iter()
        .filter(|(shard, route)| {
            let held = state.node(route.owner).and_then(|node| node.shard(*shard)).map(|held| held.role);
            held != Some(ShardRole::Owned { epoch: route.epoch })
        })
        .map(|(shard, _)| describe_shard(shard, state))
        .collect();
    if !unsettled.is_empty() {
        unmet.push(format!("routed owners do not serve {}", unsettled.join(", ")));
    }
    unmet.extend(decommissions_unmet(state));
    unmet.extend(balance_unmet(facts, state));
    unmet
}

/// Every node being decommissioned ends decommissioned and empty.
fn decommissions_unmet(state: &dyn ClusterState) -> Vec<String> {
    let Some(coordinator) = state.coordinator() else { return Vec::new() };
    let mut unmet = Vec::new();
    for (node, member) in coordinator.members().iter() {
        if member.record.draining && !member.record.decommissioned {
            unmet.push(format!("{node} is still draining"));
        }
        let routed = coordinator.routing().owned_by(node).count();
        if member.record.decommissioned && routed > 0 {
            unmet.push(format!("{node} is decommissioned but still routed {routed} shards"));
        }
    }
    unmet
}

/// The shards each node that accepts shards owns, with the loads it would report for
/// them: the oracle's own view, from the nodes rather than from the coordinator's planner.
fn accepting_holdings(state: &dyn ClusterState) -> Option<BTreeMap<NodeId, Vec<ShardLoad>>> {
    let coordinator = state.coordinator()?;
    let mut holdings = BTreeMap::new();
    for (node, member) in coordinator.members().iter() {
        let accepts = member.liveness == Liveness::Active && !member.record.draining && !member.record.decommissioned;
        if !accepts {
            continue;
        }
        let actor = state.node(node)?;
        let loads: Vec<ShardLoad> = actor
            .shards()
            .iter()
            .filter(|(_, held)| matches!(held.role, ShardRole::Owned { .. }))
            .map(|(shard, held)| ShardLoad {
                shard: *shard,
                bytes: held.log.bytes(),
                writes_per_s: held.writes_per_s,
                reads_per_s: held.reads_per_s,
            })
            .collect();
        holdings.insert(node, loads);
    }
    Some(holdings)
}

/// The balance at a moment, by both planners' measures, over the nodes that accept shards.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BalanceFigures {
    pub shards_max: u32,
    pub shards_mean: f64,
    pub score_max: f64,
    pub score_mean: f64,
}

/// The balance now, from the nodes' own state; `None` without a coordinator or nodes.
pub fn balance_figures(config: &shardsim_core::ProtocolConfig, state: &dyn ClusterState) -> Option<BalanceFigures> {
    let holdings = accepting_holdings(state)?;
    if holdings.is_empty() {
        return None;
    }
    let nodes = holdings.len() as f64;
    let scores: Vec<f64> =
        node_scores(&holdings, &config.load_weights).into_iter().map(|(_, score, _)| score).collect();
    Some(BalanceFigures {
        shards_max: holdings.values().map(|held| held.len() as u32).max().unwrap_or(0),
        shards_mean: holdings.values().map(Vec::len).sum::<usize>() as f64 / nodes,
        score_max: scores.iter().copied().fold(0.0, f64::max),
        score_mean: scores.iter().sum::<f64>() / nodes,
    })
}

/// The cluster is balanced by the design's measure for its planner: shard counts within
/// the least-shard threshold, or load scores within the load threshold (unless the
/// hottest node holds only shards too hot to move without overshooting). An active empty
/// node counts. Back-pressure holds rebalancing by design, so it waives the check.
fn balance_unmet(facts: &Facts, state: &dyn ClusterState) -> Option<String> {
    let holdings = accepting_holdings(state)?;
    if holdings.len() < 2 {
        return None;
    }
    let config = &facts.config;
    let threshold = config.cpu_backpressure_threshold_permille;
    if state.coordinator()?.members().iter().any(|(_, member)| member.load.cpu_permille > threshold) {
        return None;
    }
    let counts: BTreeMap<NodeId, usize> = holdings.iter().map(|(node, loads)| (*node, loads.len())).collect();
    let describe_counts = || counts.iter().map(|(node, count)| format!("{node}:{count}")).collect::<Vec<_>>().join(" ");
    match config.planner {
        PlannerKind::LeastShard => {
            let (most, least) = (counts.values().max()?, counts.values().min()?);
            let threshold = config.least_shard.rebalance_threshold_shards.max(1);
            (most - least > threshold)
                .then(|| format!("not balanced: shard counts {} differ by more than {threshold}", describe_counts()))
        }
        PlannerKind::LoadBased => load_unbalanced(facts, &holdings)
            .map(|detail| format!("not balanced: {detail} (shards {})", describe_counts())),
    }
}

/// Each node's load score and its shards' scores, by the oracle's own arithmetic.
fn node_scores(holdings: &BTreeMap<NodeId, Vec<ShardLoad>>, weights: &LoadWeights) -> Vec<(NodeId, f64, Vec<f64>)> {
    let loads: Vec<ShardLoad> = holdings.values().flatten().copied().collect();
    let scores = shard_scores(&loads, holdings.len(), weights);
    let mut node_scores = Vec::new();
    let mut position = 0;
    for (node, held) in holdings {
        let shard_scores = scores[position..position + held.len()].to_vec();
        position += held.len();
        node_scores.push((*node, shard_scores.iter().sum(), shard_scores));
    }
    node_scores
}

fn load_unbalanced(facts: &Facts, holdings: &BTreeMap<NodeId, Vec<ShardLoad>>) -> Option<String> {
    let weights = &facts.config.load_weights;
    let node_scores = node_scores(holdings, weights);
    let mean = node_scores.iter().map(|(_, score, _)| score).sum::<f64>() / node_scores.len() as f64;
    let loads: Vec<ShardLoad> = holdings.values().flatten().copied().collect();
    let judged_by = balance_mean(&loads, holdings.len(), weights, mean);
    let (hottest, hottest_score, hottest_shards) = node_scores.iter().max_by(|a, b| a.1.total_cmp(&b.1))?;
    let (coldest, coldest_score, _) = node_scores.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let gap = hottest_score - coldest_score;
    let allowed = facts.config.load_imbalance_threshold * judged_by * LOAD_THRESHOLD_SLACK;
    // A shard hotter than half the gap would only move the imbalance: leave it.
    let movable = hottest_shards.iter().any(|score| *score > 0.0 && *score <= gap / 2.0 / LOAD_THRESHOLD_SLACK);
    (gap > allowed && movable).then(|| {
        format!(
            "{hottest} scores {hottest_score:.2} and {coldest} {coldest_score:.2} (mean {mean:.2}, allowed gap {allowed:.2})"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::ProtocolConfig;

    fn holdings(writes: &[&[u64]]) -> BTreeMap<NodeId, Vec<ShardLoad>> {
        let mut shard = 0;
        let mut holdings = BTreeMap::new();
        for (index, node_writes) in writes.iter().enumerate() {
            let loads = node_writes
                .iter()
                .map(|writes_per_s| {
                    shard += 1;
                    ShardLoad { shard: ShardId(shard), bytes: 0, writes_per_s: *writes_per_s, reads_per_s: 0 }
                })
                .collect();
            holdings.insert(NodeId(index as u32 + 1), loads);
        }
        holdings
    }

    /// The oracle judges balance as the planner does: a rate gap is an imbalance only
    /// measured against a cluster at the rate floor, so near-idle noise is not.
    #[test]
    fn a_load_gap_is_unbalanced_above_the_rate_floor_and_noise_below_it() {
        let weights = LoadWeights { bytes: 0.0, writes_per_s: 1.0, reads_per_s: 0.0, shard_count: 0.0 };
        let config =
            ProtocolConfig { load_weights: weights, load_imbalance_threshold: 0.25, ..ProtocolConfig::default() };
        let facts = Facts::new(config);
        let busy = load_unbalanced(&facts, &holdings(&[&[300, 100], &[100]]));
        assert!(busy.as_deref().is_some_and(|detail| detail.starts_with("n1 scores 1.60 and n2 0.40")), "{busy:?}");
        assert_eq!(load_unbalanced(&facts, &holdings(&[&[3, 1], &[1]])), None);
    }
}
