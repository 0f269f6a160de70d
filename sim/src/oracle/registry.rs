//! The invariant registry: every invariant the oracle checks, typed — its name, its class,
//! the checker family that owns it and the rule it states. Reports, the canary suite, the
//! `shardsim invariants` listing, the README's list (a test compares them) and each
//! family's checks all read these values; no invariant's name is written anywhere else.

use super::facts::{Facts, Moment};
use super::state::ClusterState;
use super::{control, disks, entities, epochs, liveness, migrations, writes, Check, ViolationClass};
use serde::Serialize;
use shardsim_core::canary::Canary;
use shardsim_core::{NodeId, Observation};
use std::fmt::Write as _;

/// The checker that owns an invariant: the module with its checks and the part of the
/// oracle's history they read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Disks,
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

/// The checks one observation or step triggered, each with the invariant it judges.
pub type Checks = Vec<(&'static Invariant, Check)>;

/// One family's checker: the invariants it owns, and what it does with each observation
/// (learn what its checks need, then check) and after each node's step. Declared as
/// `CHECKER` in the family's module.
pub struct Checker {
    pub family: Family,
    pub invariants: &'static [&'static Invariant],
    pub observe: fn(&mut Facts, Moment, &Observation, &dyn ClusterState, &mut Checks),
    pub after_step: fn(&mut Facts, NodeId, &dyn ClusterState, &mut Checks),
}

/// For a checker with nothing to check after a step.
pub fn no_step_checks(_: &mut Facts, _: NodeId, _: &dyn ClusterState, _: &mut Checks) {}

/// Every checker, in the order they see each observation.
pub static CHECKERS: [&Checker; 7] = [
    // First: a node serving a damaged record breaks the other rules too, and this names why.
    &disks::CHECKER,
    &migrations::CHECKER,
    &writes::CHECKER,
    &epochs::CHECKER,
    &control::CHECKER,
    &entities::CHECKER,
    &liveness::CHECKER,
];

/// Every invariant, family by family, in the order reports and docs list them.
pub fn invariants() -> impl Iterator<Item = &'static Invariant> {
    CHECKERS.iter().flat_map(|checker| checker.invariants.iter().copied())
}

pub fn by_name(name: &str) -> Option<&'static Invariant> {
    invariants().find(|invariant| invariant.name == name)
}

pub fn of_class(class: ViolationClass) -> impl Iterator<Item = &'static Invariant> {
    invariants().filter(move |invariant| invariant.class == class)
}

/// The invariant a canary is planted to break.
pub fn broken_by(canary: Canary) -> &'static Invariant {
    match canary {
        Canary::TrackerNotPersisted => &migrations::ONE_ACTIVE_MIGRATION_PER_SHARD,
        Canary::AckBeforeDurable => &writes::NO_LOST_ACKED_WRITE,
        Canary::UnfenceOnTimeout | Canary::StubAcksWrites => &writes::SINGLE_WRITER,
        Canary::CommitWithoutTargetCheck => &migrations::CUTOVER_CAUGHT_UP,
        Canary::IdentityCheckSkipped => &migrations::IDENTITY_CHANGE_ABORTS,
        Canary::EpochNotPersisted => &epochs::EPOCH_MONOTONIC,
        Canary::PhaseShortcut => &migrations::PHASE_ORDER,
        Canary::PauseBudgetIgnored | Canary::PauseOnUncheckedClock => &migrations::WRITE_PAUSE_WITHIN_BUDGET,
        Canary::CapsIgnored => &migrations::MIGRATION_CAPS,
        Canary::DrainingTarget => &control::PLANNER_SOUND,
        Canary::DrainingForgotten => &control::TARGETS_ACCEPTING_MEMBERS,
        Canary::ElectionGateSkipped | Canary::BackpressureIgnored => &control::REBALANCE_GATES_RESPECTED,
        Canary::StaleEpochAcked => &writes::ACKED_AT_NAMED_EPOCH,
        Canary::PlannerOvershoot | Canary::LeastShardOvershoot => &control::PLANNER_SOUND,
        Canary::SealBeforeHandoff => &entities::ENTITY_SINGLE_HOME,
        Canary::EntityStateNotReplayed => &entities::ENTITY_STATE_CONTINUOUS,
        Canary::EmptyNodesIgnored => &liveness::CONVERGENCE,
        Canary::ChecksumsIgnored => &disks::NO_SILENT_CORRUPTION,
        Canary::AckAfterFailedFsync | Canary::BootAroundReadError => &writes::NO_LOST_ACKED_WRITE,
    }
}

/// The list `shardsim invariants` prints and the README carries, one line each.
pub fn render_list() -> String {
    let mut text = String::new();
    for invariant in invariants() {
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
        let all: Vec<&Invariant> = invariants().collect();
        for (position, invariant) in all.iter().enumerate() {
            assert_eq!(by_name(invariant.name), Some(*invariant));
            assert!(all[..position].iter().all(|earlier| earlier.name != invariant.name), "{}", invariant.name);
            let owner = CHECKERS.iter().find(|checker| checker.invariants.contains(invariant)).expect("owned");
            assert_eq!(owner.family, invariant.family, "{} is owned by its family's checker", invariant.name);
        }
        assert_eq!(by_name("no_such_invariant"), None);
    }

    #[test]
    fn every_canary_breaks_a_registered_invariant_and_every_safety_one_has_a_canary() {
        for canary in Canary::ALL {
            assert!(invariants().any(|invariant| invariant == broken_by(canary)), "{canary}");
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
