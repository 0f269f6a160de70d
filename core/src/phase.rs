//! The phases of one shard migration and the only legal order between them.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// The source streams its log up to a snapshot index in bounded chunks.
    BaseCopy,
    /// The source streams new writes until the target's lag is under the threshold.
    CatchUp,
    /// The source is fenced, hands off its entities and seals; the coordinator commits.
    CutOver,
    Complete,
    Failed,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Complete | Phase::Failed)
    }

    /// Base copy, catch-up, cut-over, complete; or failed from any non-terminal phase.
    pub fn can_advance_to(self, next: Phase) -> bool {
        matches!(
            (self, next),
            (Phase::BaseCopy, Phase::CatchUp)
                | (Phase::CatchUp, Phase::CutOver)
                | (Phase::CutOver, Phase::Complete)
                | (Phase::BaseCopy | Phase::CatchUp | Phase::CutOver, Phase::Failed)
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Phase::BaseCopy => "base_copy",
            Phase::CatchUp => "catch_up",
            Phase::CutOver => "cut_over",
            Phase::Complete => "complete",
            Phase::Failed => "failed",
        };
        f.write_str(name)
    }
}

/// Why the coordinator aborted a migration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AbortReason {
    Timeout,
    WritePauseBudget,
    TargetIdentityChanged,
    SourceIdentityChanged,
    SourceRefused,
    SealMismatch,
    /// The coordinator restarted and cannot know the in-memory progress.
    CoordinatorRecovered,
    /// A member left (down or decommissioned) while taking part.
    MemberLost,
    /// The coordinator's clock was set back during the cut-over: the pause it timed reads
    /// short, so it cannot vouch for the budget.
    ClockStepped,
}

impl AbortReason {
    pub const ALL: [AbortReason; 9] = [
        AbortReason::Timeout,
        AbortReason::WritePauseBudget,
        AbortReason::TargetIdentityChanged,
        AbortReason::SourceIdentityChanged,
        AbortReason::SourceRefused,
        AbortReason::SealMismatch,
        AbortReason::CoordinatorRecovered,
        AbortReason::MemberLost,
        AbortReason::ClockStepped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AbortReason::Timeout => "timeout",
            AbortReason::WritePauseBudget => "write_pause_budget",
            AbortReason::TargetIdentityChanged => "target_identity_changed",
            AbortReason::SourceIdentityChanged => "source_identity_changed",
            AbortReason::SourceRefused => "source_refused",
            AbortReason::SealMismatch => "seal_mismatch",
            AbortReason::CoordinatorRecovered => "coordinator_recovered",
            AbortReason::MemberLost => "member_lost",
            AbortReason::ClockStepped => "clock_stepped",
        }
    }
}

/// An illegal phase transition: a typed error, never a panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: Phase,
    pub to: Phase,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "illegal migration transition {} -> {}", self.from, self.to)
    }
}

impl std::error::Error for IllegalTransition {}
