//! The library API: build a [`Simulation`], run a seed, get a [`Report`].
//!
//! ```ignore
//! let report = Simulation::new(42).scenario(ScenarioName::Chaos).run();
//! assert!(report.verdict.is_pass(), "{}", report.render());
//! ```

use crate::fault_draw::generate;
use crate::faults::FaultPlan;
use crate::knobs::{self, KnobError, Knobs};
use crate::report::{Report, Verdict};
pub use crate::run::{RunOutcome, RunSpec};
use crate::scenario::{Scenario, ScenarioName};
use crate::world::{Schedule, ScheduleHeader, SCHEDULE_FORMAT};
use shardsim_core::canary::Canary;
use shardsim_core::planner::Planner;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Simulation {
    seed: u64,
    scenario: Scenario,
    plan: Option<(FaultPlan, Option<String>)>,
    /// Knobs pinned over the scenario's (and the seed's draw), and the file they came from.
    pins: Option<(Knobs, Option<String>)>,
    canaries: Vec<Canary>,
    keep_trace: bool,
    check_invariants: bool,
    liveness_fixed_ms: Option<u64>,
    record_schedule: bool,
    planner: Option<Arc<dyn Planner>>,
}

impl Simulation {
    pub fn new(seed: u64) -> Simulation {
        Simulation {
            seed,
            scenario: Scenario::named(ScenarioName::DEFAULT),
            plan: None,
            pins: None,
            canaries: Vec::new(),
            keep_trace: false,
            check_invariants: true,
            liveness_fixed_ms: None,
            record_schedule: false,
            planner: None,
        }
    }

    pub fn scenario(mut self, name: ScenarioName) -> Simulation {
        self.scenario = Scenario::named(name);
        self
    }

    /// A scenario with its knobs changed (shorter phases for tests, another cluster shape,
    /// knobs pinned over its draw); refused if its pinned knobs are not valid.
    pub fn custom_scenario(mut self, scenario: Scenario) -> Result<Simulation, KnobError> {
        knobs::resolve(self.seed, &scenario, self.pins.as_ref().map(|(pins, _)| pins))?;
        self.scenario = scenario;
        Ok(self)
    }

    /// Replays this plan instead of drawing one from the seed. `file` names where it came
    /// from, for the reproduce command.
    pub fn plan(mut self, plan: FaultPlan, file: Option<String>) -> Simulation {
        self.plan = Some((plan, file));
        self
    }

    /// Pins these knobs over whatever the scenario and the seed's draw give; checked at
    /// once, so a bad value is an error here rather than a crash mid-run. `file` names
    /// where they came from, for the reproduce command.
    pub fn knobs(mut self, pins: Knobs, file: Option<String>) -> Result<Simulation, KnobError> {
        knobs::resolve(self.seed, &self.scenario, Some(&pins))?;
        self.pins = Some((pins, file));
        Ok(self)
    }

    pub fn canary(mut self, canary: Canary) -> Simulation {
        if !self.canaries.contains(&canary) {
            self.canaries.push(canary);
        }
        self
    }

    /// Keep every trace line (JSON) in the outcome, for `--trace FILE`.
    pub fn keep_trace(mut self, keep: bool) -> Simulation {
        self.keep_trace = keep;
        self
    }

    /// Turns the oracle off, to measure what it costs (`shardsim bench`); such a run
    /// judges nothing.
    pub fn check_invariants(mut self, check: bool) -> Simulation {
        self.check_invariants = check;
        self
    }

    /// For measurements: run the liveness phase for exactly this long and judge nothing.
    pub fn liveness_fixed_ms(mut self, duration_ms: u64) -> Simulation {
        self.liveness_fixed_ms = Some(duration_ms);
        self
    }

    /// Record every event the world applies, for [`Simulation::schedule`] and
    /// `--save-schedule`.
    pub fn record_schedule(mut self, record: bool) -> Simulation {
        self.record_schedule = record;
        self
    }

    /// Runs the coordinator with `planner` instead of the scenario's built-in one: the
    /// oracle holds it to the contract every planner shares (caps, nothing in flight,
    /// owners, accepting targets) and the run to its liveness rules.
    pub fn planner(mut self, planner: Arc<dyn Planner>) -> Simulation {
        self.planner = Some(planner);
        self
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The scenario as this seed runs it: its knobs drawn (in a knob-swarm scenario) and
    /// pinned.
    pub fn scenario_spec(&self) -> Scenario {
        let pins = self.pins.as_ref().map(|(pins, _)| pins);
        knobs::resolve(self.seed, &self.scenario, pins)
            .expect("the scenario's and the file's pins were checked when set")
    }

    /// The fault plan this simulation will run, with the knobs it runs under.
    pub fn fault_plan(&self) -> FaultPlan {
        let scenario = self.scenario_spec();
        let mut plan = match &self.plan {
            Some((plan, _)) => plan.clone(),
            None => generate(self.seed, &scenario),
        };
        plan.knobs = knobs::listing(&scenario);
        plan
    }

    pub fn spec(&self) -> RunSpec {
        RunSpec {
            seed: self.seed,
            scenario: self.scenario_spec(),
            plan: self.fault_plan(),
            plan_file: self.plan.as_ref().and_then(|(_, file)| file.clone()),
            canaries: self.canaries.clone(),
            keep_trace: self.keep_trace,
            check_invariants: self.check_invariants,
            liveness_fixed_ms: self.liveness_fixed_ms,
            record_schedule: self.record_schedule,
            planner: self.planner.clone(),
        }
    }

    /// What a schedule recorded from this simulation says about it, and what a replay
    /// must match.
    pub fn schedule_header(&self) -> ScheduleHeader {
        ScheduleHeader {
            format: SCHEDULE_FORMAT,
            seed: self.seed,
            scenario: self.scenario.name.to_string(),
            canaries: self.canaries.iter().map(|canary| canary.to_string()).collect(),
            knobs: knobs::listing(&self.scenario_spec()),
        }
    }

    /// The schedule a recorded run applied (`None` unless `record_schedule` was on).
    pub fn schedule(&self, outcome: &RunOutcome) -> Option<Schedule> {
        let events = outcome.schedule.clone()?;
        let invariant = match &outcome.verdict {
            Verdict::Safety { violation } | Verdict::Liveness { violation } => Some(violation.invariant.clone()),
            Verdict::Pass | Verdict::Crash { .. } => None,
        };
        Some(Schedule {
            header: self.schedule_header(),
            trace_hash: format!("{:016x}", outcome.trace_hash),
            invariant,
            events,
        })
    }

    /// The command that reruns exactly this simulation.
    pub fn reproduce_command(&self) -> String {
        let mut command = format!("shardsim run --seed {} --scenario {}", self.seed, self.scenario.name);
        for canary in &self.canaries {
            command.push_str(&format!(" --canary {canary}"));
        }
        if let Some((_, Some(file))) = &self.plan {
            command.push_str(&format!(" --plan {file}"));
        }
        if let Some((_, Some(file))) = &self.pins {
            command.push_str(&format!(" --knobs {file}"));
        }
        command
    }

    /// Runs on a thread of its own (madsim keeps its runtime per thread); a panic becomes
    /// a crash verdict.
    pub fn run_outcome(&self) -> RunOutcome {
        let spec = self.spec();
        let joined = std::thread::Builder::new()
            .name(format!("seed-{}", self.seed))
            .spawn(move || run_spec(&spec))
            .expect("spawn a simulation thread")
            .join();
        joined.unwrap_or_else(|payload| {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|text| text.to_string()))
                .unwrap_or_else(|| "panic with a non-text payload".to_string());
            RunOutcome::crashed(message)
        })
    }

    pub fn run(&self) -> Report {
        let wall_started = std::time::Instant::now();
        let outcome = self.run_outcome();
        self.report(outcome, wall_started.elapsed().as_millis() as u64)
    }

    pub fn report(&self, outcome: RunOutcome, wall_ms: u64) -> Report {
        Report {
            seed: self.seed,
            scenario: self.scenario.name.to_string(),
            canaries: self.canaries.iter().map(|canary| canary.to_string()).collect(),
            plan_file: self.plan.as_ref().and_then(|(_, file)| file.clone()),
            knobs: knobs::listing(&self.scenario_spec()),
            verdict: outcome.verdict,
            summary: outcome.summary,
            trace_hash: format!("{:016x}", outcome.trace_hash),
            wall_ms,
            reproduce: self.reproduce_command(),
        }
    }
}

#[cfg(madsim)]
fn run_spec(spec: &RunSpec) -> RunOutcome {
    crate::cluster::run(spec)
}

#[cfg(not(madsim))]
fn run_spec(_spec: &RunSpec) -> RunOutcome {
    panic!("the madsim cluster needs `--cfg madsim`; build inside the shardsim workspace");
}
