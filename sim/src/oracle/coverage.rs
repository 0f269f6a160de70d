//! Coverage ("sometimes", in stateright's terms): named events a sweep must reach at
//! least once. A green sweep that never completed a migration under a crash, or never
//! aborted one for a pause overrun, has not tested those paths; the report says so.

use crate::faults::FaultKind;
use shardsim_core::node::EntityStop;
use shardsim_core::phase::{AbortReason, Phase};
use shardsim_core::{MigrationId, Observation};
use std::collections::{BTreeMap, BTreeSet};

const EVENTS: [&str; 16] = [
    "migration_completed",
    "shard_rehomed",
    "shard_refused",
    "shard_recreated",
    "log_tail_truncated",
    "fate_answered",
    "decommission_completed",
    "plan_drain",
    "plan_load_based",
    "plan_least_shard",
    "entity_handed_off",
    "entity_passivated",
    "entity_restored_from_log",
    "gate_skipped_unstable",
    "gate_skipped_backpressure",
    "incoming_discarded",
];

/// Every event a sweep should reach: the fixed ones, a completion under each fault kind
/// the protocol can complete under, an abort for each reason a correct cluster can have.
/// Two the design rules out stood unreached in 40,000 swarm and chaos seeds, and a line
/// that is never empty teaches a reader to skip it:
/// - a completion under a coordinator crash: the coordinator commits a cut-over's route
///   and marks the migration complete in one fsync, and the one that restarts aborts
///   whatever it finds in flight uncommitted (`aborted_coordinator_recovered` is that
///   fault's goal); none starts while the coordinator is down;
/// - an abort for a seal mismatch: the source seals only at an index the target acked,
///   and the target reports the log it holds; every way this fault model has to lose the
///   target's entries restarts it, and its new incarnation aborts the migration first.
///   The comparison stays in the core as a guard against a bug, not a path to cover.
pub fn goals() -> Vec<String> {
    let mut goals: Vec<String> = EVENTS.iter().map(|event| event.to_string()).collect();
    let completable = FaultKind::ALL.iter().filter(|kind| **kind != FaultKind::CrashCoordinator);
    goals.extend(completable.map(|kind| completed_under(kind.name())));
    let reachable = AbortReason::ALL.iter().filter(|reason| **reason != AbortReason::SealMismatch);
    goals.extend(reachable.map(|reason| aborted(*reason)));
    goals
}

fn completed_under(kind: &str) -> String {
    format!("migration_completed_under_{kind}")
}

fn aborted(reason: AbortReason) -> String {
    format!("aborted_{}", reason.name())
}

#[derive(Clone, Debug, Default)]
pub struct Coverage {
    counts: BTreeMap<String, u64>,
    /// Fault kinds each active migration lived through.
    exposed: BTreeMap<MigrationId, BTreeSet<&'static str>>,
    /// Lasting faults in force now, by kind.
    in_force: BTreeMap<&'static str, u32>,
}

impl Coverage {
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    fn reach(&mut self, event: String) {
        *self.counts.entry(event).or_default() += 1;
    }

    /// A fault began: every migration in flight lives through it. `lasting` ones stay in
    /// force until [`Coverage::fault_ended`].
    pub fn fault_started(&mut self, kind: FaultKind, lasting: bool) {
        for kinds in self.exposed.values_mut() {
            kinds.insert(kind.name());
        }
        if lasting {
            *self.in_force.entry(kind.name()).or_default() += 1;
        }
    }

    pub fn fault_ended(&mut self, kind: FaultKind) {
        if let Some(count) = self.in_force.get_mut(kind.name()) {
            *count -= 1;
            if *count == 0 {
                self.in_force.remove(kind.name());
            }
        }
    }

    pub fn observe(&mut self, observation: &Observation) {
        use Observation::*;
        match observation {
            MigrationStarted { migration, .. } => {
                self.exposed.insert(*migration, self.in_force.keys().copied().collect());
            }
            MigrationPhase { migration, to, .. } if to.is_terminal() => {
                let kinds = self.exposed.remove(migration).unwrap_or_default();
                if *to == Phase::Complete {
                    self.reach("migration_completed".to_string());
                    for kind in kinds {
                        self.reach(completed_under(kind));
                    }
                }
            }
            MigrationAborted { reason, .. } => self.reach(aborted(*reason)),
            ShardRehomed { .. } => self.reach("shard_rehomed".to_string()),
            ShardRecreated { .. } => self.reach("shard_recreated".to_string()),
            ShardRefused { .. } => self.reach("shard_refused".to_string()),
            LogTailTruncated { .. } => self.reach("log_tail_truncated".to_string()),
            RefusedShardDropped { .. } => self.reach("refused_copy_dropped".to_string()),
            FateAnswered { .. } => self.reach("fate_answered".to_string()),
            MemberChanged { status, .. } if status == "decommissioned" => {
                self.reach("decommission_completed".to_string())
            }
            PlanDispatched { source, .. } => self.reach(format!("plan_{}", source.name())),
            EntityStopped { reason: EntityStop::HandedOff, .. } => self.reach("entity_handed_off".to_string()),
            EntityStopped { reason: EntityStop::Passivated, .. } => self.reach("entity_passivated".to_string()),
            EntityStarted { state, .. } if state.applied > 0 => self.reach("entity_restored_from_log".to_string()),
            RebalanceSkipped { reason } if reason.contains("CPU") => {
                self.reach("gate_skipped_backpressure".to_string())
            }
            RebalanceSkipped { .. } => self.reach("gate_skipped_unstable".to_string()),
            IncomingDiscarded { .. } => self.reach("incoming_discarded".to_string()),
            _ => {}
        }
    }
}
