//! Each invariant fed a history that breaks it, and shown to fail; and the same history
//! without the break, shown to pass.

use super::*;
use bytes::Bytes;
use shardsim_core::log::{Digest, LogEntry};
use shardsim_core::phase::{AbortReason, Phase};
use shardsim_core::storage::{apply, DiskImage, StorageKey};
use shardsim_core::wire::{self, Envelope, Message, PROTOCOL_VERSION};
use shardsim_core::*;
use std::collections::BTreeMap;

#[path = "tests_control.rs"]
mod control;

#[derive(Default)]
struct FakeCluster {
    coordinator: Option<Coordinator>,
    nodes: BTreeMap<NodeId, DataNode>,
    disks: BTreeMap<ActorId, DiskImage>,
}

impl ClusterState for FakeCluster {
    fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.as_ref()
    }
    fn node(&self, node: NodeId) -> Option<&DataNode> {
        self.nodes.get(&node)
    }
    fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }
    fn durable_disk(&self, actor: ActorId) -> Option<&DiskImage> {
        self.disks.get(&actor)
    }
}

fn address(node: u32) -> Address {
    Address::new([10, 0, 1, node as u8], 7000)
}

fn identity(node: u32, incarnation: u64) -> PeerIdentity {
    PeerIdentity { actor: ActorId::Node(NodeId(node)), address: address(node), incarnation: Incarnation(incarnation) }
}

impl FakeCluster {
    /// Boots a real data node and feeds it messages from the coordinator or a client.
    fn add_node(&mut self, node: u32, messages: &[(ActorId, Message)]) {
        let mut actor = DataNode::new(NodeId(node), ProtocolConfig::default());
        let disk = self.disks.entry(ActorId::Node(NodeId(node))).or_default();
        let mut out = Outbox::new();
        let mut entropy = SplitMix64::new(1);
        actor
            .handle(
                Instant::ZERO,
                Input::Boot { disk: &disk.clone(), address: address(node), unreadable: &[] },
                &mut entropy,
                &mut out,
            )
            .unwrap();
        for (from, body) in messages {
            let from =
                PeerIdentity { actor: *from, address: Address::new([10, 0, 9, 9], 7000), incarnation: Incarnation(1) };
            let bytes =
                wire::encode(&Envelope { version: PROTOCOL_VERSION, from, to_incarnation: None, body: body.clone() });
            actor
                .handle(Instant::ZERO, Input::Datagram { from: from.address, bytes: &bytes }, &mut entropy, &mut out)
                .unwrap();
        }
        for op in out.take().persists {
            apply(disk, op);
        }
        self.nodes.insert(NodeId(node), actor);
    }
}

fn assign(shard: u32) -> (ActorId, Message) {
    (ActorId::Coordinator, Message::AssignShard { shard: ShardId(shard), epoch: Epoch(1) })
}

fn write(sequence: u64) -> (ActorId, Message) {
    let write_id = WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence };
    (
        ActorId::Client(ClientId(1)),
        Message::Write {
            shard: ShardId(0),
            epoch: Epoch(1),
            write_id,
            entity: EntityKey(0),
            payload: Bytes::from_static(b"v"),
        },
    )
}

fn start(migration: u64, shard: u32, source: u32, target: u32) -> Observation {
    Observation::MigrationStarted {
        migration: MigrationId(migration),
        shard: ShardId(shard),
        source: identity(source, 1),
        target: identity(target, 1),
        from_epoch: Epoch(1),
    }
}

fn phase(migration: u64, from: Phase, to: Phase) -> Observation {
    Observation::MigrationPhase { migration: MigrationId(migration), shard: ShardId(0), from, to }
}

fn committed(migration: u64, owner: u32, epoch: u64) -> Observation {
    Observation::RoutingCommitted {
        migration: MigrationId(migration),
        shard: ShardId(0),
        owner: NodeId(owner),
        epoch: Epoch(epoch),
        sealed_index: LogIndex(0),
        sealed_digest: Digest::EMPTY,
        target_held_index: LogIndex(0),
        target_digest: Digest::EMPTY,
        target_at_start: identity(owner, 1),
        target_now: identity(owner, 1),
        pause_ms: 0,
        budget_ms: 500,
    }
}

fn acked(node: u32, epoch: u64, sequence: u64, index: u64) -> Observation {
    Observation::WriteAcked {
        node: NodeId(node),
        shard: ShardId(0),
        epoch: Epoch(epoch),
        named_epoch: Epoch(epoch),
        entity: EntityKey(0),
        write_id: WriteId { client: ClientId(1), incarnation: Incarnation(1), sequence },
        index: LogIndex(index),
    }
}

/// n1 fenced shard 0 for m1.
fn fenced() -> Observation {
    Observation::ShardFenced { node: NodeId(1), shard: ShardId(0), migration: MigrationId(1), epoch: Epoch(1) }
}

/// n1 sealed shard 0 for m1 at `index` (the digest of an empty log: only the index matters here).
fn sealed_at(index: u64) -> Observation {
    Observation::ShardSealed {
        node: NodeId(1),
        shard: ShardId(0),
        migration: MigrationId(1),
        index: LogIndex(index),
        digest: Digest::EMPTY,
    }
}

fn allocated(owner: u32) -> Observation {
    Observation::ShardAllocated { shard: ShardId(0), owner: NodeId(owner), epoch: Epoch(1) }
}

/// Feeds the history at 1 ms steps; returns the first violation.
fn feed(oracle: &mut Oracle, cluster: &FakeCluster, history: &[(ActorId, Observation)]) -> Result<(), Violation> {
    for (step, (actor, observation)) in history.iter().enumerate() {
        oracle.observe(Instant(step as u64 * 100), *actor, observation, cluster)?;
    }
    Ok(())
}

fn oracle() -> Oracle {
    Oracle::new(ProtocolConfig::default())
}

const C: ActorId = ActorId::Coordinator;
const N1: ActorId = ActorId::Node(NodeId(1));
const N2: ActorId = ActorId::Node(NodeId(2));

fn broken(result: Result<(), Violation>, invariant: &crate::oracle::Invariant) {
    let violation = result.expect_err("the history breaks an invariant");
    assert_eq!(violation.invariant, invariant.name, "{violation}");
}

#[test]
fn one_active_migration_per_shard_fails_on_a_second_start_and_passes_after_an_end() {
    let cluster = FakeCluster::default();
    let twice = [(C, start(1, 0, 1, 2)), (C, start(2, 0, 1, 3))];
    broken(feed(&mut oracle(), &cluster, &twice), &crate::oracle::migrations::ONE_ACTIVE_MIGRATION_PER_SHARD);
    let ended = [(C, start(1, 0, 1, 2)), (C, phase(1, Phase::BaseCopy, Phase::Failed)), (C, start(2, 0, 1, 3))];
    feed(&mut oracle(), &cluster, &ended).unwrap();
}

#[test]
fn one_active_migration_per_shard_fails_when_two_nodes_stream_one_shard() {
    let mut cluster = FakeCluster::default();
    let stream = |migration| {
        (
            ActorId::Coordinator,
            Message::StartMigration {
                migration: MigrationId(migration),
                shard: ShardId(0),
                epoch: Epoch(1),
                target: identity(3, 1),
            },
        )
    };
    cluster.add_node(1, &[assign(0), stream(1)]);
    let mut oracle = oracle();
    oracle.after_step(Instant(0), N1, &cluster).unwrap();
    cluster.add_node(2, &[assign(0), stream(2)]);
    broken(oracle.after_step(Instant(1), N2, &cluster), &crate::oracle::migrations::ONE_ACTIVE_MIGRATION_PER_SHARD);
}

#[test]
fn migration_caps_fail_past_the_per_node_cap() {
    let cluster = FakeCluster::default();
    let history = [(C, start(1, 0, 1, 2)), (C, start(2, 1, 1, 3))];
    broken(feed(&mut oracle(), &cluster, &history), &crate::oracle::migrations::MIGRATION_CAPS);
    feed(&mut oracle(), &cluster, &history[..1]).unwrap();
}

#[test]
fn phase_order_fails_on_a_skipped_phase_or_a_commit_outside_cut_over() {
    let cluster = FakeCluster::default();
    broken(
        feed(&mut oracle(), &cluster, &[(C, start(1, 0, 1, 2)), (C, phase(1, Phase::BaseCopy, Phase::CutOver))]),
        &crate::oracle::migrations::PHASE_ORDER,
    );
    broken(
        feed(&mut oracle(), &cluster, &[(C, start(1, 0, 1, 2)), (C, phase(1, Phase::CatchUp, Phase::CutOver))]),
        &crate::oracle::migrations::PHASE_ORDER,
    );
    let early_commit = [(C, start(1, 0, 1, 2)), (N1, fenced())];
    let mut oracle = oracle();
    feed(&mut oracle, &cluster, &early_commit).unwrap();
    let sealed = sealed_at(0);
    oracle.observe(Instant(1), N1, &sealed, &cluster).unwrap();
    let mut with_disk = FakeCluster::default();
    with_disk.disks.insert(N2, DiskImage::new());
    broken(oracle.observe(Instant(2), C, &committed(1, 2, 2), &with_disk), &crate::oracle::migrations::PHASE_ORDER);
}

#[test]
fn single_writer_fails_on_a_second_node_or_a_superseded_epoch() {
    let cluster = FakeCluster::default();
    broken(
        feed(&mut oracle(), &cluster, &[(C, allocated(1)), (N1, acked(1, 1, 1, 1)), (N2, acked(2, 1, 2, 2))]),
        &crate::oracle::writes::SINGLE_WRITER,
    );
    broken(
        feed(&mut oracle(), &cluster, &[(C, allocated(1)), (N2, acked(2, 1, 1, 1))]),
        &crate::oracle::writes::SINGLE_WRITER,
    );
    broken(
        feed(&mut oracle(), &cluster, &[(C, allocated(1)), (N1, acked(1, 7, 1, 1))]),
        &crate::oracle::writes::SINGLE_WRITER,
    );
    let mut oracle = oracle();
    feed(&mut oracle, &cluster, &[(C, allocated(1)), (N1, acked(1, 1, 1, 1))]).unwrap();
    oracle.facts.committed_epoch.insert(ShardId(0), Epoch(2));
    broken(oracle.observe(Instant(9), N1, &acked(1, 1, 2, 2), &cluster), &crate::oracle::writes::SINGLE_WRITER);
}

#[test]
fn a_violation_names_the_kind_of_event_that_broke_it() {
    let cluster = FakeCluster::default();
    let by_ack = feed(&mut oracle(), &cluster, &[(C, allocated(1)), (N2, acked(2, 1, 1, 1))]).unwrap_err();
    assert_eq!(by_ack.trigger, "WriteAcked");
    let at_the_end = oracle().liveness_violation(Instant(5), vec!["not balanced".into()]);
    assert_eq!(at_the_end.trigger, trigger::LIVENESS_BOUND);
}

#[test]
fn no_lost_acked_write_fails_when_a_rebooted_owner_lacks_an_acked_write() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0), write(1)]);
    let booted = Observation::NodeBooted { node: NodeId(1), identity: identity(1, 2) };
    let holds = [(C, allocated(1)), (N1, acked(1, 1, 1, 1)), (N1, booted.clone())];
    feed(&mut oracle(), &cluster, &holds).unwrap();
    let lost = [(C, allocated(1)), (N1, acked(1, 1, 1, 1)), (N1, acked(1, 1, 2, 2)), (N1, booted)];
    broken(feed(&mut oracle(), &cluster, &lost), &crate::oracle::writes::NO_LOST_ACKED_WRITE);
    broken(
        feed(&mut oracle(), &cluster, &[(C, allocated(1)), (N1, acked(1, 1, 1, 1)), (N1, acked(1, 1, 1, 2))]),
        &crate::oracle::writes::NO_LOST_ACKED_WRITE,
    );
}

/// Of several acked writes a new owner lacks, the one reported is the lowest write id,
/// whatever order the oracle keeps them in.
#[test]
fn a_new_owner_lacking_acked_writes_is_told_the_lowest_one() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0)]);
    let mut oracle = oracle();
    let acks: Vec<(ActorId, Observation)> =
        [9, 3, 12, 5, 7].iter().enumerate().map(|(at, sequence)| (N1, acked(1, 1, *sequence, at as u64 + 1))).collect();
    feed(&mut oracle, &cluster, &[(C, allocated(1))]).unwrap();
    feed(&mut oracle, &cluster, &acks).unwrap();
    let lacking =
        crate::oracle::writes::new_owner_holds_acked_writes(&oracle.facts, NodeId(1), ShardId(0), Epoch(2), &cluster)
            .unwrap_err();
    assert!(lacking.starts_with("c1#1:3 acked"), "{lacking}");
}

#[test]
fn epoch_monotonic_fails_when_a_node_s_epoch_goes_back() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0)]);
    let mut oracle = oracle();
    oracle.after_step(Instant(0), N1, &cluster).unwrap();
    oracle.facts.node_epochs.insert(NodeId(1), vec![Epoch(2)]);
    broken(oracle.after_step(Instant(1), N1, &cluster), &crate::oracle::epochs::EPOCH_MONOTONIC);
}

#[test]
fn cutover_caught_up_fails_when_the_target_holds_less_than_was_sealed() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(2, &[]);
    let history = |index| {
        vec![
            (C, start(1, 0, 1, 2)),
            (C, phase(1, Phase::BaseCopy, Phase::CatchUp)),
            (C, phase(1, Phase::CatchUp, Phase::CutOver)),
            (
                N1,
                Observation::ShardFenced {
                    node: NodeId(1),
                    shard: ShardId(0),
                    migration: MigrationId(1),
                    epoch: Epoch(1),
                },
            ),
            (N1, sealed_at(index)),
            (C, committed(1, 2, 2)),
        ]
    };
    feed(&mut oracle(), &cluster, &history(0)).unwrap();
    broken(feed(&mut oracle(), &cluster, &history(3)), &crate::oracle::migrations::CUTOVER_CAUGHT_UP);
}

#[test]
fn identity_change_aborts_fails_when_a_rebooted_target_completes() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(2, &[]);
    let mut history = vec![
        (C, start(1, 0, 1, 2)),
        (C, phase(1, Phase::BaseCopy, Phase::CatchUp)),
        (C, phase(1, Phase::CatchUp, Phase::CutOver)),
        (N1, fenced()),
        (N1, sealed_at(0)),
    ];
    let mut clean = history.clone();
    clean.push((C, committed(1, 2, 2)));
    feed(&mut oracle(), &cluster, &clean).unwrap();
    history.push((N2, Observation::NodeBooted { node: NodeId(2), identity: identity(2, 2) }));
    history.push((C, committed(1, 2, 2)));
    broken(feed(&mut oracle(), &cluster, &history), &crate::oracle::migrations::IDENTITY_CHANGE_ABORTS);
}

#[test]
fn write_pause_within_budget_fails_when_the_commit_comes_late() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(2, &[]);
    let fenced = fenced();
    let sealed = sealed_at(0);
    let run = |commit_at_ms| {
        let mut oracle = oracle();
        for (at, actor, observation) in [
            (0, C, start(1, 0, 1, 2)),
            (1, C, phase(1, Phase::BaseCopy, Phase::CatchUp)),
            (2, C, phase(1, Phase::CatchUp, Phase::CutOver)),
            (3, N1, fenced.clone()),
            (4, N1, sealed.clone()),
            (commit_at_ms, C, committed(1, 2, 2)),
        ] {
            oracle.observe(Instant(at), actor, &observation, &cluster)?;
        }
        Ok(())
    };
    run(503).unwrap();
    broken(run(504), &crate::oracle::migrations::WRITE_PAUSE_WITHIN_BUDGET);
}

#[test]
fn no_thrashing_fails_when_a_shard_keeps_moving_after_the_heal() {
    let cluster = FakeCluster::default();
    let mut oracle = oracle();
    oracle.start_liveness(Instant(0));
    let mut result = Ok(());
    for migration in 1..=LIVENESS_MOVES_PER_SHARD_MAX as u64 + 1 {
        result = result.and_then(|()| {
            oracle.observe(Instant(migration), C, &start(migration, 0, 1, 2), &cluster)?;
            oracle.observe(Instant(migration), C, &phase(migration, Phase::BaseCopy, Phase::Failed), &cluster)?;
            let aborted = Observation::MigrationAborted {
                migration: MigrationId(migration),
                shard: ShardId(0),
                reason: AbortReason::Timeout,
            };
            oracle.observe(Instant(migration), C, &aborted, &cluster)
        });
    }
    let violation = result.expect_err("thrashing");
    assert_eq!(
        (violation.invariant.as_str(), violation.class),
        (crate::oracle::liveness::NO_THRASHING.name, ViolationClass::Liveness)
    );
    // Each start is listed with its end: these kept aborting, the last is under way.
    assert!(violation.message.contains("s0 started 4 migrations"), "{}", violation.message);
    assert!(violation.message.contains("m1 n1->n2 aborted (Timeout)"), "{}", violation.message);
    assert!(violation.message.contains("m4 n1->n2 under way"), "{}", violation.message);
}

#[test]
fn convergence_is_unmet_without_a_coordinator() {
    let oracle = oracle();
    assert_eq!(oracle.liveness_unmet(&FakeCluster::default()), vec!["the coordinator is down".to_string()]);
}

#[test]
fn no_silent_corruption_fails_when_a_node_serves_a_record_its_disk_damaged() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0), write(1)]);
    let booted = Observation::NodeBooted { node: NodeId(1), identity: identity(1, 2) };
    let key = StorageKey::LogEntry(ShardId(0), LogIndex(1));
    let held = cluster.nodes[&NodeId(1)].shard(ShardId(0)).expect("assigned").log.entries()[0].clone();
    // What was meant is what it holds: served whole.
    let mut whole = oracle();
    whole.note_damaged_record(NodeId(1), key, shardsim_core::storage::encode_record(&held));
    feed(&mut whole, &cluster, &[(N1, booted.clone())]).unwrap();
    // What was meant differs from what it holds: a damaged record served.
    let meant = LogEntry { payload: Bytes::from_static(b"w"), ..held };
    let mut damaged = oracle();
    damaged.note_damaged_record(NodeId(1), key, shardsim_core::storage::encode_record(&meant));
    broken(feed(&mut damaged, &cluster, &[(N1, booted.clone())]), &crate::oracle::disks::NO_SILENT_CORRUPTION);
    // Judged once, at the boot that read it back.
    feed(&mut damaged, &cluster, &[(N1, booted)]).unwrap();
}

#[test]
fn no_silent_corruption_fails_when_a_node_holds_a_shard_as_its_damaged_metadata_did_not_say() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0)]);
    let booted = Observation::NodeBooted { node: NodeId(1), identity: identity(1, 2) };
    let key = StorageKey::ShardMeta(ShardId(0));
    let held = cluster.nodes[&NodeId(1)].shard(ShardId(0)).expect("assigned").role;
    let mut whole = oracle();
    whole.note_damaged_record(NodeId(1), key, shardsim_core::storage::encode_record(&held));
    feed(&mut whole, &cluster, &[(N1, booted.clone())]).unwrap();
    let meant = shardsim_core::wire::ShardRole::Owned { epoch: Epoch(7) };
    let mut damaged = oracle();
    damaged.note_damaged_record(NodeId(1), key, shardsim_core::storage::encode_record(&meant));
    broken(feed(&mut damaged, &cluster, &[(N1, booted)]), &crate::oracle::disks::NO_SILENT_CORRUPTION);
}

#[test]
fn a_shard_the_nemesis_destroyed_is_excused_what_was_acked_before_but_not_after() {
    let mut cluster = FakeCluster::default();
    cluster.add_node(1, &[assign(0), write(1)]);
    let booted = Observation::NodeBooted { node: NodeId(1), identity: identity(1, 2) };
    // Write 2 was acked, then the shard's only copy was destroyed: its absence is no bug.
    let mut excused = oracle();
    feed(&mut excused, &cluster, &[(C, allocated(1)), (N1, acked(1, 1, 1, 1)), (N1, acked(1, 1, 2, 2))]).unwrap();
    excused.note_shard_lost(ShardId(0));
    feed(&mut excused, &cluster, &[(N1, booted.clone())]).unwrap();
    assert_eq!(excused.facts.counters.shards_lost, 1);
    // A write acked after the loss is checked as any other.
    let mut checked = oracle();
    feed(&mut checked, &cluster, &[(C, allocated(1)), (N1, acked(1, 1, 1, 1))]).unwrap();
    checked.note_shard_lost(ShardId(0));
    broken(
        feed(&mut checked, &cluster, &[(N1, acked(1, 1, 2, 2)), (N1, booted)]),
        &crate::oracle::writes::NO_LOST_ACKED_WRITE,
    );
}
