//! The world as every task of one madsim run shares it, with madsim's clock and the
//! madsim node each actor runs on. madsim runs every task on one thread, so the lock is
//! never contended; no task holds it across an await.

use crate::world::{Applied, Event, World};
use shardsim_core::{ActorId, Address, Instant};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub struct Shared {
    pub world: World,
    started: madsim::time::Instant,
    /// The madsim node each actor runs on now, and the address it was built with.
    pub madsim_nodes: BTreeMap<ActorId, (madsim::task::NodeId, Address)>,
}

impl Shared {
    /// Simulated time since the run began, as the world counts it.
    pub fn now(&self) -> Instant {
        Instant(madsim::time::Instant::now().duration_since(self.started).as_millis() as u64)
    }

    /// Applies `event` now.
    pub fn apply(&mut self, event: Event) -> Applied {
        let now = self.now();
        self.world.apply(now, event)
    }
}

#[derive(Clone)]
pub struct SharedWorld(Arc<Mutex<Shared>>);

impl SharedWorld {
    pub fn new(world: World) -> SharedWorld {
        let started = madsim::time::Instant::now();
        SharedWorld(Arc::new(Mutex::new(Shared { world, started, madsim_nodes: BTreeMap::new() })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
