//! Stepping an actor and carrying out what it asked for, written once for every
//! scheduler: persists to the page cache, what may go at once, then — only after the
//! disk's sync — what waited for it.

use super::{Applied, Held, World};
use shardsim_core::phase::Phase;
use shardsim_core::storage::{StorageKey, StorageOp};
use shardsim_core::{ActorId, Effect, Input, InputError, Instant, Observation, Ready};

impl World {
    /// A down actor starts from its durable disk; commands that came while it was down
    /// follow its boot.
    pub(super) fn boot(&mut self, actor: ActorId, applied: &mut Applied) {
        if !self.actors.has_slot(actor) || self.actors.is_up(actor) {
            return;
        }
        let now = self.local_now(actor);
        let unreadable = self.unreadable_at_boot(actor);
        let (result, ready) = self.actors.boot(actor, now, unreadable, &mut self.entropy);
        if let Err(error @ InputError::DiskUnreadable(_)) = &result {
            // It never came up: retried, as a supervisor restarts a process that failed.
            self.note(&format!("{actor} failed to boot: {error}"));
            self.stats.steps += 1;
            self.start(actor, applied);
            return;
        }
        self.finish_step(actor, result, ready, applied);
        for command in self.commands.remove(actor).unwrap_or_default() {
            self.step(actor, Input::Command(&command), applied);
        }
        if self.disk_full(actor) {
            self.step(actor, Input::DiskFull { full: true }, applied);
        }
    }

    /// One input to one actor. A down actor takes nothing. An actor with writes waiting
    /// for a sync finishes that sync first: it never handles input over a pending fsync.
    pub(super) fn step(&mut self, actor: ActorId, input: Input<'_>, applied: &mut Applied) {
        if !self.actors.is_up(actor) {
            return;
        }
        if self.held.contains_key(actor) {
            self.sync(actor, applied);
            if self.violation.is_some() {
                return;
            }
        }
        let now = self.local_now(actor);
        let (result, ready) = self.actors.handle(actor, now, input, &mut self.entropy);
        self.finish_step(actor, result, ready, applied);
    }

    fn finish_step(
        &mut self,
        actor: ActorId,
        result: Result<(), shardsim_core::InputError>,
        ready: Ready,
        applied: &mut Applied,
    ) {
        self.stats.steps += 1;
        if let Err(error) = result {
            self.stats.inputs_rejected += 1;
            tracing::debug!(%actor, %error, "input rejected");
        }
        let Ready { persists, must_sync, immediate, after_sync, timers, restart } = ready;
        let full = self.disk_full(actor);
        let disk = self.actors.disk_mut(actor);
        for op in persists {
            if full && matches!(op, StorageOp::Put { key: StorageKey::LogEntry(..), .. }) {
                // ENOSPC: the entry is not written, and its fsync cannot succeed.
                self.fsync_fail_armed.insert(actor);
                continue;
            }
            disk.write(op);
        }
        if !timers.is_empty() {
            let table = self.timers.get_or_default(actor);
            for (at, timer) in timers.iter() {
                table.set(timer, at);
            }
            self.refresh_next_due(actor);
        }
        let now = self.now;
        self.carry_out(actor, now, immediate, applied);
        if restart {
            self.note(&format!("{actor} restarts itself"));
            self.stop(actor, applied);
            self.start(actor, applied);
            return;
        }
        if must_sync && self.torn_armed.contains(&actor) && self.actors.disk_mut(actor).tears_a_log_entry() {
            // What waited for the fsync never goes out: the node crashed before it.
            self.tear(actor, applied);
            return;
        }
        if must_sync {
            self.held.insert(actor, Held { now, effects: after_sync });
            applied.sync = Some(actor);
        } else {
            self.after_step(actor);
        }
    }

    /// The disk's fsync completes: what waited for it goes out, stamped with the time of
    /// the input that produced it. An fsync armed to fail loses the page cache instead,
    /// and the actor hears of it: what waited goes out only if the actor carries on.
    pub(super) fn sync(&mut self, actor: ActorId, applied: &mut Applied) {
        let Some(held) = self.held.remove(actor) else { return };
        if self.fsync_fail_armed.remove(&actor) {
            self.actors.disk_mut(actor).crash();
            self.note(&format!("fsync failed on {actor}"));
            *self.faults_injected.entry("fsync_fail_went_off".to_string()).or_default() += 1;
            self.step(actor, Input::SyncFailed, applied);
            if !self.actors.is_up(actor) {
                return;
            }
        } else {
            self.actors.disk_mut(actor).sync();
        }
        self.carry_out(actor, held.now, held.effects, applied);
        self.after_step(actor);
    }

    fn carry_out(&mut self, actor: ActorId, now: Instant, effects: Vec<Effect>, applied: &mut Applied) {
        for effect in effects {
            match effect {
                Effect::Send { to, bytes } => self.send(actor, to, bytes, applied),
                Effect::Observe(observation) => {
                    self.trace.observation(now, actor, &observation);
                    if let Observation::MigrationPhase { migration, to: Phase::CutOver, .. } = observation {
                        self.cut_over_started(migration);
                    }
                    if self.violation.is_some() || !self.check_invariants {
                        continue;
                    }
                    if let Err(violation) = self.oracle.observe(now, actor, &observation, &self.actors) {
                        self.fail(violation);
                    }
                }
            }
        }
    }

    fn after_step(&mut self, actor: ActorId) {
        if self.violation.is_some() || !self.check_invariants {
            return;
        }
        if let Err(violation) = self.oracle.after_step(self.now, actor, &self.actors) {
            self.fail(violation);
        }
    }

    /// A crash: memory, page cache, timers and everything waiting for a sync are gone.
    pub(super) fn crash(&mut self, actor: ActorId) {
        self.actors.crash(actor);
        self.held.remove(actor);
        self.timers.remove(actor);
        self.next_due.remove(actor);
    }
}
