//! shardsim: deterministic simulation of the shardsim core.
//!
//! - [`Simulation`] and [`Report`]: run a seed of a scenario, get a verdict.
//! - [`oracle`]: the invariants, checked after every step, usable by any driver.
//! - [`scenario`], [`faults`] and [`workload`]: what a run does, drawn from its seed.
//! - [`actors`] and [`disk`]: the actors in slots with simulated disks.
pub use shardsim_core as core;

pub mod actors;
#[cfg(madsim)]
pub mod bench;
#[cfg(madsim)]
pub mod cluster;
pub mod disk;
pub mod fault_draw;
pub mod faults;
pub mod fingerprint;
pub mod junit;
pub mod knob_map;
pub mod knobs;
pub mod lab;
pub mod merge;
pub mod oracle;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod simulation;
pub mod sweep;
pub mod sweep_records;
pub mod sweep_shard;
pub mod timeline;
pub mod trace;
pub mod workload;
pub mod world;

pub use report::{Report, Verdict};
pub use scenario::{Scenario, ScenarioName};
pub use simulation::Simulation;
