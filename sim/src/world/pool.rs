//! The messages in flight, by id. Ids are handed out in send order, so the pool is a
//! window of slots from the oldest message still in flight: insert, find and remove are
//! O(1), and iteration is in send order (what the lab's choices index).

use super::{InFlight, MessageId};
use std::collections::VecDeque;

#[derive(Clone, Debug, Default)]
pub struct Pool {
    /// The id of `slots[0]`.
    first: u64,
    slots: VecDeque<Option<InFlight>>,
    len: usize,
}

impl Pool {
    /// The id the next message will get.
    pub fn next_id(&self) -> MessageId {
        MessageId(self.first + self.slots.len() as u64)
    }

    pub fn insert(&mut self, message: InFlight) -> MessageId {
        let id = self.next_id();
        self.slots.push_back(Some(message));
        self.len += 1;
        id
    }

    fn slot(&self, id: MessageId) -> Option<usize> {
        id.0.checked_sub(self.first).map(|offset| offset as usize).filter(|offset| *offset < self.slots.len())
    }

    pub fn get(&self, id: MessageId) -> Option<&InFlight> {
        self.slots.get(self.slot(id)?)?.as_ref()
    }

    pub fn remove(&mut self, id: MessageId) -> Option<InFlight> {
        let slot = self.slot(id)?;
        let message = self.slots[slot].take()?;
        self.len -= 1;
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.first += 1;
        }
        Some(message)
    }

    /// The oldest message in flight.
    pub fn oldest(&self) -> Option<MessageId> {
        self.iter().next().map(|(id, _)| id)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The messages in flight, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (MessageId, &InFlight)> {
        let first = self.first;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(offset, slot)| slot.as_ref().map(|message| (MessageId(first + offset as u64), message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::{ActorId, Address};

    fn message(tag: u8) -> InFlight {
        let address = Address::new([10, 0, 0, tag], 7000);
        InFlight { from: ActorId::Coordinator, from_address: address, to: address, bytes: bytes::Bytes::new() }
    }

    #[test]
    fn ids_follow_send_order_and_survive_removals_out_of_order() {
        let mut pool = Pool::default();
        let ids: Vec<MessageId> = (0..4).map(|tag| pool.insert(message(tag))).collect();
        assert_eq!(ids, vec![MessageId(0), MessageId(1), MessageId(2), MessageId(3)]);
        assert_eq!(pool.remove(MessageId(1)).map(|m| m.to.ip[3]), Some(1));
        assert_eq!(pool.remove(MessageId(1)), None, "a message is delivered once");
        assert_eq!(pool.remove(MessageId(0)).map(|m| m.to.ip[3]), Some(0));
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.iter().map(|(id, _)| id).collect::<Vec<_>>(), vec![MessageId(2), MessageId(3)]);
        assert_eq!(pool.insert(message(9)), MessageId(4), "ids are never reused");
        assert!(pool.get(MessageId(0)).is_none() && pool.get(MessageId(7)).is_none());
    }
}
