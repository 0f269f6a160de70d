//! Heartbeats: membership, loads, and reconciling what a node holds with the routing
//! table, so every decision reaches its node even when the first message was lost.

use super::{Coordinator, HeartbeatOutcome};
use crate::effects::Outbox;
use crate::ids::{Epoch, MigrationId, NodeId, PeerIdentity, ShardId};
use crate::input::InputError;
use crate::wire::{Fate, Heartbeat, Message, ShardRole};

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
        self.reconcile(now, node, sender, &heartbeat, out);
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

    fn reconcile(
        &mut self,
        now: crate::ids::Instant,
        node: NodeId,
        sender: PeerIdentity,
        heartbeat: &Heartbeat,
        out: &mut Outbox,
    ) {
        let mut replies = Vec::new();
        let mut rehomes = Vec::new();
        let mut recreations = Vec::new();
        // A node reports a few dozen shards at most: a vector, searched, not a set per beat.
        let mut reported: Vec<ShardId> = Vec::with_capacity(heartbeat.refused.len() + heartbeat.shards.len());
        for shard in &heartbeat.refused {
            reported.push(*shard);
            let Some(route) = self.routing.get(*shard) else { continue };
            if route.owner != node {
                // A copy the node did not own (retained, incoming, forwarding): drop it.
                replies.push(Message::ReleaseShard { shard: *shard, epoch: route.epoch });
            } else if route.owner_identity == Some(sender) {
                // Re-created for this very life already: the assignment was lost.
                replies.push(Message::AssignShard { shard: *shard, epoch: route.epoch });
            } else if self.tracker.active_for_shard(*shard).is_some() {
                // A migration in flight ends first (its source changed identity): its
                // target may hold the shard whole.
            } else if self.may_be_retained(*shard, route.epoch, now) {
                // The owner never confirmed this epoch, so its previous owner has not
                // been released: it retains the log, and owns the shard again when it
                // next reports it (a rehome). Nothing is lost.
                self.lost.insert(*shard, route.epoch);
            } else {
                recreations.push(*shard);
            }
        }
        for report in &heartbeat.shards {
            let shard = report.shard;
            reported.push(shard);
            let Some(route) = self.routing.get(shard) else { continue };
            match report.role {
                ShardRole::Owned { epoch } | ShardRole::Fenced { epoch, .. }
                    if route.epoch > epoch || route.owner != node =>
                {
                    // The node missed a commit that moved the shard away.
                    let migration = match report.role {
                        ShardRole::Fenced { migration, .. } => migration,
                        _ => MigrationId(0),
                    };
                    let fate = self.fate(migration, shard, epoch);
                    replies.push(Message::FateReply { migration, shard, fate });
                }
                ShardRole::Owned { epoch } => {
                    self.confirmed.insert(shard, epoch);
                }
                ShardRole::Fenced { epoch, migration } => {
                    self.confirmed.insert(shard, epoch);
                    let fate = self.fate(migration, shard, epoch);
                    if fate != Fate::InProgress {
                        replies.push(Message::FateReply { migration, shard, fate });
                    }
                }
                ShardRole::Incoming { migration, from_epoch } => {
                    let active = self.tracker.active_for_shard(shard).is_some_and(|record| record.id == migration);
                    if active {
                        continue;
                    }
                    if route.owner == node && route.epoch == from_epoch.next() {
                        let address = sender.address;
                        replies.push(Message::CommitMigration {
                            migration,
                            shard,
                            owner: node,
                            address,
                            epoch: route.epoch,
                        });
                    } else {
                        replies.push(Message::AbortMigration { migration, shard });
                    }
                }
                ShardRole::Forwarding { owner, epoch, retained: true, .. } => {
                    if self.confirmed.get(&shard) == Some(&route.epoch) && route.epoch >= epoch {
                        replies.push(Message::ReleaseShard { shard, epoch });
                    } else if route.owner == node && route.epoch == epoch.next() {
                        replies.push(Message::RehomeShard { shard, epoch: route.epoch });
                    } else if self.lost.get(&shard) == Some(&route.epoch)
                        && route.owner == owner
                        && route.epoch == epoch
                        && self.tracker.active_for_shard(shard).is_none()
                    {
                        rehomes.push(shard);
                    }
                }
                ShardRole::Forwarding { retained: false, .. } => {}
            }
        }
        let routed: Vec<(ShardId, crate::routing::Route)> = self.routing.owned_by(node).collect();
        for (shard, route) in routed.into_iter().filter(|(shard, _)| !reported.contains(shard)) {
            if route.epoch == Epoch::INITIAL {
                // Only a never-migrated shard can be (re)created empty; later ones hold data.
                replies.push(Message::AssignShard { shard, epoch: route.epoch });
            } else if route.owner_identity.is_some_and(|identity| identity != sender) {
                // A later identity of the owner holds nothing: the machine was replaced
                // after it was given the shard. Its previous owner may have retained it.
                self.lost.insert(shard, route.epoch);
            }
        }
        for shard in rehomes {
            self.rehome(shard, node, sender, out);
        }
        for shard in recreations {
            self.recreate(shard, node, sender, out);
        }
        for body in replies {
            out.send(self.me(), sender.address, Some(sender.incarnation), body);
        }
    }

    /// Whether a refused shard's previous owner may still retain its log: a migration
    /// committed the routed epoch and the owner never confirmed holding it (a previous
    /// owner is released only after that), and a migration timeout has not passed since the
    /// refusal was first seen (the retained copy may be gone too, and the shard must not
    /// stay dark).
    fn may_be_retained(&mut self, shard: ShardId, epoch: Epoch, now: crate::ids::Instant) -> bool {
        // Only a migration's commit leaves a retained log behind (not an allocation, a
        // re-creation or a rehome): the completed record of it names this epoch.
        let committed_by_migration = self.tracker.records().any(|record| {
            record.shard == shard && record.phase == crate::phase::Phase::Complete && record.from_epoch.next() == epoch
        });
        if !committed_by_migration || self.confirmed.get(&shard) == Some(&epoch) {
            return false;
        }
        let since = *self.refused_since.entry(shard).or_insert(now);
        now.ms_since(since) < self.config.at_least_ms(self.config.migration_timeout_ms)
    }

    /// Routes `shard` to `node` as `identity` at the next epoch, durably, and forgets that
    /// it was lost or refused. Returns the route it replaces.
    fn route_anew(
        &mut self,
        shard: ShardId,
        node: NodeId,
        identity: PeerIdentity,
        out: &mut Outbox,
    ) -> crate::routing::Route {
        let previous = self.routing.get(shard).expect("a lost or refused shard is routed");
        let route = crate::routing::Route { owner: node, epoch: previous.epoch.next(), owner_identity: Some(identity) };
        out.persist(self.routing.set(shard, route));
        self.lost.remove(&shard);
        self.refused_since.remove(&shard);
        previous
    }

    /// The owner refused the shard as corrupt and nobody else holds it: it starts again
    /// empty on the owner at a new epoch, so the cluster serves it again. What it held is
    /// lost (a shard has one copy), and the new epoch says so to every client and node.
    fn recreate(&mut self, shard: ShardId, node: NodeId, identity: PeerIdentity, out: &mut Outbox) {
        let lost = self.route_anew(shard, node, identity, out);
        let epoch = lost.epoch.next();
        tracing::warn!(%shard, %node, %epoch, "shard corrupt on its owner: re-created empty");
        out.observe(crate::observation::Observation::ShardRecreated {
            shard,
            owner: node,
            epoch,
            lost_epoch: lost.epoch,
        });
        out.send(self.me(), identity.address, Some(identity.incarnation), Message::AssignShard { shard, epoch });
    }

    /// The committed owner lost the shard; `node`, which retained the log, owns it again.
    fn rehome(&mut self, shard: ShardId, node: NodeId, identity: PeerIdentity, out: &mut Outbox) {
        let lost = self.route_anew(shard, node, identity, out);
        let epoch = lost.epoch.next();
        out.observe(crate::observation::Observation::ShardRehomed {
            shard,
            owner: node,
            epoch,
            lost_owner: lost.owner,
        });
        out.send(self.me(), identity.address, Some(identity.incarnation), Message::RehomeShard { shard, epoch });
    }
}
