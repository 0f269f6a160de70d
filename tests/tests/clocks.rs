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
