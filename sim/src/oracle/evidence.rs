//! The recent history kept to explain a violation: per shard, a ring of protocol events
//! and a smaller one of write acks (which are many and rarely the cause), and a ring for
//! events that name no shard.

use shardsim_core::{ActorId, Instant, Observation, ShardId};
use std::collections::{BTreeMap, VecDeque};

const EVENTS_PER_SHARD_MAX: usize = 24;
const ACKS_PER_SHARD_MAX: usize = 4;
const EVIDENCE_LINES_MAX: usize = 32;
/// Nemesis actions kept: the faults injected and healed lately.
const NEMESIS_ACTIONS_MAX: usize = 8;

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
    /// (order of arrival, time, what the nemesis did): the faults around a violation.
    nemesis: VecDeque<(u64, Instant, String)>,
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
        | ShardRecreated { shard, .. }
        | RefusedShardDropped { shard, .. }
        | ShardAllocated { shard, .. }
        | MigrationStarted { shard, .. }
        | MigrationPhase { shard, .. }
        | MigrationAborted { shard, .. }
        | RoutingCommitted { shard, .. }
        | ClientAcked { shard, .. }
        | ClientGaveUp { shard, .. }
        | EntityStarted { shard, .. }
        | EntityStopped { shard, .. }
        | FateAnswered { shard, .. }
        | LogTailTruncated { shard, .. }
        | ShardRefused { shard, .. } => Some(*shard),
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
        // Client-side acks repeat what the node's ack said: counted, not kept.
        if let Observation::ClientAcked { .. } = observation {
            return;
        }
        let event = (self.recorded, at, actor, observation.clone());
        match (shard_of(observation), observation) {
            (Some(shard), Observation::WriteAcked { .. }) => {
                push_bounded(&mut self.by_shard.entry(shard).or_default().acks, event, ACKS_PER_SHARD_MAX)
            }
            (Some(shard), _) => {
                push_bounded(&mut self.by_shard.entry(shard).or_default().events, event, EVENTS_PER_SHARD_MAX)
            }
            (None, Observation::RebalanceSkipped { .. })
                if self.general.back().is_some_and(|(sequence, _, _, last)| {
                    last == observation && self.nemesis.back().is_none_or(|(acted, ..)| acted < sequence)
                }) =>
            {
                // The same skip every tick would crowd out the events that matter: keep
                // only the latest of a run of them (a run a nemesis action breaks).
                self.general.pop_back();
                self.general.push_back(event);
            }
            (None, _) => push_bounded(&mut self.general, event, EVENTS_PER_SHARD_MAX),
        }
    }

    /// A nemesis action (a fault injected or healed, an actor killed or restarted).
    pub fn nemesis(&mut self, at: Instant, action: &str) {
        self.recorded += 1;
        if self.nemesis.len() == NEMESIS_ACTIONS_MAX {
            self.nemesis.pop_front();
        }
        self.nemesis.push_back((self.recorded, at, action.to_string()));
    }

    /// The shard's recent events merged with the general ones and the nemesis's actions,
    /// oldest first.
    pub fn lines(&self, shard: Option<ShardId>) -> Vec<String> {
        let mut events: Vec<&Event> = self.general.iter().collect();
        if let Some(rings) = shard.and_then(|shard| self.by_shard.get(&shard)) {
            events.extend(rings.events.iter().chain(rings.acks.iter()));
        }
        let mut lines: Vec<(u64, String)> = events
            .into_iter()
            .map(|(sequence, at, actor, observation)| {
                (*sequence, format!("{:>7} ms  {actor}: {observation}", at.as_ms()))
            })
            .collect();
        lines.extend(
            self.nemesis
                .iter()
                .map(|(sequence, at, action)| (*sequence, format!("{:>7} ms  nemesis: {action}", at.as_ms()))),
        );
        lines.sort_by_key(|(sequence, _)| *sequence);
        let skip = lines.len().saturating_sub(EVIDENCE_LINES_MAX);
        lines.into_iter().skip(skip).map(|(_, line)| line).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Evidence;
    use shardsim_core::{ActorId, Instant, Observation};

    #[test]
    fn nemesis_actions_join_the_evidence_and_repeated_skips_collapse() {
        let mut evidence = Evidence::new();
        let skipped = Observation::RebalanceSkipped { reason: "membership unstable".into() };
        evidence.record(Instant(10), ActorId::Coordinator, &skipped);
        evidence.record(Instant(20), ActorId::Coordinator, &skipped);
        evidence.nemesis(Instant(25), "inject Isolate { node: NodeId(2), heal_after_ms: 100 }");
        evidence.record(Instant(30), ActorId::Coordinator, &skipped);
        evidence.record(Instant(40), ActorId::Coordinator, &skipped);
        assert_eq!(
            evidence.lines(None),
            [
                "     20 ms  coordinator: rebalance skipped: membership unstable",
                "     25 ms  nemesis: inject Isolate { node: NodeId(2), heal_after_ms: 100 }",
                "     40 ms  coordinator: rebalance skipped: membership unstable",
            ]
        );
    }
}
