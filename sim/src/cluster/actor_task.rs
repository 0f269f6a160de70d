//! One actor on one madsim node: decides when its events happen — a datagram arrives, its
//! timer is due, its client writes — and hands each to the world, which does the rest.

use super::alarm::Alarm;
use super::carry::{socket_address, MadsimEntropy};
use super::inbox::Inbox;
use super::shared::SharedWorld;
use crate::world::Event;
use madsim::export::futures::future::{select, Either};
use madsim::net::Endpoint;
use shardsim_core::{ActorId, Instant};

/// An actor with no deadline still looks around this often.
const IDLE_WAKE_MS: u64 = 1_000;

/// What the actor does next, decided under one lock.
enum Next {
    Apply(Event),
    /// Nothing is due: wake at this madsim elapsed time.
    Wait(std::time::Duration),
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
    Next::Wait(shared.madsim_elapsed(next_write_at.map_or(wake, |at| wake.min(at))))
}

/// Runs until the node is killed (the task is dropped) or the run has a verdict.
pub async fn run_actor(world: SharedWorld, actor: ActorId) {
    let address = world.lock().world.actors().address(actor);
    let Ok(endpoint) = Endpoint::bind(socket_address(address)).await else {
        tracing::error!(%actor, %address, "cannot bind");
        return;
    };
    let mut inbox = Inbox::new(&endpoint);
    let applied = world.lock().apply(Event::Boot { actor });
    inbox.carry(&world, &endpoint, applied).await;
    let mut next_write_at = matches!(actor, ActorId::Client(_)).then_some(Instant::ZERO);
    let mut alarm = Alarm::new();
    loop {
        // Every event due now happens, deadlines earliest first, then one datagram that
        // arrived meanwhile (oldest first), before the actor waits.
        let due = match next(&world, actor, &mut next_write_at) {
            Next::Apply(event) => Some(event),
            Next::Wait(wake) => {
                alarm.set(wake);
                None
            }
            Next::Stop => return,
        };
        let event = match inbox.next_event(due) {
            Some(event) => event,
            None => match select(std::pin::pin!(inbox.arrival()), alarm.ring()).await {
                Either::Left((Some(message), _)) => Event::Deliver { message },
                Either::Left((None, _)) => return,
                Either::Right(((), _)) => continue,
            },
        };
        let applied = world.lock().apply(event);
        if !applied.is_settled() {
            inbox.carry(&world, &endpoint, applied).await;
        }
    }
}
