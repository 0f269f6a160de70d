//! The data node: holds shard logs, acks client writes only when durable and only as the
//! owner at the client's epoch, and plays source or target in migrations.
//!
//! Driver contract: see [`Actor`]. The node asks for a tick every `node_tick_ms`;
//! heartbeats, retransmits, entity handoff and fate queries happen there.

mod clients;
mod decisions;
mod entity;
mod heartbeat;
mod recovery;
mod shard;
mod source;
mod target;

pub(crate) use clients::ClientWrite;
pub use entity::{EntityState, EntityStop};
pub(crate) use recovery::next_incarnation;
pub use recovery::ActorMeta;
pub use shard::ShardState;
pub use source::{SourceStage, SourceStream};

use crate::canary::Canary;
use crate::config::ProtocolConfig;
use crate::effects::Outbox;
use crate::entropy::Entropy;
use crate::ids::{ActorId, Address, Instant, NodeId, PeerIdentity, ShardId};
use crate::input::{Actor, Input, InputError};
use crate::storage::{put, StorageKey};
use crate::timer::Timer;
use crate::wire::{decode, Message, ShardRole};
use std::collections::BTreeMap;

#[derive(Clone, Debug, serde::Serialize)]
pub struct DataNode {
    node: NodeId,
    #[serde(skip)] // fixed for a whole run: not part of a state
    config: ProtocolConfig,
    identity: Option<PeerIdentity>,
    shards: BTreeMap<ShardId, ShardState>,
    /// At most one source stream per shard.
    sources: BTreeMap<ShardId, SourceStream>,
    window_started_at: Instant,
    last_heartbeat_at: Option<Instant>,
    last_fate_query_at: Option<Instant>,
    /// Whether the [`Timer::Streams`] deadline is set: only while there is a stream to
    /// drive or a fenced shard whose fate to ask (most of the time there is neither).
    streams_timer_set: bool,
    /// The disk has no room for log entries: writes and incoming chunks are refused.
    disk_full: bool,
    /// Shards whose records did not check out at boot, with why: neither served nor
    /// held, but reported to the coordinator until it says what becomes of them.
    refused: BTreeMap<ShardId, String>,
}

impl DataNode {
    pub fn new(node: NodeId, config: ProtocolConfig) -> DataNode {
        DataNode {
            node,
            config,
            identity: None,
            shards: BTreeMap::new(),
            sources: BTreeMap::new(),
            window_started_at: Instant::ZERO,
            last_heartbeat_at: None,
            last_fate_query_at: None,
            streams_timer_set: false,
            disk_full: false,
            refused: BTreeMap::new(),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.node
    }

    pub fn shards(&self) -> &BTreeMap<ShardId, ShardState> {
        &self.shards
    }

    pub fn shard(&self, shard: ShardId) -> Option<&ShardState> {
        self.shards.get(&shard)
    }

    pub fn refused(&self) -> &BTreeMap<ShardId, String> {
        &self.refused
    }

    pub fn sources(&self) -> &BTreeMap<ShardId, SourceStream> {
        &self.sources
    }

    fn me(&self) -> PeerIdentity {
        self.identity.expect("booted")
    }

    fn coordinator_address(&self) -> Address {
        self.config.coordinator_address
    }

    fn to_coordinator(&self, out: &mut Outbox, body: Message) {
        out.send(self.me(), self.coordinator_address(), None, body);
    }

    /// Sets a shard's role durably: the role is what survives a crash.
    fn set_role(&mut self, shard: ShardId, role: ShardRole, out: &mut Outbox) {
        if let Some(current) = self.shards.get(&shard) {
            assert!(role.epoch() >= current.role.epoch(), "{shard}'s epoch would go back on {}", self.node);
        }
        self.shards.entry(shard).or_insert_with(|| ShardState::new(role)).role = role;
        out.persist(put(StorageKey::ShardMeta(shard), &role));
    }

    fn on_datagram(&mut self, now: Instant, from: Address, bytes: &[u8], out: &mut Outbox) -> Result<(), InputError> {
        let envelope = decode(bytes)?;
        if envelope.to_incarnation.is_some_and(|incarnation| incarnation != self.me().incarnation) {
            return Err(InputError::Stale(format!("{} meant for an earlier life", envelope.body.kind())));
        }
        let sender = envelope.from;
        match (sender.actor, envelope.body) {
            (ActorId::Coordinator, Message::AssignShard { shard, epoch }) => self.on_assign(shard, epoch, out),
            (ActorId::Coordinator, Message::ReleaseShard { shard, epoch }) => self.on_release(shard, epoch, out),
            (ActorId::Coordinator, Message::RehomeShard { shard, epoch }) => self.on_rehome(shard, epoch, out),
            (ActorId::Coordinator, Message::StartMigration { migration, shard, epoch, target }) => {
                self.on_start_migration(now, migration, shard, epoch, target, out)
            }
            (ActorId::Coordinator, Message::StartCutover { migration, shard }) => {
                self.on_start_cutover(now, migration, shard, out)
            }
            (ActorId::Coordinator, Message::CommitMigration { migration, shard, owner, address, epoch }) => {
                self.on_commit(migration, shard, owner, address, epoch, out)
            }
            (ActorId::Coordinator, Message::AbortMigration { migration, shard }) => {
                self.on_abort(migration, shard, out)
            }
            (ActorId::Coordinator, Message::FateReply { migration, shard, fate }) => {
                self.on_fate(migration, shard, fate, out)
            }
            (ActorId::Coordinator, Message::VerifyTarget { migration, shard, sealed_index }) => {
                self.on_verify_target(migration, shard, sealed_index, out)
            }
            (ActorId::Node(_), Message::Chunk { migration, shard, from_epoch, first_index, entries }) => {
                self.on_chunk(from, sender, migration, shard, from_epoch, first_index, entries, out)
            }
            (ActorId::Node(_), Message::ChunkAck { migration, shard, applied_index }) => {
                self.on_chunk_ack(now, sender, migration, shard, applied_index, out)
            }
            (ActorId::Client(client), Message::Write { shard, epoch, write_id, entity, payload }) => {
                let write = ClientWrite { client, shard, epoch, write_id, entity, payload };
                self.on_write(from, sender, write, out)
            }
            (ActorId::Client(client), Message::Read { shard, epoch, .. }) => {
                self.on_read(from, sender, client, shard, epoch, out)
            }
            (_, body) => Err(InputError::UnexpectedMessage { kind: body.kind(), from: sender }),
        }
    }

    /// [`Timer::Heartbeat`]: report to the coordinator once the interval has passed, and
    /// ask to be woken when the next one is due.
    fn on_heartbeat_timer(&mut self, now: Instant, out: &mut Outbox) {
        if self.last_heartbeat_at.is_none_or(|at| now.ms_since(at) >= self.config.heartbeat_interval_ms) {
            self.send_heartbeat(now, out);
        }
        let last = self.last_heartbeat_at.unwrap_or(now);
        out.set_timer(Timer::Heartbeat, last.plus_ms(self.config.heartbeat_interval_ms).max(now.plus_ms(1)));
    }

    /// [`Timer::Streams`]: drive the source streams and ask for fenced shards' fates.
    fn on_streams_timer(&mut self, now: Instant, out: &mut Outbox) {
        self.streams_timer_set = false;
        self.tick_sources(now, out);
        self.query_fates(now, out);
    }

    /// After every input: the streams timer runs while a stream or a fenced shard needs
    /// it, and stops by itself (it is not set again) once neither does.
    fn keep_streams_timer(&mut self, now: Instant, out: &mut Outbox) {
        let needed = !self.sources.is_empty()
            || self.shards.values().any(|state| matches!(state.role, ShardRole::Fenced { .. }));
        if needed && !self.streams_timer_set {
            out.set_timer(Timer::Streams, now.plus_ms(self.config.node_tick_ms));
            self.streams_timer_set = true;
        }
    }

    /// Local rules; a failure is a bug in the data node.
    pub fn check_invariants(&self) {
        for (shard, stream) in &self.sources {
            let state = self.shards.get(shard).expect("a source stream's shard exists");
            match (stream.stage(), state.role) {
                (SourceStage::Streaming, ShardRole::Owned { epoch }) => {
                    assert_eq!(epoch, stream.from_epoch(), "source stream epoch drifted")
                }
                (SourceStage::HandingOff | SourceStage::Sealed { .. }, ShardRole::Fenced { migration, .. }) => {
                    assert_eq!(migration, stream.migration(), "fenced for another migration")
                }
                (stage, role) => panic!("source stream {stage:?} on {shard} with role {role:?}"),
            }
            assert!(stream.acked() <= state.log.last_index(), "target acked past the source's log");
        }
        // Runs after every input: the canary lookup stays out of the per-shard loop.
        let lingering = self.config.has_canary(crate::canary::Canary::SealBeforeHandoff);
        for (shard, state) in &self.shards {
            let serving = matches!(state.role, ShardRole::Owned { .. } | ShardRole::Fenced { .. });
            assert!(
                serving || lingering || state.entities.is_empty(),
                "{shard} has live entities on {} while held as {:?}",
                self.node,
                state.role
            );
            assert!(state.entities.len() <= self.config.entities_per_shard_max.max(1), "entity bound broken");
        }
    }
}

impl Actor for DataNode {
    fn handle(
        &mut self,
        now: Instant,
        input: Input<'_>,
        _entropy: &mut dyn Entropy,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if let Input::Boot { disk, address, unreadable } = input {
            if let Some(key) = unreadable.first().filter(|_| !self.config.has_canary(Canary::BootAroundReadError)) {
                return Err(InputError::DiskUnreadable(*key));
            }
            self.boot(now, disk, address, out)?;
            self.keep_streams_timer(now, out);
            return Ok(());
        }
        if self.identity.is_none() {
            return Err(InputError::NotBooted);
        }
        let result = match input {
            Input::Boot { .. } => unreachable!("handled above"),
            Input::Datagram { from, bytes } => self.on_datagram(now, from, bytes, out),
            Input::Timeout(Timer::Heartbeat) => {
                self.on_heartbeat_timer(now, out);
                Ok(())
            }
            Input::Timeout(Timer::Streams) => {
                self.on_streams_timer(now, out);
                Ok(())
            }
            Input::Timeout(timer) => Err(InputError::Refused(format!("a data node has no {timer} timer"))),
            Input::Command(command) => Err(InputError::Refused(format!("a data node does not take {command:?}"))),
            Input::DiskFull { full } => {
                self.disk_full = full;
                Ok(())
            }
            Input::SyncFailed if self.config.has_canary(Canary::AckAfterFailedFsync) => Ok(()),
            Input::SyncFailed => {
                out.restart();
                Ok(())
            }
            Input::ClockStepped { .. } => {
                // A load window across the step measured a wrong length: start afresh,
                // or a step forward reports a hot shard as idle (and back, idle as hot).
                self.window_started_at = now;
                for state in self.shards.values_mut() {
                    state.restart_load_window();
                }
                // Report now and time the next heartbeat from the stepped clock: a step
                // back would otherwise hold the heartbeat until the clock caught up.
                self.last_heartbeat_at = None;
                self.on_heartbeat_timer(now, out);
                Ok(())
            }
        };
        self.keep_streams_timer(now, out);
        self.check_invariants();
        result
    }

    fn identity(&self) -> Option<PeerIdentity> {
        self.identity
    }
}
