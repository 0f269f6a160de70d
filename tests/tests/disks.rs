//! Disks that fail in the world: a bit flipped in an owned shard's record is data loss the
//! nemesis records, and the cluster serves the shard again, empty, at a new epoch; a read
//! error at boot fails the boot, which is retried and reads the disk whole.

use shardsim::core::config::PlannerKind;
use shardsim::core::{Actor, ActorId, ClientId, EntityKey, Epoch, NodeId, ProtocolConfig, ShardId};
use shardsim::faults::Fault;
use shardsim::oracle::Violation;
use shardsim::workload::Workload;
use shardsim::world::{apply_settled, run_in_order, Event, World, WorldConfig};

const SHARDS: u32 = 4;

/// Two nodes holding two shards each, under a write every 5 ms for 2 s.
fn written_cluster() -> World {
    let protocol =
        ProtocolConfig { planner: PlannerKind::LeastShard, shard_count: SHARDS, ..ProtocolConfig::default() };
    let mut world = World::new(WorldConfig {
        workload: Workload::new(protocol.shard_count, 0, 5),
        ..WorldConfig::plain(protocol, 2, 1, 11)
    });
    for actor in
        [ActorId::Coordinator, ActorId::Node(NodeId(1)), ActorId::Node(NodeId(2)), ActorId::Client(ClientId(1))]
    {
        apply_settled(&mut world, Event::Boot { actor }).expect("a fresh cluster boots");
    }
    run_with_writes(&mut world, 2_000);
    world
}

fn run_with_writes(world: &mut World, duration_ms: u64) {
    let mut written = world.now().as_ms();
    let mut each_ms = |world: &mut World| -> Result<(), Violation> {
        if world.now().as_ms().is_multiple_of(5) {
            written += 1;
            let shard = ShardId((written % u64::from(SHARDS)) as u32);
            apply_settled(
                world,
                Event::ClientWrite { client: ClientId(1), shard, entity: EntityKey(0), payload: written },
            )?;
        }
        Ok(())
    };
    run_in_order(world, duration_ms, &mut each_ms).unwrap_or_else(|violation| panic!("{violation}"));
}

fn inject(world: &mut World, fault: Fault) {
    apply_settled(world, Event::Inject { fault }).unwrap_or_else(|violation| panic!("{violation}"));
}

#[test]
fn a_bit_flipped_in_an_owned_shard_is_recorded_lost_and_the_shard_served_again_at_a_new_epoch() {
    let mut world = written_cluster();
    let owned: Vec<ShardId> = {
        let coordinator = world.actors().coordinator.actor.as_ref().expect("up");
        coordinator.routing().owned_by(NodeId(1)).map(|(shard, _)| shard).collect()
    };
    assert!(!owned.is_empty(), "n1 owns shards");
    inject(&mut world, Fault::BitFlip { node: NodeId(1), pick: 3 });
    assert_eq!(world.oracle().facts().counters.shards_lost, 1, "the only copy of a shard is gone");
    run_with_writes(&mut world, 3_000);

    let coordinator = world.actors().coordinator.actor.as_ref().expect("up");
    let recreated: Vec<ShardId> = owned
        .iter()
        .copied()
        .filter(|shard| coordinator.routing().get(*shard).unwrap().epoch > Epoch::INITIAL)
        .collect();
    assert_eq!(recreated.len(), 1, "exactly the damaged shard moved on to a new epoch: {recreated:?}");
    let node = world.actors().nodes[&NodeId(1)].actor.as_ref().expect("n1 restarted");
    assert!(node.refused().is_empty(), "nothing corrupt left on n1's disk");
    let held = node.shard(recreated[0]).expect("n1 serves it again");
    assert!(held.log.last_index().0 > 0, "and takes writes at the new epoch");
    let summary = world.summary();
    assert_eq!(summary.faults_injected.get("bit_flip_lost_only_copy"), Some(&1));
    assert_eq!(summary.coverage.get("shard_recreated"), Some(&1));
    world.oracle().final_check(world.now(), world.actors()).unwrap_or_else(|violation| panic!("{violation}"));
}

#[test]
fn a_read_error_at_boot_fails_that_boot_and_the_retry_reads_the_disk_whole() {
    let mut world = written_cluster();
    let boots_before = world.oracle().facts().counters.node_boots;
    inject(&mut world, Fault::ReadError { node: NodeId(2), pick: 1 });
    let summary = world.summary();
    assert_eq!(summary.faults_injected.get("read_error_went_off"), Some(&1));
    assert_eq!(world.oracle().facts().counters.node_boots, boots_before + 1, "one boot failed, its retry booted");
    assert_eq!(world.oracle().facts().counters.shards_lost, 0, "a read error destroys nothing");
    let node = world.actors().nodes[&NodeId(2)].actor.as_ref().expect("n2 is up again");
    assert_eq!(node.identity().expect("booted").incarnation.0, 2, "the failed boot persisted no incarnation");
    assert!(node.refused().is_empty());
    run_with_writes(&mut world, 2_000);
    world.oracle().final_check(world.now(), world.actors()).unwrap_or_else(|violation| panic!("{violation}"));
}

#[test]
fn a_record_flipped_twice_while_its_node_is_down_is_judged_against_what_was_first_written() {
    let mut world = written_cluster();
    inject(&mut world, Fault::Crash { target: shardsim::faults::Target::Node(NodeId(2)), down_ms: 0 });
    // The same pick twice: the same record, the same bit, flipped and flipped back.
    inject(&mut world, Fault::BitFlip { node: NodeId(2), pick: 5 });
    inject(&mut world, Fault::BitFlip { node: NodeId(2), pick: 5 });
    apply_settled(&mut world, Event::Boot { actor: ActorId::Node(NodeId(2)) })
        .unwrap_or_else(|violation| panic!("{violation}"));
    run_with_writes(&mut world, 2_000);
    world.oracle().final_check(world.now(), world.actors()).unwrap_or_else(|violation| panic!("{violation}"));
}
