//! The source side of a migration: stream the log to the target in bounded chunks, fence
//! on cut-over, hand off live entities, seal, and report to the coordinator.

use super::DataNode;
use super::EntityStop;
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Epoch, Instant, LogIndex, MigrationId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::log::Digest;
use crate::observation::Observation;
use crate::wire::{Message, ShardRole, SourceProgress};

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum SourceStage {
    /// Base copy and catch-up: writes still flow.
    Streaming,
    /// Fenced; stopping live entities, a batch per tick (no new one starts while fenced).
    HandingOff,
    /// Fenced and sealed at `index`; waiting for the coordinator's decision.
    Sealed { index: LogIndex, digest: Digest },
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SourceStream {
    migration: MigrationId,
    from_epoch: Epoch,
    target: PeerIdentity,
    snapshot_index: LogIndex,
    acked: LogIndex,
    stage: SourceStage,
    last_sent_at: Option<Instant>,
    last_report_at: Option<Instant>,
    fenced_at: Option<Instant>,
}

impl SourceStream {
    pub fn migration(&self) -> MigrationId {
        self.migration
    }

    pub fn from_epoch(&self) -> Epoch {
        self.from_epoch
    }

    pub fn target(&self) -> PeerIdentity {
        self.target
    }

    pub fn acked(&self) -> LogIndex {
        self.acked
    }

    pub fn stage(&self) -> &SourceStage {
        &self.stage
    }
}

impl DataNode {
    /// A sealed source reports once the target acked everything (at once, under the
    /// `CommitWithoutTargetCheck` canary).
    fn seal_reportable(&self, acked: LogIndex, sealed_index: LogIndex) -> bool {
        acked >= sealed_index || self.config.has_canary(Canary::CommitWithoutTargetCheck)
    }

    /// The `UnfenceOnTimeout` canary: an impatient source unfences on its own.
    fn unfence_impatiently(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) -> bool {
        let patience_ms = self.config.write_pause_budget_ms / 5;
        let stream = &self.sources[&shard];
        let impatient = self.config.has_canary(Canary::UnfenceOnTimeout)
            && stream.fenced_at.is_some_and(|fenced_at| now.ms_since(fenced_at) >= patience_ms);
        if !impatient {
            return false;
        }
        let (migration, epoch) = (stream.migration, stream.from_epoch);
        self.sources.remove(&shard);
        self.set_role(shard, ShardRole::Owned { epoch }, out);
        out.observe(Observation::ShardUnfenced { node: self.node, shard, migration });
        true
    }

    pub(super) fn on_start_migration(
        &mut self,
        now: Instant,
        migration: MigrationId,
        shard: ShardId,
        epoch: Epoch,
        target: PeerIdentity,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if let Some(stream) = self.sources.get(&shard) {
            let superseded = stream.migration < migration && stream.stage == SourceStage::Streaming;
            if !superseded {
                if stream.migration != migration {
                    self.to_coordinator(out, Message::SourceRefused { migration, shard });
                }
                return Ok(());
            }
            // The coordinator starts a migration of a shard only once the previous one is
            // over, so a newer id means the older stream's abort was lost: drop it.
            self.sources.remove(&shard);
        }
        let owned_at_epoch = self.shards.get(&shard).is_some_and(|state| state.role == ShardRole::Owned { epoch });
        if !owned_at_epoch || target.actor == crate::ids::ActorId::Node(self.node) {
            self.to_coordinator(out, Message::SourceRefused { migration, shard });
            return Ok(());
        }
        let snapshot_index = self.shards[&shard].log.last_index();
        let stream = SourceStream {
            migration,
            from_epoch: epoch,
            target,
            snapshot_index,
            acked: LogIndex::EMPTY,
            stage: SourceStage::Streaming,
            last_sent_at: None,
            last_report_at: None,
            fenced_at: None,
        };
        self.sources.insert(shard, stream);
        self.send_chunk(now, shard, out);
        self.report_progress(now, shard, out);
        Ok(())
    }

    pub(super) fn on_chunk_ack(
        &mut self,
        now: Instant,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        applied_index: LogIndex,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let last = self.shards.get(&shard).map(|state| state.log.last_index()).unwrap_or_default();
        let Some(stream) = self.sources.get_mut(&shard).filter(|stream| stream.migration == migration) else {
            return Err(InputError::Stale(format!("chunk ack for {migration} on {shard}, no such stream")));
        };
        if stream.target != sender {
            return Err(InputError::Stale(format!("chunk ack for {migration} from {sender}, not the target")));
        }
        let advanced = applied_index.min(last) > stream.acked;
        stream.acked = stream.acked.max(applied_index.min(last));
        if advanced && stream.acked < last {
            self.send_chunk(now, shard, out);
        }
        match self.sources[&shard].stage {
            SourceStage::Streaming if advanced => self.report_progress(now, shard, out),
            SourceStage::Sealed { index, .. }
                if advanced && self.seal_reportable(self.sources[&shard].acked, index) =>
            {
                self.report_sealed(now, shard, out)
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn on_start_cutover(
        &mut self,
        now: Instant,
        migration: MigrationId,
        shard: ShardId,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let Some(stream) = self.sources.get(&shard).filter(|stream| stream.migration == migration) else {
            self.to_coordinator(out, Message::SourceRefused { migration, shard });
            return Ok(());
        };
        match stream.stage {
            SourceStage::Streaming => {
                let epoch = stream.from_epoch;
                // Durable before anything else: a restarted node must still find it fenced.
                self.set_role(shard, ShardRole::Fenced { epoch, migration }, out);
                tracing::debug!(%shard, %migration, %epoch, "fenced for cut-over");
                out.observe(Observation::ShardFenced { node: self.node, shard, migration, epoch });
                // Clients hold their writes while the shard moves, rather than retry into the fence.
                let me = self.me();
                for address in self.shards[&shard].clients.values() {
                    out.send(me, *address, None, Message::ShardMoving { shard });
                }
                let stream = self.sources.get_mut(&shard).expect("checked");
                stream.stage = SourceStage::HandingOff;
                stream.fenced_at = Some(now);
                self.hand_off(now, shard, out);
            }
            SourceStage::HandingOff => {}
            SourceStage::Sealed { index, .. } => {
                if self.seal_reportable(stream.acked, index) {
                    self.report_sealed(now, shard, out);
                }
            }
        }
        Ok(())
    }

    /// One batch of the entity handoff; seals when none remain (at once, under the
    /// `SealBeforeHandoff` canary, which leaves the entities live until the commit).
    fn hand_off(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) {
        let batch = self.config.handoff_batch_entities.max(1);
        let stream = &self.sources[&shard];
        if stream.stage != SourceStage::HandingOff {
            return;
        }
        let migration = stream.migration;
        let left = if self.config.has_canary(Canary::SealBeforeHandoff) {
            0
        } else {
            self.stop_entities(shard, batch, EntityStop::HandedOff, out)
        };
        out.observe(Observation::HandoffProgress { node: self.node, shard, migration, remaining: left as u32 });
        if left > 0 {
            return;
        }
        let stream = self.sources.get_mut(&shard).expect("handing off a known stream");
        let log = &self.shards[&shard].log;
        let (index, digest) = (log.last_index(), log.digest());
        stream.stage = SourceStage::Sealed { index, digest };
        out.observe(Observation::ShardSealed { node: self.node, shard, migration, index, digest });
        let acked = stream.acked;
        if self.seal_reportable(acked, index) {
            self.report_sealed(now, shard, out);
        } else {
            self.send_chunk(now, shard, out);
        }
    }

    pub(super) fn tick_sources(&mut self, now: Instant, out: &mut Outbox) {
        let shards: Vec<ShardId> = self.sources.keys().copied().collect();
        for shard in shards {
            if self.unfence_impatiently(now, shard, out) {
                continue;
            }
            let stream = &self.sources[&shard];
            let last = self.shards[&shard].log.last_index();
            let quiet = |at: Option<Instant>, after_ms: u64| at.is_none_or(|at| now.ms_since(at) >= after_ms);
            if stream.acked < last && quiet(stream.last_sent_at, self.config.chunk_retransmit_ms) {
                self.send_chunk(now, shard, out);
            }
            let stream = &self.sources[&shard];
            let report_due = quiet(stream.last_report_at, self.config.migration_resend_ms);
            match stream.stage {
                SourceStage::Streaming if report_due => self.report_progress(now, shard, out),
                SourceStage::HandingOff => self.hand_off(now, shard, out),
                SourceStage::Sealed { index, .. } if report_due && self.seal_reportable(stream.acked, index) => {
                    self.report_sealed(now, shard, out)
                }
                _ => {}
            }
        }
    }

    fn send_chunk(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) {
        let me = self.me();
        let stream = self.sources.get_mut(&shard).expect("streaming a known shard");
        let first_index = stream.acked.next();
        let last_index = LogIndex(stream.acked.0 + self.config.chunk_entries_max as u64);
        let entries = self.shards[&shard].log.range(first_index, last_index).to_vec();
        let chunk =
            Message::Chunk { migration: stream.migration, shard, from_epoch: stream.from_epoch, first_index, entries };
        out.send(me, stream.target.address, Some(stream.target.incarnation), chunk);
        stream.last_sent_at = Some(now);
    }

    fn report_progress(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) {
        let stream = self.sources.get_mut(&shard).expect("reporting a known stream");
        stream.last_report_at = Some(now);
        let progress = SourceProgress {
            snapshot_index: stream.snapshot_index,
            target_applied: stream.acked,
            source_last: self.shards[&shard].log.last_index(),
        };
        let migration = stream.migration;
        self.to_coordinator(out, Message::SourceProgress { migration, shard, progress });
    }

    fn report_sealed(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) {
        let stream = self.sources.get_mut(&shard).expect("reporting a known stream");
        stream.last_report_at = Some(now);
        let SourceStage::Sealed { index, digest } = stream.stage else {
            return;
        };
        let migration = stream.migration;
        self.to_coordinator(out, Message::SourceSealed { migration, shard, index, digest });
    }
}
