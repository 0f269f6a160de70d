//! Benchmarks of the lab as a model checker and of the harness's own cost per message:
//! state fingerprints (plain and symmetry-reduced), a bounded exhaustive search, a random
//! walk, and one seeded madsim run beside bare madsim datagrams at its message rate.
//! `cargo bench -p shardsim --bench lab`; `shardsim bench` reports the same as ratios.

use divan::Bencher;
use shardsim::cluster::baseline::ping_pong;
use shardsim::fingerprint::{Encoder, Relabel};
use shardsim::lab::explore::{random_walk, start_lab, Start};
use shardsim::lab::search::{search, Budgets, SearchOptions};
use shardsim::lab::LabConfig;
use shardsim::scenario::ScenarioName;
use shardsim::Simulation;

fn main() {
    divan::main();
}

fn issue_config() -> LabConfig {
    LabConfig { nodes: 3, spare_nodes: 0, shards: 2, ..LabConfig::default() }
}

/// One state's fingerprint: the canonical encoding and its xxh3-128.
#[divan::bench]
fn fingerprint_one_state(bencher: Bencher) {
    let lab = start_lab(&issue_config(), Start::Migrating).expect("the start breaks nothing");
    let (identity, mut encoder) = (Relabel::identity(), Encoder::new());
    bencher.bench_local(|| lab.fingerprint(&identity, &mut encoder));
}

/// The same under symmetry: the smallest over 3! x 2! renamings, records decoded.
#[divan::bench]
fn fingerprint_symmetry_reduced(bencher: Bencher) {
    let lab = start_lab(&issue_config(), Start::Migrating).expect("the start breaks nothing");
    let (renamings, mut encoder) = (Relabel::all(3, 2, true), Encoder::new());
    bencher.bench_local(|| lab.canonical_fingerprint(&renamings, &mut encoder));
}

/// Model checking the issue's configuration until 5,000 distinct states, one thread:
/// divide 5,000 by the time for distinct states per second.
#[divan::bench(sample_count = 5)]
fn search_5k_states(bencher: Bencher) {
    let options = SearchOptions {
        drops: true,
        timers: true,
        budgets: Budgets { crashes: 1, ..Budgets::default() },
        states_max: 5_000,
        ..SearchOptions::new(20)
    };
    bencher.bench_local(|| search(&issue_config(), &options).expect("the start breaks nothing"));
}

/// A 10,000-step random walk from the warm start, every invariant checked each step.
#[divan::bench(sample_count = 5)]
fn random_walk_10k_steps(bencher: Bencher) {
    let config = LabConfig { steps_max: 10_000, ..LabConfig::default() };
    bencher.bench_local(|| random_walk(&config, 1, 10_000, false).expect("the warm start breaks nothing"));
}

/// One seed of the default scenario on madsim (safety phase plus 5 s of liveness).
#[divan::bench(sample_count = 5)]
fn harness_one_seed(bencher: Bencher) {
    bencher.bench_local(|| {
        Simulation::new(1)
            .scenario(ScenarioName::DEFAULT)
            .liveness_fixed_ms(5_000)
            .run_outcome()
            .summary
            .messages_delivered
    });
}

/// Bare madsim datagrams between 10 nodes for as long and at about the rate of
/// `harness_one_seed` (its messages over its simulated time): the baseline.
#[divan::bench(sample_count = 5)]
fn bare_madsim_one_seed(bencher: Bencher) {
    let outcome = Simulation::new(1).scenario(ScenarioName::DEFAULT).liveness_fixed_ms(5_000).run_outcome();
    let rate_per_second = outcome.summary.messages_delivered as f64 * 1000.0 / outcome.summary.simulated_ms as f64;
    let interval_us = (2.0 * 10.0 * 1_000_000.0 / rate_per_second.max(1.0)) as u64;
    let simulated_ms = outcome.summary.simulated_ms;
    bencher.bench_local(|| std::thread::spawn(move || ping_pong(1, 10, interval_us, simulated_ms)).join().unwrap());
}
