//! One actor on one madsim node: decides when its events happen — a datagram arrives, its
//! timer is due, its client writes — and hands each to the world, which does the rest.

use super::alarm::Alarm;
use super::carry::{carry, socket_address, MadsimEntropy};
use super::shared::SharedWorld;
use crate::world::{Event, MessageId};
use madsim::export::futures::future::{select, Either};
use madsim::net::Endpoint;
use shardsim_core::{ActorId, Instant};

/// An actor with no deadline still looks around this often.
const IDLE_WAKE_MS: u64 = 1_000;

/// What the actor does next, decided under one lock.
enum Next {
    Apply(Event),
    Wait(Instant),
    Stop,
}

/// The actor's next event at the world's `now`: its earliest due deadline, then its
/// client's write; else when to look again. A world with a verdict takes no more events.
fn next(world: &SharedWorld, actor: ActorId, next_write_at: &mut Option<Instant>) -> Next {
    let mut shared = world.lock();
    if shared.world.violation().is_some() {
        return Next::Stop;
    }
    let now = shared.now();
    let timer = shared.world.next_timer(actor);
    if let Some((_, timer)) = timer.filter(|(at, _)| *at <= now) {
        return Next::Apply(Event::FireTimer { actor, timer });
    }
    if let (ActorId::Client(client), Some(at)) = (actor, *next_write_at) {
        if at <= now && shared.world.client_is_full(client) {
            // The application waits for its client, as one blocked on a full queue does.
            *next_write_at = Some(now.plus_ms(shared.world.next_write_interval_ms(&mut MadsimEntropy)));
        } else if at <= now {
            let (write, interval_ms) = shared.world.draw_client_write(client, &mut MadsimEntropy);
            *next_write_at = Some(now.plus_ms(interval_ms));
            return Next::Apply(write);
        }
    }
    let wake = timer.map_or(now.plus_ms(IDLE_WAKE_MS), |(at, _)| at);
    Next::Wait(next_write_at.map_or(wake, |at| wake.min(at)))
}

/// Runs until the node is killed (the task is dropped) or the run has a verdict.
pub async fn run_actor(world: SharedWorld, actor: ActorId) {
    let address = world.lock().world.actors().address(actor);
    let Ok(endpoint) = Endpoint::bind(socket_address(address)).await else {
        tracing::error!(%actor, %address, "cannot bind");
        return;
    };
    let applied = world.lock().apply(Event::Boot { actor });
    carry(&world, &endpoint, applied).await;
    let mut next_write_at = matches!(actor, ActorId::Client(_)).then_some(Instant::ZERO);
    // One receive stays pending across wake-ups: a datagram that arrives while the actor
    // is busy waits in the endpoint's mailbox (which may hand datagrams out of arrival
    // order: the network reorders anyway).
    let receiver = endpoint.clone();
    let mut incoming = Box::pin(receiver.recv_from_raw(0));
    let mut alarm = Alarm::new();
    loop {
        // Every event due now happens, deadlines earliest first, before the actor waits.
        let wake = match next(&world, actor, &mut next_write_at) {
            Next::Apply(event) => {
                let applied = world.lock().apply(event);
                carry(&world, &endpoint, applied).await;
                continue;
            }
            Next::Wait(wake) => wake,
            Next::Stop => return,
        };
        alarm.set(world.lock().madsim_instant(wake));
        match select(incoming.as_mut(), alarm.ring()).await {
            Either::Left((Ok((payload, _from)), _)) => {
                incoming = Box::pin(receiver.recv_from_raw(0));
                let Ok(message) = payload.downcast::<MessageId>() else { continue };
                let applied = world.lock().apply(Event::Deliver { message: *message });
                carry(&world, &endpoint, applied).await;
            }
            Either::Left((Err(_), _)) => return,
            Either::Right(((), _)) => {}
        }
    }
}
