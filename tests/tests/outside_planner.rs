//! A planner written outside `core/` plugs into the coordinator through the `Planner`
//! trait; the harness runs it and the oracle judges it like the built-in ones.

#[path = "../../sim/examples/outside_planner/planner.rs"]
mod planner;

use planner::FewestShardsFirst;
use shardsim::core::config::PlannerKind;
use shardsim::oracle::invariants::PLANNER_SOUND;
use shardsim::scenario::{Scenario, ScenarioName};
use shardsim::Simulation;
use std::sync::Arc;

fn chaos_with(planner: FewestShardsFirst, seed: u64) -> shardsim::Report {
    let mut scenario = Scenario::named(ScenarioName::Chaos);
    scenario.protocol.planner = PlannerKind::LeastShard;
    Simulation::new(seed).custom_scenario(scenario).expect("valid knobs").planner(Arc::new(planner)).run()
}

#[test]
fn an_outside_planner_runs_under_the_harness_and_passes() {
    let mut plans = 0;
    for seed in 0..10 {
        let report = chaos_with(FewestShardsFirst { sloppy: false }, seed);
        assert!(report.verdict.is_pass(), "{}", report.render());
        plans += report.summary.coverage.get(&format!("plan_{}", planner::NAME)).copied().unwrap_or(0);
    }
    assert!(plans > 0, "the coordinator asked the outside planner for moves");
}

#[test]
fn an_outside_planner_that_ignores_the_caps_is_caught() {
    let caught = (0..30)
        .map(|seed| chaos_with(FewestShardsFirst { sloppy: true }, seed))
        .find(|report| !report.verdict.is_pass());
    let report = caught.expect("the oracle catches a planner that ignores the caps within 30 seeds");
    assert!(report.verdict.label().contains(PLANNER_SOUND.name), "{}", report.render());
}
