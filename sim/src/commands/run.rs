//! `shardsim run`: one seed, its report, and the files it was asked to keep.

use super::args::{RunArgs, RunTarget};
use super::save::{write_json, write_pictures, write_text};
use super::{parse_scenario_and_canaries, usage_error};
use shardsim::faults::FaultPlan;
use shardsim::knobs;
use shardsim::report::exit_code;
use shardsim::Simulation;

/// The simulation the flags ask for, or the usage exit code with the error printed.
pub(crate) fn simulation_from(args: &RunTarget) -> Result<Simulation, i32> {
    let (scenario, canaries) = parse_scenario_and_canaries(&args.scenario, &args.canary).map_err(usage_error)?;
    let seed = args.seed.ok_or_else(|| usage_error("--seed is required"))?;
    let mut simulation = Simulation::new(seed).scenario(scenario);
    for canary in canaries {
        simulation = simulation.canary(canary);
    }
    if let Some(path) = &args.knobs {
        simulation = knobs::load(path)
            .and_then(|pins| simulation.clone().knobs(pins, Some(path.display().to_string())))
            .map_err(usage_error)?;
    }
    if let Some(path) = &args.plan {
        let spec = simulation.scenario_spec();
        let plan = FaultPlan::load(path)
            .and_then(|plan| plan.validate(spec.nodes_total(), spec.protocol.shard_count).map(|()| plan))
            .map_err(usage_error)?;
        simulation = simulation.plan(plan, Some(path.display().to_string()));
    }
    Ok(simulation)
}

pub fn run(args: RunArgs) -> i32 {
    let simulation = match simulation_from(&args.target) {
        Ok(simulation) => simulation
            .keep_trace(args.trace.is_some() || args.timeline.is_some() || args.plot.is_some())
            .record_schedule(args.save_schedule.is_some()),
        Err(code) => return code,
    };
    if let Some(path) = &args.save_plan {
        if let Err(code) = write_json(path, &simulation.fault_plan(), "plan file") {
            return code;
        }
    }
    let started = std::time::Instant::now();
    let mut outcome = simulation.run_outcome();
    let wall_ms = started.elapsed().as_millis() as u64;
    if let Err(code) = write_pictures(&simulation, &outcome, args.timeline.as_deref(), args.plot.as_deref()) {
        return code;
    }
    if let (Some(path), Some(lines)) = (&args.trace, outcome.trace_lines.take()) {
        if let Err(code) = write_text(path, &(lines.join("\n") + "\n"), "trace file") {
            return code;
        }
    }
    let schedule = args.save_schedule.as_ref().and_then(|path| Some((path, simulation.schedule(&outcome)?)));
    let report = simulation.report(outcome, wall_ms);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("reports serialize"));
    } else {
        print!("{}", report.render());
    }
    if let Some((path, schedule)) = schedule {
        if let Err(error) = schedule.save(path) {
            return usage_error(format!("cannot write schedule file {}: {error}", path.display()));
        }
        println!(
            "schedule: {} events saved to {}; replay in the lab with: shardsim explore --replay {}",
            schedule.events.len(),
            path.display(),
            path.display()
        );
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
