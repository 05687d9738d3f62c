#!/usr/bin/env bash
# Soak run (documented, not in CI): steady editing in 10 rooms for a bounded
# time against a real server child process with a real SQLite file; reports
# the server's RSS and open file descriptors at the start and the end of the
# measured period, per-window latency, and the latency drift (p99 of the last
# window minus the first).
#
#   scripts/soak.sh            # 30 minutes, 40 clients (4 per room), 2 ops/s each
#   scripts/soak.sh 3          # a 3-minute version
#   SOAK_CLIENTS=20 SOAK_RATE=5 scripts/soak.sh 10
#   SOAK_HISTORY_WINDOW=500 scripts/soak.sh 3   # small per-room revision cache:
#                                               # RSS levels off once it is full
#
# The full JSON report goes to bench/out/soak-<time>.json.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=${1:-30}
clients=${SOAK_CLIENTS:-40}
rate=${SOAK_RATE:-2}
window=${SOAK_WINDOW:-60}
if [ "$minutes" -lt 10 ]; then window=${SOAK_WINDOW:-30}; fi

cargo build --quiet --release -p trustroom-bench
mkdir -p bench/out
out="bench/out/soak-$(date +%Y%m%d-%H%M%S).json"
echo "soak: ${minutes} min, 10 rooms, ${clients} clients at ${rate} ops/s each; report in ${out}" >&2
# Bounded: the bench stops by itself; the timeout is a safety net.
timeout $(( minutes * 60 + 300 )) target/release/trustroom-bench \
    --rooms 10 --clients "$clients" --rate "$rate" \
    --secs $(( minutes * 60 )) --warmup 10 --sample-secs "$window" \
    ${SOAK_HISTORY_WINDOW:+--history-window "$SOAK_HISTORY_WINDOW"} > "$out"

python3 - "$out" <<'PY' || cat "$out"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"rooms {r['rooms']}, clients {r['clients']}, {r['seconds']} s measured")
print(f"acked {r['acked_ops_per_s']:.1f} ops/s, deliveries {r['deliveries_per_s']:.1f}/s, reach {r['reach']:.4f}")
l = r['fanout_latency_ms']
print(f"fan-out latency p50 {l['p50']:.1f} ms, p99 {l['p99']:.1f} ms, max {l['max']:.1f} ms ({l['samples']} samples)")
print(f"server RSS KiB start {r['server_rss_kib']['start']} end {r['server_rss_kib']['end']} (peak {r['server_peak_rss_kib']})")
print(f"server open fds start {r['server_open_fds']['start']} end {r['server_open_fds']['end']}")
d = r.get('latency_drift') or {}
if d:
    print(f"latency drift: p99 first window {d['first_window_p99_ms']:.1f} ms -> last {d['last_window_p99_ms']:.1f} ms "
          f"({d['p99_change_ms']:+.1f} ms); p50 {d['first_window_p50_ms']:.1f} -> {d['last_window_p50_ms']:.1f} ms")
print("windows (t, rss KiB, fds, p50 ms, p99 ms):")
for w in r['windows']:
    p50 = f"{w['p50_ms']:.1f}" if w['p50_ms'] is not None else "-"
    p99 = f"{w['p99_ms']:.1f}" if w['p99_ms'] is not None else "-"
    print(f"  {w['t_s']:7.0f}  {w['rss_kib']}  {w['fds']}  {p50}  {p99}")
PY
