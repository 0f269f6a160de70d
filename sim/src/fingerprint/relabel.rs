//! A renaming of data nodes and shards: what symmetry reduction applies to a state before
//! it is fingerprinted. Two states that one renaming turns into the other are the same
//! state up to names.

/// Node ids and shard ids the lab uses are small: 1..=8 nodes, 0..16 shards.
pub const NODES_MAX: usize = 8;
pub const SHARDS_MAX: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relabel {
    /// `nodes[id]` is the new id of node `id` (index 0 unused: node ids start at 1).
    nodes: [u32; NODES_MAX + 1],
    shards: [u32; SHARDS_MAX],
    /// Write the byte strings a state holds as the values they decode to, with their ids
    /// renamed. Every renaming of one symmetry-reduced search must (the identity too), so
    /// that all of them write a state the same way; without symmetry, bytes are canonical
    /// and cheaper.
    decode_bytes: bool,
}

impl Default for Relabel {
    fn default() -> Self {
        Relabel::identity()
    }
}

impl Relabel {
    pub fn identity() -> Relabel {
        Relabel {
            nodes: std::array::from_fn(|id| id as u32),
            shards: std::array::from_fn(|id| id as u32),
            decode_bytes: false,
        }
    }

    /// `node_order[i]` is the new id of node `i + 1`; `shard_order[i]` that of shard `i`.
    pub fn new(node_order: &[u32], shard_order: &[u32]) -> Relabel {
        let mut relabel = Relabel { decode_bytes: true, ..Relabel::identity() };
        for (index, new) in node_order.iter().enumerate().take(NODES_MAX) {
            relabel.nodes[index + 1] = *new;
        }
        for (index, new) in shard_order.iter().enumerate().take(SHARDS_MAX) {
            relabel.shards[index] = *new;
        }
        relabel
    }

    /// Whether byte strings are written decoded (see the field).
    pub fn decodes_bytes(&self) -> bool {
        self.decode_bytes
    }

    /// Ids past the table are left alone: a renaming only ever covers the lab's ids.
    pub fn node(&self, id: u32) -> u32 {
        self.nodes.get(id as usize).copied().unwrap_or(id)
    }

    pub fn shard(&self, id: u32) -> u32 {
        self.shards.get(id as usize).copied().unwrap_or(id)
    }

    /// A data node's address names the node in its last byte (see
    /// [`node_address`](crate::actors::node_address)): renamed with it. Other addresses
    /// (coordinator, clients) stay.
    pub fn address_ip(&self, ip: [u8; 4]) -> [u8; 4] {
        let [a, b, c, d] = ip;
        let names_a_node = a == 10 && b == 0 && c % 10 == 1;
        match names_a_node {
            true => [a, b, c, self.node(u32::from(d)) as u8],
            false => ip,
        }
    }

    /// Every renaming of `nodes` data nodes and `shards` shards, the identity first: n! m!
    /// of them.
    pub fn all(nodes: u32, shards: u32, rename_shards: bool) -> Vec<Relabel> {
        let node_orders = permutations((1..=nodes.min(NODES_MAX as u32)).collect());
        let shard_orders = match rename_shards {
            true => permutations((0..shards.min(SHARDS_MAX as u32)).collect()),
            false => vec![(0..shards).collect()],
        };
        let mut all = Vec::with_capacity(node_orders.len() * shard_orders.len());
        for node_order in &node_orders {
            for shard_order in &shard_orders {
                all.push(Relabel::new(node_order, shard_order));
            }
        }
        all
    }
}

/// Every order of `items`, the given order first (Heap's algorithm would do, but the lab's
/// sizes are tiny and this reads plainly).
fn permutations(items: Vec<u32>) -> Vec<Vec<u32>> {
    if items.len() <= 1 {
        return vec![items];
    }
    let mut all = Vec::new();
    for index in 0..items.len() {
        let mut rest = items.clone();
        let first = rest.remove(index);
        for mut tail in permutations(rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::NodeId;

    #[test]
    fn renamings_are_every_permutation_with_the_identity_first() {
        let all = Relabel::all(3, 2, true);
        assert_eq!(all.len(), 12);
        assert_eq!(all[0], Relabel { decode_bytes: true, ..Relabel::identity() });
        let distinct: std::collections::BTreeSet<Vec<u32>> =
            all.iter().map(|relabel| (1..=3).map(|id| relabel.node(id)).chain([relabel.shard(0)]).collect()).collect();
        assert_eq!(distinct.len(), 12);
        assert_eq!(Relabel::all(3, 2, false).len(), 6);
    }

    #[test]
    fn a_node_address_is_renamed_with_its_node_and_others_are_not() {
        let swap = Relabel::new(&[2, 1], &[]);
        let node_one = crate::actors::node_address(NodeId(1), 3);
        assert_eq!(swap.address_ip(node_one.ip), crate::actors::node_address(NodeId(2), 3).ip);
        let client = crate::actors::client_address(shardsim_core::ClientId(1));
        assert_eq!(swap.address_ip(client.ip), client.ip);
        let coordinator = shardsim_core::ProtocolConfig::default().coordinator_address;
        assert_eq!(swap.address_ip(coordinator.ip), coordinator.ip);
    }
}
