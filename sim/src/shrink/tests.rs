//! The shrinker against predicates whose minimal failing input is known.

use super::*;
use shardsim_core::NodeId;

fn plan(events: Vec<FaultEvent>) -> FaultPlan {
    FaultPlan { seed: 0, scenario: "swarm".into(), kinds_on: vec![], events, knobs: Knobs::new() }
}

fn isolate(at_ms: u64, node: u32, heal_after_ms: u64) -> FaultEvent {
    FaultEvent { at_ms, fault: Fault::Isolate { node: NodeId(node), heal_after_ms } }
}

fn knobs(shards: u64, clients: u64) -> Knobs {
    let mut knobs = Knobs::new();
    knobs.insert("shard_count".into(), Value::from(shards));
    knobs.insert("cluster.clients".into(), Value::from(clients));
    knobs.insert("cluster.nodes_initial".into(), Value::from(4));
    knobs.insert("cluster.nodes_spare".into(), Value::from(0));
    knobs
}

#[test]
fn ddmin_finds_the_two_items_that_together_fail() {
    let items: Vec<u32> = (0..40).collect();
    let mut runs = 0;
    let minimal = ddmin(items, &mut |items| {
        runs += 1;
        items.contains(&7) && items.contains(&31)
    });
    assert_eq!(minimal, vec![7, 31]);
    assert!(runs < 120, "ddmin should not try every subset: {runs} runs");
}

#[test]
fn ddmin_keeps_a_single_item_that_fails_alone() {
    assert_eq!(ddmin(vec!['a', 'b', 'c'], &mut |items| items.contains(&'b')), vec!['b']);
}

#[test]
fn simpler_faults_shorten_and_cut_splits() {
    let split = Fault::Split {
        side: vec![crate::faults::Target::Coordinator, crate::faults::Target::Node(NodeId(2))],
        heal_after_ms: 800,
    };
    let simpler = simpler_faults(&split);
    assert!(simpler.iter().any(|fault| fault.heals_after_ms() == Some(DURATION_MIN_MS)));
    assert!(simpler.iter().any(|fault| fault.heals_after_ms() == Some(400)));
    assert!(simpler.iter().any(|fault| matches!(fault, Fault::Split { side, .. } if side.len() == 1)));
    let short = Fault::Isolate { node: NodeId(1), heal_after_ms: DURATION_MIN_MS };
    assert!(simpler_faults(&short).is_empty(), "nothing is simpler than the shortest isolate");
}

#[test]
fn every_stage_shrinks_while_the_failure_holds() {
    // Fails while node 3 is isolated for at least 200 ms, on at least 2 shards.
    let start = Candidate {
        plan: plan(vec![isolate(100, 1, 900), isolate(200, 3, 1_600), isolate(300, 2, 700), isolate(400, 4, 500)]),
        knobs: knobs(16, 3),
    };
    let mut still_fails = |candidate: &Candidate| {
        let shards = candidate.knobs["shard_count"].as_u64().unwrap();
        shards >= 2
            && candidate.plan.events.iter().any(|event| {
                matches!(event.fault, Fault::Isolate { node: NodeId(3), heal_after_ms } if heal_after_ms >= 200)
            })
    };
    let mut budget = || true;
    let mut stages = Vec::new();
    let (minimal, ending) =
        Shrinker::new(&mut still_fails, &mut budget).shrink(start.clone(), &mut |stage| stages.push(stage.clone()));
    assert_eq!(ending, Ending::Minimal);
    assert_eq!(minimal.plan.events, vec![isolate(200, 3, 200)]);
    assert_eq!(minimal.knobs["shard_count"], Value::from(2));
    assert_eq!(minimal.knobs["cluster.clients"], Value::from(1));
    assert_eq!(stages.iter().map(|stage| stage.stage).collect::<Vec<_>>(), ["events", "simpler", "cluster"]);
    assert!(stages.windows(2).all(|pair| pair[0].size_after == pair[1].size_before));
    assert!(size(&minimal) < size(&start));
}

#[test]
fn a_spent_budget_stops_with_a_candidate_that_still_fails() {
    let start =
        Candidate { plan: plan((0..20).map(|at| isolate(at, 1 + (at % 4) as u32, 500)).collect()), knobs: knobs(8, 2) };
    let mut runs_left = 3;
    let mut budget = || {
        runs_left -= 1;
        runs_left >= 0
    };
    let mut still_fails = |candidate: &Candidate| candidate.plan.events.len() >= 5;
    let (minimal, ending) = Shrinker::new(&mut still_fails, &mut budget).shrink(start, &mut |_| {});
    assert_eq!(ending, Ending::OutOfBudget);
    assert!(minimal.plan.events.len() >= 5, "whatever it returns still fails");
}

#[test]
fn the_cluster_stage_never_drops_a_node_the_plan_names() {
    let start = Candidate { plan: plan(vec![isolate(100, 4, 500)]), knobs: knobs(4, 1) };
    let mut tried_nodes = Vec::new();
    let mut still_fails = |candidate: &Candidate| {
        tried_nodes.push(candidate.knobs["cluster.nodes_initial"].as_u64().unwrap());
        !candidate.plan.events.is_empty()
    };
    let mut budget = || true;
    let (minimal, _) = Shrinker::new(&mut still_fails, &mut budget).shrink(start, &mut |_| {});
    assert!(tried_nodes.iter().all(|nodes| *nodes >= 4), "a cluster without n4 was tried: {tried_nodes:?}");
    assert_eq!(minimal.knobs["cluster.nodes_initial"], Value::from(4));
}
