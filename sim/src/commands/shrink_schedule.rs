//! The shrink's schedule stage as the command runs it: after the plan stages, or alone on
//! a saved schedule (`shrink --schedule FILE`).

use super::args::ShrinkArgs;
use super::explore::simulation_for_schedule;
use super::save::write_json;
use super::shrink_progress::ShrinkProgress;
use super::usage_error;
use shardsim::report::exit_code;
use shardsim::shrink::schedule::shrink_schedule;
use shardsim::shrink::Ending;
use shardsim::world::{Event, Schedule};
use shardsim::Simulation;
use std::collections::BTreeMap;
use std::path::Path;

/// Shrinks `schedule` (recorded from `simulation`) while the budget lasts and says how
/// far it got; the schedule as it was when the lab's replay does not break its invariant.
pub(super) fn schedule_stage(
    simulation: &Simulation,
    schedule: Schedule,
    progress: &ShrinkProgress,
) -> (Schedule, Option<Ending>) {
    let Some(invariant) = schedule.invariant.clone() else { return (schedule, None) };
    let safety = shardsim::oracle::registry::by_name(&invariant)
        .is_some_and(|found| found.class == shardsim::oracle::ViolationClass::Safety);
    if !safety {
        // A liveness rule holds only under fair scheduling, and a schedule with events
        // taken out starves whoever waited for them: its failure would prove nothing.
        progress.println(format!("  schedule skipped: {invariant} is a liveness rule, judged only on fair runs"));
        return (schedule, None);
    }
    let mut budget = || progress.time_left();
    let mut show = |events: usize| progress.show(format!("schedule: trying {events} events"));
    let config = simulation.spec().world_config();
    let Some(shrunk) = shrink_schedule(config, &schedule.events, &invariant, &mut budget, &mut show) else {
        progress.println(format!("  schedule skipped: the lab's replay does not break {invariant}"));
        return (schedule, None);
    };
    let faults = |events: &[shardsim::world::Scheduled]| events.iter().filter(|e| e.event.kind() == "inject").count();
    progress.println(format!(
        "  schedule {:>5} -> {:<5} events  faults {} -> {} ({} replays)",
        schedule.events.len(),
        shrunk.events.len(),
        faults(&schedule.events),
        faults(&shrunk.events),
        shrunk.runs
    ));
    let smaller = Schedule {
        trace_hash: format!("{:016x}", shrunk.trace_hash),
        invariant: Some(shrunk.violation.invariant.clone()),
        events: shrunk.events,
        ..schedule
    };
    (smaller, Some(shrunk.ending))
}

/// One line per kind of event, and every fault and boot with its time: what a reader
/// needs to see of a minimal schedule.
pub(super) fn describe(schedule: &Schedule) -> String {
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for scheduled in &schedule.events {
        *kinds.entry(scheduled.event.kind()).or_default() += 1;
    }
    let counts: Vec<String> = kinds.iter().map(|(kind, count)| format!("{count} {kind}")).collect();
    let mut text = format!("  {} events: {}\n", schedule.events.len(), counts.join(", "));
    for scheduled in &schedule.events {
        let line = match &scheduled.event {
            Event::Inject { fault } => format!("inject {fault:?}"),
            Event::Heal { fault } => format!("heal fault {}", fault.0),
            Event::HealAll => "heal all".to_string(),
            Event::Boot { actor } => format!("boot {actor:?}"),
            Event::StartLiveness => "liveness phase".to_string(),
            _ => continue,
        };
        text += &format!("  {:>7} ms  {line}\n", scheduled.at_ms);
    }
    text
}

/// `shrink --schedule FILE`: the schedule stage alone, on a saved schedule.
pub(super) fn shrink_schedule_file(args: &ShrinkArgs, path: &Path) -> i32 {
    let schedule = match Schedule::load(path) {
        Ok(schedule) => schedule,
        Err(error) => return usage_error(error),
    };
    let simulation = match simulation_for_schedule(&schedule, None, Vec::new(), None) {
        Ok(simulation) => simulation,
        Err(code) => return code,
    };
    if let Err(error) = std::fs::create_dir_all(&args.out) {
        return usage_error(format!("cannot create output directory {}: {error}", args.out.display()));
    }
    let Some(invariant) = schedule.invariant.clone() else {
        println!("{} records no violation: nothing to shrink", path.display());
        return exit_code::PASS;
    };
    println!("shrinking {} ({invariant}): {} events", path.display(), schedule.events.len());
    let progress = ShrinkProgress::new(std::time::Instant::now(), args.budget);
    let (shrunk, ending) = schedule_stage(&simulation, schedule, &progress);
    progress.finish();
    let Some(ending) = ending else {
        eprintln!(
            "error: cannot shrink {}: the lab's replay does not break {invariant}, or it is a liveness rule",
            path.display()
        );
        return exit_code::CRASH;
    };
    let knobs_path = args.out.join("knobs.json");
    let schedule_path = args.out.join("schedule.json");
    if let Err(code) = write_json(&knobs_path, &shrunk.header.knobs, "knobs file") {
        return code;
    }
    if let Err(error) = shrunk.save(&schedule_path) {
        return usage_error(format!("cannot write schedule file {}: {error}", schedule_path.display()));
    }
    println!("shrunk in {:.1} s ({}); still {invariant}", progress.elapsed_s(), ending_words(ending));
    print!("{}", describe(&shrunk));
    println!("{}", lab_command(&schedule_path, &shrunk, &knobs_path));
    exit_code::SAFETY
}

pub(super) fn ending_words(ending: Ending) -> &'static str {
    match ending {
        Ending::Minimal => "minimal: no single step makes it smaller",
        Ending::OutOfBudget => "out of time: it may shrink further with a longer --for",
    }
}

/// The command that replays a saved schedule in the lab.
pub(super) fn lab_command(schedule_path: &Path, schedule: &Schedule, knobs_path: &Path) -> String {
    let canaries: String = schedule.header.canaries.iter().map(|canary| format!(" --canary {canary}")).collect();
    format!(
        "in the lab: shardsim explore --replay {} --scenario {} --knobs {}{canaries}",
        schedule_path.display(),
        schedule.header.scenario,
        knobs_path.display()
    )
}
