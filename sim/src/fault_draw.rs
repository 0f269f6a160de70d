//! Drawing a fault plan from a seed: which kinds are on (swarm testing), how hard, when.

use crate::faults::{Fault, FaultEvent, FaultKind, FaultPlan, Target};
use crate::scenario::Scenario;
use shardsim_core::{Entropy, NodeId, ShardId, SplitMix64};

/// Events of this kind per 10 simulated seconds at intensity 1.
fn base_rate_per_10s(kind: FaultKind) -> f64 {
    match kind {
        FaultKind::Isolate => 1.5,
        FaultKind::Split | FaultKind::OneWay | FaultKind::CutOffCoordinator => 1.0,
        FaultKind::Loss | FaultKind::Delay | FaultKind::Duplicate => 1.0,
        FaultKind::CrashNode => 2.0,
        FaultKind::CrashCoordinator => 1.0,
        FaultKind::Restart => 2.0,
        FaultKind::Replace => 1.5,
        FaultKind::Decommission => 1.0,
        FaultKind::HotSpot => 3.0,
        // Often: a clock flapping between two NTP servers that disagree.
        FaultKind::ClockStep => 10.0,
        // Besides every clock's drift drawn at the start.
        FaultKind::ClockDrift => 0.5,
        FaultKind::TornWrite | FaultKind::FsyncFail => 2.0,
        FaultKind::DiskFull | FaultKind::BitFlip | FaultKind::ReadError => 1.0,
        FaultKind::CutOverClockStep => 1.0,
        FaultKind::Join => 0.0,
    }
}

struct Draw<'a> {
    rng: SplitMix64,
    scenario: &'a Scenario,
    intensity: f64,
}

impl Draw<'_> {
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.rng.below(high.saturating_sub(low) + 1)
    }

    fn chance_permille(&mut self, permille: u64) -> bool {
        self.rng.below(1000) < permille
    }

    fn moment_ms(&mut self) -> u64 {
        self.between(500, self.scenario.safety_ms.saturating_sub(500))
    }

    fn heal_after_ms(&mut self) -> u64 {
        self.between(200, (2_500.0 * self.intensity) as u64)
    }

    fn node(&mut self) -> NodeId {
        NodeId(self.between(1, self.scenario.nodes_total() as u64) as u32)
    }

    fn target(&mut self) -> Target {
        if self.chance_permille(150) {
            Target::Coordinator
        } else {
            Target::Node(self.node())
        }
    }

    /// Within the drift the protocol assumes, either way.
    fn drift_ppm(&mut self) -> i64 {
        let bound = self.scenario.protocol.clock_drift_max_ppm;
        self.between(0, 2 * bound) as i64 - bound as i64
    }

    fn everyone(&self) -> Vec<Target> {
        std::iter::once(Target::Coordinator)
            .chain((1..=self.scenario.nodes_total()).map(|node| Target::Node(NodeId(node))))
            .collect()
    }

    fn side(&mut self) -> Vec<Target> {
        let everyone = self.everyone();
        loop {
            let side: Vec<Target> = everyone.iter().copied().filter(|_| self.chance_permille(500)).collect();
            if !side.is_empty() && side.len() < everyone.len() {
                return side;
            }
        }
    }

    fn fault(&mut self, kind: FaultKind) -> Fault {
        match kind {
            FaultKind::Isolate => Fault::Isolate { node: self.node(), heal_after_ms: self.heal_after_ms() },
            FaultKind::Split => Fault::Split { side: self.side(), heal_after_ms: self.heal_after_ms() },
            FaultKind::OneWay => {
                let from = self.target();
                let mut to = self.target();
                while to == from {
                    to = self.target();
                }
                Fault::OneWay { from, to, heal_after_ms: self.heal_after_ms() }
            }
            FaultKind::CutOffCoordinator => Fault::CutOffCoordinator { heal_after_ms: self.heal_after_ms() },
            FaultKind::Loss => {
                Fault::Loss { rate_permille: self.between(20, 150) as u32, heal_after_ms: self.heal_after_ms() }
            }
            FaultKind::Delay => {
                Fault::Delay { latency_max_ms: self.between(20, 200), heal_after_ms: self.heal_after_ms() }
            }
            FaultKind::Duplicate => {
                Fault::Duplicate { rate_permille: self.between(20, 200) as u32, heal_after_ms: self.heal_after_ms() }
            }
            FaultKind::CrashNode => {
                Fault::Crash { target: Target::Node(self.node()), down_ms: self.between(50, 2_000) }
            }
            FaultKind::CrashCoordinator => {
                Fault::Crash { target: Target::Coordinator, down_ms: self.between(50, 1_500) }
            }
            FaultKind::Restart => Fault::Restart { node: self.node() },
            FaultKind::Replace => Fault::Replace { node: self.node() },
            FaultKind::Decommission => {
                Fault::Decommission { node: NodeId(self.between(1, self.scenario.nodes_initial as u64) as u32) }
            }
            FaultKind::HotSpot => {
                Fault::HotSpot { shard: ShardId(self.rng.below(self.scenario.protocol.shard_count as u64) as u32) }
            }
            FaultKind::ClockDrift => Fault::ClockDrift { target: self.target(), drift_ppm: self.drift_ppm() },
            FaultKind::ClockStep => {
                let by_ms = self.between(50, (3_000.0 * self.intensity) as u64) as i64;
                // The coordinator a third of the time: it times every gate and budget.
                let target = if self.chance_permille(333) { Target::Coordinator } else { Target::Node(self.node()) };
                Fault::ClockStep { target, by_ms: if self.chance_permille(500) { -by_ms } else { by_ms } }
            }
            FaultKind::TornWrite => Fault::TornWrite { node: self.node() },
            FaultKind::FsyncFail => Fault::FsyncFail { node: self.node() },
            FaultKind::DiskFull => Fault::DiskFull { node: self.node(), heal_after_ms: self.heal_after_ms() },
            FaultKind::BitFlip => Fault::BitFlip { node: self.node(), pick: self.rng.next_u64() },
            FaultKind::ReadError => Fault::ReadError { node: self.node(), pick: self.rng.next_u64() },
            FaultKind::CutOverClockStep => {
                // A stall past the budget, but within what a clock read `back_ms` short
                // lets an unchecked coordinator wait for.
                let back_ms = self.between(500, (3_000.0 * self.intensity) as u64);
                let stall_ms = self.scenario.protocol.write_pause_budget_ms + back_ms / 2;
                Fault::CutOverClockStep { back_ms, stall_ms }
            }
            FaultKind::Join => unreachable!("joins are drawn per spare node"),
        }
    }
}

/// The plan for one seed of a scenario: a pure function of both.
pub fn generate(seed: u64, scenario: &Scenario) -> FaultPlan {
    let mut draw = Draw { rng: SplitMix64::new(seed ^ 0x5eed_fa17_0000_0000), scenario, intensity: scenario.intensity };
    let kinds_on: Vec<FaultKind> = if scenario.swarm {
        let on: Vec<FaultKind> = scenario.fault_kinds.iter().copied().filter(|_| draw.chance_permille(500)).collect();
        draw.intensity = 0.4 + draw.rng.below(121) as f64 / 100.0;
        on
    } else {
        scenario.fault_kinds.clone()
    };
    let mut events = Vec::new();
    let safety_10s = scenario.safety_ms as f64 / 10_000.0;
    for kind in &kinds_on {
        if *kind == FaultKind::Join {
            for spare in scenario.nodes_initial + 1..=scenario.nodes_total() {
                events.push(FaultEvent { at_ms: draw.moment_ms(), fault: Fault::Join { node: NodeId(spare) } });
            }
            continue;
        }
        let clocks_skewed = events.iter().any(|event| event.at_ms == 0 && event.fault.kind() == FaultKind::ClockStep);
        if matches!(kind, FaultKind::ClockDrift | FaultKind::ClockStep | FaultKind::CutOverClockStep) && !clocks_skewed
        {
            // Every machine's clock starts off true by an offset, set before it boots so
            // nobody is told: a minute or more, so that no step back reaches zero.
            for target in draw.everyone() {
                let offset_ms = draw.between(60_000, 70_000) as i64;
                events.push(FaultEvent { at_ms: 0, fault: Fault::ClockStep { target, by_ms: offset_ms } });
            }
        }
        if *kind == FaultKind::ClockDrift {
            // And runs at its own rate.
            for target in draw.everyone() {
                events.push(FaultEvent { at_ms: 0, fault: Fault::ClockDrift { target, drift_ppm: draw.drift_ppm() } });
            }
        }
        let expected = base_rate_per_10s(*kind) * safety_10s * draw.intensity;
        // Round up or down at random in proportion, so low rates still happen sometimes.
        let whole = expected.floor() as u64;
        let count = whole + u64::from(draw.rng.below(1000) < ((expected - whole as f64) * 1000.0) as u64);
        let decommissions_max = scenario.nodes_initial.saturating_sub(2) as u64;
        for _ in 0..count {
            if *kind == FaultKind::Decommission
                && events.iter().filter(|event: &&FaultEvent| event.fault.kind() == FaultKind::Decommission).count()
                    as u64
                    >= decommissions_max
            {
                break;
            }
            events.push(FaultEvent { at_ms: draw.moment_ms(), fault: draw.fault(*kind) });
        }
    }
    events.sort_by_key(|event| event.at_ms);
    FaultPlan { seed, scenario: scenario.name.to_string(), kinds_on, events, knobs: Default::default() }
}
