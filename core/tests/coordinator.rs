//! Unit tests of the coordinator state machine.

mod support;

use shardsim_core::canary::Canary;
use shardsim_core::load::NodeLoad;
use shardsim_core::log::Digest;
use shardsim_core::phase::{AbortReason, Phase};
use shardsim_core::planner::PlanSource;
use shardsim_core::storage::{StorageKey, StorageOp};
use shardsim_core::wire::{Fate, Heartbeat, Message, ShardReport, ShardRole, SourceProgress};
use shardsim_core::*;
use support::*;

fn config() -> ProtocolConfig {
    ProtocolConfig { shard_count: 4, ..ProtocolConfig::default() }
}

/// A heartbeat that reports every shard the coordinator routes to `node` as owned.
fn heartbeat(probe: &mut Probe<Coordinator>, node: u32, incarnation: u64, cpu_permille: u32) -> Ready {
    let shards = probe
        .actor
        .routing()
        .owned_by(NodeId(node))
        .map(|(shard, route)| ShardReport {
            shard,
            role: ShardRole::Owned { epoch: route.epoch },
            last_index: LogIndex(0),
        })
        .collect();
    let load = NodeLoad { cpu_permille, ..NodeLoad::default() };
    probe
        .deliver(
            node_identity(node, incarnation),
            Message::Heartbeat(Heartbeat { load, shard_loads: vec![], shards, refused: vec![] }),
        )
        .unwrap()
}

/// Heartbeats from both nodes, then a tick, every 100 ms until `until_ms`.
fn run_until(probe: &mut Probe<Coordinator>, until_ms: u64) -> Ready {
    let mut outputs = Ready::default();
    while probe.now.as_ms() < until_ms {
        let next = probe.now.as_ms() + 100;
        probe.now = Instant(next);
        outputs.extend(heartbeat(probe, 1, 1, 100));
        outputs.extend(heartbeat(probe, 2, 1, 100));
        outputs.extend(probe.tick_at(next));
    }
    outputs
}

fn settled_cluster() -> Probe<Coordinator> {
    settled_cluster_with(config())
}

fn settled_cluster_with(config: ProtocolConfig) -> Probe<Coordinator> {
    let address = config.coordinator_address;
    let (mut probe, _) = Probe::boot(Coordinator::new(config), address);
    run_until(&mut probe, 1_000);
    probe
}

/// Node 1 is decommissioned; the drain starts a migration of its first shard to node 2.
fn draining_cluster() -> (Probe<Coordinator>, MigrationId, ShardId) {
    draining_cluster_with(config())
}

fn draining_cluster_with(config: ProtocolConfig) -> (Probe<Coordinator>, MigrationId, ShardId) {
    let mut probe = settled_cluster_with(config);
    probe.command(Command::Decommission { node: NodeId(1) }).unwrap();
    let outputs = run_until(&mut probe, 2_000);
    let (migration, shard) = messages(&outputs)
        .into_iter()
        .find_map(|message| match message {
            Message::StartMigration { migration, shard, .. } => Some((migration, shard)),
            _ => None,
        })
        .expect("the drain starts a migration");
    (probe, migration, shard)
}

fn progress(applied: u64, last: u64) -> SourceProgress {
    SourceProgress { snapshot_index: LogIndex(0), target_applied: LogIndex(applied), source_last: LogIndex(last) }
}

fn aborted_reason(outputs: &Ready) -> Option<AbortReason> {
    observed(outputs).into_iter().find_map(|observation| match observation {
        Observation::MigrationAborted { reason, .. } => Some(reason),
        _ => None,
    })
}

#[test]
fn shards_are_allocated_evenly_once_members_settle() {
    let (mut probe, _) = Probe::boot(Coordinator::new(config()), config().coordinator_address);
    probe.now = Instant(10);
    heartbeat(&mut probe, 1, 1, 0);
    heartbeat(&mut probe, 2, 1, 0);
    probe.tick_at(100);
    assert!(probe.actor.routing().is_empty(), "joining members receive no shards");
    run_until(&mut probe, 600);
    assert_eq!(probe.actor.routing().owned_by(NodeId(1)).count(), 2);
    assert_eq!(probe.actor.routing().owned_by(NodeId(2)).count(), 2);
}

#[test]
fn a_drained_node_s_shard_commits_only_on_a_matching_seal() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = node_identity(1, 1);
    let outputs =
        probe.deliver(source, Message::SourceProgress { migration, shard, progress: progress(5, 6) }).unwrap();
    assert!(messages(&outputs).contains(&Message::StartCutover { migration, shard }));
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::CutOver);

    let outputs = probe
        .deliver(source, Message::SourceSealed { migration, shard, index: LogIndex(6), digest: Digest(42) })
        .unwrap();
    assert!(sent(&outputs)
        .contains(&(node_address(2), Message::VerifyTarget { migration, shard, sealed_index: LogIndex(6) })));

    let verified = Message::TargetVerified { migration, shard, held_index: LogIndex(6), digest: Digest(42) };
    let outputs = probe.deliver(node_identity(2, 1), verified).unwrap();
    assert!(observed(&outputs).iter().any(|observation| matches!(observation, Observation::RoutingCommitted { .. })));
    let route = probe.actor.routing().get(shard).unwrap();
    assert_eq!((route.owner, route.epoch, route.owner_identity), (NodeId(2), Epoch(2), Some(node_identity(2, 1))));
    let commits =
        messages(&outputs).into_iter().filter(|message| matches!(message, Message::CommitMigration { .. })).count();
    assert_eq!(commits, 2, "target and source both hear of the commit");
    let fate = probe.deliver(source, Message::FateQuery { migration, shard, from_epoch: Epoch(1) }).unwrap();
    assert!(matches!(messages(&fate)[0], Message::FateReply { fate: Fate::Committed { owner: NodeId(2), .. }, .. }));
}

#[test]
fn a_seal_mismatch_aborts() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = seal(&mut probe, migration, shard);
    let verified = Message::TargetVerified { migration, shard, held_index: LogIndex(5), digest: Digest(42) };
    let outputs = probe.deliver(node_identity(2, 1), verified).unwrap();
    assert_eq!(aborted_reason(&outputs), Some(AbortReason::SealMismatch));
    assert_eq!(probe.actor.routing().get(shard).unwrap().epoch, Epoch(1));
    let fate = probe.deliver(source, Message::FateQuery { migration, shard, from_epoch: Epoch(1) }).unwrap();
    assert!(matches!(messages(&fate)[0], Message::FateReply { fate: Fate::Aborted, .. }));
}

#[test]
fn a_target_identity_change_aborts_the_migration() {
    let (mut probe, migration, _) = draining_cluster();
    heartbeat(&mut probe, 2, 2, 0);
    let outputs = probe.tick_at(probe.now.as_ms() + 50);
    assert_eq!(aborted_reason(&outputs), Some(AbortReason::TargetIdentityChanged));
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::Failed);
}

#[test]
fn a_cut_over_past_the_write_pause_budget_aborts() {
    let (mut probe, migration, shard) = draining_cluster();
    probe.deliver(node_identity(1, 1), Message::SourceProgress { migration, shard, progress: progress(6, 6) }).unwrap();
    let started = probe.now.as_ms();
    let outputs = run_until(&mut probe, started + config().write_pause_budget_ms + 100);
    assert_eq!(aborted_reason(&outputs), Some(AbortReason::WritePauseBudget));
}

#[test]
fn a_restart_aborts_what_was_in_flight_and_never_reuses_a_migration_id() {
    let (mut probe, migration, shard) = draining_cluster();
    let outputs = probe.reboot();
    assert!(observed(&outputs)
        .contains(&Observation::CoordinatorBooted { incarnation: Incarnation(2), active_migrations: vec![migration] }));
    assert_eq!(aborted_reason(&outputs), Some(AbortReason::CoordinatorRecovered));
    assert_eq!(probe.actor.routing().get(shard).unwrap().owner, NodeId(1), "routing survives the restart");
    let start = probe.now.as_ms();
    let outputs = run_until(&mut probe, start + 2_000);
    let next = messages(&outputs).into_iter().find_map(|message| match message {
        Message::StartMigration { migration, .. } => Some(migration),
        _ => None,
    });
    assert!(next.is_some_and(|next| next > migration), "the drain resumes with a fresh id, got {next:?}");
}

/// Back-pressure skips the sweep's load moves, but a drain goes ahead: a leaving node
/// must empty however hot the cluster runs.
#[test]
fn cpu_back_pressure_skips_the_sweep_but_not_a_drain() {
    let mut probe = settled_cluster();
    probe.command(Command::Decommission { node: NodeId(1) }).unwrap();
    let mut outputs = Ready::default();
    for step in 1..=20 {
        let at = 1_000 + step * 100;
        probe.now = Instant(at);
        heartbeat(&mut probe, 1, 1, 950);
        heartbeat(&mut probe, 2, 1, 100);
        outputs.extend(probe.tick_at(at));
    }
    assert!(observed(&outputs)
        .iter()
        .any(|observation| matches!(observation, Observation::RebalanceSkipped { reason } if reason.contains("950"))));
    let plans: Vec<PlanSource> = observed(&outputs)
        .iter()
        .filter_map(|observation| match observation {
            Observation::PlanDispatched { source, .. } => Some(source.clone()),
            _ => None,
        })
        .collect();
    assert!(!plans.is_empty() && plans.iter().all(|source| *source == PlanSource::Drain), "{plans:?}");
    assert!(messages(&outputs).iter().any(|message| matches!(message, Message::StartMigration { .. })));
}

#[test]
fn reports_from_a_stranger_are_stale_and_change_nothing() {
    let (mut probe, migration, shard) = draining_cluster();
    let stranger = node_identity(1, 7);
    let result = probe.deliver(stranger, Message::SourceProgress { migration, shard, progress: progress(6, 6) });
    assert!(matches!(result, Err(InputError::Stale(_))));
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::BaseCopy);
}

/// A heartbeat with exactly these shard reports.
fn heartbeat_with(probe: &mut Probe<Coordinator>, identity: PeerIdentity, shards: Vec<ShardReport>) -> Ready {
    heartbeat_refusing(probe, identity, shards, vec![])
}

fn heartbeat_refusing(
    probe: &mut Probe<Coordinator>,
    identity: PeerIdentity,
    shards: Vec<ShardReport>,
    refused: Vec<ShardId>,
) -> Ready {
    let heartbeat = Heartbeat { load: NodeLoad::default(), shard_loads: vec![], shards, refused };
    probe.deliver(identity, Message::Heartbeat(heartbeat)).unwrap()
}

#[test]
fn a_shard_its_owner_refused_as_corrupt_is_recreated_empty_at_a_new_epoch_once() {
    let mut probe = settled_cluster();
    let (shard, route) = probe.actor.routing().owned_by(NodeId(1)).next().expect("n1 owns a shard");
    // n1 restarted (a new incarnation) and found the shard's records corrupt.
    let rebooted = node_identity(1, 2);
    let outputs = heartbeat_refusing(&mut probe, rebooted, vec![], vec![shard]);
    let epoch = route.epoch.next();
    assert!(observed(&outputs).contains(&Observation::ShardRecreated {
        shard,
        owner: NodeId(1),
        epoch,
        lost_epoch: route.epoch
    }));
    assert!(messages(&outputs).contains(&Message::AssignShard { shard, epoch }));
    let now = probe.actor.routing().get(shard).unwrap();
    assert_eq!((now.owner, now.epoch, now.owner_identity), (NodeId(1), epoch, Some(rebooted)));
    assert!(outputs
        .persists
        .iter()
        .any(|op| matches!(op, StorageOp::Put { key: StorageKey::Route(routed), .. } if *routed == shard)));

    // The assignment was lost and the same life still refuses it: asked again, same epoch.
    let again = heartbeat_refusing(&mut probe, rebooted, vec![], vec![shard]);
    assert!(messages(&again).contains(&Message::AssignShard { shard, epoch }));
    assert!(!observed(&again).iter().any(|observation| matches!(observation, Observation::ShardRecreated { .. })));
    assert_eq!(probe.actor.routing().get(shard).unwrap().epoch, epoch);

    // A later life refuses it again (the clear never reached its disk): no migration
    // left a retained log at this epoch, so it is re-created again at once.
    let again_later = heartbeat_refusing(&mut probe, node_identity(1, 3), vec![], vec![shard]);
    assert!(messages(&again_later).contains(&Message::AssignShard { shard, epoch: epoch.next() }));
}

#[test]
fn a_shard_refused_by_an_owner_that_never_confirmed_it_is_rehomed_from_the_retained_log() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = seal(&mut probe, migration, shard);
    let verified = Message::TargetVerified { migration, shard, held_index: LogIndex(6), digest: Digest(42) };
    probe.deliver(node_identity(2, 1), verified).unwrap();
    // n2 restarts before it confirms holding e2, and refuses the shard as corrupt.
    let refused = heartbeat_refusing(&mut probe, node_identity(2, 2), vec![], vec![shard]);
    assert!(!observed(&refused).iter().any(|observation| matches!(observation, Observation::ShardRecreated { .. })));
    // n1 was never released: it still retains the log, and owns the shard again.
    let retained = ShardReport {
        shard,
        role: ShardRole::Forwarding { owner: NodeId(2), address: node_address(2), epoch: Epoch(2), retained: true },
        last_index: LogIndex(6),
    };
    let outputs = heartbeat_with(&mut probe, source, vec![retained]);
    assert!(messages(&outputs).contains(&Message::RehomeShard { shard, epoch: Epoch(3) }));
    assert_eq!(probe.actor.routing().get(shard).unwrap().owner, NodeId(1));
    let dropped = heartbeat_refusing(&mut probe, node_identity(2, 2), vec![], vec![shard]);
    assert!(messages(&dropped).contains(&Message::ReleaseShard { shard, epoch: Epoch(3) }));
}

#[test]
fn a_refused_shard_whose_retained_log_never_turns_up_is_recreated_after_a_migration_timeout() {
    let (mut probe, migration, shard) = draining_cluster();
    seal(&mut probe, migration, shard);
    let verified = Message::TargetVerified { migration, shard, held_index: LogIndex(6), digest: Digest(42) };
    probe.deliver(node_identity(2, 1), verified).unwrap();
    let rebooted = node_identity(2, 2);
    heartbeat_refusing(&mut probe, rebooted, vec![], vec![shard]);
    probe.now = Instant(probe.now.as_ms() + ProtocolConfig::default().migration_timeout_ms * 2);
    let outputs = heartbeat_refusing(&mut probe, rebooted, vec![], vec![shard]);
    assert!(messages(&outputs).contains(&Message::AssignShard { shard, epoch: Epoch(3) }));
}

#[test]
fn a_refused_copy_of_a_shard_routed_elsewhere_is_released() {
    let mut probe = settled_cluster();
    let (shard, route) = probe.actor.routing().owned_by(NodeId(1)).next().expect("n1 owns a shard");
    let outputs = heartbeat_refusing(&mut probe, node_identity(2, 2), vec![], vec![shard]);
    assert!(messages(&outputs).contains(&Message::ReleaseShard { shard, epoch: route.epoch }));
    assert_eq!(probe.actor.routing().get(shard).unwrap(), route, "the owner's route is untouched");
}

#[test]
fn a_refused_shard_in_migration_waits_for_the_migration_to_end() {
    let (mut probe, _migration, shard) = draining_cluster();
    let route = probe.actor.routing().get(shard).unwrap();
    let outputs = heartbeat_refusing(&mut probe, node_identity(1, 2), vec![], vec![shard]);
    assert!(!observed(&outputs).iter().any(|observation| matches!(observation, Observation::ShardRecreated { .. })));
    assert!(!messages(&outputs)
        .iter()
        .any(|message| matches!(message, Message::AssignShard { shard: assigned, .. } if *assigned == shard)));
    assert_eq!(probe.actor.routing().get(shard).unwrap().epoch, route.epoch);
}

#[test]
fn a_new_owner_that_lost_the_shard_is_replaced_by_the_old_owner_s_retained_copy() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = seal(&mut probe, migration, shard);
    let verified = Message::TargetVerified { migration, shard, held_index: LogIndex(6), digest: Digest(42) };
    probe.deliver(node_identity(2, 1), verified).unwrap();
    assert_eq!(probe.actor.routing().get(shard).unwrap().epoch, Epoch(2));

    // n2 is replaced right after verifying: a new address, an empty disk, no shards.
    let replaced = PeerIdentity { address: Address::new([10, 0, 11, 2], 7000), ..node_identity(2, 1) };
    heartbeat_with(&mut probe, replaced, vec![]);
    // n1 still retains the log it forwarded.
    let address = node_address(2);
    let retained = ShardReport {
        shard,
        role: ShardRole::Forwarding { owner: NodeId(2), address, epoch: Epoch(2), retained: true },
        last_index: LogIndex(6),
    };
    let outputs = heartbeat_with(&mut probe, source, vec![retained]);
    assert!(observed(&outputs).contains(&Observation::ShardRehomed {
        shard,
        owner: NodeId(1),
        epoch: Epoch(3),
        lost_owner: NodeId(2)
    }));
    assert!(messages(&outputs).contains(&Message::RehomeShard { shard, epoch: Epoch(3) }));
    let route = probe.actor.routing().get(shard).unwrap();
    assert_eq!((route.owner, route.epoch), (NodeId(1), Epoch(3)));
}

#[test]
fn the_old_owner_drops_its_retained_log_only_once_the_new_owner_holds_the_shard() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = seal(&mut probe, migration, shard);
    probe
        .deliver(
            node_identity(2, 1),
            Message::TargetVerified { migration, shard, held_index: LogIndex(6), digest: Digest(42) },
        )
        .unwrap();
    let retained = ShardReport {
        shard,
        role: ShardRole::Forwarding { owner: NodeId(2), address: node_address(2), epoch: Epoch(2), retained: true },
        last_index: LogIndex(6),
    };
    let early = heartbeat_with(&mut probe, source, vec![retained]);
    assert!(
        !messages(&early).iter().any(|message| matches!(message, Message::ReleaseShard { .. })),
        "n2 has not been seen holding it"
    );
    let owned = ShardReport { shard, role: ShardRole::Owned { epoch: Epoch(2) }, last_index: LogIndex(6) };
    heartbeat_with(&mut probe, node_identity(2, 1), vec![owned]);
    let later = heartbeat_with(&mut probe, source, vec![retained]);
    assert!(messages(&later).contains(&Message::ReleaseShard { shard, epoch: Epoch(2) }));
}

/// The source reports the base copied and the shard sealed at index 6.
fn seal(probe: &mut Probe<Coordinator>, migration: MigrationId, shard: ShardId) -> PeerIdentity {
    let source = node_identity(1, 1);
    probe.deliver(source, Message::SourceProgress { migration, shard, progress: progress(6, 6) }).unwrap();
    probe.deliver(source, Message::SourceSealed { migration, shard, index: LogIndex(6), digest: Digest(42) }).unwrap();
    source
}

/// A cut-over in progress when the coordinator's clock steps back: the pause it times
/// reads short by the step, so it aborts rather than vouch for the budget.
#[test]
fn a_step_of_the_clock_back_aborts_a_cut_over_in_progress() {
    let (mut probe, migration, shard) = draining_cluster();
    let source = node_identity(1, 1);
    probe.deliver(source, Message::SourceProgress { migration, shard, progress: progress(5, 6) }).unwrap();
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::CutOver);
    let forward = probe.input(Input::ClockStepped { by_ms: 400 }).unwrap();
    assert_eq!(aborted_reason(&forward), None, "a step forward only makes the pause read longer");
    let back = probe.input(Input::ClockStepped { by_ms: -400 }).unwrap();
    assert_eq!(aborted_reason(&back), Some(AbortReason::ClockStepped));
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::Failed);
}

#[test]
fn the_unchecked_clock_canary_keeps_the_cut_over_through_a_step_back() {
    let canary = ProtocolConfig { canaries: vec![Canary::PauseOnUncheckedClock], ..config() };
    let (mut probe, migration, shard) = draining_cluster_with(canary);
    let source = node_identity(1, 1);
    probe.deliver(source, Message::SourceProgress { migration, shard, progress: progress(5, 6) }).unwrap();
    let back = probe.input(Input::ClockStepped { by_ms: -400 }).unwrap();
    assert_eq!(aborted_reason(&back), None);
    assert_eq!(probe.actor.tracker().get(migration).unwrap().phase, Phase::CutOver);
}

#[test]
fn waits_stretch_and_budgets_shrink_by_the_drift_allowed() {
    let perfect = ProtocolConfig { clock_drift_max_ppm: 0, ..config() };
    assert_eq!((perfect.at_least_ms(500), perfect.at_most_ms(500)), (500, 500));
    let drifting = ProtocolConfig { clock_drift_max_ppm: 10_000, ..config() };
    // 1 % fast: 500 true ms read up to 505 (+1 for rounding); 1 % slow: as few as 495 (-1).
    assert_eq!(drifting.at_least_ms(500), 506);
    assert_eq!(drifting.at_most_ms(500), 494);
}
