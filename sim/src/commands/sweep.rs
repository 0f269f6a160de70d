//! `shardsim sweep`: a range of seeds in parallel, a progress bar, a summary and a report.

use super::args::SweepArgs;
use super::save::{write_json, write_pictures};
use super::{parse_scenario_and_canaries, usage_error};
use indicatif::{ProgressBar, ProgressStyle};
use shardsim::knobs;
use shardsim::sweep::{parse_seed_range, simulation_for, sweep as run_sweep, SweepOptions};
use shardsim::Simulation;

pub fn sweep(args: SweepArgs) -> i32 {
    let seeds = match parse_seed_range(&args.seeds) {
        Ok(seeds) => seeds,
        Err(error) => return usage_error(error),
    };
    let (scenario, canaries) = match parse_scenario_and_canaries(&args.scenario, &args.canary) {
        Ok(parsed) => parsed,
        Err(error) => return usage_error(error),
    };
    if args.jobs == 0 {
        return usage_error("--jobs must be at least 1");
    }
    let pins = match &args.knobs {
        None => None,
        Some(path) => match knobs::load(path).and_then(|pins| {
            // Checked against the first seed's draw; a pin that conflicts with a later
            // seed's draw fails that seed's run with the same message.
            Simulation::new(seeds.start).scenario(scenario).knobs(pins.clone(), None).map(|_| pins)
        }) {
            Ok(pins) => Some((pins, path.display().to_string())),
            Err(error) => return usage_error(error),
        },
    };
    let options =
        SweepOptions { seeds: seeds.clone(), jobs: args.jobs, scenario, canaries, fail_fast: args.fail_fast, pins };
    let progress = ProgressBar::new(seeds.end - seeds.start);
    progress.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} seeds, {per_sec}, eta {eta} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let mut failed = 0;
    let report = run_sweep(&options, |report| {
        progress.inc(1);
        if !report.verdict.is_pass() {
            failed += 1;
            progress.set_message(format!("failures: {failed}"));
            progress.println(format!(
                "seed {} FAILED: {} — reproduce: {}",
                report.seed,
                report.verdict.label(),
                report.reproduce
            ));
        }
    });
    progress.finish_and_clear();
    println!(
        "sweep {} seeds {} on {} job(s): {} passed, {} failed in {:.1} s ({:.2} seeds/s, {:.0} simulated s per wall s)",
        report.scenario,
        report.seeds,
        report.jobs,
        report.passed,
        report.failures.len(),
        report.wall_ms as f64 / 1000.0,
        report.seeds_per_second,
        report.simulated_seconds_per_wall_second
    );
    print!("{}", render_signatures(&report.signatures));
    println!("convergence: {}", report.convergence);
    let counts = |counts: &std::collections::BTreeMap<String, u64>| -> String {
        counts.iter().map(|(kind, count)| format!("{kind}={count}")).collect::<Vec<_>>().join(" ")
    };
    println!("faults injected: {}", counts(&report.faults_injected));
    if !report.faults_skipped.is_empty() {
        println!("faults skipped:  {}", counts(&report.faults_skipped));
    }
    print!("{}", render_sweep_knobs_and_coverage(&report));
    if let Some(path) = &args.report {
        if let Err(code) = write_json(path, &report, "report file") {
            return code;
        }
    }
    if let Some(first) = report.failures.first().filter(|_| args.timeline.is_some() || args.plot.is_some()) {
        // Run again with its trace kept: the same seed gives the same run.
        if let Ok(simulation) = simulation_for(&options, first.seed) {
            let simulation = simulation.keep_trace(true);
            let outcome = simulation.run_outcome();
            if let Err(code) = write_pictures(&simulation, &outcome, args.timeline.as_deref(), args.plot.as_deref()) {
                return code;
            }
            println!("pictures of seed {} written", first.seed);
        }
    }
    report.exit_code()
}

/// One block per distinct failure: its signature, how many seeds, the smallest seed's
/// message and reproduce command (the JSON report lists every failing seed).
fn render_signatures(signatures: &[shardsim::sweep::FailureSignature]) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    if signatures.is_empty() {
        return text;
    }
    let plural = if signatures.len() == 1 { "" } else { "s" };
    let _ = writeln!(text, "{} distinct failure{plural} (invariant, broken at):", signatures.len());
    for signature in signatures {
        const SHOWN: usize = 8;
        let mut seeds: Vec<String> = signature.seeds.iter().take(SHOWN).map(u64::to_string).collect();
        if signature.seeds.len() > SHOWN {
            seeds.push(format!("and {} more", signature.seeds.len() - SHOWN));
        }
        let _ = writeln!(
            text,
            "  {} at {} (exit {}): {} seed{} ({})",
            signature.invariant,
            signature.trigger,
            signature.exit_code,
            signature.seeds.len(),
            if signature.seeds.len() == 1 { "" } else { "s" },
            seeds.join(", ")
        );
        let _ = writeln!(text, "    seed {}: {}", signature.seeds[0], signature.message);
        let _ = writeln!(text, "    reproduce: {}", signature.reproduce);
    }
    text
}

/// Which planners and how much of each knob's range a sweep used, and which coverage
/// events it reached (and never reached).
fn render_sweep_knobs_and_coverage(report: &shardsim::sweep::SweepReport) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let planners: Vec<String> = report.planners.iter().map(|(planner, runs)| format!("{planner}={runs}")).collect();
    let varied = report.knob_spread.values().filter(|spread| spread.min < spread.max).count();
    let _ = writeln!(
        text,
        "knobs: planners {}; {varied} of {} numeric knobs varied (the JSON report has each one's range)",
        planners.join(" "),
        report.knob_spread.len()
    );
    let goals = shardsim::oracle::coverage::goals();
    let _ = writeln!(
        text,
        "coverage: {} of {} events reached",
        goals.len() - report.coverage_never_reached.len(),
        goals.len()
    );
    let reached: Vec<String> = report.coverage.iter().map(|(event, count)| format!("{event}={count}")).collect();
    let _ = writeln!(text, "  reached: {}", reached.join(" "));
    if !report.coverage_never_reached.is_empty() {
        let _ = writeln!(text, "  NEVER REACHED: {}", report.coverage_never_reached.join(" "));
    }
    text
}
