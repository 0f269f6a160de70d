//! A map from actor to value kept as dense slots: the world looks up an actor's timers,
//! clock and held outputs several times a message, and a `BTreeMap<ActorId, _>` lookup
//! there (a tree walk comparing enums) showed in every profile. Node and client ids are
//! small and dense (the world hands them out from 1), so an index is the lookup; the rare
//! large id (a hand-written schedule's) goes to a tree.
//!
//! Iteration is in `ActorId`'s order (the coordinator, nodes by id, clients by id), as a
//! `BTreeMap`'s was: the lab's fingerprints and every report read the same sequence.

use shardsim_core::{ActorId, ClientId, NodeId};
use std::collections::BTreeMap;

/// Ids below this have a dense slot. The world hands out ids from 1; a larger one comes
/// only from a hand-written plan or schedule, and costs one tree entry, not a slot per id
/// below it (gigabytes for an id near `u32::MAX`).
const DENSE_IDS_MAX: u32 = 1024;

#[derive(Clone, Debug)]
pub struct PerActor<T> {
    coordinator: Option<T>,
    /// Indexed by node id.
    nodes: Vec<Option<T>>,
    /// Indexed by client id.
    clients: Vec<Option<T>>,
    /// Actors whose id is `DENSE_IDS_MAX` or more.
    sparse: BTreeMap<ActorId, T>,
    len: usize,
}

impl<T> Default for PerActor<T> {
    fn default() -> PerActor<T> {
        PerActor { coordinator: None, nodes: Vec::new(), clients: Vec::new(), sparse: BTreeMap::new(), len: 0 }
    }
}

/// Where an actor's value lives.
enum Place {
    Coordinator,
    Node(usize),
    Client(usize),
    Sparse,
}

#[inline]
fn place(actor: ActorId) -> Place {
    match actor {
        ActorId::Coordinator => Place::Coordinator,
        ActorId::Node(NodeId(node)) if node < DENSE_IDS_MAX => Place::Node(node as usize),
        ActorId::Client(ClientId(client)) if client < DENSE_IDS_MAX => Place::Client(client as usize),
        ActorId::Node(_) | ActorId::Client(_) => Place::Sparse,
    }
}

/// The slot at `index`, made if it is past the end.
fn grown<T>(slots: &mut Vec<Option<T>>, index: usize) -> &mut Option<T> {
    if index >= slots.len() {
        slots.resize_with(index + 1, || None);
    }
    &mut slots[index]
}

impl<T> PerActor<T> {
    #[inline]
    pub fn get(&self, actor: ActorId) -> Option<&T> {
        match place(actor) {
            Place::Coordinator => self.coordinator.as_ref(),
            Place::Node(index) => self.nodes.get(index)?.as_ref(),
            Place::Client(index) => self.clients.get(index)?.as_ref(),
            Place::Sparse => self.sparse.get(&actor),
        }
    }

    pub fn get_mut(&mut self, actor: ActorId) -> Option<&mut T> {
        match place(actor) {
            Place::Coordinator => self.coordinator.as_mut(),
            Place::Node(index) => self.nodes.get_mut(index)?.as_mut(),
            Place::Client(index) => self.clients.get_mut(index)?.as_mut(),
            Place::Sparse => self.sparse.get_mut(&actor),
        }
    }

    pub fn contains_key(&self, actor: ActorId) -> bool {
        self.get(actor).is_some()
    }

    /// Sets the actor's value; returns the one it replaced.
    pub fn insert(&mut self, actor: ActorId, value: T) -> Option<T> {
        let replaced = match place(actor) {
            Place::Coordinator => self.coordinator.replace(value),
            Place::Node(index) => grown(&mut self.nodes, index).replace(value),
            Place::Client(index) => grown(&mut self.clients, index).replace(value),
            Place::Sparse => self.sparse.insert(actor, value),
        };
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    pub fn remove(&mut self, actor: ActorId) -> Option<T> {
        let removed = match place(actor) {
            Place::Coordinator => self.coordinator.take(),
            Place::Node(index) => self.nodes.get_mut(index).and_then(Option::take),
            Place::Client(index) => self.clients.get_mut(index).and_then(Option::take),
            Place::Sparse => self.sparse.remove(&actor),
        };
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// The actor's value, a default one put in first if it has none.
    pub fn get_or_default(&mut self, actor: ActorId) -> &mut T
    where
        T: Default,
    {
        let slot = match place(actor) {
            Place::Coordinator => &mut self.coordinator,
            Place::Node(index) => grown(&mut self.nodes, index),
            Place::Client(index) => grown(&mut self.clients, index),
            Place::Sparse => {
                let len = &mut self.len;
                return self.sparse.entry(actor).or_insert_with(|| {
                    *len += 1;
                    T::default()
                });
            }
        };
        if slot.is_none() {
            self.len += 1;
        }
        slot.get_or_insert_with(T::default)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every actor with a value, in `ActorId`'s order: sparse nodes follow the dense ones
    /// (their ids are larger), and sparse clients the dense clients.
    pub fn iter(&self) -> impl Iterator<Item = (ActorId, &T)> {
        let coordinator = self.coordinator.as_ref().map(|value| (ActorId::Coordinator, value));
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(node, value)| value.as_ref().map(|value| (ActorId::Node(NodeId(node as u32)), value)));
        let clients = self.clients.iter().enumerate().filter_map(|(client, value)| {
            value.as_ref().map(|value| (ActorId::Client(ClientId(client as u32)), value))
        });
        let first_client = ActorId::Client(ClientId(0));
        let sparse_nodes = self.sparse.range(..first_client).map(|(actor, value)| (*actor, value));
        let sparse_clients = self.sparse.range(first_client..).map(|(actor, value)| (*actor, value));
        coordinator.into_iter().chain(nodes).chain(sparse_nodes).chain(clients).chain(sparse_clients)
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.iter().map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// The same operations on a `PerActor` and a `BTreeMap` leave the same map, read in
    /// the same order.
    #[test]
    fn behaves_as_an_ordered_map_keyed_by_actor() {
        let actors = [
            ActorId::Client(ClientId(2)),
            ActorId::Node(NodeId(u32::MAX)),
            ActorId::Node(NodeId(3)),
            ActorId::Client(ClientId(DENSE_IDS_MAX)),
            ActorId::Coordinator,
            ActorId::Node(NodeId(1)),
            ActorId::Node(NodeId(DENSE_IDS_MAX - 1)),
            ActorId::Client(ClientId(1)),
        ];
        let mut dense: PerActor<u32> = PerActor::default();
        let mut tree: BTreeMap<ActorId, u32> = BTreeMap::new();
        for (value, actor) in actors.iter().enumerate() {
            assert_eq!(dense.insert(*actor, value as u32), tree.insert(*actor, value as u32));
        }
        assert_eq!(dense.insert(ActorId::Node(NodeId(3)), 9), tree.insert(ActorId::Node(NodeId(3)), 9));
        assert_eq!(dense.remove(ActorId::Node(NodeId(1))), tree.remove(&ActorId::Node(NodeId(1))));
        assert_eq!(dense.remove(ActorId::Node(NodeId(7))), None, "past the end: nothing to remove");
        *dense.get_or_default(ActorId::Node(NodeId(5))) += 4;
        *tree.entry(ActorId::Node(NodeId(5))).or_default() += 4;
        *dense.get_or_default(ActorId::Coordinator) += 1;
        *tree.entry(ActorId::Coordinator).or_default() += 1;
        let read: Vec<(ActorId, u32)> = dense.iter().map(|(actor, value)| (actor, *value)).collect();
        let expected: Vec<(ActorId, u32)> = tree.iter().map(|(actor, value)| (*actor, *value)).collect();
        assert_eq!(read, expected);
        assert_eq!(dense.len(), tree.len());
        assert!(!dense.contains_key(ActorId::Node(NodeId(1))) && dense.contains_key(ActorId::Node(NodeId(5))));
        assert_eq!(dense.get(ActorId::Client(ClientId(9))), None);
        assert_eq!(dense.remove(ActorId::Node(NodeId(u32::MAX))), tree.remove(&ActorId::Node(NodeId(u32::MAX))));
        assert_eq!(dense.len(), tree.len());
        assert!(dense.nodes.len() <= DENSE_IDS_MAX as usize, "a large id takes no dense slots");
        assert!(PerActor::<u32>::default().is_empty());
    }
}
