//! Many seeds in parallel: one thread per seed (madsim keeps a runtime per thread), a
//! report of every failure with the command that reproduces it.

use crate::knobs::Knobs;
use crate::oracle::coverage;
use crate::report::{exit_code, Report, Verdict};
use crate::scenario::ScenarioName;
use crate::simulation::{RunOutcome, Simulation};
use serde::{Deserialize, Serialize};
use shardsim_core::canary::Canary;
use shardsim_core::config::knobs::PLANNER_KNOB;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub seeds: Range<u64>,
    pub jobs: usize,
    pub scenario: ScenarioName,
    pub canaries: Vec<Canary>,
    pub fail_fast: bool,
    /// Knobs pinned for every seed, and the file they came from.
    pub pins: Option<(Knobs, String)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepFailure {
    pub seed: u64,
    pub invariant: String,
    pub exit_code: i32,
    pub message: String,
    pub reproduce: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    pub scenario: String,
    pub seeds: String,
    pub canaries: Vec<String>,
    pub jobs: usize,
    pub runs: u64,
    pub passed: u64,
    pub failures: Vec<SweepFailure>,
    pub wall_ms: u64,
    pub simulated_ms: u64,
    pub seeds_per_second: f64,
    pub simulated_seconds_per_wall_second: f64,
    /// Runs per planner the knobs chose.
    pub planners: BTreeMap<String, u64>,
    /// The smallest and largest value each numeric knob took.
    pub knob_spread: BTreeMap<String, KnobSpread>,
    /// Coverage events reached, summed over runs.
    pub coverage: BTreeMap<String, u64>,
    /// Coverage events no run reached: paths this sweep did not test.
    pub coverage_never_reached: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnobSpread {
    pub min: f64,
    pub max: f64,
}

/// What a sweep learns of its runs' knobs and coverage, run by run.
#[derive(Default)]
struct Tally {
    planners: BTreeMap<String, u64>,
    knob_spread: BTreeMap<String, KnobSpread>,
    coverage: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, report: &Report) {
        if let Some(planner) = report.knobs.get(PLANNER_KNOB).and_then(|value| value.as_str()) {
            *self.planners.entry(planner.to_string()).or_default() += 1;
        }
        for (name, value) in &report.knobs {
            let Some(value) = value.as_f64() else { continue };
            self.knob_spread
                .entry(name.clone())
                .and_modify(|spread| {
                    spread.min = spread.min.min(value);
                    spread.max = spread.max.max(value);
                })
                .or_insert(KnobSpread { min: value, max: value });
        }
        for (event, count) in &report.summary.coverage {
            *self.coverage.entry(event.clone()).or_default() += count;
        }
    }

    fn never_reached(&self) -> Vec<String> {
        coverage::goals().into_iter().filter(|goal| !self.coverage.contains_key(goal)).collect()
    }
}

impl SweepReport {
    /// The exit code of the lowest failing seed, or 0.
    pub fn exit_code(&self) -> i32 {
        self.failures.iter().min_by_key(|failure| failure.seed).map_or(exit_code::PASS, |failure| failure.exit_code)
    }
}

fn failure_of(report: &Report) -> Option<SweepFailure> {
    let message = match &report.verdict {
        Verdict::Pass => return None,
        Verdict::Safety { violation } | Verdict::Liveness { violation } => violation.message.clone(),
        Verdict::Crash { message } => message.clone(),
    };
    Some(SweepFailure {
        seed: report.seed,
        invariant: report.verdict.label(),
        exit_code: report.verdict.exit_code(),
        message,
        reproduce: report.reproduce.clone(),
    })
}

/// Runs every seed of the range (or up to the first failure, with `fail_fast`), calling
/// `on_report` on the calling thread as each seed ends.
pub fn sweep(options: &SweepOptions, mut on_report: impl FnMut(&Report)) -> SweepReport {
    let started = std::time::Instant::now();
    let next_seed = Arc::new(AtomicU64::new(options.seeds.start));
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = mpsc::channel::<Report>();
    let mut workers = Vec::new();
    for _ in 0..options.jobs.max(1) {
        let (next_seed, stop, sender, options) = (next_seed.clone(), stop.clone(), sender.clone(), options.clone());
        workers.push(std::thread::spawn(move || loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let seed = next_seed.fetch_add(1, Ordering::SeqCst);
            if seed >= options.seeds.end {
                return;
            }
            let mut simulation = Simulation::new(seed).scenario(options.scenario);
            for canary in &options.canaries {
                simulation = simulation.canary(*canary);
            }
            let report = match &options.pins {
                None => simulation.run(),
                Some((pins, file)) => match simulation.clone().knobs(pins.clone(), Some(file.clone())) {
                    Ok(pinned) => pinned.run(),
                    Err(error) => simulation.report(RunOutcome::crashed(error.to_string()), 0),
                },
            };
            if options.fail_fast && !report.verdict.is_pass() {
                stop.store(true, Ordering::SeqCst);
            }
            if sender.send(report).is_err() {
                return;
            }
        }));
    }
    drop(sender);
    let (mut runs, mut passed, mut simulated_ms) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    for report in receiver {
        runs += 1;
        tally.add(&report);
        simulated_ms += report.summary.simulated_ms;
        match failure_of(&report) {
            Some(failure) => failures.push(failure),
            None => passed += 1,
        }
        on_report(&report);
    }
    for worker in workers {
        let _ = worker.join();
    }
    failures.sort_by_key(|failure| failure.seed);
    let wall_ms = started.elapsed().as_millis() as u64;
    let wall_s = (wall_ms as f64 / 1000.0).max(1e-3);
    SweepReport {
        scenario: options.scenario.to_string(),
        seeds: format!("{}..{}", options.seeds.start, options.seeds.end),
        canaries: options.canaries.iter().map(|canary| canary.to_string()).collect(),
        jobs: options.jobs,
        runs,
        passed,
        failures,
        wall_ms,
        simulated_ms,
        seeds_per_second: runs as f64 / wall_s,
        simulated_seconds_per_wall_second: simulated_ms as f64 / 1000.0 / wall_s,
        coverage_never_reached: tally.never_reached(),
        planners: tally.planners,
        knob_spread: tally.knob_spread,
        coverage: tally.coverage,
    }
}

/// Parses `A..B` (B exclusive) into a non-empty range.
pub fn parse_seed_range(text: &str) -> Result<Range<u64>, String> {
    let (start, end) = text.split_once("..").ok_or_else(|| format!("seed range `{text}` is not of the form A..B"))?;
    let start: u64 = start.trim().parse().map_err(|_| format!("seed range start `{start}` is not a number"))?;
    let end: u64 = end.trim().parse().map_err(|_| format!("seed range end `{end}` is not a number"))?;
    if start >= end {
        return Err(format!("seed range {start}..{end} is empty (the end is exclusive)"));
    }
    Ok(start..end)
}

#[cfg(test)]
mod tests {
    use super::parse_seed_range;

    #[test]
    fn seed_ranges_parse_or_say_why_not() {
        assert_eq!(parse_seed_range("0..200"), Ok(0..200));
        assert!(parse_seed_range("5..5").unwrap_err().contains("empty"));
        assert!(parse_seed_range("7").unwrap_err().contains("A..B"));
        assert!(parse_seed_range("a..3").unwrap_err().contains("not a number"));
    }
}
