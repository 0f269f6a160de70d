//! The coordinator's routing table: each shard's owner and epoch.

use crate::ids::{Epoch, NodeId, PeerIdentity, ShardId};
use crate::storage::{put, StorageKey, StorageOp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub owner: NodeId,
    pub epoch: Epoch,
    /// The owner's identity when it was given the shard. A later identity of the owner
    /// that holds nothing has lost it (a replaced machine); the same identity never has.
    pub owner_identity: Option<PeerIdentity>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RoutingTable {
    routes: BTreeMap<ShardId, Route>,
}

impl RoutingTable {
    pub fn new() -> RoutingTable {
        RoutingTable::default()
    }

    pub fn get(&self, shard: ShardId) -> Option<Route> {
        self.routes.get(&shard).copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (ShardId, Route)> + '_ {
        self.routes.iter().map(|(shard, route)| (*shard, *route))
    }

    pub fn len(&self) -> usize {
        self.routes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub fn owned_by(&self, node: NodeId) -> impl Iterator<Item = (ShardId, Route)> + '_ {
        self.iter().filter(move |(_, route)| route.owner == node)
    }

    /// Sets a route. Epochs never go back: a lower epoch is a bug in the caller.
    pub fn set(&mut self, shard: ShardId, route: Route) -> StorageOp {
        if let Some(current) = self.routes.get(&shard) {
            assert!(route.epoch > current.epoch, "routing epoch of {shard} would go back");
        }
        self.routes.insert(shard, route);
        put(StorageKey::Route(shard), &route)
    }

    /// Loads a route from disk at boot.
    pub fn restore(&mut self, shard: ShardId, route: Route) {
        self.routes.insert(shard, route);
    }
}
