//! One actor on one madsim node: feed it datagrams, timers, commands and (for clients)
//! the workload, and carry out its outputs — persists to its simulated disk with an fsync
//! before anything that depends on them, sends through the harness's send layer.

use super::world::SharedWorld;
use bytes::Bytes;
use madsim::export::futures::future::{select, Either};
use madsim::net::Endpoint;
use madsim::rand::Rng;
use madsim::time::{sleep, Duration};
use shardsim_core::{ActorId, Address, Command, Entropy, Input, InputError, Instant, Output};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The core's entropy, drawn from madsim's seeded generator.
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

fn core_address(socket: SocketAddr) -> Address {
    match socket.ip() {
        IpAddr::V4(ip) => Address::new(ip.octets(), socket.port()),
        IpAddr::V6(_) => Address::default(),
    }
}

/// An fsync takes between these many microseconds.
const FSYNC_LATENCY_US: std::ops::Range<u64> = 50..1_000;

struct Task {
    world: SharedWorld,
    actor: ActorId,
    endpoint: Endpoint,
    timer: Option<Instant>,
}

impl Task {
    /// One input, then its outputs in order. Returns false once the run has a verdict.
    async fn step(
        &mut self,
        input: impl FnOnce(&mut crate::actors::Actors, Instant) -> (Result<(), InputError>, Vec<Output>),
    ) -> bool {
        let outputs = {
            let mut world = self.world.lock();
            if world.violation.is_some() {
                return false;
            }
            let now = world.now();
            let (result, outputs) = input(&mut world.actors, now);
            if let Err(error) = result {
                world.stats.inputs_rejected += 1;
                tracing::debug!(actor = %self.actor, %error, "input rejected");
            }
            outputs
        };
        self.carry_out(outputs).await;
        self.world.lock().after_step(self.actor);
        true
    }

    async fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut unsynced = false;
        for output in outputs {
            match output {
                Output::Persist { op, durable } => {
                    self.world.lock().actors.disk_mut(self.actor).write(op);
                    unsynced |= durable;
                }
                Output::SetTimer { at } => self.timer = Some(at),
                Output::Send { to, bytes } => {
                    if unsynced {
                        self.fsync().await;
                        unsynced = false;
                    }
                    self.send(to, bytes).await;
                }
                Output::Observe(observation) => {
                    if unsynced {
                        self.fsync().await;
                        unsynced = false;
                    }
                    self.world.lock().observe(self.actor, &observation);
                }
            }
        }
        if unsynced {
            self.fsync().await;
        }
    }

    async fn fsync(&mut self) {
        let latency_us = madsim::rand::thread_rng().gen_range(FSYNC_LATENCY_US);
        sleep(Duration::from_micros(latency_us)).await;
        self.world.lock().actors.disk_mut(self.actor).sync();
    }

    /// The harness's send layer: madsim drops, delays and partitions; duplication is ours.
    async fn send(&mut self, to: Address, bytes: Bytes) {
        let copies = {
            let mut world = self.world.lock();
            let duplicate =
                world.duplicate_permille > 0 && madsim::rand::random::<u32>() % 1000 < world.duplicate_permille;
            world.stats.messages_sent += 1 + u64::from(duplicate);
            1 + usize::from(duplicate)
        };
        for _ in 0..copies {
            let _ = self.endpoint.send_to_raw(socket_address(to), 0, Box::new(bytes.clone())).await;
        }
    }
}

/// Runs until the node is killed (the task is dropped) or the run has a verdict.
pub async fn run_actor(world: SharedWorld, actor: ActorId) {
    let address = world.lock().actors.address(actor);
    let Ok(endpoint) = Endpoint::bind(socket_address(address)).await else {
        tracing::error!(%actor, %address, "cannot bind");
        return;
    };
    let receiver = endpoint.clone();
    let mut incoming = Box::pin(receiver.recv_from_raw(0));
    let mut task = Task { world, actor, endpoint, timer: None };
    let is_client = matches!(actor, ActorId::Client(_));
    let mut next_write_at = Instant::ZERO;
    if !task.step(|actors, now| actors.boot(actor, now, &mut MadsimEntropy)).await {
        return;
    }
    loop {
        let now = task.world.lock().now();
        let commands = task.world.lock().commands.remove(&actor).unwrap_or_default();
        for command in commands {
            if !task.step(|actors, now| actors.handle(actor, now, Input::Command(&command), &mut MadsimEntropy)).await {
                return;
            }
        }
        if task.timer.is_some_and(|at| at <= now) {
            task.timer = None;
            if !task.step(|actors, now| actors.handle(actor, now, Input::Tick, &mut MadsimEntropy)).await {
                return;
            }
        }
        if is_client && next_write_at <= now {
            let (command, interval_ms) = {
                let mut world = task.world.lock();
                let shard = world.workload.next_shard(&mut MadsimEntropy);
                let payload = Bytes::from(madsim::rand::random::<u64>().to_le_bytes().to_vec());
                (Command::Write { shard, payload }, world.workload.write_interval_ms)
            };
            next_write_at = now.plus_ms(interval_ms);
            if !task.step(|actors, now| actors.handle(actor, now, Input::Command(&command), &mut MadsimEntropy)).await {
                return;
            }
        }
        let now = task.world.lock().now();
        let mut wake = task.timer.unwrap_or(now.plus_ms(1_000));
        if is_client {
            wake = wake.min(next_write_at);
        }
        let wait = Duration::from_millis(wake.ms_since(now).max(1));
        // The receive future lives across wake-ups: dropping it mid-receive would lose the
        // datagram it had already taken from the mailbox.
        match select(incoming.as_mut(), std::pin::pin!(sleep(wait))).await {
            Either::Left((Ok((payload, from)), _)) => {
                incoming = Box::pin(receiver.recv_from_raw(0));
                let Ok(bytes) = payload.downcast::<Bytes>() else { continue };
                task.world.lock().stats.messages_delivered += 1;
                let from = core_address(from);
                if !task
                    .step(|actors, now| {
                        actors.handle(actor, now, Input::Datagram { from, bytes: &bytes }, &mut MadsimEntropy)
                    })
                    .await
                {
                    return;
                }
            }
            Either::Left((Err(_), _)) => return,
            Either::Right(((), _)) => {}
        }
    }
}
