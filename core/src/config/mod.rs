//! Every knob and bound of the protocol, with its unit last in its name. The valid range
//! of each is in [`knobs::KNOBS`]; [`ProtocolConfig::validate`] checks them.

pub mod knobs;

pub use knobs::{ConfigError, Knob, KNOBS};

use crate::canary::Canary;
use crate::ids::Address;
use serde::{Deserialize, Serialize};

/// Weights of the load-based planner's score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadWeights {
    pub bytes: f64,
    pub writes_per_s: f64,
    pub reads_per_s: f64,
    pub shard_count: f64,
}

impl Default for LoadWeights {
    fn default() -> Self {
        LoadWeights { bytes: 0.3, writes_per_s: 0.4, reads_per_s: 0.1, shard_count: 0.2 }
    }
}

/// Which planner the rebalancer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlannerKind {
    LoadBased,
    LeastShard,
}

/// Caps shared by both planners and the migration tracker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationCaps {
    pub active_total_max: usize,
    /// Counts a node as source or target.
    pub active_per_node_max: usize,
    pub moves_per_tick_max: usize,
}

impl Default for MigrationCaps {
    fn default() -> Self {
        MigrationCaps { active_total_max: 4, active_per_node_max: 1, moves_per_tick_max: 2 }
    }
}

/// Akka's least-shard strategy: move when the most and least loaded differ by more than
/// `rebalance_threshold_shards`, at most min(absolute, relative * total) shards a round.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LeastShardConfig {
    pub rebalance_threshold_shards: usize,
    pub absolute_limit_shards: usize,
    pub relative_limit: f64,
}

impl Default for LeastShardConfig {
    fn default() -> Self {
        LeastShardConfig { rebalance_threshold_shards: 1, absolute_limit_shards: 2, relative_limit: 0.1 }
    }
}

/// The whole protocol's configuration. `Default` gives the values the design fixes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProtocolConfig {
    pub coordinator_address: Address,
    pub shard_count: u32,
    pub planner: PlannerKind,
    pub load_weights: LoadWeights,
    /// Load-based planner: act when (hottest - coldest) exceeds this fraction of the mean score.
    pub load_imbalance_threshold: f64,
    pub least_shard: LeastShardConfig,
    pub caps: MigrationCaps,

    pub coordinator_tick_ms: u64,
    pub node_tick_ms: u64,
    pub client_tick_ms: u64,

    pub heartbeat_interval_ms: u64,
    /// Loads are rates over windows this long: short windows make the planner chase noise.
    pub load_window_ms: u64,
    /// No heartbeat for this long: the member is suspect.
    pub heartbeat_timeout_ms: u64,
    /// Suspect for this long: the member is down and no longer blocks the election gate.
    pub member_down_after_ms: u64,
    /// A joining member becomes active after this long.
    pub join_settle_ms: u64,
    /// After any membership change, rebalancing waits this long (the election gate).
    pub membership_stable_ms: u64,
    /// After the coordinator boots it does not plan for this long.
    pub election_grace_ms: u64,

    pub rebalance_interval_ms: u64,
    pub rebalance_min_interval_ms: u64,
    /// Any node's CPU above this skips the sweep (back-pressure).
    pub cpu_backpressure_threshold_permille: u32,
    /// A node serving this many operations per second runs at 100 % CPU.
    pub node_capacity_ops_per_s: u64,

    pub chunk_entries_max: usize,
    pub catchup_lag_threshold_entries: u64,
    pub write_pause_budget_ms: u64,
    /// The most any machine's clock may drift, in parts per million (the protocol's clock
    /// assumption). Waits are stretched and budgets shrunk by it, so that what the core
    /// times on its own clock holds in true time (see [`ProtocolConfig::at_least_ms`]).
    pub clock_drift_max_ppm: u64,
    pub migration_timeout_ms: u64,
    pub migration_resend_ms: u64,
    pub chunk_retransmit_ms: u64,
    pub handoff_batch_entities: usize,
    pub entities_per_shard_max: usize,
    pub fate_query_interval_ms: u64,
    pub terminal_migrations_kept_max: usize,

    pub shard_log_entries_max: u64,
    pub client_pending_writes_max: usize,
    pub client_write_timeout_ms: u64,
    pub client_write_attempts_max: u32,
    pub client_backoff_ms: u64,
    pub client_route_query_ms: u64,

    /// Planted bugs to turn on; empty in every real configuration.
    pub canaries: Vec<Canary>,
}

impl ProtocolConfig {
    /// How long to wait on a clock that drifts up to `clock_drift_max_ppm` so that at
    /// least `wait_ms` pass in true time: stretched by the drift, and one more
    /// millisecond for the rounding of two readings, whenever any drift is allowed.
    pub fn at_least_ms(&self, wait_ms: u64) -> u64 {
        let ppm = self.clock_drift_max_ppm;
        if ppm == 0 {
            return wait_ms;
        }
        // A fast clock reads at most wait * (1 + drift) + 1 over `wait` true milliseconds.
        let stretched = (u128::from(wait_ms) * u128::from(1_000_000 + ppm)).div_ceil(1_000_000);
        (stretched.min(u128::from(u64::MAX)) as u64).saturating_add(1)
    }

    /// How long a budget may run on a clock that drifts up to `clock_drift_max_ppm` so
    /// that at most `budget_ms` pass in true time: shrunk by the drift, and one
    /// millisecond less for the rounding, whenever any drift is allowed.
    pub fn at_most_ms(&self, budget_ms: u64) -> u64 {
        let ppm = self.clock_drift_max_ppm.min(999_999);
        if ppm == 0 {
            return budget_ms;
        }
        // A slow clock reads at least budget * (1 - drift) - 1 over `budget` true milliseconds.
        let shrunk = u128::from(budget_ms) * u128::from(1_000_000 - ppm) / 1_000_000;
        (shrunk as u64).saturating_sub(1)
    }

    pub fn has_canary(&self, canary: Canary) -> bool {
        self.canaries.contains(&canary)
    }

    /// The caps the migration tracker enforces (none, under the `CapsIgnored` canary).
    pub fn enforced_caps(&self) -> MigrationCaps {
        if self.has_canary(Canary::CapsIgnored) {
            let unbounded = usize::MAX / 4;
            MigrationCaps { active_total_max: unbounded, active_per_node_max: unbounded, moves_per_tick_max: unbounded }
        } else {
            self.caps
        }
    }
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            coordinator_address: Address::new([10, 0, 0, 1], 7000),
            shard_count: 16,
            planner: PlannerKind::LoadBased,
            load_weights: LoadWeights::default(),
            load_imbalance_threshold: 0.25,
            least_shard: LeastShardConfig::default(),
            caps: MigrationCaps::default(),
            coordinator_tick_ms: 50,
            node_tick_ms: 20,
            client_tick_ms: 20,
            heartbeat_interval_ms: 100,
            load_window_ms: 1_000,
            heartbeat_timeout_ms: 600,
            member_down_after_ms: 3_000,
            join_settle_ms: 300,
            membership_stable_ms: 500,
            election_grace_ms: 500,
            rebalance_interval_ms: 1_000,
            rebalance_min_interval_ms: 200,
            cpu_backpressure_threshold_permille: 800,
            node_capacity_ops_per_s: 5_000,
            chunk_entries_max: 64,
            catchup_lag_threshold_entries: 16,
            write_pause_budget_ms: 500,
            clock_drift_max_ppm: 1_000,
            migration_timeout_ms: 10_000,
            migration_resend_ms: 200,
            chunk_retransmit_ms: 60,
            handoff_batch_entities: 4,
            entities_per_shard_max: 64,
            fate_query_interval_ms: 200,
            terminal_migrations_kept_max: 256,
            shard_log_entries_max: 1_000_000,
            client_pending_writes_max: 8,
            client_write_timeout_ms: 200,
            client_write_attempts_max: 20,
            client_backoff_ms: 40,
            client_route_query_ms: 100,
            canaries: Vec::new(),
        }
    }
}
