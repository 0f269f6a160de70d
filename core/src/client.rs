//! The client: a routing cache, writes stamped with the epoch it believes, redirects,
//! and bounded retries.
//!
//! Driver contract: see [`Actor`]. Feed it `Command::Write` and `Command::Read`; it asks
//! for a tick when a pending write is due again (never sooner than `client_tick_ms`
//! ahead) and retries or gives up there. A client with nothing pending asks for none.

use crate::config::ProtocolConfig;
use crate::effects::Outbox;
use crate::entropy::Entropy;
use crate::ids::{ActorId, Address, ClientId, EntityKey, Epoch, Instant, NodeId, PeerIdentity, ShardId, WriteId};
use crate::input::{Actor, Command, Input, InputError};
use crate::node::next_incarnation;
use crate::observation::Observation;
use crate::small_map::SmallMap;
use crate::storage::StorageKey;
use crate::timer::Timer;
use crate::wire::{decode, Message, Rejection};
use bytes::Bytes;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CachedRoute {
    pub owner: NodeId,
    pub address: Address,
    pub epoch: Epoch,
}

#[derive(Clone, Debug, serde::Serialize)]
struct PendingWrite {
    shard: ShardId,
    entity: EntityKey,
    payload: Bytes,
    attempts: u32,
    next_attempt_at: Instant,
    /// Sent, and nothing came back yet: a timeout, not a rejection, ends this wait.
    unanswered: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Client {
    client: ClientId,
    #[serde(skip)] // fixed for a whole run: not part of a state
    config: ProtocolConfig,
    identity: Option<PeerIdentity>,
    routes: BTreeMap<ShardId, CachedRoute>,
    /// A handful at most (`client_pending_writes_max`), looked up at every ack and retry.
    pending: SmallMap<WriteId, PendingWrite>,
    next_sequence: u64,
    route_queried_at: BTreeMap<ShardId, Instant>,
    /// The retry tick asked for and not yet fired.
    retry_at: Option<Instant>,
}

impl Client {
    pub fn new(client: ClientId, config: ProtocolConfig) -> Client {
        Client {
            client,
            config,
            identity: None,
            routes: BTreeMap::new(),
            pending: SmallMap::new(),
            next_sequence: 0,
            route_queried_at: BTreeMap::new(),
            retry_at: None,
        }
    }

    pub fn pending_writes(&self) -> usize {
        self.pending.len()
    }

    /// Whether a write now would be taken rather than refused as one too many pending.
    pub fn takes_writes(&self) -> bool {
        self.pending.len() < self.config.client_pending_writes_max
    }

    pub fn route(&self, shard: ShardId) -> Option<CachedRoute> {
        self.routes.get(&shard).copied()
    }

    fn me(&self) -> PeerIdentity {
        self.identity.expect("booted")
    }

    fn boot(&mut self, disk: &crate::storage::DiskImage, address: Address, out: &mut Outbox) -> Result<(), InputError> {
        let incarnation = next_incarnation(disk, StorageKey::ClientMeta, out)?;
        self.identity = Some(PeerIdentity { actor: ActorId::Client(self.client), address, incarnation });
        self.routes.clear();
        self.pending.clear();
        self.route_queried_at.clear();
        self.next_sequence = 0;
        self.retry_at = None;
        Ok(())
    }

    fn on_command(&mut self, now: Instant, command: &Command, out: &mut Outbox) -> Result<(), InputError> {
        match command {
            Command::Write { shard, entity, payload } => {
                if !self.takes_writes() {
                    return Err(InputError::Refused("client has too many writes pending".to_string()));
                }
                self.next_sequence += 1;
                let write_id =
                    WriteId { client: self.client, incarnation: self.me().incarnation, sequence: self.next_sequence };
                let pending = PendingWrite {
                    shard: *shard,
                    entity: *entity,
                    payload: payload.clone(),
                    attempts: 0,
                    next_attempt_at: now,
                    unanswered: false,
                };
                self.pending.insert(write_id, pending);
                self.attempt(now, write_id, out);
                Ok(())
            }
            Command::Read { shard } => {
                match self.routes.get(shard) {
                    Some(route) => {
                        let read = Message::Read { shard: *shard, epoch: route.epoch, client: self.client };
                        out.send(self.me(), route.address, None, read);
                    }
                    None => self.query_route(now, *shard, out),
                }
                Ok(())
            }
            Command::Decommission { .. } => {
                Err(InputError::Refused("a client does not decommission nodes".to_string()))
            }
        }
    }

    fn query_route(&mut self, now: Instant, shard: ShardId, out: &mut Outbox) {
        let recently =
            self.route_queried_at.get(&shard).is_some_and(|at| now.ms_since(*at) < self.config.client_route_query_ms);
        if !recently {
            self.route_queried_at.insert(shard, now);
            out.send(self.me(), self.config.coordinator_address, None, Message::RouteQuery { shard });
        }
    }

    /// Sends (or re-sends) one pending write, or gives up after the attempt bound.
    fn attempt(&mut self, now: Instant, write_id: WriteId, out: &mut Outbox) {
        let Some(pending) = self.pending.get(&write_id) else {
            return;
        };
        if pending.attempts >= self.config.client_write_attempts_max {
            let shard = pending.shard;
            self.pending.remove(&write_id);
            out.observe(Observation::ClientGaveUp { write_id, shard });
            return;
        }
        let shard = pending.shard;
        let Some(route) = self.routes.get(&shard).copied() else {
            self.query_route(now, shard, out);
            let pending = self.pending.get_mut(&write_id).expect("present");
            pending.attempts += 1;
            pending.next_attempt_at = now.plus_ms(self.config.client_route_query_ms);
            return;
        };
        if pending.unanswered {
            // The last send went unanswered: loss, or an address nobody listens on any
            // more (the owner's machine was replaced). Ask the coordinator again; a
            // route at the same epoch with a new address replaces the cached one.
            self.query_route(now, shard, out);
        }
        let pending = self.pending.get_mut(&write_id).expect("present");
        pending.attempts += 1;
        pending.next_attempt_at = now.plus_ms(self.config.client_write_timeout_ms);
        pending.unanswered = true;
        let (entity, payload) = (pending.entity, pending.payload.clone());
        let write = Message::Write { shard, epoch: route.epoch, write_id, entity, payload };
        out.send(self.me(), route.address, None, write);
    }

    /// An answer came (a rejection, a route): try again after `delay_ms`.
    fn retry_after(&mut self, now: Instant, write_id: WriteId, delay_ms: u64) {
        if let Some(pending) = self.pending.get_mut(&write_id) {
            pending.next_attempt_at = now.plus_ms(delay_ms);
            pending.unanswered = false;
        }
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        bytes: &[u8],
        out: &mut Outbox,
        entropy: &mut dyn Entropy,
    ) -> Result<(), InputError> {
        let envelope = decode(bytes)?;
        if envelope.to_incarnation.is_some_and(|incarnation| incarnation != self.me().incarnation) {
            return Err(InputError::Stale(format!("{} meant for an earlier life", envelope.body.kind())));
        }
        let backoff_ms = self.config.client_backoff_ms + entropy.below(self.config.client_backoff_ms.max(1));
        match envelope.body {
            Message::WriteAck { shard, write_id, index, .. } => {
                if self.pending.remove(&write_id).is_some() {
                    out.observe(Observation::ClientAcked { write_id, shard, index });
                }
            }
            Message::WriteRejected { shard, write_id, rejection } => match rejection {
                Rejection::Moved { owner, address, epoch } => {
                    self.learn_route(shard, CachedRoute { owner, address, epoch });
                    self.retry_after(now, write_id, 0);
                }
                Rejection::NotOwner | Rejection::StaleEpoch { .. } => {
                    self.routes.remove(&shard);
                    self.query_route(now, shard, out);
                    self.retry_after(now, write_id, backoff_ms);
                }
                Rejection::Fenced | Rejection::Overloaded | Rejection::DiskFull => {
                    self.retry_after(now, write_id, backoff_ms)
                }
            },
            Message::RouteReply { shard, owner: Some((owner, address)), epoch } => {
                self.learn_route(shard, CachedRoute { owner, address, epoch });
                let waiting: Vec<WriteId> =
                    self.pending.iter().filter(|(_, pending)| pending.shard == shard).map(|(id, _)| *id).collect();
                for write_id in waiting {
                    self.retry_after(now, write_id, 0);
                }
            }
            Message::RouteReply { owner: None, .. } | Message::ReadReply { .. } => {}
            Message::ReadRejected { shard, .. } => {
                self.routes.remove(&shard);
            }
            Message::ShardMoving { shard } => {
                // Entity handoff: the shard is pausing; hold its writes and re-route later.
                self.routes.remove(&shard);
                let holding: Vec<WriteId> =
                    self.pending.iter().filter(|(_, pending)| pending.shard == shard).map(|(id, _)| *id).collect();
                for write_id in holding {
                    self.retry_after(now, write_id, backoff_ms);
                }
            }
            body => return Err(InputError::UnexpectedMessage { kind: body.kind(), from: envelope.from }),
        }
        Ok(())
    }

    fn learn_route(&mut self, shard: ShardId, route: CachedRoute) {
        let newer = self.routes.get(&shard).is_none_or(|current| route.epoch >= current.epoch);
        if newer {
            self.routes.insert(shard, route);
        }
    }

    /// [`Timer::Retry`]: every write whose answer is overdue is tried again.
    fn on_retry_timer(&mut self, now: Instant, out: &mut Outbox) {
        let due: Vec<WriteId> =
            self.pending.iter().filter(|(_, pending)| pending.next_attempt_at <= now).map(|(id, _)| *id).collect();
        for write_id in due {
            self.attempt(now, write_id, out);
        }
    }

    /// Asks for the retry tick by the earliest pending write's next attempt, unless one
    /// already comes by then. A tick asked for needlessly fires once and asks for no more.
    fn arm_retry(&mut self, now: Instant, out: &mut Outbox) {
        let Some(earliest) = self.pending.values().map(|pending| pending.next_attempt_at).min() else {
            return;
        };
        let wanted = earliest.max(now.plus_ms(self.config.client_tick_ms));
        if self.retry_at.is_none_or(|armed| armed > wanted) {
            self.retry_at = Some(wanted);
            out.set_timer(Timer::Retry, wanted);
        }
    }
}

impl Actor for Client {
    fn handle(
        &mut self,
        now: Instant,
        input: Input<'_>,
        entropy: &mut dyn Entropy,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if let Input::Boot { disk, address, unreadable } = input {
            if let Some(key) = unreadable.first() {
                return Err(InputError::DiskUnreadable(*key));
            }
            return self.boot(disk, address, out);
        }
        if self.identity.is_none() {
            return Err(InputError::NotBooted);
        }
        let handled = match input {
            Input::Boot { .. } => unreachable!("handled above"),
            Input::Datagram { bytes, .. } => self.on_datagram(now, bytes, out, entropy),
            Input::Timeout(Timer::Retry) => {
                self.retry_at = None;
                self.on_retry_timer(now, out);
                Ok(())
            }
            Input::Timeout(timer) => Err(InputError::Refused(format!("a client has no {timer} timer"))),
            Input::Command(command) => self.on_command(now, command, out),
            // Deadlines are absolute on the client's clock: a step only makes them come
            // sooner or later, which its retries already tolerate.
            Input::ClockStepped { .. } => Ok(()),
            Input::SyncFailed => {
                out.restart();
                return Ok(());
            }
            Input::DiskFull { .. } => Err(InputError::Refused("a client keeps no log".to_string())),
        };
        if handled.is_ok() {
            self.arm_retry(now, out);
        }
        handled
    }

    fn identity(&self) -> Option<PeerIdentity> {
        self.identity
    }
}
