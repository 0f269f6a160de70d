//! Drives one actor by hand for unit tests: feed inputs, read its outputs decoded.
#![allow(dead_code)]

use shardsim_core::storage::{apply, DiskImage};
use shardsim_core::wire::{self, Envelope, Message, PROTOCOL_VERSION};
use shardsim_core::*;

pub struct Probe<A: Actor> {
    pub actor: A,
    pub address: Address,
    pub disk: DiskImage,
    pub now: Instant,
    /// The deadlines the actor asked for, as a driver keeps them.
    pub timers: TimerTable,
    entropy: SplitMix64,
}

impl<A: Actor> Probe<A> {
    pub fn boot(actor: A, address: Address) -> (Probe<A>, Ready) {
        let mut probe = Probe {
            actor,
            address,
            disk: DiskImage::new(),
            now: Instant::ZERO,
            timers: TimerTable::default(),
            entropy: SplitMix64::new(9),
        };
        let outputs = probe.reboot();
        (probe, outputs)
    }

    /// A restart: the same disk, a fresh boot input.
    pub fn reboot(&mut self) -> Ready {
        let disk = self.disk.clone();
        self.input(Input::Boot { disk: &disk, address: self.address, unreadable: &[] }).expect("boot")
    }

    pub fn input(&mut self, input: Input<'_>) -> Result<Ready, InputError> {
        let mut out = Outbox::new();
        let result = self.actor.handle(self.now, input, &mut self.entropy, &mut out);
        let ready = out.take();
        for op in &ready.persists {
            apply(&mut self.disk, op.clone());
        }
        for (at, timer) in ready.timers.iter() {
            self.timers.set(timer, at);
        }
        result.map(|()| ready)
    }

    pub fn deliver(&mut self, from: PeerIdentity, body: Message) -> Result<Ready, InputError> {
        self.deliver_to(from, None, body)
    }

    pub fn deliver_to(
        &mut self,
        from: PeerIdentity,
        to_incarnation: Option<Incarnation>,
        body: Message,
    ) -> Result<Ready, InputError> {
        let bytes = wire::encode(&Envelope { version: PROTOCOL_VERSION, from, to_incarnation, body });
        self.input(Input::Datagram { from: from.address, bytes: &bytes })
    }

    /// Moves time to `at_ms` and fires every timer the actor holds, due or not (a
    /// spurious timeout is harmless), in deadline order.
    pub fn tick_at(&mut self, at_ms: u64) -> Ready {
        self.now = Instant(at_ms);
        let mut fired: Vec<(Instant, Timer)> = self.timers.iter().collect();
        fired.sort();
        let mut ready = Ready::default();
        for (_, timer) in fired {
            ready.extend(self.input(Input::Timeout(timer)).expect("a timer it asked for"));
        }
        ready
    }

    pub fn command(&mut self, command: Command) -> Result<Ready, InputError> {
        self.input(Input::Command(&command))
    }
}

pub fn sent(outputs: &Ready) -> Vec<(Address, Message)> {
    outputs
        .effects()
        .filter_map(|output| match output {
            Effect::Send { to, bytes } => Some((*to, wire::decode(bytes).expect("own messages decode").body)),
            _ => None,
        })
        .collect()
}

pub fn messages(outputs: &Ready) -> Vec<Message> {
    sent(outputs).into_iter().map(|(_, message)| message).collect()
}

pub fn observed(outputs: &Ready) -> Vec<Observation> {
    outputs
        .effects()
        .filter_map(|output| match output {
            Effect::Observe(observation) => Some(observation.clone()),
            _ => None,
        })
        .collect()
}

pub fn node_identity(node: u32, incarnation: u64) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(node)),
        address: node_address(node),
        incarnation: Incarnation(incarnation),
    }
}

pub fn node_address(node: u32) -> Address {
    Address::new([10, 0, 1, node as u8], 7000)
}

pub fn client_identity(client: u32) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Client(ClientId(client)),
        address: Address::new([10, 0, 2, client as u8], 7000),
        incarnation: Incarnation(1),
    }
}

pub fn coordinator_identity() -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Coordinator,
        address: ProtocolConfig::default().coordinator_address,
        incarnation: Incarnation(1),
    }
}
