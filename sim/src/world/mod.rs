//! The world: the one place where actors' outputs are carried out and where every fault
//! means one thing. It owns the actors and their disks, the messages in flight, the
//! timers, the links, the workload, the oracle and the trace, and takes one vocabulary of
//! [`Event`]s through [`World::apply`]. Schedulers only decide which event comes next and
//! when: the madsim cluster (madsim's time, tasks and datagrams), the lab (a chooser), and
//! a replay of a saved [`Schedule`].

mod clock;
mod event;
mod faults;
mod fingerprint;
mod in_order;
mod network;
mod per_actor;
mod pool;
mod schedule;
mod step;

pub use clock::LocalClock;
pub use event::{Event, FaultId, MessageId, Scheduled};
pub use faults::ActiveFault;
pub use in_order::{apply_settled, boot_all, run_in_order};
pub use network::{InFlight, NetworkKnobs};
pub use per_actor::PerActor;
pub use pool::Pool;
pub use schedule::{Schedule, ScheduleError, ScheduleHeader, SCHEDULE_FORMAT};

use crate::actors::{client_address, node_address, Actors};
use crate::oracle::{Oracle, Violation};
use crate::report::Summary;
use crate::trace::Trace;
use crate::workload::Workload;
use shardsim_core::planner::Planner;
use shardsim_core::{
    ActorId, ClientId, Command, Entropy, Instant, NodeId, ProtocolConfig, SplitMix64, Timer, TimerTable,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What a world is made of; everything else happens through events.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    pub protocol: ProtocolConfig,
    /// Data nodes with a slot from the start (down until a `Boot`); others may `Join`.
    pub nodes: u32,
    pub clients: u32,
    /// Seeds the core's entropy.
    pub seed: u64,
    pub workload: Workload,
    pub check_invariants: bool,
    pub keep_trace: bool,
    /// Messages in flight at most; more are lost (the lab's bound). `None`: no bound.
    pub in_flight_max: Option<usize>,
    /// Record every applied event, to save as a schedule.
    pub record: bool,
    /// A planner of the user's instead of the configuration's built-in one.
    pub planner: Option<Arc<dyn Planner>>,
}

impl WorldConfig {
    /// A cluster that just runs, as tests, benches and examples want one: every invariant
    /// checked, no trace, no bound on messages in flight, nothing recorded, the built-in
    /// planner, and a workload spread over every shard every `write_interval_ms`.
    pub fn plain(protocol: ProtocolConfig, nodes: u32, clients: u32, seed: u64) -> WorldConfig {
        WorldConfig {
            workload: Workload::new(protocol.shard_count, 0, 10),
            protocol,
            nodes,
            clients,
            seed,
            check_invariants: true,
            keep_trace: false,
            in_flight_max: None,
            record: false,
            planner: None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub steps: u64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_lost_to_bounds: u64,
    pub inputs_rejected: u64,
}

/// What a scheduler must do after an event: carry the messages sent, sync a disk later,
/// stop or start actors (madsim kills and restarts their nodes; the lab boots at once).
#[derive(Debug, Default)]
pub struct Applied {
    pub sent: Vec<MessageId>,
    /// The actor whose disk has writes that others wait for: apply `Sync` for it.
    pub sync: Option<ActorId>,
    pub stopped: Vec<ActorId>,
    pub started: Vec<ActorId>,
    /// The fault injected, if it lasts until healed.
    pub fault: Option<FaultId>,
    /// Loss, delay or duplication changed: see [`World::network`].
    pub network_changed: bool,
}

impl Applied {
    /// Nothing for a scheduler to carry out: no message, sync, machine or network change.
    pub fn is_settled(&self) -> bool {
        self.sent.is_empty()
            && self.sync.is_none()
            && self.stopped.is_empty()
            && self.started.is_empty()
            && !self.network_changed
    }
}

/// Outputs an actor produced after a durable persist, waiting for its disk's sync.
#[derive(Clone, Debug)]
struct Held {
    now: Instant,
    effects: Vec<shardsim_core::Effect>,
}

#[derive(Clone)]
pub struct World {
    actors: Actors,
    oracle: Oracle,
    trace: Trace,
    entropy: SplitMix64,
    now: Instant,
    workload: Workload,
    check_invariants: bool,
    in_flight: Pool,
    in_flight_max: Option<usize>,
    held: PerActor<Held>,
    /// Deadlines as each actor set them: on its own clock.
    timers: PerActor<TimerTable>,
    /// Clocks that are not true (an actor without one reads true time).
    clocks: PerActor<LocalClock>,
    /// Each actor's earliest deadline in true time, kept whenever its timers or its clock
    /// change: the madsim actor loop asks for it after every event, far more often than
    /// either changes.
    next_due: PerActor<(Instant, Timer)>,
    /// Nodes that crash, tearing the entry, the next time they write a log entry.
    torn_armed: BTreeSet<ActorId>,
    /// Nodes whose next fsync fails.
    fsync_fail_armed: BTreeSet<ActorId>,
    /// Nodes whose next boot fails to read a record, with the pick that chooses it.
    read_error_armed: BTreeMap<ActorId, u64>,
    /// Targeted nemeses waiting for the next cut-over: (clock step back, stall), ms.
    cut_over_step_armed: Vec<(u64, u64)>,
    /// Faults a targeted nemesis set off during this event, injected once it is done.
    reactions: Vec<crate::faults::Fault>,
    /// Faults the world injected itself, with when they heal (no scheduler knows them).
    timed_heals: BTreeSet<(Instant, FaultId)>,
    active: BTreeMap<FaultId, ActiveFault>,
    next_fault: u64,
    blocked: BTreeSet<(ActorId, ActorId)>,
    generations: BTreeMap<NodeId, u32>,
    /// Commands for an actor that was down when they came; handed over at its boot.
    commands: PerActor<Vec<Command>>,
    violation: Option<Violation>,
    recorded: Option<Vec<Scheduled>>,
    pub stats: Stats,
    pub faults_injected: BTreeMap<String, u64>,
    pub faults_skipped: BTreeMap<String, u64>,
}

impl World {
    pub fn new(config: WorldConfig) -> World {
        let mut actors = Actors::new(config.protocol.clone());
        if let Some(planner) = config.planner {
            actors.set_planner(planner);
        }
        for node in 1..=config.nodes {
            actors.add_node(NodeId(node), node_address(NodeId(node), 0));
        }
        for client in 1..=config.clients {
            actors.add_client(ClientId(client), client_address(ClientId(client)));
        }
        World {
            actors,
            oracle: Oracle::new(config.protocol),
            trace: Trace::new(config.keep_trace),
            entropy: SplitMix64::new(config.seed),
            now: Instant::ZERO,
            workload: config.workload,
            check_invariants: config.check_invariants,
            in_flight: Pool::default(),
            in_flight_max: config.in_flight_max,
            held: PerActor::default(),
            timers: PerActor::default(),
            clocks: PerActor::default(),
            next_due: PerActor::default(),
            torn_armed: BTreeSet::new(),
            fsync_fail_armed: BTreeSet::new(),
            read_error_armed: BTreeMap::new(),
            cut_over_step_armed: Vec::new(),
            reactions: Vec::new(),
            timed_heals: BTreeSet::new(),
            active: BTreeMap::new(),
            next_fault: 0,
            blocked: BTreeSet::new(),
            generations: BTreeMap::new(),
            commands: PerActor::default(),
            violation: None,
            recorded: config.record.then(Vec::new),
            stats: Stats::default(),
            faults_injected: BTreeMap::new(),
            faults_skipped: BTreeMap::new(),
        }
    }

    /// Applies one event at `at` (time never goes back). Once an invariant is broken the
    /// world takes no more events: the run is over.
    pub fn apply(&mut self, at: Instant, event: Event) -> Applied {
        let mut applied = Applied::default();
        if self.violation.is_some() {
            return applied;
        }
        self.now = self.now.max(at);
        if let Some(recorded) = &mut self.recorded {
            recorded.push(Scheduled { at_ms: self.now.as_ms(), event: event.clone() });
        }
        self.heal_due(&mut applied);
        match event {
            Event::Boot { actor } => self.boot(actor, &mut applied),
            Event::Deliver { message } => self.deliver(message, &mut applied),
            Event::Drop { message } => self.drop_message(message),
            Event::Duplicate { message } => self.duplicate(message, &mut applied),
            Event::Sync { actor } => self.sync(actor, &mut applied),
            Event::FireTimer { actor, timer } => {
                if let Some(table) = self.timers.get_mut(actor) {
                    table.stop(timer);
                }
                self.refresh_next_due(actor);
                self.step(actor, shardsim_core::Input::Timeout(timer), &mut applied);
            }
            Event::ClientWrite { client, shard, entity, payload } => {
                let payload = bytes::Bytes::copy_from_slice(&payload.to_le_bytes());
                let command = Command::Write { shard, entity, payload };
                self.step(ActorId::Client(client), shardsim_core::Input::Command(&command), &mut applied);
            }
            Event::Datagram { to, from, bytes } => {
                self.step(to, shardsim_core::Input::Datagram { from, bytes: &bytes }, &mut applied)
            }
            Event::Inject { fault } => self.inject(&fault, &mut applied),
            Event::Heal { fault } => self.heal(fault, &mut applied),
            Event::HealAll => self.heal_all(&mut applied),
            Event::StartLiveness => {
                self.heal_all(&mut applied);
                self.disarm_all();
                self.oracle.start_liveness(self.now);
                self.workload.sweeping = true;
                self.note(crate::trace::LIVENESS_PHASE_ACTION);
            }
        }
        self.react(&mut applied);
        applied
    }

    fn note(&mut self, action: &str) {
        tracing::info!(target: "nemesis", "{action}");
        self.trace.nemesis(self.now, action);
        self.oracle.note_nemesis(self.now, action);
    }

    fn fail(&mut self, violation: Violation) {
        tracing::warn!(invariant = %violation.invariant, "{}", violation.message);
        self.violation = Some(violation);
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Moves time forward without an event (the lab's "advance time").
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    pub fn actors(&self) -> &Actors {
        &self.actors
    }

    /// The supervisor's liveness check found the cluster converged or not (see
    /// [`Oracle::note_converged`]); not an event: it changes no actor.
    pub fn note_converged(&mut self, at: Instant, converged: bool) {
        self.oracle.note_converged(at, converged);
    }

    pub fn oracle(&self) -> &Oracle {
        &self.oracle
    }

    /// See [`Oracle::drop_evidence`].
    pub fn drop_evidence(&mut self) {
        self.oracle.drop_evidence();
    }

    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    pub fn take_violation(&mut self) -> Option<Violation> {
        self.violation.take()
    }

    /// The actor's earliest deadline (in true time) and its timer's name.
    pub fn next_timer(&self, actor: ActorId) -> Option<(Instant, Timer)> {
        let due = self.next_due.get(actor).copied();
        debug_assert_eq!(due, self.next_due_now(actor), "{actor}'s earliest deadline was not kept");
        due
    }

    fn next_due_now(&self, actor: ActorId) -> Option<(Instant, Timer)> {
        let (at, timer) = self.timers.get(actor).and_then(TimerTable::next)?;
        Some((self.true_deadline(actor, at), timer))
    }

    /// Recomputes `actor`'s earliest deadline: after its timers or its clock changed.
    fn refresh_next_due(&mut self, actor: ActorId) {
        match self.next_due_now(actor) {
            Some(due) => self.next_due.insert(actor, due),
            None => self.next_due.remove(actor),
        };
    }

    /// When (in true time) `actor`'s `timer` is due, if it is set.
    pub fn timer_deadline(&self, actor: ActorId, timer: Timer) -> Option<Instant> {
        let at = self.timers.get(actor)?.get(timer)?;
        Some(self.true_deadline(actor, at))
    }

    /// The clocks that are not true.
    pub fn clocks(&self) -> &PerActor<LocalClock> {
        &self.clocks
    }

    /// What `actor`'s clock reads now.
    pub fn local_now(&self, actor: ActorId) -> Instant {
        self.clocks.get(actor).map_or(self.now, |clock| clock.local(self.now))
    }

    /// When a deadline set on `actor`'s clock comes due in true time (at once if its
    /// clock already reads past it).
    fn true_deadline(&self, actor: ActorId, local: Instant) -> Instant {
        self.clocks.get(actor).map_or(local, |clock| clock.true_time_of(local))
    }

    /// Every deadline of every actor (in true time), in the order they fire: by time,
    /// then actor, then timer name.
    pub fn timer_order(&self) -> Vec<(Instant, ActorId, Timer)> {
        let mut order: Vec<(Instant, ActorId, Timer)> = self
            .timers
            .iter()
            .flat_map(|(actor, table)| {
                table.iter().map(move |(at, timer)| (self.true_deadline(actor, at), actor, timer))
            })
            .collect();
        order.sort();
        order
    }

    pub fn in_flight(&self) -> &Pool {
        &self.in_flight
    }

    pub fn blocked(&self) -> &BTreeSet<(ActorId, ActorId)> {
        &self.blocked
    }

    /// The workload's next write for `client` and how long until the one after: draws a
    /// scheduler makes with its own entropy, so the event carries all it decided.
    /// Whether `client` would refuse a write now as one too many pending (a client that
    /// is down takes writes: they wait for its boot).
    pub fn client_is_full(&self, client: ClientId) -> bool {
        let slot = self.actors.clients.get(&client);
        slot.and_then(|slot| slot.actor.as_ref()).is_some_and(|client| !client.takes_writes())
    }

    pub fn draw_client_write(&mut self, client: ClientId, entropy: &mut dyn Entropy) -> (Event, u64) {
        let (shard, entity) = self.workload.next_write(entropy);
        let payload = entropy.next_u64();
        let interval_ms = self.next_write_interval_ms(entropy);
        (Event::ClientWrite { client, shard, entity, payload }, interval_ms)
    }

    /// How long a client's workload waits before its next write.
    pub fn next_write_interval_ms(&self, entropy: &mut dyn Entropy) -> u64 {
        self.workload.next_interval_ms(entropy)
    }

    pub fn trace_hash(&self) -> u64 {
        self.trace.hash()
    }

    pub fn take_trace_lines(&mut self) -> Option<Vec<String>> {
        self.trace.take_lines()
    }

    pub fn take_recorded(&mut self) -> Option<Vec<Scheduled>> {
        self.recorded.take()
    }

    /// What the run did, for its report.
    pub fn summary(&self) -> Summary {
        let counters = &self.oracle.facts().counters;
        let mut shards_per_node = BTreeMap::new();
        if let Some(coordinator) = self.actors.coordinator.actor.as_ref() {
            for (_, route) in coordinator.routing().iter() {
                *shards_per_node.entry(route.owner.to_string()).or_default() += 1;
            }
        }
        Summary {
            faults_injected: self.faults_injected.clone(),
            faults_skipped: self.faults_skipped.clone(),
            migrations_started: counters.migrations_started,
            migrations_completed: counters.migrations_completed,
            migrations_aborted: counters.migrations_aborted.clone(),
            writes_acked: counters.writes_acked,
            writes_abandoned: counters.writes_abandoned,
            shards_per_node,
            node_boots: counters.node_boots,
            coordinator_boots: counters.coordinator_boots,
            simulated_ms: self.now.as_ms(),
            steps: self.stats.steps,
            messages_sent: self.stats.messages_sent,
            messages_delivered: self.stats.messages_delivered,
            inputs_rejected: self.stats.inputs_rejected,
            coverage: self.oracle.facts().coverage.counts().clone(),
            convergence: self.oracle.convergence(&self.actors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anything a scheduler must carry out makes an event's outcome unsettled.
    #[test]
    fn an_outcome_is_settled_only_with_nothing_to_carry_out() {
        assert!(Applied::default().is_settled());
        let unsettled = [
            Applied { sent: vec![MessageId(1)], ..Applied::default() },
            Applied { sync: Some(ActorId::Coordinator), ..Applied::default() },
            Applied { stopped: vec![ActorId::Coordinator], ..Applied::default() },
            Applied { started: vec![ActorId::Coordinator], ..Applied::default() },
            Applied { network_changed: true, ..Applied::default() },
        ];
        for applied in unsettled {
            assert!(!applied.is_settled(), "{applied:?}");
        }
    }
}
