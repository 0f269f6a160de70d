//! One actor on one madsim node: decides when its events happen — a datagram arrives, its
//! timer is due, its client writes — and hands each to the world, which does the rest.

use super::carry::{carry, socket_address, MadsimEntropy};
use super::shared::SharedWorld;
use crate::world::{Event, MessageId};
use madsim::export::futures::future::{select, Either};
use madsim::net::Endpoint;
use madsim::time::{sleep, Duration};
use shardsim_core::{ActorId, Instant, Timer};

/// Datagrams an actor's receive buffer holds; more are dropped, as a full socket does.
const RECEIVE_BUFFER_DATAGRAMS: usize = 4_096;
/// An actor with no deadline still looks around this often.
const IDLE_WAKE_MS: u64 = 1_000;

/// Moves datagrams from the endpoint into the actor's FIFO buffer as they arrive, so the
/// actor reads them in arrival order however far behind it runs (madsim's own mailbox is
/// not FIFO). Dies with the node.
async fn fill_receive_buffer(world: SharedWorld, endpoint: Endpoint, buffer: async_channel::Sender<MessageId>) {
    while let Ok((payload, _from)) = endpoint.recv_from_raw(0).await {
        let Ok(message) = payload.downcast::<MessageId>() else { continue };
        if buffer.try_send(*message).is_err() {
            world.lock().world.note_receive_buffer_drop();
        }
    }
}

/// The actor's earliest deadline if it is due at `now`; none once the run has a verdict,
/// because a world with a verdict takes no more events (the deadline would stay due).
fn due_timer(world: &SharedWorld, actor: ActorId, now: Instant) -> Option<Timer> {
    let shared = world.lock();
    if shared.world.violation().is_some() {
        return None;
    }
    shared.world.next_timer(actor).filter(|(at, _)| *at <= now).map(|(_, timer)| timer)
}

/// Runs until the node is killed (the task is dropped) or the run has a verdict.
pub async fn run_actor(world: SharedWorld, actor: ActorId) {
    let address = world.lock().world.actors().address(actor);
    let Ok(endpoint) = Endpoint::bind(socket_address(address)).await else {
        tracing::error!(%actor, %address, "cannot bind");
        return;
    };
    let (buffer, received) = async_channel::bounded(RECEIVE_BUFFER_DATAGRAMS);
    madsim::task::spawn(fill_receive_buffer(world.clone(), endpoint.clone(), buffer));
    let applied = world.lock().apply(Event::Boot { actor });
    carry(&world, &endpoint, applied).await;
    let client = match actor {
        ActorId::Client(client) => Some(client),
        _ => None,
    };
    let mut next_write_at = Instant::ZERO;
    loop {
        let now = {
            let shared = world.lock();
            if shared.world.violation().is_some() {
                return;
            }
            shared.now()
        };
        // Every deadline due now fires, earliest first, before the actor sleeps again (two
        // deadlines set for one instant must not drift a millisecond apart).
        while let Some(timer) = due_timer(&world, actor, now) {
            let applied = world.lock().apply(Event::FireTimer { actor, timer });
            carry(&world, &endpoint, applied).await;
        }
        if let Some(client) = client.filter(|_| next_write_at <= now) {
            let applied = {
                let mut shared = world.lock();
                let (write, interval_ms) = shared.world.draw_client_write(client, &mut MadsimEntropy);
                next_write_at = now.plus_ms(interval_ms);
                shared.apply(write)
            };
            carry(&world, &endpoint, applied).await;
        }
        let (now, timer) = {
            let shared = world.lock();
            (shared.now(), shared.world.next_timer(actor).map(|(at, _)| at))
        };
        let mut wake = timer.unwrap_or(now.plus_ms(IDLE_WAKE_MS));
        if client.is_some() {
            wake = wake.min(next_write_at);
        }
        let wait = Duration::from_millis(wake.ms_since(now).max(1));
        // Dropping a pending `recv` of the buffer loses nothing: the datagram stays queued.
        match select(std::pin::pin!(received.recv()), std::pin::pin!(sleep(wait))).await {
            Either::Left((Ok(message), _)) => {
                let applied = world.lock().apply(Event::Deliver { message });
                carry(&world, &endpoint, applied).await;
            }
            Either::Left((Err(_), _)) => return,
            Either::Right(((), _)) => {}
        }
    }
}
