//! Control-plane rules: who may take part in a migration, when the rebalancer may start
//! one, and whether each plan the coordinator dispatched obeys its planner's contract.

use super::balance::{epsilon, shard_scores};
use super::facts::{Facts, Moment};
use super::registry::{no_step_checks, Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use shardsim_core::coordinator::Liveness;
use shardsim_core::load::{ClusterView, ShardView};
use shardsim_core::planner::{Move, PlanSource};
use shardsim_core::{ActorId, Instant, MigrationId, NodeId, Observation, PeerIdentity};
use std::collections::{BTreeMap, BTreeSet};

pub const TARGETS_ACCEPTING_MEMBERS: Invariant = Invariant::safety("targets_accepting_members", Family::Control, "A migration starts only between members the coordinator holds active, with the identities it holds, and its target accepts shards (not draining, joining, suspect, down or decommissioned).");
pub const REBALANCE_GATES_RESPECTED: Invariant = Invariant::safety("rebalance_gates_respected", Family::Control, "No load-driven migration starts within the boot grace, while a member joins or is suspect, within the quiet period after a membership change, or under CPU back-pressure; drains obey every gate but back-pressure.");
pub const PLANNER_SOUND: Invariant = Invariant::safety("planner_sound", Family::Control, "Every dispatched plan, judged on the view it came from, keeps the caps, moves no shard in flight, twice or from a non-owner, targets accepting nodes, and keeps its own planner's contract (drain, least-shard, load-based).");

pub const CHECKER: Checker = Checker {
    family: Family::Control,
    invariants: &[&TARGETS_ACCEPTING_MEMBERS, &REBALANCE_GATES_RESPECTED, &PLANNER_SOUND],
    observe,
    after_step: no_step_checks,
};

fn observe(
    facts: &mut Facts,
    moment: Moment,
    observation: &Observation,
    state: &dyn ClusterState,
    checks: &mut Checks,
) {
    match observation {
        Observation::PlanDispatched { source, view, moves } => {
            checks.push((&PLANNER_SOUND, planner_sound(facts, source, view, moves)))
        }
        Observation::MemberChanged { .. } => facts.membership_changed_at = Some(moment.at),
        Observation::CoordinatorBooted { .. } => {
            facts.coordinator_booted_at = moment.at;
            facts.membership_changed_at = Some(moment.at);
        }
        Observation::MigrationStarted { migration, source, target, .. } => {
            checks.push((&TARGETS_ACCEPTING_MEMBERS, targets_accepting_members(*migration, *source, *target, state)));
            if let ActorId::Node(source_node) = source.actor {
                let gates = rebalance_gates_respected(facts, *migration, source_node, moment.at, state);
                checks.push((&REBALANCE_GATES_RESPECTED, gates));
            }
        }
        _ => {}
    }
}

/// A migration starts only between members the coordinator holds active, as they are
/// now; the target also accepts shards (not draining, joining, decommissioned, suspect
/// or down).
pub fn targets_accepting_members(
    migration: MigrationId,
    source: PeerIdentity,
    target: PeerIdentity,
    state: &dyn ClusterState,
) -> Check {
    let Some(coordinator) = state.coordinator() else { return Ok(()) };
    for (role, identity, must_accept) in [("source", source, false), ("target", target, true)] {
        let ActorId::Node(node) = identity.actor else {
            return Err(format!("{migration} has {identity} as its {role}, not a data node"));
        };
        let Some(member) = coordinator.members().get(node) else {
            return Err(format!("{migration} started with {role} {node}, not a member"));
        };
        let active = member.liveness == Liveness::Active && !member.record.decommissioned;
        let accepts = active && !member.record.draining;
        if !active || (must_accept && !accepts) {
            return Err(format!("{migration} started with {role} {node} while it is {}", member.status_name()));
        }
        if member.identity() != identity {
            return Err(format!("{migration} started with {role} {identity}, but the member is {}", member.identity()));
        }
    }
    Ok(())
}

/// No load-driven migration starts within the coordinator's boot grace, while membership
/// is unstable (a member joining or suspect, or a change within the quiet period), or
/// while a member the coordinator holds active reports CPU above the back-pressure
/// threshold. Drain moves (the source is draining) obey the same gates but back-pressure:
/// a leaving node must empty however hot the cluster runs.
pub fn rebalance_gates_respected(
    facts: &Facts,
    migration: MigrationId,
    source: NodeId,
    at: Instant,
    state: &dyn ClusterState,
) -> Check {
    let Some(coordinator) = state.coordinator() else { return Ok(()) };
    let config = &facts.config;
    let since_boot_ms = at.ms_since(facts.coordinator_booted_at);
    if since_boot_ms < config.election_grace_ms {
        return Err(format!(
            "{migration} started {since_boot_ms} ms after the coordinator booted (grace {} ms)",
            config.election_grace_ms
        ));
    }
    if let Some(changed_at) = facts.membership_changed_at {
        let quiet_ms = at.ms_since(changed_at);
        if quiet_ms < config.membership_stable_ms {
            return Err(format!(
                "{migration} started {quiet_ms} ms after a membership change (stable after {} ms)",
                config.membership_stable_ms
            ));
        }
    }
    let members = coordinator.members();
    if let Some((node, member)) = members.iter().find(|(_, member)| {
        !member.record.decommissioned && matches!(member.liveness, Liveness::Joining | Liveness::Suspect)
    }) {
        return Err(format!("{migration} started while {node} is {}", member.status_name()));
    }
    let drain = members.get(source).is_some_and(|member| member.record.draining);
    if drain {
        return Ok(());
    }
    let threshold = config.cpu_backpressure_threshold_permille;
    let hot = members.iter().find(|(_, member)| {
        member.liveness == Liveness::Active && !member.record.decommissioned && member.load.cpu_permille > threshold
    });
    match hot {
        Some((node, member)) => Err(format!(
            "{migration} started while {node} reports {} permille CPU (back-pressure above {threshold})",
            member.load.cpu_permille
        )),
        None => Ok(()),
    }
}

/// Every plan obeys the contract every planner shares (caps, no shard in flight, each
/// shard moved once and from its owner, targets that accept shards), judged on the view
/// it was planned from, and its own planner's: drains move only off leaving nodes; the
/// least-shard planner moves only across a gap above its threshold and within its round
/// limits; the load-based planner leaves no target hotter than a source that fed it, and
/// no node both sends and receives. A planner from outside the core is held to the shared
/// contract alone.
pub fn planner_sound(facts: &Facts, source: &PlanSource, view: &ClusterView, moves: &[Move]) -> Check {
    shared_contract(facts, view, moves)?;
    match source {
        PlanSource::Drain => drain_contract(view, moves),
        PlanSource::LeastShard => least_shard_contract(facts, view, moves),
        PlanSource::LoadBased => load_based_contract(facts, view, moves),
        PlanSource::Custom(_) => Ok(()),
    }
    .map_err(|reason| format!("{} plan {}: {reason}", source.name(), describe(moves)))
}

fn describe(moves: &[Move]) -> String {
    let moves: Vec<String> =
        moves.iter().map(|planned| format!("{} {}->{}", planned.shard, planned.from, planned.to)).collect();
    format!("[{}]", moves.join(", "))
}

fn shared_contract(facts: &Facts, view: &ClusterView, moves: &[Move]) -> Check {
    let caps = facts.config.caps;
    let plan = describe(moves);
    if moves.len() > caps.moves_per_tick_max {
        return Err(format!("plan {plan} has {} moves, cap {} a sweep", moves.len(), caps.moves_per_tick_max));
    }
    if view.active_total + moves.len() > caps.active_total_max {
        return Err(format!(
            "plan {plan} on top of {} active migrations exceeds the cap of {}",
            view.active_total, caps.active_total_max
        ));
    }
    let mut per_node: BTreeMap<NodeId, usize> = view.active_by_node.iter().copied().collect();
    let mut moved = BTreeSet::new();
    for planned in moves {
        let Some(shard) = view.shards.iter().find(|shard| shard.shard == planned.shard) else {
            return Err(format!("plan {plan} moves {}, which its view does not hold", planned.shard));
        };
        if shard.owner != planned.from || planned.from == planned.to {
            return Err(format!(
                "plan {plan} moves {} from {}, but {} owns it",
                planned.shard, planned.from, shard.owner
            ));
        }
        if shard.migrating_to.is_some() {
            return Err(format!("plan {plan} moves {}, which is in flight", planned.shard));
        }
        if !moved.insert(planned.shard) {
            return Err(format!("plan {plan} moves {} twice", planned.shard));
        }
        if !view.nodes.iter().any(|node| node.node == planned.to && node.accepts_shards) {
            return Err(format!("plan {plan} moves {} to {}, which does not accept shards", planned.shard, planned.to));
        }
        for node in [planned.from, planned.to] {
            let count = per_node.entry(node).or_default();
            *count += 1;
            if *count > caps.active_per_node_max {
                return Err(format!("plan {plan} puts {node} in {count} migrations, cap {}", caps.active_per_node_max));
            }
        }
    }
    Ok(())
}

fn drain_contract(view: &ClusterView, moves: &[Move]) -> Check {
    match moves.iter().find(|planned| view.nodes.iter().any(|node| node.node == planned.from && node.accepts_shards)) {
        Some(planned) => Err(format!("{} leaves {}, which is not leaving", planned.shard, planned.from)),
        None => Ok(()),
    }
}

/// Shards per node as the least-shard contract counts them: a shard in flight where it
/// is going.
fn shard_counts(view: &ClusterView) -> BTreeMap<NodeId, usize> {
    let mut counts: BTreeMap<NodeId, usize> = view.nodes.iter().map(|node| (node.node, 0)).collect();
    for shard in &view.shards {
        *counts.entry(shard.migrating_to.unwrap_or(shard.owner)).or_default() += 1;
    }
    counts
}

fn least_shard_contract(facts: &Facts, view: &ClusterView, moves: &[Move]) -> Check {
    let config = facts.config.least_shard;
    let relative = (config.relative_limit * view.shards.len() as f64).floor() as usize;
    let round_max = config.absolute_limit_shards.min(relative).max(1);
    if moves.len() > round_max {
        return Err(format!("{} moves, the round limit is {round_max}", moves.len()));
    }
    let threshold = config.rebalance_threshold_shards.max(1);
    let mut counts = shard_counts(view);
    for planned in moves {
        let (from, to) = (counts[&planned.from], counts[&planned.to]);
        if from <= to + threshold {
            return Err(format!(
                "{} moved from {} holding {from} to {} holding {to}: a gap within the threshold {threshold}",
                planned.shard, planned.from, planned.to
            ));
        }
        *counts.get_mut(&planned.from).expect("counted") -= 1;
        *counts.get_mut(&planned.to).expect("counted") += 1;
    }
    Ok(())
}

fn node_scores(view: &ClusterView, scores: &[f64]) -> BTreeMap<NodeId, f64> {
    let mut by_node: BTreeMap<NodeId, f64> = view.nodes.iter().map(|node| (node.node, 0.0)).collect();
    for (shard, score) in view.shards.iter().zip(scores) {
        *by_node.entry(shard.owner).or_default() += score;
    }
    by_node
}

fn load_based_contract(facts: &Facts, view: &ClusterView, moves: &[Move]) -> Check {
    let accepting = view.nodes.iter().filter(|node| node.accepts_shards).count();
    let loads: Vec<_> = view.shards.iter().map(|shard: &ShardView| shard.load).collect();
    let scores = shard_scores(&loads, accepting, &facts.config.load_weights);
    let before = node_scores(view, &scores);
    let mut after = before.clone();
    let senders: BTreeSet<NodeId> = moves.iter().map(|planned| planned.from).collect();
    for planned in moves {
        if senders.contains(&planned.to) {
            return Err(format!("{} both sends and receives", planned.to));
        }
        let position = view.shards.iter().position(|shard| shard.shard == planned.shard).expect("checked");
        *after.get_mut(&planned.from).expect("scored") -= scores[position];
        *after.get_mut(&planned.to).expect("scored") += scores[position];
    }
    let mean = before.values().sum::<f64>() / before.len().max(1) as f64;
    for planned in moves {
        let (target_after, source_before) = (after[&planned.to], before[&planned.from]);
        if target_after > source_before + epsilon(mean) {
            return Err(format!(
                "{} ends at score {target_after:.3}, hotter than {} was before the plan ({source_before:.3})",
                planned.to, planned.from
            ));
        }
    }
    Ok(())
}
