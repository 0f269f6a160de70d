//! A panic inside a run (here madsim's own, on a misconfigured cluster) becomes that
//! seed's crash verdict, exit code 5, and the process goes on to run other seeds.

use shardsim::actors::node_address;
use shardsim::core::NodeId;
use shardsim::report::exit_code;
use shardsim::{Scenario, ScenarioName, Simulation, Verdict};

#[test]
fn a_panic_is_a_crash_verdict_and_the_next_seed_still_runs() {
    let mut clashing = Scenario::named(ScenarioName::Calm);
    clashing.protocol.coordinator_address = node_address(NodeId(1), 0);
    let report = Simulation::new(1).custom_scenario(clashing).expect("valid knobs").run();
    match &report.verdict {
        Verdict::Crash { message } => assert!(message.contains("IP conflict"), "{message}"),
        other => panic!("expected a crash, got {other:?}"),
    }
    assert_eq!(report.verdict.exit_code(), exit_code::CRASH);
    assert!(report.render().contains("reproduce with: shardsim run --seed 1 --scenario calm"));

    let next = Simulation::new(2).scenario(ScenarioName::Calm).run();
    assert!(next.verdict.is_pass(), "{}", next.render());
}
