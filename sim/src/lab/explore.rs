//! Ways to choose: a seeded random walk, a bounded exhaustive search (breadth first, states
//! deduplicated by hash, so the first violation found is reached by a shortest sequence),
//! shrinking a failing sequence, and replay files.

use super::{choice_of, Choice, Lab, LabConfig};
use crate::oracle::Violation;
use serde::{Deserialize, Serialize};
use shardsim_core::wire::ShardRole;
use shardsim_core::{ActorId, Entropy, NodeId, SplitMix64};
use std::collections::{BTreeSet, VecDeque};
use std::path::Path;

/// Where a lab run starts: every run of one start and one choice list is the same run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// The cluster formed and every shard allocated.
    Warm,
    /// Node 1 was decommissioned and the drain's first StartMigration is in flight.
    Migrating,
}

const WARM_UP_STEPS_MAX: usize = 5_000;

/// Builds the start state; deterministic, so replays reproduce.
pub fn start_lab(config: &LabConfig, start: Start) -> Result<Lab, Violation> {
    let mut lab = Lab::new(config.clone());
    let shards = config.shards as usize;
    let allocated =
        move |lab: &Lab| lab.actors().coordinator.actor.as_ref().is_some_and(|c| c.routing().len() >= shards);
    lab.settle(WARM_UP_STEPS_MAX, allocated)?;
    if start == Start::Migrating {
        lab.apply(Choice::Decommission(0))?;
        let migrating =
            |lab: &Lab| lab.actors().coordinator.actor.as_ref().is_some_and(|c| c.tracker().active_total() > 0);
        lab.settle(WARM_UP_STEPS_MAX, |lab| migrating(lab))?;
    }
    Ok(lab)
}

/// A failing choice sequence, saved so `shardsim explore --replay FILE` replays it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replay {
    pub config: LabConfig,
    pub start: Start,
    pub choices: Vec<Choice>,
    pub invariant: String,
    pub message: String,
}

impl Replay {
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, serde_json::to_string_pretty(self).expect("replays serialize") + "\n")
    }

    pub fn load(path: &Path) -> Result<Replay, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read replay file {}: {error}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|error| format!("replay file {} is not a lab replay: {error}", path.display()))
    }

    /// Runs the sequence again; the violation it reaches, if any.
    pub fn run(&self) -> Option<Violation> {
        let mut lab = match start_lab(&self.config, self.start) {
            Ok(lab) => lab,
            Err(violation) => return Some(violation),
        };
        lab.run(self.choices.iter().copied()).err().map(|(_, violation)| violation)
    }
}

fn violates(config: &LabConfig, start: Start, choices: &[Choice], invariant: &str) -> bool {
    let Ok(mut lab) = start_lab(config, start) else { return false };
    matches!(lab.run(choices.iter().copied()), Err((_, violation)) if violation.invariant == invariant)
}

/// Cuts a failing sequence down (delta debugging: drop ever smaller chunks while the same
/// invariant still breaks), within `replays_max` replays.
pub fn shrink(
    config: &LabConfig,
    start: Start,
    choices: Vec<Choice>,
    invariant: &str,
    replays_max: usize,
) -> Vec<Choice> {
    let mut best = choices;
    let mut replays = 0;
    let mut chunk = best.len().div_ceil(2).max(1);
    while chunk >= 1 && replays < replays_max {
        let mut position = 0;
        while position < best.len() && replays < replays_max {
            let mut candidate = best.clone();
            candidate.drain(position..(position + chunk).min(candidate.len()));
            replays += 1;
            if violates(config, start, &candidate, invariant) {
                best = candidate;
            } else {
                position += chunk;
            }
        }
        if chunk == 1 {
            break;
        }
        chunk /= 2;
    }
    best
}

#[derive(Clone, Debug)]
pub struct WalkOutcome {
    pub steps: u64,
    pub distinct_states: usize,
    pub violation: Option<(Violation, Vec<Choice>)>,
    pub migrations_completed: u64,
}

/// A seeded random walk of `steps` choices from the warm start, hashing every state it
/// visits (to count distinct ones when `count_states`).
pub fn random_walk(config: &LabConfig, seed: u64, steps: usize, count_states: bool) -> Result<WalkOutcome, Violation> {
    let mut lab = start_lab(config, Start::Warm)?;
    let mut rng = SplitMix64::new(seed);
    let mut choices = Vec::with_capacity(steps);
    let mut seen = BTreeSet::new();
    for _ in 0..steps {
        let word = rng.next_u64().to_le_bytes();
        let choice = choice_of(word[0], word[1], word[2], u16::from_le_bytes([word[1], word[2]]));
        choices.push(choice);
        if let Err(violation) = lab.apply(choice) {
            let counters = &lab.oracle().facts().counters;
            return Ok(WalkOutcome {
                steps: lab.steps,
                distinct_states: seen.len(),
                migrations_completed: counters.migrations_completed,
                violation: Some((violation, choices)),
            });
        }
        if count_states {
            seen.insert(lab.state_hash());
        }
    }
    Ok(WalkOutcome {
        steps: lab.steps,
        distinct_states: seen.len(),
        violation: None,
        migrations_completed: lab.oracle().facts().counters.migrations_completed,
    })
}

#[derive(Clone, Copy, Debug)]
pub struct ExhaustiveOptions {
    pub depth_max: usize,
    pub states_max: usize,
    /// Also lose messages (each drop is a branch).
    pub drops: bool,
    /// Crashes allowed on one path (each crash and restart is a branch).
    pub crashes: u8,
    /// Also fire timers (each pending timer is a branch; time then moves on).
    pub timers: bool,
}

#[derive(Clone, Debug)]
pub struct ExhaustiveOutcome {
    pub states_explored: u64,
    pub distinct_states: usize,
    pub depth_reached: usize,
    /// True when every state within the depth bound was explored.
    pub complete: bool,
    /// Distinct states where the migration committed and the new owner serves the shard.
    pub full_migrations: u64,
    pub violation: Option<(Violation, Vec<Choice>)>,
}

fn migration_applied(lab: &Lab) -> bool {
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

fn branches(lab: &Lab, options: &ExhaustiveOptions, crashes_left: u8) -> Vec<Choice> {
    let mut choices = Vec::new();
    let messages = lab.in_flight().len() as u16;
    choices.extend((0..messages).map(Choice::Deliver));
    if options.drops {
        choices.extend((0..messages).map(Choice::Drop));
    }
    if options.timers {
        choices.extend((0..lab.timer_order().len() as u16).map(Choice::FireTimer));
    }
    let servers = 1 + lab.actors().nodes.len() as u16;
    for index in 0..servers {
        let actor = if index == 0 { ActorId::Coordinator } else { ActorId::Node(NodeId(u32::from(index))) };
        if !lab.actors().is_up(actor) {
            choices.push(Choice::Restart(index));
        } else if crashes_left > 0 {
            choices.push(Choice::Crash(index));
        }
    }
    choices
}

/// Breadth first from the migrating start: every interleaving of deliveries (and drops,
/// timers, crashes when allowed) up to `depth_max`, each distinct state once.
pub fn exhaustive(config: &LabConfig, options: ExhaustiveOptions) -> Result<ExhaustiveOutcome, Violation> {
    let start = start_lab(config, Start::Migrating)?;
    let mut seen = BTreeSet::from([start.state_hash()]);
    let mut frontier: VecDeque<(Lab, Vec<Choice>, u8)> = VecDeque::from([(start, Vec::new(), options.crashes)]);
    let mut outcome = ExhaustiveOutcome {
        states_explored: 0,
        distinct_states: 1,
        depth_reached: 0,
        complete: true,
        full_migrations: 0,
        violation: None,
    };
    while let Some((lab, path, crashes_left)) = frontier.pop_front() {
        if path.len() >= options.depth_max {
            outcome.complete &= branches(&lab, &options, crashes_left).is_empty();
            continue;
        }
        for choice in branches(&lab, &options, crashes_left) {
            let mut next = lab.clone();
            let mut next_path = path.clone();
            next_path.push(choice);
            outcome.states_explored += 1;
            if let Err(violation) = next.apply(choice) {
                outcome.violation = Some((violation, next_path));
                outcome.complete = false;
                return Ok(outcome);
            }
            if !seen.insert(next.state_hash()) {
                continue;
            }
            outcome.distinct_states = seen.len();
            outcome.depth_reached = outcome.depth_reached.max(next_path.len());
            if migration_applied(&next) {
                outcome.full_migrations += 1;
            }
            if seen.len() >= options.states_max {
                outcome.complete = false;
                return Ok(outcome);
            }
            let crashes = crashes_left - u8::from(matches!(choice, Choice::Crash(_)));
            frontier.push_back((next, next_path, crashes));
        }
    }
    Ok(outcome)
}
