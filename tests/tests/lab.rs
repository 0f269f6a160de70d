//! The lab: exhaustive search over a small cluster, proptest-generated message orders that
//! shrink to short failing sequences, and replays.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use shardsim::core::canary::Canary;
use shardsim::lab::explore::{exhaustive, random_walk, start_lab, ExhaustiveOptions, Replay, Start};
use shardsim::lab::fuzz::warm_lab_with;
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
    let options = ExhaustiveOptions { depth_max: 12, states_max: 50_000, drops: true, crashes: 1, timers: false };
    let outcome = exhaustive(&config, options).expect("the start is reachable");
    assert!(outcome.violation.is_none(), "{:?}", outcome.violation);
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
    let options = ExhaustiveOptions { depth_max: 12, states_max: 50_000, drops: false, crashes: 0, timers: false };
    let outcome = exhaustive(&config, options).unwrap();
    let (violation, choices) = outcome.violation.expect("the phase shortcut is found");
    assert_eq!(violation.invariant, PHASE_ORDER.name);
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
