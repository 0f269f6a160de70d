//! Randomized knobs (FoundationDB's): each seed of a knob-swarm scenario draws the
//! cluster's shape and every protocol knob inside its valid range, so a sweep tests the
//! edges of the configuration, not only the defaults. A knobs file pins any of them.
//!
//! Knobs are named by dotted paths (`caps.active_total_max`); a [`Knobs`] map lists them
//! with their values, as run reports and saved plans show them and as `--knobs FILE`
//! takes them (any subset).

use crate::scenario::Scenario;
use serde_json::Value;
use shardsim_core::config::knobs::{knob, planner_by_name, planner_name, Knob, KNOBS, PLANNER_KNOB};
use shardsim_core::config::PlannerKind;
use shardsim_core::{Entropy, SplitMix64};
use std::fmt;
use std::path::Path;

pub use crate::knob_map::Knobs;

/// A knob of the cluster's shape rather than of the protocol.
struct ShapeKnob {
    name: &'static str,
    min: u32,
    max: u32,
    draw_min: u32,
    draw_max: u32,
    get: fn(&Scenario) -> u32,
    set: fn(&mut Scenario, u32),
}

const SHAPE_KNOBS: [ShapeKnob; 3] = [
    ShapeKnob {
        name: "cluster.nodes_initial",
        min: 1,
        max: 64,
        draw_min: 3,
        draw_max: 6,
        get: |scenario| scenario.nodes_initial,
        set: |scenario, value| scenario.nodes_initial = value,
    },
    ShapeKnob {
        name: "cluster.nodes_spare",
        min: 0,
        max: 64,
        draw_min: 0,
        draw_max: 2,
        get: |scenario| scenario.nodes_spare,
        set: |scenario, value| scenario.nodes_spare = value,
    },
    ShapeKnob {
        name: "cluster.clients",
        min: 1,
        max: 64,
        draw_min: 1,
        draw_max: 4,
        get: |scenario| scenario.clients,
        set: |scenario, value| scenario.clients = value,
    },
];

/// Data nodes and spares together must fit the simulated address plan.
const NODES_TOTAL_MAX: u32 = 64;

/// A knob value or file that cannot be used; says which knob and its range.
#[derive(Debug, PartialEq)]
pub struct KnobError(pub String);

impl fmt::Display for KnobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KnobError {}

/// Salt for the knob draw, so that it does not correlate with the fault plan's draw.
const KNOBS_SALT: u64 = 0x6b6e_6f62_7300_0000;

/// An edge value one time in eight each way, uniform otherwise.
fn draw_between(rng: &mut SplitMix64, low: f64, high: f64, integer: bool) -> f64 {
    match rng.below(8) {
        0 => low,
        1 => high,
        _ if integer => low + rng.below((high - low) as u64 + 1) as f64,
        _ => {
            let fraction = rng.below(1_000_001) as f64 / 1_000_000.0;
            ((low + fraction * (high - low)) * 1000.0).round() / 1000.0
        }
    }
}

/// The scenario as `seed` runs it: knobs drawn (in a knob-swarm scenario), then the
/// scenario's own pins, then `pins` (a knobs file's).
pub fn resolve(seed: u64, scenario: &Scenario, pins: Option<&Knobs>) -> Result<Scenario, KnobError> {
    let mut resolved = scenario.clone();
    if resolved.knobs_drawn {
        draw(seed, &mut resolved);
    }
    pin(&mut resolved, &scenario.knobs_pinned)?;
    if let Some(pins) = pins {
        pin(&mut resolved, pins)?;
    }
    Ok(resolved)
}

/// Draws the shape and every protocol knob for `seed`: a pure function of both.
pub fn draw(seed: u64, scenario: &mut Scenario) {
    let mut rng = SplitMix64::new(seed ^ KNOBS_SALT);
    for shape in &SHAPE_KNOBS {
        let value = draw_between(&mut rng, f64::from(shape.draw_min), f64::from(shape.draw_max), true);
        (shape.set)(scenario, value as u32);
    }
    scenario.protocol.planner = if rng.below(2) == 0 { PlannerKind::LoadBased } else { PlannerKind::LeastShard };
    for knob in KNOBS {
        let value = draw_between(&mut rng, knob.draw_min, knob.draw_max, knob.integer);
        (knob.set)(&mut scenario.protocol, value);
    }
}

/// Every knob of the scenario with its value.
pub fn listing(scenario: &Scenario) -> Knobs {
    let mut knobs = Knobs::new();
    for shape in &SHAPE_KNOBS {
        knobs.insert(shape.name.to_string(), Value::from((shape.get)(scenario)));
    }
    knobs.insert(PLANNER_KNOB.to_string(), Value::from(planner_name(scenario.protocol.planner)));
    for knob in KNOBS {
        let value = (knob.get)(&scenario.protocol);
        let value = if knob.integer { Value::from(value as u64) } else { Value::from(value) };
        knobs.insert(knob.name.to_string(), value);
    }
    knobs
}

fn known_names() -> String {
    let mut names: Vec<&str> = SHAPE_KNOBS.iter().map(|shape| shape.name).collect();
    names.push(PLANNER_KNOB);
    names.extend(KNOBS.iter().map(|knob| knob.name));
    names.join(", ")
}

fn number(name: &str, value: &Value, range: String) -> Result<f64, KnobError> {
    value.as_f64().ok_or_else(|| KnobError(format!("knob `{name}` must be a number in {range}, not {value}")))
}

fn pin_protocol(scenario: &mut Scenario, knob: &Knob, value: &Value) -> Result<(), KnobError> {
    let number = number(knob.name, value, knob.range())?;
    if !knob.contains(number) {
        let kind = if knob.integer { "a whole number" } else { "a number" };
        return Err(KnobError(format!(
            "knob `{}` = {number} is outside its valid range: {kind} in {}",
            knob.name,
            knob.range()
        )));
    }
    (knob.set)(&mut scenario.protocol, number);
    Ok(())
}

/// Sets the pinned knobs over what the scenario drew, then checks the whole: the first
/// unknown name, wrong type, value out of range or broken rule between knobs is an error
/// that names the knob and its range.
pub fn pin(scenario: &mut Scenario, pins: &Knobs) -> Result<(), KnobError> {
    for (name, value) in pins {
        if name == PLANNER_KNOB {
            let kind = value.as_str().and_then(planner_by_name).ok_or_else(|| {
                KnobError(format!("knob `planner` must be \"load_based\" or \"least_shard\", not {value}"))
            })?;
            scenario.protocol.planner = kind;
        } else if let Some(shape) = SHAPE_KNOBS.iter().find(|shape| shape.name == name) {
            let range = format!("{}..={}", shape.min, shape.max);
            let number = number(name, value, range.clone())?;
            if number.fract() != 0.0 || number < f64::from(shape.min) || number > f64::from(shape.max) {
                return Err(KnobError(format!(
                    "knob `{name}` = {number} is outside its valid range: a whole number in {range}"
                )));
            }
            (shape.set)(scenario, number as u32);
        } else if let Some(knob) = knob(name) {
            pin_protocol(scenario, knob, value)?;
        } else {
            return Err(KnobError(format!("unknown knob `{name}`; known: {}", known_names())));
        }
    }
    check(scenario)
}

/// The scenario's knobs all valid together.
pub fn check(scenario: &Scenario) -> Result<(), KnobError> {
    if scenario.nodes_total() > NODES_TOTAL_MAX {
        return Err(KnobError(format!(
            "knobs `cluster.nodes_initial` + `cluster.nodes_spare` = {} exceed {NODES_TOTAL_MAX} nodes",
            scenario.nodes_total()
        )));
    }
    scenario.protocol.validate().map_err(|error| KnobError(error.to_string()))
}

/// Reads a knobs file: a JSON object of knob names to values.
pub fn load(path: &Path) -> Result<Knobs, KnobError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| KnobError(format!("cannot read knobs file {}: {error}", path.display())))?;
    serde_json::from_str(&text).map_err(|error| {
        KnobError(format!("knobs file {} is not a JSON object of knob names to values: {error}", path.display()))
    })
}

/// A short line of the knobs that shape a run most; the JSON report has them all.
pub fn headline(knobs: &Knobs) -> String {
    const SHOWN: [(&str, &str); 10] = [
        ("planner", "planner"),
        ("cluster.nodes_initial", "nodes"),
        ("cluster.nodes_spare", "spares"),
        ("shard_count", "shards"),
        ("cluster.clients", "clients"),
        ("caps.active_total_max", "active_max"),
        ("caps.active_per_node_max", "per_node_max"),
        ("write_pause_budget_ms", "pause_budget_ms"),
        ("migration_timeout_ms", "timeout_ms"),
        ("cpu_backpressure_threshold_permille", "cpu_max_permille"),
    ];
    let shown: Vec<String> = SHOWN
        .iter()
        .filter_map(|(name, label)| {
            knobs
                .get(*name)
                .map(|value| format!("{label}={}", value.as_str().map_or(value.to_string(), str::to_string)))
        })
        .collect();
    shown.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ScenarioName;

    fn swarm() -> Scenario {
        Scenario::named(ScenarioName::Swarm)
    }

    #[test]
    fn every_draw_is_valid_deterministic_and_uses_both_planners() {
        let mut planners = std::collections::BTreeSet::new();
        for seed in 0..500 {
            let (mut first, mut second) = (swarm(), swarm());
            draw(seed, &mut first);
            draw(seed, &mut second);
            assert_eq!(first, second, "seed {seed} drew twice differently");
            check(&first).unwrap_or_else(|error| panic!("seed {seed} drew invalid knobs: {error}"));
            planners.insert(planner_name(first.protocol.planner));
        }
        assert_eq!(planners.len(), 2);
    }

    #[test]
    fn pinning_a_listing_gives_back_the_same_scenario() {
        let mut drawn = swarm();
        draw(7, &mut drawn);
        let mut pinned = swarm();
        pin(&mut pinned, &listing(&drawn)).unwrap();
        assert_eq!(pinned, drawn);
    }

    #[test]
    fn a_scenario_pins_knobs_over_the_draw_and_a_file_over_both() {
        let mut scenario = swarm();
        scenario.knobs_pinned = Knobs::from([("planner".to_string(), Value::from("least_shard"))]);
        let file = Knobs::from([("caps.active_total_max".to_string(), Value::from(3))]);
        let mut shard_counts = std::collections::BTreeSet::new();
        for seed in 0..20 {
            let resolved = resolve(seed, &scenario, Some(&file)).unwrap();
            assert_eq!(resolved.protocol.planner, PlannerKind::LeastShard);
            assert_eq!(resolved.protocol.caps.active_total_max, 3);
            shard_counts.insert(resolved.protocol.shard_count);
        }
        assert!(shard_counts.len() > 1, "the rest is still drawn");
    }

    fn pin_error(name: &str, value: Value) -> String {
        let pins = Knobs::from([(name.to_string(), value)]);
        pin(&mut swarm(), &pins).unwrap_err().to_string()
    }

    #[test]
    fn bad_pins_name_the_knob_and_its_range() {
        let message = pin_error("caps.active_total_max", Value::from(0));
        assert!(message.contains("caps.active_total_max") && message.contains("1..=1024"), "{message}");
        let message = pin_error("caps.active_total_max", Value::from(2.5));
        assert!(message.contains("whole number"), "{message}");
        let message = pin_error("cluster.clients", Value::from(0));
        assert!(message.contains("cluster.clients") && message.contains("1..=64"), "{message}");
        let message = pin_error("chunk_entries_max", Value::from("many"));
        assert!(message.contains("must be a number"), "{message}");
        let message = pin_error("planner", Value::from("round_robin"));
        assert!(message.contains("load_based"), "{message}");
        let message = pin_error("no_such_knob", Value::from(1));
        assert!(message.contains("unknown knob") && message.contains("caps.active_total_max"), "{message}");
        let message = pin_error("heartbeat_timeout_ms", Value::from(30));
        assert!(message.contains("heartbeat"), "{message}");
    }
}
