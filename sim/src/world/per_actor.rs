//! A map from actor to value kept as dense slots: the world looks up an actor's timers,
//! clock and held outputs several times a message, and a `BTreeMap<ActorId, _>` lookup
//! there (a tree walk comparing enums) showed in every profile. Node and client ids are
//! small and dense (the world hands them out from 1), so an index is the lookup.
//!
//! Iteration is in `ActorId`'s order (the coordinator, nodes by id, clients by id), as a
//! `BTreeMap`'s was: the lab's fingerprints and every report read the same sequence.

use shardsim_core::{ActorId, ClientId, NodeId};

#[derive(Clone, Debug)]
pub struct PerActor<T> {
    coordinator: Option<T>,
    /// Indexed by node id.
    nodes: Vec<Option<T>>,
    /// Indexed by client id.
    clients: Vec<Option<T>>,
    len: usize,
}

impl<T> Default for PerActor<T> {
    fn default() -> PerActor<T> {
        PerActor { coordinator: None, nodes: Vec::new(), clients: Vec::new(), len: 0 }
    }
}

impl<T> PerActor<T> {
    fn slot(&self, actor: ActorId) -> Option<&Option<T>> {
        match actor {
            ActorId::Coordinator => Some(&self.coordinator),
            ActorId::Node(NodeId(node)) => self.nodes.get(node as usize),
            ActorId::Client(ClientId(client)) => self.clients.get(client as usize),
        }
    }

    /// The actor's slot, made if it is past the end.
    fn slot_mut(&mut self, actor: ActorId) -> &mut Option<T> {
        let (slots, index) = match actor {
            ActorId::Coordinator => return &mut self.coordinator,
            ActorId::Node(NodeId(node)) => (&mut self.nodes, node as usize),
            ActorId::Client(ClientId(client)) => (&mut self.clients, client as usize),
        };
        if index >= slots.len() {
            slots.resize_with(index + 1, || None);
        }
        &mut slots[index]
    }

    pub fn get(&self, actor: ActorId) -> Option<&T> {
        self.slot(actor)?.as_ref()
    }

    pub fn get_mut(&mut self, actor: ActorId) -> Option<&mut T> {
        match actor {
            ActorId::Coordinator => self.coordinator.as_mut(),
            ActorId::Node(NodeId(node)) => self.nodes.get_mut(node as usize)?.as_mut(),
            ActorId::Client(ClientId(client)) => self.clients.get_mut(client as usize)?.as_mut(),
        }
    }

    pub fn contains_key(&self, actor: ActorId) -> bool {
        self.get(actor).is_some()
    }

    /// Sets the actor's value; returns the one it replaced.
    pub fn insert(&mut self, actor: ActorId, value: T) -> Option<T> {
        let replaced = self.slot_mut(actor).replace(value);
        if replaced.is_none() {
            self.len += 1;
        }
        replaced
    }

    pub fn remove(&mut self, actor: ActorId) -> Option<T> {
        let removed = match actor {
            ActorId::Coordinator => self.coordinator.take(),
            ActorId::Node(NodeId(node)) => self.nodes.get_mut(node as usize).and_then(Option::take),
            ActorId::Client(ClientId(client)) => self.clients.get_mut(client as usize).and_then(Option::take),
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
        let slot = self.slot_mut(actor);
        if slot.is_none() {
            self.len += 1;
        }
        self.slot_mut(actor).get_or_insert_with(T::default)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every actor with a value, in `ActorId`'s order.
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
        coordinator.into_iter().chain(nodes).chain(clients)
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
            ActorId::Node(NodeId(3)),
            ActorId::Coordinator,
            ActorId::Node(NodeId(1)),
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
        assert!(PerActor::<u32>::default().is_empty());
    }
}
