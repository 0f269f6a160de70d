//! The subcommands: `args` parses their flags, one module each runs them and prints,
//! `save` writes what they are asked to keep. Each returns its exit code.

mod args;
mod explore;
mod listing;
mod merge;
mod run;
mod save;
mod shrink;
mod shrink_progress;
mod shrink_schedule;
mod sweep;

pub use args::{BenchArgs, ExploreArgs, MergeArgs, RunArgs, ShrinkArgs, SweepArgs};
pub use explore::explore;
pub use listing::{bench, canaries, invariants, scenarios};
pub use merge::merge;
pub use run::run;
pub use shrink::shrink;
pub use sweep::sweep;

use shardsim::core::canary::Canary;
use shardsim::report::exit_code;
use shardsim::scenario::ScenarioName;

pub(crate) fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    exit_code::USAGE
}

pub(crate) fn parse_canaries(names: &[String]) -> Result<Vec<Canary>, String> {
    names.iter().map(|name| name.parse()).collect()
}

pub(crate) fn parse_scenario_and_canaries(
    scenario: &str,
    canaries: &[String],
) -> Result<(ScenarioName, Vec<Canary>), String> {
    Ok((scenario.parse()?, parse_canaries(canaries)?))
}
