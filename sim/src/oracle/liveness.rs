//! Liveness, checked after every fault has healed: migrations end, every shard takes
//! writes again, the cluster converges to balance and stays there.

use super::facts::Facts;
use super::state::ClusterState;
use super::Check;
use shardsim_core::planner;
use shardsim_core::wire::ShardRole;
use shardsim_core::ShardId;

pub const CONVERGENCE: &str = "convergence";
pub const NO_THRASHING: &str = "no_thrashing";
/// Migrations of one shard allowed in the liveness phase before it counts as thrashing.
pub const LIVENESS_MOVES_PER_SHARD_MAX: u32 = 3;

pub fn no_thrashing(shard: ShardId, moves: u32) -> Check {
    if moves > LIVENESS_MOVES_PER_SHARD_MAX {
        return Err(format!(
            "{shard} moved {moves} times after the faults healed (bound {LIVENESS_MOVES_PER_SHARD_MAX})"
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
    let moves = planner::plan(&coordinator.cluster_view(), &facts.config);
    if !moves.is_empty() {
        unmet.push(format!("not balanced: the planner still wants {} moves", moves.len()));
    }
    unmet
}
