//! The subcommands: parse and check their flags, run, print, and pick the exit code.

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use shardsim::core::canary::Canary;
use shardsim::faults::FaultPlan;
use shardsim::knobs;
use shardsim::lab::explore::{exhaustive, random_walk, shrink, ExhaustiveOptions, Replay, Start};
use shardsim::lab::LabConfig;
use shardsim::report::exit_code;
use shardsim::scenario::{Scenario, ScenarioName};
use shardsim::sweep::{parse_seed_range, sweep as run_sweep, SweepOptions};
use shardsim::Simulation;
use std::path::PathBuf;

#[derive(Args)]
pub struct RunArgs {
    /// The seed: the same seed gives the same run, bit for bit.
    #[arg(long)]
    seed: u64,
    /// A named scenario (see `shardsim scenarios`).
    #[arg(long, default_value_t = ScenarioName::DEFAULT.to_string())]
    scenario: String,
    /// Replay the fault plan in this JSON file instead of drawing one from the seed.
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Write the fault plan this run uses to a JSON file (to edit and replay with --plan).
    #[arg(long, value_name = "FILE")]
    save_plan: Option<PathBuf>,
    /// Pin knobs from a JSON object of knob names to values (a saved plan's `knobs` has
    /// every one); the rest are the scenario's, or drawn from the seed.
    #[arg(long, value_name = "FILE")]
    knobs: Option<PathBuf>,
    /// Write every observation and nemesis action as JSON lines with simulated time.
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Run the seed twice and compare a hash of the whole trace.
    #[arg(long)]
    check_determinism: bool,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    canary: Vec<String>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct SweepArgs {
    /// Seeds to run, `A..B` with B exclusive.
    #[arg(long, value_name = "A..B")]
    seeds: String,
    /// Seeds run in parallel, one thread each.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// A named scenario (see `shardsim scenarios`).
    #[arg(long, default_value_t = ScenarioName::DEFAULT.to_string())]
    scenario: String,
    /// Write the sweep's JSON report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Stop at the first failing seed.
    #[arg(long)]
    fail_fast: bool,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    canary: Vec<String>,
    /// Pin knobs from a JSON object of knob names to values, for every seed.
    #[arg(long, value_name = "FILE")]
    knobs: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExploreArgs {
    /// Random walk: the seed that draws every choice.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Random walk: how many choices.
    #[arg(long, default_value_t = 2_000)]
    steps: usize,
    /// Random walk: also count distinct states (hashing every state costs more than a step).
    #[arg(long)]
    distinct: bool,
    /// Search every order breadth first instead, from a started migration.
    #[arg(long)]
    exhaustive: bool,
    /// Data nodes in the lab's cluster [default: 2 exhaustive, 3 (one a spare) walking].
    #[arg(long)]
    nodes: Option<u32>,
    /// Shards in the lab's cluster [default: 1 exhaustive, 4 walking].
    #[arg(long)]
    shards: Option<u32>,
    /// Exhaustive: the longest choice sequence explored.
    #[arg(long, default_value_t = 16)]
    depth: usize,
    /// Exhaustive: stop after this many distinct states.
    #[arg(long, default_value_t = 200_000)]
    states_max: usize,
    /// Exhaustive: also lose messages.
    #[arg(long)]
    drops: bool,
    /// Exhaustive: crashes allowed on one path.
    #[arg(long, default_value_t = 0)]
    crashes: u8,
    /// Exhaustive: also fire timers (time moves on).
    #[arg(long)]
    timers: bool,
    /// Replay a saved violation instead of exploring.
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// Where a violation's choice sequence is saved.
    #[arg(long, value_name = "FILE", default_value = "shardsim-violation.json")]
    save: PathBuf,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    canary: Vec<String>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Seeds per scenario (and per baseline run).
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// Steps per lab random walk (four walks each way).
    #[arg(long, default_value_t = 20_000)]
    lab_steps: usize,
    /// Where the JSON report goes.
    #[arg(long, value_name = "FILE", default_value = "shardsim-bench.json")]
    json: PathBuf,
}

pub fn bench(args: BenchArgs) -> i32 {
    if args.seeds == 0 || args.lab_steps == 0 {
        return usage_error("--seeds and --lab-steps must be at least 1");
    }
    let report = shardsim::bench::bench(args.seeds, args.lab_steps);
    print!("{}", report.render());
    let text = serde_json::to_string_pretty(&report).expect("reports serialize") + "\n";
    if let Err(error) = std::fs::write(&args.json, text) {
        return usage_error(format!("cannot write {}: {error}", args.json.display()));
    }
    println!("JSON written to {}", args.json.display());
    exit_code::PASS
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("error: {message}");
    exit_code::USAGE
}

fn parse_canaries(names: &[String]) -> Result<Vec<Canary>, String> {
    names.iter().map(|name| name.parse()).collect()
}

fn parse_scenario_and_canaries(scenario: &str, canaries: &[String]) -> Result<(ScenarioName, Vec<Canary>), String> {
    Ok((scenario.parse()?, parse_canaries(canaries)?))
}

pub fn run(args: RunArgs) -> i32 {
    let (scenario, canaries) = match parse_scenario_and_canaries(&args.scenario, &args.canary) {
        Ok(parsed) => parsed,
        Err(error) => return usage_error(error),
    };
    let mut simulation = Simulation::new(args.seed).scenario(scenario).keep_trace(args.trace.is_some());
    for canary in canaries {
        simulation = simulation.canary(canary);
    }
    if let Some(path) = &args.knobs {
        let pinned =
            knobs::load(path).and_then(|pins| simulation.clone().knobs(pins, Some(path.display().to_string())));
        simulation = match pinned {
            Ok(simulation) => simulation,
            Err(error) => return usage_error(error),
        };
    }
    if let Some(path) = &args.plan {
        let spec = simulation.scenario_spec();
        let plan = match FaultPlan::load(path)
            .and_then(|plan| plan.validate(spec.nodes_total(), spec.protocol.shard_count).map(|()| plan))
        {
            Ok(plan) => plan,
            Err(error) => return usage_error(error),
        };
        simulation = simulation.plan(plan, Some(path.display().to_string()));
    }
    if let Some(path) = &args.save_plan {
        if let Err(error) = simulation.fault_plan().save(path) {
            return usage_error(error);
        }
    }
    let started = std::time::Instant::now();
    let mut outcome = simulation.run_outcome();
    let wall_ms = started.elapsed().as_millis() as u64;
    if let (Some(path), Some(lines)) = (&args.trace, outcome.trace_lines.take()) {
        let text = lines.join("\n") + "\n";
        if let Err(error) = std::fs::write(path, text) {
            return usage_error(format!("cannot write trace file {}: {error}", path.display()));
        }
    }
    let report = simulation.report(outcome, wall_ms);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        print!("{}", report.render());
    }
    if args.check_determinism {
        let again = simulation.run_outcome();
        let (first, second) = (report.trace_hash.clone(), format!("{:016x}", again.trace_hash));
        if first != second {
            eprintln!("determinism check FAILED: trace hash {first} then {second} for the same seed");
            return exit_code::CRASH;
        }
        println!("determinism check: two runs, same trace hash {first}");
    }
    report.verdict.exit_code()
}

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
    for failure in &report.failures {
        println!("  seed {}: {} (exit {}): {}", failure.seed, failure.invariant, failure.exit_code, failure.message);
        println!("    reproduce: {}", failure.reproduce);
    }
    print!("{}", render_sweep_knobs_and_coverage(&report));
    if let Some(path) = &args.report {
        let text = serde_json::to_string_pretty(&report).expect("reports serialize") + "\n";
        if let Err(error) = std::fs::write(path, text) {
            return usage_error(format!("cannot write report file {}: {error}", path.display()));
        }
    }
    report.exit_code()
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

pub fn scenarios() -> i32 {
    for name in ScenarioName::ALL {
        let scenario = Scenario::named(name);
        let kinds: Vec<String> = scenario.fault_kinds.iter().map(|kind| format!("{kind:?}").to_lowercase()).collect();
        let default = if name == ScenarioName::DEFAULT { " (default)" } else { "" };
        println!("{name}{default}: {}", scenario.description);
        println!(
            "    faults: {}{}; {} nodes (+{} spare), {} shards, {} clients; safety {} s, liveness bound {} s",
            kinds.join(", "),
            if scenario.swarm { " (each on or off per seed)" } else { "" },
            scenario.nodes_initial,
            scenario.nodes_spare,
            scenario.protocol.shard_count,
            scenario.clients,
            scenario.safety_ms / 1000,
            scenario.liveness_bound_ms / 1000
        );
    }
    exit_code::PASS
}

pub fn canaries() -> i32 {
    for canary in Canary::ALL {
        println!("{canary}: {} (breaks {})", canary.description(), canary.expected_invariant());
    }
    exit_code::PASS
}

fn report_lab_violation(
    config: &LabConfig,
    start: Start,
    violation: shardsim::oracle::Violation,
    choices: Vec<shardsim::lab::Choice>,
    save: &std::path::Path,
) -> i32 {
    let found = choices.len();
    let choices = shrink(config, start, choices, &violation.invariant, 2_000);
    let replay = Replay {
        config: config.clone(),
        start,
        choices,
        invariant: violation.invariant.clone(),
        message: violation.message.clone(),
    };
    let replayed = replay.run().unwrap_or(violation);
    print!("{replayed}");
    println!("shortest sequence found: {} choices (from {found}): {:?}", replay.choices.len(), replay.choices);
    if let Err(error) = replay.save(save) {
        return usage_error(format!("cannot write {}: {error}", save.display()));
    }
    println!("saved to {}; replay with: shardsim explore --replay {}", save.display(), save.display());
    exit_code::SAFETY
}

pub fn explore(args: ExploreArgs) -> i32 {
    let canaries = match parse_canaries(&args.canary) {
        Ok(canaries) => canaries,
        Err(error) => return usage_error(error),
    };
    if let Some(path) = &args.replay {
        let replay = match Replay::load(path) {
            Ok(replay) => replay,
            Err(error) => return usage_error(error),
        };
        return match replay.run() {
            Some(violation) => {
                print!("{violation}");
                println!("replayed {} choices from {}", replay.choices.len(), path.display());
                exit_code::SAFETY
            }
            None => {
                println!("replayed {} choices from {}: no violation", replay.choices.len(), path.display());
                exit_code::PASS
            }
        };
    }
    let (nodes, shards) = match args.exhaustive {
        true => (args.nodes.unwrap_or(2), args.shards.unwrap_or(1)),
        false => (args.nodes.unwrap_or(3), args.shards.unwrap_or(4)),
    };
    if !(1..=8).contains(&nodes) || !(1..=16).contains(&shards) || (!args.exhaustive && nodes < 2) {
        return usage_error("the lab takes 1..=8 nodes (2 or more for a walk, one of them a spare) and 1..=16 shards");
    }
    let started = std::time::Instant::now();
    if args.exhaustive {
        let config = LabConfig { nodes, spare_nodes: 0, shards, canaries, ..LabConfig::default() };
        let options = ExhaustiveOptions {
            depth_max: args.depth,
            states_max: args.states_max,
            drops: args.drops,
            crashes: args.crashes,
            timers: args.timers,
        };
        let outcome = match exhaustive(&config, options) {
            Ok(outcome) => outcome,
            Err(violation) => {
                return report_lab_violation(&config, Start::Migrating, violation, Vec::new(), &args.save)
            }
        };
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        println!(
            "exhaustive: {} nodes, {} shards, depth {}: {} states explored, {} distinct, deepest {}, {} ({:.0} steps/s); {} states with the migration fully applied",
            nodes,
            shards,
            args.depth,
            outcome.states_explored,
            outcome.distinct_states,
            outcome.depth_reached,
            if outcome.complete { "complete" } else { "bounded" },
            outcome.states_explored as f64 / seconds,
            outcome.full_migrations
        );
        return match outcome.violation {
            Some((violation, choices)) => {
                report_lab_violation(&config, Start::Migrating, violation, choices, &args.save)
            }
            None => exit_code::PASS,
        };
    }
    let config = LabConfig { nodes, spare_nodes: 1, shards, canaries, steps_max: args.steps, ..LabConfig::default() };
    let outcome = match random_walk(&config, args.seed, args.steps, args.distinct) {
        Ok(outcome) => outcome,
        Err(violation) => return report_lab_violation(&config, Start::Warm, violation, Vec::new(), &args.save),
    };
    let seconds = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "random walk: seed {}, {} steps, {} distinct states, {} migrations completed, {:.0} steps/s (invariants checked every step)",
        args.seed,
        outcome.steps,
        if args.distinct { outcome.distinct_states.to_string() } else { "uncounted".to_string() },
        outcome.migrations_completed,
        outcome.steps as f64 / seconds
    );
    match outcome.violation {
        Some((violation, choices)) => report_lab_violation(&config, Start::Warm, violation, choices, &args.save),
        None => exit_code::PASS,
    }
}
