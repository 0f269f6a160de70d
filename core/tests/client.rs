//! Unit tests of the client state machine.

mod support;

use bytes::Bytes;
use shardsim_core::wire::{Message, Rejection};
use shardsim_core::*;
use support::*;

fn client() -> Probe<Client> {
    Probe::boot(Client::new(ClientId(1), ProtocolConfig::default()), Address::new([10, 0, 2, 1], 7000)).0
}

fn write(shard: u32) -> Command {
    Command::Write { shard: ShardId(shard), entity: EntityKey(0), payload: Bytes::from_static(b"v") }
}

#[test]
fn a_write_waits_for_a_route_then_goes_to_the_owner_at_its_epoch() {
    let mut probe = client();
    let outputs = probe.command(write(3)).unwrap();
    assert_eq!(messages(&outputs), vec![Message::RouteQuery { shard: ShardId(3) }]);
    let reply = Message::RouteReply { shard: ShardId(3), owner: Some((NodeId(2), node_address(2))), epoch: Epoch(4) };
    probe.deliver(coordinator_identity(), reply).unwrap();
    let outputs = probe.tick_at(20);
    let (to, message) = sent(&outputs).remove(0);
    assert_eq!(to, node_address(2));
    assert!(matches!(message, Message::Write { epoch: Epoch(4), .. }));
}

#[test]
fn a_redirect_moves_the_write_to_the_new_owner_and_an_ack_completes_it() {
    let mut probe = client();
    probe.command(write(0)).unwrap();
    probe
        .deliver(
            coordinator_identity(),
            Message::RouteReply { shard: ShardId(0), owner: Some((NodeId(1), node_address(1))), epoch: Epoch(1) },
        )
        .unwrap();
    let outputs = probe.tick_at(20);
    let Message::Write { write_id, .. } = messages(&outputs).remove(0) else { panic!("a write") };
    let moved = Rejection::Moved { owner: NodeId(2), address: node_address(2), epoch: Epoch(2) };
    probe
        .deliver(node_identity(1, 1), Message::WriteRejected { shard: ShardId(0), write_id, rejection: moved })
        .unwrap();
    let outputs = probe.tick_at(40);
    assert!(sent(&outputs)
        .iter()
        .any(|(to, message)| *to == node_address(2) && matches!(message, Message::Write { epoch: Epoch(2), .. })));
    let ack = Message::WriteAck { shard: ShardId(0), epoch: Epoch(2), write_id, index: LogIndex(1) };
    let outputs = probe.deliver(node_identity(2, 1), ack).unwrap();
    assert!(observed(&outputs).contains(&Observation::ClientAcked { write_id, shard: ShardId(0), index: LogIndex(1) }));
    assert_eq!(probe.actor.pending_writes(), 0);
}

#[test]
fn retries_are_bounded_and_so_is_the_queue() {
    let mut probe = client();
    let max = ProtocolConfig::default().client_pending_writes_max;
    for _ in 0..max {
        probe.command(write(0)).unwrap();
    }
    assert!(matches!(probe.command(write(0)), Err(InputError::Refused(_))));
    let mut gave_up = 0;
    for step in 1..=2_000 {
        gave_up += observed(&probe.tick_at(step * 20))
            .iter()
            .filter(|observation| matches!(observation, Observation::ClientGaveUp { .. }))
            .count();
    }
    assert_eq!(gave_up, max, "every write is abandoned after its attempts with no route");
    assert_eq!(probe.actor.pending_writes(), 0);
}

#[test]
fn an_unanswered_write_asks_the_coordinator_again_and_follows_a_new_address() {
    // The owner's machine was replaced after the client learnt the route: same node, same
    // epoch, another address. Silence at the old one must not hold the write forever.
    let mut probe = client();
    probe.command(write(0)).unwrap();
    let old = Message::RouteReply { shard: ShardId(0), owner: Some((NodeId(1), node_address(1))), epoch: Epoch(1) };
    probe.deliver(coordinator_identity(), old).unwrap();
    let first = probe.tick_at(20);
    assert!(sent(&first)
        .iter()
        .any(|(to, message)| *to == node_address(1) && matches!(message, Message::Write { .. })));
    let timeout_ms = ProtocolConfig::default().client_write_timeout_ms;
    let retry = probe.tick_at(20 + timeout_ms + 20);
    assert!(messages(&retry).contains(&Message::RouteQuery { shard: ShardId(0) }), "a timeout refreshes the route");
    let moved_to = Address::new([10, 0, 11, 1], 7000);
    let new = Message::RouteReply { shard: ShardId(0), owner: Some((NodeId(1), moved_to)), epoch: Epoch(1) };
    probe.deliver(coordinator_identity(), new).unwrap();
    let outputs = probe.tick_at(20 + 2 * timeout_ms + 40);
    assert!(sent(&outputs).iter().any(|(to, message)| *to == moved_to && matches!(message, Message::Write { .. })));
}
