//! `shardsim explore`: the lab's random walk and exhaustive search, and replays of what
//! the lab or a madsim run saved.

use super::args::ExploreArgs;
use super::{parse_canaries, usage_error};
use shardsim::knobs;
use shardsim::lab::explore::{random_walk, shrink, Replay, Start};
use shardsim::lab::replay::replay_schedule;
use shardsim::lab::search::{search, Budgets, SearchEnd, SearchOptions};
use shardsim::lab::LabConfig;
use shardsim::report::exit_code;
use shardsim::world::Schedule;
use shardsim::Simulation;
use std::path::Path;

/// The simulation a saved schedule was recorded from: its seed, and the scenario,
/// canaries and knobs the file names unless the flags name them (which must then be the
/// same). A usage error when they are not, or the file names what this build lacks.
pub(crate) fn simulation_for_schedule(
    schedule: &Schedule,
    scenario: Option<&str>,
    canaries: Vec<shardsim::core::canary::Canary>,
    knobs_path: Option<&Path>,
) -> Result<Simulation, i32> {
    let header = &schedule.header;
    let scenario = scenario.unwrap_or(&header.scenario).parse().map_err(usage_error)?;
    let mut simulation = Simulation::new(header.seed).scenario(scenario);
    let canaries = match canaries.is_empty() {
        true => {
            header.canaries.iter().map(|name| name.parse()).collect::<Result<Vec<_>, String>>().map_err(usage_error)?
        }
        false => canaries,
    };
    for canary in canaries {
        simulation = simulation.canary(canary);
    }
    // Without a knobs file, the file's own knobs: it lists every one, so a schedule
    // recorded with pinned knobs (a shrunk one) replays without its knobs file.
    let (pins, file) = match knobs_path {
        Some(path) => (knobs::load(path).map_err(usage_error)?, Some(path.display().to_string())),
        None => (header.knobs.clone(), None),
    };
    simulation = simulation.knobs(pins, file).map_err(usage_error)?;
    schedule.check_matches(&simulation.schedule_header()).map_err(usage_error)?;
    Ok(simulation)
}

/// Replays a madsim run's schedule in the lab: the world the file names (or the one the
/// flags ask for, which must be the same), the same events, the same trace hash.
fn replay_schedule_file(args: &ExploreArgs, path: &Path, canaries: Vec<shardsim::core::canary::Canary>) -> i32 {
    let schedule = match Schedule::load(path) {
        Ok(schedule) => schedule,
        Err(error) => return usage_error(error),
    };
    let simulation = match simulation_for_schedule(&schedule, args.scenario.as_deref(), canaries, args.knobs.as_deref())
    {
        Ok(simulation) => simulation,
        Err(code) => return code,
    };
    let header = &schedule.header;
    let replayed = match replay_schedule(&simulation, &schedule) {
        Ok(replayed) => replayed,
        Err(error) => return usage_error(error),
    };
    let trace_hash = format!("{:016x}", replayed.trace_hash);
    if let Some(violation) = &replayed.violation {
        print!("{violation}");
    }
    println!(
        "replayed {} events of seed {} ({}) in the lab: trace hash {trace_hash}, recorded {}",
        replayed.events_applied, header.seed, header.scenario, schedule.trace_hash
    );
    if trace_hash != schedule.trace_hash {
        eprintln!("replay FAILED: the lab's trace differs from the recorded run's");
        return exit_code::CRASH;
    }
    match replayed.violation {
        Some(_) => exit_code::SAFETY,
        None => exit_code::PASS,
    }
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
    let replay = Replay::of(config, start, choices, &violation);
    let replayed = replay.run().unwrap_or(violation);
    let found = format!("shrunk to {} choices (from {found}): {:?}", replay.choices.len(), replay.choices);
    save_replay(&replay, &replayed, &found, save)
}

/// Prints the violation and how its sequence was found, and saves the replay.
fn save_replay(replay: &Replay, violation: &shardsim::oracle::Violation, found: &str, save: &Path) -> i32 {
    print!("{violation}");
    println!("{found}");
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
        if Schedule::is_schedule_file(path) {
            return replay_schedule_file(&args, path, canaries);
        }
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
    if args.exhaustive {
        return model_check(&args, LabConfig { nodes, spare_nodes: 0, shards, canaries, ..LabConfig::default() });
    }
    let started = std::time::Instant::now();
    let config = LabConfig { nodes, spare_nodes: 1, shards, canaries, steps_max: args.steps, ..LabConfig::default() };
    let outcome = match random_walk(&config, args.seed, args.steps, args.distinct) {
        Ok(outcome) => outcome,
        Err(violation) => return report_lab_violation(&config, Start::Warm, violation, Vec::new(), &args.save),
    };
    let seconds = started.elapsed().as_secs_f64().max(1e-6);
    println!(
        "random walk: seed {}, {} steps, {} distinct states, {:.0} steps/s (invariants checked every step)",
        args.seed,
        outcome.steps,
        if args.distinct { outcome.distinct_states.to_string() } else { "uncounted".to_string() },
        outcome.steps as f64 / seconds
    );
    println!(
        "  migrations: {} started, {} completed, {} aborted; {:.1} completed per 100k steps",
        outcome.migrations_started,
        outcome.migrations_completed,
        outcome.migrations_aborted,
        outcome.completed_per_100k_steps()
    );
    match outcome.violation {
        Some((violation, choices)) => report_lab_violation(&config, Start::Warm, violation, choices, &args.save),
        None => exit_code::PASS,
    }
}

/// `explore --exhaustive`: the model checker. A violation is saved as found: deepening
/// makes it a shortest sequence already.
fn model_check(args: &ExploreArgs, config: LabConfig) -> i32 {
    let options = SearchOptions {
        start: args.start,
        depth_max: args.depth,
        iterative: !args.no_deepening,
        states_max: args.states_max,
        memory_max_bytes: args.memory_max,
        time_max: args.time_max,
        drops: args.drops,
        timers: args.timers,
        calm_ms: args.calm,
        advance_ms: args.advance,
        budgets: Budgets {
            crashes: args.crashes,
            writes: args.writes,
            disk_faults: args.disk_faults,
            clock_steps: args.clock_steps,
            decommissions: args.decommissions,
            joins: args.joins,
        },
        symmetry: args.symmetry,
        jobs: args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |cores| cores.get())).max(1),
        progress: true,
    };
    let outcome = match search(&config, &options) {
        Ok(outcome) => outcome,
        Err(violation) => return report_lab_violation(&config, args.start, violation, Vec::new(), &args.save),
    };
    let end = match outcome.end {
        SearchEnd::Complete => format!("complete: every state within {} choices searched", args.depth),
        SearchEnd::Exhausted { depth } => format!("exhausted: no state has a choice left past depth {depth}"),
        SearchEnd::StatesMax => format!("stopped at --states-max {}", args.states_max),
        SearchEnd::MemoryMax => format!("stopped at --memory-max ({} MiB)", args.memory_max >> 20),
        SearchEnd::TimeMax => "stopped at --time-max".to_string(),
        SearchEnd::Violation => "stopped at a violation".to_string(),
    };
    println!(
        "exhaustive: {} nodes, {} shards{}, {} jobs: {end}; searched completely to depth {} of {}",
        config.nodes,
        config.shards,
        if options.symmetry { ", symmetry reduced" } else { "" },
        options.jobs,
        outcome.depth_complete,
        outcome.depth_last
    );
    println!(
        "  {} distinct states ({:.0}/s), {} choices applied ({:.0}/s), {:.1} s; visited set {:.1} MiB ({:.1} bytes a state); {} states with the migration fully applied",
        outcome.distinct_states,
        outcome.distinct_states_per_second(),
        outcome.transitions,
        outcome.transitions_per_second(),
        outcome.wall.as_secs_f64(),
        outcome.visited_bytes as f64 / (1 << 20) as f64,
        outcome.bytes_per_state(),
        outcome.full_migrations
    );
    match outcome.violation {
        Some((violation, choices)) => save_lab_violation(&config, args.start, violation, choices, &args.save),
        None => exit_code::PASS,
    }
}

/// Saves a violation's sequence as it is (a model checker's is shortest already).
fn save_lab_violation(
    config: &LabConfig,
    start: Start,
    violation: shardsim::oracle::Violation,
    choices: Vec<shardsim::lab::Choice>,
    save: &Path,
) -> i32 {
    let replay = Replay::of(config, start, choices, &violation);
    let found = format!("shortest sequence: {} choices: {:?}", replay.choices.len(), replay.choices);
    save_replay(&replay, &violation, &found, save)
}
