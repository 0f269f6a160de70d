//! Identities, epochs, indexes and logical time: the vocabulary every other module uses.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident($inner:ty), $prefix:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub $inner);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

id_type!(
    /// A data node's stable identity; survives restarts, kept when a machine is replaced.
    NodeId(u32), "n"
);
id_type!(
    /// A virtual shard (vShard): the unit of ownership and migration.
    ShardId(u32), "s"
);
id_type!(
    /// Routing epoch of one shard. Bumped by exactly one on every committed migration.
    Epoch(u64), "e"
);
id_type!(
    /// Bumped on every boot of an actor and kept on its disk.
    Incarnation(u64), "i"
);
id_type!(
    /// Position in a shard's append-only log. The first entry has index 1; 0 means empty.
    LogIndex(u64), "#"
);
id_type!(
    /// Allocated from the coordinator's persisted counter, never reused.
    MigrationId(u64), "m"
);
id_type!(
    /// A client of the database.
    ClientId(u32), "c"
);
id_type!(
    /// An entity of a shard (Akka sharding): one per key that clients write to, alive on
    /// the shard's owner only.
    EntityKey(u32), "k"
);

impl Epoch {
    pub const INITIAL: Epoch = Epoch(1);

    pub fn next(self) -> Epoch {
        Epoch(self.0 + 1)
    }
}

impl LogIndex {
    pub const EMPTY: LogIndex = LogIndex(0);

    pub fn next(self) -> LogIndex {
        LogIndex(self.0 + 1)
    }
}

/// An IPv4 socket address, kept as plain data so the core never touches `std::net`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Address {
    pub ip: [u8; 4],
    pub port: u16,
}

impl Address {
    pub const fn new(ip: [u8; 4], port: u16) -> Address {
        Address { ip, port }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.ip;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// Which actor of the protocol a peer is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ActorId {
    Coordinator,
    Node(NodeId),
    Client(ClientId),
}

impl fmt::Display for ActorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActorId::Coordinator => write!(f, "coordinator"),
            ActorId::Node(node) => write!(f, "{node}"),
            ActorId::Client(client) => write!(f, "{client}"),
        }
    }
}

/// A peer's full identity. Two identities of one actor differ after a restart (new
/// incarnation) or a replacement (new address, empty disk).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeerIdentity {
    pub actor: ActorId,
    pub address: Address,
    pub incarnation: Incarnation,
}

/// `n3#2`: node 3 in its second life. The alternate form (`{:#}`) adds the address,
/// which tells a replaced machine (new address, lives counted afresh) from the old one:
/// `n3#1@10.0.1.3:7000`.
impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.actor, self.incarnation.0)?;
        if f.alternate() {
            write!(f, "@{}", self.address)?;
        }
        Ok(())
    }
}

/// Identifies one client write for deduplication across retries and migrations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WriteId {
    pub client: ClientId,
    pub incarnation: Incarnation,
    pub sequence: u64,
}

/// `c1#1:658`: client 1, in its first life, its write number 658.
impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}:{}", self.client, self.incarnation.0, self.sequence)
    }
}

/// Logical time in milliseconds, handed in by the driver with every input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Instant(pub u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub fn as_ms(self) -> u64 {
        self.0
    }

    pub fn plus_ms(self, duration_ms: u64) -> Instant {
        Instant(self.0.saturating_add(duration_ms))
    }

    /// Milliseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn ms_since(self, earlier: Instant) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}
