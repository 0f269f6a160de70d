//! A data node's boot: a new incarnation, and its shards rebuilt from disk.

use super::{DataNode, ShardState};
use crate::effects::Outbox;
use crate::ids::{ActorId, Address, Incarnation, Instant, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::log::LogEntry;
use crate::observation::Observation;
use crate::storage::{decode_record, put, CorruptRecord, DiskImage, StorageKey};
use crate::timer::Timer;
use crate::wire::ShardRole;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorMeta {
    pub incarnation: Incarnation,
}

/// Reads the incarnation stored under `key`, bumps it and persists the new one durably.
pub(crate) fn next_incarnation(
    disk: &DiskImage,
    key: StorageKey,
    out: &mut Outbox,
) -> Result<Incarnation, CorruptRecord> {
    let previous = match disk.get(&key) {
        Some(value) => decode_record::<ActorMeta>(key, value)?.incarnation,
        None => Incarnation(0),
    };
    let incarnation = Incarnation(previous.0 + 1);
    out.persist(put(key, &ActorMeta { incarnation }));
    Ok(incarnation)
}

impl DataNode {
    /// Shard metadata sorts before log entries, so every entry finds its shard. Entries
    /// of a shard without metadata are leftovers of an interrupted drop and are skipped.
    pub(super) fn boot(
        &mut self,
        now: Instant,
        disk: &DiskImage,
        address: Address,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let mut shards: BTreeMap<ShardId, ShardState> = BTreeMap::new();
        for (key, value) in disk {
            match *key {
                StorageKey::ShardMeta(shard) => {
                    shards.insert(shard, ShardState::new(decode_record::<ShardRole>(*key, value)?));
                }
                StorageKey::LogEntry(shard, index) => {
                    let Some(state) = shards.get_mut(&shard) else {
                        continue;
                    };
                    if index != state.log.last_index().next() {
                        let detail = format!("log of {shard} jumps from {} to {index}", state.log.last_index());
                        return Err(CorruptRecord { key: *key, detail }.into());
                    }
                    state.log.append(decode_record::<LogEntry>(*key, value)?);
                }
                _ => {}
            }
        }
        let mut boot_out = Outbox::new();
        let incarnation = next_incarnation(disk, StorageKey::NodeMeta, &mut boot_out)?;
        out.append(boot_out);
        self.identity = Some(PeerIdentity { actor: ActorId::Node(self.node), address, incarnation });
        // The first load window starts now, with every shard held from its start.
        for state in shards.values_mut() {
            state.counted_whole_window = true;
        }
        self.shards = shards;
        self.sources.clear();
        self.window_started_at = now;
        self.last_heartbeat_at = None;
        self.last_fate_query_at = None;
        tracing::info!(identity = %self.me(), shards = self.shards.len(), "data node booted");
        out.observe(Observation::NodeBooted { node: self.node, identity: self.me() });
        self.send_heartbeat(now, out);
        out.set_timer(Timer::Heartbeat, now.plus_ms(self.config.heartbeat_interval_ms));
        self.streams_timer_set = false;
        Ok(())
    }
}
