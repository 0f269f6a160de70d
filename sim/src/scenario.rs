//! Named scenarios: the cluster's shape, the run's phases, and which faults may happen.

use crate::faults::FaultKind;
use serde::{Deserialize, Serialize};
use shardsim_core::config::PlannerKind;
use shardsim_core::ProtocolConfig;
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioName {
    Swarm,
    Calm,
    Partitions,
    Restarts,
    Identity,
    Membership,
    Chaos,
    Clocks,
    Disks,
}

impl ScenarioName {
    pub const ALL: [ScenarioName; 9] = [
        ScenarioName::Swarm,
        ScenarioName::Calm,
        ScenarioName::Partitions,
        ScenarioName::Restarts,
        ScenarioName::Identity,
        ScenarioName::Membership,
        ScenarioName::Chaos,
        ScenarioName::Clocks,
        ScenarioName::Disks,
    ];
    /// What `run` and `sweep` use when no `--scenario` is given.
    pub const DEFAULT: ScenarioName = ScenarioName::Swarm;

    pub fn name(self) -> &'static str {
        match self {
            ScenarioName::Swarm => "swarm",
            ScenarioName::Calm => "calm",
            ScenarioName::Partitions => "partitions",
            ScenarioName::Restarts => "restarts",
            ScenarioName::Identity => "identity",
            ScenarioName::Membership => "membership",
            ScenarioName::Chaos => "chaos",
            ScenarioName::Clocks => "clocks",
            ScenarioName::Disks => "disks",
        }
    }
}

impl fmt::Display for ScenarioName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScenarioName {
    type Err = String;

    fn from_str(name: &str) -> Result<ScenarioName, String> {
        ScenarioName::ALL.into_iter().find(|scenario| scenario.name() == name).ok_or_else(|| {
            let known: Vec<&str> = ScenarioName::ALL.iter().map(|scenario| scenario.name()).collect();
            format!("unknown scenario `{name}`; known: {}", known.join(", "))
        })
    }
}

/// Everything a run of one scenario needs besides its seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub name: ScenarioName,
    pub description: String,
    /// Data nodes 1..=nodes_initial start with the cluster; the spares after them may join.
    pub nodes_initial: u32,
    pub nodes_spare: u32,
    pub clients: u32,
    pub write_interval_ms: u64,
    /// Share of writes that go to the hot shard, per mille.
    pub hot_share_permille: u32,
    /// After a write, a client goes idle for 1-5 s this often, per mille.
    pub client_idle_permille: u32,
    pub safety_ms: u64,
    pub liveness_bound_ms: u64,
    /// Fault kinds that may be on. In a swarm, each is drawn on or off per seed.
    pub fault_kinds: Vec<FaultKind>,
    pub swarm: bool,
    /// Each seed draws the cluster's shape and every protocol knob (see the knobs module).
    pub knobs_drawn: bool,
    /// Knobs this scenario fixes over the draw (names as in a knobs file).
    #[serde(default)]
    pub knobs_pinned: crate::knob_map::Knobs,
    /// Scales how many faults and how long they last.
    pub intensity: f64,
    pub protocol: ProtocolConfig,
}

impl Scenario {
    pub fn named(name: ScenarioName) -> Scenario {
        use FaultKind::*;
        let partitions = vec![Isolate, Split, OneWay, CutOffCoordinator, HotSpot];
        let (description, fault_kinds, swarm, intensity) = match name {
            ScenarioName::Swarm => (
                "every fault kind possible; each seed draws which are on and how hard (swarm testing), the cluster's shape and every knob",
                FaultKind::ALL.to_vec(),
                true,
                1.0,
            ),
            ScenarioName::Calm => {
                ("no faults; hot spots move so there is always something to rebalance", vec![HotSpot], false, 1.0)
            }
            ScenarioName::Partitions => {
                ("isolated nodes, split clusters, one-way links, a cut-off coordinator", partitions, false, 1.0)
            }
            ScenarioName::Restarts => (
                "crashes and restarts of data nodes and the coordinator, disks kept",
                vec![CrashNode, CrashCoordinator, HotSpot],
                false,
                1.0,
            ),
            ScenarioName::Identity => (
                "peer-identity changes: restarts at the same address, replacements at a new address with an empty disk",
                vec![Restart, Replace, Join, HotSpot],
                false,
                1.0,
            ),
            ScenarioName::Membership => {
                ("nodes join and are decommissioned and drained", vec![Join, Decommission, HotSpot], false, 1.0)
            }
            ScenarioName::Chaos => ("every fault kind on, often and long", FaultKind::ALL.to_vec(), false, 1.6),
            ScenarioName::Disks => (
                "writes torn by crashes before their fsync (checksums find them at the next boot), failed fsyncs, full disks, bits flipped at rest, read errors at boot; crashes and restarts",
                vec![TornWrite, FsyncFail, DiskFull, BitFlip, ReadError, CrashNode, Restart, HotSpot],
                false,
                1.0,
            ),
            ScenarioName::Clocks => (
                "every machine's clock off by an offset and drifting; NTP steps forward and back, some aimed at cut-overs; slow and lossy links; coordinator crashes",
                vec![ClockDrift, ClockStep, CutOverClockStep, CrashCoordinator, Delay, Loss, HotSpot],
                false,
                1.0,
            ),
        };
        Scenario {
            name,
            description: description.to_string(),
            nodes_initial: 4,
            nodes_spare: 2,
            clients: 3,
            write_interval_ms: 10,
            hot_share_permille: 350,
            client_idle_permille: 5,
            safety_ms: 15_000,
            liveness_bound_ms: 30_000,
            fault_kinds,
            swarm,
            knobs_drawn: swarm,
            knobs_pinned: Default::default(),
            intensity,
            protocol: ProtocolConfig { shard_count: 16, planner: PlannerKind::LoadBased, ..ProtocolConfig::default() },
        }
    }

    pub fn nodes_total(&self) -> u32 {
        self.nodes_initial + self.nodes_spare
    }

    /// How long the healed cluster has to converge: the scenario's bound, or longer when
    /// its knobs pace rebalancing slowly: time to move every shard once at the moves a
    /// sweep may start, and one migration timeout more. When the moves all leave one node
    /// (a node left holding many shards after drains), its per-node cap bounds them too:
    /// swarm seed 3925 moved one shard a sweep off n1 and needed 41 s of a 30 s bound.
    pub fn liveness_bound_for_knobs_ms(&self) -> u64 {
        let protocol = &self.protocol;
        let caps = &protocol.caps;
        let moves_per_sweep = caps.moves_per_tick_max.min(caps.active_per_node_max).max(1) as u64;
        let paced_ms = u64::from(protocol.shard_count) * protocol.rebalance_interval_ms / moves_per_sweep;
        self.liveness_bound_ms.max(paced_ms + protocol.migration_timeout_ms)
    }
}
