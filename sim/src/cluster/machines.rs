//! The madsim side of the world's directives: an actor stopped is its madsim node killed;
//! an actor started is its node restarted (or a new node, for a new address); loss and
//! latency in force are madsim's network settings.

use super::actor_task::run_actor;
use super::carry::socket_address;
use super::shared::SharedWorld;
use crate::world::{Applied, NetworkKnobs};
use madsim::net::NetSim;
use madsim::runtime::Handle;
use madsim::time::Duration;
use shardsim_core::ActorId;

/// madsim's own latency when no delay fault is in force.
const LATENCY_MAX_MS: u64 = 10;

pub struct Machines {
    world: SharedWorld,
    handle: Handle,
    net: std::sync::Arc<NetSim>,
}

impl Machines {
    pub fn new(world: SharedWorld) -> Machines {
        Machines { world, handle: Handle::current(), net: NetSim::current() }
    }

    /// A madsim node for the actor at its current address, running its task.
    pub fn spawn(&self, actor: ActorId) {
        let address = self.world.lock().world.actors().address(actor);
        let for_task = self.world.clone();
        let node = self
            .handle
            .create_node()
            .name(actor.to_string())
            .ip(socket_address(address).ip())
            .init(move || run_actor(for_task.clone(), actor))
            .build()
            .id();
        self.world.lock().madsim_nodes.insert(actor, (node, address));
    }

    /// Carries out what an event asked of the machines (not its messages: see `carry`).
    pub fn obey(&self, applied: &Applied) {
        for actor in &applied.stopped {
            let node = self.world.lock().madsim_nodes.get(actor).map(|(node, _)| *node);
            if let Some(node) = node {
                self.handle.kill(node);
            }
        }
        for actor in &applied.started {
            self.start(*actor);
        }
        if applied.network_changed {
            let network = self.world.lock().world.network();
            self.configure(network);
        }
    }

    /// Always kills first: a madsim restart alone leaves the node's sockets bound.
    fn start(&self, actor: ActorId) {
        let (known, address) = {
            let shared = self.world.lock();
            (shared.madsim_nodes.get(&actor).copied(), shared.world.actors().address(actor))
        };
        match known {
            Some((node, built_for)) if built_for == address => {
                self.handle.kill(node);
                self.handle.restart(node);
            }
            Some((node, _)) => {
                self.handle.kill(node);
                self.spawn(actor);
            }
            None => self.spawn(actor),
        }
    }

    fn configure(&self, network: NetworkKnobs) {
        self.net.update_config(|config| {
            config.packet_loss_rate = f64::from(network.loss_permille) / 1000.0;
            config.send_latency =
                Duration::from_millis(1)..Duration::from_millis(network.delay_max_ms.max(LATENCY_MAX_MS));
        });
    }
}
