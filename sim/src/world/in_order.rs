//! The plainest scheduler, for tests, benches and examples that want a cluster to just
//! run: every disk syncs at once, every stopped actor that may start boots at once, every
//! message is delivered in send order, every timer fires when due, and time moves on a
//! millisecond at a time when nothing else is left to do.

use super::{Event, World};
use crate::oracle::Violation;
use shardsim_core::Instant;

/// Applies `event` now, then everything it set going (syncs, boots) at once. The lab uses
/// this too: one choice, one settled step.
pub fn apply_settled(world: &mut World, event: Event) -> Result<(), Violation> {
    let now = world.now();
    let mut pending = vec![event];
    while let Some(event) = pending.pop() {
        let applied = world.apply(now, event);
        pending.extend(applied.started.iter().map(|actor| Event::Boot { actor: *actor }));
        pending.extend(applied.sync.map(|actor| Event::Sync { actor }));
    }
    match world.violation() {
        Some(violation) => Err(violation.clone()),
        None => Ok(()),
    }
}

/// Boots every actor the world has a slot for — coordinator, data nodes, clients — now.
pub fn boot_all(world: &mut World) -> Result<(), Violation> {
    for actor in world.actors().actor_ids() {
        apply_settled(world, Event::Boot { actor })?;
    }
    Ok(())
}

/// Runs `world` in order for `duration_ms`, calling `each_ms` once per simulated
/// millisecond (to write, inject faults, or look). Stops at the first broken invariant.
pub fn run_in_order(
    world: &mut World,
    duration_ms: u64,
    mut each_ms: impl FnMut(&mut World) -> Result<(), Violation>,
) -> Result<(), Violation> {
    let end = world.now().plus_ms(duration_ms);
    while world.now() < end {
        while let Some(message) = world.in_flight().oldest() {
            apply_settled(world, Event::Deliver { message })?;
        }
        let due: Vec<(Instant, shardsim_core::ActorId, shardsim_core::Timer)> =
            world.timer_order().into_iter().take_while(|(at, _, _)| *at <= world.now()).collect();
        for (_, actor, timer) in due {
            apply_settled(world, Event::FireTimer { actor, timer })?;
        }
        if world.in_flight().is_empty() {
            each_ms(world)?;
            world.advance_to(world.now().plus_ms(1));
        }
    }
    Ok(())
}
