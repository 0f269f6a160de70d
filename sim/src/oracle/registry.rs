//! The invariant registry: every invariant the oracle checks, typed — its name, its class,
//! the checker family that owns it and the rule it states. Reports, the canary suite, the
//! `shardsim invariants` listing, the README's list (a test compares them) and each
//! family's checks all read these values; no invariant's name is written anywhere else.

use super::{control, entities, liveness, migrations, state, writes, ViolationClass};
use serde::Serialize;
use shardsim_core::canary::Canary;
use std::fmt::Write as _;

/// The checker that owns an invariant: the module with its checks and the part of the
/// oracle's history they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Writes,
    Migrations,
    Epochs,
    Control,
    Entities,
    Liveness,
}

#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct Invariant {
    pub name: &'static str,
    pub class: ViolationClass,
    pub family: Family,
    /// What it demands, in one sentence.
    pub rule: &'static str,
}

impl Invariant {
    pub const fn safety(name: &'static str, family: Family, rule: &'static str) -> Invariant {
        Invariant { name, class: ViolationClass::Safety, family, rule }
    }

    pub const fn liveness(name: &'static str, rule: &'static str) -> Invariant {
        Invariant { name, class: ViolationClass::Liveness, family: Family::Liveness, rule }
    }
}

/// Every invariant, safety first, in the order reports and docs list them.
pub static INVARIANTS: [&Invariant; 17] = [
    &migrations::ONE_ACTIVE_MIGRATION_PER_SHARD,
    &writes::SINGLE_WRITER,
    &writes::NO_LOST_ACKED_WRITE,
    &state::EPOCH_MONOTONIC,
    &migrations::CUTOVER_CAUGHT_UP,
    &migrations::IDENTITY_CHANGE_ABORTS,
    &migrations::PHASE_ORDER,
    &migrations::MIGRATION_CAPS,
    &migrations::WRITE_PAUSE_WITHIN_BUDGET,
    &control::TARGETS_ACCEPTING_MEMBERS,
    &control::REBALANCE_GATES_RESPECTED,
    &writes::ACKED_AT_NAMED_EPOCH,
    &control::PLANNER_SOUND,
    &entities::ENTITY_SINGLE_HOME,
    &entities::ENTITY_STATE_CONTINUOUS,
    &liveness::CONVERGENCE,
    &liveness::NO_THRASHING,
];

pub fn by_name(name: &str) -> Option<&'static Invariant> {
    INVARIANTS.iter().copied().find(|invariant| invariant.name == name)
}

pub fn of_class(class: ViolationClass) -> impl Iterator<Item = &'static Invariant> {
    INVARIANTS.iter().copied().filter(move |invariant| invariant.class == class)
}

/// The invariant a canary is planted to break.
pub fn broken_by(canary: Canary) -> &'static Invariant {
    match canary {
        Canary::TrackerNotPersisted => &migrations::ONE_ACTIVE_MIGRATION_PER_SHARD,
        Canary::AckBeforeDurable => &writes::NO_LOST_ACKED_WRITE,
        Canary::UnfenceOnTimeout | Canary::StubAcksWrites => &writes::SINGLE_WRITER,
        Canary::CommitWithoutTargetCheck => &migrations::CUTOVER_CAUGHT_UP,
        Canary::IdentityCheckSkipped => &migrations::IDENTITY_CHANGE_ABORTS,
        Canary::EpochNotPersisted => &state::EPOCH_MONOTONIC,
        Canary::PhaseShortcut => &migrations::PHASE_ORDER,
        Canary::PauseBudgetIgnored => &migrations::WRITE_PAUSE_WITHIN_BUDGET,
        Canary::CapsIgnored => &migrations::MIGRATION_CAPS,
        Canary::DrainingTarget => &control::PLANNER_SOUND,
        Canary::DrainingForgotten => &control::TARGETS_ACCEPTING_MEMBERS,
        Canary::ElectionGateSkipped | Canary::BackpressureIgnored => &control::REBALANCE_GATES_RESPECTED,
        Canary::StaleEpochAcked => &writes::ACKED_AT_NAMED_EPOCH,
        Canary::PlannerOvershoot | Canary::LeastShardOvershoot => &control::PLANNER_SOUND,
        Canary::SealBeforeHandoff => &entities::ENTITY_SINGLE_HOME,
        Canary::EntityStateNotReplayed => &entities::ENTITY_STATE_CONTINUOUS,
        Canary::EmptyNodesIgnored => &liveness::CONVERGENCE,
    }
}

/// The list `shardsim invariants` prints and the README carries, one line each.
pub fn render_list() -> String {
    let mut text = String::new();
    for invariant in INVARIANTS {
        let class = match invariant.class {
            ViolationClass::Safety => "safety",
            ViolationClass::Liveness => "liveness",
        };
        let _ = writeln!(text, "- `{}` ({class}, {:?}): {}", invariant.name, invariant.family, invariant.rule);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found_by_name() {
        for (position, invariant) in INVARIANTS.iter().enumerate() {
            assert_eq!(by_name(invariant.name), Some(*invariant));
            assert!(INVARIANTS[..position].iter().all(|earlier| earlier.name != invariant.name), "{}", invariant.name);
        }
        assert_eq!(by_name("no_such_invariant"), None);
    }

    #[test]
    fn every_canary_breaks_a_registered_invariant_and_every_safety_one_has_a_canary() {
        for canary in Canary::ALL {
            assert!(INVARIANTS.contains(&broken_by(canary)), "{canary}");
        }
        for invariant in of_class(ViolationClass::Safety) {
            assert!(
                Canary::ALL.iter().any(|canary| broken_by(*canary) == invariant),
                "{} has no canary",
                invariant.name
            );
        }
    }
}
