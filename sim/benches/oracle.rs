//! Micro-benchmarks of the oracle: one check on a cluster of 5 nodes and 64 shards, and on
//! 20 nodes and 4096 shards. `cargo bench -p shardsim --bench oracle`.

use bytes::Bytes;
use divan::Bencher;
use shardsim::actors::{node_address, Actors};
use shardsim::core::wire::{self, Envelope, Message, PROTOCOL_VERSION};
use shardsim::core::*;
use shardsim::oracle::Oracle;

fn main() {
    divan::main();
}

#[path = "common/size.rs"]
mod size;
use size::Size;

const SIZES: [Size; 2] = [Size { nodes: 5, shards: 64 }, Size { nodes: 20, shards: 4_096 }];
const WRITES_PER_SHARD: u64 = 8;

/// Nodes holding their shards with a few acked writes each, and an oracle that saw it all.
fn cluster(size: Size) -> (Actors, Oracle) {
    let config = ProtocolConfig { shard_count: size.shards, ..ProtocolConfig::default() };
    let mut actors = Actors::new(config.clone());
    let mut oracle = Oracle::new(config);
    let mut entropy = SplitMix64::new(1);
    let coordinator = PeerIdentity {
        actor: ActorId::Coordinator,
        address: Address::new([10, 0, 0, 1], 7000),
        incarnation: Incarnation(1),
    };
    let client = PeerIdentity {
        actor: ActorId::Client(ClientId(1)),
        address: Address::new([10, 0, 2, 1], 7000),
        incarnation: Incarnation(1),
    };
    for node in 1..=size.nodes {
        actors.add_node(NodeId(node), node_address(NodeId(node), 0));
        let _ = actors.boot(ActorId::Node(NodeId(node)), Instant::ZERO, &mut entropy);
    }
    let deliver = |actors: &mut Actors, to: NodeId, from: PeerIdentity, body: Message, entropy: &mut SplitMix64| {
        let bytes = wire::encode(&Envelope { version: PROTOCOL_VERSION, from, to_incarnation: None, body });
        actors
            .handle(ActorId::Node(to), Instant::ZERO, Input::Datagram { from: from.address, bytes: &bytes }, entropy)
            .1
    };
    for shard in 0..size.shards {
        let owner = NodeId(1 + shard % size.nodes);
        let allocated = Observation::ShardAllocated { shard: ShardId(shard), owner, epoch: Epoch(1) };
        oracle.observe(Instant::ZERO, ActorId::Coordinator, &allocated, &actors).unwrap();
        deliver(
            &mut actors,
            owner,
            coordinator,
            Message::AssignShard { shard: ShardId(shard), epoch: Epoch(1) },
            &mut entropy,
        );
        for sequence in 0..WRITES_PER_SHARD {
            let write_id = WriteId {
                client: ClientId(1),
                incarnation: Incarnation(1),
                sequence: u64::from(shard) * 100 + sequence,
            };
            let write = Message::Write {
                shard: ShardId(shard),
                epoch: Epoch(1),
                write_id,
                entity: EntityKey((sequence % 4) as u32),
                payload: Bytes::from_static(b"payload"),
            };
            for output in deliver(&mut actors, owner, client, write, &mut entropy).effects() {
                if let Effect::Observe(observation) = output {
                    oracle.observe(Instant::ZERO, ActorId::Node(owner), observation, &actors).unwrap();
                }
            }
        }
    }
    (actors, oracle)
}

/// The checks run after a data node's step (epochs of all its shards, source streams).
#[divan::bench(args = SIZES)]
fn after_node_step(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    bencher.bench_local(|| oracle.after_step(Instant(1), ActorId::Node(NodeId(1)), &actors).unwrap());
}

/// The checks one write ack triggers (single writer, ack consistency).
#[divan::bench(args = SIZES)]
fn observe_write_ack(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    let write_id = WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence: 0 };
    let acked = Observation::WriteAcked {
        node: NodeId(1),
        shard: ShardId(0),
        epoch: Epoch(1),
        named_epoch: Epoch(1),
        write_id,
        index: LogIndex(1),
        entity: EntityKey(0),
    };
    bencher.bench_local(|| oracle.observe(Instant(1), ActorId::Node(NodeId(1)), &acked, &actors).unwrap());
}

/// A node's boot check: every write it acked is still in its logs.
#[divan::bench(args = SIZES)]
fn observe_node_boot(bencher: Bencher, size: Size) {
    let (actors, mut oracle) = cluster(size);
    let identity = actors.nodes[&NodeId(1)].actor.as_ref().unwrap().identity().unwrap();
    let booted = Observation::NodeBooted { node: NodeId(1), identity };
    bencher.bench_local(|| oracle.observe(Instant(1), ActorId::Node(NodeId(1)), &booted, &actors).unwrap());
}
