//! Heartbeats with load reports, and fate queries for fenced shards.

use super::DataNode;
use crate::effects::Outbox;
use crate::ids::Instant;
use crate::load::{NodeLoad, ShardLoad};
use crate::wire::{Heartbeat, Message, ShardReport, ShardRole};

impl DataNode {
    pub(super) fn send_heartbeat(&mut self, now: Instant, out: &mut Outbox) {
        let window_ms = now.ms_since(self.window_started_at);
        let window_closed = window_ms >= self.config.load_window_ms;
        let mut load = NodeLoad::default();
        let mut shard_loads = Vec::new();
        let mut shards = Vec::with_capacity(self.shards.len());
        for (shard, state) in self.shards.iter_mut() {
            if window_closed {
                state.close_load_window(window_ms);
            }
            shards.push(ShardReport { shard: *shard, role: state.role, last_index: state.log.last_index() });
            if matches!(state.role, ShardRole::Owned { .. } | ShardRole::Fenced { .. }) {
                let shard_load = ShardLoad {
                    shard: *shard,
                    bytes: state.log.bytes(),
                    writes_per_s: state.writes_per_s,
                    reads_per_s: state.reads_per_s,
                };
                load.shards_led += 1;
                load.bytes += shard_load.bytes;
                load.writes_per_s += shard_load.writes_per_s;
                load.reads_per_s += shard_load.reads_per_s;
                if state.rates_measured {
                    shard_loads.push(shard_load);
                }
            }
        }
        if window_closed {
            self.window_started_at = now;
        }
        let ops_per_s = load.writes_per_s + load.reads_per_s;
        let capacity = self.config.node_capacity_ops_per_s.max(1);
        load.cpu_permille = (ops_per_s.saturating_mul(1000) / capacity).min(1000) as u32;
        self.last_heartbeat_at = Some(now);
        self.to_coordinator(
            out,
            Message::Heartbeat(Heartbeat {
                load,
                shard_loads,
                shards,
                refused: self.refused.keys().copied().collect(),
            }),
        );
    }

    /// A fenced shard waits on the coordinator's decision; ask for it until it comes (the
    /// decision itself may have been lost, or this node restarted and forgot the stream).
    pub(super) fn query_fates(&mut self, now: Instant, out: &mut Outbox) {
        if self.last_fate_query_at.is_some_and(|at| now.ms_since(at) < self.config.fate_query_interval_ms) {
            return;
        }
        self.last_fate_query_at = Some(now);
        let fenced: Vec<_> = self
            .shards
            .iter()
            .filter_map(|(shard, state)| match state.role {
                ShardRole::Fenced { epoch, migration } => Some((*shard, epoch, migration)),
                _ => None,
            })
            .collect();
        for (shard, from_epoch, migration) in fenced {
            self.to_coordinator(out, Message::FateQuery { migration, shard, from_epoch });
        }
    }
}
