//! The epochs checker: no epoch ever goes back, on a node or in the routing table. It
//! learns which owner each (shard, epoch) committed to, for the writes checker.

use super::facts::{Facts, Moment};
use super::registry::{Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use shardsim_core::{Epoch, NodeId, Observation, ShardId};

pub const EPOCH_MONOTONIC: Invariant = Invariant::safety(
    "epoch_monotonic",
    Family::Epochs,
    "No node's epoch of a shard and no routed epoch ever goes back, restarts included.",
);

pub const CHECKER: Checker = Checker { family: Family::Epochs, invariants: &[&EPOCH_MONOTONIC], observe, after_step };

fn observe(
    facts: &mut Facts,
    _moment: Moment,
    observation: &Observation,
    state: &dyn ClusterState,
    checks: &mut Checks,
) {
    match observation {
        Observation::NodeBooted { node, .. } => checks.push((&EPOCH_MONOTONIC, check_node_epochs(facts, *node, state))),
        Observation::ShardAllocated { shard, owner, epoch }
        | Observation::ShardRehomed { shard, owner, epoch, .. }
        | Observation::ShardRecreated { shard, owner, epoch, .. }
        | Observation::RoutingCommitted { shard, owner, epoch, .. } => {
            committed(facts, *shard, *owner, *epoch);
            checks.push((&EPOCH_MONOTONIC, check_route_epochs(facts, state)));
        }
        Observation::CoordinatorBooted { .. } => checks.push((&EPOCH_MONOTONIC, check_route_epochs(facts, state))),
        _ => {}
    }
}

fn after_step(facts: &mut Facts, node: NodeId, state: &dyn ClusterState, checks: &mut Checks) {
    checks.push((&EPOCH_MONOTONIC, check_node_epochs(facts, node, state)));
}

/// The routing committed `shard` to `owner` at `epoch`.
fn committed(facts: &mut Facts, shard: ShardId, owner: NodeId, epoch: Epoch) {
    facts.owner_at.insert((shard, epoch), owner);
    let committed = facts.committed_epoch.entry(shard).or_default();
    *committed = (*committed).max(epoch);
}

/// `epoch_monotonic` for one node: no shard's epoch goes back, restarts included.
pub fn check_node_epochs(facts: &mut Facts, node: NodeId, state: &dyn ClusterState) -> Check {
    let Some(actor) = state.node(node) else { return Ok(()) };
    let seen_by_shard = facts.node_epochs.entry(node).or_default();
    for (shard, held) in actor.shards() {
        let epoch = held.role.epoch();
        let index = shard.0 as usize;
        if index >= seen_by_shard.len() {
            seen_by_shard.resize(index + 1, Epoch::default());
        }
        let seen = &mut seen_by_shard[index];
        if epoch < *seen {
            return Err(format!("{node} holds {shard} at {epoch} ({:?}) after having seen {seen}", held.role));
        }
        *seen = epoch;
    }
    Ok(())
}

/// `epoch_monotonic` for the coordinator's routing table, restarts included.
pub fn check_route_epochs(facts: &mut Facts, state: &dyn ClusterState) -> Check {
    let Some(coordinator) = state.coordinator() else { return Ok(()) };
    for (shard, route) in coordinator.routing().iter() {
        let seen = facts.route_epochs.entry(shard).or_default();
        if route.epoch < *seen {
            return Err(format!("the coordinator routes {shard} at {} after having routed it at {seen}", route.epoch));
        }
        *seen = route.epoch;
    }
    Ok(())
}
