//! The world as every task of one madsim run shares it, with madsim's clock and the
//! madsim node each actor runs on. madsim runs every task on one thread, so the lock is
//! never contended; no task holds it across an await.

use crate::world::{Applied, Event, World};
use madsim::time::TimeHandle;
use shardsim_core::{ActorId, Address, Instant};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

pub struct Shared {
    pub world: World,
    /// madsim's clock, read directly: `Instant::now()` goes through madsim's libc
    /// `clock_gettime` override, which costs a context lookup each call.
    clock: TimeHandle,
    /// madsim's elapsed time when the run began: `now` reads elapsed time, with no
    /// `Instant` arithmetic (an addition and a subtraction of timespecs each call).
    started_elapsed: std::time::Duration,
    /// The madsim node each actor runs on now, and the address it was built with.
    pub madsim_nodes: BTreeMap<ActorId, (madsim::task::NodeId, Address)>,
}

impl Shared {
    /// Simulated time since the run began, as the world counts it.
    pub fn now(&self) -> Instant {
        // Not `as_millis`: its 128-bit division shows in a profile of every wake-up.
        let since = self.clock.elapsed().saturating_sub(self.started_elapsed);
        Instant(since.as_secs() * 1000 + u64::from(since.subsec_millis()))
    }

    /// madsim's elapsed time when the world's clock reads `at`.
    pub fn madsim_elapsed(&self, at: Instant) -> std::time::Duration {
        self.started_elapsed + std::time::Duration::from_millis(at.as_ms())
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
        let clock = TimeHandle::current();
        let started_elapsed = clock.elapsed();
        SharedWorld(Arc::new(Mutex::new(Shared { world, clock, started_elapsed, madsim_nodes: BTreeMap::new() })))
    }

    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn downgrade(&self) -> WeakWorld {
        WeakWorld(Arc::downgrade(&self.0))
    }
}

/// A handle on the world that does not keep it: a run's trail checks the world is gone.
pub struct WeakWorld(Weak<Mutex<Shared>>);

impl WeakWorld {
    /// The world, while anything still holds it.
    pub fn upgrade(&self) -> Option<SharedWorld> {
        self.0.upgrade().map(SharedWorld)
    }
}
