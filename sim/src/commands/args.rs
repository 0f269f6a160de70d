//! Parsing: every subcommand's flags, as clap reads them.

use clap::Args;
use shardsim::scenario::ScenarioName;
use std::path::PathBuf;

/// Which run: the flags `run` and `shrink` share.
#[derive(Args)]
pub struct RunTarget {
    /// The seed: the same seed gives the same run, bit for bit (required, except for
    /// `shrink --schedule`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A named scenario (see `shardsim scenarios`).
    #[arg(long, default_value_t = ScenarioName::DEFAULT.to_string())]
    pub scenario: String,
    /// Replay the fault plan in this JSON file instead of drawing one from the seed.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Pin knobs from a JSON object of knob names to values (a saved plan's `knobs` has
    /// every one); the rest are the scenario's, or drawn from the seed.
    #[arg(long, value_name = "FILE")]
    pub knobs: Option<PathBuf>,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    pub canary: Vec<String>,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: RunTarget,
    /// Write the fault plan this run uses to a JSON file (to edit and replay with --plan).
    #[arg(long, value_name = "FILE")]
    pub save_plan: Option<PathBuf>,
    /// Write every event the run applied to a JSON file, to replay in the lab with
    /// `shardsim explore --replay FILE`.
    #[arg(long, value_name = "FILE")]
    pub save_schedule: Option<PathBuf>,
    /// Write every observation and nemesis action as JSON lines with simulated time.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the run as a timeline (Chrome trace-event JSON) for https://ui.perfetto.dev
    /// or chrome://tracing: actors' lives, migrations' phases, faults, acks per shard and
    /// the violation, in simulated time.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Draw the run to an SVG file: shards per node and load scores over simulated time,
    /// fault windows shaded, migrations marked, the violation as a red line.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Run the seed twice and compare a hash of the whole trace.
    #[arg(long)]
    pub check_determinism: bool,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ShrinkArgs {
    #[command(flatten)]
    pub target: RunTarget,
    /// Stop shrinking after this much wall time (`90s`, `5m`, `1h`, `500ms`); what is
    /// left still fails the same way.
    #[arg(long = "for", value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub budget: std::time::Duration,
    /// Shrink this saved schedule (from `run --save-schedule` or an earlier shrink)
    /// instead of a seed's run: only the schedule stage, through the lab's replay.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seed", "plan", "knobs", "canary"])]
    pub schedule: Option<PathBuf>,
    /// Where the minimal plan, knobs and schedule go (created if missing).
    #[arg(long, value_name = "DIR", default_value = "shrunk")]
    pub out: PathBuf,
}

/// `90s`, `5m`, `1h`, `500ms`: a number and a unit.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 500ms"))?;
    let ms_per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("`{text}` has no unit of ms, s, m or h (like 90s)")),
    };
    Ok(std::time::Duration::from_millis(value.saturating_mul(ms_per_unit)))
}

#[derive(Args)]
pub struct SweepArgs {
    /// Seeds to run, `A..B` with B exclusive.
    #[arg(long, value_name = "A..B")]
    pub seeds: String,
    /// Seeds run in parallel, one thread each [default: the machine's available
    /// parallelism].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard i of n (0-based, as a Kubernetes completion index): the seeds
    /// A+i, A+i+n, A+i+2n, ... of the range. Every seed is in exactly one shard.
    #[arg(long, value_name = "i/n", default_value = "0/1")]
    pub shard: String,
    /// Start seeds, from the range's start, until this much wall time has passed (90s,
    /// 5m, 1h); the seeds started finish. The report says which ran.
    #[arg(long = "for", value_name = "DURATION")]
    pub run_for: Option<String>,
    /// Run every k-th seed twice and compare the whole trace's hash (exit 5 on a
    /// mismatch, with both hashes and the reproduce command).
    #[arg(long, value_name = "K")]
    pub check_determinism_every: Option<u64>,
    /// A named scenario (see `shardsim scenarios`).
    #[arg(long, default_value_t = ScenarioName::DEFAULT.to_string())]
    pub scenario: String,
    /// Write the sweep's JSON report here (per-seed records included: see `merge`).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report here: a test case per failing signature and a summary.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Stop at the first failing seed.
    #[arg(long)]
    pub fail_fast: bool,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    pub canary: Vec<String>,
    /// Pin knobs from a JSON object of knob names to values, for every seed.
    #[arg(long, value_name = "FILE")]
    pub knobs: Option<PathBuf>,
    /// Write the timeline (see `run --timeline`) of the smallest failing seed.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Draw the plot (see `run --plot`) of the smallest failing seed.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
}

#[derive(Args)]
pub struct MergeArgs {
    /// Sweep reports (`sweep --report`) of one scenario, canary set and version.
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Write the merged JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Write a JUnit XML report of the merged result here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Args)]
pub struct ExploreArgs {
    /// Random walk: the seed that draws every choice.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Random walk: how many choices.
    #[arg(long, default_value_t = 2_000)]
    pub steps: usize,
    /// Random walk: also count distinct states (hashing every state costs more than a step).
    #[arg(long)]
    pub distinct: bool,
    /// Model-check instead: every choice sequence depth first, deepening one step at a time
    /// (a violation is found by a shortest sequence), states told apart by fingerprint.
    #[arg(long)]
    pub exhaustive: bool,
    /// Data nodes in the lab's cluster [default: 2 exhaustive, 3 (one a spare) walking].
    #[arg(long)]
    pub nodes: Option<u32>,
    /// Shards in the lab's cluster [default: 1 exhaustive, 4 walking].
    #[arg(long)]
    pub shards: Option<u32>,
    /// Exhaustive: the longest choice sequence explored.
    #[arg(long, default_value_t = 16)]
    pub depth: usize,
    /// Exhaustive: search to --depth at once, without deepening (no shortest-sequence
    /// guarantee, no repeated shallow rounds).
    #[arg(long)]
    pub no_deepening: bool,
    /// Exhaustive: stop cleanly after this many distinct states.
    #[arg(long, default_value_t = 10_000_000)]
    pub states_max: u64,
    /// Exhaustive: stop cleanly before the visited set passes this size (e.g. 512MiB, 2GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_size_bytes)]
    pub memory_max: u64,
    /// Exhaustive: stop cleanly after this much wall time (e.g. 90s, 10m).
    #[arg(long, value_parser = parse_duration)]
    pub time_max: Option<std::time::Duration>,
    /// Exhaustive: worker threads [default: the machine's cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Exhaustive: count states equal up to renaming data nodes and shards once.
    #[arg(long)]
    pub symmetry: bool,
    /// Exhaustive: where it starts: `migrating` (node 1 decommissioned, its drain's first
    /// StartMigration in flight) or `warm` (formed, every shard allocated).
    #[arg(long, default_value = "migrating", value_parser = parse_start)]
    pub start: shardsim::lab::explore::Start,
    /// Exhaustive: also lose messages.
    #[arg(long)]
    pub drops: bool,
    /// Exhaustive: crashes allowed on one path.
    #[arg(long, default_value_t = 0)]
    pub crashes: u8,
    /// Exhaustive: client writes allowed on one path (each shard and entity is a branch).
    #[arg(long, default_value_t = 0)]
    pub writes: u8,
    /// Exhaustive: disk faults allowed on one path (each node and kind is a branch).
    #[arg(long, default_value_t = 0)]
    pub disk_faults: u8,
    /// Exhaustive: clock steps allowed on one path (500 ms back or forward, on each server).
    #[arg(long, default_value_t = 0)]
    pub clock_steps: u8,
    /// Exhaustive: decommissions allowed on one path (each node still in service is a branch).
    #[arg(long, default_value_t = 0)]
    pub decommissions: u8,
    /// Exhaustive: new machines joining allowed on one path (offered while fewer nodes than
    /// --nodes are in service, so after a decommission).
    #[arg(long, default_value_t = 0)]
    pub joins: u8,
    /// Exhaustive: also offer, in every state, one choice that runs the cluster calmly for
    /// this many milliseconds (deliveries in order, timers when due): deep states in a
    /// few choices.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub calm: Option<u16>,
    /// Exhaustive: also offer, in every state, one choice that lets this many milliseconds
    /// pass with nothing delivered and no timer fired (what is in flight arrives late).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub advance: Option<u16>,
    /// Exhaustive: also fire timers (time moves on).
    #[arg(long)]
    pub timers: bool,
    /// Replay a file instead of exploring: a violation the lab saved, or a schedule that
    /// `shardsim run --save-schedule` saved (the lab then gives the same trace hash).
    #[arg(long, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Schedule replay: the scenario it must have been recorded under [default: the file's].
    #[arg(long)]
    pub scenario: Option<String>,
    /// Schedule replay: pin knobs from this file; the schedule must have been recorded with them.
    #[arg(long, value_name = "FILE")]
    pub knobs: Option<PathBuf>,
    /// Where a violation's choice sequence is saved.
    #[arg(long, value_name = "FILE", default_value = "shardsim-violation.json")]
    pub save: PathBuf,
    /// Turn on a planted bug (see `shardsim canaries`); may be repeated.
    #[arg(long, value_name = "NAME")]
    pub canary: Vec<String>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Seeds per scenario (and per baseline run).
    #[arg(long, default_value_t = 20)]
    pub seeds: u64,
    /// Steps per lab random walk (four walks each way).
    #[arg(long, default_value_t = 20_000)]
    pub lab_steps: usize,
    /// Where the JSON report goes.
    #[arg(long, value_name = "FILE", default_value = "shardsim-bench.json")]
    pub json: PathBuf,
}

/// A size in bytes: a number with an optional KiB, MiB or GiB (or K, M, G) suffix.
pub fn parse_size_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a size (try 512MiB or 2GiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (use KiB, MiB or GiB)")),
    };
    number.checked_mul(scale).ok_or_else(|| format!("`{text}` is too large"))
}

fn parse_start(text: &str) -> Result<shardsim::lab::explore::Start, String> {
    match text {
        "migrating" => Ok(shardsim::lab::explore::Start::Migrating),
        "warm" => Ok(shardsim::lab::explore::Start::Warm),
        _ => Err(format!("`{text}`: the lab starts `migrating` or `warm`")),
    }
}
