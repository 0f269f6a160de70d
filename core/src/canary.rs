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
    /// The per-node and total caps on active migrations are not enforced.
    CapsIgnored,
}

impl Canary {
    pub const ALL: [Canary; 10] = [
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
        }
    }

    /// The safety invariant this canary is planted to break.
    pub fn expected_invariant(self) -> &'static str {
        match self {
            Canary::TrackerNotPersisted => "one_active_migration_per_shard",
            Canary::AckBeforeDurable => "no_lost_acked_write",
            Canary::UnfenceOnTimeout | Canary::StubAcksWrites => "single_writer",
            Canary::CommitWithoutTargetCheck => "cutover_caught_up",
            Canary::IdentityCheckSkipped => "identity_change_aborts",
            Canary::EpochNotPersisted => "epoch_monotonic",
            Canary::PhaseShortcut => "phase_order",
            Canary::PauseBudgetIgnored => "write_pause_within_budget",
            Canary::CapsIgnored => "migration_caps",
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
