//! The subcommands that list or measure: `scenarios`, `canaries`, `bench`.

use super::args::BenchArgs;
use super::save::write_json;
use super::usage_error;
use shardsim::core::canary::Canary;
use shardsim::oracle::registry;
use shardsim::report::exit_code;
use shardsim::scenario::{Scenario, ScenarioName};

pub fn scenarios() -> i32 {
    for name in ScenarioName::ALL {
        let scenario = Scenario::named(name);
        let kinds: Vec<String> = scenario.fault_kinds.iter().map(|kind| format!("{kind:?}").to_lowercase()).collect();
        let default = if name == ScenarioName::DEFAULT { " (default)" } else { "" };
        println!("{name}{default}: {}", scenario.description);
        println!(
            "    faults: {}{}; {} nodes (+{} spare), {} shards, {} clients; safety {} s, liveness bound {} s",
            kinds.join(", "),
            if scenario.swarm { " (each on or off per seed)" } else { "" },
            scenario.nodes_initial,
            scenario.nodes_spare,
            scenario.protocol.shard_count,
            scenario.clients,
            scenario.safety_ms / 1000,
            scenario.liveness_bound_ms / 1000
        );
    }
    exit_code::PASS
}

/// Every invariant the oracle checks, as the README lists them.
pub fn invariants() -> i32 {
    print!("{}", registry::render_list());
    exit_code::PASS
}

pub fn canaries() -> i32 {
    for canary in Canary::ALL {
        println!("{canary}: {} (breaks {})", canary.description(), registry::broken_by(canary).name);
    }
    exit_code::PASS
}

pub fn bench(args: BenchArgs) -> i32 {
    if args.seeds == 0 || args.lab_steps == 0 {
        return usage_error("--seeds and --lab-steps must be at least 1");
    }
    let report = shardsim::bench::bench(args.seeds, args.lab_steps);
    print!("{}", report.render());
    if let Err(code) = write_json(&args.json, &report, "bench report") {
        return code;
    }
    println!("JSON written to {}", args.json.display());
    exit_code::PASS
}
