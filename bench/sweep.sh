#!/usr/bin/env bash
# Scaling sweeps, every op durable before ack (SQLite WAL, synchronous=FULL,
# group commit), server on CPU 0 and generator on CPU 1:
#   - clients per room 10, 50, 100, 200, 400 at 5 ops/s each (one room);
#   - rooms 1, 10, 100 with 10 clients each at 2 ops/s;
#   - cold open of a room with 100,000 revisions (time to snapshot, memory);
#   - server memory per idle connection (1,000 joined connections).
#
#   bash bench/sweep.sh          # ~6–8 minutes
#   SECS=30 CLIENTS="10 50" ROOMS="1 10" COLD=100000 IDLE=1000 bash bench/sweep.sh
#
#   PIN=0 bash bench/sweep.sh     # without taskset (busy machine)
# Results: bench/out/sweep-<time>.jsonl and .md (also printed).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-15}
WARMUP=${WARMUP:-2}
CLIENTS=${CLIENTS:-"10 50 100 200 400"}
ROOMS=${ROOMS:-"1 10 100"}
COLD=${COLD:-100000}
IDLE=${IDLE:-1000}
# PIN=0: no taskset (on a machine busy with other work a pinned process
# cannot move off a loaded core; the report records what was used).
if [ "${PIN:-1}" = 0 ]; then PINNING="--server-cpus none --gen-cpus none --gen-threads 2"; else PINNING=""; fi
echo "sweep: load average $(cut -d' ' -f1-3 /proc/loadavg) (numbers are noisy when this is above ~0.5)" >&2
cargo build --quiet --release -p trustroom-bench
bench="target/release/trustroom-bench $PINNING"
mkdir -p bench/out
stamp=$(date +%Y%m%d-%H%M%S)
results="bench/out/sweep-$stamp.jsonl"
: > "$results"
keep() { python3 -c 'import json,sys; r=json.load(sys.stdin); r.pop("windows",None); print(json.dumps(r))' >> "$results"; }

for c in $CLIENTS; do
  echo "sweep: 1 room, $c clients × 5 ops/s, ${SECS} s" >&2
  $bench --clients "$c" --rooms 1 --rate 5 --secs "$SECS" --warmup "$WARMUP" | keep
done
for r in $ROOMS; do
  echo "sweep: $r rooms × 10 clients × 2 ops/s, ${SECS} s" >&2
  $bench --clients $((r * 10)) --rooms "$r" --rate 2 --secs "$SECS" --warmup "$WARMUP" | keep
done
if [ "$COLD" -gt 0 ]; then
  echo "sweep: cold open of a room with $COLD revisions" >&2
  $bench --cold-open "$COLD" --opens 3 | keep
fi
if [ "$IDLE" -gt 0 ]; then
  echo "sweep: $IDLE idle connections" >&2
  $bench --idle "$IDLE" | keep
fi

python3 - "$results" "bench/out/sweep-$stamp.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = ["| rooms × clients/room × rate | acked ops/s | deliveries/s | reach | p50 ms | p95 ms | p99 ms | max ms | server CPU (share of a core) | peak RSS MiB | acked ops lost |",
       "|---|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    if r.get("mode") != "fanout": continue
    l = r["fanout_latency_ms"]; v = r["verification"]
    lost = f"{v['acked_ops_missing']} of {v['acked_ops_checked']}" + ("" if v["ok"] else " FAILED")
    share = r.get("server_cpu_share") or 0
    out.append(f"| {r['rooms']} × {r['clients_per_room']:g} × {r['rate_per_client']:g}/s | {r['acked_ops_per_s']:.0f} | {r['deliveries_per_s']:.0f} | {r['reach']:.3f} | {l['p50']:.2f} | {l['p95']:.2f} | {l['p99']:.2f} | {l['max']:.2f} | {share*100:.0f} % | {(r['server_peak_rss_kib'] or 0)/1024:.1f} | {lost} |")
for r in rows:
    if r.get("mode") == "cold_open":
        runs = r["runs"]
        mem = [x["room_open_rss_kib"] for x in runs if x.get("room_open_rss_kib") is not None]
        out.append("")
        out.append(f"Cold open, {r['revisions']:,} revisions ({r['database_bytes']/2**20:.0f} MiB on disk): join → snapshot "
                   f"median {r['cold_open_ms_median']:.0f} ms, max {r['cold_open_ms_max']:.0f} ms over {len(runs)} fresh server processes; "
                   f"warm join {runs[0]['warm_join_to_snapshot_ms']:.1f} ms; snapshot frame {runs[0]['snapshot_frame_bytes']/1024:.0f} KiB; "
                   f"the open room adds {sum(mem)/max(len(mem),1)/1024:.1f} MiB RSS.")
    if r.get("mode") == "idle_connections":
        out.append("")
        out.append(f"Idle connections: {r['connections']} joined connections add {r['kib_per_idle_connection']:.1f} KiB of server RSS each "
                   f"({r['server_rss_before_kib']/1024:.1f} → {r['server_rss_after_kib']/1024:.1f} MiB).")
loads = [r.get("load_average_before") for r in rows if r.get("load_average_before") is not None]
pins = {str((r.get("pinning") or {}).get("applied")) for r in rows if r.get("mode") == "fanout"}
out.append("")
out.append(f"Machine load average before the runs: {min(loads):.1f}–{max(loads):.1f}; taskset pinning applied: {', '.join(sorted(pins))}." if loads else "")
text = "\n".join(out)
open(sys.argv[2], "w").write(text + "\n")
print(text)
PY
echo "sweep: rows in $results, table in bench/out/sweep-$stamp.md" >&2
