//! Live entities: one home at a time, and a state that reflects every write acked to
//! the entity before it started.

use super::facts::{Facts, Moment};
use super::registry::{no_step_checks, Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use shardsim_core::node::EntityState;
use shardsim_core::{EntityKey, LogIndex, NodeId, Observation, ShardId};

pub const ENTITY_SINGLE_HOME: Invariant =
    Invariant::safety("entity_single_home", Family::Entities, "An entity lives on one node at a time.");
pub const ENTITY_STATE_CONTINUOUS: Invariant = Invariant::safety(
    "entity_state_continuous",
    Family::Entities,
    "An entity starts reflecting every write acked to it so far.",
);

pub const CHECKER: Checker = Checker {
    family: Family::Entities,
    invariants: &[&ENTITY_SINGLE_HOME, &ENTITY_STATE_CONTINUOUS],
    observe,
    after_step: no_step_checks,
};

fn observe(
    facts: &mut Facts,
    _moment: Moment,
    observation: &Observation,
    state: &dyn ClusterState,
    checks: &mut Checks,
) {
    if let Observation::EntityStarted { node, shard, entity, state: started } = observation {
        checks.push((&ENTITY_SINGLE_HOME, entity_single_home(*node, *shard, *entity, state)));
        checks.push((&ENTITY_STATE_CONTINUOUS, entity_state_continuous(facts, *node, *shard, *entity, *started)));
    }
}

/// What the oracle saw acked to one entity: how many distinct writes, the highest index.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntityAcks {
    pub writes: u64,
    pub last_index: LogIndex,
}

/// An entity that just started on `node` lives on no other node that is up (a node that
/// crashed lost its entities with its memory).
pub fn entity_single_home(node: NodeId, shard: ShardId, entity: EntityKey, state: &dyn ClusterState) -> Check {
    for other in state.node_ids().into_iter().filter(|other| *other != node) {
        let live = state.node(other).and_then(|peer| peer.shard(shard)).and_then(|held| held.entities.get(&entity));
        if let Some(there) = live {
            return Err(format!(
                "{entity} of {shard} started on {node} while it lives on {other} (applied {} through {})",
                there.applied, there.last_index
            ));
        }
    }
    Ok(())
}

/// An entity starts reflecting every write acked to it so far: at least as many writes,
/// through at least the last acked index.
pub fn entity_state_continuous(
    facts: &Facts,
    node: NodeId,
    shard: ShardId,
    entity: EntityKey,
    started: EntityState,
) -> Check {
    let acked = facts.entity_acks.get(&(shard, entity)).copied().unwrap_or_default();
    if started.applied < acked.writes || started.last_index < acked.last_index {
        return Err(format!(
            "{entity} of {shard} started on {node} having applied {} writes through {}, but {} were acked to it through {}",
            started.applied, started.last_index, acked.writes, acked.last_index
        ));
    }
    Ok(())
}
