//! The lab's small cluster: a few nodes (one of them a spare that may join), a few shards,
//! one client, and timings scaled down so a migration happens within a few hundred steps.

use serde::{Deserialize, Serialize};
use shardsim_core::canary::Canary;
use shardsim_core::config::{MigrationCaps, PlannerKind};
use shardsim_core::ProtocolConfig;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabConfig {
    /// Data nodes; the last `spare_nodes` of them start down and join when restarted.
    pub nodes: u32,
    pub spare_nodes: u32,
    pub shards: u32,
    pub canaries: Vec<Canary>,
    /// Seeds the core's jitter; the choices decide everything else.
    pub seed: u64,
    pub in_flight_max: usize,
    pub steps_max: usize,
    /// Off only to measure what the oracle costs.
    #[serde(default = "checking")]
    pub check_invariants: bool,
}

fn checking() -> bool {
    true
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            nodes: 3,
            spare_nodes: 1,
            shards: 4,
            canaries: Vec::new(),
            seed: 0,
            in_flight_max: 64,
            steps_max: 2_000,
            check_invariants: true,
        }
    }
}

impl LabConfig {
    pub fn protocol(&self) -> ProtocolConfig {
        ProtocolConfig {
            shard_count: self.shards,
            planner: PlannerKind::LeastShard,
            caps: MigrationCaps { active_total_max: 2, active_per_node_max: 1, moves_per_tick_max: 1 },
            join_settle_ms: 100,
            membership_stable_ms: 100,
            election_grace_ms: 100,
            rebalance_interval_ms: 200,
            rebalance_min_interval_ms: 50,
            heartbeat_interval_ms: 50,
            heartbeat_timeout_ms: 1_000,
            canaries: self.canaries.clone(),
            ..ProtocolConfig::default()
        }
    }
}
