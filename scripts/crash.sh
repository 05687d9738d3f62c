#!/usr/bin/env bash
# Longer crash-consistency job (documented, not in CI): runs the SIGKILL /
# SIGTERM harness (tests/tests/crash.rs, 30 kills per run against the real
# server binary) and the network-fault harness (tests/tests/reconnect.rs)
# RUNS times with fresh seeds, and stops at the first failure, printing the
# seed to replay it with CRASH_SEED=… / RECONNECT_SEED=….
#
#   scripts/crash.sh        # 10 runs of each
#   scripts/crash.sh 50
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
cargo test --quiet -p trustroom-e2e --test crash --test reconnect --no-run
for i in $(seq 1 "$runs"); do
    crash_seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))
    reconnect_seed=$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))
    echo "run $i/$runs: CRASH_SEED=$crash_seed RECONNECT_SEED=$reconnect_seed" >&2
    CRASH_SEED=$crash_seed cargo test --quiet -p trustroom-e2e --test crash -- --nocapture 2>&1 \
        | grep -E "SIGKILL|SIGTERM|exactly once|FAILED|Error" || { echo "crash run $i failed (CRASH_SEED=$crash_seed)" >&2; exit 1; }
    RECONNECT_SEED=$reconnect_seed cargo test --quiet -p trustroom-e2e --test reconnect -- --nocapture 2>&1 \
        | grep -E "faults injected|exactly once|FAILED|Error" || { echo "reconnect run $i failed (RECONNECT_SEED=$reconnect_seed)" >&2; exit 1; }
done
echo "all $runs runs passed" >&2
