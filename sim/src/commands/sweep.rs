//! `shardsim sweep`: a range of seeds in parallel, a progress bar, a summary and a report.

use super::args::{parse_duration, SweepArgs};
use super::save::{write_json, write_pictures};
use super::{parse_scenario_and_canaries, usage_error};
use indicatif::{ProgressBar, ProgressStyle};
use shardsim::knobs;
use shardsim::sweep::{parse_seed_range, simulation_for, sweep as run_sweep, SweepOptions, SweepReport};
use shardsim::sweep_shard::SeedShard;
use shardsim::Simulation;

/// The sweep's options from its flags, or the usage error to print.
fn options_of(args: &SweepArgs) -> Result<SweepOptions, String> {
    let seeds = parse_seed_range(&args.seeds)?;
    let (scenario, canaries) = parse_scenario_and_canaries(&args.scenario, &args.canary)?;
    let shard: SeedShard = args.shard.parse()?;
    let jobs = args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| cores.get()));
    if jobs == 0 {
        return Err("--jobs must be at least 1".to_string());
    }
    if args.check_determinism_every == Some(0) {
        return Err("--check-determinism-every must be at least 1".to_string());
    }
    let run_for = args.run_for.as_deref().map(parse_duration).transpose()?;
    let pins = match &args.knobs {
        None => None,
        Some(path) => {
            let pins = knobs::load(path).map_err(|error| error.to_string())?;
            // Checked against the first seed's draw; a pin that conflicts with a later
            // seed's draw fails that seed's run with the same message.
            Simulation::new(seeds.start)
                .scenario(scenario)
                .knobs(pins.clone(), None)
                .map_err(|error| error.to_string())?;
            Some((pins, path.display().to_string()))
        }
    };
    Ok(SweepOptions {
        shard,
        canaries,
        fail_fast: args.fail_fast,
        pins,
        run_for,
        determinism_every: args.check_determinism_every,
        ..SweepOptions::new(seeds, scenario, jobs)
    })
}

pub fn sweep(args: SweepArgs) -> i32 {
    let options = match options_of(&args) {
        Ok(options) => options,
        Err(error) => return usage_error(error),
    };
    let progress = ProgressBar::new(options.shard.len(&options.seeds));
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
    print_sweep_report(&report);
    if let Err(code) = write_reports(&report, args.report.as_deref(), args.junit.as_deref()) {
        return code;
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

/// The JSON report and the JUnit XML, where asked.
pub(crate) fn write_reports(
    report: &SweepReport,
    json: Option<&std::path::Path>,
    junit: Option<&std::path::Path>,
) -> Result<(), i32> {
    if let Some(path) = json {
        write_json(path, report, "report file")?;
    }
    if let Some(path) = junit {
        std::fs::write(path, shardsim::junit::render(report))
            .map_err(|error| usage_error(format!("cannot write JUnit file {}: {error}", path.display())))?;
    }
    Ok(())
}

/// What a sweep (or a merge) prints: totals, distinct failures, which seeds ran,
/// determinism checks, convergence, faults, knobs and coverage.
pub(crate) fn print_sweep_report(report: &SweepReport) {
    let shards = if report.shards.iter().all(|shard| shard == "0/1") {
        String::new()
    } else {
        format!(" shard {}", report.shards.join(","))
    };
    println!(
        "sweep {} seeds {}{shards} on {} job(s): {} passed, {} failed in {:.1} s ({:.2} seeds/s, {:.0} simulated s per wall s)",
        report.scenario,
        report.seeds,
        report.jobs,
        report.passed,
        report.failures.len(),
        report.wall_ms as f64 / 1000.0,
        report.seeds_per_second,
        report.simulated_seconds_per_wall_second
    );
    if !report.seeds_run.complete {
        let through = report.seeds_run.through_seed.map_or(String::new(), |seed| format!(", through seed {seed}"));
        println!("ran {} of the {} seeds asked{through}", report.seeds_run.count, report.seeds_run.of);
    }
    print!("{}", render_signatures(&report.signatures));
    if report.determinism_checked > 0 || !report.determinism_mismatches.is_empty() {
        println!(
            "determinism: {} seeds run twice, {} mismatched",
            report.determinism_checked,
            report.determinism_mismatches.len()
        );
    }
    for mismatch in &report.determinism_mismatches {
        println!(
            "  seed {} DETERMINISM FAILED: trace hash {} then {}
    reproduce: {}",
            mismatch.seed, mismatch.first_hash, mismatch.second_hash, mismatch.reproduce
        );
    }
    println!("convergence: {}", report.convergence);
    let counts = |counts: &std::collections::BTreeMap<String, u64>| -> String {
        counts.iter().map(|(kind, count)| format!("{kind}={count}")).collect::<Vec<_>>().join(" ")
    };
    println!("faults injected: {}", counts(&report.faults_injected));
    if !report.faults_skipped.is_empty() {
        println!("faults skipped:  {}", counts(&report.faults_skipped));
    }
    print!("{}", render_sweep_knobs_and_coverage(report));
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
