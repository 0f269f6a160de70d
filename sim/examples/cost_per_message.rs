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
    let delivered = if side == "harness" { seed_run.messages_delivered } else { baseline_for(seed, &seed_run) };
    println!("{side} seed {seed}: {delivered} messages delivered");
}
