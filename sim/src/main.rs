#[cfg(not(madsim))]
compile_error!(
    "the shardsim binary simulates only under `--cfg madsim`. Build it inside this workspace \
     (its .cargo/config.toml sets the flag), or, if you set RUSTFLAGS yourself, add `--cfg madsim` to them."
);

mod commands;
mod logging;

use clap::{Parser, Subcommand};
use shardsim::report::exit_code;

const EXIT_CODES: &str = "Exit codes:
  0  every run passed
  2  bad usage or input (a wrong flag, a malformed seed range, an unreadable plan file)
  3  a safety invariant was violated
  4  a liveness property was not reached within its bound
  5  a crash: a panic in the core or the harness, or a determinism check that failed

Logs: RUST_LOG=info (or debug, or shardsim=debug,nemesis=info) prints tracing lines
stamped with simulated time and the node they come from.";

/// Deterministic simulation testing of a sharded database's control plane.
#[derive(Parser)]
#[command(name = "shardsim", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed and print its summary; on failure, the invariant, its evidence and
    /// the command that reproduces it.
    #[command(after_help = EXIT_CODES)]
    Run(commands::RunArgs),
    /// Run a range of seeds in parallel, with a progress bar and a JSON report.
    #[command(after_help = EXIT_CODES)]
    Sweep(commands::SweepArgs),
    /// Merge sweep reports (shards of a range, or ranges run apart) into one: totals,
    /// failures grouped by signature, seeds missing or run twice flagged. Prints and exits
    /// as a sweep does.
    #[command(after_help = EXIT_CODES)]
    Merge(commands::MergeArgs),
    /// Cut a failing run down while it breaks the same invariant: its fault plan's events
    /// (delta debugging), then each event made simpler, then the cluster; writes the
    /// minimal plan, knobs and schedule and the commands that replay them. Exits as the
    /// minimal run does (0 if the run passes: nothing to shrink).
    #[command(after_help = EXIT_CODES)]
    Shrink(commands::ShrinkArgs),
    /// Explore message orders in the in-memory lab: a seeded random walk, or a bounded
    /// exhaustive search of a small cluster; `--replay FILE` replays a saved violation.
    #[command(after_help = EXIT_CODES)]
    Explore(commands::ExploreArgs),
    /// Measure the harness end to end: seeds per second, messages per second against a
    /// bare madsim baseline, the oracle's share, lab steps per second.
    Bench(commands::BenchArgs),
    /// List the named scenarios and what each turns on.
    Scenarios,
    /// List the planted bugs (canaries) that `--canary` turns on.
    Canaries,
    /// List every invariant the oracle checks: name, class, checker family, rule.
    Invariants,
}

/// Printing into a closed pipe (`shardsim sweep ... | head`) ends the process quietly,
/// as ripgrep does: the reader has all it wanted. `println!` panics on the EPIPE, and the
/// standard library ignores SIGPIPE (no `unsafe` here to restore it), so the panic hook
/// tells that one panic from the others, which it leaves to the default hook.
fn quiet_on_closed_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(exit_code::PASS);
        }
        default_hook(info);
    }));
}

fn main() {
    quiet_on_closed_pipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { exit_code::USAGE } else { exit_code::PASS };
            let _ = error.print();
            std::process::exit(code);
        }
    };
    logging::init();
    let code = match cli.command {
        Command::Run(args) => commands::run(args),
        Command::Sweep(args) => commands::sweep(args),
        Command::Merge(args) => commands::merge(args),
        Command::Shrink(args) => commands::shrink(args),
        Command::Explore(args) => commands::explore(args),
        Command::Bench(args) => commands::bench(args),
        Command::Scenarios => commands::scenarios(),
        Command::Canaries => commands::canaries(),
        Command::Invariants => commands::invariants(),
    };
    std::process::exit(code);
}
