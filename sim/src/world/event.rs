//! The one vocabulary every scheduler speaks: what can happen next in the world.

use crate::faults::Fault;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use shardsim_core::{ActorId, Address, ClientId, EntityKey, ShardId, Timer};
use std::fmt;

/// A message the world carries, numbered in the order it was sent (copies get their own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct MessageId(pub u64);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A fault in force, numbered in the order it was injected, until it heals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FaultId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A down actor starts from what its disk durably holds (a restart, a join, a boot).
    Boot { actor: ActorId },
    /// A message in flight reaches whoever listens at its address now.
    Deliver { message: MessageId },
    /// A message in flight is lost.
    Drop { message: MessageId },
    /// A message in flight gets a copy, in flight too.
    Duplicate { message: MessageId },
    /// An actor's disk finishes its fsync: what waited for it goes out.
    Sync { actor: ActorId },
    /// A deadline an actor asked for has come: the one with this name.
    FireTimer { actor: ActorId, timer: Timer },
    /// The workload asks a client to write.
    ClientWrite { client: ClientId, shard: ShardId, entity: EntityKey, payload: u64 },
    /// Bytes from outside the cluster (a fuzzer, a forged peer) reach an actor.
    Datagram { to: ActorId, from: Address, bytes: Bytes },
    /// A fault begins (every kind of the fault model).
    Inject { fault: Fault },
    /// A fault in force ends.
    Heal { fault: FaultId },
    /// Every fault in force ends.
    HealAll,
    /// The safety phase is over: every fault heals and the oracle starts judging liveness.
    StartLiveness,
}

impl Event {
    /// The event's kind, as a schedule file names it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Boot { .. } => "boot",
            Event::Deliver { .. } => "deliver",
            Event::Drop { .. } => "drop",
            Event::Duplicate { .. } => "duplicate",
            Event::Sync { .. } => "sync",
            Event::FireTimer { .. } => "fire_timer",
            Event::ClientWrite { .. } => "client_write",
            Event::Datagram { .. } => "datagram",
            Event::Inject { .. } => "inject",
            Event::Heal { .. } => "heal",
            Event::HealAll => "heal_all",
            Event::StartLiveness => "start_liveness",
        }
    }
}

/// An event with the simulated time it was applied at: one line of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scheduled {
    pub at_ms: u64,
    #[serde(flatten)]
    pub event: Event,
}
