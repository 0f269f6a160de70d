//! The wire format: every message is a serde type inside an [`Envelope`], encoded with
//! postcard. Decoding never panics; it returns a [`DecodeError`].

use crate::ids::{
    Address, ClientId, EntityKey, Epoch, Incarnation, LogIndex, MigrationId, NodeId, PeerIdentity, ShardId, WriteId,
};
use crate::load::{NodeLoad, ShardLoad};
use crate::log::{Digest, LogEntry};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::fmt;

pub const PROTOCOL_VERSION: u16 = 2;
/// Larger datagrams are refused before decoding: a bound on what a peer can make us parse.
pub const DATAGRAM_BYTES_MAX: usize = 256 * 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub version: u16,
    pub from: PeerIdentity,
    /// The receiver's incarnation the sender addressed, if it knew it. A node drops
    /// messages meant for an earlier life of itself.
    pub to_incarnation: Option<Incarnation>,
    pub body: Message,
}

/// How a data node holds one shard, as it reports it in heartbeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShardRole {
    Owned {
        epoch: Epoch,
    },
    /// Owned, but fenced for a cut-over: no writes until the coordinator decides.
    Fenced {
        epoch: Epoch,
        migration: MigrationId,
    },
    /// Being copied in as a migration target.
    Incoming {
        migration: MigrationId,
        from_epoch: Epoch,
    },
    /// Moved away; clients are redirected to the new owner.
    /// Moved away; clients are redirected to the new owner. The log is `retained` until
    /// the coordinator has seen the new owner hold the shard, so a new owner that lost it
    /// (a replaced machine) can be recovered from here.
    Forwarding {
        owner: NodeId,
        address: Address,
        epoch: Epoch,
        retained: bool,
    },
}

impl ShardRole {
    /// The epoch this node has seen for the shard.
    pub fn epoch(&self) -> Epoch {
        match *self {
            ShardRole::Owned { epoch } | ShardRole::Fenced { epoch, .. } | ShardRole::Forwarding { epoch, .. } => epoch,
            ShardRole::Incoming { from_epoch, .. } => from_epoch,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    pub shard: ShardId,
    pub role: ShardRole,
    pub last_index: LogIndex,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub load: NodeLoad,
    pub shard_loads: Vec<ShardLoad>,
    pub shards: Vec<ShardReport>,
    /// Shards this node refused at boot (corrupt on disk): it holds none of them.
    pub refused: Vec<ShardId>,
}

/// A source's view of its migration stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceProgress {
    pub snapshot_index: LogIndex,
    pub target_applied: LogIndex,
    pub source_last: LogIndex,
}

/// What the coordinator decided about a migration, told to a node that asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fate {
    InProgress,
    Aborted,
    Committed { owner: NodeId, address: Address, epoch: Epoch },
}

/// Why a data node refused a client request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rejection {
    /// This node does not hold the shard; ask the coordinator.
    NotOwner,
    /// The client named an older epoch than the owner's.
    StaleEpoch { current: Epoch },
    /// The shard is fenced for a cut-over; retry shortly.
    Fenced,
    /// The shard moved; here is where.
    Moved { owner: NodeId, address: Address, epoch: Epoch },
    /// A bound was reached (log full).
    Overloaded,
    /// The node's disk has no room for the entry; retry later or elsewhere.
    DiskFull,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    // data node -> coordinator
    Heartbeat(Heartbeat),
    SourceProgress {
        migration: MigrationId,
        shard: ShardId,
        progress: SourceProgress,
    },
    SourceSealed {
        migration: MigrationId,
        shard: ShardId,
        index: LogIndex,
        digest: Digest,
    },
    SourceRefused {
        migration: MigrationId,
        shard: ShardId,
    },
    TargetVerified {
        migration: MigrationId,
        shard: ShardId,
        held_index: LogIndex,
        digest: Digest,
    },
    FateQuery {
        migration: MigrationId,
        shard: ShardId,
        from_epoch: Epoch,
    },

    // coordinator -> data node
    /// Create the shard empty at `epoch`: a never-migrated shard at the initial epoch,
    /// or, at a later one, a shard this node refused as corrupt (its data is lost).
    AssignShard {
        shard: ShardId,
        epoch: Epoch,
    },
    /// The new owner holds the shard at `epoch`: the old owner may drop its retained log
    /// (or its refused copy).
    ReleaseShard {
        shard: ShardId,
        epoch: Epoch,
    },
    /// The new owner lost the shard; the old owner, which retained it, owns it at `epoch`.
    RehomeShard {
        shard: ShardId,
        epoch: Epoch,
    },
    StartMigration {
        migration: MigrationId,
        shard: ShardId,
        epoch: Epoch,
        target: PeerIdentity,
    },
    StartCutover {
        migration: MigrationId,
        shard: ShardId,
    },
    VerifyTarget {
        migration: MigrationId,
        shard: ShardId,
        sealed_index: LogIndex,
    },
    CommitMigration {
        migration: MigrationId,
        shard: ShardId,
        owner: NodeId,
        address: Address,
        epoch: Epoch,
    },
    AbortMigration {
        migration: MigrationId,
        shard: ShardId,
    },
    FateReply {
        migration: MigrationId,
        shard: ShardId,
        fate: Fate,
    },

    // source -> target and back
    Chunk {
        migration: MigrationId,
        shard: ShardId,
        from_epoch: Epoch,
        first_index: LogIndex,
        entries: Vec<LogEntry>,
    },
    ChunkAck {
        migration: MigrationId,
        shard: ShardId,
        applied_index: LogIndex,
    },

    // client <-> coordinator
    RouteQuery {
        shard: ShardId,
    },
    RouteReply {
        shard: ShardId,
        owner: Option<(NodeId, Address)>,
        epoch: Epoch,
    },

    // client <-> data node
    Write {
        shard: ShardId,
        epoch: Epoch,
        write_id: WriteId,
        entity: EntityKey,
        payload: Bytes,
    },
    WriteAck {
        shard: ShardId,
        epoch: Epoch,
        write_id: WriteId,
        index: LogIndex,
    },
    WriteRejected {
        shard: ShardId,
        write_id: WriteId,
        rejection: Rejection,
    },
    Read {
        shard: ShardId,
        epoch: Epoch,
        client: ClientId,
    },
    ReadReply {
        shard: ShardId,
        epoch: Epoch,
        last_index: LogIndex,
    },
    ReadRejected {
        shard: ShardId,
        rejection: Rejection,
    },
    /// Entity handoff: the shard is about to move, hold writes to it for a while.
    ShardMoving {
        shard: ShardId,
    },
}

impl Message {
    /// A short name for traces and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Heartbeat(_) => "heartbeat",
            Message::SourceProgress { .. } => "source_progress",
            Message::SourceSealed { .. } => "source_sealed",
            Message::SourceRefused { .. } => "source_refused",
            Message::TargetVerified { .. } => "target_verified",
            Message::FateQuery { .. } => "fate_query",
            Message::AssignShard { .. } => "assign_shard",
            Message::ReleaseShard { .. } => "release_shard",
            Message::RehomeShard { .. } => "rehome_shard",
            Message::StartMigration { .. } => "start_migration",
            Message::StartCutover { .. } => "start_cutover",
            Message::VerifyTarget { .. } => "verify_target",
            Message::CommitMigration { .. } => "commit_migration",
            Message::AbortMigration { .. } => "abort_migration",
            Message::FateReply { .. } => "fate_reply",
            Message::Chunk { .. } => "chunk",
            Message::ChunkAck { .. } => "chunk_ack",
            Message::RouteQuery { .. } => "route_query",
            Message::RouteReply { .. } => "route_reply",
            Message::Write { .. } => "write",
            Message::WriteAck { .. } => "write_ack",
            Message::WriteRejected { .. } => "write_rejected",
            Message::Read { .. } => "read",
            Message::ReadReply { .. } => "read_reply",
            Message::ReadRejected { .. } => "read_rejected",
            Message::ShardMoving { .. } => "shard_moving",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    TooLarge { length_bytes: usize },
    Malformed(String),
    UnsupportedVersion(u16),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { length_bytes } => {
                write!(f, "datagram of {length_bytes} bytes exceeds {DATAGRAM_BYTES_MAX}")
            }
            DecodeError::Malformed(detail) => write!(f, "malformed datagram: {detail}"),
            DecodeError::UnsupportedVersion(version) => {
                write!(f, "protocol version {version}, expected {PROTOCOL_VERSION}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

pub fn encode(envelope: &Envelope) -> Bytes {
    // Every message type serializes; a failure is a programming error.
    crate::encoding::encode_exact(envelope, |_| []).expect("envelopes serialize")
}

pub fn decode(bytes: &[u8]) -> Result<Envelope, DecodeError> {
    if bytes.len() > DATAGRAM_BYTES_MAX {
        return Err(DecodeError::TooLarge { length_bytes: bytes.len() });
    }
    let (envelope, rest): (Envelope, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|error| DecodeError::Malformed(error.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::Malformed(format!("{} trailing bytes", rest.len())));
    }
    if envelope.version != PROTOCOL_VERSION {
        return Err(DecodeError::UnsupportedVersion(envelope.version));
    }
    Ok(envelope)
}
