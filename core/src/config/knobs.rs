//! Every numeric knob of [`ProtocolConfig`] with its valid range: what validation checks,
//! what a simulation draws from (FoundationDB's randomized knobs), and what a knobs file
//! may set. One table, so the three cannot drift apart.

use super::{PlannerKind, ProtocolConfig};
use std::fmt;

/// One numeric field of the configuration, by its dotted path.
#[derive(Clone, Copy)]
pub struct Knob {
    pub name: &'static str,
    /// The valid range, inclusive: the protocol is designed to work anywhere in it.
    pub min: f64,
    pub max: f64,
    /// Whole numbers only.
    pub integer: bool,
    /// The narrower range simulations draw from, where the default scenarios' time
    /// bounds hold (a 1 s migration timeout is valid, but cannot move a large shard in a
    /// 30 s liveness phase).
    pub draw_min: f64,
    pub draw_max: f64,
    pub get: fn(&ProtocolConfig) -> f64,
    pub set: fn(&mut ProtocolConfig, f64),
}

impl Knob {
    pub fn contains(&self, value: f64) -> bool {
        value >= self.min && value <= self.max && (!self.integer || value.fract() == 0.0)
    }

    pub fn range(&self) -> String {
        if self.integer {
            format!("{}..={}", self.min as u64, self.max as u64)
        } else {
            format!("{}..={}", self.min, self.max)
        }
    }
}

macro_rules! knob {
    ($name:literal, $($field:ident).+, whole $min:literal ..= $max:literal, draw $draw_min:literal ..= $draw_max:literal) => {
        Knob {
            name: $name,
            min: $min as f64,
            max: $max as f64,
            integer: true,
            draw_min: $draw_min as f64,
            draw_max: $draw_max as f64,
            get: |config| config.$($field).+ as f64,
            set: |config, value| config.$($field).+ = value as _,
        }
    };
    ($name:literal, $($field:ident).+, real $min:literal ..= $max:literal, draw $draw_min:literal ..= $draw_max:literal) => {
        Knob {
            name: $name,
            min: $min,
            max: $max,
            integer: false,
            draw_min: $draw_min,
            draw_max: $draw_max,
            get: |config| config.$($field).+,
            set: |config, value| config.$($field).+ = value,
        }
    };
}

/// The planner knob is not numeric: its name and values.
pub const PLANNER_KNOB: &str = "planner";

pub fn planner_name(kind: PlannerKind) -> &'static str {
    match kind {
        PlannerKind::LoadBased => "load_based",
        PlannerKind::LeastShard => "least_shard",
    }
}

pub fn planner_by_name(name: &str) -> Option<PlannerKind> {
    [PlannerKind::LoadBased, PlannerKind::LeastShard].into_iter().find(|kind| planner_name(*kind) == name)
}

/// Every numeric knob. `shard_count` is part of the cluster's shape but lives in the
/// protocol's configuration, so it is drawn here with the rest.
pub const KNOBS: &[Knob] = &[
    knob!("shard_count", shard_count, whole 1 ..= 4096, draw 8 ..= 32),
    knob!("load_weights.bytes", load_weights.bytes, real 0.0 ..= 1.0, draw 0.0 ..= 1.0),
    knob!("load_weights.writes_per_s", load_weights.writes_per_s, real 0.0 ..= 1.0, draw 0.0 ..= 1.0),
    knob!("load_weights.reads_per_s", load_weights.reads_per_s, real 0.0 ..= 1.0, draw 0.0 ..= 1.0),
    knob!("load_weights.shard_count", load_weights.shard_count, real 0.0 ..= 1.0, draw 0.05 ..= 1.0),
    knob!("load_imbalance_threshold", load_imbalance_threshold, real 0.05 ..= 2.0, draw 0.15 ..= 0.6),
    knob!("least_shard.rebalance_threshold_shards", least_shard.rebalance_threshold_shards, whole 1 ..= 64, draw 1 ..= 3),
    knob!("least_shard.absolute_limit_shards", least_shard.absolute_limit_shards, whole 1 ..= 1024, draw 1 ..= 8),
    knob!("least_shard.relative_limit", least_shard.relative_limit, real 0.0 ..= 1.0, draw 0.05 ..= 1.0),
    knob!("caps.active_total_max", caps.active_total_max, whole 1 ..= 1024, draw 1 ..= 8),
    knob!("caps.active_per_node_max", caps.active_per_node_max, whole 1 ..= 64, draw 1 ..= 2),
    knob!("caps.moves_per_tick_max", caps.moves_per_tick_max, whole 1 ..= 1024, draw 1 ..= 4),
    knob!("coordinator_tick_ms", coordinator_tick_ms, whole 1 ..= 1_000, draw 20 ..= 100),
    knob!("node_tick_ms", node_tick_ms, whole 1 ..= 1_000, draw 10 ..= 40),
    knob!("client_tick_ms", client_tick_ms, whole 1 ..= 1_000, draw 10 ..= 50),
    knob!("heartbeat_interval_ms", heartbeat_interval_ms, whole 10 ..= 10_000, draw 50 ..= 200),
    knob!("load_window_ms", load_window_ms, whole 100 ..= 60_000, draw 500 ..= 2_000),
    knob!("heartbeat_timeout_ms", heartbeat_timeout_ms, whole 30 ..= 60_000, draw 600 ..= 2_000),
    knob!("member_down_after_ms", member_down_after_ms, whole 60 ..= 600_000, draw 2_500 ..= 6_000),
    knob!("join_settle_ms", join_settle_ms, whole 0 ..= 60_000, draw 0 ..= 1_000),
    knob!("membership_stable_ms", membership_stable_ms, whole 0 ..= 60_000, draw 100 ..= 1_000),
    knob!("election_grace_ms", election_grace_ms, whole 0 ..= 60_000, draw 0 ..= 1_000),
    knob!("rebalance_interval_ms", rebalance_interval_ms, whole 10 ..= 600_000, draw 300 ..= 2_000),
    knob!("rebalance_min_interval_ms", rebalance_min_interval_ms, whole 1 ..= 600_000, draw 50 ..= 300),
    knob!("cpu_backpressure_threshold_permille", cpu_backpressure_threshold_permille, whole 1 ..= 1_000, draw 500 ..= 950),
    knob!("node_capacity_ops_per_s", node_capacity_ops_per_s, whole 1 ..= 10_000_000, draw 150 ..= 10_000),
    knob!("chunk_entries_max", chunk_entries_max, whole 1 ..= 4_096, draw 16 ..= 256),
    knob!("catchup_lag_threshold_entries", catchup_lag_threshold_entries, whole 0 ..= 1_000_000, draw 1 ..= 64),
    knob!("write_pause_budget_ms", write_pause_budget_ms, whole 1 ..= 600_000, draw 250 ..= 1_500),
    knob!("migration_timeout_ms", migration_timeout_ms, whole 100 ..= 3_600_000, draw 8_000 ..= 30_000),
    knob!("migration_resend_ms", migration_resend_ms, whole 1 ..= 60_000, draw 100 ..= 500),
    knob!("chunk_retransmit_ms", chunk_retransmit_ms, whole 1 ..= 60_000, draw 30 ..= 200),
    knob!("handoff_batch_entities", handoff_batch_entities, whole 1 ..= 4_096, draw 2 ..= 16),
    knob!("entities_per_shard_max", entities_per_shard_max, whole 1 ..= 65_536, draw 2 ..= 64),
    knob!("fate_query_interval_ms", fate_query_interval_ms, whole 1 ..= 60_000, draw 100 ..= 500),
    knob!("terminal_migrations_kept_max", terminal_migrations_kept_max, whole 1 ..= 1_000_000, draw 16 ..= 256),
    knob!("shard_log_entries_max", shard_log_entries_max, whole 1 ..= 1_000_000_000, draw 100_000 ..= 1_000_000),
    knob!("client_pending_writes_max", client_pending_writes_max, whole 1 ..= 65_536, draw 2 ..= 16),
    knob!("client_write_timeout_ms", client_write_timeout_ms, whole 1 ..= 600_000, draw 100 ..= 500),
    knob!("client_write_attempts_max", client_write_attempts_max, whole 1 ..= 100_000, draw 10 ..= 30),
    knob!("client_backoff_ms", client_backoff_ms, whole 0 ..= 600_000, draw 10 ..= 100),
    knob!("client_route_query_ms", client_route_query_ms, whole 1 ..= 600_000, draw 50 ..= 200),
    knob!("clock_drift_max_ppm", clock_drift_max_ppm, whole 0 ..= 100_000, draw 200 ..= 2_000),
];

pub fn knob(name: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|knob| knob.name == name)
}

/// A configuration outside its valid ranges.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigError {
    OutOfRange {
        knob: &'static str,
        value: f64,
        range: String,
    },
    /// Two knobs that are each valid but not together.
    Inconsistent {
        knobs: &'static str,
        rule: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::OutOfRange { knob, value, range } => {
                write!(f, "knob `{knob}` = {value} is outside its valid range {range}")
            }
            ConfigError::Inconsistent { knobs, rule } => write!(f, "knobs {knobs}: {rule}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Rules between knobs, each (knobs, rule, holds).
fn cross_rules(config: &ProtocolConfig) -> [(&'static str, &'static str, bool); 5] {
    let weights = &config.load_weights;
    [
        (
            "heartbeat_timeout_ms, heartbeat_interval_ms",
            "the timeout must cover at least three heartbeats",
            config.heartbeat_timeout_ms >= 3 * config.heartbeat_interval_ms,
        ),
        (
            "member_down_after_ms, heartbeat_timeout_ms",
            "a member is suspect before it is down",
            config.member_down_after_ms > config.heartbeat_timeout_ms,
        ),
        (
            "rebalance_min_interval_ms, rebalance_interval_ms",
            "an early (kicked) sweep cannot wait longer than a regular one",
            config.rebalance_min_interval_ms <= config.rebalance_interval_ms,
        ),
        (
            "write_pause_budget_ms, migration_timeout_ms",
            "a cut-over's pause must fit in the migration's time",
            config.write_pause_budget_ms < config.migration_timeout_ms,
        ),
        (
            "load_weights.*",
            "at least one load weight must be positive",
            weights.bytes + weights.writes_per_s + weights.reads_per_s + weights.shard_count > 0.0,
        ),
    ]
}

impl ProtocolConfig {
    /// Every knob within its valid range and the rules between them; the first broken
    /// one as a typed error.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for knob in KNOBS {
            let value = (knob.get)(self);
            if !knob.contains(value) {
                return Err(ConfigError::OutOfRange { knob: knob.name, value, range: knob.range() });
            }
        }
        match cross_rules(self).into_iter().find(|(_, _, holds)| !holds) {
            Some((knobs, rule, _)) => Err(ConfigError::Inconsistent { knobs, rule }),
            None => Ok(()),
        }
    }
}
