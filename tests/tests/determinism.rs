//! The same seed gives the same run, bit for bit; another seed gives another run.

use shardsim::scenario::ScenarioName;
use shardsim::Simulation;

#[test]
fn the_same_seed_gives_the_same_trace_twice() {
    for (seed, scenario) in [(7, ScenarioName::Chaos), (42, ScenarioName::Swarm), (3, ScenarioName::Identity)] {
        let simulation = Simulation::new(seed).scenario(scenario).keep_trace(true);
        let first = simulation.run_outcome();
        let second = simulation.run_outcome();
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed} {scenario}: trace hashes differ");
        assert_eq!(first.trace_lines, second.trace_lines, "seed {seed} {scenario}: traces differ");
        assert!(first.trace_lines.as_ref().is_some_and(|lines| lines.len() > 1_000), "a real run leaves a long trace");
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let one = Simulation::new(1).scenario(ScenarioName::Chaos).run_outcome();
    let two = Simulation::new(2).scenario(ScenarioName::Chaos).run_outcome();
    assert_ne!(one.trace_hash, two.trace_hash);
}

#[test]
fn a_saved_plan_replays_to_the_same_run() {
    let drawn = Simulation::new(11).scenario(ScenarioName::Chaos);
    let plan = drawn.fault_plan();
    assert!(!plan.events.is_empty(), "chaos draws faults");
    let replayed = Simulation::new(11).scenario(ScenarioName::Chaos).plan(plan, None);
    assert_eq!(drawn.run_outcome().trace_hash, replayed.run_outcome().trace_hash);
}
