//! Unit tests of the data node state machine.

mod support;

use bytes::Bytes;
use shardsim_core::log::LogEntry;
use shardsim_core::storage::{encode_record, StorageKey, StorageOp};
use shardsim_core::wire::{Fate, Message, Rejection, ShardRole};
use shardsim_core::*;
use support::*;

fn write_id(sequence: u64) -> WriteId {
    WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence }
}

fn write(shard: u32, epoch: u64, sequence: u64) -> Message {
    Message::Write {
        shard: ShardId(shard),
        epoch: Epoch(epoch),
        write_id: write_id(sequence),
        entity: EntityKey((sequence % 2) as u32),
        payload: Bytes::from_static(b"x"),
    }
}

fn node_with_shard() -> Probe<DataNode> {
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), ProtocolConfig::default()), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    probe
}

#[test]
fn every_boot_bumps_and_persists_the_incarnation() {
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), ProtocolConfig::default()), node_address(1));
    assert_eq!(probe.actor.identity().unwrap().incarnation, Incarnation(1));
    probe.reboot();
    assert_eq!(probe.actor.identity().unwrap().incarnation, Incarnation(2));
}

#[test]
fn a_write_is_acked_only_after_its_entry_is_durably_persisted() {
    let mut probe = node_with_shard();
    let outputs = probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    assert!(
        outputs.persists.iter().any(|op| matches!(op, StorageOp::Put { key: StorageKey::LogEntry(..), .. })),
        "the entry is persisted"
    );
    assert!(outputs.must_sync, "the entry must be durable");
    assert!(
        outputs.immediate.iter().all(|effect| !matches!(effect, Effect::Send { .. })),
        "nothing sent before the sync"
    );
    assert!(
        outputs.after_sync.iter().any(|effect| matches!(effect, Effect::Send { .. })),
        "the ack waits for the sync"
    );
    assert!(matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(1), .. }));
}

#[test]
fn a_retried_write_is_acked_again_but_appended_once() {
    let mut probe = node_with_shard();
    probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    let outputs = probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(1), .. }));
    assert!(outputs.persists.is_empty());
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().log.last_index(), LogIndex(1));
}

#[test]
fn writes_at_the_wrong_epoch_or_to_unknown_shards_are_rejected() {
    let mut probe = node_with_shard();
    let rejection = |outputs: Ready| match &messages(&outputs)[0] {
        Message::WriteRejected { rejection, .. } => *rejection,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(
        rejection(probe.deliver(client_identity(1), write(0, 0, 1)).unwrap()),
        Rejection::StaleEpoch { current: Epoch(1) }
    );
    assert_eq!(rejection(probe.deliver(client_identity(1), write(0, 2, 1)).unwrap()), Rejection::NotOwner);
    assert_eq!(rejection(probe.deliver(client_identity(1), write(5, 1, 1)).unwrap()), Rejection::NotOwner);
}

#[test]
fn source_fences_durably_seals_and_forwards_after_commit() {
    let mut probe = node_with_shard();
    for sequence in 1..=3 {
        probe.deliver(client_identity(1), write(0, 1, sequence)).unwrap();
    }
    let target = node_identity(2, 1);
    let migration = MigrationId(1);
    let outputs = probe
        .deliver(
            coordinator_identity(),
            Message::StartMigration { migration, shard: ShardId(0), epoch: Epoch(1), target },
        )
        .unwrap();
    let chunk =
        sent(&outputs).into_iter().find(|(_, message)| matches!(message, Message::Chunk { .. })).expect("a chunk");
    assert_eq!(chunk.0, target.address);
    let Message::Chunk { entries, first_index, .. } = chunk.1 else { unreachable!() };
    assert_eq!((first_index, entries.len()), (LogIndex(1), 3));

    let outputs =
        probe.deliver(target, Message::ChunkAck { migration, shard: ShardId(0), applied_index: LogIndex(3) }).unwrap();
    assert!(messages(&outputs).iter().any(
        |message| matches!(message, Message::SourceProgress { progress, .. } if progress.target_applied == LogIndex(3))
    ));

    let outputs =
        probe.deliver(coordinator_identity(), Message::StartCutover { migration, shard: ShardId(0) }).unwrap();
    let fence = ShardRole::Fenced { epoch: Epoch(1), migration };
    assert!(
        outputs.must_sync
            && matches!(&outputs.persists[0], StorageOp::Put { key: StorageKey::ShardMeta(ShardId(0)), value } if *value == encode_record(&fence))
    );
    let sealed = messages(&outputs).into_iter().find(|message| matches!(message, Message::SourceSealed { .. }));
    assert!(
        matches!(sealed, Some(Message::SourceSealed { index: LogIndex(3), .. })),
        "the client entity was handed off and the log sealed"
    );

    let outputs = probe.deliver(client_identity(1), write(0, 1, 9)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteRejected { rejection: Rejection::Fenced, .. }));

    let commit = commit_to_n2(migration);
    probe.deliver(coordinator_identity(), commit).unwrap();
    let outputs = probe.deliver(client_identity(1), write(0, 1, 10)).unwrap();
    assert!(matches!(
        messages(&outputs)[0],
        Message::WriteRejected { rejection: Rejection::Moved { owner: NodeId(2), epoch: Epoch(2), .. }, .. }
    ));
}

#[test]
fn a_fenced_shard_stays_fenced_across_restart_until_the_coordinator_decides() {
    let mut probe = node_with_shard();
    let migration = MigrationId(4);
    probe
        .deliver(
            coordinator_identity(),
            Message::StartMigration { migration, shard: ShardId(0), epoch: Epoch(1), target: node_identity(2, 1) },
        )
        .unwrap();
    probe.deliver(coordinator_identity(), Message::StartCutover { migration, shard: ShardId(0) }).unwrap();
    probe.reboot();
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().role, ShardRole::Fenced { epoch: Epoch(1), migration });
    let outputs = probe.tick_at(1_000);
    assert!(messages(&outputs).contains(&Message::FateQuery { migration, shard: ShardId(0), from_epoch: Epoch(1) }));
    probe
        .deliver(coordinator_identity(), Message::FateReply { migration, shard: ShardId(0), fate: Fate::InProgress })
        .unwrap();
    assert!(matches!(probe.actor.shard(ShardId(0)).unwrap().role, ShardRole::Fenced { .. }));
    probe
        .deliver(coordinator_identity(), Message::FateReply { migration, shard: ShardId(0), fate: Fate::Aborted })
        .unwrap();
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().role, ShardRole::Owned { epoch: Epoch(1) });
}

#[test]
fn a_target_appends_in_order_reports_what_it_holds_and_serves_after_commit() {
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(2), ProtocolConfig::default()), node_address(2));
    let source = node_identity(1, 1);
    let migration = MigrationId(1);
    let entry = |sequence: u64| LogEntry {
        write_id: write_id(sequence),
        entity: EntityKey((sequence % 2) as u32),
        payload: Bytes::from_static(b"x"),
    };
    let chunk = |first, entries| Message::Chunk {
        migration,
        shard: ShardId(0),
        from_epoch: Epoch(1),
        first_index: LogIndex(first),
        entries,
    };
    probe.deliver(source, chunk(1, vec![entry(1), entry(2)])).unwrap();
    let outputs = probe.deliver(source, chunk(4, vec![entry(4)])).unwrap();
    assert!(
        matches!(messages(&outputs)[0], Message::ChunkAck { applied_index: LogIndex(2), .. }),
        "a gap is not applied"
    );
    probe.deliver(source, chunk(2, vec![entry(2), entry(3)])).unwrap();
    let outputs = probe
        .deliver(
            coordinator_identity(),
            Message::VerifyTarget { migration, shard: ShardId(0), sealed_index: LogIndex(3) },
        )
        .unwrap();
    assert!(matches!(messages(&outputs)[0], Message::TargetVerified { held_index: LogIndex(3), .. }));

    let commit = commit_to_n2(migration);
    probe.deliver(coordinator_identity(), commit).unwrap();
    let outputs = probe.deliver(client_identity(1), write(0, 2, 5)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(4), epoch: Epoch(2), .. }));
}

#[test]
fn messages_for_an_earlier_life_and_corrupt_disks_are_refused() {
    let mut probe = node_with_shard();
    probe.reboot();
    let stale = probe.deliver_to(
        coordinator_identity(),
        Some(Incarnation(1)),
        Message::AssignShard { shard: ShardId(3), epoch: Epoch(1) },
    );
    assert!(matches!(stale, Err(InputError::Stale(_))));
    assert!(probe.actor.shard(ShardId(3)).is_none());

    // Without its own incarnation the node cannot boot as anyone: a typed error, no panic.
    probe.disk.insert(StorageKey::NodeMeta, Bytes::from_static(&[0xff, 0xff, 0xff]));
    let disk = probe.disk.clone();
    let result = probe.input(Input::Boot { disk: &disk, address: node_address(1), unreadable: &[] });
    assert!(matches!(result, Err(InputError::CorruptDisk(_))));
}

/// A node holding shard 0 with three acked entries, its disk as it left it.
fn node_with_three_entries() -> Probe<DataNode> {
    let mut probe = node_with_shard();
    for sequence in 1..=3 {
        probe.deliver(client_identity(1), write(0, 1, sequence)).unwrap();
    }
    probe
}

fn damage(probe: &mut Probe<DataNode>, index: u64) {
    let key = StorageKey::LogEntry(ShardId(0), LogIndex(index));
    let mut bytes = probe.disk[&key].to_vec();
    let last = bytes.len() - 1;
    bytes[last / 2] ^= 0x10;
    probe.disk.insert(key, Bytes::from(bytes));
}

/// A write cut short: the second half of the entry never reached the disk and reads zero.
fn tear(probe: &mut Probe<DataNode>, index: u64) {
    let key = StorageKey::LogEntry(ShardId(0), LogIndex(index));
    let mut bytes = probe.disk[&key].to_vec();
    let half = bytes.len() / 2;
    bytes[half..].fill(0);
    probe.disk.insert(key, Bytes::from(bytes));
}

fn boot_observations(probe: &mut Probe<DataNode>) -> (Vec<Observation>, Vec<StorageOp>) {
    let outputs = probe.reboot();
    (observed(&outputs), outputs.persists)
}

#[test]
fn a_torn_last_entry_is_dropped_and_the_shard_served_without_it() {
    let mut probe = node_with_three_entries();
    tear(&mut probe, 3);
    let (observations, persists) = boot_observations(&mut probe);
    assert!(observations.iter().any(|observation| matches!(
        observation,
        Observation::LogTailTruncated { shard: ShardId(0), index: LogIndex(3), .. }
    )));
    assert!(persists.contains(&StorageOp::Delete { key: StorageKey::LogEntry(ShardId(0), LogIndex(3)) }));
    assert_eq!(probe.actor.shard(ShardId(0)).expect("still held").log.last_index(), LogIndex(2));
}

#[test]
fn a_rotten_last_entry_is_no_tear_and_refuses_the_shard() {
    let mut probe = node_with_three_entries();
    damage(&mut probe, 3);
    let (observations, _) = boot_observations(&mut probe);
    assert!(observations
        .iter()
        .any(|observation| matches!(observation, Observation::ShardRefused { shard: ShardId(0), .. })));
    assert!(probe.actor.shard(ShardId(0)).is_none());
}

#[test]
fn a_corrupt_entry_before_the_last_refuses_the_shard() {
    let mut probe = node_with_three_entries();
    damage(&mut probe, 2);
    let (observations, _) = boot_observations(&mut probe);
    assert!(observations
        .iter()
        .any(|observation| matches!(observation, Observation::ShardRefused { shard: ShardId(0), .. })));
    assert!(probe.actor.shard(ShardId(0)).is_none(), "neither served nor reported");
    let refused = probe.deliver(client_identity(1), write(0, 1, 9));
    assert!(refused
        .is_ok_and(|outputs| !messages(&outputs).iter().any(|message| matches!(message, Message::WriteAck { .. }))));
}

#[test]
fn a_refused_shard_is_reported_and_recreated_or_dropped_as_the_coordinator_says() {
    let mut probe = node_with_three_entries();
    damage(&mut probe, 2);
    probe.reboot();
    let heartbeat = probe.tick_at(10_000);
    let reported = messages(&heartbeat).into_iter().find_map(|message| match message {
        Message::Heartbeat(heartbeat) => Some(heartbeat.refused),
        _ => None,
    });
    assert_eq!(reported, Some(vec![ShardId(0)]), "the coordinator is told");

    // An assignment at the shard's old epoch does not bring it back; a new one does, empty.
    let stale = probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) });
    assert!(matches!(stale, Err(InputError::Stale(_))) && probe.actor.shard(ShardId(0)).is_none());
    let outputs =
        probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(2) }).unwrap();
    assert!(outputs.persists.contains(&StorageOp::ClearShardLog { shard: ShardId(0) }));
    let held = probe.actor.shard(ShardId(0)).expect("re-created");
    assert_eq!((held.role, held.log.last_index()), (ShardRole::Owned { epoch: Epoch(2) }, LogIndex(0)));
    assert!(probe.actor.refused().is_empty());
    probe.reboot();
    assert!(probe.actor.refused().is_empty(), "no corrupt record is left to refuse");
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().role, ShardRole::Owned { epoch: Epoch(2) });
}

#[test]
fn a_refused_copy_is_dropped_whole_on_release() {
    let mut probe = node_with_three_entries();
    damage(&mut probe, 1);
    probe.reboot();
    let outputs =
        probe.deliver(coordinator_identity(), Message::ReleaseShard { shard: ShardId(0), epoch: Epoch(2) }).unwrap();
    assert!(observed(&outputs).contains(&Observation::RefusedShardDropped { node: NodeId(1), shard: ShardId(0) }));
    assert!(!probe.disk.keys().any(|key| matches!(key, StorageKey::ShardMeta(_) | StorageKey::LogEntry(..))));
    probe.reboot();
    assert!(probe.actor.refused().is_empty() && probe.actor.shard(ShardId(0)).is_none());
}

#[test]
fn a_read_error_at_boot_fails_the_boot_and_a_retry_boots_whole() {
    let mut probe = node_with_three_entries();
    let unreadable = [StorageKey::LogEntry(ShardId(0), LogIndex(3))];
    let mut partial = probe.disk.clone();
    partial.remove(&unreadable[0]);
    let mut retried = DataNode::new(NodeId(1), ProtocolConfig::default());
    let mut out = Outbox::new();
    let boot = Input::Boot { disk: &partial, address: node_address(1), unreadable: &unreadable };
    let result = retried.handle(Instant::ZERO, boot, &mut SplitMix64::new(1), &mut out);
    assert_eq!(result, Err(InputError::DiskUnreadable(unreadable[0])));
    let ready = out.take();
    assert!(ready.persists.is_empty() && ready.immediate.is_empty() && ready.after_sync.is_empty());
    assert!(retried.identity().is_none(), "not booted");
    probe.reboot();
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().log.last_index(), LogIndex(3));
}

#[test]
fn the_boot_around_read_error_canary_boots_from_part_of_its_disk() {
    let probe = node_with_three_entries();
    let unreadable = [StorageKey::LogEntry(ShardId(0), LogIndex(3))];
    let mut partial = probe.disk.clone();
    partial.remove(&unreadable[0]);
    let config = ProtocolConfig { canaries: vec![canary::Canary::BootAroundReadError], ..ProtocolConfig::default() };
    let mut canary_node = DataNode::new(NodeId(1), config);
    let boot = Input::Boot { disk: &partial, address: node_address(1), unreadable: &unreadable };
    canary_node.handle(Instant::ZERO, boot, &mut SplitMix64::new(1), &mut Outbox::new()).expect("boots");
    assert_eq!(canary_node.shard(ShardId(0)).unwrap().log.last_index(), LogIndex(2), "an acked entry forgotten");
}

#[test]
fn the_checksums_ignored_canary_serves_a_damaged_entry() {
    let config = ProtocolConfig { canaries: vec![canary::Canary::ChecksumsIgnored], ..ProtocolConfig::default() };
    let (mut probe, _) = Probe::boot(DataNode::new(NodeId(1), config), node_address(1));
    probe.deliver(coordinator_identity(), Message::AssignShard { shard: ShardId(0), epoch: Epoch(1) }).unwrap();
    for sequence in 1..=3 {
        probe.deliver(client_identity(1), write(0, 1, sequence)).unwrap();
    }
    let meant = probe.actor.shard(ShardId(0)).unwrap().log.entries()[2].clone();
    let key = StorageKey::LogEntry(ShardId(0), LogIndex(3));
    let mut bytes = probe.disk[&key].to_vec();
    let payload_byte = bytes.len() - storage::CHECKSUM_BYTES - 1;
    bytes[payload_byte] ^= 0x01;
    probe.disk.insert(key, Bytes::from(bytes));
    probe.reboot();
    let served = &probe.actor.shard(ShardId(0)).expect("held").log.entries()[2];
    assert_ne!(*served, meant, "the flipped payload is served as if written");
}

#[test]
fn an_old_owner_keeps_its_log_until_released_and_can_be_rehomed_from_it() {
    let mut probe = node_with_shard();
    for sequence in 1..=2 {
        probe.deliver(client_identity(1), write(0, 1, sequence)).unwrap();
    }
    move_shard_0_to_n2(&mut probe);
    let held = probe.actor.shard(ShardId(0)).unwrap();
    assert!(matches!(held.role, ShardRole::Forwarding { retained: true, .. }));
    assert_eq!(held.log.last_index(), LogIndex(2), "the log is retained after the commit");

    probe.deliver(coordinator_identity(), Message::RehomeShard { shard: ShardId(0), epoch: Epoch(3) }).unwrap();
    assert_eq!(probe.actor.shard(ShardId(0)).unwrap().role, ShardRole::Owned { epoch: Epoch(3) });
    let outputs = probe.deliver(client_identity(1), write(0, 3, 3)).unwrap();
    assert!(
        matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(3), .. }),
        "serves again, from the retained log"
    );
}

#[test]
fn a_released_old_owner_drops_its_log_and_keeps_redirecting() {
    let mut probe = node_with_shard();
    probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    move_shard_0_to_n2(&mut probe);
    probe.deliver(coordinator_identity(), Message::ReleaseShard { shard: ShardId(0), epoch: Epoch(2) }).unwrap();
    let held = probe.actor.shard(ShardId(0)).unwrap();
    assert!(matches!(held.role, ShardRole::Forwarding { retained: false, .. }));
    assert_eq!(held.log.last_index(), LogIndex::EMPTY);
    assert!(
        probe.disk.keys().all(|key| !matches!(key, shardsim_core::storage::StorageKey::LogEntry(..))),
        "dropped from disk too"
    );
    let stale = probe.deliver(coordinator_identity(), Message::RehomeShard { shard: ShardId(0), epoch: Epoch(3) });
    assert!(matches!(stale, Err(InputError::Stale(_))), "nothing retained to rehome from");
}

/// Source side of a whole migration of shard 0 to n2: started, fenced, committed.
fn move_shard_0_to_n2(probe: &mut Probe<DataNode>) {
    let migration = MigrationId(1);
    let start = Message::StartMigration { migration, shard: ShardId(0), epoch: Epoch(1), target: node_identity(2, 1) };
    probe.deliver(coordinator_identity(), start).unwrap();
    probe.deliver(coordinator_identity(), Message::StartCutover { migration, shard: ShardId(0) }).unwrap();
    let commit = commit_to_n2(migration);
    probe.deliver(coordinator_identity(), commit).unwrap();
}

/// The coordinator's commit of shard 0 to n2 at epoch 2.
fn commit_to_n2(migration: MigrationId) -> Message {
    Message::CommitMigration {
        migration,
        shard: ShardId(0),
        owner: NodeId(2),
        address: node_address(2),
        epoch: Epoch(2),
    }
}

#[test]
fn a_failed_fsync_restarts_the_node_and_the_canary_carries_on() {
    let mut probe = node_with_shard();
    let outputs = probe.input(Input::SyncFailed).unwrap();
    assert!(outputs.restart, "a failed fsync is not retried: the node restarts from its disk");
    assert!(messages(&outputs).is_empty(), "and sends nothing on the way");
    let config = ProtocolConfig { canaries: vec![canary::Canary::AckAfterFailedFsync], ..ProtocolConfig::default() };
    let (mut careless, _) = Probe::boot(DataNode::new(NodeId(1), config), node_address(1));
    assert!(!careless.input(Input::SyncFailed).unwrap().restart);
}

#[test]
fn a_full_disk_refuses_writes_with_a_clear_rejection_until_it_has_room() {
    let mut probe = node_with_shard();
    probe.input(Input::DiskFull { full: true }).unwrap();
    let outputs = probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    assert!(outputs.persists.is_empty(), "nothing is written to a full disk");
    assert!(matches!(messages(&outputs)[0], Message::WriteRejected { rejection: Rejection::DiskFull, .. }));
    probe.input(Input::DiskFull { full: false }).unwrap();
    let outputs = probe.deliver(client_identity(1), write(0, 1, 1)).unwrap();
    assert!(matches!(messages(&outputs)[0], Message::WriteAck { index: LogIndex(1), .. }), "room again: acked");
}
