//! Unit tests of the rebalancer's tick gate.

use shardsim_core::rebalancer::{GateInputs, Rebalancer, RebalancerTiming, TickDecision};
use shardsim_core::*;

const TIMING: RebalancerTiming =
    RebalancerTiming { interval_ms: 1_000, min_interval_ms: 200, cpu_threshold_permille: 800 };
const CALM: GateInputs = GateInputs { membership_stable: true, busiest: Some((NodeId(1), 300)) };

#[test]
fn sweeps_on_the_interval_and_earlier_when_kicked() {
    let mut rebalancer = Rebalancer::new();
    assert_eq!(rebalancer.decide(Instant(0), CALM, TIMING), TickDecision::Plan);
    assert_eq!(rebalancer.decide(Instant(500), CALM, TIMING), TickDecision::NotDue);
    rebalancer.kick();
    assert_eq!(rebalancer.decide(Instant(150), CALM, TIMING), TickDecision::NotDue, "the minimum interval holds");
    assert_eq!(rebalancer.decide(Instant(600), CALM, TIMING), TickDecision::Plan);
    assert_eq!(rebalancer.decide(Instant(1_000), CALM, TIMING), TickDecision::NotDue);
    assert_eq!(rebalancer.decide(Instant(1_600), CALM, TIMING), TickDecision::Plan);
}

#[test]
fn unstable_membership_and_cpu_pressure_skip_and_keep_the_kick() {
    let mut rebalancer = Rebalancer::new();
    rebalancer.kick();
    let unstable = GateInputs { membership_stable: false, ..CALM };
    assert_eq!(rebalancer.decide(Instant(0), unstable, TIMING), TickDecision::SkipUnstable);
    assert!(rebalancer.is_kicked());
    let hot = GateInputs { membership_stable: true, busiest: Some((NodeId(3), 801)) };
    assert_eq!(
        rebalancer.decide(Instant(200), hot, TIMING),
        TickDecision::SkipBackpressure { node: NodeId(3), cpu_permille: 801 }
    );
    let at_threshold = GateInputs { membership_stable: true, busiest: Some((NodeId(3), 800)) };
    assert_eq!(rebalancer.decide(Instant(400), at_threshold, TIMING), TickDecision::Plan);
    assert!(!rebalancer.is_kicked());
}
