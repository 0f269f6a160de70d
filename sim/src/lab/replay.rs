//! Replaying a saved schedule in the lab: the events a madsim run applied, in order, at
//! their times, through the same world. Same events, same world, same trace.

use crate::oracle::Violation;
use crate::report::Summary;
use crate::simulation::Simulation;
use crate::world::{Schedule, ScheduleError, Scheduled, World, WorldConfig};
use shardsim_core::Instant;

#[derive(Clone, Debug)]
pub struct ReplayOutcome {
    pub trace_hash: u64,
    pub violation: Option<Violation>,
    pub events_applied: usize,
    pub summary: Summary,
}

/// Applies `events` to a fresh world; stops at the first broken invariant.
pub fn replay_events(config: WorldConfig, events: &[Scheduled]) -> ReplayOutcome {
    let mut world = World::new(WorldConfig { record: false, keep_trace: false, ..config });
    let mut events_applied = 0;
    for scheduled in events {
        if world.violation().is_some() {
            break;
        }
        world.apply(Instant(scheduled.at_ms), scheduled.event.clone());
        events_applied += 1;
    }
    ReplayOutcome {
        trace_hash: world.trace_hash(),
        violation: world.take_violation(),
        events_applied,
        summary: world.summary(),
    }
}

/// Replays `schedule` in the world `simulation` would build, after checking that it is
/// the world the schedule was recorded in (scenario, canaries, every knob, format).
pub fn replay_schedule(simulation: &Simulation, schedule: &Schedule) -> Result<ReplayOutcome, ScheduleError> {
    schedule.check_matches(&simulation.schedule_header())?;
    Ok(replay_events(simulation.spec().world_config(), &schedule.events))
}
