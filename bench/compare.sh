#!/usr/bin/env bash
# Side-by-side fan-out comparison: Hocuspocus 3.4 and y-websocket
# (@y/websocket-server 0.1.1, yjs 13) against Trustroom, same workload,
# same measurement (intended send → receipt at every other client), one
# table with ratios. Peers are installed from npm into a temporary folder
# (never committed) and run in memory without persistence (their best
# case); Trustroom commits every op to SQLite (WAL, synchronous=FULL)
# before acknowledging it. Server on CPU 0, generator on CPU 1 (taskset).
#
#   bash bench/compare.sh                 # 10×5/s and 50×5/s, 20 s each
#   WORKLOADS="10x5 50x5 100x5" SECS=30 bash bench/compare.sh
#
#   PIN=0 bash bench/compare.sh   # without taskset (busy machine)
# Results: bench/out/compare-<time>.json and .md (also printed).
set -euo pipefail
cd "$(dirname "$0")/.."
WORKLOADS=${WORKLOADS:-"10x5 50x5"}
SECS=${SECS:-20}
WARMUP=${WARMUP:-2}
PEERS=${PEERS:-"hocuspocus y-websocket"}
PORT=${PORT:-18734}
# PIN=0: no taskset (on a machine busy with other work a pinned process
# cannot move off a loaded core).
pin() { if [ "${PIN:-1}" != 0 ] && command -v taskset >/dev/null && taskset -c "$1" true 2>/dev/null; then echo "taskset -c $1"; fi; }
SERVER_PIN=$(pin 0); GEN_PIN=$(pin 1)
if [ "${PIN:-1}" = 0 ]; then TR_PIN="--server-cpus none --gen-cpus none --gen-threads 2"; else TR_PIN="--server-cpus 0 --gen-cpus 1"; fi

work=$(mktemp -d /tmp/trustroom-peers.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "compare: load average $(cut -d' ' -f1-3 /proc/loadavg) (numbers are noisy when this is above ~0.5)" >&2
echo "compare: installing peers from npm into $work" >&2
cp bench/peers/*.mjs "$work/"
(cd "$work" && echo '{"name":"trustroom-peers","private":true,"type":"module"}' > package.json \
  && npm install --no-audit --no-fund --loglevel=error \
     @hocuspocus/server@3.4 @hocuspocus/provider@3.4 @y/websocket-server@0.1.1 \
     y-websocket@3 yjs@13 y-protocols@1 ws@8 >&2)
echo "compare: building the Rust generator (release)" >&2
cargo build --quiet --release -p trustroom-bench
mkdir -p bench/out
stamp=$(date +%Y%m%d-%H%M%S)
results="bench/out/compare-$stamp.jsonl"
: > "$results"

start_peer() { # name port
  local script=$1-server.mjs
  (cd "$work" && exec $SERVER_PIN node "$script" "$2") > "$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do grep -q ready "$work/server.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "compare: $1 did not start: $(cat "$work/server.log")" >&2; return 1
}

for w in $WORKLOADS; do
  clients=${w%x*}; rate=${w#*x}
  for peer in $PEERS; do
    echo "compare: $peer, $clients clients × $rate ops/s, ${SECS} s" >&2
    start_peer "$peer" "$PORT"
    (cd "$work" && $GEN_PIN node gen.mjs --server "$peer" --url "ws://127.0.0.1:$PORT" --clients "$clients" \
      --rate "$rate" --secs "$SECS" --warmup "$WARMUP" --server-pid "$server_pid") | python3 -c \
      'import json,sys; r=json.load(sys.stdin); print(json.dumps(r))' >> "$results"
    kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=""
    PORT=$((PORT + 1))
  done
  echo "compare: trustroom, $clients clients × $rate ops/s, ${SECS} s" >&2
  target/release/trustroom-bench --clients "$clients" --rate "$rate" --secs "$SECS" --warmup "$WARMUP" \
    $TR_PIN | python3 -c \
    'import json,sys; r=json.load(sys.stdin); r["server"]="trustroom"; r.pop("windows",None); print(json.dumps(r))' >> "$results"
done

python3 - "$results" "bench/out/compare-$stamp.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out = []
out.append("| workload | server | durable before ack | p50 ms | p95 ms | p99 ms | max ms | reach | deliveries/s | server CPU s | peak RSS MiB | p99 ÷ Trustroom p99 |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
by = {}
for r in rows:
    by.setdefault((r["clients"], r["rate_per_client"]), {})[r["server"]] = r
for (c, rate), servers in by.items():
    tr = servers.get("trustroom")
    base = tr["fanout_latency_ms"]["p99"] if tr else None
    for name in ["trustroom", "hocuspocus", "y-websocket"]:
        r = servers.get(name)
        if not r: continue
        l = r["fanout_latency_ms"]
        durable = "yes (SQLite, fsync)" if name == "trustroom" else "no (in memory)"
        if name == "trustroom" and not r.get("verification", {}).get("ok", False): durable += ", VERIFICATION FAILED"
        ratio = f"{l['p99'] / base:.1f}×" if base and l["p99"] is not None else "–"
        rss = r.get("server_peak_rss_kib")
        out.append(f"| {c} × {rate:g}/s | {name} | {durable} | {l['p50']:.2f} | {l['p95']:.2f} | {l['p99']:.2f} | {l['max']:.2f} | {r['reach']:.3f} | {r['deliveries_per_s']:.0f} | {r.get('server_cpu_seconds') or 0:.2f} | {(rss or 0)/1024:.1f} | {ratio} |")
text = "\n".join(out)
open(sys.argv[2], "w").write(text + "\n")
print(text)
PY
echo "compare: rows in $results, table in bench/out/compare-$stamp.md" >&2
