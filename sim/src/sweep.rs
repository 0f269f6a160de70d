//! Many seeds in parallel: one thread per seed (madsim keeps a runtime per thread), a
//! report of every failure with the command that reproduces it.

use crate::knobs::Knobs;
use crate::oracle::coverage;
use crate::report::{exit_code, Report, Verdict};
use crate::scenario::ScenarioName;
use crate::simulation::{RunOutcome, Simulation};
use crate::sweep_records::{DeterminismMismatch, SeedRecord, SeedsRun};
use crate::sweep_shard::SeedShard;
use serde::{Deserialize, Serialize};
use shardsim_core::canary::Canary;
use shardsim_core::config::knobs::PLANNER_KNOB;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub seeds: Range<u64>,
    /// Which of the range's seeds this process runs.
    pub shard: SeedShard,
    pub jobs: usize,
    pub scenario: ScenarioName,
    pub canaries: Vec<Canary>,
    pub fail_fast: bool,
    /// Knobs pinned for every seed, and the file they came from.
    pub pins: Option<(Knobs, String)>,
    /// Start no seed after this much wall time (the seeds started finish).
    pub run_for: Option<Duration>,
    /// Run every k-th seed of the shard twice and compare the trace hashes.
    pub determinism_every: Option<u64>,
}

impl SweepOptions {
    /// Every seed of `seeds` once, on `jobs` threads, nothing else asked.
    pub fn new(seeds: Range<u64>, scenario: ScenarioName, jobs: usize) -> SweepOptions {
        SweepOptions {
            seeds,
            shard: SeedShard::WHOLE,
            jobs,
            scenario,
            canaries: Vec::new(),
            fail_fast: false,
            pins: None,
            run_for: None,
            determinism_every: None,
        }
    }
}

/// The version reports carry: merging reports of different builds is refused.
pub const REPORT_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepFailure {
    pub seed: u64,
    pub invariant: String,
    /// The kind of event that broke it (see `Violation::trigger`); `panic` for a crash.
    #[serde(default)]
    pub trigger: String,
    pub exit_code: i32,
    pub message: String,
    pub reproduce: String,
}

/// The runs' convergence figures summed up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepConvergence {
    pub moves_total: u64,
    pub thrash_total: u64,
    /// Runs with at least one shard moved back to a node it had left.
    pub runs_with_thrash: u64,
    /// The worst hottest-over-mean load any run ended with.
    pub load_max_over_mean_worst: f64,
    /// Over the runs that reached balance after the heal.
    pub heal_to_balance_ms_mean: f64,
    pub heal_to_balance_ms_max: u64,
    pub runs_never_balanced: u64,
}

impl SweepConvergence {
    fn add(&mut self, run: &crate::oracle::convergence::Convergence, balanced_runs: &mut u64) {
        self.moves_total += run.moves_total;
        self.thrash_total += run.thrash;
        self.runs_with_thrash += u64::from(run.thrash > 0);
        self.load_max_over_mean_worst = self.load_max_over_mean_worst.max(run.load_max_over_mean());
        match run.heal_to_balance_ms {
            Some(ms) => {
                *balanced_runs += 1;
                self.heal_to_balance_ms_mean += (ms as f64 - self.heal_to_balance_ms_mean) / *balanced_runs as f64;
                self.heal_to_balance_ms_max = self.heal_to_balance_ms_max.max(ms);
            }
            None => self.runs_never_balanced += 1,
        }
    }
}

impl std::fmt::Display for SweepConvergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "moves {}, thrash {} (in {} runs); worst load max/mean {:.2}; heal to balance mean {:.0} ms, max {} ms, never in {} runs",
            self.moves_total,
            self.thrash_total,
            self.runs_with_thrash,
            self.load_max_over_mean_worst,
            self.heal_to_balance_ms_mean,
            self.heal_to_balance_ms_max,
            self.runs_never_balanced
        )
    }
}

/// Failures with one signature: the same invariant broken by the same kind of event.
/// Most often one bug; its smallest seed is the one to look at first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureSignature {
    pub invariant: String,
    pub trigger: String,
    pub exit_code: i32,
    /// Every failing seed with this signature, smallest first.
    pub seeds: Vec<u64>,
    /// The smallest seed's message and reproduce command.
    pub message: String,
    pub reproduce: String,
}

/// Groups failures by signature, the signature with the smallest seed first.
pub fn group_by_signature(failures: &[SweepFailure]) -> Vec<FailureSignature> {
    let mut groups: BTreeMap<(String, String), FailureSignature> = BTreeMap::new();
    let mut sorted: Vec<&SweepFailure> = failures.iter().collect();
    sorted.sort_by_key(|failure| failure.seed);
    for failure in sorted {
        groups
            .entry((failure.invariant.clone(), failure.trigger.clone()))
            .or_insert_with(|| FailureSignature {
                invariant: failure.invariant.clone(),
                trigger: failure.trigger.clone(),
                exit_code: failure.exit_code,
                seeds: Vec::new(),
                message: failure.message.clone(),
                reproduce: failure.reproduce.clone(),
            })
            .seeds
            .push(failure.seed);
    }
    let mut signatures: Vec<FailureSignature> = groups.into_values().collect();
    signatures.sort_by_key(|signature| signature.seeds[0]);
    signatures
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepReport {
    /// The shardsim version that wrote it.
    #[serde(default)]
    pub version: String,
    pub scenario: String,
    pub seeds: String,
    /// The shard of the range this sweep ran (`0/1`: all of it); a merged report lists
    /// each part's.
    #[serde(default)]
    pub shards: Vec<String>,
    /// How many of the shard's seeds ran, and whether all did.
    #[serde(default)]
    pub seeds_run: SeedsRun,
    pub canaries: Vec<String>,
    pub jobs: usize,
    pub runs: u64,
    pub passed: u64,
    pub failures: Vec<SweepFailure>,
    /// The failures grouped by signature: how many distinct failures the sweep found.
    #[serde(default)]
    pub signatures: Vec<FailureSignature>,
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
    /// Convergence over every run: moves, thrash, and the time from heal to balance.
    #[serde(default)]
    pub convergence: SweepConvergence,
    /// Coverage events no run reached: paths this sweep did not test.
    pub coverage_never_reached: Vec<String>,
    /// Faults injected and skipped, by kind, summed over runs: what the sweep hit how often.
    #[serde(default)]
    pub faults_injected: BTreeMap<String, u64>,
    #[serde(default)]
    pub faults_skipped: BTreeMap<String, u64>,
    /// Seeds run twice to check determinism, and those whose two runs differed.
    #[serde(default)]
    pub determinism_checked: u64,
    #[serde(default)]
    pub determinism_mismatches: Vec<DeterminismMismatch>,
    /// One record per seed run, by seed: what `merge` and seed-by-seed comparisons read.
    #[serde(default)]
    pub records: Vec<SeedRecord>,
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
    convergence: SweepConvergence,
    balanced_runs: u64,
    faults_injected: BTreeMap<String, u64>,
    faults_skipped: BTreeMap<String, u64>,
}

impl Tally {
    fn add(&mut self, report: &Report) {
        self.convergence.add(&report.summary.convergence, &mut self.balanced_runs);
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
        for (totals, counts) in [
            (&mut self.faults_injected, &report.summary.faults_injected),
            (&mut self.faults_skipped, &report.summary.faults_skipped),
        ] {
            for (kind, count) in counts {
                *totals.entry(kind.clone()).or_default() += count;
            }
        }
    }

    fn never_reached(&self) -> Vec<String> {
        coverage::goals().into_iter().filter(|goal| !self.coverage.contains_key(goal)).collect()
    }
}

impl SweepReport {
    /// 5 if a determinism check failed, else the exit code of the lowest failing seed,
    /// or 0.
    pub fn exit_code(&self) -> i32 {
        if !self.determinism_mismatches.is_empty() {
            return exit_code::CRASH;
        }
        self.failures.iter().min_by_key(|failure| failure.seed).map_or(exit_code::PASS, |failure| failure.exit_code)
    }
}

fn failure_of(report: &Report) -> Option<SweepFailure> {
    let (message, trigger) = match &report.verdict {
        Verdict::Pass => return None,
        Verdict::Safety { violation } | Verdict::Liveness { violation } => {
            (violation.message.clone(), violation.trigger.clone())
        }
        Verdict::Crash { message } => (message.clone(), "panic".to_string()),
    };
    Some(SweepFailure {
        seed: report.seed,
        invariant: report.verdict.label(),
        trigger,
        exit_code: report.verdict.exit_code(),
        message,
        reproduce: report.reproduce.clone(),
    })
}

/// The simulation a sweep runs for `seed`; with the knob error (and the unpinned
/// simulation, to report it) if the pinned knobs conflict with this seed's draw.
pub fn simulation_for(options: &SweepOptions, seed: u64) -> Result<Simulation, Box<(Simulation, String)>> {
    let mut simulation = Simulation::new(seed).scenario(options.scenario);
    for canary in &options.canaries {
        simulation = simulation.canary(*canary);
    }
    match &options.pins {
        None => Ok(simulation),
        Some((pins, file)) => simulation
            .clone()
            .knobs(pins.clone(), Some(file.clone()))
            .map_err(|error| Box::new((simulation, error.to_string()))),
    }
}

/// One seed's run, with its second run's trace hash when it is checked for determinism.
struct SeedOutcome {
    report: Report,
    rerun_hash: Option<String>,
}

fn run_seed(options: &SweepOptions, seed: u64, check_determinism: bool) -> SeedOutcome {
    match simulation_for(options, seed) {
        Ok(simulation) => {
            let report = simulation.run();
            let rerun_hash = check_determinism.then(|| format!("{:016x}", simulation.run_outcome().trace_hash));
            SeedOutcome { report, rerun_hash }
        }
        Err(unpinned) => {
            let (simulation, error) = *unpinned;
            SeedOutcome { report: simulation.report(RunOutcome::crashed(error), 0), rerun_hash: None }
        }
    }
}

/// Runs the shard's seeds of the range in order on `jobs` threads (up to the first
/// failure with `fail_fast`, or until `run_for` is spent), calling `on_report` on the
/// calling thread as each seed ends. Seeds are handed out in order and every one handed
/// out finishes, so the seeds run are always the first k of the shard's sequence.
pub fn sweep(options: &SweepOptions, mut on_report: impl FnMut(&Report)) -> SweepReport {
    let started = std::time::Instant::now();
    let next_k = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (sender, receiver) = mpsc::channel::<SeedOutcome>();
    let mut workers = Vec::new();
    for _ in 0..options.jobs.max(1) {
        let (next_k, stop, sender, options) = (next_k.clone(), stop.clone(), sender.clone(), options.clone());
        workers.push(std::thread::spawn(move || loop {
            let out_of_time = options.run_for.is_some_and(|limit| started.elapsed() >= limit);
            if stop.load(Ordering::SeqCst) || out_of_time {
                return;
            }
            let k = next_k.fetch_add(1, Ordering::SeqCst);
            let Some(seed) = options.shard.nth(&options.seeds, k) else { return };
            let check = options.determinism_every.is_some_and(|every| k % every.max(1) == 0);
            let outcome = run_seed(&options, seed, check);
            if options.fail_fast && !outcome.report.verdict.is_pass() {
                stop.store(true, Ordering::SeqCst);
            }
            if sender.send(outcome).is_err() {
                return;
            }
        }));
    }
    drop(sender);
    let (mut runs, mut passed, mut simulated_ms) = (0, 0, 0);
    let mut failures = Vec::new();
    let mut records = Vec::new();
    let (mut determinism_checked, mut determinism_mismatches) = (0, Vec::new());
    let mut tally = Tally::default();
    for SeedOutcome { report, rerun_hash } in receiver {
        runs += 1;
        tally.add(&report);
        simulated_ms += report.summary.simulated_ms;
        match failure_of(&report) {
            Some(failure) => failures.push(failure),
            None => passed += 1,
        }
        if let Some(second_hash) = rerun_hash {
            determinism_checked += 1;
            if second_hash != report.trace_hash {
                determinism_mismatches.push(DeterminismMismatch {
                    seed: report.seed,
                    first_hash: report.trace_hash.clone(),
                    second_hash,
                    reproduce: format!("{} --check-determinism", report.reproduce),
                });
            }
        }
        records.push(SeedRecord::of(&report));
        on_report(&report);
    }
    for worker in workers {
        let _ = worker.join();
    }
    failures.sort_by_key(|failure| failure.seed);
    records.sort_by_key(|record| record.seed);
    determinism_mismatches.sort_by_key(|mismatch: &DeterminismMismatch| mismatch.seed);
    let of = options.shard.len(&options.seeds);
    let seeds_run = SeedsRun {
        count: runs,
        of,
        complete: runs == of,
        through_seed: runs.checked_sub(1).and_then(|last| options.shard.nth(&options.seeds, last)),
    };
    let wall_ms = started.elapsed().as_millis() as u64;
    let wall_s = (wall_ms as f64 / 1000.0).max(1e-3);
    SweepReport {
        version: REPORT_VERSION.to_string(),
        scenario: options.scenario.to_string(),
        seeds: format!("{}..{}", options.seeds.start, options.seeds.end),
        shards: vec![options.shard.to_string()],
        seeds_run,
        canaries: options.canaries.iter().map(|canary| canary.to_string()).collect(),
        jobs: options.jobs,
        runs,
        passed,
        signatures: group_by_signature(&failures),
        failures,
        wall_ms,
        simulated_ms,
        seeds_per_second: runs as f64 / wall_s,
        simulated_seconds_per_wall_second: simulated_ms as f64 / 1000.0 / wall_s,
        coverage_never_reached: tally.never_reached(),
        planners: tally.planners,
        knob_spread: tally.knob_spread,
        coverage: tally.coverage,
        convergence: tally.convergence,
        faults_injected: tally.faults_injected,
        faults_skipped: tally.faults_skipped,
        determinism_checked,
        determinism_mismatches,
        records,
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
    use super::{group_by_signature, parse_seed_range, SweepFailure};

    fn failure(seed: u64, invariant: &str, trigger: &str) -> SweepFailure {
        SweepFailure {
            seed,
            invariant: invariant.into(),
            trigger: trigger.into(),
            exit_code: 3,
            message: format!("broken at seed {seed}"),
            reproduce: format!("shardsim run --seed {seed}"),
        }
    }

    #[test]
    fn failures_group_by_invariant_and_trigger_with_the_smallest_seed_first() {
        let failures = [
            failure(40, "single_writer", "WriteAcked"),
            failure(7, "no_lost_acked_write", "OwnershipTaken"),
            failure(12, "single_writer", "WriteAcked"),
            failure(3, "single_writer", "node_step"),
            failure(9, "no_lost_acked_write", "OwnershipTaken"),
        ];
        let groups = group_by_signature(&failures);
        let summary: Vec<(&str, &str, Vec<u64>)> = groups
            .iter()
            .map(|group| (group.invariant.as_str(), group.trigger.as_str(), group.seeds.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                ("single_writer", "node_step", vec![3]),
                ("no_lost_acked_write", "OwnershipTaken", vec![7, 9]),
                ("single_writer", "WriteAcked", vec![12, 40]),
            ]
        );
        assert_eq!(groups[1].reproduce, "shardsim run --seed 7", "a group reproduces from its smallest seed");
        assert!(group_by_signature(&[]).is_empty());
    }

    #[test]
    fn seed_ranges_parse_or_say_why_not() {
        assert_eq!(parse_seed_range("0..200"), Ok(0..200));
        assert!(parse_seed_range("5..5").unwrap_err().contains("empty"));
        assert!(parse_seed_range("7").unwrap_err().contains("A..B"));
        assert!(parse_seed_range("a..3").unwrap_err().contains("not a number"));
    }
}
