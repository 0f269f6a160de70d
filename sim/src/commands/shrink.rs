//! `shardsim shrink`: the run `run` would make, cut down while it still breaks the same
//! invariant; writes the minimal plan, knobs and schedule, and the commands that replay them.

use super::args::ShrinkArgs;
use super::run::simulation_from;
use super::save::write_json;
use super::usage_error;
use indicatif::{ProgressBar, ProgressStyle};
use shardsim::report::{exit_code, Report};
use shardsim::shrink::{size, Candidate, Ending, Shrinker, StageReport};
use shardsim::Simulation;
use std::time::Instant;

pub fn shrink(args: ShrinkArgs) -> i32 {
    let base = match simulation_from(&args.target) {
        Ok(simulation) => simulation,
        Err(code) => return code,
    };
    if let Err(error) = std::fs::create_dir_all(&args.out) {
        return usage_error(format!("cannot create output directory {}: {error}", args.out.display()));
    }
    let started = Instant::now();
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
    let progress = ProgressBar::new_spinner();
    progress.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("a valid template"));
    let deadline = started + args.budget;
    let mut still_fails = |candidate: &Candidate| {
        progress.set_message(format!("trying {} events, size {}", candidate.plan.events.len(), size(candidate)));
        progress.tick();
        same_failure(candidate)
    };
    let mut budget = || Instant::now() < deadline;
    let mut print_stage = |stage: &StageReport| {
        progress.suspend(|| {
            println!(
                "  {:<8} {:>4} -> {:<4} events  size {:>7} -> {:<7} ({} runs)",
                stage.stage, stage.events_before, stage.events_after, stage.size_before, stage.size_after, stage.runs
            )
        });
    };
    let (minimal, ending) = Shrinker::new(&mut still_fails, &mut budget).shrink(start.clone(), &mut print_stage);
    progress.finish_and_clear();
    save_minimal(&args, &base, &minimal, started, ending, start.plan.events.len())
}

/// `base` with the candidate's plan and knobs pinned; `files` names them for the
/// reproduce command. `None` when the knobs do not fit together.
fn with_candidate(base: &Simulation, candidate: &Candidate, files: Option<(String, String)>) -> Option<Simulation> {
    let (plan_file, knobs_file) = files.unzip();
    base.clone().knobs(candidate.knobs.clone(), knobs_file).ok().map(|run| run.plan(candidate.plan.clone(), plan_file))
}

fn save_minimal(
    args: &ShrinkArgs,
    base: &Simulation,
    minimal: &Candidate,
    started: Instant,
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
    for (path, what) in [(&plan_path, "plan file"), (&knobs_path, "knobs file")] {
        let written = match what {
            "plan file" => write_json(path, &minimal.plan, what),
            _ => write_json(path, &minimal.knobs, what),
        };
        if let Err(code) = written {
            return code;
        }
    }
    let recording = run.clone().record_schedule(true);
    let outcome = recording.run_outcome();
    if let Some(schedule) = recording.schedule(&outcome) {
        if let Err(error) = schedule.save(&schedule_path) {
            return usage_error(format!("cannot write schedule file {}: {error}", schedule_path.display()));
        }
    }
    let report: Report = run.report(outcome, 0);
    let why = match ending {
        Ending::Minimal => "minimal: no single step makes it smaller",
        Ending::OutOfBudget => "out of time: it may shrink further with a longer --for",
    };
    println!(
        "shrunk {events_before} -> {} events in {:.1} s ({why}); still {}",
        minimal.plan.events.len(),
        started.elapsed().as_secs_f64(),
        report.verdict.label()
    );
    for event in &minimal.plan.events {
        println!("  {:>7} ms  {:?}", event.at_ms, event.fault);
    }
    println!("reproduce: {}", run.reproduce_command());
    let canaries: String = args.target.canary.iter().map(|canary| format!(" --canary {canary}")).collect();
    println!(
        "in the lab: shardsim explore --replay {} --scenario {} --knobs {}{canaries}",
        schedule_path.display(),
        args.target.scenario,
        knobs_path.display()
    );
    report.verdict.exit_code()
}
