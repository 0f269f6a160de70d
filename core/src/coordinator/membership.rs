//! The coordinator's view of its data nodes: liveness from heartbeats, identities,
//! joins and decommissions.

use crate::config::ProtocolConfig;
use crate::ids::{Address, Incarnation, Instant, NodeId, PeerIdentity};
use crate::load::NodeLoad;
use crate::storage::{put, StorageKey, StorageOp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Old identities remembered per member, so delayed datagrams from a previous life are
/// recognised as stale rather than as yet another identity change.
const RETIRED_IDENTITIES_MAX: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Liveness {
    /// Heard from recently, not yet settled.
    Joining,
    Active,
    /// Missed heartbeats; blocks the election gate.
    Suspect,
    /// Silent for long; no longer blocks the gate, holds its shards until it returns.
    Down,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub identity: PeerIdentity,
    pub retired: Vec<(Address, Incarnation)>,
    pub draining: bool,
    pub decommissioned: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    pub record: MemberRecord,
    pub liveness: Liveness,
    pub first_heard_at: Instant,
    pub last_heard_at: Instant,
    pub load: NodeLoad,
}

impl Member {
    pub fn identity(&self) -> PeerIdentity {
        self.record.identity
    }

    /// May receive shards.
    pub fn accepts_shards(&self) -> bool {
        self.liveness == Liveness::Active && !self.record.draining && !self.record.decommissioned
    }

    /// May take part in migrations at all (as a source, a draining node too).
    pub fn is_usable(&self) -> bool {
        self.liveness == Liveness::Active && !self.record.decommissioned
    }

    pub fn status_name(&self) -> String {
        let base = format!("{:?}", self.liveness).to_lowercase();
        if self.record.decommissioned {
            "decommissioned".to_string()
        } else if self.record.draining {
            format!("{base}+draining")
        } else {
            base
        }
    }
}

/// What a heartbeat changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeartbeatOutcome {
    /// From a previous life of the member: ignore the whole message.
    Stale,
    Known {
        liveness_changed: bool,
    },
    Joined,
    IdentityChanged {
        previous: PeerIdentity,
    },
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Membership {
    members: BTreeMap<NodeId, Member>,
    last_change_at: Instant,
}

impl Membership {
    pub fn new() -> Membership {
        Membership::default()
    }

    pub fn get(&self, node: NodeId) -> Option<&Member> {
        self.members.get(&node)
    }

    pub fn iter(&self) -> impl Iterator<Item = (NodeId, &Member)> {
        self.members.iter().map(|(node, member)| (*node, member))
    }

    /// The clock was stepped: silences and the quiet period restart from `now`, so a step
    /// forward neither makes every member look silent nor opens the gate early.
    pub fn clock_stepped(&mut self, now: Instant) {
        for member in self.members.values_mut() {
            member.last_heard_at = now;
        }
        self.last_change_at = now;
    }

    pub fn restore(&mut self, node: NodeId, record: MemberRecord, now: Instant) {
        let member = Member {
            record,
            liveness: Liveness::Suspect,
            first_heard_at: now,
            last_heard_at: now,
            load: NodeLoad::default(),
        };
        self.members.insert(node, member);
        self.last_change_at = now;
    }

    pub fn record_op(&self, node: NodeId) -> StorageOp {
        put(StorageKey::Member(node), &self.members[&node].record)
    }

    pub fn on_heartbeat(
        &mut self,
        node: NodeId,
        identity: PeerIdentity,
        load: NodeLoad,
        now: Instant,
    ) -> HeartbeatOutcome {
        let Some(member) = self.members.get_mut(&node) else {
            let record = MemberRecord { identity, retired: Vec::new(), draining: false, decommissioned: false };
            let member = Member { record, liveness: Liveness::Joining, first_heard_at: now, last_heard_at: now, load };
            self.members.insert(node, member);
            self.last_change_at = now;
            return HeartbeatOutcome::Joined;
        };
        let key = (identity.address, identity.incarnation);
        if member.record.retired.contains(&key) {
            return HeartbeatOutcome::Stale;
        }
        let same_address_older = identity.address == member.record.identity.address
            && identity.incarnation < member.record.identity.incarnation;
        if same_address_older {
            return HeartbeatOutcome::Stale;
        }
        member.last_heard_at = now;
        member.load = load;
        if member.identity() != identity {
            let previous = member.identity();
            member.record.retired.push((previous.address, previous.incarnation));
            if member.record.retired.len() > RETIRED_IDENTITIES_MAX {
                member.record.retired.remove(0);
            }
            member.record.identity = identity;
            member.liveness = Liveness::Joining;
            member.first_heard_at = now;
            self.last_change_at = now;
            return HeartbeatOutcome::IdentityChanged { previous };
        }
        let liveness_changed = matches!(member.liveness, Liveness::Suspect | Liveness::Down);
        if liveness_changed {
            member.liveness = Liveness::Active;
            self.last_change_at = now;
        }
        HeartbeatOutcome::Known { liveness_changed }
    }

    /// Ages members: joining to active, silent to suspect, long silent to down.
    pub fn on_tick(&mut self, now: Instant, config: &ProtocolConfig) -> Vec<NodeId> {
        let mut changed = Vec::new();
        for (node, member) in self.members.iter_mut() {
            if member.record.decommissioned {
                continue;
            }
            let silent_ms = now.ms_since(member.last_heard_at);
            let next = match member.liveness {
                Liveness::Joining if silent_ms >= config.heartbeat_timeout_ms => Liveness::Suspect,
                Liveness::Joining if now.ms_since(member.first_heard_at) >= config.join_settle_ms => Liveness::Active,
                Liveness::Active if silent_ms >= config.heartbeat_timeout_ms => Liveness::Suspect,
                Liveness::Suspect if silent_ms >= config.member_down_after_ms => Liveness::Down,
                current => current,
            };
            if next != member.liveness {
                member.liveness = next;
                changed.push(*node);
            }
        }
        if !changed.is_empty() {
            self.last_change_at = now;
        }
        changed
    }

    pub fn set_draining(&mut self, node: NodeId, now: Instant) -> bool {
        match self.members.get_mut(&node) {
            Some(member) if !member.record.draining && !member.record.decommissioned => {
                member.record.draining = true;
                self.last_change_at = now;
                true
            }
            _ => false,
        }
    }

    pub fn set_decommissioned(&mut self, node: NodeId, now: Instant) {
        let member = self.members.get_mut(&node).expect("decommissioning a known member");
        member.record.decommissioned = true;
        self.last_change_at = now;
    }

    /// No member joining or suspect.
    pub fn is_settled(&self) -> bool {
        self.members
            .values()
            .all(|member| member.record.decommissioned || matches!(member.liveness, Liveness::Active | Liveness::Down))
    }

    /// The election gate: no member joining or suspect, nothing changed lately.
    pub fn is_stable(&self, now: Instant, config: &ProtocolConfig) -> bool {
        self.is_settled() && now.ms_since(self.last_change_at) >= config.at_least_ms(config.membership_stable_ms)
    }

    /// The active member with the highest CPU.
    pub fn busiest(&self) -> Option<(NodeId, u32)> {
        self.members
            .iter()
            .filter(|(_, member)| member.is_usable())
            .max_by_key(|(node, member)| (member.load.cpu_permille, std::cmp::Reverse(**node)))
            .map(|(node, member)| (*node, member.load.cpu_permille))
    }
}
