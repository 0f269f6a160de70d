//! The caps every planner shares, as a budget it spends move by move.

use crate::config::MigrationCaps;
use crate::ids::NodeId;
use crate::load::ClusterView;
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct MoveBudget {
    moves_left: usize,
    total_left: usize,
    per_node_max: usize,
    active_by_node: BTreeMap<NodeId, usize>,
}

impl MoveBudget {
    pub fn new(view: &ClusterView, caps: MigrationCaps) -> MoveBudget {
        MoveBudget {
            moves_left: caps.moves_per_tick_max,
            total_left: caps.active_total_max.saturating_sub(view.active_total),
            per_node_max: caps.active_per_node_max,
            active_by_node: view.active_by_node.iter().copied().collect(),
        }
    }

    pub fn exhausted(&self) -> bool {
        self.moves_left == 0 || self.total_left == 0
    }

    pub fn node_has_room(&self, node: NodeId) -> bool {
        self.active_by_node.get(&node).copied().unwrap_or(0) < self.per_node_max
    }

    pub fn allows(&self, from: NodeId, to: NodeId) -> bool {
        from != to && !self.exhausted() && self.node_has_room(from) && self.node_has_room(to)
    }

    pub fn spend(&mut self, from: NodeId, to: NodeId) {
        assert!(self.allows(from, to), "planner spent a move the budget does not allow");
        self.moves_left -= 1;
        self.total_left -= 1;
        *self.active_by_node.entry(from).or_default() += 1;
        *self.active_by_node.entry(to).or_default() += 1;
    }
}
