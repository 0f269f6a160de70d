//! Knob name to value: numbers, and the planner's name. A leaf, so that scenarios, plans
//! and reports can carry knobs without importing the knob machinery.

use serde_json::Value;
use std::collections::BTreeMap;

pub type Knobs = BTreeMap<String, Value>;
