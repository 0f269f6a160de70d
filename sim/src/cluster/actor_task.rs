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
/// Datagrams an actor's receive buffer holds; more are dropped, as a full socket does.
const RECEIVE_BUFFER_DATAGRAMS: usize = 4_096;

/// Moves datagrams from the endpoint into the actor's FIFO buffer as they arrive, so the
/// actor reads them in arrival order however far behind it runs. Dies with the node.
async fn fill_receive_buffer(world: SharedWorld, endpoint: Endpoint, buffer: async_channel::Sender<(Bytes, Address)>) {
    while let Ok((payload, from)) = endpoint.recv_from_raw(0).await {
        let Ok(bytes) = payload.downcast::<Bytes>() else { continue };
        if buffer.try_send((*bytes, core_address(from))).is_err() {
            world.lock().stats.receive_buffer_drops += 1;
        }
    }
}

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
        let (now, outputs) = {
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
            (now, outputs)
        };
        self.carry_out(now, outputs).await;
        self.world.lock().after_step(self.actor);
        true
    }

    async fn carry_out(&mut self, now: Instant, outputs: Vec<Output>) {
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
                    self.world.lock().observe(now, self.actor, &observation);
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
    let (buffer, received) = async_channel::bounded(RECEIVE_BUFFER_DATAGRAMS);
    madsim::task::spawn(fill_receive_buffer(world.clone(), endpoint.clone(), buffer));
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
                let (shard, entity) = world.workload.next_write(&mut MadsimEntropy);
                let payload = Bytes::from(madsim::rand::random::<u64>().to_le_bytes().to_vec());
                let interval_ms = world.workload.next_interval_ms(&mut MadsimEntropy);
                (Command::Write { shard, entity, payload }, interval_ms)
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
        // Dropping a pending `recv` of the buffer loses nothing: the datagram stays queued.
        match select(std::pin::pin!(received.recv()), std::pin::pin!(sleep(wait))).await {
            Either::Left((Ok((bytes, from)), _)) => {
                task.world.lock().stats.messages_delivered += 1;
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
