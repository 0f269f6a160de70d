//! The last stage: shrinking the recorded event schedule through the lab's replay. A
//! fault plan is a seed's input, so taking one fault out reshuffles every random draw
//! after it; a schedule is every draw already made, so taking events out of it leaves
//! the others as they were.
//!
//! A shorter schedule is still a legal run of the world: a message that was never sent is
//! not delivered, a fault that was never injected is not healed, and a timer fires only
//! if it is set, at its deadline at the earliest (late, as a paused process's timer
//! would). Messages and faults keep their identity by where they came from (the event
//! that sent or injected them), not by their number, which shifts as events go.

use super::Ending;
use crate::oracle::Violation;
use crate::world::{Event, FaultId, MessageId, Scheduled, World, WorldConfig};
use shardsim_core::Instant;
use std::collections::BTreeMap;

/// Where a message came from: the index of the event that sent it, and its place among
/// that event's sends.
type MessageOrigin = (usize, usize);

/// One replay of a subset of the recorded events.
#[derive(Clone, Debug)]
pub struct Replayed {
    pub violation: Option<Violation>,
    pub trace_hash: u64,
    /// The events as applied, with the message and fault numbers of this replay: a
    /// schedule that `explore --replay` replays as it is.
    pub applied: Option<Vec<Scheduled>>,
}

/// Replays subsets of one recorded schedule.
pub struct ScheduleReplayer<'a> {
    config: WorldConfig,
    events: &'a [Scheduled],
    messages: BTreeMap<MessageId, MessageOrigin>,
    faults: BTreeMap<FaultId, usize>,
}

impl<'a> ScheduleReplayer<'a> {
    /// Replays every event once to learn where each message and fault came from.
    pub fn new(config: WorldConfig, events: &'a [Scheduled]) -> ScheduleReplayer<'a> {
        let mut world = World::new(WorldConfig { record: false, keep_trace: false, ..config.clone() });
        let (mut messages, mut faults) = (BTreeMap::new(), BTreeMap::new());
        for (index, scheduled) in events.iter().enumerate() {
            let applied = world.apply(Instant(scheduled.at_ms), scheduled.event.clone());
            for (position, id) in applied.sent.into_iter().enumerate() {
                messages.insert(id, (index, position));
            }
            if let Some(fault) = applied.fault {
                faults.insert(fault, index);
            }
        }
        ScheduleReplayer { config, events, messages, faults }
    }

    /// Applies the events at `kept` (indexes in increasing order) to a fresh world,
    /// skipping what no longer applies; stops at the first broken invariant.
    pub fn replay(&self, kept: &[usize], record: bool) -> Replayed {
        let mut world = World::new(WorldConfig { record, keep_trace: false, ..self.config.clone() });
        let mut live = LiveNames::default();
        for &index in kept {
            if world.violation().is_some() {
                break;
            }
            let Some((at, event)) = self.translate(&world, &live, index) else { continue };
            let applied = world.apply(at, event);
            for (position, id) in applied.sent.into_iter().enumerate() {
                live.messages.insert((index, position), id);
            }
            if let Some(fault) = applied.fault {
                live.faults.insert(index, fault);
            }
        }
        Replayed { trace_hash: world.trace_hash(), applied: world.take_recorded(), violation: world.take_violation() }
    }

    /// The event at `index` as this replay must apply it, or `None` if it does not apply.
    fn translate(&self, world: &World, live: &LiveNames, index: usize) -> Option<(Instant, Event)> {
        let scheduled = &self.events[index];
        let at = Instant(scheduled.at_ms);
        let message = |recorded: &MessageId| -> Option<MessageId> {
            let id = *live.messages.get(self.messages.get(recorded)?)?;
            world.in_flight().get(id).map(|_| id)
        };
        let event = match &scheduled.event {
            Event::Deliver { message: recorded } => Event::Deliver { message: message(recorded)? },
            Event::Drop { message: recorded } => Event::Drop { message: message(recorded)? },
            Event::Duplicate { message: recorded } => Event::Duplicate { message: message(recorded)? },
            Event::Heal { fault } => Event::Heal { fault: *live.faults.get(self.faults.get(fault)?)? },
            Event::FireTimer { actor, timer } => {
                let deadline = world.timer_deadline(*actor, *timer)?;
                return Some((at.max(deadline), scheduled.event.clone()));
            }
            other => other.clone(),
        };
        Some((at, event))
    }

    /// What may be taken out together: each event alone, except that a fault goes with
    /// the heals of it, and the liveness phase's start stays.
    pub fn removal_units(&self) -> Vec<Vec<usize>> {
        let mut heals: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (index, scheduled) in self.events.iter().enumerate() {
            if let Event::Heal { fault } = &scheduled.event {
                if let Some(inject) = self.faults.get(fault) {
                    heals.entry(*inject).or_default().push(index);
                }
            }
        }
        let mut units = Vec::new();
        for (index, scheduled) in self.events.iter().enumerate() {
            match &scheduled.event {
                Event::StartLiveness => {}
                Event::Heal { fault } if self.faults.contains_key(fault) => {}
                _ => units.push(std::iter::once(index).chain(heals.remove(&index).unwrap_or_default()).collect()),
            }
        }
        units
    }

    /// Indexes never offered for removal (the liveness phase's start).
    fn always_kept(&self) -> Vec<usize> {
        let starts =
            |(index, scheduled): (usize, &Scheduled)| matches!(scheduled.event, Event::StartLiveness).then_some(index);
        self.events.iter().enumerate().filter_map(starts).collect()
    }

    /// The sorted indexes of `units` and of what always stays.
    pub fn kept(&self, units: &[Vec<usize>]) -> Vec<usize> {
        let mut kept: Vec<usize> = units.iter().flatten().copied().chain(self.always_kept()).collect();
        kept.sort_unstable();
        kept
    }
}

/// This replay's numbers for the recorded run's messages and faults, by origin.
#[derive(Default)]
struct LiveNames {
    messages: BTreeMap<MessageOrigin, MessageId>,
    faults: BTreeMap<usize, FaultId>,
}

/// What the schedule stage found.
#[derive(Clone, Debug)]
pub struct ScheduleShrink {
    /// The smallest schedule that still fails, as applied (replays as it is).
    pub events: Vec<Scheduled>,
    pub violation: Violation,
    pub trace_hash: u64,
    pub runs: u64,
    pub ending: Ending,
}

/// Shrinks `events` (a recorded run that breaks `invariant`) while its replay still
/// breaks it and `budget` allows another replay. `None` if the replay does not break it.
pub fn shrink_schedule(
    config: WorldConfig,
    events: &[Scheduled],
    invariant: &str,
    budget: &mut dyn FnMut() -> bool,
    progress: &mut dyn FnMut(usize),
) -> Option<ScheduleShrink> {
    let replayer = ScheduleReplayer::new(config, events);
    let breaks = |replayed: &Replayed| replayed.violation.as_ref().is_some_and(|found| found.invariant == invariant);
    let all = replayer.removal_units();
    if !breaks(&replayer.replay(&replayer.kept(&all), false)) {
        return None;
    }
    let (mut runs, mut out_of_budget) = (0u64, false);
    let mut still_fails = |units: &[Vec<usize>]| {
        if out_of_budget || !budget() {
            out_of_budget = true;
            return false;
        }
        runs += 1;
        progress(units.iter().map(Vec::len).sum());
        breaks(&replayer.replay(&replayer.kept(units), false))
    };
    let units = remove_by_kind(&replayer, all, &mut still_fails);
    let units = remove_chunks(units, &mut still_fails);
    let last = replayer.replay(&replayer.kept(&units), true);
    Some(ScheduleShrink {
        events: last.applied.expect("a recording replay records"),
        violation: last.violation.expect("the kept units still fail"),
        trace_hash: last.trace_hash,
        runs,
        ending: if out_of_budget { Ending::OutOfBudget } else { Ending::Minimal },
    })
}

/// Cheap wins first: each fault with its heals, then every client write, every drop,
/// every duplication and every outside datagram at once.
fn remove_by_kind(
    replayer: &ScheduleReplayer<'_>,
    mut units: Vec<Vec<usize>>,
    still_fails: &mut dyn FnMut(&[Vec<usize>]) -> bool,
) -> Vec<Vec<usize>> {
    let kind = |units: &[Vec<usize>], position: usize| replayer.events[units[position][0]].event.kind();
    let mut position = units.len();
    while position > 0 {
        position -= 1;
        if kind(&units, position) == "inject" {
            let without: Vec<Vec<usize>> =
                units.iter().enumerate().filter(|(at, _)| *at != position).map(|(_, unit)| unit.clone()).collect();
            if still_fails(&without) {
                units = without;
            }
        }
    }
    for removed in ["client_write", "drop", "duplicate", "datagram"] {
        let without: Vec<Vec<usize>> =
            (0..units.len()).filter(|at| kind(&units, *at) != removed).map(|at| units[at].clone()).collect();
        if without.len() < units.len() && still_fails(&without) {
            units = without;
        }
    }
    units
}

/// Takes out runs of `size` items, from the end back, halving `size` down to one, then
/// single items again until none can go: the result fails and is 1-minimal (no single
/// item can be taken out) unless `fails` stopped saying so (a spent budget).
pub fn remove_chunks<T: Clone>(mut items: Vec<T>, fails: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut size = (items.len() / 2).max(1);
    loop {
        let mut removed_any = false;
        let mut end = items.len();
        while end > 0 {
            let start = end.saturating_sub(size);
            let without: Vec<T> = items[..start].iter().chain(&items[end..]).cloned().collect();
            if fails(&without) {
                items = without;
                removed_any = true;
            }
            end = start;
        }
        if size > 1 {
            size /= 2;
        } else if !removed_any {
            return items;
        }
    }
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
