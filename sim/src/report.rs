//! What a run reports: its verdict, a summary, and how to reproduce it.

use crate::oracle::{Violation, ViolationClass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Exit codes of the `shardsim` command; documented in `--help` and the README.
pub mod exit_code {
    pub const PASS: i32 = 0;
    pub const USAGE: i32 = 2;
    pub const SAFETY: i32 = 3;
    pub const LIVENESS: i32 = 4;
    pub const CRASH: i32 = 5;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Safety {
        violation: Violation,
    },
    Liveness {
        violation: Violation,
    },
    /// A panic: a broken assertion in the core or the harness.
    Crash {
        message: String,
    },
}

impl Verdict {
    pub fn from_violation(violation: Violation) -> Verdict {
        match violation.class {
            ViolationClass::Safety => Verdict::Safety { violation },
            ViolationClass::Liveness => Verdict::Liveness { violation },
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Verdict::Pass => exit_code::PASS,
            Verdict::Safety { .. } => exit_code::SAFETY,
            Verdict::Liveness { .. } => exit_code::LIVENESS,
            Verdict::Crash { .. } => exit_code::CRASH,
        }
    }

    pub fn is_pass(&self) -> bool {
        matches!(self, Verdict::Pass)
    }

    /// A one-line name for tables: `pass`, the invariant, or `crash`.
    /// The broken invariant, for a safety or liveness verdict.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Verdict::Safety { violation } | Verdict::Liveness { violation } => Some(violation),
            Verdict::Pass | Verdict::Crash { .. } => None,
        }
    }

    pub fn label(&self) -> String {
        match self {
            Verdict::Pass => "pass".to_string(),
            Verdict::Safety { violation } | Verdict::Liveness { violation } => violation.invariant.clone(),
            Verdict::Crash { .. } => "crash".to_string(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub faults_injected: BTreeMap<String, u64>,
    /// Faults the plan named but the cluster could not take then (a replacement of a node
    /// that owned a shard, a fault on a node that had not joined).
    pub faults_skipped: BTreeMap<String, u64>,
    pub migrations_started: u64,
    pub migrations_completed: u64,
    pub migrations_aborted: BTreeMap<String, u64>,
    pub writes_acked: u64,
    pub writes_abandoned: u64,
    pub shards_per_node: BTreeMap<String, u32>,
    pub node_boots: u64,
    pub coordinator_boots: u64,
    pub simulated_ms: u64,
    pub steps: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub inputs_rejected: u64,
    /// Coverage events reached (see [`crate::oracle::coverage`]), with how often.
    pub coverage: BTreeMap<String, u64>,
    /// How the cluster got to balance: final max/mean, moves, thrash, heal to balance.
    #[serde(default)]
    pub convergence: crate::oracle::convergence::Convergence,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub seed: u64,
    pub scenario: String,
    pub canaries: Vec<String>,
    pub plan_file: Option<String>,
    /// Every knob the run used: the cluster's shape and the protocol's configuration.
    pub knobs: crate::knob_map::Knobs,
    pub verdict: Verdict,
    pub summary: Summary,
    /// FNV-1a over every observation and nemesis action, in order.
    pub trace_hash: String,
    pub wall_ms: u64,
    pub reproduce: String,
}

impl Report {
    pub fn render(&self) -> String {
        let summary = &self.summary;
        let mut text = String::new();
        let canaries =
            if self.canaries.is_empty() { String::new() } else { format!(" canaries={}", self.canaries.join(",")) };
        let _ = writeln!(text, "seed {} scenario {}{canaries}: {}", self.seed, self.scenario, self.verdict.label());
        let _ = writeln!(text, "  knobs: {}", crate::knobs::headline(&self.knobs));
        let faults: Vec<String> =
            summary.faults_injected.iter().map(|(kind, count)| format!("{kind}={count}")).collect();
        let _ = writeln!(
            text,
            "  faults injected: {}",
            if faults.is_empty() { "none".to_string() } else { faults.join(" ") }
        );
        if !summary.faults_skipped.is_empty() {
            let skipped: Vec<String> =
                summary.faults_skipped.iter().map(|(kind, count)| format!("{kind}={count}")).collect();
            let _ = writeln!(text, "  faults skipped:  {}", skipped.join(" "));
        }
        let aborted: u64 = summary.migrations_aborted.values().sum();
        let reasons: Vec<String> =
            summary.migrations_aborted.iter().map(|(reason, count)| format!("{reason}={count}")).collect();
        let _ = writeln!(
            text,
            "  migrations: started {} completed {} aborted {}{}",
            summary.migrations_started,
            summary.migrations_completed,
            aborted,
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(" ")) }
        );
        let _ = writeln!(text, "  writes: acked {} abandoned {}", summary.writes_acked, summary.writes_abandoned);
        let balance: Vec<String> =
            summary.shards_per_node.iter().map(|(node, count)| format!("{node}:{count}")).collect();
        let _ = writeln!(text, "  final shards per node: {}", balance.join(" "));
        let _ = writeln!(text, "  convergence: {}", summary.convergence);
        let _ = writeln!(
            text,
            "  boots: nodes {} coordinator {}; messages sent {} delivered {}; steps {}; inputs rejected {}",
            summary.node_boots,
            summary.coordinator_boots,
            summary.messages_sent,
            summary.messages_delivered,
            summary.steps,
            summary.inputs_rejected
        );
        let goals = crate::oracle::coverage::goals();
        let reached = goals.iter().filter(|goal| summary.coverage.contains_key(*goal)).count();
        let _ = writeln!(text, "  coverage: {reached} of {} events reached (--json lists them)", goals.len());
        let ratio = summary.simulated_ms as f64 / self.wall_ms.max(1) as f64;
        let _ = writeln!(
            text,
            "  time: simulated {:.1} s, wall {:.2} s ({ratio:.0}x); trace hash {}",
            summary.simulated_ms as f64 / 1000.0,
            self.wall_ms as f64 / 1000.0,
            self.trace_hash
        );
        match &self.verdict {
            Verdict::Pass => {}
            Verdict::Safety { violation } | Verdict::Liveness { violation } => {
                let _ = write!(text, "{violation}");
            }
            Verdict::Crash { message } => {
                let _ = writeln!(text, "crash (panic): {message}");
            }
        }
        if !self.verdict.is_pass() {
            let _ = writeln!(text, "reproduce with: {}", self.reproduce);
        }
        text
    }
}
