//! `run --timeline FILE`: a Chrome trace-event document a viewer can open, with the tracks
//! the README promises and the violation where the report says it happened.

use std::process::Command;

#[test]
fn a_failing_canary_run_writes_a_timeline_with_every_track() {
    let path = std::env::temp_dir().join(format!("shardsim-timeline-{}.json", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_shardsim"))
        .args(["run", "--seed", "0", "--canary", "stub-acks-writes", "--json", "--timeline"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let violation_ms = report["verdict"]["violation"]["at_ms"].as_u64().expect("a safety violation");
    let simulated_ms = report["summary"]["simulated_ms"].as_u64().unwrap();

    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let events = document["traceEvents"].as_array().expect("a traceEvents array");
    let named = |ph: &str, name: &str| events.iter().filter(|event| event["ph"] == ph && event["name"] == name).count();
    assert_eq!(named("M", "process_name"), 4, "actors, migrations, nemesis and acks processes");
    let threads: Vec<&str> = events
        .iter()
        .filter(|event| event["name"] == "thread_name")
        .filter_map(|event| event["args"]["name"].as_str())
        .collect();
    for track in ["coordinator", "n1", "n2", "n3"] {
        assert!(threads.contains(&track), "no track for {track}: {threads:?}");
    }
    assert!(threads.iter().any(|name| name.starts_with('m') && name.contains("->")), "no migration track: {threads:?}");
    for event in events.iter().filter(|event| event["ph"] == "X") {
        let (ts, dur) = (event["ts"].as_u64().unwrap(), event["dur"].as_u64().unwrap());
        assert!(dur >= 1 && ts + dur <= simulated_ms * 1_000 + 1, "a slice outside the run's simulated time: {event}");
    }
    let phases = ["BaseCopy", "CatchUp", "CutOver"];
    let phase_slices = events.iter().filter(|event| event["pid"] == 2 && event["ph"] == "X").count();
    assert!(phase_slices > 0 && events.iter().any(|event| phases.contains(&event["name"].as_str().unwrap_or(""))));
    assert!(events.iter().any(|event| event["pid"] == 3 && event["ph"] == "X"), "no fault slice");
    assert!(events.iter().any(|event| event["ph"] == "C" && event["name"].as_str().unwrap().starts_with("acks s")));
    let violations: Vec<&serde_json::Value> =
        events.iter().filter(|event| event["ph"] == "i" && event["s"] == "g").collect();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0]["name"], "violation: single_writer");
    assert_eq!(violations[0]["ts"].as_u64(), Some(violation_ms * 1_000));
}

#[test]
fn a_run_draws_its_plot_to_svg() {
    let path = std::env::temp_dir().join(format!("shardsim-plot-{}.svg", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_shardsim"))
        .args(["run", "--seed", "254", "--canary", "backpressure-ignored", "--plot"])
        .arg(&path)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "not an SVG document");
    for text in ["shards per node", "load score per node", "rebalance_gates_respected", "n1", "n2"] {
        assert!(svg.contains(text), "the plot lacks `{text}`");
    }
    let unwritable = Command::new(env!("CARGO_BIN_EXE_shardsim"))
        .args(["run", "--seed", "10", "--plot", "/nonexistent/dir/plot.svg"])
        .output()
        .expect("the binary runs");
    assert_eq!(unwritable.status.code(), Some(2), "an unwritable plot path is bad input");
}

#[test]
fn a_sweep_pictures_its_smallest_failing_seed() {
    let dir = std::env::temp_dir().join(format!("shardsim-sweep-pictures-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (plot, timeline) = (dir.join("first.svg"), dir.join("first.json"));
    let output = Command::new(env!("CARGO_BIN_EXE_shardsim"))
        .args(["sweep", "--seeds", "0..4", "--jobs", "2", "--canary", "entity-state-not-replayed", "--plot"])
        .arg(&plot)
        .arg("--timeline")
        .arg(&timeline)
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(3), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("pictures of seed 0 written"));
    assert!(std::fs::read_to_string(&plot).unwrap().contains("entity_state_continuous"));
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&timeline).unwrap()).unwrap();
    assert!(!document["traceEvents"].as_array().unwrap().is_empty());
}
