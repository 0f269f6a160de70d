//! shardsim: deterministic simulation of the shardsim core.
//!
//! - [`oracle`]: the invariants, checked after every step, usable by any driver.
pub use shardsim_core as core;

pub mod oracle;
