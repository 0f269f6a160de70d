//! The bodies of the cargo-fuzz targets, here so that a stable test replays the checked-in
//! corpus through exactly the same code on every CI run.
//!
//! Canaries for a fuzz run come from the environment: `SHARDSIM_FUZZ_CANARIES` holds
//! comma-separated names (see `shardsim canaries`); unset, the core is the correct one.

use super::explore::{start_lab, Start};
use super::{ByteChooser, Lab, LabConfig};
use shardsim_core::canary::Canary;
use shardsim_core::{wire, ActorId, Address};
use std::sync::OnceLock;

pub const CANARIES_VARIABLE: &str = "SHARDSIM_FUZZ_CANARIES";

/// Fuzz inputs longer than this are cut: the fuzzer's time goes to many short runs.
pub const CHOICE_BYTES_MAX: usize = 3 * 1_500;

/// Parses a comma-separated canary list; panics on a bad name so a typo cannot make a fuzz
/// campaign run on the correct core by mistake.
pub fn parse_canaries(list: &str) -> Vec<Canary> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| name.parse().unwrap_or_else(|error| panic!("{error}")))
        .collect()
}

fn warm_lab(canaries: &[Canary]) -> Lab {
    let config = LabConfig { canaries: canaries.to_vec(), ..LabConfig::default() };
    start_lab(&config, Start::Warm).expect("the warm-up breaks no invariant")
}

fn prototype() -> &'static Lab {
    static PROTOTYPE: OnceLock<Lab> = OnceLock::new();
    PROTOTYPE.get_or_init(|| warm_lab(&parse_canaries(&std::env::var(CANARIES_VARIABLE).unwrap_or_default())))
}

/// Fuzzer bytes choose every step from the warm start; a broken invariant panics, which the
/// fuzzer reports as a crash.
pub fn message_order(data: &[u8]) {
    message_order_on(prototype(), data);
}

/// The same with an explicit start state (tests pass their own canaries).
pub fn message_order_on(start: &Lab, data: &[u8]) {
    let mut lab = start.clone();
    let data = &data[..data.len().min(CHOICE_BYTES_MAX)];
    if let Err((step, violation)) = lab.run(ByteChooser::new(data)) {
        panic!("invariant broken at choice {step}:\n{violation}");
    }
}

/// Arbitrary bytes into the wire decoder and into every actor's input handler, from the
/// warm state: errors are fine, panics are not.
pub fn decode(data: &[u8]) {
    let _ = wire::decode(data);
    let mut lab = prototype().clone();
    let from = Address::new([10, 0, 9, 9], 7000);
    let actors: Vec<ActorId> = lab.actors().actor_ids();
    for actor in actors {
        let _ = lab.deliver_raw(actor, from, data);
    }
}

/// A warm lab for tests that want canaries of their own.
pub fn warm_lab_with(canaries: &[Canary]) -> Lab {
    warm_lab(canaries)
}

impl Lab {
    /// Hands raw bytes to an actor as a datagram, outside the choice machinery.
    pub fn deliver_raw(&mut self, actor: ActorId, from: Address, bytes: &[u8]) -> Result<(), crate::oracle::Violation> {
        self.event(crate::world::Event::Datagram { to: actor, from, bytes: bytes::Bytes::copy_from_slice(bytes) })
    }
}
