//! `shardsim bench`: how fast the harness explores, every figure measured in one run so
//! that ratios survive a noisy machine.

use crate::cluster::baseline::ping_pong;
use crate::lab::explore::random_walk;
use crate::lab::LabConfig;
use crate::scenario::{Scenario, ScenarioName};
use crate::Simulation;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::time::Instant as WallClock;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioFigures {
    pub scenario: String,
    pub seeds: u64,
    pub wall_ms: u64,
    pub seeds_per_second: f64,
    pub simulated_seconds_per_wall_second: f64,
    pub messages_delivered: u64,
    pub messages_per_wall_second: f64,
    /// The same seeds with the oracle off: what the checking costs.
    pub wall_ms_without_oracle: u64,
    pub oracle_share_of_time: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub scenarios: Vec<ScenarioFigures>,
    pub bare_madsim_nodes: u32,
    pub bare_madsim_messages: u64,
    pub bare_madsim_messages_per_wall_second: f64,
    /// Wall time per delivered message, harness (default scenario) over bare madsim.
    pub harness_cost_per_message_ratio: f64,
    pub lab_steps: u64,
    pub lab_steps_per_second_checked: f64,
    pub lab_steps_per_second_unchecked: f64,
}

/// Every measured run simulates its safety phase and then exactly this much liveness.
const LIVENESS_MS: u64 = 5_000;

fn run_seeds(scenario: ScenarioName, seeds: u64, check: bool) -> (u64, u64, u64) {
    let started = WallClock::now();
    let (mut simulated_ms, mut delivered) = (0, 0);
    for seed in 0..seeds {
        let simulation =
            Simulation::new(seed).scenario(scenario).check_invariants(check).liveness_fixed_ms(LIVENESS_MS);
        let outcome = simulation.run_outcome();
        simulated_ms += outcome.summary.simulated_ms;
        delivered += outcome.summary.messages_delivered;
    }
    (started.elapsed().as_millis().max(1) as u64, simulated_ms, delivered)
}

fn per_second(count: u64, wall_ms: u64) -> f64 {
    count as f64 * 1000.0 / wall_ms.max(1) as f64
}

/// Runs every measurement once, on one thread, in a fixed order.
pub fn bench(seeds: u64, lab_steps: usize) -> BenchReport {
    let mut scenarios = Vec::new();
    for scenario in [ScenarioName::DEFAULT, ScenarioName::Chaos] {
        let (wall_ms, simulated_ms, delivered) = run_seeds(scenario, seeds, true);
        let (wall_ms_without_oracle, _, _) = run_seeds(scenario, seeds, false);
        scenarios.push(ScenarioFigures {
            scenario: scenario.to_string(),
            seeds,
            wall_ms,
            seeds_per_second: per_second(seeds, wall_ms),
            simulated_seconds_per_wall_second: simulated_ms as f64 / wall_ms as f64,
            messages_delivered: delivered,
            messages_per_wall_second: per_second(delivered, wall_ms),
            wall_ms_without_oracle,
            oracle_share_of_time: (wall_ms.saturating_sub(wall_ms_without_oracle)) as f64 / wall_ms as f64,
        });
    }
    // The baseline: as many nodes as the default scenario runs, at its message rate.
    let default = Scenario::named(ScenarioName::DEFAULT);
    let nodes = 1 + default.nodes_total() + default.clients;
    let harness = &scenarios[0];
    let simulated_ms = default.safety_ms + LIVENESS_MS;
    let messages_per_simulated_second = harness.messages_delivered as f64 * 1000.0
        / (harness.simulated_seconds_per_wall_second * harness.wall_ms as f64);
    let interval_us = (2.0 * f64::from(nodes) * 1_000_000.0 / messages_per_simulated_second.max(1.0)) as u64;
    let baseline_runs = seeds.max(1);
    let started = WallClock::now();
    let mut bare_messages = 0;
    for seed in 0..baseline_runs {
        bare_messages += std::thread::spawn(move || ping_pong(seed, nodes, interval_us.max(1), simulated_ms))
            .join()
            .expect("the baseline runs");
    }
    let bare_wall_ms = started.elapsed().as_millis().max(1) as u64;
    let bare_rate = per_second(bare_messages, bare_wall_ms);
    let lab = |check_invariants: bool| {
        let config = LabConfig { check_invariants, steps_max: lab_steps, ..LabConfig::default() };
        let started = WallClock::now();
        let mut steps = 0;
        for seed in 0..4 {
            steps += random_walk(&config, seed, lab_steps, false).expect("the warm start breaks nothing").steps;
        }
        (steps, per_second(steps, started.elapsed().as_millis().max(1) as u64))
    };
    let (lab_steps_run, lab_checked) = lab(true);
    let (_, lab_unchecked) = lab(false);
    BenchReport {
        harness_cost_per_message_ratio: bare_rate / harness.messages_per_wall_second.max(1e-9),
        scenarios,
        bare_madsim_nodes: nodes,
        bare_madsim_messages: bare_messages,
        bare_madsim_messages_per_wall_second: bare_rate,
        lab_steps: lab_steps_run,
        lab_steps_per_second_checked: lab_checked,
        lab_steps_per_second_unchecked: lab_unchecked,
    }
}

impl BenchReport {
    pub fn render(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "{:<10} {:>6} {:>10} {:>12} {:>14} {:>14} {:>12}",
            "scenario", "seeds", "seeds/s", "sim s/wall s", "messages/s", "oracle share", "wall ms"
        );
        for figures in &self.scenarios {
            let _ = writeln!(
                text,
                "{:<10} {:>6} {:>10.2} {:>12.0} {:>14.0} {:>13.1}% {:>12}",
                figures.scenario,
                figures.seeds,
                figures.seeds_per_second,
                figures.simulated_seconds_per_wall_second,
                figures.messages_per_wall_second,
                figures.oracle_share_of_time * 100.0,
                figures.wall_ms
            );
        }
        let _ = writeln!(
            text,
            "bare madsim ping-pong on {} nodes: {:.0} messages/s; harness cost per message: {:.2}x bare madsim",
            self.bare_madsim_nodes, self.bare_madsim_messages_per_wall_second, self.harness_cost_per_message_ratio
        );
        let _ = writeln!(
            text,
            "lab: {:.0} steps/s with invariants checked, {:.0} without ({} steps)",
            self.lab_steps_per_second_checked, self.lab_steps_per_second_unchecked, self.lab_steps
        );
        text
    }
}
