//! A schedule: the events one run applied, in order, with what the run was (seed,
//! scenario, knobs, canaries) and what it gave (trace hash, broken invariant). Any
//! scheduler can replay it through the world and must get the same trace.

use super::Scheduled;
use crate::knob_map::Knobs;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Bumped whenever the meaning of a saved event changes; older files are refused.
pub const SCHEDULE_FORMAT: u32 = 1;

/// What a schedule was recorded from: a replay must rebuild exactly this world.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleHeader {
    pub format: u32,
    pub seed: u64,
    pub scenario: String,
    pub canaries: Vec<String>,
    pub knobs: Knobs,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub header: ScheduleHeader,
    /// The recording run's trace hash, as `run` prints it.
    pub trace_hash: String,
    /// The invariant the recording run broke, if any.
    pub invariant: Option<String>,
    pub events: Vec<Scheduled>,
}

/// Why a schedule cannot be replayed here. Every one is a usage error (exit 2).
#[derive(Clone, Debug, PartialEq)]
pub enum ScheduleError {
    Unreadable { path: String, detail: String },
    Format { found: u32 },
    Scenario { file: String, asked: String },
    Canaries { file: Vec<String>, asked: Vec<String> },
    Knob { name: String, file: String, here: String },
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Unreadable { path, detail } => write!(f, "cannot read schedule {path}: {detail}"),
            ScheduleError::Format { found } => write!(
                f,
                "schedule format {found} is not this build's format {SCHEDULE_FORMAT}: record it again with `run --save-schedule`"
            ),
            ScheduleError::Scenario { file, asked } => {
                write!(f, "schedule was recorded under scenario {file}, not {asked}")
            }
            ScheduleError::Canaries { file, asked } => {
                write!(f, "schedule was recorded with canaries [{}], not [{}]", file.join(", "), asked.join(", "))
            }
            ScheduleError::Knob { name, file, here } => {
                write!(f, "schedule was recorded with knob {name} = {file}, but this run has {here}")
            }
        }
    }
}

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// Whether `path` holds a schedule (rather than, say, a lab violation's choices): a
    /// JSON object with a header. Unreadable files count as schedules, to be refused
    /// with the reason by [`Schedule::load`].
    pub fn is_schedule_file(path: &Path) -> bool {
        let Ok(text) = std::fs::read_to_string(path) else { return true };
        serde_json::from_str::<serde_json::Value>(&text).map_or(true, |value| value.get("header").is_some())
    }

    pub fn load(path: &Path) -> Result<Schedule, ScheduleError> {
        let unreadable = |detail: String| ScheduleError::Unreadable { path: path.display().to_string(), detail };
        let text = std::fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?;
        // The format first: an older file may not parse as today's events at all.
        let format = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|error| unreadable(error.to_string()))?
            .pointer("/header/format")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| unreadable("no header.format: not a schedule file".to_string()))?;
        if format != u64::from(SCHEDULE_FORMAT) {
            return Err(ScheduleError::Format { found: format as u32 });
        }
        serde_json::from_str(&text).map_err(|error| unreadable(error.to_string()))
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(self).map_err(std::io::Error::other)?;
        std::fs::write(path, text)
    }

    /// Refuses to replay under another world than the one recorded: another scenario,
    /// other canaries or any knob of another value.
    pub fn check_matches(&self, here: &ScheduleHeader) -> Result<(), ScheduleError> {
        let file = &self.header;
        if file.format != here.format {
            return Err(ScheduleError::Format { found: file.format });
        }
        if file.scenario != here.scenario {
            return Err(ScheduleError::Scenario { file: file.scenario.clone(), asked: here.scenario.clone() });
        }
        if file.canaries != here.canaries {
            return Err(ScheduleError::Canaries { file: file.canaries.clone(), asked: here.canaries.clone() });
        }
        let names = file.knobs.keys().chain(here.knobs.keys());
        for name in names {
            let (in_file, in_run) = (file.knobs.get(name), here.knobs.get(name));
            if in_file != in_run {
                let show = |value: Option<&serde_json::Value>| value.map_or("nothing".to_string(), |v| v.to_string());
                return Err(ScheduleError::Knob { name: name.clone(), file: show(in_file), here: show(in_run) });
            }
        }
        Ok(())
    }
}
