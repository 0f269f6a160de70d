//! The lab: the same actors and disks as the madsim cluster, in memory, where every step
//! is a choice — deliver, drop or duplicate a message, fire a timer, crash, restart,
//! change identity, partition, heal, advance time, write. The oracle runs after every
//! step. Needs no madsim: fuzz targets and exhaustive search drive it.

mod choice;
mod config;
pub mod explore;
pub mod fuzz;
pub mod replay;
pub mod search;

pub use choice::{choice_of, ByteChooser, Choice};
pub use config::LabConfig;

use crate::actors::Actors;
use crate::faults::{Fault, Target};
use crate::fingerprint::{Encoder, Relabel};
use crate::oracle::{Oracle, Violation};
use crate::world::{apply_settled, Event, MessageId, Pool, World, WorldConfig};
use shardsim_core::{ActorId, ClientId, Instant, NodeId, Timer};
use std::collections::BTreeSet;

const CLIENT: ClientId = ClientId(1);
/// A single AdvanceTime moves at most this far.
const ADVANCE_MS_MAX: u64 = 1_000;

/// A scheduler for the [world](crate::world) where a chooser picks every event. Disks
/// sync as soon as they are asked to and a stopped actor that may start boots at once,
/// so every choice is one step of the cluster.
#[derive(Clone)]
pub struct Lab {
    config: LabConfig,
    world: World,
    writes: u64,
    /// Nodes the lab asked the coordinator to decommission: out of service for good.
    decommissioned: BTreeSet<NodeId>,
    pub steps: u64,
}

impl Lab {
    /// Boots the coordinator, the client and every node but the spares, at time zero.
    pub fn new(config: LabConfig) -> Lab {
        let protocol = config.protocol();
        let world = World::new(WorldConfig {
            check_invariants: config.check_invariants,
            in_flight_max: Some(config.in_flight_max),
            ..WorldConfig::plain(protocol, config.nodes, 1, config.seed)
        });
        let mut lab = Lab { config, world, writes: 0, decommissioned: BTreeSet::new(), steps: 0 };
        let first_spare = lab.config.nodes - lab.config.spare_nodes.min(lab.config.nodes) + 1;
        let booting: Vec<ActorId> = lab
            .world
            .actors()
            .actor_ids()
            .into_iter()
            .filter(|actor| !matches!(actor, ActorId::Node(node) if node.0 >= first_spare))
            .collect();
        for actor in booting {
            lab.event(Event::Boot { actor }).expect("booting a fresh cluster breaks nothing");
        }
        lab
    }

    /// A lab whose violations carry no evidence: for searches, which replay what they find.
    pub fn without_evidence(mut self) -> Lab {
        self.world.drop_evidence();
        self
    }

    pub fn config(&self) -> &LabConfig {
        &self.config
    }

    pub fn actors(&self) -> &Actors {
        self.world.actors()
    }

    pub fn oracle(&self) -> &Oracle {
        self.world.oracle()
    }

    /// The world the lab drives, to read (its choices are the only way to change it).
    pub fn world(&self) -> &World {
        &self.world
    }

    pub fn now(&self) -> Instant {
        self.world.now()
    }

    pub fn in_flight(&self) -> &Pool {
        self.world.in_flight()
    }

    /// [coordinator, n1, n2, ...]: what Crash, Restart and Partition index.
    fn servers(&self) -> Vec<ActorId> {
        std::iter::once(ActorId::Coordinator)
            .chain(self.world.actors().nodes.keys().map(|node| ActorId::Node(*node)))
            .collect()
    }

    /// Nodes not decommissioned (up or down).
    fn in_service(&self) -> Vec<NodeId> {
        self.world.actors().nodes.keys().filter(|node| !self.decommissioned.contains(node)).copied().collect()
    }

    /// Pending timers in the order FireTimer indexes them: by deadline, actor, name.
    pub fn timer_order(&self) -> Vec<(Instant, ActorId, Timer)> {
        self.world.timer_order()
    }

    /// Applies one event now, then what it set going: syncs at once, boots at once.
    pub fn event(&mut self, event: Event) -> Result<(), Violation> {
        apply_settled(&mut self.world, event)
    }

    fn message_at(&self, index: u16) -> Option<MessageId> {
        let count = self.world.in_flight().len();
        (count > 0).then(|| self.world.in_flight().iter().nth(index as usize % count).expect("in range").0)
    }

    /// One step. The oracle has checked every invariant when it returns.
    pub fn apply(&mut self, choice: Choice) -> Result<(), Violation> {
        self.steps += 1;
        if let Choice::Calm(ms) = choice {
            return self.calm(u64::from(ms).min(ADVANCE_MS_MAX));
        }
        for event in self.events_for(choice).unwrap_or_default() {
            self.event(event)?;
        }
        Ok(())
    }

    /// Delivers in order and fires timers when due until `ms` have passed (or a bound of
    /// steps: a cluster that never quiets down still ends the choice).
    fn calm(&mut self, ms: u64) -> Result<(), Violation> {
        const CALM_STEPS_MAX: usize = 10_000;
        let until = self.world.now().plus_ms(ms);
        for _ in 0..CALM_STEPS_MAX {
            if let Some(message) = self.world.in_flight().oldest() {
                self.event(Event::Deliver { message })?;
                continue;
            }
            let Some(&(at, actor, timer)) = self.timer_order().first() else { break };
            if at > until {
                break;
            }
            self.world.advance_to(at.max(self.world.now()));
            self.event(Event::FireTimer { actor, timer })?;
        }
        if self.world.now() < until {
            self.world.advance_to(until);
        }
        Ok(())
    }

    /// The events a choice stands for in this state; `None` when it acts on nothing.
    fn events_for(&mut self, choice: Choice) -> Option<Vec<Event>> {
        let servers = self.servers();
        let pick = |index: u16, len: usize| (len > 0).then(|| index as usize % len);
        let target = |actor: ActorId| match actor {
            ActorId::Node(node) => Target::Node(node),
            _ => Target::Coordinator,
        };
        let event = match choice {
            Choice::Deliver(index) => Event::Deliver { message: self.message_at(index)? },
            Choice::Drop(index) => Event::Drop { message: self.message_at(index)? },
            Choice::Duplicate(index) => Event::Duplicate { message: self.message_at(index)? },
            Choice::FireTimer(index) => {
                // Any timer already due may fire first; otherwise time moves to the
                // earliest deadline. Time never skips a deadline: a pause is a crash's job.
                let order = self.timer_order();
                let due = order.iter().filter(|(at, _, _)| *at <= self.world.now()).count().max(1);
                let (at, actor, timer) = order[pick(index, due.min(order.len()))?];
                self.world.advance_to(at);
                Event::FireTimer { actor, timer }
            }
            Choice::Calm(_) => return None, // applied by `calm`, several events long
            Choice::AdvanceTime(ms) => {
                self.world.advance_to(self.world.now().plus_ms(u64::from(ms).min(ADVANCE_MS_MAX)));
                return None;
            }
            Choice::Crash(index) => {
                let actor = servers[pick(index, servers.len())?];
                Event::Inject { fault: Fault::Crash { target: target(actor), down_ms: 0 } }
            }
            Choice::Restart(index) => Event::Boot { actor: servers[pick(index, servers.len())?] },
            Choice::ChangeIdentity(index) => {
                let nodes: Vec<NodeId> = self.world.actors().nodes.keys().copied().collect();
                Event::Inject { fault: Fault::Replace { node: nodes[pick(index, nodes.len())?] } }
            }
            Choice::Partition(first, second) => {
                let (a, b) = (pick(first, servers.len())?, pick(second, servers.len())?);
                if a == b {
                    return None;
                }
                let (a, b) = (target(servers[a]), target(servers[b]));
                let one_way = |from, to| Event::Inject { fault: Fault::OneWay { from, to, heal_after_ms: 0 } };
                return Some(vec![one_way(a, b), one_way(b, a)]);
            }
            Choice::Heal => Event::HealAll,
            Choice::ClientWrite(index) => {
                let shards = self.config.shards.max(1);
                let shard = shardsim_core::ShardId(u32::from(index) % shards);
                self.writes += 1;
                // Two entities per shard: handoffs and restarts have something to carry.
                let entity = shardsim_core::EntityKey((u32::from(index) / shards) % 2);
                Event::ClientWrite { client: CLIENT, shard, entity, payload: self.writes }
            }
            Choice::Decommission(index) => {
                let in_service = self.in_service();
                if in_service.len() < 2 {
                    return None;
                }
                let node = in_service[pick(index, in_service.len())?];
                self.decommissioned.insert(node);
                Event::Inject { fault: Fault::Decommission { node } }
            }
            Choice::Join => {
                if self.in_service().len() >= self.config.nodes as usize {
                    return None;
                }
                let next = self.world.actors().nodes.keys().last().map_or(1, |node| node.0 + 1);
                Event::Inject { fault: Fault::Join { node: NodeId(next) } }
            }
            Choice::DiskFault(index) => {
                let nodes: Vec<NodeId> = self.world.actors().nodes.keys().copied().collect();
                let node = nodes[pick(index, nodes.len())?];
                let pick = u64::from(index) / nodes.len() as u64;
                let fault = match pick % 5 {
                    0 => Fault::TornWrite { node },
                    1 => Fault::FsyncFail { node },
                    2 => Fault::BitFlip { node, pick: pick / 5 },
                    3 => Fault::ReadError { node, pick: pick / 5 },
                    _ => Fault::DiskFull { node, heal_after_ms: 0 },
                };
                Event::Inject { fault }
            }
            Choice::ClockStep(index) => {
                let actor = servers[pick(index, servers.len())?];
                let size = usize::from(index) / servers.len();
                let by_ms = ((size % 8) as i64 + 1) * 250;
                let by_ms = if (size / 8) % 2 == 0 { -by_ms } else { by_ms };
                Event::Inject { fault: Fault::ClockStep { target: target(actor), by_ms } }
            }
        };
        Some(vec![event])
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

    /// The state's 128-bit fingerprint (see [`World::fingerprint`]), with the lab's own
    /// state: its counter of writes (it names the next write's payload) and the nodes it
    /// decommissioned.
    pub fn fingerprint(&self, relabel: &Relabel, encoder: &mut Encoder) -> u128 {
        encoder.reset(relabel);
        self.world.encode_state(encoder);
        encoder.u64(self.writes);
        encoder.begin_set();
        for node in &self.decommissioned {
            encoder.value(node);
            encoder.entry();
        }
        encoder.end_set();
        encoder.finish()
    }

    /// The smallest fingerprint over `relabels`: one value for every state that a renaming
    /// of nodes and shards turns into this one (symmetry reduction).
    pub fn canonical_fingerprint(&self, relabels: &[Relabel], encoder: &mut Encoder) -> u128 {
        relabels.iter().map(|relabel| self.fingerprint(relabel, encoder)).min().expect("at least the identity")
    }

    /// The fingerprint under no renaming; allocates an encoder (searches keep their own).
    pub fn state_hash(&self) -> u128 {
        self.fingerprint(&Relabel::identity(), &mut Encoder::new())
    }

    /// Drives the cluster the plain way — every message delivered in order, every timer
    /// fired when due — until `done` holds or `steps_max` steps pass. For warm-ups.
    pub fn settle(&mut self, steps_max: usize, mut done: impl FnMut(&Lab) -> bool) -> Result<bool, Violation> {
        for _ in 0..steps_max {
            if done(self) {
                return Ok(true);
            }
            let choice = if self.world.in_flight().is_empty() { Choice::FireTimer(0) } else { Choice::Deliver(0) };
            self.apply(choice)?;
        }
        Ok(done(self))
    }
}
