//! Micro-benchmarks of the oracle: one check on a cluster of 5 nodes and 64 shards, and on
//! 20 nodes and 4096 shards. `cargo bench -p shardsim --bench oracle`.

use divan::Bencher;
use shardsim::actors::Actors;
use shardsim::core::*;
use shardsim::oracle::Oracle;
use shardsim::world::{apply_settled, boot_all, run_in_order, Event, World, WorldConfig};

fn main() {
    divan::main();
}

#[path = "common/size.rs"]
mod size;
use size::Size;

const SIZES: [Size; 2] = [Size { nodes: 5, shards: 64 }, Size { nodes: 20, shards: 4_096 }];
const WRITES_PER_SHARD: u64 = 8;
const CLIENTS: u32 = 4;

/// Nodes holding their shards with a few acked writes each, and the oracle that saw it
/// all: a real cluster run in order by the world, every invariant checked on the way.
fn cluster(size: Size) -> (Actors, Oracle) {
    let protocol = ProtocolConfig { shard_count: size.shards, ..ProtocolConfig::default() };
    let pending_max = protocol.client_pending_writes_max;
    let mut world = World::new(WorldConfig::plain(protocol, size.nodes, CLIENTS, 1));
    boot_all(&mut world).expect("a fresh cluster boots");
    let writes = u64::from(size.shards) * WRITES_PER_SHARD;
    let written = std::cell::Cell::new(0u64);
    // Each client writes whenever it has room for another pending write.
    let mut fill = |world: &mut World| {
        for client in (1..=CLIENTS).map(ClientId) {
            while written.get() < writes && pending_writes(world, client) < pending_max {
                let next = written.get();
                let shard = ShardId((next % u64::from(size.shards)) as u32);
                let entity = EntityKey((next / u64::from(size.shards) % 4) as u32);
                written.set(next + 1);
                apply_settled(world, Event::ClientWrite { client, shard, entity, payload: next })?;
            }
        }
        Ok(())
    };
    while written.get() < writes {
        run_in_order(&mut world, 1_000, &mut fill).unwrap_or_else(|violation| panic!("{violation}"));
    }
    run_in_order(&mut world, 1_000, |_| Ok(())).unwrap_or_else(|violation| panic!("{violation}"));
    let acked = world.oracle().facts().counters.writes_acked;
    assert!(acked >= writes * 9 / 10, "the bench cluster should hold its writes: {acked} of {writes} acked");
    (world.actors().clone(), world.oracle().clone())
}

fn pending_writes(world: &World, client: ClientId) -> usize {
    world.actors().clients[&client].actor.as_ref().map_or(usize::MAX, |client| client.pending_writes())
}

/// The checks run after a data node's step (epochs of all its shards, source streams).
#[divan::bench(args = SIZES)]
fn after_node_step(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    bencher.bench_local(|| oracle.after_step(Instant(1), ActorId::Node(NodeId(1)), &actors).unwrap());
}

/// The checks one write ack triggers (single writer, ack consistency): the first write
/// shard 0's owner acked, observed again.
#[divan::bench(args = SIZES)]
fn observe_write_ack(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    let coordinator = actors.coordinator.actor.as_ref().expect("up");
    let route = coordinator.routing().get(ShardId(0)).expect("shard 0 is allocated");
    let node = actors.nodes[&route.owner].actor.as_ref().expect("up");
    let first = node.shard(ShardId(0)).expect("held").log.entries()[0].clone();
    let acked = Observation::WriteAcked {
        node: route.owner,
        shard: ShardId(0),
        epoch: route.epoch,
        named_epoch: route.epoch,
        write_id: first.write_id,
        index: LogIndex(1),
        entity: first.entity,
    };
    let actor = ActorId::Node(route.owner);
    bencher.bench_local(|| oracle.observe(Instant(1), actor, &acked, &actors).unwrap());
}

/// A node's boot check: every write it acked is still in its logs.
#[divan::bench(args = SIZES)]
fn observe_node_boot(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    let identity = actors.nodes[&NodeId(1)].actor.as_ref().unwrap().identity().unwrap();
    let booted = Observation::NodeBooted { node: NodeId(1), identity };
    bencher.bench_local(|| oracle.observe(Instant(1), ActorId::Node(NodeId(1)), &booted, &actors).unwrap());
}
