//! Shrinking a failing run: the smallest fault plan and cluster that still break the same
//! invariant. Stages, each keeping only candidates that still fail the same way:
//! 1. `events`: delta debugging (Zeller's ddmin) over the plan's events, after trying none;
//! 2. `simpler`: each left event made simpler — durations and rates halved, a split's side
//!    cut to fewer members;
//! 3. `cluster`: fewer shards, clients and spare nodes where the knobs allow (a plan that
//!    names a node or shard the smaller cluster lacks is not tried);
//! 4. `schedule` ([`schedule`]): the events the smallest run applied, cut down through the
//!    lab's replay, where taking one out does not reshuffle the others.
//!
//! The shrinker only knows "does this candidate still fail": the caller runs it (a
//! simulation), so the algorithm is deterministic and testable with any predicate.

pub mod schedule;

use crate::faults::{Fault, FaultEvent, FaultPlan};
use crate::knob_map::Knobs;
use serde_json::Value;

/// What is tried: a fault plan and the knobs pinned for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub plan: FaultPlan,
    pub knobs: Knobs,
}

/// Knobs the cluster stage lowers, with the least each may go to (a migration needs two
/// data nodes).
const CLUSTER_KNOBS: [(&str, u64); 4] =
    [("shard_count", 1), ("cluster.clients", 1), ("cluster.nodes_spare", 0), ("cluster.nodes_initial", 2)];
/// Durations are not halved below this: a fault shorter than a few ticks is no fault.
const DURATION_MIN_MS: u64 = 50;
/// Rates are not halved below this (per mille).
const RATE_MIN_PERMILLE: u32 = 10;

/// Size before and after one stage, as the command prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageReport {
    pub stage: &'static str,
    pub events_before: usize,
    pub events_after: usize,
    pub size_before: u64,
    pub size_after: u64,
    pub runs: u64,
}

/// Why a shrink stopped where it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Every stage ran to its end: no single step makes the candidate smaller.
    Minimal,
    /// The budget ran out; the candidate still fails the same way, but may shrink further.
    OutOfBudget,
}

/// Runs the stages on `start` (which must fail) while `budget` allows another run.
pub struct Shrinker<'a> {
    still_fails: &'a mut dyn FnMut(&Candidate) -> bool,
    budget: &'a mut dyn FnMut() -> bool,
    runs: u64,
    out_of_budget: bool,
}

impl<'a> Shrinker<'a> {
    pub fn new(still_fails: &'a mut dyn FnMut(&Candidate) -> bool, budget: &'a mut dyn FnMut() -> bool) -> Self {
        Shrinker { still_fails, budget, runs: 0, out_of_budget: false }
    }

    /// Shrinks `start`, calling `stage_done` after each stage.
    pub fn shrink(&mut self, start: Candidate, stage_done: &mut dyn FnMut(&StageReport)) -> (Candidate, Ending) {
        type Stage<'s, 'a> = (&'static str, fn(&mut Shrinker<'a>, Candidate) -> Candidate);
        let stages: [Stage<'_, 'a>; 3] = [
            ("events", Shrinker::shrink_events),
            ("simpler", Shrinker::simplify_events),
            ("cluster", Shrinker::shrink_cluster),
        ];
        let mut best = start;
        for (stage, run) in stages {
            let (events_before, size_before, runs_before) = (best.plan.events.len(), size(&best), self.runs);
            best = run(self, best);
            stage_done(&StageReport {
                stage,
                events_before,
                events_after: best.plan.events.len(),
                size_before,
                size_after: size(&best),
                runs: self.runs - runs_before,
            });
        }
        (best, if self.out_of_budget { Ending::OutOfBudget } else { Ending::Minimal })
    }

    /// One more run if the budget allows; `false` (not failing) once it does not.
    fn fails(&mut self, candidate: &Candidate) -> bool {
        if self.out_of_budget || !(self.budget)() {
            self.out_of_budget = true;
            return false;
        }
        self.runs += 1;
        (self.still_fails)(candidate)
    }

    fn shrink_events(&mut self, best: Candidate) -> Candidate {
        let with_events = |events: &[FaultEvent]| Candidate {
            plan: FaultPlan { events: events.to_vec(), ..best.plan.clone() },
            knobs: best.knobs.clone(),
        };
        if best.plan.events.is_empty() {
            return best;
        }
        if self.fails(&with_events(&[])) {
            return with_events(&[]);
        }
        let events = ddmin(best.plan.events.clone(), &mut |events| self.fails(&with_events(events)));
        with_events(&events)
    }

    fn simplify_events(&mut self, mut best: Candidate) -> Candidate {
        for position in 0..best.plan.events.len() {
            let simpler = |best: &Candidate| -> Vec<Candidate> {
                simpler_faults(&best.plan.events[position].fault)
                    .into_iter()
                    .map(|fault| {
                        let mut candidate = best.clone();
                        candidate.plan.events[position].fault = fault;
                        candidate
                    })
                    .collect()
            };
            best = self.descend(best, simpler);
        }
        best
    }

    fn shrink_cluster(&mut self, mut best: Candidate) -> Candidate {
        for (knob, least) in CLUSTER_KNOBS {
            let lower = |best: &Candidate| -> Vec<Candidate> {
                let Some(current) = best.knobs.get(knob).and_then(Value::as_u64) else { return Vec::new() };
                let values = [least, current / 2, current.saturating_sub(1)]
                    .into_iter()
                    .filter(|value| *value >= least && *value < current)
                    .collect();
                dedup(values)
                    .into_iter()
                    .map(|value| {
                        let mut candidate = best.clone();
                        candidate.knobs.insert(knob.to_string(), Value::from(value));
                        candidate
                    })
                    .filter(fits)
                    .collect()
            };
            best = self.descend(best, lower);
        }
        best
    }

    /// Moves to the first smaller candidate that still fails, again and again, until
    /// none of `smaller`'s candidates does.
    fn descend(&mut self, mut best: Candidate, smaller: impl Fn(&Candidate) -> Vec<Candidate>) -> Candidate {
        while let Some(next) = smaller(&best).into_iter().find(|candidate| self.fails(candidate)) {
            best = next;
        }
        best
    }
}

/// A candidate's size: a thousand per event plus its duration in tenths of a second and
/// its split's members, plus the cluster's shards, clients and nodes. Only compared: a
/// number that goes down as the run gets simpler.
pub fn size(candidate: &Candidate) -> u64 {
    let events: u64 = candidate.plan.events.iter().map(|event| 1_000 + fault_weight(&event.fault)).sum();
    let cluster: u64 = CLUSTER_KNOBS.iter().filter_map(|(knob, _)| candidate.knobs.get(*knob)?.as_u64()).sum();
    events + cluster
}

fn fault_weight(fault: &Fault) -> u64 {
    // Tenths of a second, so that a shorter fault counts as smaller (capped below one event).
    let duration = fault.heals_after_ms().unwrap_or(0).min(99_900) / 100;
    let members = match fault {
        Fault::Split { side, .. } => side.len() as u64,
        _ => 0,
    };
    duration + members
}

/// Whether the plan names only nodes and shards the candidate's cluster has.
fn fits(candidate: &Candidate) -> bool {
    let knob = |name: &str| candidate.knobs.get(name).and_then(Value::as_u64).unwrap_or(u64::MAX);
    let nodes_total = knob("cluster.nodes_initial").saturating_add(knob("cluster.nodes_spare"));
    let shards = knob("shard_count");
    candidate.plan.validate(nodes_total.min(u64::from(u32::MAX)) as u32, shards.min(u64::from(u32::MAX)) as u32).is_ok()
}

fn dedup(mut values: Vec<u64>) -> Vec<u64> {
    values.sort_unstable();
    values.dedup();
    values
}

/// Simpler versions of one fault, most aggressive first: the shortest duration, half the
/// duration, half the rate, a split side without one of its members.
pub fn simpler_faults(fault: &Fault) -> Vec<Fault> {
    let mut simpler = Vec::new();
    if let Some(duration) = fault.heals_after_ms().filter(|duration| *duration > DURATION_MIN_MS) {
        for shorter in dedup(vec![DURATION_MIN_MS, duration / 2]) {
            if shorter >= DURATION_MIN_MS && shorter < duration {
                let mut candidate = fault.clone();
                candidate.set_heals_after_ms(shorter);
                simpler.push(candidate);
            }
        }
    }
    match fault {
        Fault::Loss { rate_permille, heal_after_ms } if *rate_permille / 2 >= RATE_MIN_PERMILLE => {
            simpler.push(Fault::Loss { rate_permille: rate_permille / 2, heal_after_ms: *heal_after_ms });
        }
        Fault::Duplicate { rate_permille, heal_after_ms } if *rate_permille / 2 >= RATE_MIN_PERMILLE => {
            simpler.push(Fault::Duplicate { rate_permille: rate_permille / 2, heal_after_ms: *heal_after_ms });
        }
        Fault::Split { side, heal_after_ms } if side.len() > 1 => {
            for position in 0..side.len() {
                let mut fewer = side.clone();
                fewer.remove(position);
                simpler.push(Fault::Split { side: fewer, heal_after_ms: *heal_after_ms });
            }
        }
        _ => {}
    }
    simpler
}

/// Zeller's ddmin: a 1-minimal subsequence of `items` (order kept) for which `fails`
/// holds, given that it holds for `items`: removing any single item makes it pass.
pub fn ddmin<T: Clone>(mut items: Vec<T>, fails: &mut dyn FnMut(&[T]) -> bool) -> Vec<T> {
    let mut granularity = 2usize;
    while items.len() >= 2 {
        let chunk = items.len().div_ceil(granularity);
        let chunks: Vec<std::ops::Range<usize>> =
            (0..items.len()).step_by(chunk).map(|start| start..(start + chunk).min(items.len())).collect();
        if let Some(range) = chunks.iter().find(|range| fails(&items[(*range).clone()])) {
            items = items[range.clone()].to_vec();
            granularity = 2;
            continue;
        }
        let complement = |range: &std::ops::Range<usize>| -> Vec<T> {
            items[..range.start].iter().chain(&items[range.end..]).cloned().collect()
        };
        if let Some(smaller) = chunks.iter().map(complement).find(|rest| fails(rest)) {
            items = smaller;
            granularity = (granularity - 1).max(2);
            continue;
        }
        if granularity >= items.len() {
            break;
        }
        granularity = (granularity * 2).min(items.len());
    }
    items
}

#[cfg(test)]
mod tests;
