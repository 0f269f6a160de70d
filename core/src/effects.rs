//! Outputs: what an actor asks its driver to do. The core performs none of them.
//!
//! Persist-before-send lives in the type (raft-rs's `Ready`): an actor's outputs for one
//! input come out as a [`Ready`] that separates what may happen at once from what must
//! wait until the persists are on disk. A driver cannot send an ack before the entry it
//! acknowledges is durable, because it never holds the ack until it has synced.

use crate::ids::{Address, Incarnation, Instant, PeerIdentity};
use crate::observation::Observation;
use crate::storage::StorageOp;
use crate::timer::{Timer, TimerTable};
use crate::wire::{encode, Envelope, Message, PROTOCOL_VERSION};
use bytes::Bytes;

/// An output that reaches the outside world: a datagram, or a fact for the oracle.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    Send { to: Address, bytes: Bytes },
    Observe(Observation),
}

/// Everything one input asked of the driver, in the order it must be carried out:
/// 1. write `persists` to the disk's page cache, in order;
/// 2. carry out `immediate`: it never depended on the persists;
/// 3. if `must_sync`, sync the disk, and only then carry out `after_sync` (with
///    `must_sync` false, `after_sync` is empty);
/// 4. set each deadline in `timers` (replacing the actor's earlier one of that name).
///
/// A crash between 1 and 3 loses the page cache and `after_sync` with it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ready {
    pub persists: Vec<StorageOp>,
    pub must_sync: bool,
    pub immediate: Vec<Effect>,
    pub after_sync: Vec<Effect>,
    /// Deadlines asked for: fire [`Input::Timeout`](crate::Input::Timeout) with the
    /// timer's name at its time.
    pub timers: TimerTable,
    /// The actor cannot go on in this life (its fsync failed): the driver restarts it from
    /// its disk, dropping what waited for the sync.
    pub restart: bool,
}

impl Ready {
    /// Every effect in the order a driver carries them out.
    pub fn effects(&self) -> impl Iterator<Item = &Effect> {
        self.immediate.iter().chain(&self.after_sync)
    }

    pub fn is_empty(&self) -> bool {
        self.persists.is_empty() && self.immediate.is_empty() && self.after_sync.is_empty() && self.timers.is_empty()
    }

    /// Adds what a later step asked for, keeping its waits: once anything must sync,
    /// everything after it waits too.
    pub fn extend(&mut self, later: Ready) {
        let Ready { persists, must_sync, immediate, after_sync, timers, restart } = later;
        self.restart |= restart;
        self.persists.extend(persists);
        let waits = if self.must_sync { &mut self.after_sync } else { &mut self.immediate };
        waits.extend(immediate);
        self.must_sync |= must_sync;
        self.after_sync.extend(after_sync);
        for (at, timer) in timers.iter() {
            self.timers.set(timer, at);
        }
    }
}

/// Collects one input's outputs into a [`Ready`]. Once a durable persist is queued, every
/// later send and observation waits for the sync.
#[derive(Debug, Default)]
pub struct Outbox {
    ready: Ready,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    fn effect(&mut self, effect: Effect) {
        if self.ready.must_sync {
            self.ready.after_sync.push(effect);
        } else {
            self.ready.immediate.push(effect);
        }
    }

    /// Encodes `body` in an envelope from `from` and queues it for `to`.
    pub fn send(&mut self, from: PeerIdentity, to: Address, to_incarnation: Option<Incarnation>, body: Message) {
        let envelope = Envelope { version: PROTOCOL_VERSION, from, to_incarnation, body };
        self.effect(Effect::Send { to, bytes: encode(&envelope) });
    }

    /// A persist that must be on disk before anything queued after it happens.
    pub fn persist(&mut self, op: StorageOp) {
        self.ready.persists.push(op);
        self.ready.must_sync = true;
    }

    /// Asks the driver to restart this actor from its disk (see [`Ready::restart`]).
    pub fn restart(&mut self) {
        self.ready.restart = true;
    }

    /// A persist the driver may lose in a crash unless a later durable one follows.
    pub fn persist_lazily(&mut self, op: StorageOp) {
        self.ready.persists.push(op);
    }

    pub fn observe(&mut self, observation: Observation) {
        tracing::trace!(?observation);
        self.effect(Effect::Observe(observation));
    }

    /// Asks for `timer` to fire at `at`, replacing its earlier deadline.
    pub fn set_timer(&mut self, timer: Timer, at: Instant) {
        self.ready.timers.set(timer, at);
    }

    /// Queues everything `other` holds after what this one holds, keeping its waits.
    pub fn append(&mut self, other: Outbox) {
        self.ready.extend(other.ready);
    }

    /// Hands the collected outputs to the driver and starts empty again.
    pub fn take(&mut self) -> Ready {
        std::mem::take(&mut self.ready)
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageKey;

    fn put() -> StorageOp {
        StorageOp::Put { key: StorageKey::NodeMeta, value: Bytes::from_static(b"x") }
    }

    fn note(shard: u32) -> Observation {
        use crate::ids::{Epoch, NodeId, ShardId};
        Observation::ShardAllocated { shard: ShardId(shard), owner: NodeId(1), epoch: Epoch(1) }
    }

    #[test]
    fn what_follows_a_durable_persist_waits_for_the_sync_and_what_precedes_it_does_not() {
        let mut out = Outbox::new();
        out.observe(note(1));
        out.persist_lazily(put());
        out.observe(note(2));
        out.persist(put());
        out.observe(note(3));
        let ready = out.take();
        assert_eq!(ready.persists.len(), 2);
        assert!(ready.must_sync);
        assert_eq!(ready.immediate, vec![Effect::Observe(note(1)), Effect::Observe(note(2))]);
        assert_eq!(ready.after_sync, vec![Effect::Observe(note(3))]);
        assert!(out.is_empty(), "take leaves the outbox empty");
    }

    #[test]
    fn appending_keeps_the_waits_of_both() {
        let mut first = Outbox::new();
        first.persist(put());
        let mut second = Outbox::new();
        second.observe(note(1));
        second.set_timer(Timer::Retry, Instant(5));
        first.append(second);
        let ready = first.take();
        assert_eq!(ready.after_sync, vec![Effect::Observe(note(1))], "it came after a durable persist");
        assert_eq!(ready.timers.get(Timer::Retry), Some(Instant(5)));
    }
}
