//! Properties of the core's pure parts and of its actors under arbitrary input.

use bytes::Bytes;
use proptest::prelude::*;
use shardsim_core::config::{LeastShardConfig, LoadWeights, MigrationCaps};
use shardsim_core::load::{ClusterView, NodeView, ShardLoad, ShardView};
use shardsim_core::log::{Digest, LogEntry};
use shardsim_core::phase::{AbortReason, Phase};
use shardsim_core::planner::{plan_least_shard, plan_load_based, shard_scores, Move};
use shardsim_core::storage::{apply, decode_record, DiskImage, StorageKey};
use shardsim_core::tracker::{MigrationRecord, MigrationTracker};
use shardsim_core::wire::{self, Envelope, Fate, Message, Rejection, ShardRole, SourceProgress, PROTOCOL_VERSION};
use shardsim_core::*;
use std::collections::{BTreeMap, BTreeSet};

mod support;
use support::Probe;

// ---------- planners ----------

fn cluster_view() -> impl Strategy<Value = (ClusterView, MigrationCaps)> {
    (1usize..12, 0usize..120).prop_flat_map(|(node_count, shard_count)| {
        let nodes = prop::collection::vec((any::<bool>(), 0u32..1000), node_count);
        let shards = prop::collection::vec(
            (0..node_count, 0u64..10_000, 0u64..500, 0u64..500, prop::bool::weighted(0.1)),
            shard_count,
        );
        let caps = (1usize..8, 1usize..3, 1usize..6).prop_map(|(total, per_node, per_tick)| MigrationCaps {
            active_total_max: total,
            active_per_node_max: per_node,
            moves_per_tick_max: per_tick,
        });
        (nodes, shards, caps).prop_map(|(nodes, shards, caps)| {
            let nodes: Vec<NodeView> = nodes
                .into_iter()
                .enumerate()
                .map(|(index, (accepts, cpu))| NodeView {
                    node: NodeId(index as u32 + 1),
                    accepts_shards: accepts || index == 0,
                    cpu_permille: cpu,
                })
                .collect();
            let mut active: BTreeMap<NodeId, usize> = BTreeMap::new();
            let mut active_total = 0;
            let shards = shards
                .into_iter()
                .enumerate()
                .map(|(index, (owner, bytes, writes, reads, migrating))| {
                    let owner = NodeId(owner as u32 + 1);
                    if migrating {
                        *active.entry(owner).or_default() += 1;
                        active_total += 1;
                    }
                    let load =
                        ShardLoad { shard: ShardId(index as u32), bytes, writes_per_s: writes, reads_per_s: reads };
                    ShardView { shard: ShardId(index as u32), owner, load, migrating_to: migrating.then_some(owner) }
                })
                .collect();
            (ClusterView { nodes, shards, active_by_node: active.into_iter().collect(), active_total }, caps)
        })
    })
}

/// The rules every planner shares: caps, no busy shard, real owners, accepting targets.
fn check_common_rules(view: &ClusterView, caps: MigrationCaps, moves: &[Move]) {
    assert!(moves.len() <= caps.moves_per_tick_max, "moves per tick exceeded");
    assert!(view.active_total + moves.len() <= caps.active_total_max.max(view.active_total), "total cap exceeded");
    let mut per_node: BTreeMap<NodeId, usize> = view.active_by_node.iter().copied().collect();
    let before = per_node.clone();
    let mut moved = BTreeSet::new();
    for planned in moves {
        let shard = view.shards.iter().find(|shard| shard.shard == planned.shard).expect("a known shard");
        assert!(shard.migrating_to.is_none(), "moved {} which has an active migration", planned.shard);
        assert_eq!(shard.owner, planned.from, "moved from a node that does not own it");
        assert!(moved.insert(planned.shard), "moved {} twice", planned.shard);
        assert_ne!(planned.from, planned.to);
        let target = view.nodes.iter().find(|node| node.node == planned.to).expect("a known target");
        assert!(target.accepts_shards, "target {} does not accept shards", planned.to);
        *per_node.entry(planned.from).or_default() += 1;
        *per_node.entry(planned.to).or_default() += 1;
    }
    for (node, count) in per_node {
        let was = before.get(&node).copied().unwrap_or(0);
        assert!(count <= caps.active_per_node_max.max(was), "{node} over its cap");
    }
}

proptest! {
    #[test]
    fn load_based_planner_respects_caps_and_never_overshoots((view, caps) in cluster_view(), threshold in 0.0f64..0.5) {
        let weights = LoadWeights::default();
        let moves = plan_load_based(&view, &weights, threshold, caps);
        check_common_rules(&view, caps, &moves);
        let scores = shard_scores(&view, &weights);
        let mut before: BTreeMap<NodeId, f64> = BTreeMap::new();
        for (shard, score) in view.shards.iter().zip(&scores) {
            *before.entry(shard.owner).or_default() += score;
        }
        let mut after = before.clone();
        for planned in &moves {
            let index = view.shards.iter().position(|shard| shard.shard == planned.shard).unwrap();
            *after.entry(planned.from).or_default() -= scores[index];
            *after.entry(planned.to).or_default() += scores[index];
        }
        for planned in &moves {
            let source_before = before.get(&planned.from).copied().unwrap_or(0.0);
            let target_after = after.get(&planned.to).copied().unwrap_or(0.0);
            prop_assert!(target_after <= source_before + 1e-9, "{} ends at {target_after}, hotter than source {} was ({source_before}); moves {:?} before {:?}", planned.to, planned.from, moves, before);
        }
    }

    #[test]
    fn least_shard_planner_respects_caps_and_never_overshoots(
        (view, caps) in cluster_view(),
        threshold in 1usize..3,
        absolute in 1usize..6,
        relative in 0.0f64..0.5,
    ) {
        let config = LeastShardConfig { rebalance_threshold_shards: threshold, absolute_limit_shards: absolute, relative_limit: relative };
        let moves = plan_least_shard(&view, config, caps);
        check_common_rules(&view, caps, &moves);
        prop_assert!(moves.len() <= absolute.max(1));
        let mut before: BTreeMap<NodeId, i64> = BTreeMap::new();
        for shard in &view.shards {
            *before.entry(shard.owner).or_default() += 1;
        }
        let mut after = before.clone();
        for planned in &moves {
            *after.entry(planned.from).or_default() -= 1;
            *after.entry(planned.to).or_default() += 1;
        }
        for planned in &moves {
            prop_assert!(after[&planned.to] <= before[&planned.from], "{} overshoots", planned.to);
        }
    }
}

// ---------- tracker ----------

#[derive(Clone, Debug)]
enum TrackerOp {
    Begin { shard: u32, source: u32, target: u32 },
    Advance { pick: usize, to: Phase },
    Fail { pick: usize },
    Restart,
    Prune,
}

fn tracker_op() -> impl Strategy<Value = TrackerOp> {
    let phase = prop_oneof![
        Just(Phase::BaseCopy),
        Just(Phase::CatchUp),
        Just(Phase::CutOver),
        Just(Phase::Complete),
        Just(Phase::Failed)
    ];
    prop_oneof![
        4 => (0u32..4, 1u32..5, 1u32..5).prop_map(|(shard, source, target)| TrackerOp::Begin { shard, source, target }),
        4 => (any::<usize>(), phase).prop_map(|(pick, to)| TrackerOp::Advance { pick, to }),
        1 => any::<usize>().prop_map(|pick| TrackerOp::Fail { pick }),
        1 => Just(TrackerOp::Restart),
        1 => Just(TrackerOp::Prune),
    ]
}

fn identity(node: u32) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(node)),
        address: Address::new([10, 0, 1, node as u8], 7000),
        incarnation: Incarnation(1),
    }
}

fn restore(disk: &DiskImage, caps: MigrationCaps, next_id: MigrationId) -> MigrationTracker {
    let records = disk
        .iter()
        .filter(|(key, _)| matches!(key, StorageKey::Migration(_)))
        .map(|(key, value)| decode_record::<MigrationRecord>(*key, value).unwrap());
    MigrationTracker::restore(caps, 3, next_id, records).expect("persisted state restores")
}

proptest! {
    #[test]
    fn tracker_keeps_one_active_migration_per_shard_across_restarts(ops in prop::collection::vec(tracker_op(), 1..80)) {
        let caps = MigrationCaps { active_total_max: 3, active_per_node_max: 2, moves_per_tick_max: 1 };
        let mut tracker = MigrationTracker::new(caps, 3);
        let mut disk = DiskImage::new();
        let mut history: BTreeMap<MigrationId, Vec<Phase>> = BTreeMap::new();
        let now = Instant::ZERO;
        for op in ops {
            match op {
                TrackerOp::Begin { shard, source, target } => {
                    let busy = tracker.active_for_shard(ShardId(shard)).is_some();
                    if let Ok(id) = tracker.begin(ShardId(shard), identity(source), identity(target), Epoch(1), now) {
                        prop_assert!(!busy, "began a second migration of s{shard}");
                        apply(&mut disk, tracker.record_op(id));
                        history.insert(id, vec![Phase::BaseCopy]);
                    }
                }
                TrackerOp::Advance { pick, to } => {
                    let ids: Vec<MigrationId> = tracker.records().map(|record| record.id).collect();
                    if ids.is_empty() { continue; }
                    let id = ids[pick % ids.len()];
                    let from = tracker.get(id).unwrap().phase;
                    match tracker.advance(id, to, now) {
                        Ok(left) => {
                            prop_assert_eq!(left, from);
                            prop_assert!(from.can_advance_to(to));
                            apply(&mut disk, tracker.record_op(id));
                            history.get_mut(&id).unwrap().push(to);
                        }
                        Err(_) => prop_assert!(!from.can_advance_to(to), "legal {from} -> {to} refused"),
                    }
                }
                TrackerOp::Fail { pick } => {
                    let ids = tracker.active_ids();
                    if ids.is_empty() { continue; }
                    let id = ids[pick % ids.len()];
                    tracker.fail(id, AbortReason::Timeout, now).unwrap();
                    apply(&mut disk, tracker.record_op(id));
                    history.get_mut(&id).unwrap().push(Phase::Failed);
                }
                TrackerOp::Restart => tracker = restore(&disk, caps, tracker.next_id()),
                TrackerOp::Prune => {
                    for op in tracker.prune() {
                        apply(&mut disk, op);
                    }
                }
            }
            let mut active_shards = BTreeSet::new();
            let mut per_node: BTreeMap<NodeId, usize> = BTreeMap::new();
            for record in tracker.records().filter(|record| !record.phase.is_terminal()) {
                prop_assert!(active_shards.insert(record.shard), "two active migrations of {}", record.shard);
                *per_node.entry(record.source_node).or_default() += 1;
                *per_node.entry(record.target_node).or_default() += 1;
            }
            prop_assert!(active_shards.len() <= caps.active_total_max);
            prop_assert!(per_node.values().all(|count| *count <= caps.active_per_node_max));
        }
        for phases in history.values() {
            for pair in phases.windows(2) {
                prop_assert!(pair[0].can_advance_to(pair[1]), "illegal {} -> {}", pair[0], pair[1]);
            }
        }
    }

    #[test]
    fn phases_only_advance_in_legal_order(steps in prop::collection::vec(0usize..5, 0..12)) {
        let all = [Phase::BaseCopy, Phase::CatchUp, Phase::CutOver, Phase::Complete, Phase::Failed];
        let mut tracker = MigrationTracker::new(MigrationCaps::default(), 8);
        let id = tracker.begin(ShardId(0), identity(1), identity(2), Epoch(1), Instant::ZERO).unwrap();
        let mut seen = vec![Phase::BaseCopy];
        for step in steps {
            if tracker.advance(id, all[step], Instant::ZERO).is_ok() {
                seen.push(all[step]);
            }
        }
        let legal_paths: [&[Phase]; 5] = [
            &[Phase::BaseCopy, Phase::CatchUp, Phase::CutOver, Phase::Complete],
            &[Phase::BaseCopy, Phase::Failed],
            &[Phase::BaseCopy, Phase::CatchUp, Phase::Failed],
            &[Phase::BaseCopy, Phase::CatchUp, Phase::CutOver, Phase::Failed],
            &[Phase::BaseCopy, Phase::CatchUp, Phase::CutOver],
        ];
        prop_assert!(legal_paths.iter().any(|path| path.starts_with(&seen)), "illegal path {seen:?}");
    }
}

// ---------- wire format ----------

fn small_identity() -> impl Strategy<Value = PeerIdentity> {
    (0u32..3, 0u32..4, 0u64..3).prop_map(|(kind, id, incarnation)| {
        let actor = match kind {
            0 => ActorId::Coordinator,
            1 => ActorId::Node(NodeId(id)),
            _ => ActorId::Client(ClientId(id)),
        };
        PeerIdentity {
            actor,
            address: Address::new([10, 0, kind as u8, id as u8], 7000),
            incarnation: Incarnation(incarnation),
        }
    })
}

fn entry() -> impl Strategy<Value = LogEntry> {
    (0u32..3, 0u64..30, prop::collection::vec(any::<u8>(), 0..8)).prop_map(|(client, sequence, payload)| LogEntry {
        write_id: WriteId { client: ClientId(client), incarnation: Incarnation(1), sequence },
        entity: EntityKey((sequence % 3) as u32),
        payload: Bytes::from(payload),
    })
}

/// Messages over small domains, so that ids, epochs and indexes collide with real state.
fn message() -> impl Strategy<Value = Message> {
    let m = (0u64..4).prop_map(MigrationId);
    let s = (0u32..3).prop_map(ShardId);
    let e = (0u64..4).prop_map(Epoch);
    let i = (0u64..12).prop_map(LogIndex);
    let n = (1u32..4).prop_map(NodeId);
    let a = (1u8..4).prop_map(|node| Address::new([10, 0, 1, node], 7000));
    let fate = prop_oneof![
        Just(Fate::InProgress),
        Just(Fate::Aborted),
        (n.clone(), a.clone(), e.clone()).prop_map(|(owner, address, epoch)| Fate::Committed { owner, address, epoch }),
    ];
    let write_id = (0u32..3, 0u64..30).prop_map(|(client, sequence)| WriteId {
        client: ClientId(client),
        incarnation: Incarnation(1),
        sequence,
    });
    prop_oneof![
        (m.clone(), s.clone(), i.clone(), i.clone(), i.clone()).prop_map(|(migration, shard, a, b, c)| {
            Message::SourceProgress {
                migration,
                shard,
                progress: SourceProgress { snapshot_index: a, target_applied: b, source_last: c },
            }
        }),
        (m.clone(), s.clone(), i.clone(), any::<u64>()).prop_map(|(migration, shard, index, digest)| {
            Message::SourceSealed { migration, shard, index, digest: Digest(digest) }
        }),
        (m.clone(), s.clone()).prop_map(|(migration, shard)| Message::SourceRefused { migration, shard }),
        (m.clone(), s.clone(), i.clone(), any::<u64>()).prop_map(|(migration, shard, held_index, digest)| {
            Message::TargetVerified { migration, shard, held_index, digest: Digest(digest) }
        }),
        (m.clone(), s.clone(), e.clone())
            .prop_map(|(migration, shard, from_epoch)| { Message::FateQuery { migration, shard, from_epoch } }),
        (s.clone(), e.clone()).prop_map(|(shard, epoch)| Message::AssignShard { shard, epoch }),
        (m.clone(), s.clone(), e.clone(), small_identity())
            .prop_map(|(migration, shard, epoch, target)| Message::StartMigration { migration, shard, epoch, target }),
        (m.clone(), s.clone()).prop_map(|(migration, shard)| Message::StartCutover { migration, shard }),
        (m.clone(), s.clone(), i.clone())
            .prop_map(|(migration, shard, sealed_index)| { Message::VerifyTarget { migration, shard, sealed_index } }),
        (m.clone(), s.clone(), n.clone(), a.clone(), e.clone()).prop_map(
            |(migration, shard, owner, address, epoch)| Message::CommitMigration {
                migration,
                shard,
                owner,
                address,
                epoch
            }
        ),
        (m.clone(), s.clone()).prop_map(|(migration, shard)| Message::AbortMigration { migration, shard }),
        (m.clone(), s.clone(), fate).prop_map(|(migration, shard, fate)| Message::FateReply { migration, shard, fate }),
        (m.clone(), s.clone(), e.clone(), i.clone(), prop::collection::vec(entry(), 0..5)).prop_map(
            |(migration, shard, from_epoch, first_index, entries)| {
                Message::Chunk { migration, shard, from_epoch, first_index, entries }
            }
        ),
        (m.clone(), s.clone(), i.clone())
            .prop_map(|(migration, shard, applied_index)| { Message::ChunkAck { migration, shard, applied_index } }),
        s.clone().prop_map(|shard| Message::RouteQuery { shard }),
        (s.clone(), e.clone(), write_id.clone(), prop::collection::vec(any::<u8>(), 0..8)).prop_map(
            |(shard, epoch, write_id, payload)| Message::Write {
                shard,
                epoch,
                write_id,
                entity: EntityKey(write_id.sequence as u32 % 3),
                payload: Bytes::from(payload)
            }
        ),
        (s.clone(), e.clone(), write_id.clone(), i.clone())
            .prop_map(|(shard, epoch, write_id, index)| Message::WriteAck { shard, epoch, write_id, index }),
        (s.clone(), write_id, e.clone()).prop_map(|(shard, write_id, current)| {
            Message::WriteRejected { shard, write_id, rejection: Rejection::StaleEpoch { current } }
        }),
        (s.clone(), e.clone(), 0u32..3).prop_map(|(shard, epoch, client)| Message::Read {
            shard,
            epoch,
            client: ClientId(client)
        }),
        s.clone().prop_map(|shard| Message::ShardMoving { shard }),
        (s, n, e).prop_map(|(shard, owner, epoch)| Message::Heartbeat(wire::Heartbeat {
            load: Default::default(),
            shard_loads: vec![],
            shards: vec![wire::ShardReport {
                shard,
                role: ShardRole::Owned { epoch },
                last_index: LogIndex(owner.0 as u64)
            }],
            refused: vec![shard],
        })),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (small_identity(), prop::option::of((0u64..3).prop_map(Incarnation)), message())
        .prop_map(|(from, to_incarnation, body)| Envelope { version: PROTOCOL_VERSION, from, to_incarnation, body })
}

proptest! {
    #[test]
    fn codec_round_trips(envelope in envelope()) {
        let bytes = wire::encode(&envelope);
        prop_assert_eq!(wire::decode(&bytes), Ok(envelope));
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = wire::decode(&bytes);
    }

    #[test]
    fn decoding_corrupted_messages_never_panics(envelope in envelope(), flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut bytes = wire::encode(&envelope).to_vec();
        for (position, value) in flips {
            let position = position % bytes.len();
            bytes[position] ^= value | 1;
        }
        let _ = wire::decode(&bytes);
    }
}

// ---------- actors under arbitrary input ----------

/// One step of arbitrary input: garbage or a message as a datagram, or (an empty input)
/// every timer name, each of which the actor refuses unless it has that timer.
fn feed<A: Actor>(probe: &mut Probe<A>, now: Instant, from: Address, bytes: &[u8]) {
    probe.now = now;
    if bytes.is_empty() {
        for timer in Timer::ALL {
            let _ = probe.input(Input::Timeout(timer));
        }
    } else {
        let _ = probe.input(Input::Datagram { from, bytes });
    }
}

proptest! {
    /// Any sequence of well-formed but arbitrary messages, timeouts and garbage bytes: the
    /// actors answer with errors or effects, never a panic (their own asserts included).
    #[test]
    fn actors_survive_arbitrary_messages(
        inputs in prop::collection::vec(prop_oneof![
            4 => envelope().prop_map(|envelope| wire::encode(&envelope).to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
            1 => Just(Vec::new()),
        ], 1..60),
    ) {
        let config = ProtocolConfig::default();
        let (mut node, _) = Probe::boot(DataNode::new(NodeId(1), config.clone()), Address::new([10, 0, 1, 1], 7000));
        let (mut coordinator, _) = Probe::boot(Coordinator::new(config.clone()), config.coordinator_address);
        let (mut client, _) = Probe::boot(Client::new(ClientId(1), config.clone()), Address::new([10, 0, 2, 1], 7000));
        let from = Address::new([10, 0, 1, 2], 7000);
        for (step, bytes) in inputs.iter().enumerate() {
            let now = Instant(step as u64 * 37);
            feed(&mut node, now, from, bytes);
            feed(&mut coordinator, now, from, bytes);
            feed(&mut client, now, from, bytes);
        }
    }
}
