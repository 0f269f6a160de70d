//! Inputs: everything a driver hands an actor, each with the logical `now`.

use crate::effects::Outbox;
use crate::entropy::Entropy;
use crate::ids::{Address, EntityKey, Instant, NodeId, PeerIdentity, ShardId};
use crate::storage::{CorruptRecord, DiskImage, StorageKey};
use crate::timer::Timer;
use crate::wire::DecodeError;
use bytes::Bytes;
use std::fmt;

#[derive(Clone, Copy, Debug)]
pub enum Input<'a> {
    /// First input after every (re)boot: what the disk holds and the address we listen on.
    /// `unreadable` names records whose read failed (EIO); they are missing from `disk`.
    Boot {
        disk: &'a DiskImage,
        address: Address,
        unreadable: &'a [StorageKey],
    },
    /// One datagram from the network, still encoded.
    Datagram {
        from: Address,
        bytes: &'a [u8],
    },
    /// The named deadline the actor asked for has come (or fired spuriously: harmless).
    Timeout(Timer),
    Command(&'a Command),
    /// The machine's clock was set `by_ms` forward or back (an NTP step): the OS says so,
    /// as Linux does for a timerfd armed with `TFD_TIMER_CANCEL_ON_SET`. `now` already
    /// reads the stepped clock.
    ClockStepped {
        by_ms: i64,
    },
    /// The fsync of what the actor persisted last failed: those writes may be gone, and
    /// a retried fsync may report success over pages the kernel dropped (PostgreSQL's
    /// fsync lesson). Nothing that waited for it may go out; the safe answer is to
    /// restart from what the disk holds.
    SyncFailed,
    /// The disk has no room for more log entries (writes would fail with ENOSPC), or has
    /// room again. Metadata has space reserved and still fits.
    DiskFull {
        full: bool,
    },
}

/// Commands from the driver's workload or operator.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Command {
    /// Operator to coordinator: drain this node and let it leave.
    Decommission { node: NodeId },
    /// Workload to client: a write to one entity of a shard.
    Write { shard: ShardId, entity: EntityKey, payload: Bytes },
    /// Workload to client.
    Read { shard: ShardId },
}

/// Input an actor refused. Nothing was lost: the actor's state is as before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    Decode(DecodeError),
    CorruptDisk(CorruptRecord),
    /// The disk could not be read whole at boot. The actor did not boot (booting from
    /// part of its disk would forget what the rest holds): the driver retries the boot.
    DiskUnreadable(StorageKey),
    NotBooted,
    /// A message this actor never accepts (for example a heartbeat sent to a client).
    UnexpectedMessage {
        kind: &'static str,
        from: PeerIdentity,
    },
    /// A message meant for an earlier life of this actor, or from a peer identity that
    /// has since changed: dropped.
    Stale(String),
    /// Well-formed input this actor refuses: a command it does not take, a bound reached.
    Refused(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Decode(error) => write!(f, "{error}"),
            InputError::CorruptDisk(error) => write!(f, "{error}"),
            InputError::DiskUnreadable(key) => write!(f, "read error at boot on {key:?}: not booted, retry"),
            InputError::NotBooted => write!(f, "input before boot"),
            InputError::UnexpectedMessage { kind, from } => {
                write!(f, "unexpected {kind} from {from}")
            }
            InputError::Stale(detail) => write!(f, "stale input: {detail}"),
            InputError::Refused(detail) => write!(f, "refused: {detail}"),
        }
    }
}

impl std::error::Error for InputError {}

impl From<DecodeError> for InputError {
    fn from(error: DecodeError) -> Self {
        InputError::Decode(error)
    }
}

impl From<CorruptRecord> for InputError {
    fn from(error: CorruptRecord) -> Self {
        InputError::CorruptDisk(error)
    }
}

/// The one entry point every actor (coordinator, data node, client) offers its driver.
///
/// Driver contract: call `handle` with `Input::Boot` first after every (re)boot, then with
/// datagrams, timeouts and commands in any order, always with a non-decreasing `now`. After
/// each call take the outbox's [`Ready`](crate::Ready) and carry it out as it says:
/// what waits for the sync only after the sync. Keep one deadline per timer name, the
/// latest.
pub trait Actor {
    fn handle(
        &mut self,
        now: Instant,
        input: Input<'_>,
        entropy: &mut dyn Entropy,
        out: &mut Outbox,
    ) -> Result<(), InputError>;

    /// `None` before the first boot.
    fn identity(&self) -> Option<PeerIdentity>;
}
