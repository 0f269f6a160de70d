//! The rebalancer's tick (nodedb's driver, sans-IO): when to sweep, and when not to.
//!
//! The coordinator calls [`Rebalancer::decide`] on every one of its ticks and plans only
//! on [`TickDecision::Plan`]. A membership change calls [`Rebalancer::kick`], which makes
//! the next sweep due after the minimum interval instead of the full one.

use crate::ids::{Instant, NodeId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateInputs {
    /// False while a member is joining or suspect, shortly after a membership change, or
    /// shortly after the coordinator booted (the election gate).
    pub membership_stable: bool,
    /// The busiest node and its CPU, if any node reported.
    pub busiest: Option<(NodeId, u32)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TickDecision {
    NotDue,
    SkipUnstable,
    SkipBackpressure { node: NodeId, cpu_permille: u32 },
    Plan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebalancerTiming {
    pub interval_ms: u64,
    pub min_interval_ms: u64,
    pub cpu_threshold_permille: u32,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Rebalancer {
    last_sweep_at: Option<Instant>,
    kicked: bool,
}

impl Rebalancer {
    pub fn new() -> Rebalancer {
        Rebalancer::default()
    }

    /// A membership change: sweep early, as soon as the minimum interval allows.
    pub fn kick(&mut self) {
        self.kicked = true;
    }

    pub fn is_kicked(&self) -> bool {
        self.kicked
    }

    pub fn decide(&mut self, now: Instant, gate: GateInputs, timing: RebalancerTiming) -> TickDecision {
        let due = match self.last_sweep_at {
            None => true,
            Some(last) => {
                let elapsed_ms = now.ms_since(last);
                elapsed_ms >= timing.interval_ms || (self.kicked && elapsed_ms >= timing.min_interval_ms)
            }
        };
        if !due {
            return TickDecision::NotDue;
        }
        self.last_sweep_at = Some(now);
        if !gate.membership_stable {
            return TickDecision::SkipUnstable;
        }
        if let Some((node, cpu_permille)) = gate.busiest {
            if cpu_permille > timing.cpu_threshold_permille {
                return TickDecision::SkipBackpressure { node, cpu_permille };
            }
        }
        self.kicked = false;
        TickDecision::Plan
    }
}
