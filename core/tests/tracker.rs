//! The migration tracker's accounting, read back through every accessor the planners and
//! the coordinator use: active migrations by shard, by node and in total, and the records
//! kept after they end.

use shardsim_core::config::MigrationCaps;
use shardsim_core::phase::{AbortReason, Phase};
use shardsim_core::tracker::{MigrationTracker, TrackerError};
use shardsim_core::*;

fn node(node: u32) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(node)),
        address: Address::new([10, 0, 1, node as u8], 7000),
        incarnation: Incarnation(1),
    }
}

fn tracker() -> MigrationTracker {
    MigrationTracker::new(MigrationCaps { active_total_max: 3, active_per_node_max: 2, moves_per_tick_max: 3 }, 16)
}

#[test]
fn active_migrations_are_counted_by_node_shard_and_in_total_until_they_end() {
    let mut tracker = tracker();
    let first = tracker.begin(ShardId(0), node(1), node(2), Epoch(1), Instant(0)).unwrap();
    let second = tracker.begin(ShardId(1), node(1), node(3), Epoch(1), Instant(0)).unwrap();
    assert_eq!(tracker.active_by_node(), vec![(NodeId(1), 2), (NodeId(2), 1), (NodeId(3), 1)]);
    assert_eq!(tracker.active().count(), 2);
    assert_eq!(tracker.active_total(), 2);
    assert_eq!(tracker.active_ids(), vec![first, second]);

    tracker.fail(first, AbortReason::Timeout, Instant(5)).unwrap();
    assert_eq!(tracker.active_by_node(), vec![(NodeId(1), 1), (NodeId(3), 1)], "ended migrations no longer count");
    assert_eq!(tracker.active().map(|record| record.id).collect::<Vec<_>>(), vec![second]);
    assert_eq!(tracker.records().count(), 2, "the failed record is kept");
    assert_eq!(tracker.get(first).map(|record| record.phase), Some(Phase::Failed));
    assert!(tracker.active_for_shard(ShardId(0)).is_none());
}

#[test]
fn refusals_say_which_rule_they_broke() {
    let mut tracker = tracker();
    tracker.begin(ShardId(0), node(1), node(2), Epoch(1), Instant(0)).unwrap();
    let busy = tracker.begin(ShardId(0), node(3), node(4), Epoch(1), Instant(0)).unwrap_err();
    assert_eq!(busy.to_string(), "s0 already has active migration m1");
    let itself = tracker.admits(ShardId(5), NodeId(3), NodeId(3)).unwrap_err();
    assert_eq!(itself, TrackerError::SourceIsTarget { node: NodeId(3) });
    assert!(itself.to_string().contains("n3"), "{itself}");
    tracker.begin(ShardId(1), node(1), node(3), Epoch(1), Instant(0)).unwrap();
    let node_cap = tracker.admits(ShardId(2), NodeId(1), NodeId(4)).unwrap_err();
    assert_eq!(node_cap.to_string(), "n1 reached its active migration cap");
    tracker.begin(ShardId(2), node(4), node(5), Epoch(1), Instant(0)).unwrap();
    assert_eq!(
        tracker.admits(ShardId(3), NodeId(6), NodeId(7)).unwrap_err().to_string(),
        "active migration cap reached"
    );
}

#[test]
fn a_cut_over_is_timed_from_its_own_start_and_old_terminal_records_are_pruned_past_the_bound() {
    let mut tracker = MigrationTracker::new(MigrationCaps { active_total_max: 8, ..MigrationCaps::default() }, 2);
    let id = tracker.begin(ShardId(0), node(1), node(2), Epoch(1), Instant(0)).unwrap();
    tracker.advance(id, Phase::CatchUp, Instant(3)).unwrap();
    assert_eq!(tracker.get(id).unwrap().cutover_started_at, None);
    tracker.advance(id, Phase::CutOver, Instant(7)).unwrap();
    assert_eq!(tracker.get(id).unwrap().cutover_started_at, Some(Instant(7)));
    tracker.advance(id, Phase::Complete, Instant(9)).unwrap();
    assert!(tracker.prune().is_empty(), "one terminal record is within the bound of two");
    for shard in 1..=3 {
        let id = tracker.begin(ShardId(shard), node(1), node(2), Epoch(1), Instant(10)).unwrap();
        tracker.fail(id, AbortReason::Timeout, Instant(11)).unwrap();
    }
    let deleted = tracker.prune();
    assert_eq!(deleted.len(), 2, "four terminal records, two kept: {deleted:?}");
    assert!(tracker.get(id).is_none(), "the oldest goes first");
    assert_eq!(tracker.records().count(), 2);
}
