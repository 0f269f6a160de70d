//! The run's trace: every observation and nemesis action with its simulated time. A
//! rolling hash of it is always kept (to check determinism); the JSON lines only when a
//! trace file was asked for.

use serde::Serialize;
use shardsim_core::{ActorId, Instant, Observation};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a of `bytes` continued from `hash` (start from [`fnv1a`]'s offset).
pub fn fnv1a_fold(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a of `bytes`: a fixed, portable hash (never `RandomState`).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_fold(FNV_OFFSET, bytes)
}

#[derive(Serialize)]
struct ObservationLine<'a> {
    t_ms: u64,
    actor: String,
    observation: &'a Observation,
}

#[derive(Serialize)]
struct NemesisLine<'a> {
    t_ms: u64,
    nemesis: &'a str,
}

/// postcard's output folded into the hash as it comes: the hash of the encoding, without
/// the encoding.
struct FnvFold {
    hash: u64,
}

impl postcard::ser_flavors::Flavor for FnvFold {
    type Output = u64;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.hash = fnv1a_fold(self.hash, &[byte]);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.hash = fnv1a_fold(self.hash, bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<u64> {
        Ok(self.hash)
    }
}

#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    lines: Option<Vec<String>>,
}

impl Trace {
    pub fn new(keep_lines: bool) -> Trace {
        Trace { hash: FNV_OFFSET, lines: keep_lines.then(Vec::new) }
    }

    pub fn observation(&mut self, at: Instant, actor: ActorId, observation: &Observation) {
        let folding = FnvFold { hash: self.hash };
        self.hash =
            postcard::serialize_with_flavor(&(at, actor, observation), folding).expect("observations serialize");
        if let Some(lines) = &mut self.lines {
            let line = ObservationLine { t_ms: at.as_ms(), actor: actor.to_string(), observation };
            lines.push(serde_json::to_string(&line).expect("observations serialize"));
        }
    }

    pub fn nemesis(&mut self, at: Instant, action: &str) {
        self.hash = fnv1a_fold(fnv1a_fold(self.hash, &at.as_ms().to_le_bytes()), action.as_bytes());
        if let Some(lines) = &mut self.lines {
            lines.push(
                serde_json::to_string(&NemesisLine { t_ms: at.as_ms(), nemesis: action }).expect("strings serialize"),
            );
        }
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn take_lines(&mut self) -> Option<Vec<String>> {
        self.lines.take()
    }
}

/// One line of a trace, read back (the timeline and the plot are drawn from these).
#[derive(Clone, Debug, PartialEq)]
pub enum TraceEntry {
    Nemesis { at_ms: u64, action: String },
    Observation { at_ms: u64, actor: String, kind: String, fields: serde_json::Value },
}

impl TraceEntry {
    pub fn at_ms(&self) -> u64 {
        match self {
            TraceEntry::Nemesis { at_ms, .. } | TraceEntry::Observation { at_ms, .. } => *at_ms,
        }
    }
}

/// The nemesis action that ends every fault still active: the liveness phase begins.
pub const LIVENESS_PHASE_ACTION: &str = "liveness phase: all faults healed";

/// Reads trace lines back; a line that is not one (not JSON, or neither kind) is skipped.
pub fn read_entries(lines: &[String]) -> impl Iterator<Item = TraceEntry> + '_ {
    lines.iter().filter_map(|line| {
        let mut entry: serde_json::Value = serde_json::from_str(line).ok()?;
        let at_ms = entry["t_ms"].as_u64().unwrap_or(0);
        if let Some(action) = entry["nemesis"].as_str() {
            return Some(TraceEntry::Nemesis { at_ms, action: action.to_string() });
        }
        let actor = entry["actor"].as_str()?.to_string();
        let (kind, fields) = entry["observation"].as_object_mut()?.iter_mut().next()?;
        Some(TraceEntry::Observation { at_ms, actor, kind: kind.clone(), fields: fields.take() })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shardsim_core::{Epoch, MigrationId, NodeId, ShardId};

    /// The hash is FNV-1a of each observation's postcard encoding and each nemesis
    /// action's time and text, in order: what saved schedules' trace hashes were made of.
    #[test]
    fn hashes_the_encodings_in_order() {
        let observation = Observation::OwnershipTaken {
            node: NodeId(2),
            shard: ShardId(1),
            migration: MigrationId(4),
            epoch: Epoch(3),
        };
        let mut trace = Trace::new(false);
        trace.observation(Instant(5), ActorId::Node(NodeId(2)), &observation);
        trace.nemesis(Instant(9), "partition n1 | n2");
        let mut expected =
            fnv1a(&postcard::to_allocvec(&(Instant(5), ActorId::Node(NodeId(2)), &observation)).unwrap());
        expected = fnv1a_fold(expected, &9u64.to_le_bytes());
        expected = fnv1a_fold(expected, b"partition n1 | n2");
        assert_eq!(trace.hash(), expected);
    }
}
