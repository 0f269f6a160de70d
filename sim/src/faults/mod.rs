//! Faults as data: a [`FaultPlan`] is a list of timed events, drawn from the seed or read
//! from a JSON file, that the nemesis carries out.

use serde::{Deserialize, Serialize};
use shardsim_core::{NodeId, ShardId};
use std::fmt;
use std::path::Path;

/// The kinds of fault a scenario can turn on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Isolate,
    Split,
    OneWay,
    CutOffCoordinator,
    Loss,
    Delay,
    Duplicate,
    CrashNode,
    CrashCoordinator,
    Restart,
    Replace,
    Join,
    Decommission,
    HotSpot,
    ClockDrift,
    ClockStep,
    TornWrite,
    FsyncFail,
    DiskFull,
    BitFlip,
    ReadError,
    CutOverClockStep,
}

impl FaultKind {
    pub const ALL: [FaultKind; 22] = [
        FaultKind::Isolate,
        FaultKind::Split,
        FaultKind::OneWay,
        FaultKind::CutOffCoordinator,
        FaultKind::Loss,
        FaultKind::Delay,
        FaultKind::Duplicate,
        FaultKind::CrashNode,
        FaultKind::CrashCoordinator,
        FaultKind::Restart,
        FaultKind::Replace,
        FaultKind::Join,
        FaultKind::Decommission,
        FaultKind::HotSpot,
        FaultKind::ClockDrift,
        FaultKind::ClockStep,
        FaultKind::TornWrite,
        FaultKind::FsyncFail,
        FaultKind::DiskFull,
        FaultKind::BitFlip,
        FaultKind::ReadError,
        FaultKind::CutOverClockStep,
    ];

    /// The kind's name in reports, plans and coverage (as serde spells it).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Isolate => "isolate",
            FaultKind::Split => "split",
            FaultKind::OneWay => "one_way",
            FaultKind::CutOffCoordinator => "cut_off_coordinator",
            FaultKind::Loss => "loss",
            FaultKind::Delay => "delay",
            FaultKind::Duplicate => "duplicate",
            FaultKind::CrashNode => "crash_node",
            FaultKind::CrashCoordinator => "crash_coordinator",
            FaultKind::Restart => "restart",
            FaultKind::Replace => "replace",
            FaultKind::Join => "join",
            FaultKind::Decommission => "decommission",
            FaultKind::HotSpot => "hot_spot",
            FaultKind::ClockDrift => "clock_drift",
            FaultKind::ClockStep => "clock_step",
            FaultKind::TornWrite => "torn_write",
            FaultKind::FsyncFail => "fsync_fail",
            FaultKind::DiskFull => "disk_full",
            FaultKind::BitFlip => "bit_flip",
            FaultKind::ReadError => "read_error",
            FaultKind::CutOverClockStep => "cut_over_clock_step",
        }
    }
}

/// Who a network or crash fault hits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Coordinator,
    Node(NodeId),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Coordinator => write!(f, "coordinator"),
            Target::Node(node) => write!(f, "{node}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Cut one node off from everyone, both ways.
    Isolate {
        node: NodeId,
        heal_after_ms: u64,
    },
    /// Cut `side` off from everyone else (clients stay on the other side).
    Split {
        side: Vec<Target>,
        heal_after_ms: u64,
    },
    /// Drop everything from `from` to `to`; the reverse direction still works.
    OneWay {
        from: Target,
        to: Target,
        heal_after_ms: u64,
    },
    CutOffCoordinator {
        heal_after_ms: u64,
    },
    Loss {
        rate_permille: u32,
        heal_after_ms: u64,
    },
    /// Latency up to this bound, so messages overtake each other.
    Delay {
        latency_max_ms: u64,
        heal_after_ms: u64,
    },
    /// The harness's send layer sends a share of datagrams twice.
    Duplicate {
        rate_permille: u32,
        heal_after_ms: u64,
    },
    /// Kill (memory lost, disk kept), restart after `down_ms` with a new incarnation.
    Crash {
        target: Target,
        down_ms: u64,
    },
    /// Restart at the same address right away: a new incarnation.
    Restart {
        node: NodeId,
    },
    /// Same node id, new address, empty disk. Skipped while the node owns a shard: its
    /// log is the only copy.
    Replace {
        node: NodeId,
    },
    Join {
        node: NodeId,
    },
    Decommission {
        node: NodeId,
    },
    HotSpot {
        shard: ShardId,
    },
    /// From now on the target's clock runs this many parts per million fast (or slow).
    ClockDrift {
        target: Target,
        drift_ppm: i64,
    },
    /// The target's clock is set this far forward (or back) at once, as an NTP step; a
    /// running actor is told, as the OS tells it.
    ClockStep {
        target: Target,
        by_ms: i64,
    },
    /// The node crashes the next time it writes a log entry, before the fsync: the entry
    /// reaches its disk torn (half of it), and the node restarts.
    TornWrite {
        node: NodeId,
    },
    /// The node's next fsync fails: its page cache is lost, and the node is told.
    FsyncFail {
        node: NodeId,
    },
    /// The node's disk has no room for log entries until the fault heals (metadata has
    /// space reserved); the node is told, as write() returning ENOSPC would tell it.
    DiskFull {
        node: NodeId,
        heal_after_ms: u64,
    },
    /// One bit of one of the node's stored shard records flips at rest (`pick` chooses
    /// the record and the bit), and the node restarts, to read it back. When the record
    /// belongs to a shard the node owns, its only copy is gone: data loss, recorded.
    BitFlip {
        node: NodeId,
        pick: u64,
    },
    /// The node's next boot fails to read one of its stored records (`pick` chooses it);
    /// a retried boot reads it. A running node restarts, to boot into it.
    ReadError {
        node: NodeId,
        pick: u64,
    },
    /// A targeted nemesis, armed until the next cut-over starts: then the coordinator's
    /// clock steps back `back_ms` (announced, as any step) and the migration's target is
    /// cut off for `stall_ms`, so the cut-over, unless aborted, pauses writes that long
    /// in true time while the coordinator's clock reads `back_ms` less.
    CutOverClockStep {
        back_ms: u64,
        stall_ms: u64,
    },
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Isolate { .. } => FaultKind::Isolate,
            Fault::Split { .. } => FaultKind::Split,
            Fault::OneWay { .. } => FaultKind::OneWay,
            Fault::CutOffCoordinator { .. } => FaultKind::CutOffCoordinator,
            Fault::Loss { .. } => FaultKind::Loss,
            Fault::Delay { .. } => FaultKind::Delay,
            Fault::Duplicate { .. } => FaultKind::Duplicate,
            Fault::Crash { target: Target::Coordinator, .. } => FaultKind::CrashCoordinator,
            Fault::Crash { .. } => FaultKind::CrashNode,
            Fault::Restart { .. } => FaultKind::Restart,
            Fault::Replace { .. } => FaultKind::Replace,
            Fault::Join { .. } => FaultKind::Join,
            Fault::Decommission { .. } => FaultKind::Decommission,
            Fault::HotSpot { .. } => FaultKind::HotSpot,
            Fault::ClockDrift { .. } => FaultKind::ClockDrift,
            Fault::ClockStep { .. } => FaultKind::ClockStep,
            Fault::TornWrite { .. } => FaultKind::TornWrite,
            Fault::FsyncFail { .. } => FaultKind::FsyncFail,
            Fault::DiskFull { .. } => FaultKind::DiskFull,
            Fault::BitFlip { .. } => FaultKind::BitFlip,
            Fault::ReadError { .. } => FaultKind::ReadError,
            Fault::CutOverClockStep { .. } => FaultKind::CutOverClockStep,
        }
    }

    /// How long until the fault heals by itself, for those that do.
    pub fn heals_after_ms(&self) -> Option<u64> {
        match self {
            Fault::Isolate { heal_after_ms, .. }
            | Fault::Split { heal_after_ms, .. }
            | Fault::OneWay { heal_after_ms, .. }
            | Fault::CutOffCoordinator { heal_after_ms }
            | Fault::Loss { heal_after_ms, .. }
            | Fault::Delay { heal_after_ms, .. }
            | Fault::Duplicate { heal_after_ms, .. }
            | Fault::DiskFull { heal_after_ms, .. } => Some(*heal_after_ms),
            Fault::Crash { down_ms, .. } => Some(*down_ms),
            _ => None,
        }
    }

    /// Sets how long until the fault heals by itself, for those that do (the shrinker
    /// shortens faults with it).
    pub fn set_heals_after_ms(&mut self, duration_ms: u64) {
        match self {
            Fault::Isolate { heal_after_ms, .. }
            | Fault::Split { heal_after_ms, .. }
            | Fault::OneWay { heal_after_ms, .. }
            | Fault::CutOffCoordinator { heal_after_ms }
            | Fault::Loss { heal_after_ms, .. }
            | Fault::Delay { heal_after_ms, .. }
            | Fault::Duplicate { heal_after_ms, .. }
            | Fault::DiskFull { heal_after_ms, .. } => *heal_after_ms = duration_ms,
            Fault::Crash { down_ms, .. } => *down_ms = duration_ms,
            _ => {}
        }
    }

    fn nodes(&self) -> Vec<NodeId> {
        let target_node = |target: &Target| match target {
            Target::Node(node) => Some(*node),
            Target::Coordinator => None,
        };
        match self {
            Fault::Isolate { node, .. }
            | Fault::Restart { node }
            | Fault::Replace { node }
            | Fault::Join { node }
            | Fault::Decommission { node }
            | Fault::TornWrite { node }
            | Fault::FsyncFail { node }
            | Fault::BitFlip { node, .. }
            | Fault::ReadError { node, .. }
            | Fault::DiskFull { node, .. } => vec![*node],
            Fault::Split { side, .. } => side.iter().filter_map(target_node).collect(),
            Fault::OneWay { from, to, .. } => [from, to].into_iter().filter_map(target_node).collect(),
            Fault::Crash { target, .. } | Fault::ClockDrift { target, .. } | Fault::ClockStep { target, .. } => {
                target_node(target).into_iter().collect()
            }
            _ => vec![],
        }
    }
}

/// The most a plan may drift a clock, either way: half speed or one and a half. (The
/// protocol assumes far less, `clock_drift_max_ppm`; a plan may break that on purpose.)
pub const DRIFT_PPM_MAX: u64 = 500_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvent {
    pub at_ms: u64,
    pub fault: Fault,
}

/// A run's faults, in time order. Serializable, so a run can be replayed from a file and a
/// failing plan cut down by hand.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultPlan {
    /// Where the plan came from; informative only, the run's own flags decide.
    pub seed: u64,
    pub scenario: String,
    /// The fault kinds the seed's swarm draw turned on.
    pub kinds_on: Vec<FaultKind>,
    pub events: Vec<FaultEvent>,
    /// The knobs the run used; informative only, like `seed` (replay them with `--knobs`).
    #[serde(default)]
    pub knobs: crate::knob_map::Knobs,
}

/// A plan file that cannot be used; the message says why and where.
#[derive(Debug)]
pub struct PlanError(pub String);

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

impl FaultPlan {
    pub fn load(path: &Path) -> Result<FaultPlan, PlanError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| PlanError(format!("cannot read plan file {}: {error}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|error| PlanError(format!("plan file {} is not a fault plan: {error}", path.display())))
    }

    pub fn save(&self, path: &Path) -> Result<(), PlanError> {
        let text = serde_json::to_string_pretty(self).expect("plans serialize");
        std::fs::write(path, text + "\n")
            .map_err(|error| PlanError(format!("cannot write plan file {}: {error}", path.display())))
    }

    /// Checks the plan fits the cluster it will run on.
    pub fn validate(&self, nodes_total: u32, shard_count: u32) -> Result<(), PlanError> {
        for (position, event) in self.events.iter().enumerate() {
            for node in event.fault.nodes() {
                if node.0 == 0 || node.0 > nodes_total {
                    return Err(PlanError(format!(
                        "event {position} names {node}; this cluster has n1..=n{nodes_total}"
                    )));
                }
            }
            if let Fault::HotSpot { shard } = event.fault {
                if shard.0 >= shard_count {
                    return Err(PlanError(format!(
                        "event {position} names {shard}; this cluster has {shard_count} shards"
                    )));
                }
            }
            if let Fault::ClockDrift { drift_ppm, .. } = event.fault {
                if drift_ppm.unsigned_abs() > DRIFT_PPM_MAX {
                    return Err(PlanError(format!(
                        "event {position} drifts a clock {drift_ppm} ppm; at most {DRIFT_PPM_MAX} either way"
                    )));
                }
            }
            if let Fault::Loss { rate_permille, .. } | Fault::Duplicate { rate_permille, .. } = event.fault {
                if rate_permille > 1000 {
                    return Err(PlanError(format!("event {position} has a rate of {rate_permille} per mille")));
                }
            }
        }
        if self.events.windows(2).any(|pair| pair[0].at_ms > pair[1].at_ms) {
            return Err(PlanError("plan events must be in time order".to_string()));
        }
        Ok(())
    }
}
