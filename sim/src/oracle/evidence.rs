//! The recent history kept to explain a violation: per shard, a ring of protocol events
//! and a smaller one of write acks (which are many and rarely the cause), and a ring for
//! events that name no shard.

use shardsim_core::{ActorId, Instant, Observation, ShardId};
use std::collections::{BTreeMap, VecDeque};

const EVENTS_PER_SHARD_MAX: usize = 24;
const ACKS_PER_SHARD_MAX: usize = 4;
const EVIDENCE_LINES_MAX: usize = 32;

/// (order of arrival, time, actor, what it reported)
type Event = (u64, Instant, ActorId, Observation);

#[derive(Clone, Default)]
struct Rings {
    events: VecDeque<Event>,
    acks: VecDeque<Event>,
}

fn push_bounded(ring: &mut VecDeque<Event>, event: Event, bound: usize) {
    if ring.len() == bound {
        ring.pop_front();
    }
    ring.push_back(event);
}

#[derive(Clone, Default)]
pub struct Evidence {
    by_shard: BTreeMap<ShardId, Rings>,
    general: VecDeque<Event>,
    recorded: u64,
}

/// The shard an observation is about, if any.
pub fn shard_of(observation: &Observation) -> Option<ShardId> {
    use Observation::*;
    match observation {
        WriteAcked { shard, .. }
        | ShardAssigned { shard, .. }
        | ShardFenced { shard, .. }
        | HandoffProgress { shard, .. }
        | ShardSealed { shard, .. }
        | ShardUnfenced { shard, .. }
        | OwnershipTaken { shard, .. }
        | ShardForwarded { shard, .. }
        | IncomingDiscarded { shard, .. }
        | TargetVerified { shard, .. }
        | RetainedLogDropped { shard, .. }
        | ShardRehomed { shard, .. }
        | ShardAllocated { shard, .. }
        | MigrationStarted { shard, .. }
        | MigrationPhase { shard, .. }
        | MigrationAborted { shard, .. }
        | RoutingCommitted { shard, .. }
        | ClientAcked { shard, .. }
        | ClientGaveUp { shard, .. }
        | EntityStarted { shard, .. }
        | EntityStopped { shard, .. }
        | FateAnswered { shard, .. } => Some(*shard),
        NodeBooted { .. }
        | CoordinatorBooted { .. }
        | MemberChanged { .. }
        | RebalanceSkipped { .. }
        | PlanDispatched { .. }
        | InputRejected { .. } => None,
    }
}

impl Evidence {
    pub fn new() -> Evidence {
        Evidence::default()
    }

    pub fn record(&mut self, at: Instant, actor: ActorId, observation: &Observation) {
        self.recorded += 1;
        let event = (self.recorded, at, actor, observation.clone());
        match (shard_of(observation), observation) {
            // Client-side acks repeat what the node's ack said.
            (_, Observation::ClientAcked { .. }) => {}
            (Some(shard), Observation::WriteAcked { .. }) => {
                push_bounded(&mut self.by_shard.entry(shard).or_default().acks, event, ACKS_PER_SHARD_MAX)
            }
            (Some(shard), _) => {
                push_bounded(&mut self.by_shard.entry(shard).or_default().events, event, EVENTS_PER_SHARD_MAX)
            }
            (None, _) => push_bounded(&mut self.general, event, EVENTS_PER_SHARD_MAX),
        }
    }

    /// The shard's recent events merged with the general ones, oldest first.
    pub fn lines(&self, shard: Option<ShardId>) -> Vec<String> {
        let mut events: Vec<&Event> = self.general.iter().collect();
        if let Some(rings) = shard.and_then(|shard| self.by_shard.get(&shard)) {
            events.extend(rings.events.iter().chain(rings.acks.iter()));
        }
        events.sort_by_key(|(sequence, ..)| *sequence);
        let skip = events.len().saturating_sub(EVIDENCE_LINES_MAX);
        events
            .into_iter()
            .skip(skip)
            .map(|(_, at, actor, observation)| format!("{:>7} ms  {actor}: {observation}", at.as_ms()))
            .collect()
    }
}
