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
    /// Wall time per delivered message, harness (default scenario, oracle on) over bare
    /// madsim: each seed's harness run and its baseline run back to back, summed, so that
    /// both see the same machine.
    pub harness_cost_per_message_ratio: f64,
    pub lab_steps: u64,
    pub lab_steps_per_second_checked: f64,
    pub lab_steps_per_second_unchecked: f64,
    pub walk_migrations_completed_per_100k_steps: f64,
    pub search: SearchFigures,
}

/// The model checker on the configuration: 3 data nodes, 2 shards, drops, one
/// crash, timers, deepening to depth 20 from a migration just begun, bounded by states.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchFigures {
    pub jobs: usize,
    pub states_max: u64,
    pub distinct_states: u64,
    pub distinct_states_per_second: f64,
    pub transitions_per_second: f64,
    pub bytes_per_visited_state: f64,
    pub depth_complete: usize,
    pub wall_ms: u64,
}

/// Every measured run simulates its safety phase and then exactly this much liveness.
const LIVENESS_MS: u64 = 5_000;

/// One measured seed.
pub struct SeedRun {
    pub wall_us: u64,
    pub simulated_ms: u64,
    pub messages_delivered: u64,
}

fn run_seed(scenario: ScenarioName, seed: u64, check: bool) -> SeedRun {
    let started = WallClock::now();
    let simulation = Simulation::new(seed).scenario(scenario).check_invariants(check).liveness_fixed_ms(LIVENESS_MS);
    let summary = simulation.run_outcome().summary;
    SeedRun {
        wall_us: started.elapsed().as_micros() as u64,
        simulated_ms: summary.simulated_ms,
        messages_delivered: summary.messages_delivered,
    }
}

/// One seed of the default scenario with the oracle on, as the harness side of the cost.
pub fn run_seed_for_baseline(seed: u64) -> SeedRun {
    run_seed(ScenarioName::DEFAULT, seed, true)
}

/// The nodes of the baseline: as many as the default scenario runs actors (and the
/// supervisor).
fn baseline_nodes() -> u32 {
    let default = Scenario::named(ScenarioName::DEFAULT);
    1 + default.nodes_total() + default.clients
}

/// Bare madsim datagrams at `seed_run`'s message rate, on as many nodes, for as long:
/// the messages delivered.
pub fn baseline_for(seed: u64, seed_run: &SeedRun) -> u64 {
    let nodes = baseline_nodes();
    let rate_per_simulated_second = seed_run.messages_delivered as f64 * 1000.0 / seed_run.simulated_ms.max(1) as f64;
    let interval_us = (2.0 * f64::from(nodes) * 1_000_000.0 / rate_per_simulated_second.max(1.0)) as u64;
    let simulated_ms = seed_run.simulated_ms;
    std::thread::spawn(move || ping_pong(seed, nodes, interval_us.max(1), simulated_ms))
        .join()
        .expect("the baseline runs")
}

fn per_second(count: u64, wall_us: u64) -> f64 {
    count as f64 * 1_000_000.0 / wall_us.max(1) as f64
}

/// The search figures: states per second and bytes per state.
pub fn search_figures(states_max: u64, jobs: usize) -> SearchFigures {
    use crate::lab::search::{search, Budgets, SearchOptions};
    let config = LabConfig { nodes: 3, spare_nodes: 0, shards: 2, ..LabConfig::default() };
    let options = SearchOptions {
        drops: true,
        timers: true,
        budgets: Budgets { crashes: 1, ..Budgets::default() },
        states_max,
        jobs,
        ..SearchOptions::new(20)
    };
    let outcome = search(&config, &options).expect("the start breaks nothing");
    SearchFigures {
        jobs,
        states_max,
        distinct_states: outcome.distinct_states,
        distinct_states_per_second: outcome.distinct_states_per_second(),
        transitions_per_second: outcome.transitions_per_second(),
        bytes_per_visited_state: outcome.bytes_per_state(),
        depth_complete: outcome.depth_complete,
        wall_ms: outcome.wall.as_millis() as u64,
    }
}

/// Runs every measurement once, in a fixed order. Harness and baseline alternate seed by
/// seed; the search uses every core.
pub fn bench(seeds: u64, lab_steps: usize) -> BenchReport {
    let mut scenarios = Vec::new();
    let (mut bare_messages, mut bare_wall_us) = (0, 0);
    for scenario in [ScenarioName::DEFAULT, ScenarioName::Chaos] {
        let (mut wall_us, mut wall_us_unchecked, mut simulated, mut delivered) = (0, 0, 0, 0);
        for seed in 0..seeds {
            let seed_run = run_seed(scenario, seed, true);
            wall_us += seed_run.wall_us;
            simulated += seed_run.simulated_ms;
            delivered += seed_run.messages_delivered;
            wall_us_unchecked += run_seed(scenario, seed, false).wall_us;
            if scenario == ScenarioName::DEFAULT {
                let started = WallClock::now();
                bare_messages += baseline_for(seed, &seed_run);
                bare_wall_us += started.elapsed().as_micros() as u64;
            }
        }
        scenarios.push(ScenarioFigures {
            scenario: scenario.to_string(),
            seeds,
            wall_ms: wall_us / 1000,
            seeds_per_second: per_second(seeds, wall_us),
            simulated_seconds_per_wall_second: simulated as f64 * 1000.0 / wall_us.max(1) as f64,
            messages_delivered: delivered,
            messages_per_wall_second: per_second(delivered, wall_us),
            wall_ms_without_oracle: wall_us_unchecked / 1000,
            oracle_share_of_time: wall_us.saturating_sub(wall_us_unchecked) as f64 / wall_us.max(1) as f64,
        });
    }
    let bare_rate = per_second(bare_messages, bare_wall_us);
    let lab = |check_invariants: bool| {
        let config = LabConfig { check_invariants, steps_max: lab_steps, ..LabConfig::default() };
        let started = WallClock::now();
        let (mut steps, mut completed) = (0, 0);
        for seed in 0..4 {
            let walk = random_walk(&config, seed, lab_steps, false).expect("the warm start breaks nothing");
            steps += walk.steps;
            completed += walk.migrations_completed;
        }
        (steps, per_second(steps, started.elapsed().as_micros() as u64), completed)
    };
    let (lab_steps_run, lab_checked, completed) = lab(true);
    let (_, lab_unchecked, _) = lab(false);
    let jobs = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    BenchReport {
        harness_cost_per_message_ratio: bare_rate / scenarios[0].messages_per_wall_second.max(1e-9),
        scenarios,
        bare_madsim_nodes: baseline_nodes(),
        bare_madsim_messages: bare_messages,
        bare_madsim_messages_per_wall_second: bare_rate,
        lab_steps: lab_steps_run,
        lab_steps_per_second_checked: lab_checked,
        lab_steps_per_second_unchecked: lab_unchecked,
        walk_migrations_completed_per_100k_steps: completed as f64 * 100_000.0 / lab_steps_run.max(1) as f64,
        search: search_figures(lab_steps as u64 * 5, jobs),
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
        let _ = writeln!(
            text,
            "random walk: {:.1} migrations completed per 100k steps",
            self.walk_migrations_completed_per_100k_steps
        );
        let search = &self.search;
        let _ = writeln!(
            text,
            "model checker (3 nodes, 2 shards, drops, 1 crash, timers, depth 20, {} states max, {} jobs): {} distinct states, {:.0}/s, {:.1} bytes a visited state, complete to depth {}",
            search.states_max,
            search.jobs,
            search.distinct_states,
            search.distinct_states_per_second,
            search.bytes_per_visited_state,
            search.depth_complete
        );
        text
    }
}
