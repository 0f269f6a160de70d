//! One short line per observation, in the compact names every report, log and evidence
//! line shares: `n3#2` (node 3, second life), `m7 s10 n3#1->n2#1 e1->e2`, `w c1#1:658`.
//! JSON keeps the full fields.

use crate::observation::Observation;
use crate::wire::Fate;
use std::fmt;

impl fmt::Display for Observation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Observation::*;
        match self {
            NodeBooted { identity, .. } => write!(f, "booted {identity}"),
            WriteAcked { shard, epoch, named_epoch, write_id, index, entity, .. } => {
                write!(f, "ack w {write_id} {shard}/{entity} at {index} {epoch}")?;
                if named_epoch != epoch {
                    write!(f, " (client named {named_epoch})")?;
                }
                Ok(())
            }
            EntityStarted { shard, entity, state, .. } => {
                write!(f, "{shard}/{entity} started: {} writes to {}", state.applied, state.last_index)
            }
            EntityStopped { shard, entity, state, reason, .. } => {
                write!(f, "{shard}/{entity} stopped ({reason:?}): {} writes to {}", state.applied, state.last_index)
            }
            ShardAssigned { shard, epoch, .. } => write!(f, "{shard} assigned at {epoch}"),
            ShardFenced { shard, migration, epoch, .. } => write!(f, "{migration} {shard} fenced at {epoch}"),
            HandoffProgress { shard, migration, remaining, .. } => {
                write!(f, "{migration} {shard} handoff: {remaining} entities left")
            }
            ShardSealed { shard, migration, index, .. } => write!(f, "{migration} {shard} sealed at {index}"),
            ShardUnfenced { shard, migration, .. } => write!(f, "{migration} {shard} unfenced"),
            OwnershipTaken { shard, migration, epoch, .. } => write!(f, "{migration} {shard} owned at {epoch}"),
            ShardForwarded { shard, owner, epoch, .. } => write!(f, "{shard} forwards to {owner} at {epoch}"),
            TargetVerified { identity, shard, migration, held_index, .. } => {
                write!(f, "{migration} {shard} target {identity} holds {held_index}")
            }
            RetainedLogDropped { shard, epoch, .. } => write!(f, "{shard} retained log dropped at {epoch}"),
            IncomingDiscarded { shard, migration, .. } => write!(f, "{migration} {shard} incoming copy discarded"),
            CoordinatorBooted { incarnation, active_migrations } => {
                write!(f, "coordinator booted #{} with {} active migrations", incarnation.0, active_migrations.len())
            }
            MemberChanged { identity, status, .. } => write!(f, "member {identity} {status}"),
            RebalanceSkipped { reason } => write!(f, "rebalance skipped: {reason}"),
            PlanDispatched { source, view, moves } => {
                let moves: Vec<String> =
                    moves.iter().map(|planned| format!("{} {}->{}", planned.shard, planned.from, planned.to)).collect();
                write!(
                    f,
                    "plan {} [{}] from a view of {} nodes, {} shards, {} active",
                    source.name(),
                    moves.join(", "),
                    view.nodes.len(),
                    view.shards.len(),
                    view.active_total
                )
            }
            FateAnswered { migration, shard, fate } => match fate {
                Fate::Committed { owner, epoch, .. } => {
                    write!(f, "{migration} {shard} fate: committed to {owner} at {epoch}")
                }
                other => write!(f, "{migration} {shard} fate: {other:?}"),
            },
            ShardAllocated { shard, owner, epoch } => write!(f, "{shard} allocated to {owner} at {epoch}"),
            MigrationStarted { migration, shard, source, target, from_epoch } => {
                write!(f, "{migration} {shard} {source}->{target} {from_epoch}->e{} started", from_epoch.0 + 1)
            }
            MigrationPhase { migration, shard, from, to } => write!(f, "{migration} {shard} {from:?}->{to:?}"),
            ShardRehomed { shard, owner, epoch, lost_owner } => {
                write!(f, "{shard} rehomed to {owner} at {epoch} (lost {lost_owner})")
            }
            ShardRecreated { shard, owner, epoch, lost_epoch } => {
                write!(f, "{shard} re-created empty on {owner} at {epoch} (lost what it held at {lost_epoch})")
            }
            MigrationAborted { migration, shard, reason } => write!(f, "{migration} {shard} aborted: {reason:?}"),
            RoutingCommitted {
                migration,
                shard,
                owner,
                epoch,
                sealed_index,
                target_held_index,
                pause_ms,
                budget_ms,
                ..
            } => {
                write!(
                    f,
                    "{migration} {shard} committed to {owner} at {epoch}: sealed {sealed_index}, target holds {target_held_index}, paused {pause_ms} of {budget_ms} ms"
                )
            }
            ClientAcked { write_id, shard, index } => write!(f, "client got ack w {write_id} {shard} at {index}"),
            ClientGaveUp { write_id, shard } => write!(f, "client gave up w {write_id} {shard}"),
            InputRejected { reason } => write!(f, "rejected: {reason}"),
            LogTailTruncated { shard, index, detail } => write!(f, "{shard} torn tail at {index} dropped: {detail}"),
            ShardRefused { shard, detail } => write!(f, "{shard} refused: corrupt on disk: {detail}"),
            RefusedShardDropped { node, shard } => write!(f, "{node} dropped its refused copy of {shard}"),
        }
    }
}
