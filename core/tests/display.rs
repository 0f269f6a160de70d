//! The compact names reports, logs and evidence share.

use shardsim_core::*;

fn node(node: u32, incarnation: u64) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(node)),
        address: Address::new([10, 0, 1, node as u8], 7000),
        incarnation: Incarnation(incarnation),
    }
}

#[test]
fn identities_and_write_ids_are_short() {
    assert_eq!(node(3, 2).to_string(), "n3#2");
    assert_eq!(format!("{:#}", node(3, 2)), "n3#2@10.0.1.3:7000");
    let write_id = WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence: 658 };
    assert_eq!(write_id.to_string(), "c1#1:658");
}

#[test]
fn observations_are_one_short_line() {
    let started = Observation::MigrationStarted {
        migration: MigrationId(7),
        shard: ShardId(10),
        source: node(3, 1),
        target: node(2, 1),
        from_epoch: Epoch(1),
    };
    assert_eq!(started.to_string(), "m7 s10 n3#1->n2#1 e1->e2 started");
    let acked = Observation::WriteAcked {
        node: NodeId(1),
        shard: ShardId(3),
        epoch: Epoch(2),
        named_epoch: Epoch(1),
        write_id: WriteId { client: ClientId(2), incarnation: Incarnation(1), sequence: 287 },
        index: LogIndex(72),
        entity: EntityKey(3),
    };
    assert_eq!(acked.to_string(), "ack w c2#1:287 s3/k3 at #72 e2 (client named e1)");
    let aborted = Observation::MigrationAborted {
        migration: MigrationId(7),
        shard: ShardId(10),
        reason: phase::AbortReason::Timeout,
    };
    assert_eq!(aborted.to_string(), "m7 s10 aborted: Timeout");
}
