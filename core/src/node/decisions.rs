//! The coordinator's decisions as a node applies them: assignment, commit, abort, fate.

use super::{DataNode, EntityStop, ShardState};
use crate::canary::Canary;
use crate::effects::Outbox;
use crate::ids::{Address, Epoch, MigrationId, NodeId, ShardId};
use crate::input::InputError;
use crate::observation::Observation;
use crate::storage::{StorageKey, StorageOp};
use crate::wire::{Fate, ShardRole};

impl DataNode {
    /// Only a never-migrated shard is created empty, or one this node refused as corrupt
    /// (at a later epoch: the coordinator declared what it held lost). A refused shard's
    /// records go first, so none of them is ever read again.
    pub(super) fn on_assign(&mut self, shard: ShardId, epoch: Epoch, out: &mut Outbox) -> Result<(), InputError> {
        if self.refused.contains_key(&shard) {
            if epoch == Epoch::INITIAL {
                return Err(InputError::Stale(format!("assignment of refused {shard} at its first epoch")));
            }
            self.refused.remove(&shard);
            out.persist(StorageOp::ClearShardLog { shard });
            self.set_role(shard, ShardRole::Owned { epoch }, out);
            out.observe(Observation::ShardAssigned { node: self.node, shard, epoch });
            return Ok(());
        }
        if epoch != Epoch::INITIAL {
            return Err(InputError::Refused(format!("assignment of {shard} at {epoch}")));
        }
        if self.shards.contains_key(&shard) {
            return Ok(());
        }
        self.set_role(shard, ShardRole::Owned { epoch }, out);
        out.observe(Observation::ShardAssigned { node: self.node, shard, epoch });
        Ok(())
    }

    pub(super) fn on_commit(
        &mut self,
        migration: MigrationId,
        shard: ShardId,
        owner: NodeId,
        address: Address,
        epoch: Epoch,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let Some(role) = self.shards.get(&shard).map(|state| state.role) else {
            return Err(InputError::Stale(format!("commit of {migration}: {shard} unknown here")));
        };
        match role {
            ShardRole::Incoming { migration: current, from_epoch }
                if current == migration && owner == self.node && epoch == from_epoch.next() =>
            {
                if self.config.has_canary(Canary::EpochNotPersisted) {
                    self.shards.get_mut(&shard).expect("known").role = ShardRole::Owned { epoch };
                } else {
                    self.set_role(shard, ShardRole::Owned { epoch }, out);
                }
                out.observe(Observation::OwnershipTaken { node: self.node, shard, migration, epoch });
            }
            ShardRole::Owned { epoch: current } | ShardRole::Fenced { epoch: current, .. }
                if epoch > current && owner != self.node =>
            {
                self.sources.remove(&shard);
                // The handoff stopped them before the seal; any left missed it (a node
                // that missed the whole cut-over). The `SealBeforeHandoff` canary keeps
                // them until the retained log goes.
                if !self.config.has_canary(Canary::SealBeforeHandoff) {
                    self.stop_entities(shard, usize::MAX, EntityStop::ShardMoved, out);
                }
                // Keep the log until the coordinator has seen the new owner hold it.
                self.set_role(shard, ShardRole::Forwarding { owner, address, epoch, retained: true }, out);
                let state = self.shards.get_mut(&shard).expect("known");
                state.clients.clear();
                state.forget_rates();
                out.observe(Observation::ShardForwarded { node: self.node, shard, owner, epoch });
            }
            ShardRole::Forwarding { epoch: current, retained, .. } if epoch > current && owner != self.node => {
                self.set_role(shard, ShardRole::Forwarding { owner, address, epoch, retained }, out);
            }
            _ => {}
        }
        Ok(())
    }

    /// The new owner holds the shard: drop the retained log, keep the redirecting stub.
    /// A refused copy (corrupt, and not this node's to own) goes whole.
    pub(super) fn on_release(&mut self, shard: ShardId, epoch: Epoch, out: &mut Outbox) -> Result<(), InputError> {
        if self.refused.remove(&shard).is_some() {
            out.persist(StorageOp::ClearShardLog { shard });
            out.persist(StorageOp::Delete { key: StorageKey::ShardMeta(shard) });
            out.observe(Observation::RefusedShardDropped { node: self.node, shard });
            return Ok(());
        }
        match self.shards.get(&shard).map(|state| state.role) {
            Some(ShardRole::Forwarding { owner, address, epoch: current, retained: true }) if current <= epoch => {
                self.stop_entities(shard, usize::MAX, EntityStop::ShardMoved, out);
                self.set_role(shard, ShardRole::Forwarding { owner, address, epoch: current, retained: false }, out);
                out.persist(StorageOp::ClearShardLog { shard });
                let state = self.shards.get_mut(&shard).expect("known");
                *state = ShardState::new(state.role);
                out.observe(Observation::RetainedLogDropped { node: self.node, shard, epoch: current });
                Ok(())
            }
            _ => Err(InputError::Stale(format!("release of {shard} at {epoch}: nothing retained"))),
        }
    }

    /// The new owner lost the shard; this node kept the log and owns it again.
    pub(super) fn on_rehome(&mut self, shard: ShardId, epoch: Epoch, out: &mut Outbox) -> Result<(), InputError> {
        match self.shards.get(&shard).map(|state| state.role) {
            Some(ShardRole::Forwarding { epoch: current, retained: true, .. }) if epoch == current.next() => {
                self.set_role(shard, ShardRole::Owned { epoch }, out);
                out.observe(Observation::OwnershipTaken { node: self.node, shard, migration: MigrationId(0), epoch });
                Ok(())
            }
            Some(ShardRole::Owned { epoch: current }) if current == epoch => Ok(()),
            role => Err(InputError::Stale(format!("rehome of {shard} at {epoch} while holding {role:?}"))),
        }
    }

    pub(super) fn on_abort(
        &mut self,
        migration: MigrationId,
        shard: ShardId,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        if self.sources.get(&shard).is_some_and(|stream| stream.migration() == migration) {
            self.sources.remove(&shard);
        }
        match self.shards.get(&shard).map(|state| state.role) {
            Some(ShardRole::Fenced { epoch, migration: current }) if current == migration => {
                self.set_role(shard, ShardRole::Owned { epoch }, out);
                out.observe(Observation::ShardUnfenced { node: self.node, shard, migration });
            }
            Some(ShardRole::Incoming { migration: current, .. }) if current == migration => {
                out.persist(StorageOp::ClearShardLog { shard });
                out.persist(StorageOp::Delete { key: StorageKey::ShardMeta(shard) });
                self.shards.remove(&shard);
                out.observe(Observation::IncomingDiscarded { node: self.node, shard, migration });
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn on_fate(
        &mut self,
        migration: MigrationId,
        shard: ShardId,
        fate: Fate,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        match fate {
            Fate::InProgress => Ok(()),
            Fate::Aborted => self.on_abort(migration, shard, out),
            Fate::Committed { owner, address, epoch } => self.on_commit(migration, shard, owner, address, epoch, out),
        }
    }
}
