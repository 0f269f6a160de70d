//! Driving migrations through their phases: advance, commit, abort, and the deadlines
//! and resends checked on every tick. Where shards go is `placement`'s job.

use super::{Coordinator, Liaison, Liveness};
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Instant, LogIndex, MigrationId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::log::Digest;
use crate::observation::Observation;
use crate::phase::{AbortReason, Phase};
use crate::routing::Route;
use crate::timer::Timer;
use crate::wire::{Message, SourceProgress};

impl Coordinator {
    /// [`Timer::Watchdog`]: members gone silent become suspect or down (and kick the
    /// rebalancer); migrations past their deadlines abort, quiet ones get a resend.
    pub(super) fn on_watchdog(&mut self, now: Instant, out: &mut Outbox) {
        for node in self.members.on_tick(now, &self.config) {
            self.observe_member(node, out);
            self.rebalancer.kick();
        }
        self.check_migrations(now, out);
        out.set_timer(Timer::Watchdog, now.plus_ms(self.config.coordinator_tick_ms));
    }

    /// The one active migration `sender` may speak for as source or target, or a typed
    /// error for a stale or unknown one.
    fn active_record_from(
        &self,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        as_source: bool,
    ) -> Result<crate::tracker::MigrationRecord, InputError> {
        let record = self
            .tracker
            .get(migration)
            .filter(|record| record.shard == shard && !record.phase.is_terminal())
            .ok_or_else(|| InputError::Stale(format!("{migration} on {shard} is not active")))?;
        let expected = if as_source { record.source } else { record.target };
        if expected != sender {
            return Err(InputError::Stale(format!("{migration} expects {expected}, got {sender}")));
        }
        Ok(record.clone())
    }

    fn heard(&mut self, migration: MigrationId, now: Instant) {
        self.liaisons.entry(migration).or_default().last_heard_at = Some(now);
    }

    pub(super) fn on_source_progress(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        progress: SourceProgress,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let record = self.active_record_from(sender, migration, shard, true)?;
        self.heard(migration, now);
        let mut phase = record.phase;
        let lag_entries = progress.source_last.0.saturating_sub(progress.target_applied.0);
        let caught_up = lag_entries <= self.config.catchup_lag_threshold_entries;
        let base_copied = progress.target_applied >= progress.snapshot_index;
        if phase == Phase::BaseCopy && base_copied && caught_up && self.config.has_canary(Canary::PhaseShortcut) {
            phase = Phase::CatchUp; // The planted bug: catch-up is never entered.
        } else if phase == Phase::BaseCopy && base_copied {
            self.advance(now, migration, Phase::CatchUp, out);
            phase = Phase::CatchUp;
        }
        if phase == Phase::CatchUp && caught_up {
            self.advance(now, migration, Phase::CutOver, out);
            let incarnation = self.pinned(record.source.incarnation);
            self.send_to_node(out, record.source_node, incarnation, Message::StartCutover { migration, shard });
            self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_source_sealed(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        index: LogIndex,
        digest: Digest,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let record = self.active_record_from(sender, migration, shard, true)?;
        if record.phase != Phase::CutOver {
            return Err(InputError::Stale(format!("{migration} sealed in phase {}", record.phase)));
        }
        self.heard(migration, now);
        if record.sealed != Some((index, digest)) {
            self.tracker.record_sealed(migration, index, digest);
            self.persist_record(migration, out);
        }
        if self.config.has_canary(Canary::CommitWithoutTargetCheck) {
            // The planted bug: the source's word is taken for what the target holds.
            let record = self.tracker.get(migration).expect("active").clone();
            self.commit(now, &record, (index, digest), (index, digest), record.target, out);
            return Ok(());
        }
        let verify = Message::VerifyTarget { migration, shard, sealed_index: index };
        self.send_to_node(out, record.target_node, self.pinned(record.target.incarnation), verify);
        self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
        Ok(())
    }

    pub(super) fn on_source_refused(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        self.active_record_from(sender, migration, shard, true)?;
        self.abort(now, migration, AbortReason::SourceRefused, out);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_target_verified(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        held_index: LogIndex,
        digest: Digest,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let trusting = self.config.has_canary(Canary::IdentityCheckSkipped);
        let by_node_id = self
            .tracker
            .get(migration)
            .filter(|record| {
                trusting && record.shard == shard && !record.phase.is_terminal() && record.target.actor == sender.actor
            })
            .cloned();
        let record = match by_node_id.ok_or(()).or_else(|()| self.active_record_from(sender, migration, shard, false)) {
            Ok(record) => record,
            Err(error) => {
                // The target answering from a new life: the identity changed mid-migration.
                let active = self.tracker.get(migration).filter(|record| !record.phase.is_terminal()).cloned();
                if let Some(record) = active.filter(|record| record.target.actor == sender.actor) {
                    self.abort(now, record.id, AbortReason::TargetIdentityChanged, out);
                    return Ok(());
                }
                return Err(error);
            }
        };
        let Some((sealed_index, sealed_digest)) = record.sealed.filter(|_| record.phase == Phase::CutOver) else {
            return Err(InputError::Stale(format!("{migration} verified before it sealed")));
        };
        let target_now = self.members.get(record.target_node).map(|member| member.identity());
        if target_now != Some(record.target) && !trusting {
            self.abort(now, migration, AbortReason::TargetIdentityChanged, out);
            return Ok(());
        }
        if (held_index, digest) != (sealed_index, sealed_digest) {
            self.abort(now, migration, AbortReason::SealMismatch, out);
            return Ok(());
        }
        self.commit(now, &record, (sealed_index, sealed_digest), (held_index, digest), sender, out);
        Ok(())
    }

    /// Commits a verified cut-over, unless it overran the write-pause budget.
    fn commit(
        &mut self,
        now: Instant,
        record: &crate::tracker::MigrationRecord,
        (sealed_index, sealed_digest): (LogIndex, Digest),
        (held_index, digest): (LogIndex, Digest),
        target_now: PeerIdentity,
        out: &mut Outbox,
    ) {
        let (migration, shard) = (record.id, record.shard);
        let pause_ms = now.ms_since(record.cutover_started_at.expect("cut-over started"));
        if pause_ms > self.pause_budget_local_ms() && !self.config.has_canary(Canary::PauseBudgetIgnored) {
            self.abort(now, migration, AbortReason::WritePauseBudget, out);
            return;
        }
        // The commit point: the routing entry, durable before anyone hears of it.
        let epoch = record.from_epoch.next();
        let route = Route { owner: record.target_node, epoch, owner_identity: Some(target_now) };
        out.persist(self.routing.set(shard, route));
        tracing::info!(%migration, %shard, owner = %record.target_node, %epoch, pause_ms, "cut-over committed");
        out.observe(Observation::RoutingCommitted {
            migration,
            shard,
            owner: record.target_node,
            epoch,
            sealed_index,
            sealed_digest,
            target_held_index: held_index,
            target_digest: digest,
            target_at_start: record.target,
            target_now,
            pause_ms,
            budget_ms: self.config.write_pause_budget_ms,
        });
        self.advance(now, migration, Phase::Complete, out);
        let commit = Message::CommitMigration {
            migration,
            shard,
            owner: record.target_node,
            address: record.target.address,
            epoch,
        };
        self.send_to_node(out, record.target_node, None, commit.clone());
        self.send_to_node(out, record.source_node, None, commit);
    }

    /// The write-pause budget as this coordinator's clock must time it: shrunk by the
    /// drift the protocol allows, so that the pause holds in true time.
    fn pause_budget_local_ms(&self) -> u64 {
        match self.config.has_canary(Canary::PauseOnUncheckedClock) {
            true => self.config.write_pause_budget_ms,
            false => self.config.at_most_ms(self.config.write_pause_budget_ms),
        }
    }

    /// The machine's clock was set `by_ms`. A pause timed across a step back reads short,
    /// so every cut-over in progress aborts; silences, the quiet period and the election
    /// grace restart, so a step forward opens no gate early and suspects no one.
    pub(super) fn on_clock_stepped(&mut self, now: Instant, by_ms: i64, out: &mut Outbox) {
        self.members.clock_stepped(now);
        self.grace_started_at = now;
        if by_ms >= 0 || self.config.has_canary(Canary::PauseOnUncheckedClock) {
            return;
        }
        for migration in self.tracker.active_ids() {
            if self.tracker.get(migration).is_some_and(|record| record.phase == Phase::CutOver) {
                self.abort(now, migration, AbortReason::ClockStepped, out);
            }
        }
    }

    /// A legal phase change, persisted and observed. Illegal ones are our own bug.
    pub(super) fn advance(&mut self, now: Instant, migration: MigrationId, to: Phase, out: &mut Outbox) {
        let from = self.tracker.advance(migration, to, now).expect("coordinator only makes legal transitions");
        self.after_change(migration, from, to, out);
    }

    pub(super) fn abort(&mut self, now: Instant, migration: MigrationId, reason: AbortReason, out: &mut Outbox) {
        let from = self.tracker.fail(migration, reason, now).expect("aborting an active migration");
        let record = self.tracker.get(migration).expect("just failed").clone();
        tracing::info!(%migration, shard = %record.shard, ?reason, "migration aborted");
        out.observe(Observation::MigrationAborted { migration, shard: record.shard, reason });
        self.after_change(migration, from, Phase::Failed, out);
        let abort = Message::AbortMigration { migration, shard: record.shard };
        self.send_to_node(out, record.source_node, None, abort.clone());
        self.send_to_node(out, record.target_node, None, abort);
    }

    fn after_change(&mut self, migration: MigrationId, from: Phase, to: Phase, out: &mut Outbox) {
        self.persist_record(migration, out);
        let shard = self.tracker.get(migration).expect("known").shard;
        out.observe(Observation::MigrationPhase { migration, shard, from, to });
        if to.is_terminal() {
            // Room for the next move: plan it soon rather than a full interval later, unless
            // the plan depends on loads (the new owner's rates are not measured yet: planning
            // on them now moves the shard on again).
            let draining =
                self.members.iter().any(|(_, member)| member.record.draining && !member.record.decommissioned);
            if draining || !self.planner.reads_loads() {
                self.rebalancer.kick();
            }
            self.liaisons.remove(&migration);
            for op in self.tracker.prune() {
                out.persist(op);
            }
        }
    }

    /// Identity changes, lost members, deadlines and resends, for every active migration.
    fn check_migrations(&mut self, now: Instant, out: &mut Outbox) {
        for migration in self.tracker.active_ids() {
            let record = self.tracker.get(migration).expect("active").clone();
            let source = self.members.get(record.source_node);
            let target = self.members.get(record.target_node);
            let checks_identity = !self.config.has_canary(Canary::IdentityCheckSkipped);
            let budget_enforced = !self.config.has_canary(Canary::PauseBudgetIgnored);
            let reason = if checks_identity && target.map(|member| member.identity()) != Some(record.target) {
                Some(AbortReason::TargetIdentityChanged)
            } else if checks_identity && source.map(|member| member.identity()) != Some(record.source) {
                Some(AbortReason::SourceIdentityChanged)
            } else if [source, target].into_iter().flatten().any(|member| member.liveness == Liveness::Down) {
                Some(AbortReason::MemberLost)
            } else if now.ms_since(record.started_at) >= self.config.migration_timeout_ms {
                Some(AbortReason::Timeout)
            } else if budget_enforced
                && record.cutover_started_at.is_some_and(|started| now.ms_since(started) > self.pause_budget_local_ms())
            {
                Some(AbortReason::WritePauseBudget)
            } else {
                None
            };
            if let Some(reason) = reason {
                self.abort(now, migration, reason, out);
                continue;
            }
            self.resend_if_quiet(now, &record, out);
        }
    }

    fn resend_if_quiet(&mut self, now: Instant, record: &crate::tracker::MigrationRecord, out: &mut Outbox) {
        let resend_ms = self.config.migration_resend_ms;
        let liaison = self.liaisons.get(&record.id).copied().unwrap_or(Liaison::default());
        let quiet = |at: Option<Instant>| at.is_none_or(|at| now.ms_since(at) >= resend_ms);
        if !quiet(liaison.last_sent_at) || !quiet(liaison.last_heard_at) {
            return;
        }
        let (migration, shard) = (record.id, record.shard);
        let (node, incarnation, message) = match (record.phase, record.sealed) {
            (Phase::BaseCopy | Phase::CatchUp, _) => (
                record.source_node,
                record.source.incarnation,
                Message::StartMigration { migration, shard, epoch: record.from_epoch, target: record.target },
            ),
            (Phase::CutOver, None) => {
                (record.source_node, record.source.incarnation, Message::StartCutover { migration, shard })
            }
            (Phase::CutOver, Some((sealed_index, _))) => (
                record.target_node,
                record.target.incarnation,
                Message::VerifyTarget { migration, shard, sealed_index },
            ),
            (Phase::Complete | Phase::Failed, _) => return,
        };
        self.send_to_node(out, node, self.pinned(incarnation), message);
        self.liaisons.entry(migration).or_default().last_sent_at = Some(now);
    }
}
