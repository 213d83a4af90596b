#!/bin/bash
# SPDX-License-Identifier: MIT
# Idle cost of `azl-agent daemon` on the simulated fabric (tests/fabric), inside `unshare --net` (only lo).
#
#   bench/daemon-idle.sh [SECONDS]        default 600 (10 min) of idle time
#
# Environment: AZL_AGENT (default build-daemon/agent/azl-agent, then build/agent/azl-agent), PERIOD (goal state
# period in s, default: the agent's default of 6), KEEPALIVE (StatusKeepAliveSec, default: the agent's 300).
#
# Starts the fabric (default scenario: one extension, one tenant certificate, Fast Track), a scratch root and the
# daemon; waits until the status blob reports the sample extension Ready, lets it settle 10 s, then measures over
# the idle period: RSS (VmRSS and the peak VmHWM), CPU seconds (utime+stime of the daemon; extension handlers are
# not running once enabled), wakeups (voluntary + involuntary context switches: every return from epoll_wait is
# one), and the fabric requests by endpoint/method/path. Stops the daemon with SIGTERM and reports its exit code.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
if [ "${AZL_IN_PRIVATE_NETNS:-}" != 1 ]; then
        command -v unshare >/dev/null || { echo "SKIP: unshare missing"; exit 77; }
        exec env AZL_IN_PRIVATE_NETNS=1 unshare --net bash "$0" "$@"
fi
ip link set lo up

DURATION=${1:-600}
AGENT=${AZL_AGENT:-}
if [ -z "$AGENT" ]; then
        for a in "$SRC/build-daemon/agent/azl-agent" "$SRC/build/agent/azl-agent"; do
                [ -x "$a" ] && { AGENT=$a; break; }
        done
fi
[ -x "${AGENT:-}" ] || { echo "azl-agent not built (set AZL_AGENT)" >&2; exit 1; }

W=$(mktemp -d /tmp/azl-bench-idle.XXXXXX)
FABRIC_PID= DAEMON_PID=
cleanup() {
        [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null || true
        [ -n "$FABRIC_PID" ] && kill "$FABRIC_PID" 2>/dev/null || true
        wait 2>/dev/null || true
        [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

python3 "$SRC/tests/fabric/azfabric.py" serve --scenario default --ready-file "$W/ready.json" \
        --state-dir "$W/fabric" >"$W/fabric.log" 2>&1 &
FABRIC_PID=$!
for _ in $(seq 300); do [ -s "$W/ready.json" ] && break; sleep 0.1; done
[ -s "$W/ready.json" ] || { echo "fabric did not start" >&2; cat "$W/fabric.log" >&2; exit 1; }
j() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$W/ready.json" "$1"; }
CONTROL=$(j control)

bash "$SRC/tests/integration/make-scratch-root.sh" "$W/root" >/dev/null
mkdir -p "$W/root/etc/azl-agent"
{
        printf '[Endpoints]\nIMDS=%s\nWireServer=%s\nHostGAPluginPort=%s\n[Timeouts]\n' "$(j imds)" "$(j wireserver)" "$(j hgap_port)"
        [ -n "${PERIOD:-}" ] && printf 'GoalStatePeriodSec=%s\n' "$PERIOD"
        [ -n "${KEEPALIVE:-}" ] && printf 'StatusKeepAliveSec=%s\n' "$KEEPALIVE"
} >"$W/root/etc/azl-agent/agent.conf"

ctl() { curl -fsS --noproxy '*' "$CONTROL$1"; }

"$AGENT" --root "$W/root" daemon >"$W/daemon.log" 2>&1 &
DAEMON_PID=$!
t0=$(date +%s.%N)
for _ in $(seq 1200); do
        if ctl /status-blob 2>/dev/null | python3 -c '
import json, sys
b = json.load(sys.stdin)
hs = b["aggregateStatus"]["handlerAggregateStatus"]
sys.exit(0 if hs and all(h["status"] == "Ready" for h in hs) else 1)' 2>/dev/null; then break; fi
        sleep 0.1
done
t_ready=$(date +%s.%N)
sleep 10

CLK=$(getconf CLK_TCK)
cpu() { awk -v clk="$CLK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / clk }' "/proc/$DAEMON_PID/stat"; }
ctx() { awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }' "/proc/$DAEMON_PID/status"; }
kb() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$DAEMON_PID/status"; }
lastseq() { ctl /requests | tail -n 1 | python3 -c 'import json,sys; print(json.loads(sys.stdin.read() or "{\"seq\": 0}")["seq"])'; }

cpu0=$(cpu) ctx0=$(ctx) seq0=$(lastseq) uploads0=$(ctl /status-blobs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
sleep "$DURATION"
cpu1=$(cpu) ctx1=$(ctx) rss=$(kb VmRSS) hwm=$(kb VmHWM)
uploads1=$(ctl /status-blobs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

kill -TERM "$DAEMON_PID"
rc=0; wait "$DAEMON_PID" || rc=$?
DAEMON_PID=

echo "azl-agent daemon idle benchmark ($AGENT)"
printf 'startup to extension Ready : %.1f s\n' "$(echo "$t_ready - $t0" | bc)"
echo "idle period                : $DURATION s (goal state period ${PERIOD:-6 (default)} s, keep-alive ${KEEPALIVE:-300 (default)} s)"
echo "RSS                        : ${rss} kB (peak ${hwm} kB)"
printf 'CPU (user+sys) while idle  : %.2f s (%.3f %%)\n' "$(echo "$cpu1 - $cpu0" | bc)" \
        "$(echo "($cpu1 - $cpu0) * 100 / $DURATION" | bc -l)"
printf 'wakeups (context switches) : %d (%.2f/s)\n' "$((ctx1 - ctx0))" "$(echo "($ctx1 - $ctx0) / $DURATION" | bc -l)"
echo "status uploads while idle  : $((uploads1 - uploads0))"
echo "fabric requests while idle :"
ctl /requests | python3 -c '
import collections, json, sys
seq0 = int(sys.argv[1])
c = collections.Counter()
for line in sys.stdin:
    if line.strip():
        r = json.loads(line)
        if r["seq"] > seq0:
            c[(r["endpoint"], r["method"], r["path"], r["status"])] += 1
for (ep, m, p, st), n in sorted(c.items()):
    print("  %6d  %-10s %-4s %-14s %s" % (n, ep, m, p, st))
print("  %6d  total" % sum(c.values()))' "$seq0"
echo "exit status after SIGTERM  : $rc"
