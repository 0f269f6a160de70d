//! The nemesis: carries out a fault plan on the madsim cluster — link clogs for
//! partitions, network knobs for loss, delay and duplication, kills and restarts,
//! replacements, joins, decommissions and hot spots — and heals it all at the end.

use super::world::SharedWorld;
use crate::actors::node_address;
use crate::faults::{Fault, FaultKind, Target};
use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::time::Duration;
use shardsim_core::{ActorId, Command, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// A fault in force, until its heal time.
#[derive(Clone, Debug)]
enum Active {
    /// Directed actor-to-actor links that drop everything.
    Links(Vec<(ActorId, ActorId)>),
    Loss(u32),
    DelayMs(u64),
    Duplicate(u32),
    Down(ActorId),
}

pub struct Nemesis {
    world: SharedWorld,
    handle: Handle,
    net: std::sync::Arc<NetSim>,
    active: BTreeMap<u64, (FaultKind, Active)>,
    next_id: u64,
    clogged: BTreeSet<(madsim::task::NodeId, madsim::task::NodeId)>,
    pub injected: BTreeMap<String, u64>,
    pub skipped: BTreeMap<String, u64>,
    generation: BTreeMap<NodeId, u32>,
    spawn_node: Box<dyn Fn(ActorId) -> madsim::task::NodeId>,
}

fn actor_of(target: Target) -> ActorId {
    match target {
        Target::Coordinator => ActorId::Coordinator,
        Target::Node(node) => ActorId::Node(node),
    }
}

impl Nemesis {
    pub fn new(world: SharedWorld, spawn_node: Box<dyn Fn(ActorId) -> madsim::task::NodeId>) -> Nemesis {
        Nemesis {
            world,
            handle: Handle::current(),
            net: NetSim::current(),
            active: BTreeMap::new(),
            next_id: 0,
            clogged: BTreeSet::new(),
            injected: BTreeMap::new(),
            skipped: BTreeMap::new(),
            generation: BTreeMap::new(),
            spawn_node,
        }
    }

    fn note(&mut self, fault: &Fault, applied: bool, detail: String) {
        let kind = fault.kind();
        let counts = if applied { &mut self.injected } else { &mut self.skipped };
        *counts.entry(kind.name().to_string()).or_default() += 1;
        let verb = if applied { "inject" } else { "skip" };
        let mut world = self.world.lock();
        world.nemesis_note(&format!("{verb} {fault:?}{detail}"));
        if applied {
            world.oracle.fault_started(kind, fault.heals_after_ms().is_some());
        }
    }

    fn exists(&self, actor: ActorId) -> bool {
        self.world.lock().madsim_nodes.contains_key(&actor)
    }

    /// Starts a fault; returns the id of what must be healed later, if anything.
    pub fn inject(&mut self, fault: &Fault) -> Option<u64> {
        let everyone: Vec<ActorId> = self.world.lock().madsim_nodes.keys().copied().collect();
        let cut_off = |side: &BTreeSet<ActorId>| -> Vec<(ActorId, ActorId)> {
            let mut links = Vec::new();
            for a in side {
                for b in everyone.iter().filter(|b| !side.contains(b)) {
                    links.push((*a, *b));
                    links.push((*b, *a));
                }
            }
            links
        };
        let active = match fault {
            Fault::Isolate { node, .. } => {
                if !self.exists(ActorId::Node(*node)) {
                    self.note(fault, false, " (node not in the cluster)".to_string());
                    return None;
                }
                Active::Links(cut_off(&BTreeSet::from([ActorId::Node(*node)])))
            }
            Fault::Split { side, .. } => Active::Links(cut_off(&side.iter().map(|target| actor_of(*target)).collect())),
            Fault::OneWay { from, to, .. } => Active::Links(vec![(actor_of(*from), actor_of(*to))]),
            Fault::CutOffCoordinator { .. } => Active::Links(cut_off(&BTreeSet::from([ActorId::Coordinator]))),
            Fault::Loss { rate_permille, .. } => Active::Loss(*rate_permille),
            Fault::Delay { latency_max_ms, .. } => Active::DelayMs(*latency_max_ms),
            Fault::Duplicate { rate_permille, .. } => Active::Duplicate(*rate_permille),
            Fault::Crash { target, .. } => {
                let actor = actor_of(*target);
                if !self.exists(actor) || !self.world.lock().actors.is_up(actor) {
                    self.note(fault, false, " (already down or not in the cluster)".to_string());
                    return None;
                }
                self.kill(actor);
                Active::Down(actor)
            }
            Fault::Restart { node } => {
                let actor = ActorId::Node(*node);
                if !self.exists(actor) || !self.world.lock().actors.is_up(actor) {
                    self.note(fault, false, " (down or not in the cluster)".to_string());
                    return None;
                }
                self.restart(actor);
                self.note(fault, true, String::new());
                return None;
            }
            Fault::Replace { node } => {
                let actor = ActorId::Node(*node);
                let eligible = self.exists(actor) && self.world.lock().actors.owns_no_shard(*node);
                if !eligible {
                    self.note(fault, false, " (owns a shard, or not in the cluster)".to_string());
                    return None;
                }
                self.replace(*node);
                self.note(fault, true, String::new());
                return None;
            }
            Fault::Join { node } => {
                let actor = ActorId::Node(*node);
                if self.exists(actor) {
                    self.note(fault, false, " (already a member)".to_string());
                    return None;
                }
                self.world.lock().actors.add_node(*node, node_address(*node, 0));
                let id = (self.spawn_node)(actor);
                self.world.lock().madsim_nodes.insert(actor, id);
                self.reclog();
                self.note(fault, true, String::new());
                return None;
            }
            Fault::Decommission { node } => {
                self.world
                    .lock()
                    .commands
                    .entry(ActorId::Coordinator)
                    .or_default()
                    .push(Command::Decommission { node: *node });
                self.note(fault, true, String::new());
                return None;
            }
            Fault::HotSpot { shard } => {
                self.world.lock().workload.hot_shard = *shard;
                self.note(fault, true, String::new());
                return None;
            }
        };
        self.note(fault, true, String::new());
        let id = self.next_id;
        self.next_id += 1;
        self.active.insert(id, (fault.kind(), active));
        self.apply_network();
        Some(id)
    }

    /// Ends one fault: its links open, its knob drops, its downed actor restarts.
    pub fn heal(&mut self, id: u64) {
        let Some((kind, active)) = self.active.remove(&id) else { return };
        if let Active::Down(actor) = active {
            self.restart(actor);
        }
        let mut world = self.world.lock();
        world.nemesis_note(&format!("heal {active:?}"));
        world.oracle.fault_ended(kind);
        drop(world);
        self.apply_network();
    }

    /// Ends every fault still in force: the start of the liveness phase.
    pub fn heal_all(&mut self) {
        let ids: Vec<u64> = self.active.keys().copied().collect();
        for id in ids {
            self.heal(id);
        }
    }

    fn kill(&mut self, actor: ActorId) {
        let node = {
            let mut world = self.world.lock();
            world.actors.crash(actor);
            world.nemesis_note(&format!("kill {actor}"));
            world.madsim_nodes[&actor]
        };
        self.handle.kill(node);
    }

    /// Always kills first: a madsim restart alone leaves the node's sockets bound.
    fn restart(&mut self, actor: ActorId) {
        self.kill(actor);
        let node = {
            let mut world = self.world.lock();
            world.nemesis_note(&format!("restart {actor}"));
            world.madsim_nodes[&actor]
        };
        self.handle.restart(node);
    }

    /// A new machine for the node: a new address and an empty disk.
    fn replace(&mut self, node: NodeId) {
        let actor = ActorId::Node(node);
        let old = self.world.lock().madsim_nodes[&actor];
        self.world.lock().actors.crash(actor);
        self.handle.kill(old);
        let generation = self.generation.entry(node).or_default();
        *generation += 1;
        let address = node_address(node, *generation);
        self.world.lock().actors.replace(node, address);
        let id = (self.spawn_node)(actor);
        self.world.lock().madsim_nodes.insert(actor, id);
        self.reclog();
    }

    fn apply_network(&mut self) {
        let (mut loss, mut delay_ms, mut duplicate) = (0u32, 0u64, 0u32);
        for (_, active) in self.active.values() {
            match active {
                Active::Loss(rate) => loss = loss.max(*rate),
                Active::DelayMs(latency) => delay_ms = delay_ms.max(*latency),
                Active::Duplicate(rate) => duplicate = duplicate.max(*rate),
                Active::Links(_) | Active::Down(_) => {}
            }
        }
        self.net.update_config(|config| {
            config.packet_loss_rate = f64::from(loss) / 1000.0;
            config.send_latency = Duration::from_millis(1)..Duration::from_millis(delay_ms.max(10));
        });
        self.world.lock().duplicate_permille = duplicate;
        self.reclog();
    }

    /// Makes madsim's clogged links exactly those of the partitions in force, mapped to
    /// the madsim nodes the actors run on now.
    fn reclog(&mut self) {
        let nodes = self.world.lock().madsim_nodes.clone();
        let mut wanted = BTreeSet::new();
        for (_, active) in self.active.values() {
            if let Active::Links(links) = active {
                for (from, to) in links {
                    if let (Some(from), Some(to)) = (nodes.get(from), nodes.get(to)) {
                        wanted.insert((*from, *to));
                    }
                }
            }
        }
        for (from, to) in self.clogged.difference(&wanted) {
            self.net.unclog_link(*from, *to);
        }
        for (from, to) in wanted.difference(&self.clogged) {
            self.net.clog_link(*from, *to);
        }
        self.clogged = wanted;
    }
}
