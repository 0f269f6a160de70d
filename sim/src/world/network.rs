//! Messages in flight and the links between actors: a send enters the pool unless its
//! link is cut; a delivery reaches whoever listens at the address now, unless the link is
//! cut by then.

use super::{Applied, MessageId, World};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use shardsim_core::{ActorId, Address, Input};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub from: ActorId,
    pub from_address: Address,
    pub to: Address,
    pub bytes: Bytes,
}

/// The network faults in force that a scheduler carries out in its own way (madsim's
/// loss and latency, the harness's duplicates); the lab chooses drops and copies itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkKnobs {
    pub loss_permille: u32,
    pub delay_max_ms: u64,
    pub duplicate_permille: u32,
}

impl World {
    fn cut(&self, from: ActorId, to: Address) -> bool {
        !self.blocked.is_empty()
            && self.actors.actor_at(to).is_some_and(|destination| self.blocked.contains(&(from, destination)))
    }

    pub(super) fn send(&mut self, from: ActorId, to: Address, bytes: Bytes, applied: &mut Applied) {
        self.stats.messages_sent += 1;
        if self.cut(from, to) {
            return;
        }
        let message = InFlight { from, from_address: self.actors.address(from), to, bytes };
        if let Some(id) = self.enqueue(message) {
            applied.sent.push(id);
        }
    }

    fn enqueue(&mut self, message: InFlight) -> Option<MessageId> {
        if self.in_flight_max.is_some_and(|max| self.in_flight.len() >= max) {
            self.stats.messages_lost_to_bounds += 1;
            return None;
        }
        Some(self.in_flight.insert(message))
    }

    pub(super) fn deliver(&mut self, id: MessageId, applied: &mut Applied) {
        let Some(message) = self.in_flight.remove(id) else { return };
        if self.cut(message.from, message.to) {
            return;
        }
        let Some(actor) = self.actors.actor_at(message.to) else { return };
        self.stats.messages_delivered += 1;
        self.step(actor, Input::Datagram { from: message.from_address, bytes: &message.bytes }, applied);
    }

    pub(super) fn drop_message(&mut self, id: MessageId) {
        self.in_flight.remove(id);
    }

    pub(super) fn duplicate(&mut self, id: MessageId, applied: &mut Applied) {
        let Some(message) = self.in_flight.get(id).cloned() else { return };
        self.stats.messages_sent += 1;
        if let Some(copy) = self.enqueue(message) {
            applied.sent.push(copy);
        }
    }

    /// The destination of a message in flight, for a scheduler that carries it.
    pub fn destination(&self, id: MessageId) -> Option<Address> {
        self.in_flight.get(id).map(|message| message.to)
    }

    /// Loss, delay and duplication in force (the worst of each).
    pub fn network(&self) -> NetworkKnobs {
        let mut knobs = NetworkKnobs::default();
        for active in self.active.values() {
            knobs.loss_permille = knobs.loss_permille.max(active.loss_permille());
            knobs.delay_max_ms = knobs.delay_max_ms.max(active.delay_max_ms());
            knobs.duplicate_permille = knobs.duplicate_permille.max(active.duplicate_permille());
        }
        knobs
    }
}
