//! shardsim: drivers for the core (the madsim cluster arrives with its own issue).
pub use shardsim_core as core;
