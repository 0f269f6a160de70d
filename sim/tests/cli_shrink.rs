//! `shardsim shrink` as a user runs it: a failing canary run cut down to a plan that still
//! fails the same way, files that replay, and the exits for a passing run and bad paths.

use std::path::PathBuf;
use std::process::{Command, Output};

fn shardsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardsim")).args(args).env_remove("RUST_LOG").output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardsim-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// The canary's first failing swarm seed and the invariant it breaks there, as a sweep
/// finds them: named seeds go stale whenever a new fault kind changes every seed's draw.
fn first_failing_seed(canary: &str) -> (String, String) {
    let report = scratch(&format!("{canary}-sweep.json"));
    let report_arg = report.display().to_string();
    let swept = shardsim(&["sweep", "--seeds", "0..500", "--canary", canary, "--fail-fast", "--report", &report_arg]);
    assert_eq!(swept.status.code(), Some(3), "{}", text(&swept));
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let failure = &report["failures"][0];
    (failure["seed"].to_string(), failure["invariant"].as_str().expect("an invariant").to_string())
}

fn events_in(plan: &std::path::Path) -> usize {
    let plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    plan["events"].as_array().expect("a plan has events").len()
}

#[test]
fn a_failing_canary_run_shrinks_to_a_plan_that_fails_the_same_way() {
    let (seed, invariant) = first_failing_seed("stub-acks-writes");
    let out = scratch("stub");
    let out_arg = out.display().to_string();
    let original = scratch("original.json");
    let saved = shardsim(&[
        "run",
        "--seed",
        &seed,
        "--canary",
        "stub-acks-writes",
        "--save-plan",
        &original.display().to_string(),
    ]);
    assert_eq!(saved.status.code(), Some(3), "{}", text(&saved));
    let output =
        shardsim(&["shrink", "--seed", &seed, "--canary", "stub-acks-writes", "--out", &out_arg, "--for", "60s"]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(3), "the minimal run still breaks a safety invariant:\n{printed}");
    let still = format!("still {invariant}");
    let reproduce = format!("reproduce: shardsim run --seed {seed}");
    for part in ["events", "simpler", "cluster", "schedule", &still, &reproduce] {
        assert!(printed.contains(part), "missing `{part}` in:\n{printed}");
    }
    let (before, after) = (events_in(&original), events_in(&out.join("plan.json")));
    assert!(after * 4 <= before, "{before} events shrank only to {after}");
    let plan = out.join("plan.json").display().to_string();
    let knobs = out.join("knobs.json").display().to_string();
    let again = shardsim(&["run", "--seed", &seed, "--canary", "stub-acks-writes", "--plan", &plan, "--knobs", &knobs]);
    assert!(text(&again).contains(&format!(": {invariant}")), "{}", text(&again));
    let schedule = out.join("schedule.json").display().to_string();
    let lab = shardsim(&[
        "explore",
        "--replay",
        &schedule,
        "--scenario",
        "swarm",
        "--knobs",
        &knobs,
        "--canary",
        "stub-acks-writes",
    ]);
    assert_eq!(lab.status.code(), Some(3), "the lab replays the minimal schedule to the violation:\n{}", text(&lab));
    assert!(text(&lab).contains(&invariant), "{}", text(&lab));
}

fn schedule_events(path: &std::path::Path) -> usize {
    let schedule: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    schedule["events"].as_array().expect("a schedule has events").len()
}

/// A control-plane canary whose first failing seed shrinks in well under a second (some
/// failures need a long history: unfence-on-timeout's first seed, 21, takes 104 s to reach
/// its minimal 2,186 events, longer than this test's budget).
#[test]
fn a_saved_schedule_shrinks_through_the_lab_and_replays() {
    let (seed, invariant) = first_failing_seed("tracker-not-persisted");
    let recorded = scratch("recorded-schedule.json");
    let saved = shardsim(&[
        "run",
        "--seed",
        &seed,
        "--canary",
        "tracker-not-persisted",
        "--save-schedule",
        &recorded.display().to_string(),
    ]);
    assert_eq!(saved.status.code(), Some(3), "{}", text(&saved));
    let out = scratch("from-schedule");
    let output = shardsim(&[
        "shrink",
        "--schedule",
        &recorded.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--for",
        "60s",
    ]);
    let printed = text(&output);
    assert_eq!(output.status.code(), Some(3), "{printed}");
    assert!(printed.contains(&format!("still {invariant}")), "{printed}");
    let (before, after) = (schedule_events(&recorded), schedule_events(&out.join("schedule.json")));
    assert!(after * 4 <= before, "{before} schedule events shrank only to {after}");
    let schedule = out.join("schedule.json").display().to_string();
    let lab = shardsim(&["explore", "--replay", &schedule]);
    assert_eq!(lab.status.code(), Some(3), "{}", text(&lab));
    assert!(text(&lab).contains(&invariant), "{}", text(&lab));
}

#[test]
fn a_schedule_file_that_is_missing_or_mixed_with_a_seed_is_refused() {
    let out = scratch("refused").display().to_string();
    let missing = scratch("no-such-schedule.json").display().to_string();
    let cases: [(&[&str], &str); 3] = [
        (&["shrink", "--schedule", &missing, "--out", &out], "cannot read schedule"),
        (&["shrink", "--schedule", &missing, "--seed", "1"], "cannot be used with"),
        (&["shrink", "--out", &out], "--seed is required"),
    ];
    for (args, message) in cases {
        let output = shardsim(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(message), "{args:?} should say `{message}`: {}", text(&output));
    }
}

#[test]
fn a_passing_run_has_nothing_to_shrink() {
    let out = scratch("pass").display().to_string();
    let output = shardsim(&["shrink", "--seed", "3", "--scenario", "calm", "--out", &out]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("passes: nothing to shrink"), "{}", text(&output));
}

#[test]
fn bad_paths_and_durations_exit_two() {
    let file = scratch("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let inside_a_file = file.join("out").display().to_string();
    let cases: [(&[&str], &str); 3] = [
        (
            &["shrink", "--seed", "1", "--canary", "stub-acks-writes", "--out", &inside_a_file],
            "cannot create output directory",
        ),
        (&["shrink", "--seed", "1", "--for", "soon"], "not a duration"),
        (&["shrink", "--seed", "1", "--for", "10 parsecs"], "no unit"),
    ];
    for (args, message) in cases {
        let output = shardsim(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert!(text(&output).contains(message), "{args:?} should say `{message}`: {}", text(&output));
    }
}
