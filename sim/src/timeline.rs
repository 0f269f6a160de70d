//! A run as a timeline in the Chrome trace-event format, which Perfetto
//! (<https://ui.perfetto.dev>) and `chrome://tracing` open. Built from the run's trace
//! lines (the JSON lines `--trace` writes), so any saved trace converts too.
//!
//! Tracks: one per actor (its lives, boot to kill), one per migration (its phases, under
//! the coordinator's process), one per fault (inject to heal, under the nemesis), a
//! counter of acked writes per shard, and the violation as a global instant. Times are
//! simulated: 1 ms of the run is 1 ms on the timeline.

use crate::oracle::Violation;
use crate::trace::{read_entries, TraceEntry, LIVENESS_PHASE_ACTION};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const ACTORS_PID: u64 = 1;
const MIGRATIONS_PID: u64 = 2;
const NEMESIS_PID: u64 = 3;
const ACKS_PID: u64 = 4;

/// Builds the trace-event document from trace lines; lines it cannot read are skipped.
pub fn chrome_trace(lines: &[String], violation: Option<&Violation>) -> Value {
    let mut timeline = Timeline::default();
    for entry in read_entries(lines) {
        timeline.end_ms = timeline.end_ms.max(entry.at_ms());
        match entry {
            TraceEntry::Nemesis { at_ms, action } => timeline.nemesis(at_ms, &action),
            TraceEntry::Observation { at_ms, actor, kind, fields } => {
                timeline.observation(at_ms, &actor, &kind, &fields)
            }
        }
    }
    if let Some(violation) = violation {
        timeline.end_ms = timeline.end_ms.max(violation.at_ms);
        timeline.events.push(json!({
            "name": format!("violation: {}", violation.invariant),
            "ph": "i", "s": "g", "pid": ACTORS_PID, "tid": 0, "ts": micros(violation.at_ms),
            "args": { "message": violation.message, "trigger": violation.trigger },
        }));
    }
    timeline.finish()
}

fn micros(ms: u64) -> u64 {
    ms * 1_000
}

/// An open slice: where it lives, what it is called and when it began.
struct Open {
    pid: u64,
    tid: u64,
    name: String,
    since_ms: u64,
    args: Value,
}

#[derive(Default)]
struct Timeline {
    events: Vec<Value>,
    end_ms: u64,
    /// Actor name to its track id, in order of first appearance.
    actor_tracks: BTreeMap<String, u64>,
    lives: BTreeMap<String, Open>,
    phases: BTreeMap<u64, Open>,
    /// Open faults by their description (inject and heal print the same).
    faults: BTreeMap<String, Open>,
    fault_tracks: u64,
    acks: BTreeMap<u64, u64>,
}

impl Timeline {
    fn actor_track(&mut self, actor: &str) -> u64 {
        let next = self.actor_tracks.len() as u64 + 1;
        let tid = *self.actor_tracks.entry(actor.to_string()).or_insert(next);
        if tid == next {
            self.thread_name(ACTORS_PID, tid, actor);
        }
        tid
    }

    fn thread_name(&mut self, pid: u64, tid: u64, name: &str) {
        self.events.push(json!({ "name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "args": { "name": name } }));
    }

    fn close(&mut self, open: Open, until_ms: u64) {
        self.events.push(json!({
            "name": open.name, "ph": "X", "pid": open.pid, "tid": open.tid,
            "ts": micros(open.since_ms), "dur": micros(until_ms.saturating_sub(open.since_ms)).max(1),
            "args": open.args,
        }));
    }

    fn observation(&mut self, at_ms: u64, actor: &str, kind: &str, fields: &Value) {
        match kind {
            "NodeBooted" | "CoordinatorBooted" => {
                let incarnation = fields["identity"]["incarnation"].as_u64().or(fields["incarnation"].as_u64());
                let tid = self.actor_track(actor);
                if let Some(previous) = self.lives.remove(actor) {
                    self.close(previous, at_ms);
                }
                let name = format!("{actor}#{}", incarnation.unwrap_or(0));
                let open = Open { pid: ACTORS_PID, tid, name, since_ms: at_ms, args: json!({}) };
                self.lives.insert(actor.to_string(), open);
            }
            "MigrationStarted" => {
                let migration = fields["migration"].as_u64().unwrap_or(0);
                let node =
                    |end: &str| fields[end]["actor"]["Node"].as_u64().map_or("?".to_string(), |n| format!("n{n}"));
                let track = format!("m{migration} s{} {}->{}", fields["shard"], node("source"), node("target"));
                self.thread_name(MIGRATIONS_PID, migration, &track);
                self.open_phase(migration, "BaseCopy", at_ms);
            }
            "MigrationPhase" => {
                let migration = fields["migration"].as_u64().unwrap_or(0);
                let to = fields["to"].as_str().unwrap_or("?");
                if let Some(open) = self.phases.remove(&migration) {
                    self.close(open, at_ms);
                }
                if !matches!(to, "Complete" | "Failed") {
                    self.open_phase(migration, to, at_ms);
                }
            }
            "MigrationAborted" => {
                let migration = fields["migration"].as_u64().unwrap_or(0);
                if let Some(mut open) = self.phases.remove(&migration) {
                    open.args = json!({ "aborted": fields["reason"] });
                    self.close(open, at_ms);
                }
            }
            "WriteAcked" => {
                let shard = fields["shard"].as_u64().unwrap_or(0);
                let acks = self.acks.entry(shard).or_default();
                *acks += 1;
                let count = *acks;
                self.events.push(json!({
                    "name": format!("acks s{shard}"), "ph": "C", "pid": ACKS_PID, "ts": micros(at_ms),
                    "args": { "acked": count },
                }));
            }
            _ => {}
        }
    }

    fn open_phase(&mut self, migration: u64, phase: &str, at_ms: u64) {
        let open =
            Open { pid: MIGRATIONS_PID, tid: migration, name: phase.to_string(), since_ms: at_ms, args: json!({}) };
        self.phases.insert(migration, open);
    }

    fn nemesis(&mut self, at_ms: u64, action: &str) {
        if action == LIVENESS_PHASE_ACTION {
            // Every fault heals here, those without a heal of their own (a join) too.
            for open in std::mem::take(&mut self.faults).into_values() {
                self.close(open, at_ms);
            }
        }
        if let Some(fault) = action.strip_prefix("inject ") {
            self.fault_tracks += 1;
            let tid = self.fault_tracks;
            self.thread_name(NEMESIS_PID, tid, fault);
            let open = Open { pid: NEMESIS_PID, tid, name: fault.to_string(), since_ms: at_ms, args: json!({}) };
            self.faults.insert(fault.to_string(), open);
        } else if let Some(fault) = action.strip_prefix("heal ") {
            if let Some(open) = self.faults.remove(fault) {
                self.close(open, at_ms);
            }
        } else if let Some(actor) = action.strip_prefix("kill ") {
            if let Some(open) = self.lives.remove(actor) {
                self.close(open, at_ms);
            }
        } else {
            self.events.push(
                json!({ "name": action, "ph": "i", "s": "p", "pid": NEMESIS_PID, "tid": 0, "ts": micros(at_ms) }),
            );
        }
    }

    fn finish(mut self) -> Value {
        let end_ms = self.end_ms;
        let open: Vec<Open> = std::mem::take(&mut self.lives)
            .into_values()
            .chain(std::mem::take(&mut self.phases).into_values())
            .chain(std::mem::take(&mut self.faults).into_values())
            .collect();
        for slice in open {
            self.close(slice, end_ms);
        }
        let mut events = vec![
            json!({ "name": "process_name", "ph": "M", "pid": ACTORS_PID, "args": { "name": "actors (lives)" } }),
            json!({ "name": "process_name", "ph": "M", "pid": MIGRATIONS_PID, "args": { "name": "coordinator: migrations" } }),
            json!({ "name": "process_name", "ph": "M", "pid": NEMESIS_PID, "args": { "name": "nemesis: faults" } }),
            json!({ "name": "process_name", "ph": "M", "pid": ACKS_PID, "args": { "name": "acked writes per shard" } }),
        ];
        events.extend(self.events);
        json!({ "traceEvents": events, "displayTimeUnit": "ms", "otherData": { "time": "simulated" } })
    }
}

#[cfg(test)]
mod tests {
    use super::chrome_trace;
    use serde_json::Value;

    fn slices(document: &Value, pid: u64) -> Vec<(String, u64, u64)> {
        let events = document["traceEvents"].as_array().unwrap();
        events
            .iter()
            .filter(|event| event["ph"] == "X" && event["pid"] == pid)
            .map(|event| {
                let ts = event["ts"].as_u64().unwrap();
                (event["name"].as_str().unwrap().to_string(), ts / 1_000, (ts + event["dur"].as_u64().unwrap()) / 1_000)
            })
            .collect()
    }

    #[test]
    fn lives_phases_and_faults_become_slices_from_start_to_end() {
        let lines: Vec<String> = [
            r#"{"t_ms":2,"actor":"n1","observation":{"NodeBooted":{"node":1,"identity":{"incarnation":1}}}}"#,
            r#"{"t_ms":10,"actor":"coordinator","observation":{"MigrationStarted":{"migration":4,"shard":2,"source":{"actor":{"Node":1}},"target":{"actor":{"Node":2}}}}}"#,
            r#"{"t_ms":30,"actor":"coordinator","observation":{"MigrationPhase":{"migration":4,"shard":2,"from":"BaseCopy","to":"CatchUp"}}}"#,
            r#"{"t_ms":35,"nemesis":"inject Isolate { node: NodeId(1), heal_after_ms: 20 }"}"#,
            r#"{"t_ms":40,"nemesis":"kill n1"}"#,
            r#"{"t_ms":45,"actor":"coordinator","observation":{"MigrationAborted":{"migration":4,"shard":2,"reason":"SourceIdentityChanged"}}}"#,
            r#"{"t_ms":55,"nemesis":"heal Isolate { node: NodeId(1), heal_after_ms: 20 }"}"#,
            r#"{"t_ms":58,"nemesis":"inject Join { node: NodeId(4) }"}"#,
            r#"{"t_ms":60,"actor":"n1","observation":{"NodeBooted":{"node":1,"identity":{"incarnation":2}}}}"#,
            r#"{"t_ms":65,"nemesis":"liveness phase: all faults healed"}"#,
            "not json: skipped",
            r#"{"t_ms":70,"actor":"n1","observation":{"WriteAcked":{"shard":2}}}"#,
        ]
        .map(String::from)
        .to_vec();
        let document = chrome_trace(&lines, None);
        assert_eq!(slices(&document, 1), [("n1#1".to_string(), 2, 40), ("n1#2".to_string(), 60, 70)]);
        assert_eq!(slices(&document, 2), [("BaseCopy".to_string(), 10, 30), ("CatchUp".to_string(), 30, 45)]);
        let faults = [
            ("Isolate { node: NodeId(1), heal_after_ms: 20 }".to_string(), 35, 55),
            ("Join { node: NodeId(4) }".to_string(), 58, 65),
        ];
        assert_eq!(slices(&document, 3), faults, "a fault with no heal of its own ends at the liveness phase");
        let counters: Vec<&Value> =
            document["traceEvents"].as_array().unwrap().iter().filter(|event| event["ph"] == "C").collect();
        assert_eq!(counters.len(), 1);
        assert_eq!(counters[0]["name"], "acks s2");
    }
}
