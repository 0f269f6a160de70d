//! Live entities (Akka/atomr sharding): a small in-memory state machine per entity key,
//! alive only on the shard's owner, started on first use from the shard's log, fed by the
//! writes it acks, stopped by the cut-over's handoff, lost in a crash.

use super::DataNode;
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{EntityKey, LogIndex, ShardId};
use crate::log::ShardLog;
use crate::observation::Observation;
use serde::{Deserialize, Serialize};

/// What an entity has seen: every write of its key up to `last_index`, `applied` of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityState {
    pub applied: u64,
    pub last_index: LogIndex,
}

impl EntityState {
    /// An entity as the log says it is: every entry of its key up to `through` folded in,
    /// in order. O(log length); it runs once per entity per ownership or boot.
    pub fn from_log(entity: EntityKey, log: &ShardLog, through: LogIndex) -> EntityState {
        let mut state = EntityState::default();
        for (position, entry) in log.range(LogIndex(1), through).iter().enumerate() {
            if entry.entity == entity {
                state.apply(LogIndex(position as u64 + 1));
            }
        }
        state
    }

    /// Feeds the write at `index`. Writes come in log order: an older one is our bug.
    pub fn apply(&mut self, index: LogIndex) {
        assert!(index > self.last_index, "entity fed {index} after {}", self.last_index);
        self.applied += 1;
        self.last_index = index;
    }
}

/// Why an entity stopped living on a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntityStop {
    /// The cut-over's handoff stopped it before the seal.
    HandedOff,
    /// The shard holds its maximum of live entities; an idle one (the lowest key) stopped.
    Passivated,
    /// The node learnt that the shard moved away (a commit it had missed).
    ShardMoved,
}

impl DataNode {
    /// Feeds the write just appended at `index` to its entity, starting the entity from
    /// the log first if it is not live (passivating an idle one at the bound).
    pub(super) fn feed_entity(&mut self, shard: ShardId, entity: EntityKey, index: LogIndex, out: &mut Outbox) {
        let replayed = !self.config.has_canary(Canary::EntityStateNotReplayed);
        let entities_max = self.config.entities_per_shard_max.max(1);
        let node = self.node;
        let state = self.shards.get_mut(&shard).expect("feeding an entity of a held shard");
        if !state.entities.contains_key(&entity) {
            if state.entities.len() >= entities_max {
                let (idle, idle_state) = state.entities.pop_first().expect("at the bound, so not empty");
                let reason = EntityStop::Passivated;
                out.observe(Observation::EntityStopped { node, shard, entity: idle, state: idle_state, reason });
            }
            let before = LogIndex(index.0 - 1);
            let started =
                if replayed { EntityState::from_log(entity, &state.log, before) } else { EntityState::default() };
            out.observe(Observation::EntityStarted { node, shard, entity, state: started });
            state.entities.insert(entity, started);
        }
        state.entities.get_mut(&entity).expect("live").apply(index);
    }

    /// Stops up to `count` live entities of `shard`, lowest keys first; returns how many
    /// are still live.
    pub(super) fn stop_entities(
        &mut self,
        shard: ShardId,
        count: usize,
        reason: EntityStop,
        out: &mut Outbox,
    ) -> usize {
        let node = self.node;
        let Some(state) = self.shards.get_mut(&shard) else { return 0 };
        for _ in 0..count {
            let Some((entity, stopped)) = state.entities.pop_first() else { break };
            out.observe(Observation::EntityStopped { node, shard, entity, state: stopped, reason });
        }
        state.entities.len()
    }
}
