//! A rebalance planner written outside `core/`, run under the harness.
//!
//! `FewestShardsFirst` moves one shard at a time from the node with the most shards to the
//! node with the fewest, while they differ by more than one. The harness runs it as the
//! coordinator's planner over seeded chaos runs; the oracle holds it to the contract every
//! planner shares and the run to convergence (judged by shard counts, the least-shard
//! measure). With `--sloppy` it forgets the migration caps and moves all it would like at
//! once, and the oracle says so.
//!
//! ```sh
//! cargo run --release -p shardsim --example outside_planner -- 20
//! cargo run --release -p shardsim --example outside_planner -- 20 --sloppy
//! ```

use planner::FewestShardsFirst;
use shardsim::core::config::PlannerKind;
use shardsim::core::planner::Planner;
use shardsim::scenario::{Scenario, ScenarioName};
use shardsim::Simulation;
use std::sync::Arc;

mod planner;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let seeds: u64 = arguments.iter().find_map(|argument| argument.parse().ok()).unwrap_or(20);
    let sloppy = arguments.iter().any(|argument| argument == "--sloppy");
    let planner: Arc<dyn Planner> = Arc::new(FewestShardsFirst { sloppy });
    let mut scenario = Scenario::named(ScenarioName::Chaos);
    // Liveness is judged by the configured planner's measure: shard counts.
    scenario.protocol.planner = PlannerKind::LeastShard;
    let mut failed = 0;
    for seed in 0..seeds {
        let simulation = Simulation::new(seed)
            .custom_scenario(scenario.clone())
            .expect("the chaos scenario's knobs are valid")
            .planner(planner.clone());
        let report = simulation.run();
        let plans = report.summary.coverage.get(&format!("plan_{}", planner::NAME)).copied().unwrap_or(0);
        println!(
            "seed {seed}: {} ({plans} plans, {} migrations)",
            report.verdict.label(),
            report.summary.migrations_completed
        );
        if !report.verdict.is_pass() {
            failed += 1;
            print!("{}", report.render());
        }
    }
    println!(
        "fewest_shards_first{}: {} of {seeds} seeds passed",
        if sloppy { " (sloppy)" } else { "" },
        seeds - failed
    );
    std::process::exit(if failed == 0 { 0 } else { 3 });
}
