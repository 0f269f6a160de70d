//! One shard as a data node holds it: its role, its log, and its live entities.

use super::entity::EntityState;
use crate::ids::{Address, ClientId, EntityKey};
use crate::log::ShardLog;
use crate::wire::ShardRole;
use std::collections::BTreeMap;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ShardState {
    pub role: ShardRole,
    pub log: ShardLog,
    /// Live entities; at most `entities_per_shard_max`, only while the shard is owned.
    pub entities: BTreeMap<EntityKey, EntityState>,
    /// Clients that wrote here lately: told the shard is moving when the handoff begins.
    pub clients: BTreeMap<ClientId, Address>,
    pub writes_in_window: u64,
    pub reads_in_window: u64,
    /// Whether this node counted the shard's traffic from the start of the current load
    /// window: a shard that arrived mid-window has only part of one counted.
    pub counted_whole_window: bool,
    /// Whether the rates below were measured over a whole window on this node. Until
    /// they are, heartbeats leave the shard's load out, so the coordinator keeps the last
    /// load it heard (from the previous owner) instead of taking a just-moved shard for an
    /// idle one: that mistake made the load-based planner move one shard round and round.
    pub rates_measured: bool,
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
            counted_whole_window: false,
            rates_measured: false,
            writes_per_s: 0,
            reads_per_s: 0,
        }
    }

    /// The load window closes after `window_ms`: rates come from a whole window's counts,
    /// and a shard counted for part of it only starts counting afresh.
    pub fn close_load_window(&mut self, window_ms: u64) {
        if self.counted_whole_window {
            self.writes_per_s = self.writes_in_window * 1000 / window_ms.max(1);
            self.reads_per_s = self.reads_in_window * 1000 / window_ms.max(1);
            self.rates_measured = true;
        }
        self.counted_whole_window = true;
        self.writes_in_window = 0;
        self.reads_in_window = 0;
    }

    /// The clock was stepped: the window in progress measured nothing true, so its counts
    /// go (the last whole window's rates stay reported) and counting starts afresh.
    pub fn restart_load_window(&mut self) {
        self.counted_whole_window = false;
        self.writes_in_window = 0;
        self.reads_in_window = 0;
    }

    /// The shard stops being served here (it moved away): its rates are no longer this
    /// node's to report, and counting starts afresh if it ever comes back.
    pub fn forget_rates(&mut self) {
        (self.writes_per_s, self.reads_per_s) = (0, 0);
        self.rates_measured = false;
        self.counted_whole_window = false;
    }
}
