//! Client writes and reads: ack only as the unfenced owner at the client's epoch, and
//! only after the entry is durable.

use super::DataNode;
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Address, ClientId, Epoch, PeerIdentity, ShardId, WriteId};
use crate::input::InputError;
use crate::log::LogEntry;
use crate::observation::Observation;
use crate::storage::{put, StorageKey};
use crate::wire::{Message, Rejection, ShardRole};
use bytes::Bytes;

/// Why this node cannot serve `shard` at `epoch`, if it cannot.
fn rejection(role: Option<ShardRole>, epoch: Epoch) -> Option<Rejection> {
    match role {
        None | Some(ShardRole::Incoming { .. }) => Some(Rejection::NotOwner),
        Some(ShardRole::Forwarding { owner, address, epoch, .. }) => Some(Rejection::Moved { owner, address, epoch }),
        Some(ShardRole::Fenced { .. }) => Some(Rejection::Fenced),
        Some(ShardRole::Owned { epoch: current }) if epoch < current => Some(Rejection::StaleEpoch { current }),
        Some(ShardRole::Owned { epoch: current }) if epoch > current => Some(Rejection::NotOwner),
        Some(ShardRole::Owned { .. }) => None,
    }
}

impl DataNode {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_write(
        &mut self,
        from: Address,
        sender: PeerIdentity,
        client: ClientId,
        shard: ShardId,
        epoch: Epoch,
        write_id: WriteId,
        payload: Bytes,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if write_id.client != client {
            return Err(InputError::Refused(format!("{client} wrote with {write_id}")));
        }
        let me = self.me();
        let reply_to = Some(sender.incarnation);
        let role = self.shards.get(&shard).map(|state| state.role);
        let stub_serves =
            self.config.has_canary(Canary::StubAcksWrites) && matches!(role, Some(ShardRole::Forwarding { .. }));
        if let Some(rejection) = rejection(role, epoch).filter(|_| !stub_serves) {
            out.send(me, from, reply_to, Message::WriteRejected { shard, write_id, rejection });
            return Ok(());
        }
        let entities_max = self.config.entities_per_shard_max;
        let log_entries_max = self.config.shard_log_entries_max;
        let ack_before_durable = self.config.has_canary(Canary::AckBeforeDurable);
        let state = self.shards.get_mut(&shard).expect("served shard exists");
        if state.entities.len() < entities_max || state.entities.contains_key(&client) {
            state.entities.insert(client, from);
        }
        let index = match state.log.index_of(&write_id) {
            // A retry of a write already durable here: ack it again, append nothing.
            Some(index) => index,
            None if state.log.last_index().0 >= log_entries_max => {
                let rejection = Rejection::Overloaded;
                out.send(me, from, reply_to, Message::WriteRejected { shard, write_id, rejection });
                return Ok(());
            }
            None => {
                let entry = LogEntry { write_id, payload };
                let index = state.log.last_index().next();
                let op = put(StorageKey::LogEntry(shard, index), &entry);
                if ack_before_durable {
                    out.persist_lazily(op);
                } else {
                    out.persist(op);
                }
                state.log.append(entry);
                state.writes_in_window += 1;
                index
            }
        };
        out.observe(Observation::WriteAcked { node: self.node, shard, epoch, write_id, index });
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
        let reply = match rejection(self.shards.get(&shard).map(|state| state.role), epoch) {
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
