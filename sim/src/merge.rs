//! `shardsim merge`: many sweep reports (shards of one range, or ranges run apart) as
//! one: totals, failures grouped by signature again, and every seed of the inputs' ranges
//! that no input ran (a shard lost, a `--for` cut short) or that ran twice flagged. A seed that ran twice and came out differently is a determinism
//! failure. Reports of different scenarios, canary sets or versions are refused.

use crate::oracle::coverage;
use crate::sweep::{group_by_signature, parse_seed_range, KnobSpread, SweepFailure, SweepReport};
use crate::sweep_records::{DeterminismMismatch, SeedRecord, SeedsRun};
use std::collections::{BTreeMap, BTreeSet};

/// Seeds a merge enumerates to find the missing ones, at most: beyond that the ranges
/// are not ones a fleet ran whole.
const EXPECTED_SEEDS_MAX: u64 = 50_000_000;

/// What a merge found beyond the merged report.
#[derive(Debug, Default)]
pub struct MergeFindings {
    /// Seeds the inputs' ranges and shards hold that no input ran (how many, the first).
    pub missing: u64,
    pub missing_first: Vec<u64>,
    /// Seeds more than one input ran.
    pub run_twice: Vec<u64>,
    /// Seeds whose faults, coverage, planner and convergence figures the totals hold
    /// twice: an input that overlaps earlier ones in part adds its sums whole (a report
    /// holds sums, not each seed's). An input every seed of which ran before adds none.
    pub counted_twice: u64,
}

fn refuse_mixed(named: &[(String, SweepReport)]) -> Result<(), String> {
    let (first_name, first) = &named[0];
    if first.version.is_empty() {
        return Err(format!("{first_name} has no version: it was written by an older shardsim; sweep again"));
    }
    let canaries = |report: &SweepReport| report.canaries.iter().cloned().collect::<BTreeSet<String>>();
    for (name, report) in &named[1..] {
        let differs = |what: &str, mine: String, theirs: String| {
            format!("cannot merge {name} into {first_name}: {what} {theirs} differs from {mine}")
        };
        if report.version != first.version {
            return Err(differs("shardsim version", first.version.clone(), report.version.clone()));
        }
        if report.scenario != first.scenario {
            return Err(differs("scenario", first.scenario.clone(), report.scenario.clone()));
        }
        if canaries(report) != canaries(first) {
            return Err(differs("canaries", format!("{:?}", first.canaries), format!("{:?}", report.canaries)));
        }
    }
    Ok(())
}

/// The seeds of one input's range: all of them, whichever shard the input ran, so that a
/// shard no report covers shows up as missing seeds.
fn expected_seeds(name: &str, report: &SweepReport, into: &mut BTreeSet<u64>) -> Result<(), String> {
    for range in report.seeds.split(',') {
        let range = parse_seed_range(range).map_err(|error| format!("{name}: {error}"))?;
        if into.len() as u64 + (range.end - range.start) > EXPECTED_SEEDS_MAX {
            return Err(format!("{name}: its range {} is too wide to check for missing seeds", report.seeds));
        }
        into.extend(range);
    }
    Ok(())
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key.clone()).or_default() += count;
    }
}

pub fn merge(named: &[(String, SweepReport)]) -> Result<(SweepReport, MergeFindings), String> {
    if named.is_empty() {
        return Err("nothing to merge".to_string());
    }
    refuse_mixed(named)?;
    let mut findings = MergeFindings::default();
    let mut expected = BTreeSet::new();
    let mut records: BTreeMap<u64, SeedRecord> = BTreeMap::new();
    let mut failures: BTreeMap<u64, SweepFailure> = BTreeMap::new();
    let mut mismatches: Vec<DeterminismMismatch> = Vec::new();
    let mut merged = named[0].1.clone();
    merged.shards.clear();
    let (mut ranges, mut balanced_runs, mut heal_total_ms) = (Vec::new(), 0u64, 0f64);
    for (index, (name, report)) in named.iter().enumerate() {
        expected_seeds(name, report, &mut expected)?;
        let ran_before = report.records.iter().filter(|record| records.contains_key(&record.seed)).count();
        let adds_no_seed = ran_before > 0 && ran_before == report.records.len();
        if !adds_no_seed {
            findings.counted_twice += ran_before as u64;
            let balanced = report.runs.saturating_sub(report.convergence.runs_never_balanced);
            balanced_runs += balanced;
            heal_total_ms += report.convergence.heal_to_balance_ms_mean * balanced as f64;
        }
        if !ranges.contains(&report.seeds) {
            ranges.push(report.seeds.clone());
        }
        merged.shards.extend(report.shards.iter().cloned());
        for failure in &report.failures {
            failures.entry(failure.seed).or_insert_with(|| failure.clone());
        }
        mismatches.extend(report.determinism_mismatches.iter().cloned());
        for record in &report.records {
            match records.get(&record.seed) {
                None => {
                    records.insert(record.seed, record.clone());
                }
                Some(earlier) => {
                    findings.run_twice.push(record.seed);
                    if !earlier.same_run(record) {
                        let reproduce = failures.get(&record.seed).map_or_else(
                            || format!("shardsim run --seed {} --scenario {}", record.seed, report.scenario),
                            |failure| failure.reproduce.clone(),
                        );
                        mismatches.push(DeterminismMismatch {
                            seed: record.seed,
                            first_hash: earlier.trace_hash.clone(),
                            second_hash: record.trace_hash.clone(),
                            reproduce: format!("{reproduce} --check-determinism"),
                        });
                    }
                }
            }
        }
        if index == 0 || adds_no_seed {
            continue;
        }
        merged.jobs += report.jobs;
        merged.wall_ms = merged.wall_ms.max(report.wall_ms);
        add_counts(&mut merged.planners, &report.planners);
        add_counts(&mut merged.coverage, &report.coverage);
        add_counts(&mut merged.faults_injected, &report.faults_injected);
        add_counts(&mut merged.faults_skipped, &report.faults_skipped);
        for (knob, spread) in &report.knob_spread {
            let merged_spread = merged.knob_spread.entry(knob.clone()).or_insert(*spread);
            *merged_spread =
                KnobSpread { min: merged_spread.min.min(spread.min), max: merged_spread.max.max(spread.max) };
        }
        let convergence = &mut merged.convergence;
        convergence.moves_total += report.convergence.moves_total;
        convergence.thrash_total += report.convergence.thrash_total;
        convergence.runs_with_thrash += report.convergence.runs_with_thrash;
        convergence.runs_never_balanced += report.convergence.runs_never_balanced;
        convergence.load_max_over_mean_worst =
            convergence.load_max_over_mean_worst.max(report.convergence.load_max_over_mean_worst);
        convergence.heal_to_balance_ms_max =
            convergence.heal_to_balance_ms_max.max(report.convergence.heal_to_balance_ms_max);
        merged.determinism_checked += report.determinism_checked;
    }
    merged.convergence.heal_to_balance_ms_mean = heal_total_ms / balanced_runs.max(1) as f64;
    let missing: Vec<u64> = expected.iter().copied().filter(|seed| !records.contains_key(seed)).collect();
    findings.missing = missing.len() as u64;
    findings.missing_first = missing.into_iter().take(20).collect();
    findings.run_twice.sort_unstable();
    findings.run_twice.dedup();
    mismatches.sort_by_key(|mismatch| mismatch.seed);
    let failures: Vec<SweepFailure> = failures.into_values().collect();
    merged.seeds = ranges.join(",");
    merged.runs = records.len() as u64;
    merged.passed = records.values().filter(|record| record.verdict == "pass").count() as u64;
    merged.simulated_ms = records.values().map(|record| record.simulated_ms).sum();
    let wall_s = (merged.wall_ms as f64 / 1000.0).max(1e-3);
    merged.seeds_per_second = merged.runs as f64 / wall_s;
    merged.simulated_seconds_per_wall_second = merged.simulated_ms as f64 / 1000.0 / wall_s;
    merged.signatures = group_by_signature(&failures);
    merged.failures = failures;
    merged.coverage_never_reached =
        coverage::goals().into_iter().filter(|goal| !merged.coverage.contains_key(goal)).collect();
    merged.determinism_mismatches = mismatches;
    merged.seeds_run =
        SeedsRun { count: merged.runs, of: expected.len() as u64, complete: findings.missing == 0, through_seed: None };
    merged.records = records.into_values().collect();
    Ok((merged, findings))
}
