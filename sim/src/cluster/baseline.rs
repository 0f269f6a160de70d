//! The baseline for the harness's overhead: bare madsim datagrams between the same number
//! of nodes at the same message rate, with nothing behind them but a counter.
//!
//! Each node waits on the same kind of alarm as the harness's actors: one madsim timer per
//! ping. A fresh `sleep` in every select (as this loop had) leaves a timer behind each
//! time it is polled, and each wakes the node again for nothing: that made bare madsim run
//! 16% more instructions and take 22% longer, and the harness look that much cheaper.

use super::alarm::Alarm;
use super::carry::socket_address;
use crate::actors::node_address;
use madsim::export::futures::future::{select, Either};
use madsim::net::Endpoint;
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep, Duration};
use shardsim_core::{Address, NodeId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const PAYLOAD_BYTES: usize = 96;

/// Each node pings the next every `interval_us`; every ping is answered. Returns the
/// datagrams delivered in `simulated_ms`.
pub fn ping_pong(seed: u64, nodes: u32, interval_us: u64, simulated_ms: u64) -> u64 {
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = delivered.clone();
    runtime.block_on(async move {
        let handle = Handle::current();
        let addresses: Vec<Address> = (1..=nodes).map(|node| node_address(NodeId(node), 0)).collect();
        let mut pingers = Vec::new();
        for (position, address) in addresses.iter().enumerate() {
            let (me, peer) = (*address, addresses[(position + 1) % addresses.len()]);
            let counter = counter.clone();
            let node = handle
                .create_node()
                .ip(socket_address(me).ip())
                .init(move || pinger(me, peer, interval_us, counter.clone()))
                .build();
            pingers.push(node.id());
        }
        sleep(Duration::from_millis(simulated_ms)).await;
        // As the harness does at a run's end: tasks left waiting would keep the runtime.
        for node in pingers {
            handle.kill(node);
        }
    });
    delivered.load(Ordering::Relaxed)
}

async fn pinger(me: Address, peer: Address, interval_us: u64, delivered: Arc<AtomicU64>) {
    let endpoint = Endpoint::bind(socket_address(me)).await.expect("bind");
    let receiver = endpoint.clone();
    let mut incoming = Box::pin(receiver.recv_from_raw(0));
    let mut next_ping = madsim::time::TimeHandle::current().elapsed();
    let mut alarm = Alarm::new();
    loop {
        alarm.set(next_ping);
        match select(incoming.as_mut(), alarm.ring()).await {
            Either::Left((Ok((payload, from)), _)) => {
                incoming = Box::pin(receiver.recv_from_raw(0));
                delivered.fetch_add(1, Ordering::Relaxed);
                let bytes = payload.downcast::<bytes::Bytes>().expect("bytes");
                if bytes[0] == 0 {
                    let pong = bytes::Bytes::from(vec![1u8; PAYLOAD_BYTES]);
                    let _ = endpoint.send_to_raw(from, 0, Box::new(pong)).await;
                }
            }
            Either::Left((Err(_), _)) => return,
            Either::Right(((), _)) => {
                next_ping += Duration::from_micros(interval_us);
                let ping = bytes::Bytes::from(vec![0u8; PAYLOAD_BYTES]);
                let _ = endpoint.send_to_raw(socket_address(peer), 0, Box::new(ping)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every node pings once an interval and every ping is answered: two datagrams a node
    /// an interval (less the few in flight when the run ends).
    #[test]
    fn every_node_pings_each_interval_and_hears_back() {
        let (nodes, interval_us, simulated_ms) = (4, 10_000, 1_000);
        let delivered = ping_pong(1, nodes, interval_us, simulated_ms);
        let expected = 2 * u64::from(nodes) * simulated_ms * 1_000 / interval_us;
        assert!(delivered <= expected && delivered + 2 * u64::from(nodes) >= expected, "{delivered} of {expected}");
    }
}
