//! Invariants about migrations: one at a time per shard, caps, phase order, a caught-up
//! cut-over, aborts on identity change, and the write-pause budget.

use super::facts::{Facts, Moment, TrackedMigration, Verification};
use super::registry::{Checker, Checks, Family, Invariant};
use super::state::{durable_log, ClusterState};
use super::Check;
use shardsim_core::node::SourceStage;
use shardsim_core::phase::Phase;
use shardsim_core::{ActorId, Instant, MigrationId, NodeId, Observation, PeerIdentity, ShardId};
use std::collections::BTreeMap;

pub const ONE_ACTIVE_MIGRATION_PER_SHARD: Invariant = Invariant::safety("one_active_migration_per_shard", Family::Migrations, "At most one migration of a shard is active, across coordinator restarts, and no two nodes stream a shard out at once.");
pub const MIGRATION_CAPS: Invariant = Invariant::safety(
    "migration_caps",
    Family::Migrations,
    "Active migrations stay within the configured caps, in total and per node.",
);
pub const PHASE_ORDER: Invariant = Invariant::safety(
    "phase_order",
    Family::Migrations,
    "Base copy, catch-up, cut-over, complete, or failed from any of them; routing commits only out of cut-over.",
);
pub const CUTOVER_CAUGHT_UP: Invariant = Invariant::safety(
    "cutover_caught_up",
    Family::Migrations,
    "A cut-over commits only when the target durably holds exactly the log the source sealed.",
);
pub const IDENTITY_CHANGE_ABORTS: Invariant = Invariant::safety(
    "identity_change_aborts",
    Family::Migrations,
    "No migration completes whose target changed identity (a new incarnation or address) after it began.",
);
pub const WRITE_PAUSE_WITHIN_BUDGET: Invariant = Invariant::safety(
    "write_pause_within_budget",
    Family::Migrations,
    "From the source's fence to the commit, writes pause no longer than the budget, in true time, whatever the coordinator's clock read (it may drift up to clock_drift_max_ppm and step).",
);

pub const CHECKER: Checker = Checker {
    family: Family::Migrations,
    invariants: &[
        &ONE_ACTIVE_MIGRATION_PER_SHARD,
        &CUTOVER_CAUGHT_UP,
        &IDENTITY_CHANGE_ABORTS,
        &PHASE_ORDER,
        &MIGRATION_CAPS,
        &WRITE_PAUSE_WITHIN_BUDGET,
    ],
    observe,
    after_step,
};

fn observe(
    facts: &mut Facts,
    moment: Moment,
    observation: &Observation,
    state: &dyn ClusterState,
    checks: &mut Checks,
) {
    match observation {
        Observation::NodeBooted { node, identity } => facts.boots.entry(*node).or_default().push((moment, *identity)),
        Observation::ShardFenced { migration, .. } => {
            facts.fenced_at.entry(*migration).or_insert(moment.at);
        }
        Observation::TargetVerified { node, migration, identity, shard, .. } => {
            let durable = match state.durable_disk(ActorId::Node(*node)) {
                Some(disk) => durable_log(disk, *shard),
                None => Err(format!("{node} has no disk")),
            };
            facts.verified.insert(*migration, Verification { at: moment, identity: *identity, durable });
        }
        Observation::ShardSealed { migration, index, digest, .. } => {
            facts.sealed.insert(*migration, (*index, *digest));
        }
        Observation::MigrationStarted { migration, shard, source, target, .. } => {
            on_started(facts, moment, *migration, *shard, (*source, *target), checks)
        }
        Observation::MigrationPhase { migration, from, to, .. } => {
            checks.push((&PHASE_ORDER, phase_order(facts, *migration, *from, *to)));
            facts.phases.insert(*migration, *to);
            if to.is_terminal() {
                facts.active.remove(migration);
            }
        }
        Observation::RoutingCommitted { migration, shard, owner, .. } => {
            checks.push((&CUTOVER_CAUGHT_UP, cutover_caught_up(facts, *migration, *shard, *owner, state)));
            checks.push((&IDENTITY_CHANGE_ABORTS, identity_change_aborts(facts, *migration, moment)));
            checks.push((&WRITE_PAUSE_WITHIN_BUDGET, write_pause_within_budget(facts, *migration, moment.at)));
            checks.push((&PHASE_ORDER, committed_in_cut_over(facts, *migration)));
        }
        _ => {}
    }
}

fn on_started(
    facts: &mut Facts,
    moment: Moment,
    migration: MigrationId,
    shard: ShardId,
    (source, target): (PeerIdentity, PeerIdentity),
    checks: &mut Checks,
) {
    let one_active = one_active_migration_per_shard(facts, shard, migration);
    let (ActorId::Node(source_node), ActorId::Node(target_node)) = (source.actor, target.actor) else {
        checks.push((&ONE_ACTIVE_MIGRATION_PER_SHARD, Err(format!("{migration} between non-nodes"))));
        return;
    };
    let tracked =
        TrackedMigration { shard, source: source_node, target: target_node, target_identity: target, started: moment };
    facts.active.insert(migration, tracked);
    facts.phases.insert(migration, Phase::BaseCopy);
    checks.push((&ONE_ACTIVE_MIGRATION_PER_SHARD, one_active));
    checks.push((&MIGRATION_CAPS, migration_caps(facts)));
}

fn after_step(_facts: &mut Facts, node: NodeId, state: &dyn ClusterState, checks: &mut Checks) {
    checks.push((&ONE_ACTIVE_MIGRATION_PER_SHARD, one_source_per_shard(node, state)));
}

/// A new migration of `shard` while the oracle still sees another one active, across
/// coordinator restarts (the oracle's history does not restart).
pub fn one_active_migration_per_shard(facts: &Facts, shard: ShardId, started: MigrationId) -> Check {
    match facts.active.iter().find(|(_, tracked)| tracked.shard == shard) {
        Some((active, _)) => Err(format!("{started} started on {shard} while {active} is still active")),
        None => Ok(()),
    }
}

/// No two nodes stream the same shard out at once (sealed streams only wait for a fate).
pub fn one_source_per_shard(node: NodeId, state: &dyn ClusterState) -> Check {
    let Some(actor) = state.node(node) else { return Ok(()) };
    let live = |stage: &SourceStage| !matches!(stage, SourceStage::Sealed { .. });
    for (shard, stream) in actor.sources().iter().filter(|(_, stream)| live(stream.stage())) {
        for other in state.node_ids().into_iter().filter(|other| *other != node) {
            let streaming = state
                .node(other)
                .and_then(|peer| peer.sources().get(shard))
                .filter(|peer_stream| live(peer_stream.stage()));
            if let Some(peer_stream) = streaming {
                return Err(format!(
                    "{node} streams {shard} for {} while {other} streams it for {}",
                    stream.migration(),
                    peer_stream.migration()
                ));
            }
        }
    }
    Ok(())
}

/// Active migrations stay within the configured caps, in total and per node.
pub fn migration_caps(facts: &Facts) -> Check {
    let caps = facts.config.caps;
    if facts.active.len() > caps.active_total_max {
        return Err(format!("{} migrations active, cap {}", facts.active.len(), caps.active_total_max));
    }
    let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
    for tracked in facts.active.values() {
        *per_node.entry(tracked.source).or_default() += 1;
        *per_node.entry(tracked.target).or_default() += 1;
    }
    match per_node.into_iter().find(|(_, count)| *count > caps.active_per_node_max) {
        Some((node, count)) => {
            Err(format!("{node} takes part in {count} migrations, cap {}", caps.active_per_node_max))
        }
        None => Ok(()),
    }
}

/// The design's order, written out here rather than borrowed from the core.
fn legal(from: Phase, to: Phase) -> bool {
    use Phase::*;
    matches!(
        (from, to),
        (BaseCopy, CatchUp)
            | (CatchUp, CutOver)
            | (CutOver, Complete)
            | (BaseCopy, Failed)
            | (CatchUp, Failed)
            | (CutOver, Failed)
    )
}

/// Base copy, catch-up, cut-over, complete; or failed from any of them.
pub fn phase_order(facts: &Facts, migration: MigrationId, from: Phase, to: Phase) -> Check {
    let Some(current) = facts.phases.get(&migration) else {
        return Err(format!("{migration} changed phase before it started"));
    };
    if *current != from {
        return Err(format!("{migration} left {from} but was in {current}"));
    }
    if !legal(from, to) {
        return Err(format!("{migration} went from {from} to {to}"));
    }
    Ok(())
}

/// A routing change commits only out of cut-over.
pub fn committed_in_cut_over(facts: &Facts, migration: MigrationId) -> Check {
    match facts.phases.get(&migration) {
        Some(Phase::CutOver) => Ok(()),
        other => Err(format!("{migration} committed while in {other:?}")),
    }
}

/// The target durably holds exactly the log the source sealed: as its disk was when it
/// verified (its last act; a machine replaced after that is the retained copy's business),
/// or at the commit if it never verified.
pub fn cutover_caught_up(
    facts: &Facts,
    migration: MigrationId,
    shard: ShardId,
    target: NodeId,
    state: &dyn ClusterState,
) -> Check {
    let Some((sealed_index, sealed_digest)) = facts.sealed.get(&migration).copied() else {
        return Err(format!("{migration} committed {shard} but no source sealed it"));
    };
    let (held_index, held_digest) = match facts.verified.get(&migration) {
        Some(verification) => verification.durable.clone()?,
        None => {
            let Some(disk) = state.durable_disk(ActorId::Node(target)) else {
                return Err(format!("{migration} committed {shard} to {target}, which has no disk"));
            };
            durable_log(disk, shard)?
        }
    };
    if (held_index, held_digest) != (sealed_index, sealed_digest) {
        return Err(format!(
            "{migration} committed {shard} to {target} holding {held_index} ({held_digest:?}), sealed at {sealed_index} ({sealed_digest:?})"
        ));
    }
    Ok(())
}

/// No migration completes whose target changed identity (a new incarnation or address)
/// after it began. The target's last act is its verification of what it holds; a restart
/// after that loses nothing (what it verified is durable), and no coordinator could see it
/// before deciding. So: the target that verified is the one the migration started with,
/// and it did not boot in between. Without a verification, up to the commit.
pub fn identity_change_aborts(facts: &Facts, migration: MigrationId, now: Moment) -> Check {
    let Some(tracked) = facts.active.get(&migration) else {
        return Err(format!("{migration} committed but was not active"));
    };
    let until = match facts.verified.get(&migration) {
        Some(verification) if verification.identity != tracked.target_identity => {
            let verifier = verification.identity;
            return Err(format!("{migration} committed to {}, but {verifier} verified it", tracked.target_identity));
        }
        Some(verification) => verification.at,
        None => now,
    };
    let boots = facts.boots.get(&tracked.target).map(Vec::as_slice).unwrap_or_default();
    let changed = boots.iter().find(|(booted, identity)| {
        *booted > tracked.started && *booted < until && *identity != tracked.target_identity
    });
    match changed {
        Some((booted, identity)) => Err(format!(
            "{migration} committed to {}, which became {identity} at {} ms after the migration began at {} ms",
            tracked.target_identity,
            booted.at.as_ms(),
            tracked.started.at.as_ms()
        )),
        None => Ok(()),
    }
}

/// From the source's fence to the commit, writes paused no longer than the budget.
pub fn write_pause_within_budget(facts: &Facts, migration: MigrationId, at: Instant) -> Check {
    let Some(fenced_at) = facts.fenced_at.get(&migration) else {
        return Err(format!("{migration} committed without the source fencing"));
    };
    let pause_ms = at.ms_since(*fenced_at);
    let budget_ms = facts.config.write_pause_budget_ms;
    if pause_ms > budget_ms {
        return Err(format!("{migration} paused writes {pause_ms} ms in true time, budget {budget_ms} ms"));
    }
    Ok(())
}
