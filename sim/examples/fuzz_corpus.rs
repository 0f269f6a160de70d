//! Writes the checked-in seed corpus of the fuzz targets (fuzz/corpus/*):
//! `cargo run -p shardsim --example fuzz_corpus`.

use shardsim::core::wire::{self, Envelope, Message, PROTOCOL_VERSION};
use shardsim::core::*;
use std::path::Path;

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// The settle pattern: eight deliveries then a timer, so the protocol makes progress.
fn settling(rounds: usize) -> Vec<u8> {
    let mut bytes = Vec::new();
    for round in 0..rounds {
        for _ in 0..8 {
            bytes.extend_from_slice(&[0, 0, 0]);
        }
        bytes.extend_from_slice(&[40, 0, 0]);
        if round % 4 == 0 {
            bytes.extend_from_slice(&[50, (round % 4) as u8, 0]);
        }
    }
    bytes
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let orders = root.join("message_order");
    write(&orders, "settle", &settling(60));
    let mut join = vec![58, 3, 0];
    join.extend(settling(80));
    write(&orders, "spare_joins", &join);
    let mut decommission = vec![63, 0, 0];
    decommission.extend(settling(80));
    write(&orders, "decommission_n1", &decommission);
    let mut crash_mid_migration = vec![58, 3, 0];
    crash_mid_migration.extend(settling(30));
    crash_mid_migration.extend_from_slice(&[57, 0, 2, 58, 2, 0]);
    crash_mid_migration.extend(settling(40));
    write(&orders, "crash_mid_migration", &crash_mid_migration);
    let mut rng = SplitMix64::new(7);
    for seed in 0..4 {
        let bytes: Vec<u8> = (0..1_200).map(|_| rng.next_u64() as u8).collect();
        write(&orders, &format!("random_{seed}"), &bytes);
    }

    let decode = root.join("decode");
    let from = PeerIdentity {
        actor: ActorId::Coordinator,
        address: Address::new([10, 0, 0, 1], 7000),
        incarnation: Incarnation(1),
    };
    let messages = [
        Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) },
        Message::StartMigration {
            migration: MigrationId(1),
            shard: ShardId(0),
            epoch: Epoch(1),
            target: PeerIdentity {
                actor: ActorId::Node(NodeId(2)),
                address: Address::new([10, 0, 1, 2], 7000),
                incarnation: Incarnation(1),
            },
        },
        Message::StartCutover { migration: MigrationId(1), shard: ShardId(0) },
        Message::CommitMigration {
            migration: MigrationId(1),
            shard: ShardId(0),
            owner: NodeId(2),
            address: Address::new([10, 0, 1, 2], 7000),
            epoch: Epoch(2),
        },
        Message::RouteQuery { shard: ShardId(1) },
    ];
    for (position, body) in messages.into_iter().enumerate() {
        let bytes = wire::encode(&Envelope { version: PROTOCOL_VERSION, from, to_incarnation: None, body });
        write(&decode, &format!("message_{position}"), &bytes);
    }
    write(&decode, "empty", &[]);
    write(&decode, "garbage", &[0xff; 32]);
    println!("wrote the corpus under {}", root.display());
}
