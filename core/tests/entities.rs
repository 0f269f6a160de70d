//! Live entities on a data node: started on first use from the shard's log, fed by each
//! acked write, stopped in batches by the cut-over's handoff before the seal, passivated
//! at their bound, gone after a crash and restarted from the log.

mod support;

use bytes::Bytes;
use shardsim_core::node::{EntityState, EntityStop};
use shardsim_core::wire::{Message, Rejection};
use shardsim_core::*;
use support::*;

fn write(sequence: u64, entity: u32) -> Message {
    Message::Write {
        shard: ShardId(0),
        epoch: Epoch(1),
        write_id: WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence },
        entity: EntityKey(entity),
        payload: Bytes::from_static(b"x"),
    }
}

fn node(config: ProtocolConfig) -> Probe<DataNode> {
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), config), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    probe
}

fn entity_events(outputs: &Ready) -> Vec<Observation> {
    observed(outputs)
        .into_iter()
        .filter(|observation| {
            matches!(observation, Observation::EntityStarted { .. } | Observation::EntityStopped { .. })
        })
        .collect()
}

fn live(probe: &Probe<DataNode>) -> Vec<(EntityKey, EntityState)> {
    probe.actor.shard(ShardId(0)).unwrap().entities.iter().map(|(key, state)| (*key, *state)).collect()
}

#[test]
fn an_entity_starts_on_first_use_from_the_log_and_is_fed_by_every_write() {
    let mut probe = node(ProtocolConfig::default());
    let outputs = probe.deliver(client_identity(1), write(1, 7)).unwrap();
    let started = EntityState { applied: 0, last_index: LogIndex(0) };
    assert_eq!(
        entity_events(&outputs),
        vec![Observation::EntityStarted { node: NodeId(1), shard: ShardId(0), entity: EntityKey(7), state: started }]
    );
    probe.deliver(client_identity(1), write(2, 8)).unwrap();
    let outputs = probe.deliver(client_identity(1), write(3, 7)).unwrap();
    assert!(entity_events(&outputs).is_empty(), "a live entity is fed, not started again");
    assert_eq!(
        live(&probe),
        vec![
            (EntityKey(7), EntityState { applied: 2, last_index: LogIndex(3) }),
            (EntityKey(8), EntityState { applied: 1, last_index: LogIndex(2) }),
        ]
    );
    // A crash loses them; the next write restarts its entity from the durable log.
    probe.reboot();
    let outputs = probe.deliver(client_identity(1), write(4, 7)).unwrap();
    let restored = EntityState { applied: 2, last_index: LogIndex(3) };
    assert_eq!(
        entity_events(&outputs),
        vec![Observation::EntityStarted { node: NodeId(1), shard: ShardId(0), entity: EntityKey(7), state: restored }]
    );
}

#[test]
fn at_the_bound_an_idle_entity_is_passivated() {
    let mut probe = node(ProtocolConfig { entities_per_shard_max: 2, ..ProtocolConfig::default() });
    probe.deliver(client_identity(1), write(1, 1)).unwrap();
    probe.deliver(client_identity(1), write(2, 2)).unwrap();
    let outputs = probe.deliver(client_identity(1), write(3, 3)).unwrap();
    assert!(matches!(
        entity_events(&outputs)[0],
        Observation::EntityStopped { entity: EntityKey(1), reason: EntityStop::Passivated, .. }
    ));
    assert_eq!(live(&probe).iter().map(|(key, _)| *key).collect::<Vec<_>>(), vec![EntityKey(2), EntityKey(3)]);
}

#[test]
fn the_handoff_stops_entities_a_batch_per_tick_and_seals_only_when_none_is_left() {
    let mut probe = node(ProtocolConfig { handoff_batch_entities: 2, ..ProtocolConfig::default() });
    for (sequence, entity) in [(1, 1), (2, 2), (3, 3)] {
        probe.deliver(client_identity(1), write(sequence, entity)).unwrap();
    }
    let migration = MigrationId(1);
    let target = node_identity(2, 1);
    probe
        .deliver(
            coordinator_identity(),
            Message::StartMigration { migration, shard: ShardId(0), epoch: Epoch(1), target },
        )
        .unwrap();
    probe.deliver(target, Message::ChunkAck { migration, shard: ShardId(0), applied_index: LogIndex(3) }).unwrap();
    let outputs =
        probe.deliver(coordinator_identity(), Message::StartCutover { migration, shard: ShardId(0) }).unwrap();
    let handed_off = |outputs: &Ready| {
        entity_events(outputs)
            .iter()
            .filter(|event| matches!(event, Observation::EntityStopped { reason: EntityStop::HandedOff, .. }))
            .count()
    };
    let sealed =
        |outputs: &Ready| messages(outputs).iter().any(|message| matches!(message, Message::SourceSealed { .. }));
    assert_eq!(handed_off(&outputs), 2);
    assert!(!sealed(&outputs), "sealed with an entity still live");
    let told = sent(&outputs).into_iter().any(|(to, message)| {
        to == client_identity(1).address && matches!(message, Message::ShardMoving { shard: ShardId(0) })
    });
    assert!(told, "the client that wrote is told the shard is moving");
    let outputs = probe.tick_at(100);
    assert_eq!(handed_off(&outputs), 1);
    assert!(sealed(&outputs));
    assert!(live(&probe).is_empty());
}

#[test]
fn a_full_log_refuses_writes_as_overloaded_and_loses_nothing() {
    let mut probe = node(ProtocolConfig { shard_log_entries_max: 2, ..ProtocolConfig::default() });
    probe.deliver(client_identity(1), write(1, 1)).unwrap();
    probe.deliver(client_identity(1), write(2, 1)).unwrap();
    let outputs = probe.deliver(client_identity(1), write(3, 1)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteRejected { rejection: Rejection::Overloaded, .. }));
    let outputs = probe.deliver(client_identity(1), write(2, 1)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(2), .. }), "a retry is still acked");
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().log.last_index(), LogIndex(2));
}
