//! Every knob has a valid range that the defaults and the simulation's draws respect;
//! validation names the knob and its range when a value falls outside.

use shardsim_core::config::knobs::{knob, ConfigError, KNOBS};
use shardsim_core::ProtocolConfig;

#[test]
fn the_defaults_are_valid_and_every_draw_range_lies_inside_its_valid_range() {
    let defaults = ProtocolConfig::default();
    assert_eq!(defaults.validate(), Ok(()));
    for knob in KNOBS {
        assert!(knob.contains((knob.get)(&defaults)), "default of {} outside {}", knob.name, knob.range());
        assert!(knob.min <= knob.draw_min && knob.draw_max <= knob.max, "{} draws outside {}", knob.name, knob.range());
        assert!(knob.draw_min <= knob.draw_max, "{} has an empty draw range", knob.name);
    }
}

#[test]
fn a_value_outside_its_range_is_refused_with_the_knob_and_range_named() {
    for knob in KNOBS {
        let mut config = ProtocolConfig::default();
        (knob.set)(&mut config, knob.max + 1.0);
        match config.validate() {
            Err(ConfigError::OutOfRange { knob: name, range, .. }) => {
                assert_eq!(name, knob.name);
                assert_eq!(range, knob.range());
            }
            other => panic!("{} above its range gave {other:?}", knob.name),
        }
    }
    let mut config = ProtocolConfig::default();
    (knob("load_imbalance_threshold").unwrap().set)(&mut config, 0.0);
    let message = config.validate().unwrap_err().to_string();
    assert!(message.contains("load_imbalance_threshold") && message.contains("0.05..=2"), "{message}");
}

#[test]
fn knobs_valid_alone_but_not_together_are_refused() {
    let config = ProtocolConfig { heartbeat_interval_ms: 500, heartbeat_timeout_ms: 600, ..ProtocolConfig::default() };
    assert!(matches!(config.validate(), Err(ConfigError::Inconsistent { knobs, .. }) if knobs.contains("heartbeat")));
    let config = ProtocolConfig { write_pause_budget_ms: 20_000, ..ProtocolConfig::default() };
    assert!(matches!(config.validate(), Err(ConfigError::Inconsistent { .. })));
}
