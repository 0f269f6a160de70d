//! Freeing a run. madsim keeps a runtime alive while any task waits on one of its timers
//! (the timers hold the tasks, the tasks hold its clock), and with it all those tasks
//! hold: the world, a megabyte a seed (a sweep of 20,000 seeds reached 19 GB). So a run
//! leaves a trail of what it made, and once it has ended or panicked, the caller kills
//! every node and lets madsim drop their tasks.

use super::shared::{SharedWorld, WeakWorld};
use madsim::runtime::Runtime;
use madsim::task::NodeId;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Trail(Arc<Mutex<Made>>);

#[derive(Default)]
struct Made {
    world: Option<WeakWorld>,
    supervisor: Option<NodeId>,
}

impl Trail {
    pub fn supervisor_made(&self, node: NodeId) {
        self.made().supervisor = Some(node);
    }

    pub fn world_made(&self, world: &SharedWorld) {
        self.made().world = Some(world.downgrade());
    }

    /// Once `runtime.block_on` has returned or panicked: kills every node the run made
    /// (the world's table names the actors'), then runs madsim once more, which drops a
    /// killed node's tasks instead of polling them.
    pub fn free(&self, runtime: &Runtime) {
        let (world, supervisor) = {
            let made = self.made();
            (made.world.as_ref().and_then(WeakWorld::upgrade), made.supervisor)
        };
        let mut nodes: Vec<NodeId> = supervisor.into_iter().collect();
        if let Some(world) = world {
            nodes.extend(world.lock().madsim_nodes.values().map(|(node, _)| *node));
        }
        for node in nodes {
            runtime.handle().kill(node);
        }
        runtime.block_on(async {});
    }

    /// Whether anything still holds the world the run made.
    pub fn world_alive(&self) -> bool {
        self.made().world.as_ref().and_then(WeakWorld::upgrade).is_some()
    }

    fn made(&self) -> std::sync::MutexGuard<'_, Made> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulation::Simulation;
    use crate::world::World;
    use madsim::runtime::Handle;
    use madsim::time::{sleep, Duration};
    use shardsim_core::{ActorId, Address};

    /// A run that panics while an actor's task waits on a timer: madsim keeps that task,
    /// and the world with it, until the trail kills the node (as it does after any run).
    #[test]
    fn a_run_that_panicked_is_freed_by_its_trail() {
        let runtime = Runtime::with_seed_and_config(1, madsim::Config::default());
        let trail = Trail::default();
        let for_run = trail.clone();
        let config = Simulation::new(1).spec().world_config();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(async move {
                let world = SharedWorld::new(World::new(config));
                for_run.world_made(&world);
                let node = Handle::current().create_node().build();
                let held = world.clone();
                node.spawn(async move {
                    let _world = held;
                    sleep(Duration::from_secs(3_600)).await;
                });
                let address = Address { ip: [10, 0, 0, 1], port: 7000 };
                world.lock().madsim_nodes.insert(ActorId::Coordinator, (node.id(), address));
                sleep(Duration::from_millis(1)).await;
                panic!("a planted panic");
            })
        }));
        assert!(panicked.is_err());
        assert!(trail.world_alive(), "madsim still holds the waiting task");
        trail.free(&runtime);
        assert!(!trail.world_alive(), "the world outlived its panicked run");
    }
}
