//! The state every task of one madsim run shares: the actors and their disks, the oracle,
//! the trace, the workload and the network knobs of the harness's send layer.

use crate::actors::Actors;
use crate::oracle::{Oracle, Violation};
use crate::trace::Trace;
use crate::workload::Workload;
use shardsim_core::{ActorId, Command, Instant, Observation};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub steps: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub inputs_rejected: u64,
    pub receive_buffer_drops: u64,
}

pub struct World {
    pub actors: Actors,
    pub oracle: Oracle,
    pub trace: Trace,
    /// The first broken invariant; the run stops soon after.
    pub violation: Option<Violation>,
    pub workload: Workload,
    pub duplicate_permille: u32,
    pub commands: BTreeMap<ActorId, Vec<Command>>,
    pub stats: Stats,
    pub started: madsim::time::Instant,
    /// The madsim node each actor runs on now (a replacement gets a new one).
    pub madsim_nodes: BTreeMap<ActorId, madsim::task::NodeId>,
    pub check_invariants: bool,
}

impl World {
    pub fn now(&self) -> Instant {
        Instant(madsim::time::Instant::now().duration_since(self.started).as_millis() as u64)
    }

    /// An observation, stamped with the time of the input that caused it: what the actor
    /// saw as `now` (a wait for an fsync in between does not move it).
    pub fn observe(&mut self, now: Instant, actor: ActorId, observation: &Observation) {
        self.trace.observation(now, actor, observation);
        if self.violation.is_some() || !self.check_invariants {
            return;
        }
        if let Err(violation) = self.oracle.observe(now, actor, observation, &self.actors) {
            tracing::warn!(invariant = %violation.invariant, "{}", violation.message);
            self.violation = Some(violation);
        }
    }

    pub fn after_step(&mut self, actor: ActorId) {
        self.stats.steps += 1;
        if self.violation.is_some() || !self.check_invariants {
            return;
        }
        let now = self.now();
        if let Err(violation) = self.oracle.after_step(now, actor, &self.actors) {
            tracing::warn!(invariant = %violation.invariant, "{}", violation.message);
            self.violation = Some(violation);
        }
    }

    pub fn nemesis_note(&mut self, action: &str) {
        let now = self.now();
        tracing::info!(target: "nemesis", "{action}");
        self.trace.nemesis(now, action);
    }
}

/// The world behind a lock. madsim runs every task on one thread, so the lock is never
/// contended; no task holds it across an await.
#[derive(Clone)]
pub struct SharedWorld(Arc<Mutex<World>>);

impl SharedWorld {
    pub fn new(world: World) -> SharedWorld {
        SharedWorld(Arc::new(Mutex::new(world)))
    }

    pub fn lock(&self) -> MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
