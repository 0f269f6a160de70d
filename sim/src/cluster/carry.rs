//! Carrying what the world asked for over madsim: messages as datagrams (with the
//! harness's duplicates), and each disk's fsync as a short sleep before the `Sync` event
//! that releases what waited for it.

use super::shared::SharedWorld;
use crate::world::{Applied, Event, MessageId};
use madsim::net::Endpoint;
use madsim::rand::Rng;
use madsim::time::{sleep, Duration};
use shardsim_core::{Address, Entropy};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// An fsync takes between these many microseconds.
const FSYNC_LATENCY_US: std::ops::Range<u64> = 50..1_000;

/// Entropy for a scheduler's own draws (the workload, duplicates), from madsim's seeded
/// generator. The core's entropy is the world's.
pub struct MadsimEntropy;

impl Entropy for MadsimEntropy {
    fn next_u64(&mut self) -> u64 {
        madsim::rand::random::<u64>()
    }
}

pub fn socket_address(address: Address) -> SocketAddr {
    let [a, b, c, d] = address.ip;
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(a, b, c, d)), address.port)
}

/// Carries out all an event asked: the machines it stopped, started or reconfigured (a
/// crash the event caused may end this very task at its next await; the restart runs a
/// fresh one), what it sent, then the sync of the disk others wait for, as often as each
/// sync releases more.
pub async fn carry(world: &SharedWorld, endpoint: &Endpoint, mut applied: Applied) {
    loop {
        if !applied.stopped.is_empty() || !applied.started.is_empty() || applied.network_changed {
            super::machines::Machines::new(world.clone()).obey(&applied);
        }
        for message in std::mem::take(&mut applied.sent) {
            transmit(world, endpoint, message).await;
        }
        let Some(actor) = applied.sync else { return };
        let latency_us = madsim::rand::thread_rng().gen_range(FSYNC_LATENCY_US);
        sleep(Duration::from_micros(latency_us)).await;
        applied = world.lock().apply(Event::Sync { actor });
    }
}

/// One message as a datagram (its id: the world holds the bytes); now and then a copy.
async fn transmit(world: &SharedWorld, endpoint: &Endpoint, message: MessageId) {
    let (to, copy) = {
        let mut shared = world.lock();
        let Some(to) = shared.world.destination(message) else { return };
        let duplicate_permille = shared.world.network().duplicate_permille;
        let copy = if duplicate_permille > 0 && madsim::rand::random::<u32>() % 1000 < duplicate_permille {
            shared.apply(Event::Duplicate { message }).sent.first().copied()
        } else {
            None
        };
        (socket_address(to), copy)
    };
    for id in std::iter::once(message).chain(copy) {
        let _ = endpoint.send_to_raw(to, 0, Box::new(id)).await;
    }
}
