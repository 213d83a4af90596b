#!/bin/bash
# Interop check: the unmodified Debian `waagent` package against the fabric.
#
# Runs inside a private network + mount namespace (unshare --net --mount):
#   * the fabric serves the real addresses (169.254.169.254:80,
#     168.63.129.16:80 and :32526) on `lo` of a namespace without uplink;
#   * /var/log (waagent hard-codes /var/log/waagent.log) and the udev rules
#     directories (waagent's env thread moves persistent-net rules) are
#     replaced by scratch mounts that vanish with the namespace;
#   * waagent runs as `waagent -daemon -configuration-path:<scratch conf>`
#     with Lib.Dir, Extension.LogDir and Pid.File in the scratch dir.
#
# Passes when the fabric has (1) an accepted health report State=Ready and
# (2) a parsed status blob in which the sample extension AzlAgent.SampleHandler
# (tests/fabric/ext/sample-handler) is Ready with settings status "success",
# the message from the scenario's publicSettings and a ProtectedSettings
# substatus naming the decrypted key (proving the extension was downloaded,
# installed, enabled, ran and read the tenant certificate waagent wrote).
# Exit 77 when waagent or unshare is unavailable.
#
# Env: AZFABRIC_INTEROP_TIMEOUT (s, default 240), AZFABRIC_INTEROP_KEEP=DIR
# (copy logs, fabric state and waagent's lib dir there).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${AZFABRIC_INTEROP_TIMEOUT:-240}

if [ "${AZFABRIC_INTEROP_INNER:-}" != 1 ]; then
    if ! command -v waagent >/dev/null 2>&1; then
        echo "SKIP: waagent is not installed (apt-get install waagent)"
        exit 77
    fi
    if ! unshare --net --mount true 2>/dev/null; then
        echo "SKIP: cannot create network/mount namespaces (unshare not permitted)"
        exit 77
    fi
    exec unshare --net --mount --propagation private env AZFABRIC_INTEROP_INNER=1 bash "$0" "$@"
fi

# ---------------------------------------------------------------- inside the namespaces
ip link set lo up
WORK=$(mktemp -d /tmp/azfabric-waagent.XXXXXX)
mkdir -p "$WORK"/{lib,varlog,extlog,state}
mount --bind "$WORK/varlog" /var/log
for d in /etc/udev/rules.d /lib/udev/rules.d; do
    [ -d "$d" ] && mount -t tmpfs tmpfs "$d"
done

cat > "$WORK/waagent.conf" <<EOF
# waagent configuration for the fabric interop test (everything else default)
Provisioning.Agent=disabled
Provisioning.MonitorHostName=n
Provisioning.RegenerateSshHostKeyPair=n
Provisioning.DeleteRootPassword=n
ResourceDisk.Format=n
Extensions.Enabled=y
Extensions.GoalStatePeriod=6
AutoUpdate.Enabled=n
OS.AllowHTTP=y
OS.EnableFirewall=n
OS.EnableRDMA=n
DetectScvmmEnv=n
Logs.Verbose=y
Logs.Collect=n
CGroups.EnforceLimits=n
Lib.Dir=$WORK/lib
Extension.LogDir=$WORK/extlog
Pid.File=$WORK/waagent.pid
EOF

FABRIC_PID=""
AGENT_PID=""
cleanup() {
    set +e
    if [ -n "$AGENT_PID" ]; then kill -TERM -- "-$AGENT_PID" 2>/dev/null; sleep 1; kill -KILL -- "-$AGENT_PID" 2>/dev/null; fi
    if [ -n "$FABRIC_PID" ]; then kill -TERM "$FABRIC_PID" 2>/dev/null; wait "$FABRIC_PID" 2>/dev/null; fi
    if [ -n "${AZFABRIC_INTEROP_KEEP:-}" ]; then
        mkdir -p "$AZFABRIC_INTEROP_KEEP"
        cp -a "$WORK/." "$AZFABRIC_INTEROP_KEEP/" 2>/dev/null
        echo "kept logs in $AZFABRIC_INTEROP_KEEP"
    fi
    umount /var/log 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

python3 "$HERE/azfabric.py" serve --scenario default --real-addresses \
    --state-dir "$WORK/state" --ready-file "$WORK/ready.json" > "$WORK/fabric.out" 2> "$WORK/fabric.err" &
FABRIC_PID=$!
for _ in $(seq 100); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
[ -s "$WORK/ready.json" ] || { echo "fabric did not start:"; cat "$WORK/fabric.err"; exit 1; }
CONTROL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["control"])' "$WORK/ready.json")
echo "fabric: $(cat "$WORK/ready.json")"

# waagent trusts 168.63.129.16 only via DHCP option 245 or an explicit route entry (protocol §1.1).
ip route add 168.63.129.16/32 dev lo

echo "waagent $(waagent -version 2>/dev/null | head -1)"
setsid waagent -daemon -configuration-path:"$WORK/waagent.conf" > "$WORK/waagent.out" 2>&1 &
AGENT_PID=$!

verdict() {
    python3 - "$CONTROL" <<'PY'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
base = sys.argv[1]
def get(path):
    try:
        with opener.open(base + path, timeout=5) as resp:
            return json.loads(resp.read())
    except Exception:
        return None
health = get("/health-reports") or []
ready = [h for h in health if h.get("accepted") and h.get("state") == "Ready"]
status = get("/status-blob") or {}
handlers = status.get("aggregateStatus", {}).get("handlerAggregateStatus", [])
ok_ext = [h for h in handlers if h.get("handlerName") == "AzlAgent.SampleHandler"
          and h.get("status") == "Ready"
          and h.get("runtimeSettingsStatus", {}).get("settingsStatus", {}).get("status", {}).get("status") == "success"]
settings = ok_ext and ok_ext[0]["runtimeSettingsStatus"]["settingsStatus"]["status"]
msg = settings and settings.get("formattedMessage", {}).get("message")
sub = [s.get("formattedMessage", {}).get("message", "") for s in (settings and settings.get("substatus") or [])]
decrypted = any(m.startswith("decrypted with certificate ") and m.endswith(": 1 key(s): secret") for m in sub)
print(json.dumps({"health_ready": len(ready), "health_reports": len(health), "handlers": handlers and [
    {k: h.get(k) for k in ("handlerName", "handlerVersion", "status", "code")} for h in handlers],
    "extension_message": msg, "substatus": sub,
    "agent": status.get("aggregateStatus", {}).get("guestAgentStatus")}))
sys.exit(0 if ready and ok_ext and msg == "hello from azfabric" and decrypted else 1)
PY
}

deadline=$((SECONDS + TIMEOUT))
result=1
while [ $SECONDS -lt $deadline ]; do
    if ! kill -0 "$AGENT_PID" 2>/dev/null; then echo "waagent exited early"; break; fi
    if out=$(verdict); then result=0; break; fi
    sleep 3
done
echo "verdict: ${out:-none}"
echo "--- requests seen by the fabric (method path status) ---"
python3 - "$WORK/state/requests.jsonl" <<'PY'
import json, sys, collections
seen = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    q = ("?" + e["query"]) if e["query"] else ""
    if "comp=" in q:
        q = "?" + "&".join(p for p in e["query"].split("&") if p.startswith(("comp=", "type=")))
    elif e["endpoint"] == "blob":
        q = ""
    seen[(e["endpoint"], e["method"], e["path"].split("/machine/")[0] + ("/machine/..." if "/machine/" in e["path"] and e["path"] != "/machine/" else "") if e["endpoint"] == "wireserver" else e["path"], q, e["status"])] += 1
for (ep, m, p, q, s), n in sorted(seen.items()):
    print("%4d x %-10s %-4s %s%s -> %s" % (n, ep, m, p, q, s))
PY
if [ $result -ne 0 ]; then
    echo "--- waagent.log (tail) ---"; tail -n 60 "$WORK/varlog/waagent.log" 2>/dev/null || cat "$WORK/waagent.out"
    echo "FAIL: waagent did not reach Ready with a successful sample extension within ${TIMEOUT}s"
    exit 1
fi
echo "PASS: waagent reported Ready, ran AzlAgent.SampleHandler (protected settings decrypted) and uploaded a status blob the fabric parsed"
