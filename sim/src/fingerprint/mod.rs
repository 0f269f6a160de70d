//! State identity for the lab's model checker: a canonical, compact encoding of a world's
//! state and its 128-bit hash, with no `Debug` formatting on the way. Two states with the
//! same fingerprint have the same future (up to the renaming, when one is applied); see
//! [`World::fingerprint`](crate::world::World::fingerprint) for what a state is.

mod encoder;
pub mod records;
mod relabel;

pub use encoder::Encoder;
pub use relabel::{Relabel, NODES_MAX, SHARDS_MAX};
