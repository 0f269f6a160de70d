#!/usr/bin/env bash
# The model checker's shortest failing sequence for every canary it finds, saved here one
# file per canary (`explore --exhaustive` deepens one choice at a time, so the first
# violation is reached by a shortest sequence). tests/tests/lab.rs replays every file
# (caught with its canary, clean without) and checks that the searches CI runs find
# sequences exactly as long. Run this after a change to the core moves them:
#
#     tests/found/regenerate.sh            # all but stale-epoch-acked (seconds each)
#     tests/found/regenerate.sh --deep     # stale-epoch-acked too (about 20 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet
shardsim=target/release/shardsim

# Exit 3 is explore's "a safety invariant was violated": the canary was found.
found() {
    local canary=$1 status=0 output
    shift
    output=$("$shardsim" explore --exhaustive --canary "$canary" "$@" --save "tests/found/$canary.json" 2>&1) ||
        status=$?
    if [[ $status -ne 3 ]]; then
        echo "$canary: not found (exit $status)" >&2
        echo "$output" | tail -3 >&2
        exit 1
    fi
    echo "$canary: $(echo "$output" | grep -oE '(shortest sequence: |shrunk to )[0-9]+ choices' | head -1)"
}

# The issue's configuration: 3 data nodes, 2 shards, drops, one crash, timers.
issue=(--nodes 3 --shards 2 --drops --crashes 1 --timers --depth 20)
found election-gate-skipped "${issue[@]}"
found phase-shortcut "${issue[@]}"
found commit-without-target-check "${issue[@]}"
found identity-check-skipped "${issue[@]}"
found epoch-not-persisted "${issue[@]}"
found tracker-not-persisted "${issue[@]}" --calm 100

# Two nodes and one shard with calm steps, and the writes, crashes and faults each needs.
small=(--nodes 2 --shards 1 --timers --calm 100)
found stub-acks-writes "${small[@]}" --writes 1 --depth 2
found unfence-on-timeout "${small[@]}" --drops --writes 1 --depth 8
found ack-before-durable "${small[@]}" --start warm --writes 1 --crashes 1 --depth 4
found entity-state-not-replayed "${small[@]}" --start warm --writes 2 --crashes 1 --depth 6
found ack-after-failed-fsync "${small[@]}" --start warm --writes 1 --crashes 1 --disk-faults 1 --depth 6
found boot-around-read-error "${small[@]}" --start warm --writes 1 --crashes 1 --disk-faults 1 --depth 3
found checksums-ignored "${small[@]}" --start warm --writes 1 --crashes 1 --disk-faults 1 --depth 3
found seal-before-handoff "${small[@]}" --writes 2 --depth 6
found pause-budget-ignored "${small[@]}" --advance 600 --depth 5
found pause-on-unchecked-clock "${small[@]}" --advance 600 --clock-steps 1 --depth 6

# Three nodes and four shards: the caps and the planners.
wide=(--nodes 3 --shards 4 --timers --calm 100)
found caps-ignored "${wide[@]}" --depth 11
found least-shard-overshoot "${wide[@]}" --start warm --depth 2
found draining-target "${wide[@]}" --start warm --decommissions 2 --depth 4

# Two nodes, six shards, a decommission, a join and the new machine decommissioned.
found draining-forgotten --nodes 2 --shards 6 --timers --calm 100 --start warm --decommissions 2 --joins 1 --depth 8

if [[ "${1:-}" == "--deep" ]]; then
    found stale-epoch-acked --start warm --nodes 2 --shards 2 --writes 2 --crashes 1 \
        --decommissions 2 --joins 1 --calm 1000 --depth 11
fi
