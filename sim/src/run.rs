//! One run as data: what it needs ([`RunSpec`], a pure function of which gives the run)
//! and what it gives ([`RunOutcome`]), shared by the simulation API and every driver.

use crate::faults::FaultPlan;
use crate::report::{Summary, Verdict};
use crate::scenario::Scenario;
use crate::workload::Workload;
use crate::world::{Scheduled, WorldConfig};
use shardsim_core::canary::Canary;
use shardsim_core::planner::Planner;
use std::sync::Arc;

/// Everything one run needs; a pure function of it gives the run.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub seed: u64,
    pub scenario: Scenario,
    pub plan: FaultPlan,
    pub plan_file: Option<String>,
    pub canaries: Vec<Canary>,
    pub keep_trace: bool,
    /// Off only to measure what the oracle costs.
    pub check_invariants: bool,
    /// For measurements: a liveness phase of exactly this long, judged by nothing, so that
    /// runs with and without the oracle simulate the same time.
    pub liveness_fixed_ms: Option<u64>,
    /// Keep every event the world applied, to save as a schedule.
    pub record_schedule: bool,
    /// A planner of the user's instead of the scenario's built-in one.
    pub planner: Option<Arc<dyn Planner>>,
}

impl RunSpec {
    /// The world this run starts from: the scenario's initial nodes and clients, the
    /// canaries in the protocol, the core's entropy seeded by the run's seed.
    pub fn world_config(&self) -> WorldConfig {
        let scenario = &self.scenario;
        let mut protocol = scenario.protocol.clone();
        protocol.canaries = self.canaries.clone();
        WorldConfig {
            protocol,
            nodes: scenario.nodes_initial,
            clients: scenario.clients,
            seed: self.seed,
            workload: Workload {
                idle_permille: scenario.client_idle_permille,
                ..Workload::new(scenario.protocol.shard_count, scenario.hot_share_permille, scenario.write_interval_ms)
            },
            check_invariants: self.check_invariants,
            keep_trace: self.keep_trace,
            in_flight_max: None,
            record: self.record_schedule,
            planner: self.planner.clone(),
        }
    }
}

/// What a driver returns for one run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub verdict: Verdict,
    pub summary: Summary,
    pub trace_hash: u64,
    pub trace_lines: Option<Vec<String>>,
    /// The events the world applied, when the spec asked to record them.
    pub schedule: Option<Vec<Scheduled>>,
}

impl RunOutcome {
    /// A run that crashed, or could not start (its knobs conflict): a crash verdict with why.
    pub fn crashed(message: String) -> RunOutcome {
        RunOutcome {
            verdict: Verdict::Crash { message },
            summary: Summary::default(),
            trace_hash: 0,
            trace_lines: None,
            schedule: None,
        }
    }
}
