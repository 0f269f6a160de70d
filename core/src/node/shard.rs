//! One shard as a data node holds it: its role, its log, and its live entities.

use super::entity::EntityState;
use crate::ids::{Address, ClientId, EntityKey};
use crate::log::ShardLog;
use crate::wire::ShardRole;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct ShardState {
    pub role: ShardRole,
    pub log: ShardLog,
    /// Live entities; at most `entities_per_shard_max`, only while the shard is owned.
    pub entities: BTreeMap<EntityKey, EntityState>,
    /// Clients that wrote here lately: told the shard is moving when the handoff begins.
    pub clients: BTreeMap<ClientId, Address>,
    pub writes_in_window: u64,
    pub reads_in_window: u64,
    /// Rates over the last complete load window, as heartbeats report them.
    pub writes_per_s: u64,
    pub reads_per_s: u64,
}

impl ShardState {
    pub fn new(role: ShardRole) -> ShardState {
        ShardState {
            role,
            log: ShardLog::new(),
            entities: BTreeMap::new(),
            clients: BTreeMap::new(),
            writes_in_window: 0,
            reads_in_window: 0,
            writes_per_s: 0,
            reads_per_s: 0,
        }
    }
}
