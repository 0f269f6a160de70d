//! The cluster's actors in slots, with their simulated disks: what every driver (the
//! madsim cluster, the lab) steps, crashes and restarts. An empty slot is a down actor.

use crate::disk::SimDisk;
use crate::oracle::ClusterState;
use shardsim_core::planner::Planner;
use shardsim_core::storage::{DiskImage, StorageKey};
use shardsim_core::{
    Actor, ActorId, Address, Client, ClientId, Coordinator, DataNode, Entropy, Input, InputError, Instant, NodeId,
    Outbox, ProtocolConfig, Ready,
};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct Slot<A> {
    pub actor: Option<A>,
    pub disk: SimDisk,
    pub address: Address,
}

impl<A> Slot<A> {
    fn new(address: Address) -> Slot<A> {
        Slot { actor: None, disk: SimDisk::new(), address }
    }
}

#[derive(Clone, Debug)]
pub struct Actors {
    config: ProtocolConfig,
    /// The coordinator's planner: the configuration's built-in one unless a user's.
    planner: Arc<dyn Planner>,
    pub coordinator: Slot<Coordinator>,
    pub nodes: BTreeMap<NodeId, Slot<DataNode>>,
    pub clients: BTreeMap<ClientId, Slot<Client>>,
}

pub fn node_address(node: NodeId, generation: u32) -> Address {
    Address::new([10, 0, 1 + (generation as u8).wrapping_mul(10), node.0 as u8], 7000)
}

pub fn client_address(client: ClientId) -> Address {
    Address::new([10, 0, 2, client.0 as u8], 7000)
}

impl Actors {
    pub fn new(config: ProtocolConfig) -> Actors {
        let coordinator = Slot::new(config.coordinator_address);
        let planner = config.planner.planner();
        Actors { config, planner, coordinator, nodes: BTreeMap::new(), clients: BTreeMap::new() }
    }

    /// Every coordinator booted from now on plans with `planner`.
    pub fn set_planner(&mut self, planner: Arc<dyn Planner>) {
        self.planner = planner;
    }

    pub fn config(&self) -> &ProtocolConfig {
        &self.config
    }

    pub fn add_node(&mut self, node: NodeId, address: Address) {
        self.nodes.insert(node, Slot::new(address));
    }

    pub fn add_client(&mut self, client: ClientId, address: Address) {
        self.clients.insert(client, Slot::new(address));
    }

    pub fn address(&self, actor: ActorId) -> Address {
        match actor {
            ActorId::Coordinator => self.coordinator.address,
            ActorId::Node(node) => self.nodes[&node].address,
            ActorId::Client(client) => self.clients[&client].address,
        }
    }

    /// Which actor listens at `address`, if any.
    pub fn actor_at(&self, address: Address) -> Option<ActorId> {
        if self.coordinator.address == address {
            return Some(ActorId::Coordinator);
        }
        // Every delivery asks: first the slot the address names by its last octet (the
        // number `node_address` and `client_address` put there), then every slot.
        let numbered = u32::from(address.ip[3]);
        if self.nodes.get(&NodeId(numbered)).is_some_and(|slot| slot.address == address) {
            return Some(ActorId::Node(NodeId(numbered)));
        }
        if self.clients.get(&ClientId(numbered)).is_some_and(|slot| slot.address == address) {
            return Some(ActorId::Client(ClientId(numbered)));
        }
        if let Some((node, _)) = self.nodes.iter().find(|(_, slot)| slot.address == address) {
            return Some(ActorId::Node(*node));
        }
        self.clients.iter().find(|(_, slot)| slot.address == address).map(|(client, _)| ActorId::Client(*client))
    }

    pub fn actor_ids(&self) -> Vec<ActorId> {
        std::iter::once(ActorId::Coordinator)
            .chain(self.nodes.keys().map(|node| ActorId::Node(*node)))
            .chain(self.clients.keys().map(|client| ActorId::Client(*client)))
            .collect()
    }

    pub fn disk_mut(&mut self, actor: ActorId) -> &mut SimDisk {
        match actor {
            ActorId::Coordinator => &mut self.coordinator.disk,
            ActorId::Node(node) => &mut self.nodes.get_mut(&node).expect("known node").disk,
            ActorId::Client(client) => &mut self.clients.get_mut(&client).expect("known client").disk,
        }
    }

    pub fn has_slot(&self, actor: ActorId) -> bool {
        match actor {
            ActorId::Coordinator => true,
            ActorId::Node(node) => self.nodes.contains_key(&node),
            ActorId::Client(client) => self.clients.contains_key(&client),
        }
    }

    pub fn is_up(&self, actor: ActorId) -> bool {
        match actor {
            ActorId::Coordinator => self.coordinator.actor.is_some(),
            ActorId::Node(node) => self.nodes.get(&node).is_some_and(|slot| slot.actor.is_some()),
            ActorId::Client(client) => self.clients.get(&client).is_some_and(|slot| slot.actor.is_some()),
        }
    }

    /// A fresh actor booted from what its disk durably holds, less a record whose read
    /// fails. An actor that refuses to boot stays down.
    pub fn boot(
        &mut self,
        actor: ActorId,
        now: Instant,
        unreadable: Option<StorageKey>,
        entropy: &mut dyn Entropy,
    ) -> (Result<(), InputError>, Ready) {
        let config = self.config.clone();
        match actor {
            ActorId::Coordinator => {
                self.coordinator.actor = Some(Coordinator::with_planner(config, self.planner.clone()))
            }
            ActorId::Node(node) => {
                self.nodes.get_mut(&node).expect("known node").actor = Some(DataNode::new(node, config))
            }
            ActorId::Client(client) => {
                self.clients.get_mut(&client).expect("known client").actor = Some(Client::new(client, config))
            }
        }
        let mut disk: DiskImage = self.disk_mut(actor).durable().clone();
        let unreadable: Vec<StorageKey> = unreadable.into_iter().collect();
        for key in &unreadable {
            disk.remove(key);
        }
        let address = self.address(actor);
        let booted = self.handle(actor, now, Input::Boot { disk: &disk, address, unreadable: &unreadable }, entropy);
        if matches!(booted.0, Err(InputError::DiskUnreadable(_))) {
            // The process exits: nothing of it runs, nothing it wrote is on the disk.
            self.crash(actor);
        }
        booted
    }

    /// One input to one actor; a down actor takes nothing.
    pub fn handle(
        &mut self,
        actor: ActorId,
        now: Instant,
        input: Input<'_>,
        entropy: &mut dyn Entropy,
    ) -> (Result<(), InputError>, Ready) {
        let mut out = Outbox::new();
        let target: Option<&mut dyn Actor> = match actor {
            ActorId::Coordinator => self.coordinator.actor.as_mut().map(|actor| actor as &mut dyn Actor),
            ActorId::Node(node) => {
                self.nodes.get_mut(&node).and_then(|slot| slot.actor.as_mut()).map(|actor| actor as &mut dyn Actor)
            }
            ActorId::Client(client) => {
                self.clients.get_mut(&client).and_then(|slot| slot.actor.as_mut()).map(|actor| actor as &mut dyn Actor)
            }
        };
        let result = match target {
            Some(target) => target.handle(now, input, entropy, &mut out),
            None => Err(InputError::NotBooted),
        };
        (result, out.take())
    }

    /// Memory lost, disk kept (less what was never synced).
    pub fn crash(&mut self, actor: ActorId) {
        self.disk_mut(actor).crash();
        match actor {
            ActorId::Coordinator => self.coordinator.actor = None,
            ActorId::Node(node) => self.nodes.get_mut(&node).expect("known node").actor = None,
            ActorId::Client(client) => self.clients.get_mut(&client).expect("known client").actor = None,
        }
    }

    /// The same node id on a new machine: new address, empty disk, down until booted.
    pub fn replace(&mut self, node: NodeId, address: Address) {
        let slot = self.nodes.get_mut(&node).expect("known node");
        slot.actor = None;
        slot.disk = SimDisk::new();
        slot.address = address;
    }

    /// A node may be replaced (its disk wiped) only while it holds no copy of a shard
    /// that could be the only one: not routed to it, and not owned, fenced or retained on
    /// its disk or in its memory.
    pub fn owns_no_shard(&self, node: NodeId) -> bool {
        use shardsim_core::storage::{decode_record, StorageKey};
        use shardsim_core::wire::ShardRole;
        let holds = |role: &ShardRole| {
            matches!(
                role,
                ShardRole::Owned { .. } | ShardRole::Fenced { .. } | ShardRole::Forwarding { retained: true, .. }
            )
        };
        let routed = self
            .coordinator
            .actor
            .as_ref()
            .is_some_and(|coordinator| coordinator.routing().owned_by(node).next().is_some());
        let Some(slot) = self.nodes.get(&node) else { return !routed };
        let on_disk = slot.disk.durable().iter().any(|(key, value)| {
            matches!(key, StorageKey::ShardMeta(_))
                && decode_record::<ShardRole>(*key, value).map_or(true, |role| holds(&role))
        });
        let in_memory = slot.actor.as_ref().is_some_and(|actor| actor.shards().values().any(|held| holds(&held.role)));
        !routed && !on_disk && !in_memory
    }
}

impl ClusterState for Actors {
    fn coordinator(&self) -> Option<&Coordinator> {
        self.coordinator.actor.as_ref()
    }

    fn node(&self, node: NodeId) -> Option<&DataNode> {
        self.nodes.get(&node).and_then(|slot| slot.actor.as_ref())
    }

    fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.keys().copied().collect()
    }

    fn durable_disk(&self, actor: ActorId) -> Option<&DiskImage> {
        match actor {
            ActorId::Coordinator => Some(self.coordinator.disk.durable()),
            ActorId::Node(node) => self.nodes.get(&node).map(|slot| slot.disk.durable()),
            ActorId::Client(client) => self.clients.get(&client).map(|slot| slot.disk.durable()),
        }
    }
}
