//! Client writes and reads: ack only as the unfenced owner at the client's epoch, and
//! only after the entry is durable.

use super::DataNode;
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Address, ClientId, EntityKey, Epoch, PeerIdentity, ShardId, WriteId};
use crate::input::InputError;
use crate::log::LogEntry;
use crate::observation::Observation;
use crate::storage::{put, StorageKey};
use crate::wire::{Message, Rejection, ShardRole};
use bytes::Bytes;

/// One client write as it arrived.
pub(crate) struct ClientWrite {
    pub client: ClientId,
    pub shard: ShardId,
    pub epoch: Epoch,
    pub write_id: WriteId,
    pub entity: EntityKey,
    pub payload: Bytes,
}

/// Why this node cannot serve `shard` at `epoch`, if it cannot. `stale_accepted` plants
/// the `StaleEpochAcked` canary.
fn rejection(role: Option<ShardRole>, epoch: Epoch, stale_accepted: bool) -> Option<Rejection> {
    match role {
        None | Some(ShardRole::Incoming { .. }) => Some(Rejection::NotOwner),
        Some(ShardRole::Forwarding { owner, address, epoch, .. }) => Some(Rejection::Moved { owner, address, epoch }),
        Some(ShardRole::Fenced { .. }) => Some(Rejection::Fenced),
        Some(ShardRole::Owned { epoch: current }) if epoch < current && !stale_accepted => {
            Some(Rejection::StaleEpoch { current })
        }
        Some(ShardRole::Owned { epoch: current }) if epoch > current => Some(Rejection::NotOwner),
        Some(ShardRole::Owned { .. }) => None,
    }
}

impl DataNode {
    pub(super) fn on_write(
        &mut self,
        from: Address,
        sender: PeerIdentity,
        write: ClientWrite,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let ClientWrite { client, shard, epoch: named_epoch, write_id, entity, payload } = write;
        if write_id.client != client {
            return Err(InputError::Refused(format!("{client} wrote with {write_id}")));
        }
        let me = self.me();
        let reply_to = Some(sender.incarnation);
        let role = self.shards.get(&shard).map(|state| state.role);
        let stub_serves =
            self.config.has_canary(Canary::StubAcksWrites) && matches!(role, Some(ShardRole::Forwarding { .. }));
        let stale_accepted = self.config.has_canary(Canary::StaleEpochAcked);
        if let Some(rejection) = rejection(role, named_epoch, stale_accepted).filter(|_| !stub_serves) {
            out.send(me, from, reply_to, Message::WriteRejected { shard, write_id, rejection });
            return Ok(());
        }
        let epoch = role.map(|role| role.epoch()).unwrap_or(named_epoch);
        // One entry per writing client, told when the shard moves: bounded like the
        // entities, since each client writes to at least one of them.
        let clients_max = self.config.entities_per_shard_max;
        let log_entries_max = self.config.shard_log_entries_max;
        let disk_full = self.disk_full;
        let ack_before_durable = self.config.has_canary(Canary::AckBeforeDurable);
        let state = self.shards.get_mut(&shard).expect("served shard exists");
        if state.clients.len() < clients_max || state.clients.contains_key(&client) {
            state.clients.insert(client, from);
        }
        let index = match state.log.index_of(&write_id) {
            // A retry of a write already durable here: ack it again, append nothing.
            Some(index) => index,
            None if state.log.last_index().0 >= log_entries_max || disk_full => {
                let rejection = if disk_full { Rejection::DiskFull } else { Rejection::Overloaded };
                out.send(me, from, reply_to, Message::WriteRejected { shard, write_id, rejection });
                return Ok(());
            }
            None => {
                let entry = LogEntry { write_id, entity, payload };
                let index = state.log.last_index().next();
                let op = put(StorageKey::LogEntry(shard, index), &entry);
                if ack_before_durable {
                    out.persist_lazily(op);
                } else {
                    out.persist(op);
                }
                state.log.append(entry);
                state.writes_in_window += 1;
                // The stub of the `StubAcksWrites` canary acks, but runs no entities.
                if !stub_serves {
                    self.feed_entity(shard, entity, index, out);
                }
                index
            }
        };
        out.observe(Observation::WriteAcked { node: self.node, shard, epoch, named_epoch, write_id, index, entity });
        out.send(me, from, reply_to, Message::WriteAck { shard, epoch, write_id, index });
        Ok(())
    }

    pub(super) fn on_read(
        &mut self,
        from: Address,
        sender: PeerIdentity,
        _client: ClientId,
        shard: ShardId,
        epoch: Epoch,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let me = self.me();
        let reply = match rejection(self.shards.get(&shard).map(|state| state.role), epoch, false) {
            Some(rejection) => Message::ReadRejected { shard, rejection },
            None => {
                let state = self.shards.get_mut(&shard).expect("served shard exists");
                state.reads_in_window += 1;
                Message::ReadReply { shard, epoch, last_index: state.log.last_index() }
            }
        };
        out.send(me, from, Some(sender.incarnation), reply);
        Ok(())
    }
}
