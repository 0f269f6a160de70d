//! `shardsim shrink`: the run `run` would make, cut down while it still breaks the same
//! invariant; writes the minimal plan, knobs and schedule, and the commands that replay them.

use super::args::ShrinkArgs;
use super::run::simulation_from;
use super::save::write_json;
use super::shrink_progress::ShrinkProgress;
use super::shrink_schedule::{describe, ending_words, lab_command, schedule_stage, shrink_schedule_file};
use super::usage_error;
use shardsim::report::{exit_code, Report};
use shardsim::shrink::{size, Candidate, Ending, Shrinker, StageReport};
use shardsim::Simulation;
use std::time::Instant;

pub fn shrink(args: ShrinkArgs) -> i32 {
    if let Some(path) = &args.schedule {
        return shrink_schedule_file(&args, path);
    }
    let base = match simulation_from(&args.target) {
        Ok(simulation) => simulation,
        Err(code) => return code,
    };
    if let Err(error) = std::fs::create_dir_all(&args.out) {
        return usage_error(format!("cannot create output directory {}: {error}", args.out.display()));
    }
    let progress = ShrinkProgress::new(Instant::now(), args.budget);
    let original = base.run();
    let target = original.verdict.label();
    if original.verdict.exit_code() == exit_code::PASS {
        println!("{} passes: nothing to shrink", base.reproduce_command());
        return exit_code::PASS;
    }
    let start = Candidate { plan: base.fault_plan(), knobs: original.knobs.clone() };
    let same_failure = |candidate: &Candidate| {
        with_candidate(&base, candidate, None).is_some_and(|run| run.run().verdict.label() == target)
    };
    if !same_failure(&start) {
        eprintln!("error: the run does not fail the same way with every knob pinned; cannot shrink it");
        return exit_code::CRASH;
    }
    println!(
        "shrinking {} ({target}): {} events, size {}",
        base.reproduce_command(),
        start.plan.events.len(),
        size(&start)
    );
    let mut still_fails = |candidate: &Candidate| {
        progress.show(format!("{}: trying {} events, size {}", "plan", candidate.plan.events.len(), size(candidate)));
        same_failure(candidate)
    };
    let mut budget = || progress.time_left();
    let mut print_stage = |stage: &StageReport| {
        progress.println(format!(
            "  {:<8} {:>4} -> {:<4} events  size {:>7} -> {:<7} ({} runs)",
            stage.stage, stage.events_before, stage.events_after, stage.size_before, stage.size_after, stage.runs
        ));
    };
    let (minimal, ending) = Shrinker::new(&mut still_fails, &mut budget).shrink(start.clone(), &mut print_stage);
    save_minimal(&args, &base, &minimal, &progress, ending, start.plan.events.len())
}

/// `base` with the candidate's plan and knobs pinned; `files` names them for the
/// reproduce command. `None` when the knobs do not fit together.
fn with_candidate(base: &Simulation, candidate: &Candidate, files: Option<(String, String)>) -> Option<Simulation> {
    let (plan_file, knobs_file) = files.unzip();
    base.clone().knobs(candidate.knobs.clone(), knobs_file).ok().map(|run| run.plan(candidate.plan.clone(), plan_file))
}

/// Writes the minimal plan and knobs, shrinks the minimal run's schedule with what is
/// left of the budget, writes that too and prints how to replay each.
fn save_minimal(
    args: &ShrinkArgs,
    base: &Simulation,
    minimal: &Candidate,
    progress: &ShrinkProgress,
    ending: Ending,
    events_before: usize,
) -> i32 {
    let plan_path = args.out.join("plan.json");
    let knobs_path = args.out.join("knobs.json");
    let schedule_path = args.out.join("schedule.json");
    let files = (plan_path.display().to_string(), knobs_path.display().to_string());
    let Some(run) = with_candidate(base, minimal, Some(files)) else {
        return usage_error("the minimal knobs no longer fit together");
    };
    if let Err(code) = write_json(&plan_path, &minimal.plan, "plan file") {
        return code;
    }
    if let Err(code) = write_json(&knobs_path, &minimal.knobs, "knobs file") {
        return code;
    }
    let recording = run.clone().record_schedule(true);
    let outcome = recording.run_outcome();
    let schedule = recording.schedule(&outcome).map(|schedule| schedule_stage(&recording, schedule, progress));
    progress.finish();
    let report: Report = run.report(outcome, 0);
    let ending = match schedule.as_ref().and_then(|(_, ending)| *ending) {
        Some(Ending::OutOfBudget) => Ending::OutOfBudget,
        _ => ending,
    };
    println!(
        "shrunk {events_before} -> {} plan events in {:.1} s ({}); still {}",
        minimal.plan.events.len(),
        progress.elapsed_s(),
        ending_words(ending),
        report.verdict.label()
    );
    for event in &minimal.plan.events {
        println!("  {:>7} ms  {:?}", event.at_ms, event.fault);
    }
    println!("reproduce: {}", run.reproduce_command());
    if let Some((schedule, _)) = schedule {
        if let Err(error) = schedule.save(&schedule_path) {
            return usage_error(format!("cannot write schedule file {}: {error}", schedule_path.display()));
        }
        println!("minimal schedule ({}):", schedule_path.display());
        print!("{}", describe(&schedule));
        println!("{}", lab_command(&schedule_path, &schedule, &knobs_path));
    }
    report.verdict.exit_code()
}
