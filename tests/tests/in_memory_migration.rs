//! One coordinator, three data nodes and a client run by the world's plainest scheduler
//! (no madsim, every message in order): shards move to a node that joins under client
//! writes, and the oracle — every invariant, after every step, and at the end every acked
//! write on its shard's final owner, once, at its index — finds nothing.

use shardsim::core::config::PlannerKind;
use shardsim::core::{ActorId, ClientId, EntityKey, NodeId, ProtocolConfig, ShardId};
use shardsim::oracle::Violation;
use shardsim::workload::Workload;
use shardsim::world::{apply_settled, run_in_order, Event, World, WorldConfig};

#[test]
fn shards_move_to_a_joining_node_under_writes_without_losing_an_acked_write() {
    let protocol = ProtocolConfig { planner: PlannerKind::LeastShard, shard_count: 6, ..ProtocolConfig::default() };
    let mut world = World::new(WorldConfig {
        workload: Workload::new(protocol.shard_count, 0, 5),
        ..WorldConfig::plain(protocol, 3, 1, 7)
    });
    for actor in
        [ActorId::Coordinator, ActorId::Node(NodeId(1)), ActorId::Node(NodeId(2)), ActorId::Client(ClientId(1))]
    {
        apply_settled(&mut world, Event::Boot { actor }).expect("a fresh cluster boots");
    }
    let mut written = 0u64;
    let mut write_every_5_ms = |world: &mut World| -> Result<(), Violation> {
        if world.now().as_ms().is_multiple_of(5) {
            let shard = ShardId((written % 6) as u32);
            written += 1;
            let write = Event::ClientWrite { client: ClientId(1), shard, entity: EntityKey(0), payload: written };
            apply_settled(world, write)?;
        }
        Ok(())
    };
    let run = |world: &mut World, duration_ms, each_ms: &mut dyn FnMut(&mut World) -> Result<(), Violation>| {
        run_in_order(world, duration_ms, each_ms).unwrap_or_else(|violation| panic!("{violation}"))
    };
    run(&mut world, 3_000, &mut write_every_5_ms);
    apply_settled(&mut world, Event::Boot { actor: ActorId::Node(NodeId(3)) }).expect("node 3 joins");
    run(&mut world, 8_000, &mut write_every_5_ms);
    run(&mut world, 3_000, &mut |_| Ok(()));

    let counters = &world.oracle().facts().counters;
    assert!(counters.migrations_completed >= 2, "the joining node should have received shards: {counters:?}");
    let coordinator = world.actors().coordinator.actor.as_ref().expect("up");
    assert_eq!(coordinator.tracker().active_total(), 0, "every migration is terminal at the end");
    assert_eq!(coordinator.routing().owned_by(NodeId(3)).count(), 2, "least-shard balance: 6 shards on 3 nodes");
    assert!(counters.writes_acked > 1_000, "most writes acked: {} of {written}", counters.writes_acked);
    world.oracle().final_check(world.now(), world.actors()).unwrap_or_else(|violation| panic!("{violation}"));
}
