//! A data node's boot: a new incarnation, and its shards rebuilt from disk.

use super::{DataNode, ShardState};
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{ActorId, Address, Incarnation, Instant, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::log::LogEntry;
use crate::observation::Observation;
use crate::storage::{
    checked_body, decode_body, decode_record, put, unchecked_body, CorruptRecord, DiskImage, StorageKey, StorageOp,
    CHECKSUM_BYTES,
};
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

/// Whether a record that failed its checksum looks torn rather than rotten: a write cut
/// short leaves the sectors it never reached reading zero, so its stored checksum is zero
/// too (etcd's WAL tells torn from corrupt the same way). A rotten record keeps its
/// checksum, bar one in 2^32.
fn looks_torn(value: &[u8]) -> bool {
    value.len() >= CHECKSUM_BYTES && value[value.len() - CHECKSUM_BYTES..].iter().all(|byte| *byte == 0)
}

/// Whether `index` is the last entry of `shard`'s log on `disk`.
fn is_last_entry(disk: &DiskImage, shard: ShardId, index: crate::ids::LogIndex) -> bool {
    use std::ops::Bound::{Excluded, Unbounded};
    let next = disk.range((Excluded(StorageKey::LogEntry(shard, index)), Unbounded)).next();
    !matches!(next, Some((StorageKey::LogEntry(next_shard, _), _)) if *next_shard == shard)
}

impl DataNode {
    /// Decodes a stored record after checking its checksum (unless the
    /// `ChecksumsIgnored` canary is on).
    fn read_record<T: serde::de::DeserializeOwned>(&self, key: StorageKey, value: &[u8]) -> Result<T, CorruptRecord> {
        let body = match self.config.has_canary(Canary::ChecksumsIgnored) {
            true => unchecked_body(value),
            false => checked_body(key, value)?,
        };
        decode_body(key, body)
    }

    /// Shard metadata sorts before log entries, so every entry finds its shard. Entries
    /// of a shard without metadata are leftovers of an interrupted drop and are skipped.
    /// Every record's checksum is checked: a bad last entry of a log that reads zero at
    /// its end is a torn write (never synced, never acked) and is dropped; any other bad
    /// record (rot, even in the last entry) refuses its
    /// shard: it is neither served nor held, and heartbeats name it to the coordinator.
    pub(super) fn boot(
        &mut self,
        now: Instant,
        disk: &DiskImage,
        address: Address,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let mut shards: BTreeMap<ShardId, ShardState> = BTreeMap::new();
        let mut refused: BTreeMap<ShardId, String> = BTreeMap::new();
        for (key, value) in disk {
            match *key {
                StorageKey::ShardMeta(shard) => match self.read_record::<ShardRole>(*key, value) {
                    Ok(role) => {
                        shards.insert(shard, ShardState::new(role));
                    }
                    Err(corrupt) => {
                        refused.insert(shard, corrupt.to_string());
                    }
                },
                StorageKey::LogEntry(shard, index) => {
                    let Some(state) = shards.get_mut(&shard).filter(|_| !refused.contains_key(&shard)) else {
                        continue;
                    };
                    if index != state.log.last_index().next() {
                        let detail = format!("log of {shard} jumps from {} to {index}", state.log.last_index());
                        refused.insert(shard, detail);
                        continue;
                    }
                    match self.read_record::<LogEntry>(*key, value) {
                        Ok(entry) => {
                            state.log.append(entry);
                        }
                        Err(corrupt) if is_last_entry(disk, shard, index) && looks_torn(value) => {
                            out.persist(StorageOp::Delete { key: *key });
                            let detail = corrupt.detail;
                            tracing::warn!(%shard, %index, %detail, "torn log tail dropped");
                            out.observe(Observation::LogTailTruncated { shard, index, detail });
                        }
                        Err(corrupt) => {
                            refused.insert(shard, corrupt.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
        for (shard, detail) in &refused {
            shards.remove(shard);
            tracing::warn!(%shard, %detail, "shard refused: corrupt on disk");
            out.observe(Observation::ShardRefused { shard: *shard, detail: detail.clone() });
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
        self.refused = refused;
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
