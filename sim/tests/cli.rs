//! The `shardsim` command as a user runs it: exit codes, errors, traces and plans.

use shardsim::oracle::invariants::PHASE_ORDER;
use std::path::PathBuf;
use std::process::{Command, Output};

fn shardsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardsim")).args(args).env_remove("RUST_LOG").output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_passing_run_exits_zero_and_prints_a_summary() {
    let output = shardsim(&["run", "--seed", "3", "--scenario", "calm"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = text(&output);
    for part in [
        "seed 3 scenario calm: pass",
        "faults injected",
        "migrations: started",
        "writes: acked",
        "convergence: shards/node max",
        "heal to balance",
        "simulated",
    ] {
        assert!(printed.contains(part), "missing `{part}` in:\n{printed}");
    }
    let json = shardsim(&["run", "--seed", "3", "--scenario", "calm", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("a JSON report");
    let convergence = &report["summary"]["convergence"];
    for field in ["shards_per_node_max", "load_score_max", "moves_total", "thrash", "heal_to_balance_ms"] {
        assert!(!convergence[field].is_null(), "the JSON report lacks convergence.{field}: {convergence}");
    }
}

#[test]
fn bad_usage_exits_two_with_a_clear_message() {
    let cases: [(&[&str], &str); 6] = [
        (&["run", "--seed", "x"], "invalid value"),
        (&["run", "--seed", "1", "--scenario", "nope"], "unknown scenario `nope`"),
        (&["run", "--seed", "1", "--canary", "nope"], "unknown canary `nope`"),
        (&["sweep", "--seeds", "9..3"], "seed range"),
        (&["sweep", "--seeds", "abc"], "not of the form A..B"),
        (&["run", "--seed", "1", "--plan", "/nonexistent/plan.json"], "cannot read plan file"),
    ];
    for (args, message) in cases {
        let output = shardsim(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(message), "{args:?} should say `{message}`: {}", text(&output));
    }
}

#[test]
fn a_malformed_or_mismatched_plan_file_is_refused() {
    let garbage = scratch("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let output = shardsim(&["run", "--seed", "1", "--plan", garbage.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("is not a fault plan"), "{}", text(&output));

    let wrong_node = scratch("wrong-node.json");
    let plan = r#"{"seed":1,"scenario":"calm","kinds_on":[],"events":[{"at_ms":100,"fault":{"isolate":{"node":99,"heal_after_ms":10}}}]}"#;
    std::fs::write(&wrong_node, plan).unwrap();
    let output = shardsim(&["run", "--seed", "1", "--plan", wrong_node.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("names n99"), "{}", text(&output));
}

#[test]
fn knobs_files_pin_knobs_and_bad_ones_are_refused_naming_the_knob() {
    let malformed = scratch("knobs-malformed.json");
    std::fs::write(&malformed, "[1, 2").unwrap();
    let output = shardsim(&["run", "--seed", "1", "--knobs", malformed.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).contains("not a JSON object of knob names"), "{}", text(&output));

    let out_of_range = scratch("knobs-out-of-range.json");
    std::fs::write(&out_of_range, r#"{"write_pause_budget_ms": 0}"#).unwrap();
    let output = shardsim(&["sweep", "--seeds", "0..2", "--knobs", out_of_range.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let printed = text(&output);
    assert!(printed.contains("write_pause_budget_ms") && printed.contains("1..=600000"), "{printed}");

    let pinned = scratch("knobs-pinned.json");
    std::fs::write(&pinned, r#"{"planner": "least_shard", "cluster.nodes_initial": 5, "shard_count": 10}"#).unwrap();
    let output = shardsim(&["run", "--seed", "3", "--json", "--knobs", pinned.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["knobs"]["planner"], "least_shard");
    assert_eq!(report["knobs"]["cluster.nodes_initial"], 5);
    assert_eq!(report["knobs"]["shard_count"], 10);
    assert!(report["reproduce"].as_str().unwrap().ends_with(&format!("--knobs {}", pinned.display())));
}

#[test]
fn a_canary_run_exits_three_and_prints_evidence_and_a_reproduce_command() {
    let output = shardsim(&["run", "--seed", "0", "--scenario", "chaos", "--canary", "phase-shortcut"]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let printed = text(&output);
    assert!(printed.contains("invariant `phase_order` violated"), "{printed}");
    assert!(printed.contains("evidence"), "{printed}");
    assert!(
        printed.contains("reproduce with: shardsim run --seed 0 --scenario chaos --canary phase-shortcut"),
        "{printed}"
    );
}

#[test]
fn two_processes_write_identical_traces_and_determinism_checks_pass() {
    let (first, second) = (scratch("first.jsonl"), scratch("second.jsonl"));
    for path in [&first, &second] {
        let output = shardsim(&["run", "--seed", "7", "--scenario", "chaos", "--trace", path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    }
    let (first, second) = (std::fs::read(&first).unwrap(), std::fs::read(&second).unwrap());
    assert!(first.len() > 10_000, "a real trace");
    assert!(first == second, "two processes wrote different traces for one seed");

    let output = shardsim(&["run", "--seed", "7", "--scenario", "chaos", "--check-determinism"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("same trace hash"));
}

#[test]
fn a_saved_plan_replays_with_the_same_trace_hash() {
    let plan = scratch("plan.json");
    let saved =
        shardsim(&["run", "--seed", "5", "--scenario", "chaos", "--save-plan", plan.to_str().unwrap(), "--json"]);
    let replayed = shardsim(&["run", "--seed", "5", "--scenario", "chaos", "--plan", plan.to_str().unwrap(), "--json"]);
    let hash = |output: &Output| {
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
        report["trace_hash"].as_str().unwrap().to_string()
    };
    assert_eq!(hash(&saved), hash(&replayed));
}

#[test]
fn sweeps_report_failures_in_json_with_their_reproduce_commands() {
    let report = scratch("sweep.json");
    let output = shardsim(&[
        "sweep",
        "--seeds",
        "0..4",
        "--jobs",
        "2",
        "--canary",
        "entity-state-not-replayed",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(json["runs"], 4);
    let failures = json["failures"].as_array().unwrap();
    assert!(!failures.is_empty());
    assert!(failures[0]["reproduce"].as_str().unwrap().starts_with("shardsim run --seed "));
    let signatures = json["signatures"].as_array().unwrap();
    let grouped: usize = signatures.iter().map(|signature| signature["seeds"].as_array().unwrap().len()).sum();
    assert_eq!(grouped, failures.len(), "every failing seed is in one signature");
    assert_eq!(signatures[0]["invariant"], "entity_state_continuous");
    assert!(text(&output).contains("distinct failure"), "{}", text(&output));
}

#[test]
fn scenarios_and_canaries_are_listed() {
    let scenarios = text(&shardsim(&["scenarios"]));
    for name in ["swarm (default)", "calm", "partitions", "restarts", "identity", "membership", "chaos"] {
        assert!(scenarios.contains(name), "{scenarios}");
    }
    let canaries = text(&shardsim(&["canaries"]));
    assert_eq!(canaries.lines().count(), shardsim::core::canary::Canary::ALL.len(), "{canaries}");
    assert!(canaries.lines().count() >= 16, "{canaries}");
    let help = text(&shardsim(&["run", "--help"]));
    assert!(help.contains("3  a safety invariant was violated"), "{help}");
}

#[test]
fn explore_searches_exhaustively_and_replays_what_it_finds() {
    let output = shardsim(&["explore", "--exhaustive", "--nodes", "2", "--shards", "1", "--depth", "16"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("complete"), "{}", text(&output));

    let saved = scratch("violation.json");
    let output =
        shardsim(&["explore", "--exhaustive", "--canary", "phase-shortcut", "--save", saved.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).contains("shortest sequence: 2 choices"), "{}", text(&output));
    let replayed = shardsim(&["explore", "--replay", saved.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(3), "{}", text(&replayed));
    assert!(text(&replayed).contains(PHASE_ORDER.name));

    let bounded = shardsim(&["explore", "--exhaustive", "--drops", "--timers", "--memory-max", "64KiB", "--jobs", "2"]);
    assert_eq!(bounded.status.code(), Some(0), "{}", text(&bounded));
    assert!(text(&bounded).contains("stopped at --memory-max"), "{}", text(&bounded));
    for bad in [["--memory-max", "2XB"], ["--start", "sideways"]] {
        let refused = shardsim(&["explore", "--exhaustive", bad[0], bad[1]]);
        assert_eq!(refused.status.code(), Some(2), "{bad:?}: {}", text(&refused));
    }

    let missing = shardsim(&["explore", "--replay", "/nonexistent.json"]);
    assert_eq!(missing.status.code(), Some(2));
    let walk = shardsim(&["explore", "--seed", "4", "--steps", "800"]);
    assert_eq!(walk.status.code(), Some(0), "{}", text(&walk));
    assert!(text(&walk).contains("steps/s"));
}

#[test]
fn bench_prints_its_table_and_writes_json() {
    let json = scratch("bench.json");
    let output = shardsim(&["bench", "--seeds", "1", "--lab-steps", "200", "--json", json.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    for part in ["seeds/s", "oracle share", "bare madsim ping-pong", "harness cost per message", "lab:"] {
        assert!(text(&output).contains(part), "missing `{part}`:\n{}", text(&output));
    }
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["scenarios"].as_array().unwrap().len(), 2);
    assert!(report["bare_madsim_messages"].as_u64().unwrap() > 0);
}

#[test]
fn the_readme_lists_every_invariant_as_the_registry_does() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
    let begin = readme.find("<!-- invariants:begin -->\n").expect("the README marks its invariant list");
    let end = readme.find("<!-- invariants:end -->").expect("the README marks its invariant list's end");
    let listed = &readme[begin + "<!-- invariants:begin -->\n".len()..end];
    assert_eq!(listed, shardsim::oracle::registry::render_list(), "regenerate with `shardsim invariants`");
}
