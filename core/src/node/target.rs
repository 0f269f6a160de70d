//! The target side of a migration: take chunks in order, durably, and answer the
//! coordinator's verification with exactly what it holds.

use super::{DataNode, ShardState};
use crate::effects::Outbox;
use crate::ids::{Address, Epoch, LogIndex, MigrationId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::log::LogEntry;
use crate::observation::Observation;
use crate::storage::{put, StorageKey, StorageOp};
use crate::wire::{Message, ShardRole};

impl DataNode {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_chunk(
        &mut self,
        from: Address,
        sender: PeerIdentity,
        migration: MigrationId,
        shard: ShardId,
        from_epoch: Epoch,
        first_index: LogIndex,
        entries: Vec<LogEntry>,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if entries.len() > self.config.chunk_entries_max {
            return Err(InputError::Refused(format!("chunk of {} entries exceeds the bound", entries.len())));
        }
        if self.disk_full {
            // No room to take the shard: the source sends again, or the migration ends.
            return Err(InputError::Refused(format!("no room on disk for a chunk of {migration}")));
        }
        let fresh_start = match self.shards.get(&shard).map(|state| state.role) {
            None => true,
            Some(ShardRole::Forwarding { epoch, .. }) if from_epoch >= epoch => true,
            Some(ShardRole::Incoming { migration: current, from_epoch: current_epoch }) => {
                if current == migration {
                    false
                } else if current < migration && from_epoch >= current_epoch {
                    true
                } else {
                    return Err(InputError::Stale(format!("chunk of {migration}, {current} is newer")));
                }
            }
            Some(role) => return Err(InputError::Stale(format!("chunk of {migration} for {shard} held as {role:?}"))),
        };
        if fresh_start {
            out.persist(StorageOp::ClearShardLog { shard });
            let role = ShardRole::Incoming { migration, from_epoch };
            self.shards.insert(shard, ShardState::new(role));
            out.persist(put(StorageKey::ShardMeta(shard), &role));
        }
        let state = self.shards.get_mut(&shard).expect("incoming shard exists");
        for (offset, entry) in entries.into_iter().enumerate() {
            let index = LogIndex(first_index.0.saturating_add(offset as u64));
            if index <= state.log.last_index() {
                continue;
            }
            if index != state.log.last_index().next() {
                break;
            }
            out.persist(put(StorageKey::LogEntry(shard, index), &entry));
            state.log.append(entry);
        }
        let applied_index = state.log.last_index();
        out.send(self.me(), from, Some(sender.incarnation), Message::ChunkAck { migration, shard, applied_index });
        Ok(())
    }

    pub(super) fn on_verify_target(
        &mut self,
        migration: MigrationId,
        shard: ShardId,
        _sealed_index: LogIndex,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let Some(state) = self.shards.get(&shard).filter(
            |state| matches!(state.role, ShardRole::Incoming { migration: current, .. } if current == migration),
        ) else {
            return Err(InputError::Stale(format!("verify of {migration}: {shard} is not incoming for it")));
        };
        // Report what we hold, not what was asked: the coordinator compares.
        let (held_index, digest) = (state.log.last_index(), state.log.digest());
        let identity = self.me();
        out.observe(Observation::TargetVerified { node: self.node, identity, shard, migration, held_index });
        self.to_coordinator(out, Message::TargetVerified { migration, shard, held_index, digest });
        Ok(())
    }
}
