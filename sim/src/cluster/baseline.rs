//! The baseline for the harness's overhead: bare madsim datagrams between the same number
//! of nodes at the same message rate, with nothing behind them but a counter.

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
        for (position, address) in addresses.iter().enumerate() {
            let (me, peer) = (*address, addresses[(position + 1) % addresses.len()]);
            let counter = counter.clone();
            handle
                .create_node()
                .ip(socket_address(me).ip())
                .init(move || pinger(me, peer, interval_us, counter.clone()))
                .build();
        }
        sleep(Duration::from_millis(simulated_ms)).await;
    });
    delivered.load(Ordering::Relaxed)
}

async fn pinger(me: Address, peer: Address, interval_us: u64, delivered: Arc<AtomicU64>) {
    let endpoint = Endpoint::bind(socket_address(me)).await.expect("bind");
    let receiver = endpoint.clone();
    let mut incoming = Box::pin(receiver.recv_from_raw(0));
    let mut next_ping = madsim::time::Instant::now();
    loop {
        let wait = next_ping.saturating_duration_since(madsim::time::Instant::now());
        match select(incoming.as_mut(), std::pin::pin!(sleep(wait))).await {
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
