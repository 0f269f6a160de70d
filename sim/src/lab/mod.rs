//! The lab: the same actors and disks as the madsim cluster, in memory, where every step
//! is a choice — deliver, drop or duplicate a message, fire a timer, crash, restart,
//! change identity, partition, heal, advance time, write. The oracle runs after every
//! step. Needs no madsim: fuzz targets and exhaustive search drive it.

mod choice;
mod config;
pub mod explore;
pub mod fuzz;

pub use choice::{choice_of, ByteChooser, Choice};
pub use config::LabConfig;

use crate::actors::{client_address, node_address, Actors};
use crate::oracle::{Oracle, Violation};
use bytes::Bytes;
use shardsim_core::{ActorId, Address, ClientId, Command, Input, Instant, NodeId, Output, SplitMix64};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub from: Address,
    pub to: Address,
    pub bytes: Bytes,
}

const CLIENT: ClientId = ClientId(1);
/// A single AdvanceTime moves at most this far.
const ADVANCE_MS_MAX: u64 = 1_000;

#[derive(Clone)]
pub struct Lab {
    config: LabConfig,
    actors: Actors,
    oracle: Oracle,
    now: Instant,
    in_flight: Vec<InFlight>,
    timers: BTreeMap<ActorId, Instant>,
    blocked: BTreeSet<(ActorId, ActorId)>,
    generations: BTreeMap<NodeId, u32>,
    entropy: SplitMix64,
    writes: u64,
    pub steps: u64,
    pub messages_lost_to_bounds: u64,
}

impl Lab {
    /// Boots the coordinator, the client and every node but the spares, at time zero.
    pub fn new(config: LabConfig) -> Lab {
        let protocol = config.protocol();
        let mut actors = Actors::new(protocol.clone());
        for node in 1..=config.nodes {
            actors.add_node(NodeId(node), node_address(NodeId(node), 0));
        }
        actors.add_client(CLIENT, client_address(CLIENT));
        let mut lab = Lab {
            entropy: SplitMix64::new(config.seed),
            oracle: Oracle::new(protocol),
            actors,
            config,
            now: Instant::ZERO,
            in_flight: Vec::new(),
            timers: BTreeMap::new(),
            blocked: BTreeSet::new(),
            generations: BTreeMap::new(),
            writes: 0,
            steps: 0,
            messages_lost_to_bounds: 0,
        };
        let first_spare = lab.config.nodes - lab.config.spare_nodes.min(lab.config.nodes) + 1;
        let booting: Vec<ActorId> = lab
            .actors
            .actor_ids()
            .into_iter()
            .filter(|actor| !matches!(actor, ActorId::Node(node) if node.0 >= first_spare))
            .collect();
        for actor in booting {
            lab.boot(actor).expect("booting a fresh cluster breaks nothing");
        }
        lab
    }

    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    pub fn actors(&self) -> &Actors {
        &self.actors
    }

    pub fn oracle(&self) -> &Oracle {
        &self.oracle
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    pub fn in_flight(&self) -> &[InFlight] {
        &self.in_flight
    }

    pub fn timers(&self) -> &BTreeMap<ActorId, Instant> {
        &self.timers
    }

    /// [coordinator, n1, n2, ...]: what Crash, Restart and Partition index.
    fn servers(&self) -> Vec<ActorId> {
        std::iter::once(ActorId::Coordinator).chain(self.actors.nodes.keys().map(|node| ActorId::Node(*node))).collect()
    }

    /// Pending timers in the order FireTimer indexes them: by deadline, then actor.
    pub fn timer_order(&self) -> Vec<(Instant, ActorId)> {
        let mut order: Vec<(Instant, ActorId)> = self.timers.iter().map(|(actor, at)| (*at, *actor)).collect();
        order.sort();
        order
    }

    fn boot(&mut self, actor: ActorId) -> Result<(), Violation> {
        let (result, outputs) = self.actors.boot(actor, self.now, &mut self.entropy);
        result.expect("boot from the lab's own disks");
        self.carry_out(actor, outputs)
    }

    fn input(&mut self, actor: ActorId, input: Input<'_>) -> Result<(), Violation> {
        if !self.actors.is_up(actor) {
            return Ok(());
        }
        let (_, outputs) = self.actors.handle(actor, self.now, input, &mut self.entropy);
        self.carry_out(actor, outputs)
    }

    /// Outputs take effect at once: a durable persist is synced before the next output.
    fn carry_out(&mut self, actor: ActorId, outputs: Vec<Output>) -> Result<(), Violation> {
        for output in outputs {
            match output {
                Output::Persist { op, durable } => {
                    let disk = self.actors.disk_mut(actor);
                    disk.write(op);
                    if durable {
                        disk.sync();
                    }
                }
                Output::Send { to, bytes } => {
                    let destination = self.actors.actor_at(to);
                    if destination.is_some_and(|destination| self.blocked.contains(&(actor, destination))) {
                        continue;
                    }
                    if self.in_flight.len() >= self.config.in_flight_max {
                        self.messages_lost_to_bounds += 1;
                        continue;
                    }
                    self.in_flight.push(InFlight { from: self.actors.address(actor), to, bytes });
                }
                Output::SetTimer { at } => {
                    self.timers.insert(actor, at);
                }
                Output::Observe(observation) if self.config.check_invariants => {
                    self.oracle.observe(self.now, actor, &observation, &self.actors)?
                }
                Output::Observe(_) => {}
            }
        }
        if !self.config.check_invariants {
            return Ok(());
        }
        self.oracle.after_step(self.now, actor, &self.actors)
    }

    /// One step. The oracle has checked every invariant when it returns.
    pub fn apply(&mut self, choice: Choice) -> Result<(), Violation> {
        self.steps += 1;
        let servers = self.servers();
        let pick = |index: u16, len: usize| (len > 0).then(|| index as usize % len);
        match choice {
            Choice::Deliver(index) => {
                let Some(position) = pick(index, self.in_flight.len()) else { return Ok(()) };
                let message = self.in_flight.remove(position);
                if let Some(actor) = self.actors.actor_at(message.to) {
                    self.input(actor, Input::Datagram { from: message.from, bytes: &message.bytes })?;
                }
            }
            Choice::Drop(index) => {
                if let Some(position) = pick(index, self.in_flight.len()) {
                    self.in_flight.remove(position);
                }
            }
            Choice::Duplicate(index) => {
                if let Some(position) = pick(index, self.in_flight.len()) {
                    if self.in_flight.len() < self.config.in_flight_max {
                        self.in_flight.push(self.in_flight[position].clone());
                    }
                }
            }
            Choice::FireTimer(index) => {
                // Any timer already due may fire first; otherwise time moves to the
                // earliest deadline. Time never skips a deadline: a pause is a crash's job.
                let order = self.timer_order();
                let due = order.iter().filter(|(at, _)| *at <= self.now).count().max(1);
                let Some(position) = pick(index, due.min(order.len())) else { return Ok(()) };
                let (at, actor) = order[position];
                self.now = self.now.max(at);
                self.timers.remove(&actor);
                self.input(actor, Input::Tick)?;
            }
            Choice::AdvanceTime(ms) => self.now = self.now.plus_ms(u64::from(ms).min(ADVANCE_MS_MAX)),
            Choice::Crash(index) => {
                let Some(position) = pick(index, servers.len()) else { return Ok(()) };
                let actor = servers[position];
                if self.actors.is_up(actor) {
                    self.actors.crash(actor);
                    self.timers.remove(&actor);
                }
            }
            Choice::Restart(index) => {
                let Some(position) = pick(index, servers.len()) else { return Ok(()) };
                let actor = servers[position];
                if !self.actors.is_up(actor) {
                    self.boot(actor)?;
                }
            }
            Choice::ChangeIdentity(index) => {
                let nodes: Vec<NodeId> = self.actors.nodes.keys().copied().collect();
                let Some(position) = pick(index, nodes.len()) else { return Ok(()) };
                let node = nodes[position];
                let actor = ActorId::Node(node);
                if self.actors.is_up(actor) {
                    self.actors.crash(actor);
                    self.timers.remove(&actor);
                }
                if self.actors.owns_no_shard(node) {
                    let generation = self.generations.entry(node).or_default();
                    *generation += 1;
                    self.actors.replace(node, node_address(node, *generation));
                }
                self.boot(actor)?;
            }
            Choice::Partition(first, second) => {
                let (Some(a), Some(b)) = (pick(first, servers.len()), pick(second, servers.len())) else {
                    return Ok(());
                };
                if a != b {
                    self.blocked.insert((servers[a], servers[b]));
                    self.blocked.insert((servers[b], servers[a]));
                }
            }
            Choice::Heal => self.blocked.clear(),
            Choice::ClientWrite(index) => {
                let shard = shardsim_core::ShardId(u32::from(index) % self.config.shards.max(1));
                self.writes += 1;
                // Two entities per shard: handoffs and restarts have something to carry.
                let entity = shardsim_core::EntityKey((u32::from(index) / self.config.shards.max(1)) % 2);
                let payload = Bytes::from(self.writes.to_le_bytes().to_vec());
                let command = Command::Write { shard, entity, payload };
                self.input(ActorId::Client(CLIENT), Input::Command(&command))?;
            }
            Choice::Decommission(index) => {
                let nodes: Vec<NodeId> = self.actors.nodes.keys().copied().collect();
                if let Some(position) = pick(index, nodes.len()) {
                    let command = Command::Decommission { node: nodes[position] };
                    self.input(ActorId::Coordinator, Input::Command(&command))?;
                }
            }
        }
        Ok(())
    }

    /// Applies choices until one breaks an invariant or the step bound; returns how many
    /// were applied, and the violation with the index of the choice that caused it.
    pub fn run(&mut self, choices: impl IntoIterator<Item = Choice>) -> Result<usize, (usize, Violation)> {
        let mut applied = 0;
        for choice in choices.into_iter().take(self.config.steps_max) {
            self.apply(choice).map_err(|violation| (applied, violation))?;
            applied += 1;
        }
        Ok(applied)
    }

    /// A fingerprint of everything that decides the future: actors' memory, durable disks,
    /// messages in flight (as a multiset), timers relative to now, partitions.
    pub fn state_hash(&self) -> u64 {
        let mut text = String::new();
        let _ = write!(
            text,
            "{:?}{:?}{:?}",
            self.actors.coordinator.actor,
            self.actors.coordinator.disk.durable(),
            self.blocked
        );
        for (node, slot) in &self.actors.nodes {
            let _ = write!(text, "{node}{:?}{:?}{}", slot.actor, slot.disk.durable(), slot.address);
        }
        for slot in self.actors.clients.values() {
            let _ = write!(text, "{:?}", slot.actor);
        }
        let mut messages: Vec<&InFlight> = self.in_flight.iter().collect();
        messages.sort_by(|a, b| (a.to, a.from, &a.bytes[..]).cmp(&(b.to, b.from, &b.bytes[..])));
        let _ = write!(text, "{messages:?}");
        for (actor, at) in &self.timers {
            let _ = write!(text, "{actor}{}", at.as_ms().saturating_sub(self.now.as_ms()));
        }
        fnv(text.as_bytes())
    }

    /// Drives the cluster the plain way — every message delivered in order, every timer
    /// fired when due — until `done` holds or `steps_max` steps pass. For warm-ups.
    pub fn settle(&mut self, steps_max: usize, mut done: impl FnMut(&Lab) -> bool) -> Result<bool, Violation> {
        for _ in 0..steps_max {
            if done(self) {
                return Ok(true);
            }
            let choice = if self.in_flight.is_empty() { Choice::FireTimer(0) } else { Choice::Deliver(0) };
            self.apply(choice)?;
        }
        Ok(done(self))
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
