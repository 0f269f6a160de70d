//! Micro-benchmarks of the core: planners by cluster size, tracker operations, the codec.
//! `cargo bench --bench core`.

use bytes::Bytes;
use divan::Bencher;
use shardsim::core::config::{LeastShardConfig, LoadWeights, MigrationCaps};
use shardsim::core::load::{ClusterView, NodeView, ShardLoad, ShardView};
use shardsim::core::log::{Digest, LogEntry};
use shardsim::core::phase::Phase;
use shardsim::core::planner::{plan_least_shard, plan_load_based};
use shardsim::core::tracker::MigrationTracker;
use shardsim::core::wire::{self, Envelope, Heartbeat, Message, ShardReport, ShardRole, PROTOCOL_VERSION};
use shardsim::core::*;

fn main() {
    divan::main();
}

#[path = "common/size.rs"]
mod size;
use size::Size;

const SIZES: [Size; 9] = [
    Size { nodes: 10, shards: 1_000 },
    Size { nodes: 10, shards: 10_000 },
    Size { nodes: 10, shards: 100_000 },
    Size { nodes: 100, shards: 1_000 },
    Size { nodes: 100, shards: 10_000 },
    Size { nodes: 100, shards: 100_000 },
    Size { nodes: 1_000, shards: 1_000 },
    Size { nodes: 1_000, shards: 10_000 },
    Size { nodes: 1_000, shards: 100_000 },
];

const CAPS: MigrationCaps = MigrationCaps { active_total_max: 64, active_per_node_max: 2, moves_per_tick_max: 32 };

/// A skewed cluster: shards piled on the first nodes, loads drawn from a fixed seed, a few
/// migrations in flight; so both planners have work to do.
fn cluster(size: Size) -> ClusterView {
    let mut entropy = SplitMix64::new(u64::from(size.nodes) * 1_000_003 + u64::from(size.shards));
    let nodes =
        (1..=size.nodes).map(|node| NodeView { node: NodeId(node), accepts_shards: true, cpu_permille: 300 }).collect();
    let shards = (0..size.shards)
        .map(|shard| {
            let owner = NodeId(
                1 + (entropy.below(u64::from(size.nodes)) as u32).min(entropy.below(u64::from(size.nodes)) as u32),
            );
            let load = ShardLoad {
                shard: ShardId(shard),
                bytes: entropy.below(1 << 20),
                writes_per_s: entropy.below(500),
                reads_per_s: entropy.below(500),
            };
            ShardView { shard: ShardId(shard), owner, load, migrating_to: (entropy.below(100) == 0).then_some(owner) }
        })
        .collect();
    ClusterView { nodes, shards, active_by_node: vec![], active_total: 0 }
}

#[divan::bench(args = SIZES)]
fn plan_load_based_planner(bencher: Bencher, size: Size) {
    let view = cluster(size);
    let weights = LoadWeights::default();
    bencher.bench(|| plan_load_based(divan::black_box(&view), &weights, 0.1, CAPS));
}

#[divan::bench(args = SIZES)]
fn plan_least_shard_planner(bencher: Bencher, size: Size) {
    let view = cluster(size);
    let config = LeastShardConfig { rebalance_threshold_shards: 1, absolute_limit_shards: 32, relative_limit: 0.1 };
    bencher.bench(|| plan_least_shard(divan::black_box(&view), config, CAPS));
}

fn identity(node: u32) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(node)),
        address: Address::new([10, 0, 1, node as u8], 7000),
        incarnation: Incarnation(1),
    }
}

/// One migration's whole life in a tracker that already holds `terminal` finished ones.
#[divan::bench(args = [0, 1_000, 100_000])]
fn tracker_migration_lifecycle(bencher: Bencher, terminal: u32) {
    let caps = MigrationCaps { active_total_max: 16, active_per_node_max: 16, moves_per_tick_max: 16 };
    let mut tracker = MigrationTracker::new(caps, usize::MAX);
    for shard in 0..terminal {
        let id = tracker.begin(ShardId(shard), identity(1), identity(2), Epoch(1), Instant::ZERO).unwrap();
        tracker.fail(id, shardsim_core::phase::AbortReason::Timeout, Instant::ZERO).unwrap();
    }
    bencher.bench_local(|| {
        let id = tracker.begin(ShardId(u32::MAX), identity(1), identity(2), Epoch(1), Instant::ZERO).unwrap();
        for phase in [Phase::CatchUp, Phase::CutOver, Phase::Complete] {
            tracker.advance(id, phase, Instant::ZERO).unwrap();
        }
        divan::black_box(tracker.record_op(id));
    });
}

fn chunk() -> Envelope {
    let entries = (0..64)
        .map(|sequence| LogEntry {
            write_id: WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence },
            entity: EntityKey(0),
            payload: Bytes::from_static(&[7; 64]),
        })
        .collect();
    let body = Message::Chunk {
        migration: MigrationId(3),
        shard: ShardId(1),
        from_epoch: Epoch(4),
        first_index: LogIndex(1),
        entries,
    };
    Envelope { version: PROTOCOL_VERSION, from: identity(1), to_incarnation: Some(Incarnation(1)), body }
}

fn heartbeat() -> Envelope {
    let shards = (0..64)
        .map(|shard| ShardReport {
            shard: ShardId(shard),
            role: ShardRole::Owned { epoch: Epoch(3) },
            last_index: LogIndex(99),
        })
        .collect();
    let body = Message::Heartbeat(Heartbeat { load: Default::default(), shard_loads: vec![], shards, refused: vec![] });
    Envelope { version: PROTOCOL_VERSION, from: identity(1), to_incarnation: None, body }
}

fn write() -> Envelope {
    let write_id = WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence: 7 };
    let payload = Bytes::from_static(&[1; 8]);
    let body = Message::Write { shard: ShardId(3), epoch: Epoch(2), write_id, entity: EntityKey(1), payload };
    Envelope { version: PROTOCOL_VERSION, from: identity(1), to_incarnation: None, body }
}

#[divan::bench(args = ["write", "heartbeat_64_shards", "chunk_64_entries"])]
fn codec_encode(bencher: Bencher, message: &str) {
    let envelope = match message {
        "write" => write(),
        "heartbeat_64_shards" => heartbeat(),
        _ => chunk(),
    };
    bencher.bench(|| wire::encode(divan::black_box(&envelope)));
}

#[divan::bench(args = ["write", "heartbeat_64_shards", "chunk_64_entries"])]
fn codec_decode(bencher: Bencher, message: &str) {
    let bytes = wire::encode(&match message {
        "write" => write(),
        "heartbeat_64_shards" => heartbeat(),
        _ => chunk(),
    });
    bencher.bench(|| wire::decode(divan::black_box(&bytes)).unwrap());
}

#[divan::bench]
fn digest_of_64_entries(bencher: Bencher) {
    let Message::Chunk { entries, .. } = chunk().body else { unreachable!() };
    bencher.bench(|| entries.iter().fold(Digest::EMPTY, |digest, entry| digest.extend(entry)));
}
