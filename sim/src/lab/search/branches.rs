//! The choices a search tries in a state: every delivery, and (when asked) every drop,
//! every timer, and within per-path budgets crashes, client writes, disk faults, clock
//! steps, decommissions and joins. A stopped actor may always be restarted.

use super::SearchOptions;
use crate::lab::{Choice, Lab};
use shardsim_core::{ActorId, NodeId};

/// What one path may still spend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budgets {
    pub crashes: u8,
    pub writes: u8,
    pub disk_faults: u8,
    pub clock_steps: u8,
    pub decommissions: u8,
    /// New machines joining (offered while fewer nodes than the lab's size are in service).
    pub joins: u8,
}

impl Budgets {
    /// What is left after `choice`.
    pub fn after(self, choice: Choice) -> Budgets {
        let spent = |left: u8, spends: bool| left - u8::from(spends && left > 0);
        Budgets {
            crashes: spent(self.crashes, matches!(choice, Choice::Crash(_))),
            writes: spent(self.writes, matches!(choice, Choice::ClientWrite(_))),
            disk_faults: spent(self.disk_faults, matches!(choice, Choice::DiskFault(_))),
            clock_steps: spent(self.clock_steps, matches!(choice, Choice::ClockStep(_))),
            decommissions: spent(self.decommissions, matches!(choice, Choice::Decommission(_))),
            joins: spent(self.joins, matches!(choice, Choice::Join)),
        }
    }

    /// Mixed into a state's fingerprint: the same state with more left to spend has more
    /// future, so it is another search node.
    pub fn fingerprint(self) -> u128 {
        let packed = u128::from(self.crashes)
            | u128::from(self.writes) << 8
            | u128::from(self.disk_faults) << 16
            | u128::from(self.clock_steps) << 24
            | u128::from(self.decommissions) << 32
            | u128::from(self.joins) << 40;
        packed.wrapping_mul(0x2545_F491_4F6C_DD1D_9E37_79B9_7F4A_7C15)
    }
}

/// Disk faults the lab's `DiskFault` index picks per node: torn write, failed fsync, bit
/// flip, read error, full disk (see [`Lab::apply`]).
const DISK_FAULT_KINDS: u16 = 5;
/// The kinds that hit one stored record: bit flip and read error.
const RECORD_FAULT_KINDS: [u16; 2] = [2, 3];
/// Which of a node's shard records a record fault may hit, by position: the first few
/// (a shard's role, then its log's first entries), so that a lost entry is within reach.
const RECORD_PICKS: u16 = 3;
/// The clock steps offered per server, as `Lab::apply` reads a `ClockStep` index's size:
/// 500 ms back and 500 ms forward.
const CLOCK_STEP_SIZES: [u16; 2] = [1, 9];

pub fn choices(lab: &Lab, options: &SearchOptions, budgets: Budgets) -> Vec<Choice> {
    let mut choices = Vec::new();
    let messages = lab.in_flight().len() as u16;
    choices.extend((0..messages).map(Choice::Deliver));
    if options.drops {
        choices.extend((0..messages).map(Choice::Drop));
    }
    if options.timers {
        // Any due timer may fire first; when none is due, only the earliest can (time
        // moves to it). Other indexes would wrap onto these (see Lab::apply).
        let order = lab.timer_order();
        let due = order.iter().filter(|(at, _, _)| *at <= lab.now()).count().max(1).min(order.len());
        choices.extend((0..due as u16).map(Choice::FireTimer));
    }
    if let Some(ms) = options.calm_ms {
        choices.push(Choice::Calm(ms));
    }
    if let Some(ms) = options.advance_ms {
        choices.push(Choice::AdvanceTime(ms));
    }
    let nodes = lab.actors().nodes.len() as u16;
    for index in 0..=nodes {
        let actor = if index == 0 { ActorId::Coordinator } else { ActorId::Node(NodeId(u32::from(index))) };
        if !lab.actors().is_up(actor) {
            choices.push(Choice::Restart(index));
        } else if budgets.crashes > 0 {
            choices.push(Choice::Crash(index));
        }
    }
    if budgets.writes > 0 {
        // Two entities per shard (see Lab::apply): every (shard, entity) once.
        let writes = (lab.config().shards as u16).max(1) * 2;
        choices.extend((0..writes).map(Choice::ClientWrite));
    }
    if budgets.disk_faults > 0 {
        // Index = node + nodes × (kind + kinds × record), as Lab::apply reads it.
        let index = |node: u16, kind: u16, record: u16| node + nodes * (kind + DISK_FAULT_KINDS * record);
        for kind in 0..DISK_FAULT_KINDS {
            choices.extend((0..nodes).map(|node| Choice::DiskFault(index(node, kind, 0))));
        }
        for record in 1..RECORD_PICKS {
            for kind in RECORD_FAULT_KINDS {
                choices.extend((0..nodes).map(|node| Choice::DiskFault(index(node, kind, record))));
            }
        }
    }
    if budgets.decommissions > 0 {
        // Any node still in service but the last (see Lab::apply), by position.
        let in_service = lab.in_service().len() as u16;
        if in_service >= 2 {
            choices.extend((0..in_service).map(Choice::Decommission));
        }
    }
    if budgets.joins > 0 && lab.in_service().len() < lab.config().nodes as usize {
        // A new machine under the next node id: with decommissions, shards move away and
        // back (a route a client cached can come back at a newer epoch).
        choices.push(Choice::Join);
    }
    if budgets.clock_steps > 0 {
        // Index = server + servers × size; the coordinator and the data nodes are servers.
        let servers = nodes + 1;
        for size in CLOCK_STEP_SIZES {
            choices.extend((0..servers).map(|server| Choice::ClockStep(server + servers * size)));
        }
    }
    choices
}
