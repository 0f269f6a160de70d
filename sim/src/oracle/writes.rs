//! Invariants about client writes: a single writer per shard and epoch, and no acked
//! write lost, duplicated or reordered.

use super::facts::{AckedWrite, Facts, Moment};
use super::registry::{no_step_checks, Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use shardsim_core::log::ShardLog;
use shardsim_core::wire::ShardRole;
use shardsim_core::{Epoch, Instant, LogIndex, NodeId, Observation, ShardId, WriteId};
use std::collections::hash_map::Entry;

pub const SINGLE_WRITER: Invariant = Invariant::safety("single_writer", Family::Writes, "Every ack at epoch e comes from the owner committed at e, one node acks a (shard, epoch), and no one acks at a superseded epoch.");
pub const NO_LOST_ACKED_WRITE: Invariant = Invariant::safety("no_lost_acked_write", Family::Writes, "No acked write is lost, duplicated or reordered: after a boot, at a new owner and at the end it is in the log once, at the index it was acked with.");
pub const ACKED_AT_NAMED_EPOCH: Invariant = Invariant::safety(
    "acked_at_named_epoch",
    Family::Writes,
    "A write is acked only at exactly the epoch the client named.",
);

pub const CHECKER: Checker = Checker {
    family: Family::Writes,
    invariants: &[&SINGLE_WRITER, &NO_LOST_ACKED_WRITE, &ACKED_AT_NAMED_EPOCH],
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
        Observation::NodeBooted { node, .. } => {
            checks.push((&NO_LOST_ACKED_WRITE, node_holds_its_acked_writes(facts, *node, state)));
            facts.acks_since_boot.remove(node);
        }
        Observation::WriteAcked { .. } => on_write_acked(facts, moment.at, observation, checks),
        Observation::OwnershipTaken { node, shard, epoch, .. } => {
            checks.push((&NO_LOST_ACKED_WRITE, new_owner_holds_acked_writes(facts, *node, *shard, *epoch, state)))
        }
        _ => {}
    }
}

fn on_write_acked(facts: &mut Facts, at: Instant, observation: &Observation, checks: &mut Checks) {
    let Observation::WriteAcked { node, shard, epoch, named_epoch, write_id, index, entity } = *observation else {
        unreachable!("called for write acks only")
    };
    // One lookup each where the check reads what the ack then records.
    let first = *facts.first_acker.entry((shard, epoch)).or_insert(node);
    checks.push((&SINGLE_WRITER, single_writer(facts, first, node, shard, epoch)));
    checks.push((&ACKED_AT_NAMED_EPOCH, acked_at_named_epoch(node, shard, write_id, epoch, named_epoch)));
    facts.acks_since_boot.entry(node).or_default().push((shard, write_id));
    let acked = AckedWrite { index, epoch, node };
    match facts.acked.entry(shard).or_default().entry(write_id) {
        Entry::Occupied(mut earlier) => {
            checks.push((&NO_LOST_ACKED_WRITE, ack_consistent(shard, write_id, earlier.get().index, index)));
            earlier.insert(acked);
        }
        Entry::Vacant(vacant) => {
            vacant.insert(acked);
            facts.counters.writes_acked += 1;
            let entity_acks = facts.entity_acks.entry((shard, entity)).or_default();
            entity_acks.writes += 1;
            entity_acks.last_index = entity_acks.last_index.max(index);
        }
    }
    facts.last_ack_at.insert(shard, at);
}

/// A write is acked only by the owner at exactly the epoch the client named.
pub fn acked_at_named_epoch(
    node: NodeId,
    shard: ShardId,
    write_id: WriteId,
    epoch: Epoch,
    named_epoch: Epoch,
) -> Check {
    if epoch != named_epoch {
        return Err(format!("{node} acked {write_id} to {shard} at {epoch}; the client named {named_epoch}"));
    }
    Ok(())
}

/// Every ack at epoch e comes from the owner committed at e, only one node acks a
/// (shard, epoch) (`first` acked it first), and no one acks at an epoch already superseded.
pub fn single_writer(facts: &Facts, first: NodeId, node: NodeId, shard: ShardId, epoch: Epoch) -> Check {
    if first != node {
        return Err(format!("{first} and {node} both acked writes to {shard} at {epoch}"));
    }
    match facts.owner_at.get(&(shard, epoch)) {
        None => return Err(format!("{node} acked {shard} at {epoch}, which was never committed")),
        Some(owner) if *owner != node => return Err(format!("{node} acked {shard} at {epoch}, owned by {owner}")),
        Some(_) => {}
    }
    match facts.committed_epoch.get(&shard) {
        Some(committed) if *committed > epoch => {
            Err(format!("{node} acked {shard} at {epoch} after {committed} was committed"))
        }
        _ => Ok(()),
    }
}

/// A write acked twice names the same index both times (`earlier` the first time).
pub fn ack_consistent(shard: ShardId, write_id: WriteId, earlier: LogIndex, index: LogIndex) -> Check {
    if earlier != index {
        return Err(format!("{write_id} on {shard} acked at {earlier} and again at {index}"));
    }
    Ok(())
}

/// The log holds no write twice.
fn log_holds_each_write_once(holder: NodeId, shard: ShardId, log: &ShardLog) -> Check {
    if log.distinct_writes() != log.entries().len() {
        return Err(format!("{holder}'s log of {shard} holds a write twice"));
    }
    Ok(())
}

/// The acked write sits in the log at the index it was acked with.
fn log_holds_at_its_index(
    holder: NodeId,
    shard: ShardId,
    log: &ShardLog,
    write_id: WriteId,
    ack: &AckedWrite,
) -> Check {
    let held = log.entries().get((ack.index.0 as usize).wrapping_sub(1)).map(|entry| entry.write_id);
    if held != Some(write_id) {
        return Err(format!(
            "{write_id} acked by {} at {} index {} is missing from {holder}'s log of {shard} (last index {})",
            ack.node,
            ack.epoch,
            ack.index,
            log.last_index()
        ));
    }
    Ok(())
}

/// Every write acked on `shard` at an epoch up to `epoch` is in `log`, once, at its index.
fn log_holds_acked(facts: &Facts, holder: NodeId, shard: ShardId, epoch: Epoch, log: &ShardLog) -> Check {
    log_holds_each_write_once(holder, shard, log)?;
    let Some(acked) = facts.acked.get(&shard) else { return Ok(()) };
    // The table walks in hash order: report the lowest write id that fails.
    let missing = acked
        .iter()
        .filter(|(_, ack)| ack.epoch <= epoch)
        .filter(|(write_id, ack)| log_holds_at_its_index(holder, shard, log, **write_id, ack).is_err())
        .min_by_key(|(write_id, _)| **write_id);
    match missing {
        Some((write_id, ack)) => log_holds_at_its_index(holder, shard, log, *write_id, ack),
        None => Ok(()),
    }
}

/// After a boot: every write the node acked since its previous boot is still in its log
/// (once, at its index) for each shard it still owns. Writes it acked before that were
/// durable in the log it booted from last time, and a durable log only shrinks when the
/// node gives the shard up; so the check grows with the acks of one life, not with history.
pub fn node_holds_its_acked_writes(facts: &Facts, node: NodeId, state: &dyn ClusterState) -> Check {
    let Some(actor) = state.node(node) else { return Ok(()) };
    let owned: std::collections::BTreeMap<ShardId, Epoch> = Facts::owned_by(state, node).into_iter().collect();
    for (shard, write_id) in facts.acks_since_boot.get(&node).map(Vec::as_slice).unwrap_or_default() {
        let (Some(epoch), Some(ack)) = (owned.get(shard), facts.acked.get(shard).and_then(|acked| acked.get(write_id)))
        else {
            continue;
        };
        if ack.epoch > *epoch {
            continue;
        }
        let log = &actor.shard(*shard).expect("owned shard exists").log;
        log_holds_at_its_index(node, *shard, log, *write_id, ack)
            .map_err(|reason| format!("after a restart: {reason}"))?;
    }
    for shard in owned.keys() {
        log_holds_each_write_once(node, *shard, &actor.shard(*shard).expect("owned shard exists").log)?;
    }
    Ok(())
}

/// A target taking ownership at `epoch` holds every write acked before it.
pub fn new_owner_holds_acked_writes(
    facts: &Facts,
    node: NodeId,
    shard: ShardId,
    epoch: Epoch,
    state: &dyn ClusterState,
) -> Check {
    let Some(held) = state.node(node).and_then(|actor| actor.shard(shard)) else { return Ok(()) };
    log_holds_acked(facts, node, shard, Epoch(epoch.0.saturating_sub(1)), &held.log)
}

/// At the end: each shard's routed owner holds every write ever acked to the shard.
pub fn all_acked_writes_on_owners(facts: &Facts, state: &dyn ClusterState) -> Check {
    let Some(coordinator) = state.coordinator() else { return Err("the coordinator is down at the end".to_string()) };
    for (shard, route) in coordinator.routing().iter() {
        let Some(held) = state.node(route.owner).and_then(|actor| actor.shard(shard)) else {
            if facts.acked.get(&shard).is_some_and(|acked| !acked.is_empty()) {
                return Err(format!("{shard}'s owner {} does not hold it at the end", route.owner));
            }
            continue;
        };
        if held.role != (ShardRole::Owned { epoch: route.epoch }) {
            return Err(format!(
                "{shard}'s owner {} holds it as {:?}, routed at {}",
                route.owner, held.role, route.epoch
            ));
        }
        log_holds_acked(facts, route.owner, shard, route.epoch, &held.log)?;
    }
    Ok(())
}
