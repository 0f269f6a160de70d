//! Helpers shared by the seeded-simulation suites in tests/tests/.

use shardsim::core::canary::Canary;
use shardsim::scenario::ScenarioName;
use shardsim::sweep::{sweep, SweepOptions, SweepReport};
use std::ops::Range;

/// Seeds run in parallel: the machine's cores (CI has two).
pub fn jobs() -> usize {
    std::thread::available_parallelism().map(|cores| cores.get()).unwrap_or(2)
}

/// Runs a range of seeds of a scenario, in parallel, quietly.
pub fn run_seeds(scenario: ScenarioName, seeds: Range<u64>, canaries: &[Canary], fail_fast: bool) -> SweepReport {
    let options = SweepOptions { canaries: canaries.to_vec(), fail_fast, ..SweepOptions::new(seeds, scenario, jobs()) };
    sweep(&options, |_| {})
}

/// A failing sweep's first failure, formatted for an assertion message.
pub fn describe_failures(report: &SweepReport) -> String {
    report
        .failures
        .iter()
        .take(5)
        .map(|failure| {
            format!("seed {}: {} — {}\n  {}", failure.seed, failure.invariant, failure.message, failure.reproduce)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
