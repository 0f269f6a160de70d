//! Disks that fail as real ones do: nothing a node reads back from its disk and serves may
//! differ from what it wrote. The nemesis notes every record it damaged (tore or flipped), with the
//! bytes the record was meant to hold; at the node's next boot, whatever it holds at that
//! place must be exactly that record, or nothing.

use super::facts::{Facts, Moment};
use super::registry::{no_step_checks, Checker, Checks, Family, Invariant};
use super::state::ClusterState;
use super::Check;
use bytes::Bytes;
use shardsim_core::log::LogEntry;
use shardsim_core::storage::{decode_record, StorageKey};
use shardsim_core::wire::ShardRole;
use shardsim_core::{NodeId, Observation};

pub const NO_SILENT_CORRUPTION: Invariant = Invariant::safety(
    "no_silent_corruption",
    Family::Disks,
    "A node never serves a record its disk damaged (a write torn by a crash, a bit flipped at rest): after its next boot it holds exactly what it wrote there, or nothing.",
);

pub const CHECKER: Checker =
    Checker { family: Family::Disks, invariants: &[&NO_SILENT_CORRUPTION], observe, after_step: no_step_checks };

fn observe(facts: &mut Facts, _: Moment, observation: &Observation, state: &dyn ClusterState, checks: &mut Checks) {
    if let Observation::NodeBooted { node, .. } = observation {
        // Judged once, on the log as read back: later entries at those places are new writes.
        let damaged = facts.damaged_records.remove(node).unwrap_or_default();
        checks.push((&NO_SILENT_CORRUPTION, no_silent_corruption(*node, &damaged, state)));
    }
}

/// Every damaged record of `node` is either gone from its log or exactly what was meant.
pub fn no_silent_corruption(node: NodeId, damaged: &[(StorageKey, Bytes)], state: &dyn ClusterState) -> Check {
    let Some(actor) = state.node(node) else { return Ok(()) };
    for (key, meant) in damaged {
        if let StorageKey::ShardMeta(shard) = *key {
            let meant: ShardRole = decode_record(*key, meant).expect("the nemesis keeps what was meant, whole");
            match actor.shard(shard) {
                Some(held) if held.role != meant => {
                    return Err(format!(
                        "{node} holds {shard} as {:?}; its disk damaged that record, written as {meant:?}",
                        held.role
                    ))
                }
                _ => continue,
            }
        }
        let StorageKey::LogEntry(shard, index) = *key else { continue };
        let Some(held) = actor.shard(shard).and_then(|held| held.log.range(index, index).first()) else { continue };
        let meant: LogEntry = decode_record(*key, meant).expect("the nemesis keeps what was meant, whole");
        if *held != meant {
            return Err(format!(
                "{node} serves {shard} {index} as {} {:?} {:?}; its disk damaged that record, written as {} {:?} {:?}",
                held.write_id, held.entity, held.payload, meant.write_id, meant.entity, meant.payload
            ));
        }
    }
    Ok(())
}
