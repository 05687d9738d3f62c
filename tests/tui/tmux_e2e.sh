#!/usr/bin/env bash
# Real-terminal end-to-end test of the Trustroom TUI.
#
# Starts `trustroom demo --headless` (server + seeded room on a free
# loopback port, fresh SQLite file), opens two `trustroom connect` TUIs in a
# private tmux server at 120x40 — the owner and a reviewer without annex
# access — and asserts on `tmux capture-pane`:
#   1. text typed in the owner's editor appears in the reviewer's;
#   2. the reviewer adds an objection in the split pane and the owner sees it;
#   3. the reviewer opens a gated annex: RESTRICTED, never the canary text;
#   3b. the chronology agent (`trustroom agent chronology --once`, the
#      command the demo prints) suggests entries; the owner accepts S-1 and
#      rejects S-2 with a reason on the TUI's suggestions screen;
#   3c. the reviewer asks for access to the gated annex (A), the owner
#      approves it (V), then revokes the grant from the TUI (G: choose, note,
#      confirm); the room's access list shows it revoked;
#   4. the owner holds with a reason, clears the hold in the hold register
#      (L), then (blockers resolved and the
#      co-signatures the release policy asks for given through the scriptable
#      CLI) marks the room ready (M) and releases the reviewed packet
#      revision from the readiness record (one release_packet: the answer
#      names the packet and room revisions); both status bars show HELD,
#      then READY, then RELEASED.
# Polls the screens with timeouts (no fixed sleeps). On failure prints both
# screens and exits non-zero.
#
# Usage: tests/tui/tmux_e2e.sh        (SKIP_BUILD=1 to use existing binaries)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${TRUSTROOM_BIN:-$ROOT/target/debug/trustroom}
REVIEWER_ROLE=${E2E_REVIEWER_ROLE:-reviewer/support-trust}
TIMEOUT=${E2E_TIMEOUT:-15}

for tool in tmux python3; do
    command -v "$tool" >/dev/null || { echo "tmux_e2e: $tool is required" >&2; exit 1; }
done
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && cargo build -q -p trustroom) || { echo "tmux_e2e: build failed" >&2; exit 1; }
fi

TMP=$(mktemp -d)
SOCK="trustroom-e2e-$$"
DEMO_PID=""
PASSED=0

cleanup() {
    tmux -L "$SOCK" kill-server 2>/dev/null
    if [ -n "$DEMO_PID" ]; then
        kill -INT "$DEMO_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$DEMO_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$DEMO_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

screen() { tmux -L "$SOCK" capture-pane -p -t "$1" 2>/dev/null; }

fail() {
    echo "FAIL: $*" >&2
    for s in owner reviewer; do
        echo "===== $s screen =====" >&2
        screen "$s" >&2
    done
    echo "===== demo output =====" >&2
    cat "$TMP/demo.out" >&2
    for s in owner reviewer; do
        if [ -f "$TMP/$s-log/tui.log" ]; then
            echo "===== $s log (tail) =====" >&2
            tail -n 20 "$TMP/$s-log/tui.log" >&2
        fi
    done
    echo "tmux e2e: $PASSED passed, 1 failed"
    exit 1
}

# The reviewer must never see an annex canary, on any screen we capture.
check_no_canary() {
    if screen reviewer | grep -q "CANARY-"; then fail "annex canary text reached the reviewer's screen"; fi
}

# wait_for SESSION TEXT [what]: poll the screen until TEXT (fixed string) shows.
wait_for() {
    local deadline=$((SECONDS + TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        if screen "$1" | grep -qF -- "$2"; then
            [ "$1" = reviewer ] && check_no_canary
            return 0
        fi
        sleep 0.1
    done
    fail "${3:-timed out waiting for \"$2\" on the $1 screen}"
}

keys() { tmux -L "$SOCK" send-keys -t "$1" "${@:2}"; }
text() { tmux -L "$SOCK" send-keys -t "$1" -l -- "$2"; }
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }

# --- the server ---------------------------------------------------------
"$BIN" demo --headless --listen 127.0.0.1:0 --db "sqlite://$TMP/demo.db?mode=rwc" >"$TMP/demo.out" 2>&1 &
DEMO_PID=$!
deadline=$((SECONDS + 60))
until grep -q "Serving until Ctrl-C" "$TMP/demo.out" 2>/dev/null; do
    kill -0 "$DEMO_PID" 2>/dev/null || fail "the demo server exited"
    [ $SECONDS -lt $deadline ] || fail "the demo server did not start"
    sleep 0.1
done
command_for() { awk -v role="($1)" '$NF == role { getline; sub(/^ +/, ""); print; exit }' "$TMP/demo.out"; }
OWNER_CMD=$(command_for owner)
REVIEWER_CMD=$(command_for "$REVIEWER_ROLE")
[ -n "$OWNER_CMD" ] && [ -n "$REVIEWER_CMD" ] || fail "join commands missing from the demo output"
read -r -a OWNER_ARGV <<<"$OWNER_CMD"
URL=${OWNER_ARGV[3]}
OWNER_TOKEN=${OWNER_ARGV[5]}
ROOM=${OWNER_ARGV[6]}
cli() { "$BIN" --url "$URL" --token "$OWNER_TOKEN" "$@"; }
ok "demo server on $URL"

# --- two TUIs -----------------------------------------------------------
start_tui() {
    mkdir -p "$TMP/$1-log"
    tmux -L "$SOCK" new-session -d -s "$1" -x 120 -y 40 \
        "env LANG=C.UTF-8 TERM=xterm-256color TRUSTROOM_LOG_DIR=$TMP/$1-log $2; echo \"[exited: \$?]\"; sleep 600"
}
start_tui owner "$OWNER_CMD"
start_tui reviewer "$REVIEWER_CMD"
wait_for owner "(owner)" "the owner's TUI did not join the room"
wait_for owner "● connected"
wait_for reviewer "($REVIEWER_ROLE)" "the reviewer's TUI did not join the room"
wait_for reviewer "● connected"
ok "owner and $REVIEWER_ROLE connected"

# --- 1. live co-editing ---------------------------------------------------
keys owner 2 i
text owner "# E2E-TYPED-4242 "
keys owner Escape
wait_for owner "E2E-TYPED-4242"
wait_for reviewer "E2E-TYPED-4242" "text typed by the owner did not reach the reviewer"
ok "typed text appears in the other TUI"

# --- 2. objection in the split pane ----------------------------------------
keys reviewer r
wait_for reviewer "Register"
keys reviewer n
wait_for reviewer "New objection"
text reviewer "E2E-OBJECTION-7 scope of the second tenant is unclear"
keys reviewer Enter
wait_for reviewer "E2E-OBJECTION-7"
wait_for owner "E2E-OBJECTION-7" "the owner did not see the reviewer's objection"
keys owner r
wait_for owner "Register"
ok "the reviewer's objection reaches the owner"

# --- 3. gated annex ---------------------------------------------------------
keys reviewer a
wait_for reviewer "Annex map"
keys reviewer Enter
wait_for reviewer "RESTRICTED"
wait_for reviewer "tenant-identifiers"
wait_for reviewer "need-to-know"
check_no_canary
ok "the reviewer sees RESTRICTED and no canary"

# --- 3b. an agent suggests, the owner accepts and rejects in the TUI ---------
# The demo prints one command per agent ("# NAME runs the ROLE agent:").
AGENT_CMD=$(awk '/runs the chronology agent:$/ { getline; sub(/^ +/, ""); print; exit }' "$TMP/demo.out")
[ -n "$AGENT_CMD" ] || fail "the demo printed no chronology agent command"
read -r -a AGENT_ARGV <<<"$AGENT_CMD"
env -u TRUSTROOM_TOKEN "${AGENT_ARGV[@]}" --once >"$TMP/agent.out" 2>&1 || fail "the chronology agent failed: $(cat "$TMP/agent.out")"
grep -q "S-1 suggested chronology entries TL-0413" "$TMP/agent.out" || fail "unexpected agent output: $(cat "$TMP/agent.out")"
keys owner Escape u
wait_for owner "Suggestions" "the owner's suggestions screen did not open"
wait_for owner "proposed by chronology-agent (agent/chronology)"
wait_for owner "Tier-1 support reproduces the failing export"
keys owner y
wait_for owner "S-1 accepted" "accepting S-1 from the TUI did not work"
cli show "$ROOM" --json | grep -q "\[verified: TL-0413\] 09:06 Tier-1 support" || fail "the accepted entry is not in the chronology"
wait_for owner "Session S-19 resolves its tenant context"
keys owner x
wait_for owner "Reject the suggestion"
text owner "E2E-REJECT the 09:17 entry already covers the cached context"
keys owner Enter
wait_for owner "S-2 rejected" "rejecting S-2 from the TUI did not work"
cli suggestions "$ROOM" --all --json >"$TMP/suggestions.json" 2>/dev/null || cli suggestions "$ROOM" --json >"$TMP/suggestions.json" || fail "trustroom suggestions failed"
grep -q "E2E-REJECT" "$TMP/suggestions.json" || fail "the rejection reason is not recorded: $(head -c 600 "$TMP/suggestions.json")"
keys owner Escape
ok "the owner accepts and rejects agent suggestions in the TUI"

# --- 3c. an access grant, revoked by the owner in the TUI ----------------------
keys reviewer A
wait_for reviewer "Request access to A1" "the reviewer's access request dialog did not open"
text reviewer "E2E-ACCESS need the tenant list to settle the scope of the objection"
keys reviewer Enter
wait_for reviewer "access requested"
keys owner Escape V
wait_for owner "Approvals"
wait_for owner "E2E-ACCESS"
keys owner y
wait_for owner "approved" "the owner could not approve the access request"
keys owner Escape G
wait_for owner "Active grants" "the grants dialog did not open"
wait_for owner "E2E-ACCESS"
keys owner Enter
wait_for owner "Note (optional"
text owner "E2E-REVOKE scope settled"
keys owner Enter
wait_for owner "Really revoke?"
keys owner y
wait_for owner "revoked — the grant ended now" "revoking the grant from the TUI did not work"
cli access list "$ROOM" >"$TMP/access.txt" 2>&1 || fail "trustroom access list failed: $(cat "$TMP/access.txt")"
grep -qi "revoked" "$TMP/access.txt" || fail "the grant is not revoked: $(cat "$TMP/access.txt")"
ok "the owner revokes an access grant from the TUI"

# --- 4. hold, then release ----------------------------------------------------
keys owner Escape H
wait_for owner "Hold the release"
text owner "E2E waiting for the trace keeper"
keys owner Enter
wait_for owner " HELD "
wait_for reviewer " HELD " "the reviewer's status bar does not show HELD"
wait_for reviewer "E2E waiting for the trace keeper"
ok "hold with a reason shows on both status bars"

# Resolve what blocks release with the scriptable client: accept residual
# disagreement on blocking objections; label unsupported statements.
readiness=$(cli readiness "$ROOM") || fail "trustroom readiness failed"
for o in $(grep -o 'open blocking objection O-[0-9]*' <<<"$readiness" | awk '{print $4}'); do
    cli objection status "$ROOM" "$o" accepted-residual --rationale "E2E: handed to the downstream lane" >/dev/null \
        || fail "cannot accept residual on $o"
done
cli show "$ROOM" --json >"$TMP/room.json" || fail "trustroom show failed"
python3 - "$TMP/room.json" "$TMP/bodies" <<'PY' || fail "cannot prepare labelled bodies"
import json, os, re, sys
state = json.load(open(sys.argv[1]))["state"]
os.makedirs(sys.argv[2], exist_ok=True)
for s in state["sections"]:
    paras = re.split(r"(\n\s*\n)", s["body"])
    changed = False
    for i in range(0, len(paras), 2):
        p = paras[i]
        lead = p[: len(p) - len(p.lstrip())]
        t = p.lstrip()
        if t and not t.startswith("#") and not t.startswith("["):
            paras[i] = lead + "[residual] " + t
            changed = True
    if changed:
        open(os.path.join(sys.argv[2], s["id"]), "w").write("".join(paras))
PY
for f in "$TMP"/bodies/*; do
    [ -e "$f" ] || continue
    cli section set "$ROOM" "$(basename "$f")" --file "$f" >/dev/null || fail "cannot label section $(basename "$f")"
done
# Co-signatures the release policy asks for ("co-signature from a privacy
# reviewer is missing"): each such reviewer signs the content as it is now,
# for the lane the owner releases to below (product-security).
for discipline in $(cli readiness "$ROOM" | sed -n 's/.*co-signature from an\{0,1\} \([a-z-]*\) reviewer is missing.*/\1/p'); do
    signer=$(command_for "reviewer/$discipline")
    [ -n "$signer" ] || fail "no $discipline reviewer in the demo to co-sign"
    read -r -a SIGNER_ARGV <<<"$signer"
    "$BIN" --url "$URL" --token "${SIGNER_ARGV[5]}" cosign "$ROOM" --lane product-security >/dev/null || fail "the $discipline reviewer cannot co-sign"
done
# The hold is the last blocker: the owner clears it in the hold register (L).
keys owner Escape L
wait_for owner "Hold register — 1 open" "the hold register (L) did not open"
wait_for owner "H-1 OPEN"
keys owner Enter
wait_for owner "Rationale (required"
text owner "E2E the trace keeper answered"
keys owner Enter
wait_for owner "Really clear it?"
keys owner y
wait_for owner "H-1 cleared" "clearing the hold from the TUI did not work"
cli holds "$ROOM" | grep -q "H-1 CLEARED" || fail "the register does not show H-1 cleared: $(cli holds "$ROOM")"
ok "the owner clears the hold in the TUI's hold register"
wait_for owner " 0 blockers" "blockers remain after resolving them: $(cli readiness "$ROOM" | grep -A9 '^Blockers' | tr '\n' ' ')"
keys owner M
wait_for owner "READY: packet rev" "mark ready from the TUI did not work"
wait_for owner " READY " "the owner's status bar does not show READY"
ok "the owner marks the room ready from the TUI"
keys owner R
wait_for owner "Readiness record"
wait_for owner "Blockers (0)"
keys owner 2
keys owner Enter
wait_for owner "RELEASE packet rev" "the release prompt does not name the packet revision"
keys owner y
wait_for owner "RELEASED packet rev" "the release_packet answer (packet rev, room rev) was not shown"
wait_for owner " RELEASED " "the owner's status bar does not show RELEASED"
wait_for reviewer " RELEASED " "the reviewer's status bar does not show RELEASED"
wait_for reviewer "product-security"
check_no_canary
ok "release from the readiness record shows on both status bars"

keys owner q
keys reviewer q
echo "tmux e2e: $PASSED passed, 0 failed"
