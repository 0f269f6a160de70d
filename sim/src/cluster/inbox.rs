//! An actor's receive side: one receive always pending, and a FIFO of datagrams that
//! arrived while the actor was busy.
//!
//! madsim's endpoint mailbox hands out queued datagrams out of order (`swap_remove`):
//! under a steady backlog an old one can wait forever (a migration's chunk acks behind a
//! stream of client writes, say). So the actor keeps receiving while it carries out an
//! event, into its own queue, and the mailbox never holds a backlog.

use super::carry::carry;
use super::shared::SharedWorld;
use crate::world::{Applied, MessageId};
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
    queue: VecDeque<MessageId>,
}

impl Inbox {
    pub fn new(endpoint: &Endpoint) -> Inbox {
        Inbox { receives: receives(endpoint.clone()), queue: VecDeque::new() }
    }

    /// The oldest datagram that arrived while the actor was busy.
    pub fn take_queued(&mut self) -> Option<MessageId> {
        self.queue.pop_front()
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
                Some(message) => self.queue.push_back(message),
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
