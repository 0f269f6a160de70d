//! Membership as the coordinator keeps it: liveness from heartbeats, stale identities
//! recognised, identity changes, the bound on remembered identities, status names.

use shardsim_core::coordinator::{HeartbeatOutcome, Liveness, Membership};
use shardsim_core::load::NodeLoad;
use shardsim_core::*;

fn identity(address_octet: u8, incarnation: u64) -> PeerIdentity {
    PeerIdentity {
        actor: ActorId::Node(NodeId(1)),
        address: Address::new([10, 0, 1, address_octet], 7000),
        incarnation: Incarnation(incarnation),
    }
}

fn heartbeat(members: &mut Membership, identity: PeerIdentity, at_ms: u64) -> HeartbeatOutcome {
    members.on_heartbeat(NodeId(1), identity, NodeLoad::default(), Instant(at_ms))
}

fn liveness(members: &Membership) -> Liveness {
    members.get(NodeId(1)).unwrap().liveness
}

#[test]
fn a_joining_member_heard_lately_settles_to_active_and_a_silent_one_turns_suspect_then_down() {
    let config = ProtocolConfig::default();
    let mut members = Membership::new();
    assert_eq!(heartbeat(&mut members, identity(1, 1), 0), HeartbeatOutcome::Joined);
    heartbeat(&mut members, identity(1, 1), 250);
    members.on_tick(Instant(config.join_settle_ms), &config);
    assert_eq!(liveness(&members), Liveness::Active);
    assert!(members.get(NodeId(1)).unwrap().is_usable());
    assert_eq!(members.get(NodeId(1)).unwrap().status_name(), "active");
    let silent_at = 250 + config.heartbeat_timeout_ms;
    assert_eq!(members.on_tick(Instant(silent_at), &config), vec![NodeId(1)]);
    assert_eq!(liveness(&members), Liveness::Suspect);
    assert_eq!(members.get(NodeId(1)).unwrap().status_name(), "suspect");
    members.on_tick(Instant(250 + config.member_down_after_ms), &config);
    assert_eq!(liveness(&members), Liveness::Down);
    assert!(!members.get(NodeId(1)).unwrap().is_usable(), "a down member takes part in nothing");
}

#[test]
fn draining_and_decommissioned_members_are_named_so_and_do_not_take_shards() {
    let config = ProtocolConfig::default();
    let mut members = Membership::new();
    heartbeat(&mut members, identity(1, 1), 0);
    heartbeat(&mut members, identity(1, 1), 250);
    members.on_tick(Instant(config.join_settle_ms), &config);
    assert!(members.set_draining(NodeId(1), Instant(400)));
    let member = members.get(NodeId(1)).unwrap();
    assert_eq!(member.status_name(), "active+draining");
    assert!(member.is_usable() && !member.accepts_shards());
    members.set_decommissioned(NodeId(1), Instant(500));
    let member = members.get(NodeId(1)).unwrap();
    assert_eq!(member.status_name(), "decommissioned");
    assert!(!member.is_usable());
}

#[test]
fn an_older_life_at_the_same_address_is_stale_but_a_replacement_at_a_new_address_is_a_new_identity() {
    let mut members = Membership::new();
    heartbeat(&mut members, identity(1, 3), 0);
    assert_eq!(heartbeat(&mut members, identity(1, 2), 10), HeartbeatOutcome::Stale);
    let replaced = heartbeat(&mut members, identity(11, 1), 20);
    assert_eq!(replaced, HeartbeatOutcome::IdentityChanged { previous: identity(1, 3) });
    assert_eq!(heartbeat(&mut members, identity(1, 3), 30), HeartbeatOutcome::Stale, "a retired identity");
}

#[test]
fn at_most_eight_retired_identities_are_remembered_oldest_forgotten_first() {
    let mut members = Membership::new();
    for incarnation in 1..=10 {
        heartbeat(&mut members, identity(1, incarnation), incarnation * 10);
    }
    let retired = &members.get(NodeId(1)).unwrap().record.retired;
    assert_eq!(retired.len(), 8);
    assert_eq!(retired[0].1, Incarnation(2), "incarnation 1 was forgotten: {retired:?}");
}

#[test]
fn a_joining_member_that_falls_silent_turns_suspect_and_a_suspect_one_is_not_down_before_its_time() {
    let config = ProtocolConfig::default();
    let mut members = Membership::new();
    heartbeat(&mut members, identity(1, 1), 0);
    members.on_tick(Instant(config.heartbeat_timeout_ms), &config);
    assert_eq!(liveness(&members), Liveness::Suspect, "silent since it joined");
    members.on_tick(Instant(config.heartbeat_timeout_ms + 10), &config);
    assert_eq!(liveness(&members), Liveness::Suspect, "not down before member_down_after_ms");
}

#[test]
fn a_member_already_draining_or_decommissioned_cannot_be_drained_again() {
    let mut members = Membership::new();
    heartbeat(&mut members, identity(1, 1), 0);
    assert!(members.set_draining(NodeId(1), Instant(10)));
    assert!(!members.set_draining(NodeId(1), Instant(20)), "already draining");
    members.set_decommissioned(NodeId(1), Instant(30));
    assert!(!members.set_draining(NodeId(1), Instant(40)), "already gone");
    assert!(!members.set_draining(NodeId(9), Instant(50)), "not a member");
}
