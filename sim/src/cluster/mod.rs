//! The madsim cluster: one madsim node per actor, datagrams over `madsim::net::Endpoint`,
//! partitions as clogged links, crashes as `Handle::kill` then `restart`, disks kept in
//! the harness so they outlive a kill. A run is a safety phase under the fault plan, then
//! a liveness phase with everything healed.

mod actor_task;
pub mod baseline;
mod nemesis;
mod world;

use crate::actors::{client_address, node_address, Actors};
use crate::oracle::Oracle;
use crate::report::{Summary, Verdict};
use crate::simulation::{RunOutcome, RunSpec};
use crate::trace::Trace;
use crate::workload::Workload;
use actor_task::{run_actor, socket_address};
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Duration};
use nemesis::Nemesis;
use shardsim_core::{ActorId, ClientId, NodeId};
use std::collections::BTreeMap;
use world::{SharedWorld, Stats, World};

/// How often the supervisor looks at the clock, the plan and the verdict.
const SUPERVISOR_POLL_MS: u64 = 50;
/// How often the liveness phase checks whether the cluster has converged.
const LIVENESS_CHECK_MS: u64 = 500;
/// Liveness holds only once it held at this many checks in a row (it must stay).
const LIVENESS_CHECKS_IN_A_ROW: u32 = 2;

/// Runs one seed to its verdict. Panics (from the core's assertions) propagate: the
/// caller runs this on its own thread and reports them as a crash.
pub fn run(spec: &RunSpec) -> RunOutcome {
    let mut runtime = Runtime::with_seed_and_config(spec.seed, madsim::Config::default());
    let limit_ms = spec.scenario.safety_ms + spec.scenario.liveness_bound_for_knobs_ms() + 30_000;
    runtime.set_time_limit(Duration::from_millis(limit_ms));
    let spec = spec.clone();
    runtime.block_on(supervise(spec))
}

fn spawn_actor(world: &SharedWorld, handle: &Handle, actor: ActorId) -> madsim::task::NodeId {
    let address = world.lock().actors.address(actor);
    let for_task = world.clone();
    handle
        .create_node()
        .name(actor.to_string())
        .ip(socket_address(address).ip())
        .init(move || run_actor(for_task.clone(), actor))
        .build()
        .id()
}

async fn supervise(spec: RunSpec) -> RunOutcome {
    let scenario = &spec.scenario;
    let mut protocol = scenario.protocol.clone();
    protocol.canaries = spec.canaries.clone();
    let mut actors = Actors::new(protocol.clone());
    for node in 1..=scenario.nodes_initial {
        actors.add_node(NodeId(node), node_address(NodeId(node), 0));
    }
    for client in 1..=scenario.clients {
        actors.add_client(ClientId(client), client_address(ClientId(client)));
    }
    let world = SharedWorld::new(World {
        actors,
        oracle: Oracle::new(protocol.clone()),
        trace: Trace::new(spec.keep_trace),
        violation: None,
        workload: Workload {
            idle_permille: scenario.client_idle_permille,
            ..Workload::new(protocol.shard_count, scenario.hot_share_permille, scenario.write_interval_ms)
        },
        duplicate_permille: 0,
        commands: BTreeMap::new(),
        stats: Stats::default(),
        started: madsim::time::Instant::now(),
        madsim_nodes: BTreeMap::new(),
        check_invariants: spec.check_invariants,
    });
    let handle = Handle::current();
    let everyone = world.lock().actors.actor_ids();
    for actor in everyone {
        let id = spawn_actor(&world, &handle, actor);
        world.lock().madsim_nodes.insert(actor, id);
    }
    let spawner = {
        let (world, handle) = (world.clone(), handle.clone());
        Box::new(move |actor| spawn_actor(&world, &handle, actor))
    };
    let mut nemesis = Nemesis::new(world.clone(), spawner);

    // Safety phase: the plan's faults, each healing after its own time.
    let mut heals: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut next_event = 0;
    loop {
        let now = world.lock().now().as_ms();
        while let Some(event) = spec.plan.events.get(next_event).filter(|event| event.at_ms <= now) {
            if let (Some(id), Some(after_ms)) = (nemesis.inject(&event.fault), event.fault.heals_after_ms()) {
                heals.insert((event.at_ms + after_ms, id), id);
            }
            next_event += 1;
        }
        while let Some((&(at_ms, key), &id)) = heals.first_key_value() {
            if at_ms > now {
                break;
            }
            heals.remove(&(at_ms, key));
            nemesis.heal(id);
        }
        if world.lock().violation.is_some() || now >= scenario.safety_ms {
            break;
        }
        sleep(Duration::from_millis(SUPERVISOR_POLL_MS.min(scenario.safety_ms - now))).await;
    }

    // Liveness phase: everything heals; the cluster must converge within the bound.
    let mut verdict = None;
    if let Some(duration_ms) = spec.liveness_fixed_ms.filter(|_| world.lock().violation.is_none()) {
        nemesis.heal_all();
        sleep(Duration::from_millis(duration_ms)).await;
        verdict = Some(Verdict::Pass);
    }
    if verdict.is_none() && world.lock().violation.is_none() {
        nemesis.heal_all();
        let liveness_started = {
            let mut world = world.lock();
            let now = world.now();
            world.oracle.start_liveness(now);
            world.workload.sweeping = true;
            world.nemesis_note("liveness phase: all faults healed");
            now
        };
        let mut in_a_row = 0;
        // A cluster that flaps between converged and not fails with what was unmet last.
        let mut last_unmet = Vec::new();
        loop {
            sleep(Duration::from_millis(LIVENESS_CHECK_MS)).await;
            let world = world.lock();
            if world.violation.is_some() {
                break;
            }
            let now = world.now();
            let unmet = world.oracle.liveness_unmet(&world.actors);
            in_a_row = if unmet.is_empty() { in_a_row + 1 } else { 0 };
            if !unmet.is_empty() {
                last_unmet = unmet.clone();
            }
            if in_a_row >= LIVENESS_CHECKS_IN_A_ROW {
                verdict = Some(match world.oracle.final_check(now, &world.actors) {
                    Ok(()) => Verdict::Pass,
                    Err(violation) => Verdict::from_violation(violation),
                });
                break;
            }
            if now.ms_since(liveness_started) >= scenario.liveness_bound_for_knobs_ms() {
                let unmet = if unmet.is_empty() { last_unmet } else { unmet };
                verdict = Some(Verdict::from_violation(world.oracle.liveness_violation(now, unmet)));
                break;
            }
        }
    }
    let mut world = world.lock();
    let verdict = match (world.violation.take(), verdict) {
        (Some(violation), _) => Verdict::from_violation(violation),
        (None, Some(verdict)) => verdict,
        (None, None) => Verdict::Pass,
    };
    let summary = summarize(&world, &nemesis);
    RunOutcome { verdict, summary, trace_hash: world.trace.hash(), trace_lines: world.trace.take_lines() }
}

fn summarize(world: &World, nemesis: &Nemesis) -> Summary {
    let counters = &world.oracle.facts().counters;
    let mut shards_per_node = BTreeMap::new();
    if let Some(coordinator) = world.actors.coordinator.actor.as_ref() {
        for (_, route) in coordinator.routing().iter() {
            *shards_per_node.entry(route.owner.to_string()).or_default() += 1;
        }
    }
    Summary {
        faults_injected: nemesis.injected.clone(),
        faults_skipped: nemesis.skipped.clone(),
        migrations_started: counters.migrations_started,
        migrations_completed: counters.migrations_completed,
        migrations_aborted: counters.migrations_aborted.clone(),
        writes_acked: counters.writes_acked,
        writes_abandoned: counters.writes_abandoned,
        shards_per_node,
        node_boots: counters.node_boots,
        coordinator_boots: counters.coordinator_boots,
        simulated_ms: world.now().as_ms(),
        steps: world.stats.steps,
        messages_sent: world.stats.messages_sent,
        messages_delivered: world.stats.messages_delivered,
        inputs_rejected: world.stats.inputs_rejected,
        receive_buffer_drops: world.stats.receive_buffer_drops,
        coverage: world.oracle.facts().coverage.counts().clone(),
    }
}
