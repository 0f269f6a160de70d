//! The lab: exhaustive search over a small cluster, proptest-generated message orders that
//! shrink to short failing sequences, and replays.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use shardsim::core::canary::Canary;
use shardsim::fingerprint::{Encoder, Relabel};
use shardsim::lab::explore::{random_walk, start_lab, Replay, Start};
use shardsim::lab::fuzz::warm_lab_with;
use shardsim::lab::search::{search, Budgets, SearchEnd, SearchOptions};
use shardsim::lab::{Choice, LabConfig};
use shardsim::oracle::invariants::PHASE_ORDER;

/// Choices weighted like the fuzzer's byte table: progress first, faults now and then.
fn choice() -> impl Strategy<Value = Choice> {
    let index = any::<u16>();
    prop_oneof![
        40 => index.prop_map(Choice::Deliver),
        10 => index.prop_map(Choice::FireTimer),
        4 => index.prop_map(Choice::ClientWrite),
        1 => index.prop_map(Choice::Drop),
        1 => index.prop_map(Choice::Duplicate),
        1 => (0u16..500).prop_map(Choice::AdvanceTime),
        1 => index.prop_map(Choice::Crash),
        2 => index.prop_map(Choice::Restart),
        1 => index.prop_map(Choice::ChangeIdentity),
        1 => (0u16..4, 0u16..4).prop_map(|(a, b)| Choice::Partition(a, b)),
        1 => Just(Choice::Heal),
    ]
}

fn run(lab: &shardsim::lab::Lab, choices: &[Choice]) -> Result<(), TestCaseError> {
    let mut lab = lab.clone();
    lab.run(choices.iter().copied())
        .map(|_| ())
        .map_err(|(step, violation)| TestCaseError::fail(format!("at choice {step}: {violation}")))
}

proptest! {
    #![proptest_config(Config { cases: 48, ..Config::default() })]

    #[test]
    fn arbitrary_message_orders_break_no_invariant(choices in prop::collection::vec(choice(), 0..600)) {
        let lab = warm_lab_with(&[]);
        run(&lab, &choices)?;
    }
}

#[test]
fn proptest_shrinks_a_canary_s_failing_order_to_a_short_one() {
    let lab = warm_lab_with(&[Canary::AckBeforeDurable]);
    let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
    let result = runner.run(&prop::collection::vec(choice(), 0..600), |choices| run(&lab, &choices));
    let Err(TestError::Fail(_, minimal)) = result else {
        panic!("ack-before-durable survived 512 generated orders: {result:?}")
    };
    assert!(minimal.len() <= 40, "shrunk to {} choices: {minimal:?}", minimal.len());
    assert!(run(&lab, &minimal).is_err(), "the shrunk order still fails");
}

#[test]
fn exhaustive_search_covers_a_full_migration_and_finds_nothing_on_the_correct_core() {
    let config = LabConfig { nodes: 2, spare_nodes: 0, shards: 1, ..LabConfig::default() };
    let options = SearchOptions {
        drops: true,
        budgets: Budgets { crashes: 1, ..Budgets::default() },
        states_max: 50_000,
        ..SearchOptions::new(12)
    };
    let outcome = search(&config, &options).expect("the start is reachable");
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
    assert!(matches!(outcome.end, SearchEnd::Complete | SearchEnd::Exhausted { .. }), "{:?}", outcome.end);
    assert!(outcome.full_migrations > 0, "no explored order completed the migration");
    assert!(outcome.distinct_states > 100, "explored {} states", outcome.distinct_states);
}

#[test]
fn exhaustive_search_finds_a_canary_by_a_shortest_sequence_that_replays() {
    let config = LabConfig {
        nodes: 2,
        spare_nodes: 0,
        shards: 1,
        canaries: vec![Canary::PhaseShortcut],
        ..LabConfig::default()
    };
    let options = SearchOptions { states_max: 50_000, ..SearchOptions::new(12) };
    let outcome = search(&config, &options).unwrap();
    let (violation, choices) = outcome.violation.expect("the phase shortcut is found");
    assert_eq!(violation.invariant, PHASE_ORDER.name);
    assert!(!violation.evidence.is_empty(), "the replayed violation carries its evidence");
    // Deepening: no shorter sequence breaks it.
    assert_eq!(outcome.depth_complete + 1, choices.len(), "{choices:?}");
    assert!(choices.len() <= 3, "{choices:?}");
    let replay = Replay {
        config,
        start: Start::Migrating,
        choices,
        invariant: violation.invariant.clone(),
        message: violation.message,
    };
    assert_eq!(replay.run().map(|violation| violation.invariant), Some(PHASE_ORDER.name.to_string()));
}

#[test]
fn a_random_walk_is_a_function_of_its_seed() {
    let config = LabConfig::default();
    let first = random_walk(&config, 9, 1_500, true).unwrap();
    let second = random_walk(&config, 9, 1_500, true).unwrap();
    assert_eq!((first.steps, first.distinct_states), (second.steps, second.distinct_states));
    let mut one = start_lab(&config, Start::Warm).unwrap();
    let mut two = start_lab(&config, Start::Warm).unwrap();
    assert_eq!(one.state_hash(), two.state_hash());
    one.apply(Choice::Deliver(0)).unwrap();
    two.apply(Choice::FireTimer(0)).unwrap();
    assert_ne!(one.state_hash(), two.state_hash(), "different choices, different states");
}

/// A formed cluster with nothing in flight: node 1 holds shard 0, node 2 shard 1, node 3
/// nothing (the lab's least-shard placement).
fn settled_three_nodes_two_shards() -> shardsim::lab::Lab {
    let config = LabConfig { nodes: 3, spare_nodes: 0, shards: 2, ..LabConfig::default() };
    let mut lab = start_lab(&config, Start::Warm).unwrap();
    while !lab.in_flight().is_empty() {
        lab.apply(Choice::Deliver(0)).unwrap();
    }
    lab
}

#[test]
fn symmetric_states_share_a_canonical_fingerprint_and_others_do_not() {
    let settled = settled_three_nodes_two_shards();
    let holders: Vec<usize> =
        settled.actors().nodes.values().map(|slot| slot.actor.as_ref().map_or(0, |node| node.shards().len())).collect();
    assert_eq!(holders, [1, 1, 0], "the placement this test relies on");
    let crashed = |index: u16| {
        let mut lab = settled.clone();
        lab.apply(Choice::Crash(index)).unwrap();
        lab
    };
    let (one, two, three) = (crashed(1), crashed(2), crashed(3));
    let renamings = Relabel::all(3, 2, true);
    let mut encoder = Encoder::new();
    let mut canonical = |lab: &shardsim::lab::Lab| lab.canonical_fingerprint(&renamings, &mut encoder);
    assert_eq!(canonical(&one), canonical(&two), "crashing either shard holder is one state up to names");
    assert_ne!(canonical(&two), canonical(&three), "crashing the empty node is another");
    assert_ne!(one.state_hash(), two.state_hash(), "without renaming they are two states");
}

#[test]
fn a_search_on_two_threads_finds_the_same_states_and_bounds_stop_it_cleanly() {
    let config = LabConfig { nodes: 2, spare_nodes: 0, shards: 1, ..LabConfig::default() };
    let options =
        SearchOptions { drops: true, budgets: Budgets { crashes: 1, ..Budgets::default() }, ..SearchOptions::new(10) };
    let one = search(&config, &options).unwrap();
    let two = search(&config, &SearchOptions { jobs: 2, ..options }).unwrap();
    assert_eq!(one.end, SearchEnd::Complete);
    assert_eq!((two.end, two.distinct_states), (one.end, one.distinct_states));
    let capped = search(&config, &SearchOptions { states_max: 100, ..options }).unwrap();
    assert_eq!(capped.end, SearchEnd::StatesMax);
    assert!(capped.depth_complete < 10 && capped.violation.is_none());
    let small = search(&config, &SearchOptions { memory_max_bytes: 4 << 10, ..options }).unwrap();
    assert_eq!(small.end, SearchEnd::MemoryMax);
    assert!(small.visited_bytes <= 4 << 10, "held {} bytes", small.visited_bytes);
    let hurried = search(&config, &SearchOptions { time_max: Some(std::time::Duration::ZERO), ..options }).unwrap();
    assert_eq!(hurried.end, SearchEnd::TimeMax);
    assert!(hurried.distinct_states < one.distinct_states);
}

/// The model checker on the configuration (3 data nodes, 2 shards, drops, one
/// crash, timers, deepening to 20) finds these canaries within seconds, each by a shortest
/// sequence that replays to the same invariant. (`shardsim explore --exhaustive` hunts the
/// others; the closing note lists which it reaches and how far.)
#[test]
fn the_model_checker_finds_canaries_by_shortest_sequences_that_replay() {
    for (canary, length_max) in [
        (Canary::PhaseShortcut, 2),
        (Canary::CommitWithoutTargetCheck, 6),
        (Canary::IdentityCheckSkipped, 9),
        (Canary::EpochNotPersisted, 10),
    ] {
        let config = LabConfig { nodes: 3, spare_nodes: 0, shards: 2, canaries: vec![canary], ..LabConfig::default() };
        let options = SearchOptions {
            drops: true,
            timers: true,
            budgets: Budgets { crashes: 1, ..Budgets::default() },
            states_max: 200_000,
            jobs: 2,
            ..SearchOptions::new(20)
        };
        let outcome = search(&config, &options).unwrap();
        let Some((violation, choices)) = outcome.violation else {
            panic!("{canary:?} not found: {:?} at depth {}", outcome.end, outcome.depth_complete)
        };
        assert_eq!(outcome.depth_complete + 1, choices.len(), "{canary:?}: deepening makes it shortest");
        assert!(choices.len() <= length_max, "{canary:?}: {choices:?}");
        assert_saved_is_as_short(canary, &choices);
        let replay = Replay {
            config,
            start: Start::Migrating,
            choices,
            invariant: violation.invariant.clone(),
            message: violation.message.clone(),
        };
        assert_eq!(replay.run().map(|again| again.invariant), Some(violation.invariant), "{canary:?}");
    }
}

/// A canary the model checker hunts with more than the default choices.
struct Hunt {
    canary: Canary,
    nodes: u32,
    shards: u32,
    start: Start,
    drops: bool,
    advance_ms: Option<u16>,
    budgets: Budgets,
    length_max: usize,
}

/// The write path's, the disks', the clocks' and the planners' canaries need client
/// writes, crashes, disk faults, clock steps, decommissions, a join, time passing with
/// messages in flight, or more shards, and calm steps (the cluster run in order for 100 ms
/// as one choice) to get far in few choices: the model checker finds each within seconds, by a
/// shortest sequence that replays.
#[test]
fn with_writes_faults_and_calm_steps_the_model_checker_finds_more_canaries() {
    let allow = |writes, crashes, disk_faults| Budgets { crashes, writes, disk_faults, ..Budgets::default() };
    let hunt = |canary, start, budgets, length_max| Hunt {
        canary,
        nodes: 2,
        shards: 1,
        start,
        drops: false,
        advance_ms: None,
        budgets,
        length_max,
    };
    let late = |canary, clock_steps, length_max| Hunt {
        advance_ms: Some(600),
        ..hunt(canary, Start::Migrating, Budgets { clock_steps, ..Budgets::default() }, length_max)
    };
    let hunts = [
        hunt(Canary::StubAcksWrites, Start::Migrating, allow(1, 0, 0), 2),
        Hunt { drops: true, ..hunt(Canary::UnfenceOnTimeout, Start::Migrating, allow(1, 0, 0), 8) },
        hunt(Canary::AckBeforeDurable, Start::Warm, allow(1, 1, 0), 4),
        hunt(Canary::EntityStateNotReplayed, Start::Warm, allow(2, 1, 0), 6),
        hunt(Canary::AckAfterFailedFsync, Start::Warm, allow(1, 1, 1), 6),
        hunt(Canary::BootAroundReadError, Start::Warm, allow(1, 1, 1), 3),
        hunt(Canary::ChecksumsIgnored, Start::Warm, allow(1, 1, 1), 3),
        Hunt { nodes: 3, shards: 4, ..hunt(Canary::CapsIgnored, Start::Migrating, allow(0, 0, 0), 11) },
        hunt(Canary::SealBeforeHandoff, Start::Migrating, allow(2, 0, 0), 6),
        late(Canary::PauseBudgetIgnored, 0, 5),
        late(Canary::PauseOnUncheckedClock, 1, 6),
        Hunt { nodes: 3, shards: 4, ..hunt(Canary::LeastShardOvershoot, Start::Warm, allow(0, 0, 0), 2) },
        Hunt {
            nodes: 3,
            shards: 4,
            ..hunt(Canary::DrainingTarget, Start::Warm, Budgets { decommissions: 2, ..Budgets::default() }, 4)
        },
        // A new machine decommissioned while it still counts for less than the fullest
        // node by two: with the draining flag forgotten it is a target. Six shards leave
        // that gap after its first shard arrives.
        Hunt {
            nodes: 2,
            shards: 6,
            ..hunt(
                Canary::DrainingForgotten,
                Start::Warm,
                Budgets { decommissions: 2, joins: 1, ..Budgets::default() },
                8,
            )
        },
    ];
    for Hunt { canary, nodes, shards, start, drops, advance_ms, budgets, length_max } in hunts {
        let config = LabConfig { nodes, spare_nodes: 0, shards, canaries: vec![canary], ..LabConfig::default() };
        let options = SearchOptions {
            start,
            drops,
            timers: true,
            calm_ms: Some(100),
            advance_ms,
            budgets,
            states_max: 400_000,
            jobs: 2,
            ..SearchOptions::new(length_max)
        };
        let outcome = search(&config, &options).unwrap();
        let Some((violation, choices)) = outcome.violation else {
            panic!("{canary:?} not found: {:?} at depth {}", outcome.end, outcome.depth_complete)
        };
        assert_eq!(outcome.depth_complete + 1, choices.len(), "{canary:?}: deepening makes it shortest");
        assert_saved_is_as_short(canary, &choices);
        let replay = Replay {
            config,
            start,
            choices,
            invariant: violation.invariant.clone(),
            message: violation.message.clone(),
        };
        assert_eq!(replay.run().map(|again| again.invariant), Some(violation.invariant), "{canary:?}");
    }
}

/// A calm macro step (the cluster run in order for 100 ms as one choice) brings a
/// coordinator restart's consequences within four choices.
#[test]
fn with_calm_steps_the_model_checker_finds_a_coordinator_that_forgot_its_migrations() {
    let config = LabConfig {
        nodes: 3,
        spare_nodes: 0,
        shards: 2,
        canaries: vec![Canary::TrackerNotPersisted],
        ..LabConfig::default()
    };
    let options = SearchOptions {
        drops: true,
        timers: true,
        calm_ms: Some(100),
        budgets: Budgets { crashes: 1, ..Budgets::default() },
        states_max: 200_000,
        jobs: 2,
        ..SearchOptions::new(20)
    };
    let outcome = search(&config, &options).unwrap();
    let (violation, choices) = outcome.violation.expect("found");
    assert_eq!(violation.invariant, shardsim::oracle::invariants::ONE_ACTIVE_MIGRATION_PER_SHARD.name);
    assert_eq!(choices, [Choice::Crash(0), Choice::Restart(0), Choice::Calm(100), Choice::Calm(100)]);
    assert_saved_is_as_short(Canary::TrackerNotPersisted, &choices);
    let mut lab = start_lab(&config, Start::Migrating).unwrap();
    assert!(lab.run(choices).is_err(), "the sequence replays");
}

/// Where the model checker's shortest sequences are saved, one file per canary
/// (`tests/found/regenerate.sh` writes them).
fn found_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("found")
}

/// The search CI runs found `choices` for `canary`: the saved sequence is exactly as long,
/// so it is a shortest one too (deepening found nothing shorter).
fn assert_saved_is_as_short(canary: Canary, choices: &[Choice]) {
    let path = found_dir().join(format!("{}.json", canary.name()));
    let saved = Replay::load(&path).unwrap_or_else(|error| panic!("{error}: run tests/found/regenerate.sh"));
    assert_eq!(
        saved.choices.len(),
        choices.len(),
        "{canary:?}: the saved sequence is {:?}, the search found {choices:?}: run tests/found/regenerate.sh",
        saved.choices
    );
}

/// Every canary the model checker finds has its shortest sequence saved; each file names
/// its canary, breaks the invariant it says with that canary on, and nothing with it off.
/// stale-epoch-acked's (11 choices: the owner a client's cached route names loses the
/// shard and gets it back at a newer epoch while the client, whose registration a crash
/// wiped, hears nothing) takes about 20 minutes to search, so CI only replays it
/// (`tests/found/regenerate.sh --deep` searches it again).
#[test]
fn every_saved_shortest_sequence_catches_its_canary_and_only_with_it() {
    let mut saved_canaries = Vec::new();
    for entry in std::fs::read_dir(found_dir()).expect("tests/found is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let saved = Replay::load(&path).expect("a saved sequence loads");
        let [canary] = saved.config.canaries[..] else { panic!("{}: one canary per file", path.display()) };
        assert_eq!(path.file_stem().and_then(|stem| stem.to_str()), Some(canary.name()), "{}", path.display());
        let caught = saved.run().unwrap_or_else(|| panic!("{canary:?}: the saved sequence breaks nothing"));
        assert_eq!(
            (caught.invariant.as_str(), caught.message.as_str()),
            (saved.invariant.as_str(), saved.message.as_str())
        );
        let mut without = saved.clone();
        without.config.canaries.clear();
        assert_eq!(without.run(), None, "{canary:?}: the correct core passes the same sequence");
        saved_canaries.push(canary);
    }
    // Found by the exhaustive search: all but the three the lab cannot express
    // (planner-overshoot, backpressure-ignored, empty-nodes-ignored).
    assert_eq!(saved_canaries.len(), 21, "{saved_canaries:?}");
}

/// A join is a branch only with a budget for it, and only after a decommission left room:
/// the same search with one join allowed reaches states the one without never does.
#[test]
fn a_join_budget_lets_the_search_add_a_machine_after_a_decommission() {
    let config = LabConfig { nodes: 2, spare_nodes: 0, shards: 2, ..LabConfig::default() };
    let states = |budgets| {
        let options =
            SearchOptions { start: Start::Warm, calm_ms: Some(1000), budgets, jobs: 1, ..SearchOptions::new(4) };
        let outcome = search(&config, &options).unwrap();
        assert!(outcome.violation.is_none());
        outcome.distinct_states
    };
    let decommission = |joins| Budgets { decommissions: 1, joins, ..Budgets::default() };
    let (without, with) = (states(decommission(0)), states(decommission(1)));
    assert!(with > without, "a join adds states: {with} with, {without} without");
    assert_eq!(
        states(Budgets { joins: 1, ..Budgets::default() }),
        states(Budgets::default()),
        "with every node in service there is no room to join"
    );
}
