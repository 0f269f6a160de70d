//! Sweeps beyond one process: `--shard`, `--for`, per-seed records, `merge`, JUnit,
//! sampled determinism checks, and the manifests that ship them to a fleet.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use yaml_rust2::{Yaml, YamlLoader};

fn shardsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shardsim")).args(args).env_remove("RUST_LOG").output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("shardsim-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("written")).expect("JSON")
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Each record's seed, verdict, invariant and trace hash: what must not depend on where
/// or in how many pieces a seed ran.
fn runs(report: &Value) -> Vec<(u64, String, String, String)> {
    report["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|record| {
            (
                record["seed"].as_u64().unwrap(),
                record["verdict"].as_str().unwrap().to_string(),
                record["invariant"].as_str().unwrap_or("").to_string(),
                record["trace_hash"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_range_swept_as_three_shards_in_separate_processes_and_merged_equals_it_swept_whole() {
    // A canary, so that failures and their signatures are compared too.
    let common = ["sweep", "--seeds", "0..24", "--canary", "stub-acks-writes"];
    let mut parts = Vec::new();
    for index in 0..3 {
        let report = scratch(&format!("part-{index}.json"));
        let shard = format!("{index}/3");
        let output = shardsim(&[&common[..], &["--jobs", "1", "--shard", &shard, "--report", path(&report)]].concat());
        assert!([0, 3].contains(&output.status.code().unwrap()), "{}", text(&output));
        let part = read_json(&report);
        assert_eq!(part["seeds_run"]["count"], 8);
        assert!(runs(&part).iter().all(|(seed, ..)| seed % 3 == index), "shard {shard} ran only its own seeds");
        parts.push(report);
    }
    let whole = scratch("whole.json");
    let swept = shardsim(&[&common[..], &["--jobs", "2", "--report", path(&whole)]].concat());
    let merged = scratch("merged.json");
    let mut merge_args = vec!["merge"];
    merge_args.extend(parts.iter().map(|part| path(part)));
    merge_args.extend(["--report", path(&merged)]);
    let merging = shardsim(&merge_args);
    assert_eq!(merging.status.code(), swept.status.code(), "a merge exits as the sweep did\n{}", text(&merging));
    let (whole, merged) = (read_json(&whole), read_json(&merged));
    assert_eq!(runs(&merged), runs(&whole), "the same verdicts and trace hashes, seed by seed");
    assert_eq!(merged["signatures"], whole["signatures"], "the same failures, grouped the same way");
    assert_eq!(
        (merged["runs"].as_u64(), merged["passed"].as_u64()),
        (whole["runs"].as_u64(), whole["passed"].as_u64())
    );
    assert_eq!(merged["faults_injected"], whole["faults_injected"]);
    let printed = text(&merging);
    assert!(printed.contains("merged 3 reports") && !printed.contains("MISSING") && !printed.contains("RUN TWICE"));
}

#[test]
fn a_sweep_for_a_duration_runs_its_shard_s_first_seeds_and_says_which() {
    let report = scratch("for.json");
    let output = shardsim(&[
        "sweep",
        "--seeds",
        "0..10000",
        "--shard",
        "1/4",
        "--for",
        "1s",
        "--jobs",
        "2",
        "--report",
        path(&report),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = read_json(&report);
    let count = report["seeds_run"]["count"].as_u64().unwrap();
    assert!(count > 0 && count < 2_500, "some but not all of the shard's 2,500 seeds: {count}");
    assert_eq!(report["seeds_run"]["of"], 2_500);
    assert_eq!(report["seeds_run"]["complete"], false);
    let seeds: Vec<u64> = runs(&report).into_iter().map(|(seed, ..)| seed).collect();
    let expected: Vec<u64> = (0..count).map(|k| 1 + 4 * k).collect();
    assert_eq!(seeds, expected, "the first seeds of shard 1/4, in order, none skipped");
    assert_eq!(report["seeds_run"]["through_seed"], expected.last().copied().unwrap());
    assert!(text(&output).contains(&format!("ran {count} of the 2500 seeds asked, through seed")));
}

#[test]
fn bad_shards_are_usage_errors() {
    for (shard, why) in [("3/3", "0-based"), ("0/0", "at least one"), ("x/y", "i/n"), ("1", "i/n")] {
        let output = shardsim(&["sweep", "--seeds", "0..10", "--shard", shard]);
        assert_eq!(output.status.code(), Some(2), "--shard {shard}: {}", text(&output));
        assert!(text(&output).contains(why), "--shard {shard}: {}", text(&output));
    }
    let zero = shardsim(&["sweep", "--seeds", "0..10", "--check-determinism-every", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    let no_time = shardsim(&["sweep", "--seeds", "0..10", "--for", "soon"]);
    assert_eq!(no_time.status.code(), Some(2), "{}", text(&no_time));
}

/// A short sweep's report, written to `name`.
fn sweep_report(name: &str, extra: &[&str]) -> PathBuf {
    let report = scratch(name);
    let output = shardsim(&[&["sweep", "--seeds", "0..6", "--jobs", "2", "--report", path(&report)], extra].concat());
    assert!([0, 3, 4].contains(&output.status.code().unwrap()), "{}", text(&output));
    report
}

#[test]
fn merging_reports_of_different_scenarios_canaries_or_versions_is_refused() {
    let swarm = sweep_report("refuse-swarm.json", &[]);
    let calm = sweep_report("refuse-calm.json", &["--scenario", "calm"]);
    let canary = sweep_report("refuse-canary.json", &["--canary", "stub-acks-writes"]);
    let mut other_version = read_json(&swarm);
    other_version["version"] = Value::from("0.0.1");
    let older = scratch("refuse-version.json");
    std::fs::write(&older, other_version.to_string()).unwrap();
    for (other, what) in [(&calm, "scenario"), (&canary, "canaries"), (&older, "version")] {
        let output = shardsim(&["merge", path(&swarm), path(other)]);
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains(what), "{what}: {}", text(&output));
    }
    let unreadable = shardsim(&["merge", path(&swarm), "/nonexistent/report.json"]);
    assert_eq!(unreadable.status.code(), Some(2));
    assert!(text(&unreadable).contains("cannot read report"));
}

#[test]
fn a_merge_flags_seeds_missing_or_run_twice_counts_each_report_once_and_flags_a_seed_that_ran_differently() {
    let first = scratch("halves-0.json");
    let output = shardsim(&["sweep", "--seeds", "0..9", "--shard", "0/3", "--jobs", "2", "--report", path(&first)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let merged_twice = scratch("halves-twice.json");
    let twice = shardsim(&["merge", path(&first), path(&first), "--report", path(&merged_twice)]);
    let printed = text(&twice);
    assert!(printed.contains("MISSING: 6 seeds no report ran (1, 2, 4, 5, 7, 8)"), "{printed}");
    assert!(printed.contains("RUN TWICE: 3 seeds in more than one report (0, 3, 6)"), "{printed}");
    assert_eq!(twice.status.code(), Some(0));
    // A report given twice counts once.
    let (once, twice_merged) = (read_json(&first), read_json(&merged_twice));
    for totals in ["faults_injected", "coverage", "planners", "convergence"] {
        assert_eq!(twice_merged[totals], once[totals], "{totals}");
    }
    assert!(!printed.contains("COUNTED TWICE"), "{printed}");
    // Reports that overlap in part: their sums cannot be split by seed, and the merge says so.
    let overlapping = scratch("halves-overlapping.json");
    let output = shardsim(&["sweep", "--seeds", "0..4", "--jobs", "2", "--report", path(&overlapping)]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let printed = text(&shardsim(&["merge", path(&first), path(&overlapping)]));
    assert!(
        printed.contains("COUNTED TWICE: the fault, coverage, planner and convergence totals hold 2 seeds twice"),
        "{printed}"
    );
    // The same seed with another trace hash: two runs of one seed differ.
    let mut tampered = read_json(&first);
    tampered["records"][1]["trace_hash"] = Value::from("0000000000000000");
    let other = scratch("halves-tampered.json");
    std::fs::write(&other, tampered.to_string()).unwrap();
    let junit = scratch("tampered.xml");
    let mismatch = shardsim(&["merge", path(&first), path(&other), "--junit", path(&junit)]);
    assert_eq!(mismatch.status.code(), Some(5), "{}", text(&mismatch));
    let printed = text(&mismatch);
    assert!(
        printed.contains("seed 3 DETERMINISM FAILED: trace hash") && printed.contains("then 0000000000000000"),
        "{printed}"
    );
    assert!(printed.contains("reproduce: shardsim run --seed 3 --scenario swarm --check-determinism"), "{printed}");
    assert!(std::fs::read_to_string(&junit).unwrap().contains("<failure type=\"determinism\""));
}

#[test]
fn sampled_determinism_checks_rerun_every_k_th_seed() {
    let report = scratch("determinism.json");
    let output = shardsim(&[
        "sweep",
        "--seeds",
        "0..10",
        "--jobs",
        "2",
        "--check-determinism-every",
        "3",
        "--report",
        path(&report),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("determinism: 4 seeds run twice, 0 mismatched"), "{}", text(&output));
    assert_eq!(read_json(&report)["determinism_checked"], 4);
}

#[test]
fn junit_has_a_failing_case_per_signature_and_a_summary() {
    let junit = scratch("canary.xml");
    let output =
        shardsim(&["sweep", "--seeds", "0..8", "--jobs", "2", "--canary", "stub-acks-writes", "--junit", path(&junit)]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"shardsim\""));
    let cases = xml.matches("<testcase ").count();
    let failures = xml.matches("<failure ").count();
    assert!(failures >= 1 && cases == failures + 1, "{xml}");
    assert!(xml.contains(&format!("tests=\"{cases}\" failures=\"{failures}\"")));
    assert!(xml.contains("reproduce: shardsim run --seed") && xml.contains("canary stub-acks-writes"), "{xml}");
    assert!(xml.contains("seeds ran:"), "the summary case: {xml}");
}

#[test]
fn printing_into_a_closed_pipe_ends_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_shardsim"))
        .arg("invariants")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

fn repository_file(relative: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

fn yaml(relative: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&repository_file(relative)).unwrap_or_else(|error| panic!("{relative}: {error}"))
}

/// Every `--flag` a shipped command line passes to `shardsim SUBCOMMAND` exists there.
fn flags_exist(subcommand: &str, command_line: &str) {
    let help = text(&shardsim(&[subcommand, "--help"]));
    for flag in command_line.split_whitespace().filter(|word| word.starts_with("--")) {
        assert!(help.contains(&format!("{flag} ")), "`shardsim {subcommand}` has no {flag}");
    }
}

#[test]
fn the_kubernetes_manifests_parse_and_shard_by_completion_index() {
    let documents = yaml("deploy/k8s/sweep-job.yaml");
    assert_eq!(documents.len(), 2, "the reports volume and the Indexed Job");
    assert_eq!(documents[0]["kind"].as_str(), Some("PersistentVolumeClaim"));
    let job = &documents[1];
    assert_eq!((job["apiVersion"].as_str(), job["kind"].as_str()), (Some("batch/v1"), Some("Job")));
    assert_eq!(job["spec"]["completionMode"].as_str(), Some("Indexed"));
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    let shards = container["env"]
        .as_vec()
        .unwrap()
        .iter()
        .find(|variable| variable["name"].as_str() == Some("SHARDS"))
        .and_then(|variable| variable["value"].as_str())
        .expect("SHARDS is set");
    assert_eq!(job["spec"]["completions"].as_i64().map(|completions| completions.to_string()).as_deref(), Some(shards));
    let command = container["args"][0].as_str().unwrap();
    assert!(command.contains("--shard \"$JOB_COMPLETION_INDEX/$SHARDS\""), "{command}");
    assert!(command.contains("--report \"/reports/shard-$JOB_COMPLETION_INDEX.json\""), "{command}");
    flags_exist("sweep", command);
    let merge = &yaml("deploy/k8s/merge-job.yaml")[0];
    assert_eq!(merge["kind"].as_str(), Some("Job"));
    let merge_command = merge["spec"]["template"]["spec"]["containers"][0]["args"][0].as_str().unwrap();
    assert!(merge_command.starts_with("shardsim merge /reports/shard-*.json"), "{merge_command}");
    flags_exist("merge", merge_command);
}

#[test]
fn the_nightly_workflow_parses_sweeps_a_matrix_of_shards_and_merges_them() {
    let workflow = &yaml(".github/workflows/sweep.yml")[0];
    assert!(!workflow["on"]["schedule"].is_badvalue(), "a nightly schedule");
    let shards: i64 = workflow["env"]["SHARDS"].as_i64().expect("SHARDS");
    let sweep = &workflow["jobs"]["sweep"];
    assert_eq!(sweep["strategy"]["matrix"]["shard"].as_vec().map(Vec::len), Some(shards as usize));
    let steps = sweep["steps"].as_vec().unwrap();
    let sweep_command = steps.iter().filter_map(|step| step["run"].as_str()).find(|run| run.contains("sweep")).unwrap();
    assert!(sweep_command.contains("--shard \"${{ matrix.shard }}/$SHARDS\""), "{sweep_command}");
    flags_exist("sweep", sweep_command);
    assert!(steps.iter().any(|step| step["uses"].as_str() == Some("actions/upload-artifact@v4")));
    let merge = &workflow["jobs"]["merge"];
    assert_eq!(merge["needs"].as_str(), Some("sweep"));
    let merge_command = merge["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str())
        .find(|run| run.contains("merge"))
        .unwrap();
    flags_exist("merge", merge_command);
}

#[test]
fn the_dockerfile_builds_as_the_readme_says() {
    let dockerfile = repository_file("Dockerfile");
    let readme = repository_file("README.md");
    let builds: Vec<&str> = dockerfile.lines().filter_map(|line| line.strip_prefix("RUN ")).collect();
    assert!(!builds.is_empty());
    for step in builds {
        assert!(
            readme.lines().any(|line| line.trim() == step),
            "the Dockerfile runs `{step}`, which the README does not"
        );
    }
    assert!(dockerfile.contains("COPY --from=build /src/target/release/shardsim"), "the release binary on a slim base");
}
