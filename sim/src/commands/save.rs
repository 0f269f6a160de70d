//! Saving: every file a subcommand writes, with the error a user reads when it cannot.

use super::usage_error;
use std::path::Path;

/// Writes `text` to `path`; on failure, says which file (`what`) and why, and gives the
/// usage exit code for the caller to return.
pub fn write_text(path: &Path, text: &str, what: &str) -> Result<(), i32> {
    std::fs::write(path, text).map_err(|error| usage_error(format!("cannot write {what} {}: {error}", path.display())))
}

/// Writes `value` as pretty JSON, ending in a newline.
pub fn write_json(path: &Path, value: &impl serde::Serialize, what: &str) -> Result<(), i32> {
    let text = serde_json::to_string_pretty(value).expect("reports serialize") + "\n";
    write_text(path, &text, what)
}

/// Writes the timeline and the plot of a run kept with its trace lines, where asked.
pub fn write_pictures(
    simulation: &shardsim::Simulation,
    outcome: &shardsim::run::RunOutcome,
    timeline: Option<&Path>,
    plot: Option<&Path>,
) -> Result<(), i32> {
    let Some(lines) = &outcome.trace_lines else { return Ok(()) };
    let violation = outcome.verdict.violation();
    if let Some(path) = timeline {
        write_json(path, &shardsim::timeline::chrome_trace(lines, violation), "timeline file")?;
    }
    if let Some(path) = plot {
        let weights = simulation.scenario_spec().protocol.load_weights;
        let data = shardsim::plot::PlotData::from_trace(lines, &weights, violation);
        let title = format!("{}: {}", simulation.reproduce_command(), outcome.verdict.label());
        data.draw_svg(path, &title).map_err(usage_error)?;
    }
    Ok(())
}
