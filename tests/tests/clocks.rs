//! Per-machine clocks in the world: an actor reads its own clock, its deadlines come due
//! when that clock reaches them, and a step of it is announced to a running actor.

use shardsim::core::{ActorId, Instant, NodeId, ProtocolConfig, Timer};
use shardsim::faults::{Fault, Target};
use shardsim::world::{apply_settled, Event, World, WorldConfig};

fn one_node_world() -> World {
    World::new(WorldConfig::plain(ProtocolConfig::default(), 1, 0, 1))
}

const NODE: ActorId = ActorId::Node(NodeId(1));

fn clock_fault(world: &mut World, fault: Fault) {
    apply_settled(world, Event::Inject { fault }).expect("a clock fault breaks nothing");
}

#[test]
fn an_actor_reads_its_own_clock_and_its_deadlines_come_due_on_it() {
    let mut world = one_node_world();
    clock_fault(&mut world, Fault::ClockStep { target: Target::Node(NodeId(1)), by_ms: 60_000 });
    clock_fault(&mut world, Fault::ClockDrift { target: Target::Node(NodeId(1)), drift_ppm: 100_000 });
    assert_eq!(world.local_now(NODE), Instant(60_000));
    assert_eq!(world.local_now(ActorId::Coordinator), Instant(0), "other clocks stay true");
    apply_settled(&mut world, Event::Boot { actor: NODE }).expect("boots");
    let interval_ms = ProtocolConfig::default().heartbeat_interval_ms;
    let (due, timer) = world.next_timer(NODE).expect("a booted node times its heartbeat");
    assert_eq!(timer, Timer::Heartbeat);
    // 10 % fast: the local deadline 60 s + interval comes after interval / 1.1 true ms.
    assert_eq!(due.as_ms(), (interval_ms * 10).div_ceil(11));
    world.advance_to(Instant(due.as_ms() - 1));
    assert!(world.local_now(NODE) < Instant(60_000 + interval_ms), "not due a millisecond before");
    world.advance_to(due);
    assert!(world.local_now(NODE) >= Instant(60_000 + interval_ms), "due when the local clock reaches it");
}

/// A drift set on a running actor's clock moves its pending deadline in true time at once.
#[test]
fn a_drift_moves_a_pending_deadline_at_once() {
    let mut world = one_node_world();
    apply_settled(&mut world, Event::Boot { actor: NODE }).expect("boots");
    let interval_ms = ProtocolConfig::default().heartbeat_interval_ms;
    assert_eq!(world.next_timer(NODE), Some((Instant(interval_ms), Timer::Heartbeat)));
    clock_fault(&mut world, Fault::ClockDrift { target: Target::Node(NodeId(1)), drift_ppm: 100_000 });
    let (due, timer) = world.next_timer(NODE).expect("still timed");
    assert_eq!(timer, Timer::Heartbeat);
    assert_eq!(due.as_ms(), (interval_ms * 10).div_ceil(11), "10 % fast: due sooner in true time");
}

/// The earliest deadline the world keeps for each actor (it is asked after every event,
/// so it is not recomputed there) is always that of the first of the actor's pending
/// timers, and names a timer pending at that time, through random lab walks with timers firing,
/// crashes, restarts, clock steps and disk faults.
#[test]
fn the_kept_earliest_deadline_is_always_the_first_pending_timer() {
    use shardsim::core::{Entropy, SplitMix64};
    use shardsim::lab::explore::{start_lab, Start};
    use shardsim::lab::{choice_of, LabConfig};
    let (mut steps, mut clock_steps) = (0, 0);
    for seed in 0..8 {
        let mut lab = start_lab(&LabConfig::default(), Start::Warm).expect("the warm start breaks nothing");
        let mut rng = SplitMix64::new(seed);
        for _ in 0..2_000 {
            let word = rng.next_u64().to_le_bytes();
            let choice = choice_of(word[0], word[1], word[2], u16::from_le_bytes([word[1], word[2]]));
            clock_steps += usize::from(matches!(choice, shardsim::lab::Choice::ClockStep(_)));
            if lab.apply(choice).is_err() {
                break;
            }
            steps += 1;
            let order = lab.timer_order();
            for actor in lab.actors().actor_ids() {
                // Timers a clock step makes due together tie in true time; the kept one is
                // the earliest on the actor's own clock, which the order does not show.
                let earliest = order.iter().find(|(_, of, _)| *of == actor).map(|(at, ..)| *at);
                let kept = lab.world().next_timer(actor);
                let context = format!("seed {seed}, {actor} after {choice:?}");
                assert_eq!(kept.map(|(at, _)| at), earliest, "{context}");
                if let Some((at, timer)) = kept {
                    assert_eq!(lab.world().timer_deadline(actor, timer), Some(at), "{context}: {timer:?}");
                }
            }
        }
    }
    assert!(steps > 10_000 && clock_steps > 10, "{steps} steps, {clock_steps} clock steps");
}

#[test]
fn a_step_is_announced_to_a_running_actor_which_reports_at_once() {
    let mut world = one_node_world();
    apply_settled(&mut world, Event::Boot { actor: NODE }).expect("boots");
    world.advance_to(Instant(50));
    let applied = world
        .apply(world.now(), Event::Inject { fault: Fault::ClockStep { target: Target::Node(NodeId(1)), by_ms: -30 } });
    assert_eq!(world.local_now(NODE), Instant(20));
    assert!(!applied.sent.is_empty(), "the node heartbeats on the stepped clock at once");
    let (due, _) = world.next_timer(NODE).expect("and times the next one from it");
    let interval_ms = ProtocolConfig::default().heartbeat_interval_ms;
    assert_eq!(due, Instant(50 + interval_ms));
}

/// Two nodes, then a third joins: the least-shard planner moves shards to it under
/// writes. A targeted nemesis is armed for the first cut-over.
fn join_with_a_cut_over_clock_step(canaries: Vec<shardsim::core::canary::Canary>) -> World {
    use shardsim::core::config::PlannerKind;
    use shardsim::core::{ClientId, EntityKey, ShardId};
    use shardsim::workload::Workload;
    use shardsim::world::run_in_order;
    let protocol =
        ProtocolConfig { planner: PlannerKind::LeastShard, shard_count: 6, canaries, ..ProtocolConfig::default() };
    let budget_ms = protocol.write_pause_budget_ms;
    let mut world = World::new(WorldConfig {
        workload: Workload::new(protocol.shard_count, 0, 5),
        ..WorldConfig::plain(protocol, 3, 1, 7)
    });
    for target in [Target::Coordinator, Target::Node(NodeId(1)), Target::Node(NodeId(2)), Target::Node(NodeId(3))] {
        clock_fault(&mut world, Fault::ClockStep { target, by_ms: 60_000 });
    }
    for actor in
        [ActorId::Coordinator, ActorId::Node(NodeId(1)), ActorId::Node(NodeId(2)), ActorId::Client(ClientId(1))]
    {
        apply_settled(&mut world, Event::Boot { actor }).expect("a fresh cluster boots");
    }
    clock_fault(&mut world, Fault::CutOverClockStep { back_ms: 1_000, stall_ms: budget_ms + 500 });
    let mut written = 0u64;
    let mut writes = |world: &mut World| {
        if world.now().as_ms().is_multiple_of(5) {
            written += 1;
            let shard = ShardId((written % 6) as u32);
            apply_settled(
                world,
                Event::ClientWrite { client: ClientId(1), shard, entity: EntityKey(0), payload: written },
            )?;
        }
        Ok(())
    };
    if run_in_order(&mut world, 3_000, &mut writes).is_ok()
        && apply_settled(&mut world, Event::Boot { actor: ActorId::Node(NodeId(3)) }).is_ok()
    {
        let _ = run_in_order(&mut world, 8_000, &mut writes);
    }
    world
}

#[test]
fn a_clock_stepped_back_as_a_cut_over_starts_aborts_it_and_the_stall_heals() {
    let world = join_with_a_cut_over_clock_step(vec![]);
    if let Some(violation) = world.violation() {
        panic!("{violation}");
    }
    let summary = world.summary();
    assert_eq!(summary.faults_injected.get("cut_over_clock_step_went_off"), Some(&1));
    assert!(summary.coverage.get("aborted_clock_stepped").is_some_and(|count| *count >= 1), "{:?}", summary.coverage);
    assert!(world.blocked().is_empty(), "the world healed the stall it set off");
    assert!(summary.migrations_completed >= 2, "later migrations complete: {summary:?}");
}

#[test]
fn the_unchecked_clock_canary_pauses_past_the_budget_under_the_targeted_nemesis() {
    let mut world = join_with_a_cut_over_clock_step(vec![shardsim::core::canary::Canary::PauseOnUncheckedClock]);
    let violation = world.take_violation().expect("the canary is caught");
    assert_eq!(violation.invariant, "write_pause_within_budget", "{violation}");
}
