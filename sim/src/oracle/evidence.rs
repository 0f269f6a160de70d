//! The recent history kept to explain a violation: a bounded ring per shard, and one for
//! events that name no shard.

use shardsim_core::{ActorId, Instant, Observation, ShardId};
use std::collections::{BTreeMap, VecDeque};

const EVENTS_PER_SHARD_MAX: usize = 24;

pub struct Evidence {
    by_shard: BTreeMap<ShardId, VecDeque<(Instant, ActorId, Observation)>>,
    general: VecDeque<(Instant, ActorId, Observation)>,
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
        | ShardAllocated { shard, .. }
        | MigrationStarted { shard, .. }
        | MigrationPhase { shard, .. }
        | MigrationAborted { shard, .. }
        | RoutingCommitted { shard, .. }
        | ClientAcked { shard, .. }
        | ClientGaveUp { shard, .. } => Some(*shard),
        NodeBooted { .. }
        | CoordinatorBooted { .. }
        | MemberChanged { .. }
        | RebalanceSkipped { .. }
        | InputRejected { .. } => None,
    }
}

impl Evidence {
    pub fn new() -> Evidence {
        Evidence { by_shard: BTreeMap::new(), general: VecDeque::new() }
    }

    pub fn record(&mut self, at: Instant, actor: ActorId, observation: &Observation) {
        // Client-side acks repeat what the node's ack said; keep the ring for causes.
        if matches!(observation, Observation::ClientAcked { .. }) {
            return;
        }
        let ring = match shard_of(observation) {
            Some(shard) => self.by_shard.entry(shard).or_default(),
            None => &mut self.general,
        };
        if ring.len() == EVENTS_PER_SHARD_MAX {
            ring.pop_front();
        }
        ring.push_back((at, actor, observation.clone()));
    }

    /// The shard's recent events merged with the general ones, oldest first.
    pub fn lines(&self, shard: Option<ShardId>) -> Vec<String> {
        let mut events: Vec<&(Instant, ActorId, Observation)> = self.general.iter().collect();
        if let Some(ring) = shard.and_then(|shard| self.by_shard.get(&shard)) {
            events.extend(ring.iter());
        }
        events.sort_by_key(|(at, _, _)| *at);
        let skip = events.len().saturating_sub(EVENTS_PER_SHARD_MAX);
        events
            .into_iter()
            .skip(skip)
            .map(|(at, actor, observation)| format!("{:>7} ms  {actor}: {observation:?}", at.as_ms()))
            .collect()
    }
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence::new()
    }
}
