//! Heartbeats: membership, loads, and reconciling what a node holds with the routing
//! table, so every decision reaches its node even when the first message was lost.

use super::{Coordinator, HeartbeatOutcome};
use crate::effects::Outbox;
use crate::ids::{Epoch, MigrationId, NodeId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::wire::{Fate, Heartbeat, Message, ShardRole};
use std::collections::BTreeSet;

impl Coordinator {
    pub(super) fn on_heartbeat(
        &mut self,
        now: crate::ids::Instant,
        node: NodeId,
        sender: PeerIdentity,
        heartbeat: Heartbeat,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        match self.members.on_heartbeat(node, sender, heartbeat.load, now) {
            HeartbeatOutcome::Stale => return Err(InputError::Stale(format!("heartbeat from retired {sender}"))),
            HeartbeatOutcome::Joined | HeartbeatOutcome::IdentityChanged { .. } => {
                out.persist(self.members.record_op(node));
                self.observe_member(node, out);
                self.rebalancer.kick();
            }
            HeartbeatOutcome::Known { liveness_changed } => {
                if liveness_changed {
                    self.observe_member(node, out);
                    self.rebalancer.kick();
                }
            }
        }
        if self.members.get(node).is_some_and(|member| member.record.decommissioned) {
            return Ok(());
        }
        for load in &heartbeat.shard_loads {
            if self.routing.get(load.shard).is_some_and(|route| route.owner == node) {
                self.shard_loads.insert(load.shard, *load);
            }
        }
        self.reconcile(node, sender, &heartbeat, out);
        Ok(())
    }

    /// What the coordinator decided about `migration`, derived from the routing table
    /// (the commit point) so it holds even for pruned or forgotten migrations.
    pub(super) fn fate(&self, migration: MigrationId, shard: ShardId, from_epoch: Epoch) -> Fate {
        if self.tracker.active_for_shard(shard).is_some_and(|record| record.id == migration) {
            return Fate::InProgress;
        }
        match self.routing.get(shard) {
            Some(route) if route.epoch > from_epoch => match self.member_address(route.owner) {
                Some(address) => Fate::Committed { owner: route.owner, address, epoch: route.epoch },
                None => Fate::InProgress,
            },
            _ => Fate::Aborted,
        }
    }

    fn reconcile(&self, node: NodeId, sender: PeerIdentity, heartbeat: &Heartbeat, out: &mut Outbox) {
        let reply =
            |out: &mut Outbox, body: Message| out.send(self.me(), sender.address, Some(sender.incarnation), body);
        let mut reported: BTreeSet<ShardId> = BTreeSet::new();
        for report in &heartbeat.shards {
            reported.insert(report.shard);
            let Some(route) = self.routing.get(report.shard) else {
                continue;
            };
            match report.role {
                ShardRole::Owned { epoch } | ShardRole::Fenced { epoch, .. }
                    if route.epoch > epoch || route.owner != node =>
                {
                    // The node missed a commit that moved the shard away.
                    let migration = match report.role {
                        ShardRole::Fenced { migration, .. } => migration,
                        _ => MigrationId(0),
                    };
                    let fate = self.fate(migration, report.shard, epoch);
                    reply(out, Message::FateReply { migration, shard: report.shard, fate });
                }
                ShardRole::Fenced { epoch, migration } => {
                    let fate = self.fate(migration, report.shard, epoch);
                    if fate != Fate::InProgress {
                        reply(out, Message::FateReply { migration, shard: report.shard, fate });
                    }
                }
                ShardRole::Incoming { migration, from_epoch } => {
                    let active =
                        self.tracker.active_for_shard(report.shard).is_some_and(|record| record.id == migration);
                    if active {
                        continue;
                    }
                    if route.owner == node && route.epoch == from_epoch.next() {
                        let commit = Message::CommitMigration {
                            migration,
                            shard: report.shard,
                            owner: node,
                            address: sender.address,
                            epoch: route.epoch,
                        };
                        reply(out, commit);
                    } else {
                        reply(out, Message::AbortMigration { migration, shard: report.shard });
                    }
                }
                ShardRole::Owned { .. } | ShardRole::Forwarding { .. } => {}
            }
        }
        for (shard, route) in self.routing.owned_by(node) {
            // Only a never-migrated shard can be (re)created empty; anything later holds data.
            if !reported.contains(&shard) && route.epoch == Epoch::INITIAL {
                reply(out, Message::AssignShard { shard, epoch: route.epoch });
            }
        }
    }
}
