//! Outputs: what an actor asks its driver to do. The core performs none of them.

use crate::ids::{Address, Incarnation, Instant, PeerIdentity};
use crate::observation::Observation;
use crate::storage::StorageOp;
use crate::wire::{encode, Envelope, Message, PROTOCOL_VERSION};
use bytes::Bytes;

#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send one datagram.
    Send { to: Address, bytes: Bytes },
    /// Persist one operation. When `durable`, the driver must have it on disk before it
    /// carries out any later output of the same actor (persist-before-send).
    Persist { op: StorageOp, durable: bool },
    /// Call [`Input::Tick`](crate::Input::Tick) at `at`; replaces any earlier request.
    SetTimer { at: Instant },
    /// For the oracle and the trace.
    Observe(Observation),
}

/// The batch of outputs an actor produced for one input, in the order the driver must
/// carry them out.
#[derive(Debug, Default)]
pub struct Outbox {
    outputs: Vec<Output>,
}

impl Outbox {
    pub fn new() -> Outbox {
        Outbox::default()
    }

    pub fn push(&mut self, output: Output) {
        self.outputs.push(output);
    }

    /// Encodes `body` in an envelope from `from` and queues it for `to`.
    pub fn send(&mut self, from: PeerIdentity, to: Address, to_incarnation: Option<Incarnation>, body: Message) {
        let envelope = Envelope { version: PROTOCOL_VERSION, from, to_incarnation, body };
        self.outputs.push(Output::Send { to, bytes: encode(&envelope) });
    }

    pub fn persist(&mut self, op: StorageOp) {
        self.outputs.push(Output::Persist { op, durable: true });
    }

    /// A persist the driver may lose in a crash unless a later durable one follows.
    pub fn persist_lazily(&mut self, op: StorageOp) {
        self.outputs.push(Output::Persist { op, durable: false });
    }

    pub fn observe(&mut self, observation: Observation) {
        tracing::trace!(?observation);
        self.outputs.push(Output::Observe(observation));
    }

    pub fn set_timer(&mut self, at: Instant) {
        self.outputs.push(Output::SetTimer { at });
    }

    pub fn outputs(&self) -> &[Output] {
        &self.outputs
    }

    pub fn drain(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}
