//! Ways to choose: the start states, a seeded random walk, shrinking a failing sequence,
//! and replay files. The exhaustive search is [`super::search`].

use super::{choice_of, Choice, Lab, LabConfig};
use crate::fingerprint::{Encoder, Relabel};
use crate::oracle::Violation;
use serde::{Deserialize, Serialize};
use shardsim_core::{Entropy, SplitMix64};
use std::collections::BTreeSet;
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
    /// The replay of `choices` from `start` that broke `violation`'s invariant.
    pub fn of(config: &LabConfig, start: Start, choices: Vec<Choice>, violation: &Violation) -> Replay {
        Replay {
            config: config.clone(),
            start,
            choices,
            invariant: violation.invariant.clone(),
            message: violation.message.clone(),
        }
    }

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
    pub migrations_started: u64,
    pub migrations_completed: u64,
    pub migrations_aborted: u64,
}

impl WalkOutcome {
    fn of(lab: &Lab, distinct_states: usize, violation: Option<(Violation, Vec<Choice>)>) -> WalkOutcome {
        let counters = &lab.oracle().facts().counters;
        WalkOutcome {
            steps: lab.steps,
            distinct_states,
            violation,
            migrations_started: counters.migrations_started,
            migrations_completed: counters.migrations_completed,
            migrations_aborted: counters.migrations_aborted.values().sum(),
        }
    }

    /// Migrations completed per 100,000 steps: whether the walk went anywhere.
    pub fn completed_per_100k_steps(&self) -> f64 {
        self.migrations_completed as f64 * 100_000.0 / self.steps.max(1) as f64
    }
}

/// A seeded random walk of `steps` choices from the warm start, hashing every state it
/// visits (to count distinct ones when `count_states`).
pub fn random_walk(config: &LabConfig, seed: u64, steps: usize, count_states: bool) -> Result<WalkOutcome, Violation> {
    let mut lab = start_lab(config, Start::Warm)?;
    let mut rng = SplitMix64::new(seed);
    let mut choices = Vec::with_capacity(steps);
    let mut seen = BTreeSet::new();
    let (identity, mut encoder) = (Relabel::identity(), Encoder::new());
    for _ in 0..steps {
        let word = rng.next_u64().to_le_bytes();
        let choice = choice_of(word[0], word[1], word[2], u16::from_le_bytes([word[1], word[2]]));
        choices.push(choice);
        if let Err(violation) = lab.apply(choice) {
            return Ok(WalkOutcome::of(&lab, seen.len(), Some((violation, choices))));
        }
        if count_states {
            seen.insert(lab.fingerprint(&identity, &mut encoder));
        }
    }
    Ok(WalkOutcome::of(&lab, seen.len(), None))
}
