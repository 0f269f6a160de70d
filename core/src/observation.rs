//! What actors tell the oracle and the trace: facts about what they just did.

use crate::ids::{EntityKey, Epoch, Incarnation, LogIndex, MigrationId, NodeId, PeerIdentity, ShardId, WriteId};
use crate::load::ClusterView;
use crate::log::Digest;
use crate::node::{EntityState, EntityStop};
use crate::phase::{AbortReason, Phase};
use crate::planner::{Move, PlanSource};
use crate::wire::Fate;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Observation {
    // data node
    NodeBooted {
        node: NodeId,
        identity: PeerIdentity,
    },
    /// A write made durable and acked: `epoch` is the node's own epoch of the shard then,
    /// `named_epoch` the one the client's request named.
    WriteAcked {
        node: NodeId,
        shard: ShardId,
        epoch: Epoch,
        named_epoch: Epoch,
        write_id: WriteId,
        index: LogIndex,
        entity: EntityKey,
    },
    /// An entity came alive on a node, as the node's log of the shard says it is.
    EntityStarted {
        node: NodeId,
        shard: ShardId,
        entity: EntityKey,
        state: EntityState,
    },
    EntityStopped {
        node: NodeId,
        shard: ShardId,
        entity: EntityKey,
        state: EntityState,
        reason: EntityStop,
    },
    ShardAssigned {
        node: NodeId,
        shard: ShardId,
        epoch: Epoch,
    },
    ShardFenced {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
        epoch: Epoch,
    },
    HandoffProgress {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
        remaining: u32,
    },
    ShardSealed {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
        index: LogIndex,
        digest: Digest,
    },
    ShardUnfenced {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
    },
    OwnershipTaken {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
        epoch: Epoch,
    },
    ShardForwarded {
        node: NodeId,
        shard: ShardId,
        owner: NodeId,
        epoch: Epoch,
    },
    /// A migration target told the coordinator what it holds: its last act in the migration.
    TargetVerified {
        node: NodeId,
        identity: PeerIdentity,
        shard: ShardId,
        migration: MigrationId,
        held_index: LogIndex,
    },
    /// An old owner dropped the log it retained after the new owner was seen to hold it.
    RetainedLogDropped {
        node: NodeId,
        shard: ShardId,
        epoch: Epoch,
    },
    IncomingDiscarded {
        node: NodeId,
        shard: ShardId,
        migration: MigrationId,
    },

    // coordinator
    CoordinatorBooted {
        incarnation: Incarnation,
        active_migrations: Vec<MigrationId>,
    },
    MemberChanged {
        node: NodeId,
        identity: PeerIdentity,
        status: String,
    },
    RebalanceSkipped {
        reason: String,
    },
    /// The moves a sweep hands to the tracker, and the view they were planned from.
    PlanDispatched {
        source: PlanSource,
        view: ClusterView,
        moves: Vec<Move>,
    },
    /// The coordinator told a node that asked what became of a migration.
    FateAnswered {
        migration: MigrationId,
        shard: ShardId,
        fate: Fate,
    },
    ShardAllocated {
        shard: ShardId,
        owner: NodeId,
        epoch: Epoch,
    },
    MigrationStarted {
        migration: MigrationId,
        shard: ShardId,
        source: PeerIdentity,
        target: PeerIdentity,
        from_epoch: Epoch,
    },
    MigrationPhase {
        migration: MigrationId,
        shard: ShardId,
        from: Phase,
        to: Phase,
    },
    /// The committed owner lost the shard (a replaced machine); the old owner, which
    /// retained the log, owns it again at a new epoch.
    ShardRehomed {
        shard: ShardId,
        owner: NodeId,
        epoch: Epoch,
        lost_owner: NodeId,
    },
    /// The owner refused the shard (corrupt on disk) and no migration is in flight: the
    /// shard is re-created empty on it at a new epoch. What it held is lost.
    ShardRecreated {
        shard: ShardId,
        owner: NodeId,
        epoch: Epoch,
        lost_epoch: Epoch,
    },
    MigrationAborted {
        migration: MigrationId,
        shard: ShardId,
        reason: AbortReason,
    },
    RoutingCommitted {
        migration: MigrationId,
        shard: ShardId,
        owner: NodeId,
        epoch: Epoch,
        sealed_index: LogIndex,
        sealed_digest: Digest,
        target_held_index: LogIndex,
        target_digest: Digest,
        target_at_start: PeerIdentity,
        target_now: PeerIdentity,
        pause_ms: u64,
        budget_ms: u64,
    },

    // client
    ClientAcked {
        write_id: WriteId,
        shard: ShardId,
        index: LogIndex,
    },
    ClientGaveUp {
        write_id: WriteId,
        shard: ShardId,
    },

    /// Any actor: input from outside that it refused (bad bytes, stale or unknown message).
    InputRejected {
        reason: String,
    },

    // data node, at boot: what its checksums found
    /// The last record of a shard's log did not check out: a write torn by a crash,
    /// never synced and so never acked. It is dropped and the log ends before it.
    LogTailTruncated {
        shard: ShardId,
        index: LogIndex,
        detail: String,
    },
    /// A record of a shard's log (not its last) or its metadata did not check out: the
    /// node refuses the shard rather than serve what it cannot vouch for.
    ShardRefused {
        shard: ShardId,
        detail: String,
    },
    /// A refused shard the node did not own: the coordinator told it to drop the records.
    RefusedShardDropped {
        node: NodeId,
        shard: ShardId,
    },
}

impl Observation {
    /// The variant's name, as reports group failures by it.
    pub fn kind(&self) -> &'static str {
        match self {
            Observation::NodeBooted { .. } => "NodeBooted",
            Observation::WriteAcked { .. } => "WriteAcked",
            Observation::EntityStarted { .. } => "EntityStarted",
            Observation::EntityStopped { .. } => "EntityStopped",
            Observation::ShardAssigned { .. } => "ShardAssigned",
            Observation::ShardFenced { .. } => "ShardFenced",
            Observation::HandoffProgress { .. } => "HandoffProgress",
            Observation::ShardSealed { .. } => "ShardSealed",
            Observation::ShardUnfenced { .. } => "ShardUnfenced",
            Observation::OwnershipTaken { .. } => "OwnershipTaken",
            Observation::ShardForwarded { .. } => "ShardForwarded",
            Observation::TargetVerified { .. } => "TargetVerified",
            Observation::RetainedLogDropped { .. } => "RetainedLogDropped",
            Observation::IncomingDiscarded { .. } => "IncomingDiscarded",
            Observation::CoordinatorBooted { .. } => "CoordinatorBooted",
            Observation::MemberChanged { .. } => "MemberChanged",
            Observation::RebalanceSkipped { .. } => "RebalanceSkipped",
            Observation::PlanDispatched { .. } => "PlanDispatched",
            Observation::FateAnswered { .. } => "FateAnswered",
            Observation::ShardAllocated { .. } => "ShardAllocated",
            Observation::MigrationStarted { .. } => "MigrationStarted",
            Observation::MigrationPhase { .. } => "MigrationPhase",
            Observation::ShardRehomed { .. } => "ShardRehomed",
            Observation::ShardRecreated { .. } => "ShardRecreated",
            Observation::MigrationAborted { .. } => "MigrationAborted",
            Observation::RoutingCommitted { .. } => "RoutingCommitted",
            Observation::ClientAcked { .. } => "ClientAcked",
            Observation::ClientGaveUp { .. } => "ClientGaveUp",
            Observation::InputRejected { .. } => "InputRejected",
            Observation::LogTailTruncated { .. } => "LogTailTruncated",
            Observation::ShardRefused { .. } => "ShardRefused",
            Observation::RefusedShardDropped { .. } => "RefusedShardDropped",
        }
    }
}
