//! Every planted bug is caught by a sweep, with a safety or liveness verdict, and the
//! canaries together make every safety invariant of the design fire.

use shardsim::core::canary::Canary;
use shardsim::oracle::registry::{self, broken_by};
use shardsim::oracle::ViolationClass;
use shardsim::report::exit_code;
use shardsim::scenario::ScenarioName;
use shardsim::Simulation;
use shardsim_tests::run_seeds;
use std::collections::BTreeSet;

/// The bound the issue sets: `sweep --seeds 0..500 --fail-fast --canary NAME` must fail.
const SEEDS_MAX: u64 = 500;
const CHUNK: u64 = 40;

/// Where each canary is hunted: the default scenario, for all of them (the clock canary
/// needed `clocks` until the targeted `cut_over_clock_step` nemesis).
fn scenario_for(_canary: Canary) -> ScenarioName {
    ScenarioName::DEFAULT
}

#[test]
fn every_canary_is_caught_and_its_reproduce_command_fails_the_same_way() {
    for canary in Canary::ALL {
        let mut caught = None;
        let mut start = 0;
        while caught.is_none() && start < SEEDS_MAX {
            let report = run_seeds(scenario_for(canary), start..start + CHUNK, &[canary], true);
            caught = report.failures.into_iter().min_by_key(|failure| failure.seed);
            start += CHUNK;
        }
        let failure = caught.unwrap_or_else(|| panic!("canary {canary} survived seeds 0..{SEEDS_MAX}"));
        assert!(
            [exit_code::SAFETY, exit_code::LIVENESS].contains(&failure.exit_code),
            "canary {canary} ended with exit {} ({})",
            failure.exit_code,
            failure.message
        );
        assert_eq!(
            failure.reproduce,
            format!("shardsim run --seed {} --scenario {} --canary {canary}", failure.seed, scenario_for(canary))
        );
        let again = Simulation::new(failure.seed).scenario(scenario_for(canary)).canary(canary).run();
        assert_eq!(again.verdict.label(), failure.invariant, "the reproduce run of {canary} failed differently");
    }
}

#[test]
fn the_canaries_together_make_every_safety_invariant_fire() {
    let mut fired = BTreeSet::new();
    for canary in Canary::ALL {
        let mut start = 0;
        let expected = broken_by(canary).name;
        while !fired.contains(expected) && start < SEEDS_MAX {
            let report = run_seeds(scenario_for(canary), start..start + CHUNK, &[canary], false);
            fired.extend(report.failures.into_iter().map(|failure| failure.invariant));
            start += CHUNK;
        }
        assert!(fired.contains(expected), "{canary} never broke {expected}");
    }
    for invariant in registry::of_class(ViolationClass::Safety).map(|invariant| invariant.name) {
        assert!(fired.contains(invariant), "no canary made {invariant} fire; fired: {fired:?}");
    }
}
