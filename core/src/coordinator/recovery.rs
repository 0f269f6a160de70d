//! The coordinator's boot: rebuild everything from disk, then settle what was in flight.

use super::Membership;
use super::{Coordinator, CoordinatorMeta};
use crate::effects::Outbox;
use crate::ids::{ActorId, Address, Incarnation, Instant, MigrationId, PeerIdentity};
use crate::input::InputError;
use crate::observation::Observation;
use crate::phase::{AbortReason, Phase};
use crate::rebalancer::Rebalancer;
use crate::routing::{Route, RoutingTable};
use crate::storage::{decode_record, put, CorruptRecord, DiskImage, StorageKey};
use crate::timer::Timer;
use crate::tracker::{MigrationRecord, MigrationTracker};
use std::collections::BTreeMap;

impl Coordinator {
    /// Everything is decoded before anything changes, so a corrupt disk leaves the
    /// coordinator as it was and returns the error.
    pub(super) fn boot(
        &mut self,
        now: Instant,
        disk: &DiskImage,
        address: Address,
        out: &mut Outbox,
    ) -> Result<(), InputError> {
        let mut meta = CoordinatorMeta { incarnation: Incarnation(0), next_migration_id: MigrationId(1) };
        let mut routing = RoutingTable::new();
        let mut members = Membership::new();
        let mut records: Vec<MigrationRecord> = Vec::new();
        for (key, value) in disk {
            match *key {
                StorageKey::CoordinatorMeta => meta = decode_record(*key, value)?,
                StorageKey::Route(shard) => routing.restore(shard, decode_record::<Route>(*key, value)?),
                StorageKey::Member(node) => members.restore(node, decode_record(*key, value)?, now),
                StorageKey::Migration(_) => records.push(decode_record(*key, value)?),
                _ => {}
            }
        }
        let tracker = MigrationTracker::restore(
            self.config.enforced_caps(),
            self.config.terminal_migrations_kept_max,
            meta.next_migration_id,
            records,
        )
        .map_err(|error| CorruptRecord { key: StorageKey::CoordinatorMeta, detail: error.to_string() })?
        .with_phase_shortcut(self.config.has_canary(crate::canary::Canary::PhaseShortcut));

        meta.incarnation = Incarnation(meta.incarnation.0 + 1);
        self.meta = meta;
        self.identity = Some(PeerIdentity { actor: ActorId::Coordinator, address, incarnation: meta.incarnation });
        self.grace_started_at = now;
        self.routing = routing;
        self.members = members;
        self.tracker = tracker;
        self.rebalancer = Rebalancer::new();
        self.liaisons = BTreeMap::new();
        self.shard_loads = BTreeMap::new();
        self.confirmed = BTreeMap::new();
        self.lost = BTreeMap::new();
        out.persist(put(StorageKey::CoordinatorMeta, &self.meta));

        let in_flight = self.tracker.active_ids();
        tracing::info!(incarnation = %meta.incarnation, in_flight = in_flight.len(), "coordinator booted");
        out.observe(Observation::CoordinatorBooted {
            incarnation: meta.incarnation,
            active_migrations: in_flight.clone(),
        });
        for id in in_flight {
            self.settle_after_restart(now, id, out);
        }
        out.set_timer(Timer::Watchdog, now.plus_ms(self.config.coordinator_tick_ms));
        out.set_timer(Timer::Placement, now.plus_ms(self.config.coordinator_tick_ms));
        Ok(())
    }

    /// The in-memory progress of a migration died with the previous life. The routing
    /// entry is the commit point: if it already names the target, the migration completed;
    /// otherwise nothing was committed and aborting is safe.
    fn settle_after_restart(&mut self, now: Instant, id: MigrationId, out: &mut Outbox) {
        let record = self.tracker.get(id).expect("active id").clone();
        let committed = self
            .routing
            .get(record.shard)
            .is_some_and(|route| route.owner == record.target_node && route.epoch == record.from_epoch.next());
        if record.phase == Phase::CutOver && committed {
            self.advance(now, id, Phase::Complete, out);
        } else {
            self.abort(now, id, AbortReason::CoordinatorRecovered, out);
        }
    }
}
