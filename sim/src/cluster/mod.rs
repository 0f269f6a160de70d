//! The madsim cluster: a scheduler for the [world](crate::world). One madsim node per
//! actor, messages as datagrams over `madsim::net::Endpoint`, crashes as `Handle::kill`
//! then `restart`; madsim decides when things happen and in what order, the world does
//! the rest. A run is a safety phase under the fault plan, then a liveness phase with
//! everything healed.

mod actor_task;
mod alarm;
pub mod baseline;
mod carry;
mod inbox;
mod machines;
mod shared;
mod teardown;

use crate::report::Verdict;
use crate::run::{RunOutcome, RunSpec};
use crate::world::{Applied, Event, FaultId, World};
use carry::carry;
use machines::Machines;
use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Duration};
use shardsim_core::Address;
use shared::SharedWorld;
use std::collections::BTreeMap;
use teardown::Trail;

/// How often the supervisor looks at the clock, the plan and the verdict.
const SUPERVISOR_POLL_MS: u64 = 50;
/// How often the liveness phase checks whether the cluster has converged.
const LIVENESS_CHECK_MS: u64 = 500;
/// Liveness holds only once it held at this many checks in a row (it must stay).
const LIVENESS_CHECKS_IN_A_ROW: u32 = 2;
/// Where the supervisor sends from (an operator's command makes the coordinator send).
const SUPERVISOR_ADDRESS: Address = Address { ip: [10, 0, 9, 1], port: 7000 };

/// Runs one seed to its verdict. Panics (from the core's assertions) propagate: the
/// caller runs this on its own thread and reports them as a crash.
pub fn run(spec: &RunSpec) -> RunOutcome {
    let (outcome, trail) = run_and_free(spec);
    // A sweep runs seeds by the million on one process: a run must not keep its world.
    assert!(!trail.world_alive(), "the harness kept the world of seed {} after its run", spec.seed);
    outcome
}

/// [`run`], and the trail of what it made, freed: whether the run ended or panicked,
/// madsim still held the tasks that waited on its timers, and with them the world.
fn run_and_free(spec: &RunSpec) -> (RunOutcome, Trail) {
    let mut runtime = Runtime::with_seed_and_config(spec.seed, madsim::Config::default());
    let limit_ms = spec.scenario.safety_ms + spec.scenario.liveness_bound_for_knobs_ms() + 30_000;
    runtime.set_time_limit(Duration::from_millis(limit_ms));
    let (spec, trail) = (spec.clone(), Trail::default());
    let for_run = trail.clone();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(async move {
            let supervisor = Handle::current()
                .create_node()
                .name("supervisor")
                .ip(carry::socket_address(SUPERVISOR_ADDRESS).ip())
                .build();
            for_run.supervisor_made(supervisor.id());
            supervisor.spawn(supervise(spec, for_run)).await.expect("the supervisor runs to its end")
        })
    }));
    trail.free(&runtime);
    match ran {
        Ok(outcome) => (outcome, trail),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The supervisor's hands: applies an event now and carries out all it asked for.
struct Supervisor {
    world: SharedWorld,
    machines: Machines,
    endpoint: Endpoint,
}

impl Supervisor {
    async fn apply(&self, event: Event) -> Option<FaultId> {
        let applied: Applied = self.world.lock().apply(event);
        let fault = applied.fault;
        carry(&self.world, &self.endpoint, applied).await;
        fault
    }

    fn has_verdict(&self) -> bool {
        self.world.lock().world.violation().is_some()
    }
}

async fn supervise(spec: RunSpec, trail: Trail) -> RunOutcome {
    let world = SharedWorld::new(World::new(spec.world_config()));
    trail.world_made(&world);
    let endpoint =
        Endpoint::bind(carry::socket_address(SUPERVISOR_ADDRESS)).await.expect("the supervisor's address is free");
    let supervisor = Supervisor { machines: Machines::new(world.clone()), world: world.clone(), endpoint };
    let everyone = world.lock().world.actors().actor_ids();
    for actor in everyone {
        supervisor.machines.spawn(actor);
    }
    safety_phase(&spec, &supervisor).await;
    let verdict = liveness_phase(&spec, &supervisor).await;
    let mut shared = world.lock();
    let verdict = match (shared.world.take_violation(), verdict) {
        (Some(violation), _) => Verdict::from_violation(violation),
        (None, Some(verdict)) => verdict,
        (None, None) => Verdict::Pass,
    };
    let world = &mut shared.world;
    RunOutcome {
        verdict,
        summary: world.summary(),
        trace_hash: world.trace_hash(),
        trace_lines: world.take_trace_lines(),
        schedule: world.take_recorded(),
    }
}

/// The plan's faults, each healing after its own time.
async fn safety_phase(spec: &RunSpec, supervisor: &Supervisor) {
    let safety_ms = spec.scenario.safety_ms;
    let mut heals: BTreeMap<(u64, FaultId), ()> = BTreeMap::new();
    let mut next_event = 0;
    loop {
        let now = supervisor.world.lock().now().as_ms();
        while let Some(event) = spec.plan.events.get(next_event).filter(|event| event.at_ms <= now) {
            let fault = supervisor.apply(Event::Inject { fault: event.fault.clone() }).await;
            if let (Some(id), Some(after_ms)) = (fault, event.fault.heals_after_ms()) {
                heals.insert((event.at_ms + after_ms, id), ());
            }
            next_event += 1;
        }
        while let Some((&(at_ms, id), _)) = heals.first_key_value() {
            if at_ms > now {
                break;
            }
            heals.remove(&(at_ms, id));
            supervisor.apply(Event::Heal { fault: id }).await;
        }
        if supervisor.has_verdict() || now >= safety_ms {
            return;
        }
        sleep(Duration::from_millis(SUPERVISOR_POLL_MS.min(safety_ms - now))).await;
    }
}

/// Everything heals; the cluster must converge within the bound. `None` when the safety
/// phase already broke an invariant.
async fn liveness_phase(spec: &RunSpec, supervisor: &Supervisor) -> Option<Verdict> {
    if supervisor.has_verdict() {
        return None;
    }
    if let Some(duration_ms) = spec.liveness_fixed_ms {
        supervisor.apply(Event::HealAll).await;
        sleep(Duration::from_millis(duration_ms)).await;
        return Some(Verdict::Pass);
    }
    supervisor.apply(Event::StartLiveness).await;
    let liveness_started = supervisor.world.lock().now();
    let mut in_a_row = 0;
    // A cluster that flaps between converged and not fails with what was unmet last.
    let mut last_unmet = Vec::new();
    loop {
        sleep(Duration::from_millis(LIVENESS_CHECK_MS)).await;
        let mut shared = supervisor.world.lock();
        if shared.world.violation().is_some() {
            return None;
        }
        let now = shared.now();
        let unmet = shared.world.oracle().liveness_unmet(shared.world.actors());
        shared.world.note_converged(now, unmet.is_empty());
        let (oracle, actors) = (shared.world.oracle(), shared.world.actors());
        in_a_row = if unmet.is_empty() { in_a_row + 1 } else { 0 };
        if !unmet.is_empty() {
            last_unmet = unmet.clone();
        }
        if in_a_row >= LIVENESS_CHECKS_IN_A_ROW {
            return Some(match oracle.final_check(now, actors) {
                Ok(()) => Verdict::Pass,
                Err(violation) => Verdict::from_violation(violation),
            });
        }
        if now.ms_since(liveness_started) >= spec.scenario.liveness_bound_for_knobs_ms() {
            let unmet = if unmet.is_empty() { last_unmet } else { unmet };
            return Some(Verdict::from_violation(oracle.liveness_violation(now, unmet)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ScenarioName;
    use crate::simulation::Simulation;

    /// The world goes when the run ends, even from a run whose nodes crashed and
    /// restarted: madsim keeps a runtime whose tasks wait on its timers (and each node's
    /// restart closure) for good, and they held the world, a megabyte a seed over a sweep.
    #[test]
    fn a_run_frees_its_world() {
        let simulation = Simulation::new(3590).scenario(ScenarioName::Swarm);
        let spec = simulation.spec();
        let (outcome, trail) = run_and_free(&spec);
        let nodes_at_start = u64::from(spec.scenario.nodes_total());
        assert!(outcome.summary.node_boots > nodes_at_start, "a node restarted: {:?}", outcome.summary);
        assert!(!trail.world_alive(), "the world outlived its run");
    }
}
