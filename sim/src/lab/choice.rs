//! What the lab may do at each step. Every choice applies to any state: indexes are taken
//! modulo what exists, and a choice with nothing to act on does nothing.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// Deliver in-flight message i.
    Deliver(u16),
    /// Lose in-flight message i.
    Drop(u16),
    /// Deliver a copy of in-flight message i later too.
    Duplicate(u16),
    /// Fire the i-th due timer (in deadline order); when none is due, move time to the
    /// earliest deadline and fire that one.
    FireTimer(u16),
    /// Move time forward this many milliseconds.
    AdvanceTime(u16),
    /// Crash actor i of [coordinator, nodes...]: memory lost, unsynced writes lost.
    Crash(u16),
    /// Boot actor i of [coordinator, nodes...] if it is down (a spare node joins this way).
    Restart(u16),
    /// Node i comes back as a new identity: a new machine (new address, empty disk) if it
    /// holds no shard, else a restart at the same address.
    ChangeIdentity(u16),
    /// Cut both directions between actors i and j of [coordinator, nodes...].
    Partition(u16, u16),
    Heal,
    /// The client writes to shard i.
    ClientWrite(u16),
    /// The operator decommissions node i of those in service (unless it is the last).
    Decommission(u16),
    /// A new machine joins under the next node id, if fewer nodes than the lab's size are
    /// in service (decommissioned ones are not): decommissions and joins keep the
    /// cluster moving shards.
    Join,
    /// Actor i of [coordinator, nodes...] has its clock set forward or back (an NTP step):
    /// the index also picks the size, a quarter second to two seconds.
    ClockStep(u16),
    /// Let this many milliseconds pass calmly, as one choice: every message in flight is
    /// delivered in order and every timer fires when due (what `settle` does) until then.
    /// The model checker offers it so that a few choices reach deep into a protocol.
    Calm(u16),
    /// Node i's disk fails: the index also picks how (a torn write, a failed fsync, a bit
    /// flipped at rest, a read error at its next boot, a full disk until the next heal).
    DiskFault(u16),
}

/// Reads choices from fuzzer bytes: three bytes a choice, the first picks the kind (the
/// common ones have more values), the others the index.
pub struct ByteChooser<'a> {
    bytes: &'a [u8],
}

impl<'a> ByteChooser<'a> {
    pub fn new(bytes: &'a [u8]) -> ByteChooser<'a> {
        ByteChooser { bytes }
    }
}

impl Iterator for ByteChooser<'_> {
    type Item = Choice;

    fn next(&mut self) -> Option<Choice> {
        let (&kind, rest) = self.bytes.split_first()?;
        let (a, b) = (rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(0));
        self.bytes = rest.get(2..).unwrap_or(&[]);
        let index = u16::from_le_bytes([a, b]);
        Some(choice_of(kind, a, b, index))
    }
}

/// The kind table shared by the byte chooser and the random walk. Deliveries and timers
/// dominate so that protocols make progress; faults are rarer. Decommissions (one in
/// 2,000 choices) and joins (three times as many, so capacity comes back) keep shards
/// moving: without them a walk settles into a balanced cluster and explores nothing (one
/// migration in 25,000 steps before; about 45 in 100,000 with them).
pub fn choice_of(kind: u8, a: u8, b: u8, index: u16) -> Choice {
    match kind % 64 {
        0..=39 => Choice::Deliver(index),
        40..=49 => Choice::FireTimer(index),
        50..=53 => Choice::ClientWrite(index),
        54 => Choice::Drop(index),
        55 => Choice::Duplicate(index),
        56 if a < 64 => Choice::AdvanceTime(index % 500),
        56 if a >= 192 => Choice::ClockStep(index),
        57 if a < 64 => Choice::Crash(index),
        57 if a >= 192 => Choice::DiskFault(index),
        58 | 59 => Choice::Restart(index),
        60 if a < 64 => Choice::ChangeIdentity(index),
        61 if b < 64 => Choice::Partition(u16::from(a), u16::from(b)),
        62 => Choice::Heal,
        63 if a < 8 => Choice::Decommission(u16::from(b)),
        63 if a < 24 => Choice::Join,
        _ => Choice::Deliver(index),
    }
}
