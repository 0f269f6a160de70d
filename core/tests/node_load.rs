//! What a data node reports in its heartbeats: writes and reads per second over the load
//! window, per shard and in total; and reads answered only by the owner.

mod support;

use bytes::Bytes;
use shardsim_core::wire::{Heartbeat, Message, Rejection};
use shardsim_core::*;
use support::*;

fn write(shard: u32, sequence: u64) -> Message {
    Message::Write {
        shard: ShardId(shard),
        epoch: Epoch(1),
        write_id: WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence },
        entity: EntityKey(0),
        payload: Bytes::from_static(b"four"),
    }
}

fn read(shard: u32) -> Message {
    Message::Read { shard: ShardId(shard), epoch: Epoch(1), client: ClientId(1) }
}

fn heartbeat_of(outputs: &Ready) -> Heartbeat {
    messages(outputs)
        .into_iter()
        .find_map(|message| match message {
            Message::Heartbeat(heartbeat) => Some(heartbeat),
            _ => None,
        })
        .expect("a heartbeat once the interval has passed")
}

#[test]
fn heartbeats_report_writes_and_reads_per_second_over_the_window() {
    let config = ProtocolConfig::default();
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), config.clone()), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    // The shard arrived during the first window: it is measured from the next one.
    let first = heartbeat_of(&probe.tick_at(config.load_window_ms));
    assert!(first.shard_loads.is_empty(), "a shard counted for part of a window has no rate yet");
    for sequence in 1..=10 {
        probe.deliver(client_identity(1), write(0, sequence)).unwrap();
    }
    for _ in 0..5 {
        let outputs = probe.deliver(client_identity(1), read(0)).unwrap();
        assert!(matches!(messages(&outputs)[0], Message::ReadReply { last_index: LogIndex(10), .. }));
    }
    let Heartbeat { load, shard_loads, .. } = heartbeat_of(&probe.tick_at(2 * config.load_window_ms));
    assert_eq!((load.writes_per_s, load.reads_per_s, load.bytes), (10, 5, 40));
    assert_eq!((shard_loads[0].writes_per_s, shard_loads[0].reads_per_s), (10, 5));
    assert_eq!(load.cpu_permille, (15 * 1000 / config.node_capacity_ops_per_s) as u32);
}

#[test]
fn a_shard_that_moved_away_and_back_is_measured_afresh() {
    let config = ProtocolConfig::default();
    let window_ms = config.load_window_ms;
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), config), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    probe.tick_at(window_ms);
    probe.deliver(client_identity(1), write(0, 1)).unwrap();
    assert_eq!(heartbeat_of(&probe.tick_at(2 * window_ms)).shard_loads.len(), 1);
    let state = probe.actor.shard(ShardId(0)).unwrap();
    assert!(state.rates_measured && state.counted_whole_window);
    let mut moved = state.clone();
    moved.forget_rates();
    assert!(!moved.rates_measured && !moved.counted_whole_window && moved.writes_per_s == 0);
    moved.close_load_window(window_ms);
    assert!(!moved.rates_measured, "the first window after coming back was only partly counted");
    moved.writes_in_window = 3;
    moved.close_load_window(window_ms);
    assert!(moved.rates_measured);
    assert_eq!(moved.writes_per_s, 3 * 1000 / window_ms);
}

#[test]
fn reads_of_a_shard_not_owned_here_are_rejected() {
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), ProtocolConfig::default()), node_address(1));
    let outputs = probe.deliver(client_identity(1), read(3)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::ReadRejected { rejection: Rejection::NotOwner, .. }));
}

#[test]
fn the_moving_notice_list_is_bounded_like_the_entities() {
    let config = ProtocolConfig { entities_per_shard_max: 1, ..ProtocolConfig::default() };
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), config), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    probe.deliver(client_identity(1), write(0, 1)).unwrap();
    let second = Message::Write {
        shard: ShardId(0),
        epoch: Epoch(1),
        write_id: WriteId { client: ClientId(2), incarnation: Incarnation(1), sequence: 1 },
        entity: EntityKey(0),
        payload: Bytes::from_static(b"x"),
    };
    probe.deliver(client_identity(2), second).unwrap();
    let clients: Vec<ClientId> = probe.actor.shard(ShardId(0)).unwrap().clients.keys().copied().collect();
    assert_eq!(clients, vec![ClientId(1)]);
}
