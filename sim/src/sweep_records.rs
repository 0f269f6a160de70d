//! What a sweep keeps of every seed, so that two reports (two shards, two machines, two
//! builds) can be compared seed by seed: the verdict, the trace hash, the times, and a
//! hash of the knobs the seed drew.

use crate::report::{Report, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    /// `pass`, `safety`, `liveness` or `crash`.
    pub verdict: String,
    /// The broken invariant, for a safety or liveness verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariant: Option<String>,
    pub exit_code: i32,
    /// FNV-1a over every observation and nemesis action, in order (as `run` prints it).
    pub trace_hash: String,
    pub simulated_ms: u64,
    pub wall_ms: u64,
    /// FNV-1a of the knobs as JSON: equal hashes, equal knobs.
    pub knobs_hash: String,
}

impl SeedRecord {
    pub fn of(report: &Report) -> SeedRecord {
        let verdict = match report.verdict {
            Verdict::Pass => "pass",
            Verdict::Safety { .. } => "safety",
            Verdict::Liveness { .. } => "liveness",
            Verdict::Crash { .. } => "crash",
        };
        let knobs = serde_json::to_vec(&report.knobs).expect("knobs serialize");
        SeedRecord {
            seed: report.seed,
            verdict: verdict.to_string(),
            invariant: report.verdict.violation().map(|violation| violation.invariant.clone()),
            exit_code: report.verdict.exit_code(),
            trace_hash: report.trace_hash.clone(),
            simulated_ms: report.summary.simulated_ms,
            wall_ms: report.wall_ms,
            knobs_hash: format!("{:016x}", crate::trace::fnv1a(&knobs)),
        }
    }

    /// Whether two runs of this seed came out the same: verdict, invariant, trace.
    pub fn same_run(&self, other: &SeedRecord) -> bool {
        (&self.verdict, &self.invariant, &self.trace_hash, &self.knobs_hash)
            == (&other.verdict, &other.invariant, &other.trace_hash, &other.knobs_hash)
    }
}

/// A seed that ran twice in one process (`--check-determinism-every`) and hashed
/// differently: the simulation is not a function of its seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeterminismMismatch {
    pub seed: u64,
    pub first_hash: String,
    pub second_hash: String,
    pub reproduce: String,
}

/// Which seeds a sweep ran: its shard of the range, and how far it got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedsRun {
    /// How many seeds ran.
    pub count: u64,
    /// How many seeds the shard of the range holds.
    pub of: u64,
    /// Whether every one of them ran (`--for` or `--fail-fast` may stop a sweep early).
    pub complete: bool,
    /// The shard's seeds run, as the first k of its sequence: the last one, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through_seed: Option<u64>,
}
