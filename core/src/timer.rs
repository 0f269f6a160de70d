//! Named timers (quinn-proto's `TimerTable`): every deadline an actor can ask for has a
//! name, so a driver fires *that* deadline — and a model checker can choose which one
//! fires first — instead of a generic tick that leaves the reader to guess.

use crate::ids::Instant;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Every deadline an actor may hold, at most one of each name. When several are due at
/// once, a driver fires them in this order (the coordinator's watchdog before its
/// placement, so a member found down is known before shards are placed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timer {
    /// Coordinator: suspect silent members, abort migrations past their deadlines, resend
    /// to quiet ones.
    Watchdog,
    /// Coordinator: allocate unassigned shards, finish decommissions, and rebalance when
    /// the gates allow.
    Placement,
    /// Data node: report to the coordinator when the heartbeat interval has passed.
    Heartbeat,
    /// Data node: drive source streams (retransmits, hand-off) and ask for the fates of
    /// fenced shards.
    Streams,
    /// Client: retry writes whose answer is overdue.
    Retry,
}

impl Timer {
    pub const ALL: [Timer; 5] = [Timer::Watchdog, Timer::Placement, Timer::Heartbeat, Timer::Streams, Timer::Retry];

    pub fn name(self) -> &'static str {
        match self {
            Timer::Watchdog => "watchdog",
            Timer::Placement => "placement",
            Timer::Heartbeat => "heartbeat",
            Timer::Streams => "streams",
            Timer::Retry => "retry",
        }
    }
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One deadline per timer name; a driver's copy of what an actor asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::ALL.len()],
}

impl TimerTable {
    pub fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.deadlines.iter().all(Option::is_none)
    }

    /// The earliest deadline and its timer (ties go to the first in [`Timer`]'s order).
    pub fn next(&self) -> Option<(Instant, Timer)> {
        // A plain scan (drivers ask after every event): strictly earlier wins, so a tie
        // keeps the timer first in order.
        let mut earliest: Option<(Instant, Timer)> = None;
        for (slot, timer) in self.deadlines.iter().zip(Timer::ALL) {
            if let Some(at) = *slot {
                if earliest.is_none_or(|(first, _)| at < first) {
                    earliest = Some((at, timer));
                }
            }
        }
        earliest
    }

    /// Every deadline set, as (deadline, timer).
    pub fn iter(&self) -> impl Iterator<Item = (Instant, Timer)> + '_ {
        Timer::ALL.into_iter().filter_map(|timer| self.get(timer).map(|at| (at, timer)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_fires_first_and_ties_go_by_name_order() {
        let mut table = TimerTable::default();
        assert_eq!(table.next(), None);
        table.set(Timer::Placement, Instant(10));
        table.set(Timer::Watchdog, Instant(10));
        table.set(Timer::Retry, Instant(30));
        assert_eq!(table.next(), Some((Instant(10), Timer::Watchdog)));
        table.stop(Timer::Watchdog);
        assert_eq!(table.next(), Some((Instant(10), Timer::Placement)));
        table.set(Timer::Placement, Instant(40));
        assert_eq!(table.next(), Some((Instant(30), Timer::Retry)), "a set replaces the earlier deadline");
    }
}
