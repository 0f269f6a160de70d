//! shardsim-core: the sans-IO control plane of a sharded database.
//!
//! Three actors — [`Coordinator`], [`DataNode`] and [`Client`] — are plain state
//! machines behind one entry point, [`Actor::handle`]: every input is data and carries the
//! logical `now`; every effect (send, persist, timer, observation) comes back as data in
//! an [`Outbox`]. Nothing here reads a clock, touches a socket or a file, spawns a
//! thread, or draws randomness other than from the [`Entropy`] the driver passes in.
//!
//! The pure parts stand alone: the [`planner`]s, the [`rebalancer`] gate, the migration
//! [`tracker`] and the [`phase`] order, the [`wire`] format and the [`storage`] records.

pub mod canary;
pub mod client;
pub mod config;
pub mod coordinator;
pub mod effects;
mod encoding;
pub mod entropy;
pub mod fixed_hash;
pub mod ids;
pub mod input;
pub mod load;
pub mod log;
pub mod node;
pub mod observation;
mod observation_display;
pub mod phase;
pub mod planner;
pub mod rebalancer;
pub mod routing;
mod small_map;
pub mod storage;
pub mod timer;
pub mod tracker;
pub mod wire;

pub use client::Client;
pub use config::ProtocolConfig;
pub use coordinator::Coordinator;
pub use effects::{Effect, Outbox, Ready};
pub use entropy::{Entropy, SplitMix64};
pub use ids::*;
pub use input::{Actor, Command, Input, InputError};
pub use node::DataNode;
pub use observation::Observation;
pub use timer::{Timer, TimerTable};
