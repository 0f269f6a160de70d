//! Planted bugs ("canaries"): realistic mistakes in the protocol, off by default, that a
//! simulation must catch. Each names the invariant it is expected to break; the oracle
//! never reads this module, it judges only what happened.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Canary {
    /// The coordinator never persists migration records: after a restart it forgets what
    /// was in flight and starts a second migration of the same shard.
    TrackerNotPersisted,
    /// The data node acks a write before its entry is durable.
    AckBeforeDurable,
    /// A fenced source gives up waiting and unfences on its own, without the coordinator.
    UnfenceOnTimeout,
    /// The source reports itself sealed without waiting for the target's acks, and the
    /// coordinator commits without asking the target what it holds.
    CommitWithoutTargetCheck,
    /// The coordinator tracks the target by node id only: it neither aborts on a new
    /// incarnation or address nor addresses its messages to the incarnation it started with.
    IdentityCheckSkipped,
    /// A target that takes ownership keeps the new epoch in memory only.
    EpochNotPersisted,
    /// The forwarding stub left on the old owner still acks writes.
    StubAcksWrites,
    /// The coordinator jumps from base copy straight to cut-over when the lag is small.
    PhaseShortcut,
    /// The coordinator never aborts a cut-over for overrunning the write-pause budget.
    PauseBudgetIgnored,
    /// The per-node and total caps on active migrations are not enforced: the tracker
    /// admits past them, and the planners are told nothing is in flight.
    CapsIgnored,
    /// The drain planner moves a leaving node's shards to any other member, another
    /// leaving one included.
    DrainingTarget,
    /// The planners' view forgets the draining flag: a draining member still counts as
    /// accepting shards (and nothing drains it).
    DrainingForgotten,
    /// The election gate only waits for joining and suspect members to settle: not for
    /// the quiet period after a change, nor for the grace after the coordinator boots.
    ElectionGateSkipped,
    /// The rebalancer plans load moves while a node reports CPU above the threshold.
    BackpressureIgnored,
    /// The owner acks writes that name an older epoch than its own.
    StaleEpochAcked,
    /// The load-based planner moves a shard however hot, past the coldest node's fair share.
    PlannerOvershoot,
    /// The least-shard planner ignores its threshold and moves on a gap of one shard.
    LeastShardOvershoot,
    /// The source seals as soon as it fences, without handing its entities off; it stops
    /// them only when it drops the log it retained, so the new owner starts them while
    /// they still live on the source.
    SealBeforeHandoff,
    /// A restarted entity starts empty instead of from the shard's log.
    EntityStateNotReplayed,
    /// The planners never pick a node without shards as a target (they score nodes by
    /// the load of the shards they hold, and an empty node holds none).
    EmptyNodesIgnored,
    /// The coordinator times the write pause on its clock as it reads: a step of its
    /// clock back does not abort the cut-over, and the budget is not shrunk by the drift.
    PauseOnUncheckedClock,
    /// A data node reads its stored records without checking their checksums: a torn or
    /// flipped record is served as if it were what was written.
    ChecksumsIgnored,
    /// A data node takes a failed fsync for a slow one and carries on: what waited for
    /// it (its acks) goes out although the entries may be gone.
    AckAfterFailedFsync,
    /// A data node whose disk fails to read a record at boot boots from the rest, as if
    /// the record were not there, instead of failing the boot to retry it.
    BootAroundReadError,
}

impl Canary {
    pub const ALL: [Canary; 24] = [
        Canary::TrackerNotPersisted,
        Canary::AckBeforeDurable,
        Canary::UnfenceOnTimeout,
        Canary::CommitWithoutTargetCheck,
        Canary::IdentityCheckSkipped,
        Canary::EpochNotPersisted,
        Canary::StubAcksWrites,
        Canary::PhaseShortcut,
        Canary::PauseBudgetIgnored,
        Canary::CapsIgnored,
        Canary::DrainingTarget,
        Canary::DrainingForgotten,
        Canary::ElectionGateSkipped,
        Canary::BackpressureIgnored,
        Canary::StaleEpochAcked,
        Canary::PlannerOvershoot,
        Canary::LeastShardOvershoot,
        Canary::SealBeforeHandoff,
        Canary::EntityStateNotReplayed,
        Canary::EmptyNodesIgnored,
        Canary::PauseOnUncheckedClock,
        Canary::ChecksumsIgnored,
        Canary::AckAfterFailedFsync,
        Canary::BootAroundReadError,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Canary::TrackerNotPersisted => "tracker-not-persisted",
            Canary::AckBeforeDurable => "ack-before-durable",
            Canary::UnfenceOnTimeout => "unfence-on-timeout",
            Canary::CommitWithoutTargetCheck => "commit-without-target-check",
            Canary::IdentityCheckSkipped => "identity-check-skipped",
            Canary::EpochNotPersisted => "epoch-not-persisted",
            Canary::StubAcksWrites => "stub-acks-writes",
            Canary::PhaseShortcut => "phase-shortcut",
            Canary::PauseBudgetIgnored => "pause-budget-ignored",
            Canary::CapsIgnored => "caps-ignored",
            Canary::DrainingTarget => "draining-target",
            Canary::DrainingForgotten => "draining-forgotten",
            Canary::ElectionGateSkipped => "election-gate-skipped",
            Canary::BackpressureIgnored => "backpressure-ignored",
            Canary::StaleEpochAcked => "stale-epoch-acked",
            Canary::PlannerOvershoot => "planner-overshoot",
            Canary::LeastShardOvershoot => "least-shard-overshoot",
            Canary::SealBeforeHandoff => "seal-before-handoff",
            Canary::EntityStateNotReplayed => "entity-state-not-replayed",
            Canary::EmptyNodesIgnored => "empty-nodes-ignored",
            Canary::PauseOnUncheckedClock => "pause-on-unchecked-clock",
            Canary::ChecksumsIgnored => "checksums-ignored",
            Canary::AckAfterFailedFsync => "ack-after-failed-fsync",
            Canary::BootAroundReadError => "boot-around-read-error",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Canary::TrackerNotPersisted => {
                "migration records are not persisted; a restarted coordinator starts a second migration of a shard"
            }
            Canary::AckBeforeDurable => "writes are acked before their log entry is durable",
            Canary::UnfenceOnTimeout => "a fenced source unfences after a timeout without the coordinator's decision",
            Canary::CommitWithoutTargetCheck => {
                "cut-over commits without comparing the target's log with the sealed index"
            }
            Canary::IdentityCheckSkipped => "a target's new incarnation or address does not abort its migration",
            Canary::EpochNotPersisted => "a new owner's epoch is not persisted and goes back after a restart",
            Canary::StubAcksWrites => "the forwarding stub on the old owner still acks writes",
            Canary::PhaseShortcut => "a migration skips catch-up when the base copy ends with a small lag",
            Canary::PauseBudgetIgnored => "cut-overs are not aborted when they overrun the write-pause budget",
            Canary::CapsIgnored => "the caps on active migrations (total and per node) are not enforced",
            Canary::DrainingTarget => "the drain planner may move a leaving node's shards to another leaving node",
            Canary::DrainingForgotten => "the planners' view forgets that a member is draining",
            Canary::ElectionGateSkipped => "the rebalancer plans right after a membership change or a coordinator boot",
            Canary::BackpressureIgnored => "the rebalancer plans load moves while a node's CPU is over the threshold",
            Canary::StaleEpochAcked => "the owner acks writes that name an older epoch than its own",
            Canary::PlannerOvershoot => "the load-based planner moves a shard however hot, overshooting the target",
            Canary::LeastShardOvershoot => "the least-shard planner ignores its threshold and moves on a gap of one",
            Canary::SealBeforeHandoff => "the source seals before its entities are handed off",
            Canary::EntityStateNotReplayed => "a restarted entity starts empty instead of from the shard's log",
            Canary::EmptyNodesIgnored => "the planners never pick a node without shards as a target",
            Canary::PauseOnUncheckedClock => {
                "the write pause is timed on the coordinator's clock as it reads: steps back and drift are ignored"
            }
            Canary::ChecksumsIgnored => "data nodes read stored records without checking their checksums",
            Canary::AckAfterFailedFsync => "a data node acks what waited for an fsync that failed",
            Canary::BootAroundReadError => "a data node boots from what it could read when a record's read fails",
        }
    }
}

impl fmt::Display for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Canary {
    type Err = String;

    fn from_str(name: &str) -> Result<Canary, String> {
        Canary::ALL.into_iter().find(|canary| canary.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Canary::ALL.iter().map(|canary| canary.name()).collect();
            format!("unknown canary `{name}`; known: {}", known.join(", "))
        })
    }
}
