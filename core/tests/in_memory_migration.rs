//! One coordinator, three data nodes and a client wired by a tiny in-memory loop (no
//! madsim): shards move under client writes, and every acked write must end up on the
//! shard's final owner, exactly once, at the index it was acked with.

use bytes::Bytes;
use shardsim_core::config::PlannerKind;
use shardsim_core::storage::{apply, DiskImage};
use shardsim_core::wire::ShardRole;
use shardsim_core::*;
use std::collections::{BTreeMap, VecDeque};

enum Any {
    Coordinator(Box<Coordinator>),
    Node(DataNode),
    Client(Client),
}

impl Any {
    fn actor(&mut self) -> &mut dyn Actor {
        match self {
            Any::Coordinator(actor) => actor.as_mut(),
            Any::Node(actor) => actor,
            Any::Client(actor) => actor,
        }
    }
}

struct Loop {
    now: Instant,
    actors: BTreeMap<Address, Any>,
    disks: BTreeMap<Address, DiskImage>,
    timers: BTreeMap<Address, TimerTable>,
    in_flight: VecDeque<(Address, Address, Bytes)>,
    observations: Vec<Observation>,
    entropy: SplitMix64,
}

impl Loop {
    fn new() -> Loop {
        Loop {
            now: Instant::ZERO,
            actors: BTreeMap::new(),
            disks: BTreeMap::new(),
            timers: BTreeMap::new(),
            in_flight: VecDeque::new(),
            observations: Vec::new(),
            entropy: SplitMix64::new(7),
        }
    }

    fn add(&mut self, address: Address, actor: Any) {
        self.actors.insert(address, actor);
        let disk = self.disks.entry(address).or_default().clone();
        self.step(address, |actor, now, entropy, out| {
            actor.handle(now, Input::Boot { disk: &disk, address }, entropy, out)
        })
        .expect("boot");
    }

    fn step(
        &mut self,
        address: Address,
        input: impl FnOnce(&mut dyn Actor, Instant, &mut dyn Entropy, &mut Outbox) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        let mut out = Outbox::new();
        let actor = self.actors.get_mut(&address).expect("actor").actor();
        let result = input(actor, self.now, &mut self.entropy, &mut out);
        let ready = out.take();
        for op in &ready.persists {
            apply(self.disks.entry(address).or_default(), op);
        }
        for effect in ready.immediate.into_iter().chain(ready.after_sync) {
            match effect {
                Effect::Send { to, bytes } => self.in_flight.push_back((address, to, bytes)),
                Effect::Observe(observation) => self.observations.push(observation),
            }
        }
        let table = self.timers.entry(address).or_default();
        for (at, timer) in ready.timers.iter() {
            table.set(timer, at);
        }
        result
    }

    /// Delivers every message in flight, then fires the timers due, then moves time on.
    fn run_for(&mut self, duration_ms: u64, mut each_ms: impl FnMut(&mut Loop)) {
        let end = self.now.plus_ms(duration_ms);
        while self.now < end {
            let mut delivered = 0;
            while let Some((from, to, bytes)) = self.in_flight.pop_front() {
                delivered += 1;
                assert!(delivered < 100_000, "message storm");
                if self.actors.contains_key(&to) {
                    let _ = self.step(to, |actor, now, entropy, out| {
                        actor.handle(now, Input::Datagram { from, bytes: &bytes }, entropy, out)
                    });
                }
            }
            let due: Vec<(Address, Timer)> = self
                .timers
                .iter()
                .flat_map(|(address, table)| table.iter().map(move |(at, timer)| (at, *address, timer)))
                .filter(|(at, _, _)| *at <= self.now)
                .map(|(_, address, timer)| (address, timer))
                .collect();
            for (address, timer) in due {
                self.timers.entry(address).or_default().stop(timer);
                let input = Input::Timeout(timer);
                self.step(address, |actor, now, entropy, out| actor.handle(now, input, entropy, out)).unwrap();
            }
            if self.in_flight.is_empty() {
                each_ms(self);
                self.now = self.now.plus_ms(1);
            }
        }
    }

    fn node(&self, address: Address) -> &DataNode {
        match &self.actors[&address] {
            Any::Node(node) => node,
            _ => panic!("not a node"),
        }
    }

    fn coordinator(&self, address: Address) -> &Coordinator {
        match &self.actors[&address] {
            Any::Coordinator(coordinator) => coordinator,
            _ => panic!("not the coordinator"),
        }
    }
}

fn node_address(node: u32) -> Address {
    Address::new([10, 0, 1, node as u8], 7000)
}

#[test]
fn shards_move_to_a_joining_node_under_writes_without_losing_an_acked_write() {
    let config = ProtocolConfig { planner: PlannerKind::LeastShard, shard_count: 6, ..ProtocolConfig::default() };
    let coordinator_address = config.coordinator_address;
    let client_address = Address::new([10, 0, 2, 1], 7000);
    let mut world = Loop::new();
    world.add(coordinator_address, Any::Coordinator(Box::new(Coordinator::new(config.clone()))));
    for node in 1..=2 {
        world.add(node_address(node), Any::Node(DataNode::new(NodeId(node), config.clone())));
    }
    world.add(client_address, Any::Client(Client::new(ClientId(1), config.clone())));

    let mut written = 0u64;
    let mut write_every_ms = |world: &mut Loop| {
        if world.now.as_ms() % 5 == 0 {
            let shard = ShardId((written % 6) as u32);
            let payload = Bytes::from(format!("w{written}"));
            let command = Command::Write { shard, entity: EntityKey(0), payload };
            if world
                .step(client_address, |actor, now, entropy, out| {
                    actor.handle(now, Input::Command(&command), entropy, out)
                })
                .is_ok()
            {
                written += 1;
            }
        }
    };
    world.run_for(3_000, &mut write_every_ms);
    world.add(node_address(3), Any::Node(DataNode::new(NodeId(3), config.clone())));
    world.run_for(8_000, &mut write_every_ms);
    world.run_for(3_000, |_| {});

    let completed = world
        .observations
        .iter()
        .filter(|observation| matches!(observation, Observation::RoutingCommitted { .. }))
        .count();
    assert!(completed >= 2, "the joining node should have received shards, {completed} migrations committed");

    let coordinator = world.coordinator(coordinator_address);
    assert_eq!(coordinator.tracker().active_total(), 0, "every migration is terminal at the end");
    let node3_shards = coordinator.routing().owned_by(NodeId(3)).count();
    assert_eq!(node3_shards, 2, "least-shard balance: 6 shards on 3 nodes");

    let mut acked = 0;
    for observation in &world.observations {
        let Observation::ClientAcked { write_id, shard, index } = observation else {
            continue;
        };
        acked += 1;
        let route = coordinator.routing().get(*shard).expect("routed");
        let owner = world.node(node_address(route.owner.0));
        let state = owner.shard(*shard).expect("owner holds the shard");
        assert_eq!(state.role, ShardRole::Owned { epoch: route.epoch });
        let entries = state.log.entries();
        assert_eq!(entries[(index.0 - 1) as usize].write_id, *write_id, "{write_id} not at its acked index");
        let copies = entries.iter().filter(|entry| entry.write_id == *write_id).count();
        assert_eq!(copies, 1, "{write_id} held {copies} times");
    }
    assert!(acked > 1_000, "the client should have had most writes acked, got {acked} of {written}");
}
