//! An actor's receive side: one receive always pending, and a FIFO of datagrams that
//! arrived while the actor was busy.
//!
//! madsim's endpoint mailbox hands out queued datagrams out of order (`swap_remove`):
//! under a steady backlog an old one can wait forever (a migration's chunk acks behind a
//! stream of client writes, say). So the actor keeps receiving while it carries out an
//! event, into its own queue, and the mailbox never holds a backlog.

use super::carry::carry;
use super::shared::SharedWorld;
use crate::world::{Applied, Event, MessageId};
use madsim::export::futures::future::{select, Either};
use madsim::export::futures::stream::{self, Stream, StreamExt};
use madsim::net::Endpoint;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;

/// Every receive on the endpoint, one after another: boxed once for the actor's life (a
/// box per datagram otherwise); the receive under way lives inside it.
type Receives = Pin<Box<dyn Stream<Item = io::Result<Option<MessageId>>> + Send>>;

pub struct Inbox {
    receives: Receives,
    backlog: Backlog,
}

/// The datagrams that arrived while the actor was busy, oldest first.
#[derive(Debug, Default)]
pub struct Backlog(VecDeque<MessageId>);

impl Backlog {
    pub fn push(&mut self, message: MessageId) {
        self.0.push_back(message);
    }

    /// The event the actor takes next: `due` (a deadline or a write due now) if any, else
    /// the oldest datagram waiting. A datagram waits while something else is due; it is
    /// never dropped (only a fault loses a message).
    pub fn next_event(&mut self, due: Option<Event>) -> Option<Event> {
        due.or_else(|| self.0.pop_front().map(|message| Event::Deliver { message }))
    }
}

impl Inbox {
    pub fn new(endpoint: &Endpoint) -> Inbox {
        Inbox { receives: receives(endpoint.clone()), backlog: Backlog::default() }
    }

    /// See [`Backlog::next_event`].
    pub fn next_event(&mut self, due: Option<Event>) -> Option<Event> {
        self.backlog.next_event(due)
    }

    /// The next datagram; `None` once the endpoint is closed. Dropping this future
    /// loses nothing: the receive stays pending.
    pub async fn arrival(&mut self) -> Option<MessageId> {
        loop {
            match self.receives.next().await? {
                Ok(Some(message)) => return Some(message),
                Ok(None) => continue, // not a message id: nobody of ours sent it
                Err(_) => return None,
            }
        }
    }

    /// Carries out `applied` (see [`carry`]) while queueing whatever arrives meanwhile.
    pub async fn carry(&mut self, world: &SharedWorld, endpoint: &Endpoint, applied: Applied) {
        let mut carrying = std::pin::pin!(carry(world, endpoint, applied));
        loop {
            let arrived = match select(carrying.as_mut(), std::pin::pin!(self.arrival())).await {
                Either::Left(((), _)) => return,
                Either::Right((arrived, _)) => arrived,
            };
            match arrived {
                Some(message) => self.backlog.push(message),
                None => return carrying.await,
            }
        }
    }
}

fn receives(endpoint: Endpoint) -> Receives {
    Box::pin(stream::unfold(endpoint, |endpoint| async move {
        let received = endpoint.recv_from_raw(0).await;
        let message = received.map(|(payload, _from)| payload.downcast::<MessageId>().ok().map(|message| *message));
        Some((message, endpoint))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::{ActorId, Timer};

    /// A deadline due while datagrams wait goes first; the datagrams stay queued, oldest
    /// first, for the next turns.
    #[test]
    fn a_due_event_goes_first_and_the_waiting_datagrams_stay() {
        let mut backlog = Backlog::default();
        backlog.push(MessageId(1));
        backlog.push(MessageId(2));
        let due = Event::FireTimer { actor: ActorId::Coordinator, timer: Timer::Watchdog };
        assert_eq!(backlog.next_event(Some(due.clone())), Some(due));
        assert_eq!(backlog.next_event(None), Some(Event::Deliver { message: MessageId(1) }));
        assert_eq!(backlog.next_event(None), Some(Event::Deliver { message: MessageId(2) }));
        assert_eq!(backlog.next_event(None), None);
    }
}
