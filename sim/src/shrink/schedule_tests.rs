//! The schedule stage: chunk removal against a known answer, and a recorded canary run
//! cut down to a schedule that replays as it is to the same violation.

use super::*;
use crate::faults::Fault;
use crate::lab::replay::replay_events;
use crate::Simulation;
use shardsim_core::canary::Canary;
use shardsim_core::NodeId;

#[test]
fn remove_chunks_keeps_only_what_fails_together() {
    let mut runs = 0;
    let minimal = remove_chunks((0..200).collect::<Vec<u32>>(), &mut |items| {
        runs += 1;
        items.contains(&7) && items.contains(&131)
    });
    assert_eq!(minimal, vec![7, 131]);
    assert!(runs < 600, "chunks first, single items last: {runs} runs");
}

#[test]
fn remove_chunks_stops_taking_out_when_told_the_budget_is_spent() {
    let mut calls = 0;
    let kept = remove_chunks((0..50).collect::<Vec<u32>>(), &mut |_| {
        calls += 1;
        false
    });
    assert_eq!(kept.len(), 50, "nothing fails, nothing goes");
    assert!(calls < 200, "{calls} calls");
}

/// The canary's first failing swarm seed, recorded: its simulation, events and invariant.
fn recorded(canary: Canary) -> (Simulation, Vec<Scheduled>, String) {
    for seed in 0..500 {
        let simulation = Simulation::new(seed).canary(canary).record_schedule(true);
        let outcome = simulation.run_outcome();
        let Some(violation) = outcome.verdict.violation() else { continue };
        let invariant = violation.invariant.clone();
        let schedule = simulation.schedule(&outcome).expect("recorded");
        return (simulation, schedule.events, invariant);
    }
    panic!("{canary} survived 500 seeds")
}

#[test]
fn a_canary_schedule_shrinks_to_one_that_replays_as_it_is() {
    let (simulation, events, invariant) = recorded(Canary::StubAcksWrites);
    let config = simulation.spec().world_config();
    let shrunk = shrink_schedule(config.clone(), &events, &invariant, &mut || true, &mut |_| {})
        .expect("the recorded schedule fails in the lab");
    assert_eq!(shrunk.violation.invariant, invariant);
    assert_eq!(shrunk.ending, Ending::Minimal);
    assert!(shrunk.events.len() * 4 <= events.len(), "{} of {} events left", shrunk.events.len(), events.len());
    let again = replay_events(config, &shrunk.events);
    assert_eq!(again.trace_hash, shrunk.trace_hash, "the saved events replay to the same trace");
    assert_eq!(again.violation.map(|found| found.invariant), Some(invariant));
}

#[test]
fn a_schedule_that_does_not_fail_is_not_shrunk() {
    let (simulation, events, _) = recorded(Canary::StubAcksWrites);
    let config = simulation.spec().world_config();
    assert!(shrink_schedule(config, &events, "no_such_invariant", &mut || true, &mut |_| {}).is_none());
}

#[test]
fn a_fault_goes_with_its_heal_and_a_message_not_sent_is_not_delivered() {
    let simulation = Simulation::new(1).record_schedule(true);
    let config = simulation.spec().world_config();
    let outcome = simulation.run_outcome();
    let mut events = simulation.schedule(&outcome).expect("recorded").events;
    events.truncate(200);
    let isolate = Fault::Isolate { node: NodeId(1), heal_after_ms: 100 };
    let at_ms = events.last().expect("events").at_ms;
    events.push(Scheduled { at_ms, event: Event::Inject { fault: isolate } });
    let fault = ScheduleReplayer::new(config.clone(), &events).faults.keys().next_back().copied();
    let fault = fault.expect("the isolate is a fault in force");
    events.push(Scheduled { at_ms: at_ms + 100, event: Event::Heal { fault } });
    let replayer = ScheduleReplayer::new(config, &events);
    let units = replayer.removal_units();
    let inject = events.len() - 2;
    assert!(units.contains(&vec![inject, inject + 1]), "the heal goes with its inject");
    // Without the first events, messages they sent are never delivered.
    let first_delivery = events.iter().position(|scheduled| matches!(scheduled.event, Event::Deliver { .. }));
    let kept: Vec<usize> = (first_delivery.expect("a delivery among the first events")..events.len()).collect();
    let applied = replayer.replay(&kept, true).applied.expect("recorded");
    assert!(applied.len() < kept.len(), "events that no longer apply are skipped");
    assert_legal(replayer.config.clone(), &applied);
    assert_legal(replayer.config.clone(), &events);
}

/// Every delivery, drop and copy is of a message in flight, every heal of a fault in
/// force, every timer fired is set and due.
fn assert_legal(config: WorldConfig, events: &[Scheduled]) {
    let mut world = World::new(config);
    let mut faults = std::collections::BTreeSet::new();
    for scheduled in events {
        match &scheduled.event {
            Event::Deliver { message } | Event::Drop { message } | Event::Duplicate { message } => {
                assert!(world.in_flight().get(*message).is_some(), "not in flight: {scheduled:?}");
            }
            Event::Heal { fault } => assert!(faults.contains(fault), "not in force: {scheduled:?}"),
            Event::FireTimer { actor, timer } => {
                let deadline = world.timer_deadline(*actor, *timer).expect("a timer fired is set");
                assert!(deadline.as_ms() <= scheduled.at_ms, "fired before its deadline: {scheduled:?}");
            }
            _ => {}
        }
        let applied = world.apply(Instant(scheduled.at_ms), scheduled.event.clone());
        faults.extend(applied.fault);
    }
}

/// A shrunk schedule must fail because of the bug, not because shrinking made the run
/// one no correct core survives (late timers, lost syncs): without the canary it passes.
#[test]
fn a_minimal_schedule_passes_without_its_canary() {
    for canary in [Canary::PauseBudgetIgnored, Canary::UnfenceOnTimeout] {
        let (simulation, events, invariant) = recorded(canary);
        let config = simulation.spec().world_config();
        let shrunk = shrink_schedule(config.clone(), &events, &invariant, &mut || true, &mut |_| {})
            .expect("the recorded schedule fails in the lab");
        let correct = WorldConfig {
            protocol: shardsim_core::ProtocolConfig { canaries: Vec::new(), ..config.protocol },
            ..config
        };
        let replayer = ScheduleReplayer::new(correct, &shrunk.events);
        let all: Vec<usize> = (0..shrunk.events.len()).collect();
        let violation = replayer.replay(&all, false).violation;
        assert!(violation.is_none(), "{canary}: the correct core fails the minimal schedule too: {violation:?}");
    }
}
