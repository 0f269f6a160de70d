//! One seed of the default scenario, or bare madsim datagrams at that seed's message rate
//! on as many nodes: the two sides of `shardsim bench`'s harness cost, one at a time, so
//! that an instruction counter sees each alone (wall time on a shared machine is noisy):
//!
//!     cargo build --release --example cost_per_message
//!     valgrind --tool=callgrind target/release/examples/cost_per_message harness 3
//!     valgrind --tool=callgrind target/release/examples/cost_per_message baseline 3
//!
//! Each prints the messages it delivered; instructions over messages, side by side, is
//! the harness's cost per message in instructions.

use shardsim::bench::{baseline_for, run_seed_for_baseline};

fn main() {
    let mut args = std::env::args().skip(1);
    let (side, seed) = match (args.next(), args.next().map(|seed| seed.parse::<u64>())) {
        (Some(side), Some(Ok(seed))) if side == "harness" || side == "baseline" => (side, seed),
        _ => {
            eprintln!("usage: cost_per_message harness|baseline SEED");
            std::process::exit(2);
        }
    };
    let seed_run = run_seed_for_baseline(seed);
    let (delivered, wall_us) = if side == "harness" {
        (seed_run.messages_delivered, seed_run.wall_us)
    } else {
        let started = std::time::Instant::now();
        (baseline_for(seed, &seed_run), started.elapsed().as_micros() as u64)
    };
    let per_message_ns = wall_us * 1000 / delivered.max(1);
    println!("{side} seed {seed}: {delivered} messages delivered in {wall_us} µs ({per_message_ns} ns a message)");
}
