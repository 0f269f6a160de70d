//! What a world's state is, for the lab's model checker: everything that decides its
//! future, written canonically (see [`crate::fingerprint`]).
//!
//! In: every actor's memory (with its configuration left out: it is the same for the whole
//! run), every disk (durable and cached), the messages in flight as a multiset, timers,
//! clocks, links, armed and active faults, node generations, commands waiting for a boot,
//! the entropy the core draws jitter from. Times count relative to now (each actor's on its
//! own clock), so states that differ only in when they happen are one state: the core sees
//! time only through differences with its `now`.
//!
//! Out: the oracle's memory (what was acked and when: history, not state), the trace, the
//! stats, fault ids (labels), and true time itself, unless a clock reads below zero
//! (where readings clamp, so absolute time counts).

use super::World;
use crate::actors::Slot;
use crate::fingerprint::{records, Encoder, Relabel};
use shardsim_core::{ActorId, Instant};

impl World {
    /// The 128-bit fingerprint of this state under `relabel`: equal for two states exactly
    /// when one, renamed, is the other (up to hash collisions, about 2^-64 at a billion
    /// states).
    pub fn fingerprint(&self, relabel: &Relabel, encoder: &mut Encoder) -> u128 {
        encoder.reset(relabel);
        self.encode_state(encoder);
        encoder.finish()
    }

    /// Writes the state (see the module's notes) into `encoder`, for a scheduler that adds
    /// state of its own before taking the fingerprint.
    pub fn encode_state(&self, encoder: &mut Encoder) {
        let now = self.now;
        let clamped = self.clocks.values().any(|clock| clock.offset_and_drift(now).0 < -(now.as_ms() as i64));
        encoder.u64(if clamped { now.as_ms() } else { u64::MAX });
        encoder.value(&self.entropy);

        encoder.begin_set();
        for (actor, clock) in self.clocks.iter() {
            encoder.value(&actor);
            encoder.value(&clock.offset_and_drift(now));
            encoder.entry();
        }
        encoder.end_set();

        encoder.begin_set();
        for (actor, table) in self.timers.iter() {
            encoder.value(&actor);
            encoder.set_now_ms(self.local_now(actor).as_ms());
            encoder.value(table);
            encoder.entry();
        }
        encoder.end_set();

        self.fingerprint_slot(encoder, ActorId::Coordinator, &self.actors.coordinator);
        encoder.begin_set();
        for (node, slot) in &self.actors.nodes {
            self.fingerprint_slot(encoder, ActorId::Node(*node), slot);
            encoder.entry();
        }
        encoder.end_set();
        encoder.begin_set();
        for (client, slot) in &self.actors.clients {
            self.fingerprint_slot(encoder, ActorId::Client(*client), slot);
            encoder.entry();
        }
        encoder.end_set();

        encoder.set_now_ms(now.as_ms());
        encoder.begin_set();
        for (_, message) in self.in_flight.iter() {
            encoder.value(&message.from);
            encoder.value(&message.from_address);
            encoder.value(&message.to);
            records::datagram(encoder, &message.bytes);
            encoder.entry();
        }
        encoder.end_set();

        self.fingerprint_faults(encoder);
        encoder.value(&self.generations);
        encoder.begin_set();
        for (actor, commands) in self.commands.iter() {
            encoder.value(&actor);
            encoder.value(commands);
            encoder.entry();
        }
        encoder.end_set();
        // Outputs held for a sync: the lab syncs at once, so there are none between steps;
        // a scheduler that holds some fingerprints their count, so states do not merge.
        encoder.u64(self.held.len() as u64);
    }

    fn fingerprint_slot<A: serde::Serialize>(&self, encoder: &mut Encoder, actor: ActorId, slot: &Slot<A>) {
        encoder.value(&actor);
        encoder.value(&slot.address);
        encoder.set_now_ms(self.local_now(actor).as_ms());
        encoder.value(&slot.actor);
        encoder.begin_set();
        for (key, value) in slot.disk.durable() {
            encoder.value(key);
            records::record(encoder, *key, value);
            encoder.entry();
        }
        encoder.end_set();
        encoder.value(slot.disk.cache());
    }

    fn fingerprint_faults(&self, encoder: &mut Encoder) {
        encoder.set_now_ms(self.now.as_ms());
        encoder.begin_set();
        for (from, to) in &self.blocked {
            encoder.value(&(from, to));
            encoder.entry();
        }
        encoder.end_set();
        for armed in [&self.torn_armed, &self.fsync_fail_armed] {
            encoder.begin_set();
            for actor in armed {
                encoder.value(actor);
                encoder.entry();
            }
            encoder.end_set();
        }
        encoder.begin_set();
        for (actor, pick) in &self.read_error_armed {
            encoder.value(&(actor, pick));
            encoder.entry();
        }
        encoder.end_set();
        encoder.value(&self.cut_over_step_armed);
        encoder.begin_set();
        for (id, active) in &self.active {
            encoder.value(&active.fault);
            let heals_at = self.timed_heals.iter().find(|(_, heals)| heals == id).map(|(at, _)| *at);
            encoder.value(&heals_at.map(|at: Instant| at.as_ms().wrapping_sub(self.now.as_ms())));
            encoder.entry();
        }
        encoder.end_set();
    }
}
