//! The lab as a model checker: depth-first search over every choice sequence up to a
//! depth, by iterative deepening (so the first violation found is reached by a shortest
//! sequence), with a visited set of 128-bit state fingerprints (memory grows with distinct
//! states, never with a frontier), optional symmetry reduction over data nodes and shards,
//! and worker threads sharing the visited set.
//!
//! Bounds: `states_max` distinct states, `memory_max_bytes` for the visited set, and
//! `time_max` of wall time. A search that reaches one stops cleanly and says how deep it
//! had searched completely.

mod branches;
mod visited;

pub use branches::Budgets;
pub use visited::{Visit, Visited, SLOT_BYTES};

use super::explore::{start_lab, Start};
use super::{Choice, Lab, LabConfig};
use crate::fingerprint::{Encoder, Relabel};
use crate::oracle::Violation;
use shardsim_core::wire::ShardRole;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant as WallClock};

#[derive(Clone, Copy, Debug)]
pub struct SearchOptions {
    pub start: Start,
    pub depth_max: usize,
    /// Deepen one step at a time from depth 1 (a violation is then found by a shortest
    /// sequence); otherwise search to `depth_max` at once.
    pub iterative: bool,
    pub states_max: u64,
    pub memory_max_bytes: u64,
    /// Wall time, from the start of the search (the warm-up included).
    pub time_max: Option<Duration>,
    /// Also lose messages (each drop is a branch).
    pub drops: bool,
    /// Also fire timers (each pending timer is a branch; time then moves on).
    pub timers: bool,
    /// Also offer one choice that runs the cluster calmly (in order, timers when due) for
    /// this many milliseconds: a macro step, so that a few choices reach deep states.
    /// Every ordinary sequence is still searched; depth counts the macro as one.
    pub calm_ms: Option<u16>,
    /// Also offer one choice that lets this many milliseconds pass with nothing delivered
    /// and no timer fired: what is in flight arrives late (a pause, a slow link).
    pub advance_ms: Option<u16>,
    /// Crashes, client writes (and the like) allowed on one path.
    pub budgets: Budgets,
    /// Count states that a renaming of data nodes and shards makes equal as one.
    pub symmetry: bool,
    pub jobs: usize,
    /// Print progress (states, states/s) to stderr while searching.
    pub progress: bool,
}

impl SearchOptions {
    pub fn new(depth_max: usize) -> SearchOptions {
        SearchOptions {
            start: Start::Migrating,
            depth_max,
            iterative: true,
            states_max: 10_000_000,
            memory_max_bytes: 1 << 30,
            time_max: None,
            drops: false,
            timers: false,
            calm_ms: None,
            advance_ms: None,
            budgets: Budgets::default(),
            symmetry: false,
            jobs: 1,
            progress: false,
        }
    }
}

/// Why a search ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchEnd {
    /// Every state within `depth_max` choices was searched.
    Complete,
    /// No state at this depth had a choice left: the whole reachable space was searched.
    Exhausted {
        depth: usize,
    },
    StatesMax,
    MemoryMax,
    TimeMax,
    Violation,
}

#[derive(Clone, Debug)]
pub struct SearchOutcome {
    pub end: SearchEnd,
    /// The deepest bound within which every state was searched (0: none).
    pub depth_complete: usize,
    /// The bound of the last round (the one that ended the search).
    pub depth_last: usize,
    /// Choices applied, over every round.
    pub transitions: u64,
    /// Distinct states in the last round (up to renaming, with symmetry).
    pub distinct_states: u64,
    /// Bytes the visited set held at the end: divided by the distinct states, the memory
    /// one state costs.
    pub visited_bytes: u64,
    /// Distinct states (last round) where the migration committed and every owner serves.
    pub full_migrations: u64,
    pub wall: Duration,
    pub violation: Option<(Violation, Vec<Choice>)>,
}

impl SearchOutcome {
    pub fn distinct_states_per_second(&self) -> f64 {
        self.distinct_states as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn transitions_per_second(&self) -> f64 {
        self.transitions as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    pub fn bytes_per_state(&self) -> f64 {
        self.visited_bytes as f64 / self.distinct_states.max(1) as f64
    }
}

/// One search node: a state, the choices that led to it, what is left of the budgets.
#[derive(Clone)]
struct Node {
    lab: Lab,
    path: Vec<Choice>,
    budgets: Budgets,
}

/// What the workers of one round share.
struct Round<'a> {
    options: &'a SearchOptions,
    relabels: &'a [Relabel],
    deadline: Option<WallClock>,
    limit: usize,
    visited: Visited,
    distinct: AtomicU64,
    transitions: AtomicU64,
    full_migrations: AtomicU64,
    /// Some state at the bound still had choices: a deeper round could find more.
    cut: AtomicBool,
    stop: AtomicBool,
    end: Mutex<Option<SearchEnd>>,
    violation: Mutex<Option<(Violation, Vec<Choice>)>>,
    work: Mutex<Vec<Node>>,
    /// Workers searching a subtree, and workers waiting for one.
    busy: AtomicUsize,
    idle: AtomicUsize,
}

/// A subtree is handed to an idle worker only if this many levels or more lie below it.
const SHARE_DEPTH_LEFT_MIN: usize = 3;

impl Round<'_> {
    fn halt(&self, end: SearchEnd) {
        let mut first = self.end.lock().expect("no worker panics holding it");
        first.get_or_insert(end);
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Applies `choice` to a copy of `node`'s state: the successor if it is new (or newly
    /// closer to the start), after the oracle checked it.
    fn step(&self, node: &Node, choice: Choice, encoder: &mut Encoder) -> Option<Node> {
        let mut lab = node.lab.clone();
        let mut path = node.path.clone();
        path.push(choice);
        self.transitions.fetch_add(1, Ordering::Relaxed);
        if let Err(violation) = lab.apply(choice) {
            self.violation.lock().expect("no worker panics holding it").get_or_insert((violation, path));
            self.halt(SearchEnd::Violation);
            return None;
        }
        let budgets = node.budgets.after(choice);
        let fingerprint = lab.canonical_fingerprint(self.relabels, encoder) ^ budgets.fingerprint();
        match self.visited.visit(fingerprint, path.len() as u32) {
            Visit::Seen => None,
            Visit::Full => {
                self.halt(SearchEnd::MemoryMax);
                None
            }
            Visit::Closer => Some(Node { lab, path, budgets }),
            Visit::New => {
                let distinct = self.distinct.fetch_add(1, Ordering::Relaxed) + 1;
                if distinct >= self.options.states_max {
                    self.halt(SearchEnd::StatesMax);
                }
                // Reading the clock costs little next to a step, but not nothing.
                if distinct % 256 == 0 && self.deadline.is_some_and(|deadline| WallClock::now() >= deadline) {
                    self.halt(SearchEnd::TimeMax);
                }
                if migration_applied(&lab) {
                    self.full_migrations.fetch_add(1, Ordering::Relaxed);
                }
                Some(Node { lab, path, budgets })
            }
        }
    }

    /// Depth first below `node`, on this thread.
    fn depth_first(&self, node: &Node, encoder: &mut Encoder) {
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        let choices = branches::choices(&node.lab, self.options, node.budgets);
        if node.path.len() >= self.limit {
            if !choices.is_empty() {
                self.cut.store(true, Ordering::Relaxed);
            }
            return;
        }
        for choice in choices {
            if let Some(next) = self.step(node, choice, encoder) {
                // A worker is idle: hand it this subtree if it is big enough to be worth it.
                if self.idle.load(Ordering::Relaxed) > 0 && next.path.len() + SHARE_DEPTH_LEFT_MIN < self.limit {
                    self.work.lock().expect("no worker panics holding it").push(next);
                } else {
                    self.depth_first(&next, encoder);
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// A worker: takes subtrees until none are left and no other worker is busy (a busy
    /// one hands subtrees to idle ones).
    fn work(&self) {
        let mut encoder = Encoder::new();
        let mut idle = false;
        loop {
            let node = self.work.lock().expect("no worker panics holding it").pop();
            match node {
                Some(node) => {
                    if idle {
                        self.idle.fetch_sub(1, Ordering::Relaxed);
                        idle = false;
                    }
                    self.busy.fetch_add(1, Ordering::Relaxed);
                    self.depth_first(&node, &mut encoder);
                    self.busy.fetch_sub(1, Ordering::Relaxed);
                }
                None if self.busy.load(Ordering::Relaxed) == 0 || self.stop.load(Ordering::Relaxed) => {
                    if idle {
                        self.idle.fetch_sub(1, Ordering::Relaxed);
                    }
                    return;
                }
                None => {
                    if !idle {
                        self.idle.fetch_add(1, Ordering::Relaxed);
                        idle = true;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
}

/// Breadth first from `start` until there are enough subtrees to share among `jobs`
/// workers (or the bound is reached); the subtrees, deepest last.
fn split(round: &Round, start: Node, jobs: usize) -> Vec<Node> {
    let mut encoder = Encoder::new();
    let mut level = vec![start];
    let wanted = if jobs > 1 { 16 * jobs } else { 1 };
    while level.len() < wanted && level.first().is_some_and(|node| node.path.len() < round.limit) {
        let mut next_level = Vec::new();
        for node in &level {
            let choices = branches::choices(&node.lab, round.options, node.budgets);
            next_level.extend(choices.into_iter().filter_map(|choice| round.step(node, choice, &mut encoder)));
            if round.stop.load(Ordering::Relaxed) {
                break;
            }
        }
        if next_level.is_empty() {
            break;
        }
        level = next_level;
    }
    level.reverse();
    level
}

impl<'a> Round<'a> {
    fn new(options: &'a SearchOptions, relabels: &'a [Relabel], limit: usize, started: WallClock) -> Round<'a> {
        Round {
            options,
            relabels,
            deadline: options.time_max.map(|time_max| started + time_max),
            limit,
            visited: Visited::new(options.memory_max_bytes),
            distinct: AtomicU64::new(1),
            transitions: AtomicU64::new(0),
            full_migrations: AtomicU64::new(0),
            cut: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            end: Mutex::new(None),
            violation: Mutex::new(None),
            work: Mutex::new(Vec::new()),
            busy: AtomicUsize::new(0),
            idle: AtomicUsize::new(0),
        }
    }

    /// Every state within `limit` choices of `start`, on `jobs` threads.
    fn run(&self, start: &Lab) {
        let root = Node { lab: start.clone(), path: Vec::new(), budgets: self.options.budgets };
        let root_fingerprint =
            start.canonical_fingerprint(self.relabels, &mut Encoder::new()) ^ self.options.budgets.fingerprint();
        self.visited.visit(root_fingerprint, 0);
        *self.work.lock().expect("not shared yet") = split(self, root, self.options.jobs);
        std::thread::scope(|scope| {
            for _ in 0..self.options.jobs.max(1) {
                scope.spawn(|| self.work());
            }
        });
    }
}

/// Searches every choice sequence from `options.start`, deepening round by round.
pub fn search(config: &LabConfig, options: &SearchOptions) -> Result<SearchOutcome, Violation> {
    let started = WallClock::now();
    let start = start_lab(config, options.start)?.without_evidence();
    let relabels = match options.symmetry {
        true => Relabel::all(config.nodes, config.shards, true),
        false => vec![Relabel::identity()],
    };
    let first = if options.iterative { 1 } else { options.depth_max.max(1) };
    let mut outcome = SearchOutcome {
        end: SearchEnd::Complete,
        depth_complete: 0,
        depth_last: 0,
        transitions: 0,
        distinct_states: 0,
        visited_bytes: 0,
        full_migrations: 0,
        wall: Duration::ZERO,
        violation: None,
    };
    let progress = options.progress.then(progress::Bar::new);
    for limit in first..=options.depth_max.max(1) {
        let done = Round::new(options, &relabels, limit, started);
        std::thread::scope(|scope| {
            let (sender, receiver) = std::sync::mpsc::channel::<()>();
            if let Some(bar) = &progress {
                let done = &done;
                scope.spawn(move || bar.watch(done, &receiver, started));
            }
            done.run(&start);
            drop(sender);
        });
        outcome.transitions += done.transitions.load(Ordering::Relaxed);
        outcome.distinct_states = done.distinct.load(Ordering::Relaxed);
        outcome.visited_bytes = done.visited.bytes();
        outcome.full_migrations = done.full_migrations.load(Ordering::Relaxed);
        outcome.depth_last = limit;
        if let Some(bar) = &progress {
            bar.round_done(limit, outcome.distinct_states, started);
        }
        let end = *done.end.lock().expect("the round is over");
        if let Some(end) = end {
            outcome.end = end;
            outcome.violation = done.violation.into_inner().expect("the round is over");
            break;
        }
        outcome.depth_complete = limit;
        if !done.cut.load(Ordering::Relaxed) {
            outcome.end = SearchEnd::Exhausted { depth: limit };
            break;
        }
    }
    outcome.wall = started.elapsed();
    // The search kept no evidence: the sequence replayed with it explains the violation.
    if let Some((violation, path)) = &mut outcome.violation {
        let mut lab = start_lab(config, options.start)?;
        if let Err((_, explained)) = lab.run(path.iter().copied()) {
            *violation = explained;
        }
    }
    Ok(outcome)
}

/// The migration committed and every shard's routed owner serves it at its epoch.
pub fn migration_applied(lab: &Lab) -> bool {
    let Some(coordinator) = lab.actors().coordinator.actor.as_ref() else { return false };
    lab.oracle().facts().counters.migrations_completed > 0
        && coordinator.routing().iter().all(|(shard, route)| {
            lab.actors()
                .nodes
                .get(&route.owner)
                .and_then(|slot| slot.actor.as_ref())
                .and_then(|node| node.shard(shard))
                .is_some_and(|held| held.role == ShardRole::Owned { epoch: route.epoch })
        })
}

mod progress {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::time::{Duration, Instant};

    /// A spinner on stderr (hidden when stderr is not a terminal).
    pub struct Bar(indicatif::ProgressBar);

    impl Bar {
        pub fn new() -> Bar {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                    .expect("a valid template"),
            );
            Bar(bar)
        }

        pub fn watch(&self, round: &super::Round, stop: &Receiver<()>, started: Instant) {
            while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(Duration::from_millis(250)) {
                let distinct = round.distinct.load(Ordering::Relaxed);
                let rate = distinct as f64 / started.elapsed().as_secs_f64().max(1e-9);
                self.0.set_message(format!(
                    "depth {}: {distinct} distinct states, {rate:.0}/s, {} MiB visited set",
                    round.limit,
                    round.visited.bytes() >> 20
                ));
                self.0.tick();
            }
        }

        pub fn round_done(&self, limit: usize, distinct: u64, started: Instant) {
            let rate = distinct as f64 / started.elapsed().as_secs_f64().max(1e-9);
            self.0.println(format!("depth {limit}: {distinct} distinct states ({rate:.0}/s since the start)"));
        }
    }
}
