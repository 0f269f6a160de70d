//! Convergence figures (CockroachDB asim's): how the cluster got to balance, not only
//! whether it did. Moves per shard and thrash come from the observations; the final
//! balance from the nodes' own state, measured as the liveness check measures it.

use super::liveness;
use super::ClusterState;
use serde::{Deserialize, Serialize};
use shardsim_core::{Instant, NodeId, Observation, ShardId};
use std::collections::{BTreeMap, BTreeSet};

/// What the observations tell: where each shard lives and where it has been.
#[derive(Clone, Debug, Default)]
pub struct MoveHistory {
    owner: BTreeMap<ShardId, NodeId>,
    left: BTreeMap<ShardId, BTreeSet<NodeId>>,
    moves: BTreeMap<ShardId, u32>,
    /// Moves that took a shard back to a node it had left.
    thrash: u64,
    /// When the cluster was last seen converged after the heal, if it still is.
    converged_since: Option<Instant>,
}

impl MoveHistory {
    pub fn observe(&mut self, observation: &Observation) {
        match observation {
            Observation::ShardAllocated { shard, owner, .. } => {
                self.owner.insert(*shard, *owner);
            }
            Observation::RoutingCommitted { shard, owner, .. }
            | Observation::ShardRehomed { shard, owner, .. }
            | Observation::ShardRecreated { shard, owner, .. } => {
                let previous = self.owner.insert(*shard, *owner);
                if previous.is_none_or(|previous| previous == *owner) {
                    return;
                }
                *self.moves.entry(*shard).or_default() += 1;
                let left = self.left.entry(*shard).or_default();
                if left.contains(owner) {
                    self.thrash += 1;
                }
                left.extend(previous);
            }
            _ => {}
        }
    }

    /// The liveness check's verdict at `at`: the start of the current converged streak.
    pub fn note_converged(&mut self, at: Instant, converged: bool) {
        self.converged_since = match (converged, self.converged_since) {
            (false, _) => None,
            (true, Some(since)) => Some(since),
            (true, None) => Some(at),
        };
    }
}

/// The figures every report carries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Shards per node that accepts shards, at the end: the most and the mean.
    pub shards_per_node_max: u32,
    pub shards_per_node_mean: f64,
    /// Load scores (the load-based planner's measure), at the end: the most and the mean.
    pub load_score_max: f64,
    pub load_score_mean: f64,
    /// Completed moves of the shard that moved most, and of all shards.
    pub moves_per_shard_max: u32,
    pub moves_total: u64,
    /// Moves that took a shard back to a node it had left.
    pub thrash: u64,
    /// From the heal (the liveness phase's start) to the start of the converged streak
    /// that ended the run; `None` if the run never got there.
    pub heal_to_balance_ms: Option<u64>,
}

impl std::fmt::Display for Convergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shards/node max {} mean {:.1}; load max/mean {:.2}; moves {} (at most {} of one shard), thrash {}; heal to balance {}",
            self.shards_per_node_max,
            self.shards_per_node_mean,
            self.load_max_over_mean(),
            self.moves_total,
            self.moves_per_shard_max,
            self.thrash,
            match self.heal_to_balance_ms {
                Some(ms) => format!("{ms} ms"),
                None => "never".to_string(),
            }
        )
    }
}

impl Convergence {
    /// The hottest node's load score over the mean: 1.0 is perfect balance.
    pub fn load_max_over_mean(&self) -> f64 {
        if self.load_score_mean > 0.0 {
            self.load_score_max / self.load_score_mean
        } else {
            1.0
        }
    }

    pub fn measure(
        history: &MoveHistory,
        liveness_started_at: Option<Instant>,
        config: &shardsim_core::ProtocolConfig,
        state: &dyn ClusterState,
    ) -> Convergence {
        let balance = liveness::balance_figures(config, state).unwrap_or_default();
        Convergence {
            shards_per_node_max: balance.shards_max,
            shards_per_node_mean: balance.shards_mean,
            load_score_max: balance.score_max,
            load_score_mean: balance.score_mean,
            moves_per_shard_max: history.moves.values().copied().max().unwrap_or(0),
            moves_total: history.moves.values().map(|moves| u64::from(*moves)).sum(),
            thrash: history.thrash,
            heal_to_balance_ms: liveness_started_at
                .zip(history.converged_since)
                .map(|(healed, converged)| converged.ms_since(healed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::Epoch;

    fn allocated(shard: u32, owner: u32) -> Observation {
        Observation::ShardAllocated { shard: ShardId(shard), owner: NodeId(owner), epoch: Epoch(1) }
    }

    /// A move as the rehome path reports it (a cut-over's RoutingCommitted counts alike).
    fn committed(shard: u32, owner: u32) -> Observation {
        Observation::ShardRehomed {
            shard: ShardId(shard),
            owner: NodeId(owner),
            epoch: Epoch(2),
            lost_owner: NodeId(9),
        }
    }

    #[test]
    fn a_shard_moved_back_to_a_node_it_left_is_thrash() {
        let mut history = MoveHistory::default();
        for observation in
            [allocated(0, 1), allocated(1, 2), committed(0, 2), committed(0, 3), committed(0, 1), committed(1, 3)]
        {
            history.observe(&observation);
        }
        assert_eq!(history.moves[&ShardId(0)], 3);
        assert_eq!(history.moves[&ShardId(1)], 1);
        assert_eq!(history.thrash, 1, "only s0's return to n1 went back");
    }

    #[test]
    fn heal_to_balance_counts_from_the_start_of_the_last_converged_streak() {
        let mut history = MoveHistory::default();
        for (at, converged) in [(100, false), (200, true), (300, false), (400, true), (500, true)] {
            history.note_converged(Instant(at), converged);
        }
        assert_eq!(history.converged_since, Some(Instant(400)));
        let config = shardsim_core::ProtocolConfig::default();
        let figures = Convergence::measure(&history, Some(Instant(50)), &config, &NoCluster);
        assert_eq!(figures.heal_to_balance_ms, Some(350));
        history.note_converged(Instant(600), false);
        assert_eq!(Convergence::measure(&history, Some(Instant(50)), &config, &NoCluster).heal_to_balance_ms, None);
    }

    struct NoCluster;

    impl ClusterState for NoCluster {
        fn coordinator(&self) -> Option<&shardsim_core::Coordinator> {
            None
        }
        fn node(&self, _: NodeId) -> Option<&shardsim_core::DataNode> {
            None
        }
        fn node_ids(&self) -> Vec<NodeId> {
            Vec::new()
        }
        fn durable_disk(&self, _: shardsim_core::ActorId) -> Option<&shardsim_core::storage::DiskImage> {
            None
        }
    }
}
