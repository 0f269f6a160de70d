//! What every fault kind means, once: which links it cuts, which actor it stops, what
//! knob it turns, and what its healing undoes. A fault that cannot apply (its node is not
//! in the cluster, or replacing it would wipe a shard's only copy) is skipped and noted.

use super::{Applied, FaultId, World};
use crate::actors::node_address;
use crate::faults::{Fault, Target};
use shardsim_core::storage::{decode_record, StorageKey};
use shardsim_core::wire::ShardRole;
use shardsim_core::{ActorId, Command, NodeId};
use std::collections::BTreeSet;

/// A fault in force until it heals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveFault {
    pub fault: Fault,
    effect: Effect,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Effect {
    /// Directed actor-to-actor links that drop everything.
    Links(Vec<(ActorId, ActorId)>),
    Loss(u32),
    DelayMs(u64),
    Duplicate(u32),
    Down(ActorId),
    DiskFull(ActorId),
}

impl ActiveFault {
    pub(super) fn loss_permille(&self) -> u32 {
        if let Effect::Loss(rate) = self.effect {
            rate
        } else {
            0
        }
    }

    pub(super) fn delay_max_ms(&self) -> u64 {
        if let Effect::DelayMs(latency) = self.effect {
            latency
        } else {
            0
        }
    }

    pub(super) fn duplicate_permille(&self) -> u32 {
        if let Effect::Duplicate(rate) = self.effect {
            rate
        } else {
            0
        }
    }
}

fn actor_of(target: Target) -> ActorId {
    match target {
        Target::Coordinator => ActorId::Coordinator,
        Target::Node(node) => ActorId::Node(node),
    }
}

impl World {
    fn record_fault(&mut self, fault: &Fault, applied: bool, detail: &str) {
        let kind = fault.kind();
        let counts = if applied { &mut self.faults_injected } else { &mut self.faults_skipped };
        *counts.entry(kind.name().to_string()).or_default() += 1;
        let verb = if applied { "inject" } else { "skip" };
        self.note(&format!("{verb} {fault:?}{detail}"));
        if applied {
            self.oracle.fault_started(kind, fault.heals_after_ms().is_some());
        }
    }

    /// Both directions between `side` and every other actor with a slot now.
    fn cut_off(&self, side: &BTreeSet<ActorId>) -> Vec<(ActorId, ActorId)> {
        let mut links = Vec::new();
        for a in side {
            for b in self.actors.actor_ids().into_iter().filter(|b| !side.contains(b)) {
                links.push((*a, b));
                links.push((b, *a));
            }
        }
        links
    }

    pub(super) fn inject(&mut self, fault: &Fault, applied: &mut Applied) {
        let effect = match self.effect_of(fault, applied) {
            Ok(Some(effect)) => effect,
            Ok(None) => {
                self.record_fault(fault, true, "");
                return;
            }
            Err(why) => {
                self.record_fault(fault, false, &format!(" ({why})"));
                return;
            }
        };
        self.record_fault(fault, true, "");
        let id = FaultId(self.next_fault);
        self.next_fault += 1;
        applied.network_changed = matches!(effect, Effect::Loss(_) | Effect::DelayMs(_) | Effect::Duplicate(_));
        self.active.insert(id, ActiveFault { fault: fault.clone(), effect });
        self.relink();
        applied.fault = Some(id);
    }

    /// Carries out a fault: `Ok(Some)` for one in force until healed, `Ok(None)` for one
    /// done at once, `Err` (why) for one skipped.
    fn effect_of(&mut self, fault: &Fault, applied: &mut Applied) -> Result<Option<Effect>, &'static str> {
        let effect = match fault {
            Fault::Isolate { node, .. } => {
                if !self.actors.has_slot(ActorId::Node(*node)) {
                    return Err("node not in the cluster");
                }
                Effect::Links(self.cut_off(&BTreeSet::from([ActorId::Node(*node)])))
            }
            Fault::Split { side, .. } => {
                Effect::Links(self.cut_off(&side.iter().map(|target| actor_of(*target)).collect()))
            }
            Fault::OneWay { from, to, .. } => Effect::Links(vec![(actor_of(*from), actor_of(*to))]),
            Fault::CutOffCoordinator { .. } => Effect::Links(self.cut_off(&BTreeSet::from([ActorId::Coordinator]))),
            Fault::Loss { rate_permille, .. } => Effect::Loss(*rate_permille),
            Fault::Delay { latency_max_ms, .. } => Effect::DelayMs(*latency_max_ms),
            Fault::Duplicate { rate_permille, .. } => Effect::Duplicate(*rate_permille),
            Fault::Crash { target, .. } => {
                let actor = actor_of(*target);
                if !self.actors.is_up(actor) {
                    return Err("already down or not in the cluster");
                }
                self.stop(actor, applied);
                Effect::Down(actor)
            }
            Fault::Restart { node } => {
                let actor = ActorId::Node(*node);
                if !self.actors.is_up(actor) {
                    return Err("down or not in the cluster");
                }
                self.stop(actor, applied);
                self.start(actor, applied);
                return Ok(None);
            }
            Fault::Replace { node } => {
                if !self.actors.has_slot(ActorId::Node(*node)) || !self.actors.owns_no_shard(*node) {
                    return Err("owns a shard, or not in the cluster");
                }
                self.replace(*node, applied);
                return Ok(None);
            }
            Fault::Join { node } => {
                let actor = ActorId::Node(*node);
                if self.actors.has_slot(actor) {
                    return Err("already a member");
                }
                self.actors.add_node(*node, node_address(*node, 0));
                self.start(actor, applied);
                return Ok(None);
            }
            Fault::Decommission { node } => {
                self.command(ActorId::Coordinator, Command::Decommission { node: *node }, applied);
                return Ok(None);
            }
            Fault::HotSpot { shard } => {
                self.workload.hot_shard = *shard;
                return Ok(None);
            }
            Fault::TornWrite { node } | Fault::FsyncFail { node } => {
                if !self.actors.has_slot(ActorId::Node(*node)) {
                    return Err("not in the cluster");
                }
                let armed = match fault {
                    Fault::TornWrite { .. } => &mut self.torn_armed,
                    _ => &mut self.fsync_fail_armed,
                };
                armed.insert(ActorId::Node(*node));
                return Ok(None);
            }
            Fault::BitFlip { node, pick } => {
                self.flip_bit(*node, *pick, applied)?;
                return Ok(None);
            }
            Fault::ReadError { node, pick } => {
                let actor = ActorId::Node(*node);
                if !self.actors.has_slot(actor) {
                    return Err("not in the cluster");
                }
                self.read_error_armed.insert(actor, *pick);
                if self.actors.is_up(actor) {
                    self.stop(actor, applied);
                    self.start(actor, applied);
                }
                return Ok(None);
            }
            Fault::DiskFull { node, .. } => {
                let actor = ActorId::Node(*node);
                if !self.actors.has_slot(actor) || self.disk_full(actor) {
                    return Err("not in the cluster, or full already");
                }
                self.step(actor, shardsim_core::Input::DiskFull { full: true }, applied);
                Effect::DiskFull(actor)
            }
            Fault::ClockDrift { target, drift_ppm } => {
                let actor = actor_of(*target);
                self.clocks.get_or_default(actor).set_drift(self.now, *drift_ppm);
                self.refresh_next_due(actor);
                return Ok(None);
            }
            Fault::CutOverClockStep { back_ms, stall_ms } => {
                self.cut_over_step_armed.push((*back_ms, *stall_ms));
                return Ok(None);
            }
            Fault::ClockStep { target, by_ms } => {
                let actor = actor_of(*target);
                self.clocks.get_or_default(actor).step(self.now, *by_ms);
                self.refresh_next_due(actor);
                self.step(actor, shardsim_core::Input::ClockStepped { by_ms: *by_ms }, applied);
                return Ok(None);
            }
        };
        Ok(Some(effect))
    }

    /// Ends one fault: its links open, its knob drops, its downed actor starts again.
    pub(super) fn heal(&mut self, id: FaultId, applied: &mut Applied) {
        let Some(active) = self.active.remove(&id) else { return };
        match active.effect {
            // A replacement may have started it already.
            Effect::Down(actor) if !self.actors.is_up(actor) => self.start(actor, applied),
            Effect::Down(_) => {}
            Effect::Loss(_) | Effect::DelayMs(_) | Effect::Duplicate(_) => applied.network_changed = true,
            Effect::Links(_) => {}
            Effect::DiskFull(actor) => self.step(actor, shardsim_core::Input::DiskFull { full: false }, applied),
        }
        self.note(&format!("heal {:?}", active.fault));
        self.oracle.fault_ended(active.fault.kind());
        self.relink();
    }

    /// A cut-over started: an armed targeted nemesis goes off once this event is done.
    pub(super) fn cut_over_started(&mut self, migration: shardsim_core::MigrationId) {
        if self.cut_over_step_armed.is_empty() {
            return;
        }
        let target = self
            .actors
            .coordinator
            .actor
            .as_ref()
            .and_then(|coordinator| coordinator.tracker().get(migration))
            .map(|record| record.target_node);
        let Some(target) = target else { return };
        let (back_ms, stall_ms) = self.cut_over_step_armed.remove(0);
        *self.faults_injected.entry("cut_over_clock_step_went_off".to_string()).or_default() += 1;
        self.note(&format!("{migration} cuts over: the coordinator's clock steps back {back_ms} ms, {target} stalls"));
        self.reactions.push(Fault::ClockStep { target: Target::Coordinator, by_ms: -(back_ms as i64) });
        self.reactions.push(Fault::Isolate { node: target, heal_after_ms: stall_ms });
    }

    /// Injects what targeted nemeses set off, and times the heals of those that last:
    /// no scheduler knows of them, so the world heals them itself.
    pub(super) fn react(&mut self, applied: &mut Applied) {
        let (fault_before, network_changed) = (applied.fault.take(), applied.network_changed);
        for fault in std::mem::take(&mut self.reactions) {
            self.inject(&fault, applied);
            if let (Some(id), Some(after_ms)) = (applied.fault.take(), fault.heals_after_ms()) {
                self.timed_heals.insert((self.now.plus_ms(after_ms), id));
            }
        }
        applied.fault = fault_before;
        applied.network_changed |= network_changed;
    }

    /// Heals the world's own faults whose time has come.
    pub(super) fn heal_due(&mut self, applied: &mut Applied) {
        while let Some(&(at, id)) = self.timed_heals.first() {
            if at > self.now {
                return;
            }
            self.timed_heals.pop_first();
            self.heal(id, applied);
        }
    }

    /// No fault armed before the liveness phase goes off in it: every fault has healed.
    pub(super) fn disarm_all(&mut self) {
        self.torn_armed.clear();
        self.fsync_fail_armed.clear();
        self.read_error_armed.clear();
        self.cut_over_step_armed.clear();
        self.reactions.clear();
    }

    pub(super) fn heal_all(&mut self, applied: &mut Applied) {
        let ids: Vec<FaultId> = self.active.keys().copied().collect();
        for id in ids {
            self.heal(id, applied);
        }
    }

    pub(super) fn stop(&mut self, actor: ActorId, applied: &mut Applied) {
        self.crash(actor);
        self.note(&format!("kill {actor}"));
        applied.stopped.push(actor);
    }

    /// Whether `actor`'s disk is full now.
    pub(super) fn disk_full(&self, actor: ActorId) -> bool {
        self.active.values().any(|active| active.effect == Effect::DiskFull(actor))
    }

    /// An armed torn write goes off: `actor` crashes with its last log entry half on disk
    /// (what was meant is noted for the oracle) and restarts, to read it back.
    pub(super) fn tear(&mut self, actor: ActorId, applied: &mut Applied) {
        self.torn_armed.remove(&actor);
        let (ActorId::Node(node), Some((key, meant))) = (actor, self.actors.disk_mut(actor).crash_torn()) else {
            return;
        };
        self.note(&format!("torn write of {key:?} on {actor}"));
        *self.faults_injected.entry("torn_write_went_off".to_string()).or_default() += 1;
        self.oracle.note_damaged_record(node, key, meant);
        self.stop(actor, applied);
        self.start(actor, applied);
    }

    /// Rot at rest: one bit of one of `node`'s stored shard records flips, and the node
    /// restarts to read it back. The oracle learns what the record held, and, when the
    /// node held the shard as its owner, that the shard's only copy is gone.
    fn flip_bit(&mut self, node: NodeId, pick: u64, applied: &mut Applied) -> Result<(), &'static str> {
        let actor = ActorId::Node(node);
        if !self.actors.has_slot(actor) {
            return Err("not in the cluster");
        }
        let records = self.actors.disk_mut(actor).shard_records();
        if records.is_empty() {
            return Err("no shard record on its disk");
        }
        let key = records[(pick % records.len() as u64) as usize];
        let shard = match key {
            StorageKey::ShardMeta(shard) | StorageKey::LogEntry(shard, _) => shard,
            _ => unreachable!("shard records only"),
        };
        let owned = self.actors.disk_mut(actor).durable().get(&StorageKey::ShardMeta(shard)).is_some_and(|meta| {
            matches!(
                decode_record::<ShardRole>(StorageKey::ShardMeta(shard), meta),
                Ok(ShardRole::Owned { .. } | ShardRole::Fenced { .. })
            )
        });
        let meant = self.actors.disk_mut(actor).flip_bit(key, pick / records.len() as u64).expect("a stored record");
        self.note(&format!("bit flipped in {key:?} on {actor}{}", if owned { ": its only copy, lost" } else { "" }));
        // A record damaged already (flipped or torn while its node was down) keeps the
        // bytes first meant there, which the oracle holds.
        if shardsim_core::storage::checked_body(key, &meant).is_ok() {
            self.oracle.note_damaged_record(node, key, meant);
        }
        if owned {
            *self.faults_injected.entry("bit_flip_lost_only_copy".to_string()).or_default() += 1;
            self.oracle.note_shard_lost(shard);
        }
        if self.actors.is_up(actor) {
            self.stop(actor, applied);
            self.start(actor, applied);
        }
        Ok(())
    }

    /// The record an armed read error hits at `actor`'s boot, if any: one of its shard
    /// records, or its own metadata when it holds none.
    pub(super) fn unreadable_at_boot(&mut self, actor: ActorId) -> Option<StorageKey> {
        let pick = self.read_error_armed.remove(&actor)?;
        let disk = self.actors.disk_mut(actor);
        let mut records = disk.shard_records();
        if records.is_empty() {
            records.extend(disk.durable().keys().copied());
        }
        let key = *records.get((pick % records.len().max(1) as u64) as usize)?;
        *self.faults_injected.entry("read_error_went_off".to_string()).or_default() += 1;
        self.note(&format!("read error on {key:?} at {actor}'s boot"));
        Some(key)
    }

    /// The scheduler boots it (an `Event::Boot`) when it sees fit.
    pub(super) fn start(&mut self, actor: ActorId, applied: &mut Applied) {
        self.note(&format!("restart {actor}"));
        applied.started.push(actor);
    }

    /// A new machine for the node: a new address and an empty disk.
    fn replace(&mut self, node: NodeId, applied: &mut Applied) {
        let actor = ActorId::Node(node);
        if self.actors.is_up(actor) {
            self.stop(actor, applied);
        }
        let generation = self.generations.entry(node).or_default();
        *generation += 1;
        let address = node_address(node, *generation);
        self.actors.replace(node, address);
        self.start(actor, applied);
    }

    /// An operator's command, at once if its actor is up, else at its next boot.
    fn command(&mut self, actor: ActorId, command: Command, applied: &mut Applied) {
        if self.actors.is_up(actor) {
            self.step(actor, shardsim_core::Input::Command(&command), applied);
        } else {
            self.commands.get_or_default(actor).push(command);
        }
    }

    /// The cut links are exactly those of the partitions in force.
    fn relink(&mut self) {
        self.blocked.clear();
        for active in self.active.values() {
            if let Effect::Links(links) = &active.effect {
                self.blocked.extend(links.iter().copied());
            }
        }
    }
}
