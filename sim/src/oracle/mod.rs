//! The oracle: every invariant of the design, as a named function over what actors
//! reported (observations) and what they hold (snapshots and durable disks), run after
//! every step. It never reads the configuration's canaries: it judges what happened.

mod balance;
mod control;
pub mod convergence;
pub mod coverage;
mod disks;
mod entities;
mod epochs;
mod evidence;
mod facts;
mod liveness;
mod migrations;
pub mod registry;
mod state;
mod writes;

#[cfg(test)]
mod tests;

pub use evidence::Evidence;
pub use facts::{Facts, TrackedMigration};
pub use liveness::LIVENESS_MOVES_PER_SHARD_MAX;
pub use registry::{Family, Invariant};

/// Every invariant by its constant, whichever family's module declares it.
pub mod invariants {
    pub use super::control::{PLANNER_SOUND, REBALANCE_GATES_RESPECTED, TARGETS_ACCEPTING_MEMBERS};
    pub use super::disks::NO_SILENT_CORRUPTION;
    pub use super::entities::{ENTITY_SINGLE_HOME, ENTITY_STATE_CONTINUOUS};
    pub use super::epochs::EPOCH_MONOTONIC;
    pub use super::liveness::{CONVERGENCE, NO_THRASHING};
    pub use super::migrations::{
        CUTOVER_CAUGHT_UP, IDENTITY_CHANGE_ABORTS, MIGRATION_CAPS, ONE_ACTIVE_MIGRATION_PER_SHARD, PHASE_ORDER,
        WRITE_PAUSE_WITHIN_BUDGET,
    };
    pub use super::writes::{ACKED_AT_NAMED_EPOCH, NO_LOST_ACKED_WRITE, SINGLE_WRITER};
}
pub use state::{durable_log, ClusterState};

use serde::{Deserialize, Serialize};
use shardsim_core::{ActorId, Instant, Observation, ProtocolConfig};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ViolationClass {
    Safety,
    Liveness,
}

/// A broken invariant: which, when, why, and the events that led there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub invariant: String,
    pub class: ViolationClass,
    pub at_ms: u64,
    pub message: String,
    pub evidence: Vec<String>,
    /// The kind of event that broke it: an observation's kind (`WriteAcked`), or
    /// `node_step` (a check of a node's state after a step), `liveness_bound` or
    /// `final_check`. With the invariant, a failure's signature.
    #[serde(default)]
    pub trigger: String,
}

/// What broke an invariant when no single observation did.
pub mod trigger {
    pub const NODE_STEP: &str = "node_step";
    pub const LIVENESS_BOUND: &str = "liveness_bound";
    pub const FINAL_CHECK: &str = "final_check";
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:?} invariant `{}` violated at {} ms: {}", self.class, self.invariant, self.at_ms, self.message)?;
        if !self.evidence.is_empty() {
            writeln!(f, "evidence (most recent last):")?;
            for line in &self.evidence {
                writeln!(f, "  {line}")?;
            }
        }
        Ok(())
    }
}

/// What an invariant function returns: `Err` with the reason when it is broken.
pub type Check = Result<(), String>;

/// The first check that failed, in order, leaving `checks` empty for the next call.
fn first_broken(checks: &mut registry::Checks) -> Option<(&'static Invariant, String)> {
    checks.drain(..).find_map(|(invariant, check)| check.err().map(|message| (invariant, message)))
}

#[derive(Clone)]
pub struct Oracle {
    facts: Facts,
    evidence: Evidence,
    /// Off where a violation is explained by replaying it (the model checker's copies of
    /// a state would otherwise each carry the rings).
    keep_evidence: bool,
    /// The checks of one observation or step, kept between calls: two allocations a
    /// message otherwise (empty between calls).
    checks: registry::Checks,
}

impl Oracle {
    pub fn new(config: ProtocolConfig) -> Oracle {
        Oracle { facts: Facts::new(config), evidence: Evidence::new(), keep_evidence: true, checks: Vec::new() }
    }

    /// Stops keeping the recent history that explains a violation (and drops what is kept).
    pub fn drop_evidence(&mut self) {
        self.keep_evidence = false;
        self.evidence = Evidence::new();
    }

    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    fn violation(
        &self,
        invariant: &Invariant,
        at: Instant,
        message: String,
        shard: Option<shardsim_core::ShardId>,
        trigger: &str,
    ) -> Violation {
        Violation {
            invariant: invariant.name.to_string(),
            class: invariant.class,
            at_ms: at.as_ms(),
            message,
            evidence: self.evidence.lines(shard),
            trigger: trigger.to_string(),
        }
    }

    /// Feeds one observation; checks the invariants it can break.
    pub fn observe(
        &mut self,
        at: Instant,
        actor: ActorId,
        observation: &Observation,
        state: &dyn ClusterState,
    ) -> Result<(), Violation> {
        if self.keep_evidence {
            self.evidence.record(at, actor, observation);
        }
        let shard = evidence::shard_of(observation);
        self.facts.observe(at, actor, observation, state, &mut self.checks);
        match first_broken(&mut self.checks) {
            Some((invariant, message)) => Err(self.violation(invariant, at, message, shard, observation.kind())),
            None => Ok(()),
        }
    }

    /// After an actor finished a step: checks that read its state.
    pub fn after_step(&mut self, at: Instant, actor: ActorId, state: &dyn ClusterState) -> Result<(), Violation> {
        let ActorId::Node(node) = actor else { return Ok(()) };
        self.facts.after_step(node, state, &mut self.checks);
        match first_broken(&mut self.checks) {
            Some((invariant, message)) => Err(self.violation(invariant, at, message, None, trigger::NODE_STEP)),
            None => Ok(()),
        }
    }

    /// The nemesis acted: kept for the evidence, so a violation shows the faults around it.
    pub fn note_nemesis(&mut self, at: Instant, action: &str) {
        if self.keep_evidence {
            self.evidence.nemesis(at, action);
        }
    }

    /// The nemesis damaged a stored record of `node` (see [`disks`]).
    pub fn note_damaged_record(
        &mut self,
        node: shardsim_core::NodeId,
        key: shardsim_core::storage::StorageKey,
        meant: bytes::Bytes,
    ) {
        self.facts.damaged_records.entry(node).or_default().push((key, meant));
    }

    /// The nemesis destroyed the only copy of `shard` (see [`Facts::shard_lost`]).
    pub fn note_shard_lost(&mut self, shard: shardsim_core::ShardId) {
        self.facts.shard_lost(shard);
    }

    /// A fault began (for coverage: which migrations lived through which faults).
    pub fn fault_started(&mut self, kind: crate::faults::FaultKind, lasting: bool) {
        self.facts.coverage.fault_started(kind, lasting);
    }

    pub fn fault_ended(&mut self, kind: crate::faults::FaultKind) {
        self.facts.coverage.fault_ended(kind);
    }

    /// Marks the start of the liveness phase: every fault has healed.
    pub fn start_liveness(&mut self, at: Instant) {
        self.facts.start_liveness(at);
    }

    /// The liveness conditions not met yet; empty when the cluster has converged.
    pub fn liveness_unmet(&self, state: &dyn ClusterState) -> Vec<String> {
        liveness::unmet(&self.facts, state)
    }

    /// The supervisor's liveness check at `at` found the cluster converged or not: the
    /// time from the heal to balance is measured from these.
    pub fn note_converged(&mut self, at: Instant, converged: bool) {
        self.facts.moves.note_converged(at, converged);
    }

    /// The convergence figures now.
    pub fn convergence(&self, state: &dyn ClusterState) -> convergence::Convergence {
        let facts = &self.facts;
        convergence::Convergence::measure(&facts.moves, facts.liveness_started_at, &facts.config, state)
    }

    /// A liveness failure once the bound has passed.
    pub fn liveness_violation(&self, at: Instant, unmet: Vec<String>) -> Violation {
        let mut violation = self.violation(&liveness::CONVERGENCE, at, unmet.join("; "), None, trigger::LIVENESS_BOUND);
        violation.evidence.truncate(12);
        violation
    }

    /// At the end of a run: every acked write is on its shard's owner, once, in order.
    pub fn final_check(&self, at: Instant, state: &dyn ClusterState) -> Result<(), Violation> {
        writes::all_acked_writes_on_owners(&self.facts, state)
            .map_err(|message| self.violation(&writes::NO_LOST_ACKED_WRITE, at, message, None, trigger::FINAL_CHECK))
    }
}
