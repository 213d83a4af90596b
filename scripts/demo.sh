#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job of README.md: build azl-agent, then — inside a private network namespace that has only `lo` —
# start the simulated Azure fabric with its default scenario, provision a sandbox VM root against it with
# `azl-agent provision --root`, and show `azl-agent status` for that root. Nothing leaves this machine.
#
#   scripts/demo.sh            (as root; AZL_SKIP_DEPS=1 skips the apt step, AZL_DEMO_DIR keeps the sandbox)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${AZL_BUILD_DIR:-$src/build}
cd "$src"
if [ "$(id -u)" -ne 0 ]; then
        echo "demo: run as root (it creates a network namespace and a user in a sandbox root)." >&2
        exit 1
fi
[ "${AZL_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh >/dev/null
# --prefix=/usr as scripts/run-tests.sh configures it: the two README commands share one build.
if [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure -Dprefix=/usr "$build" >/dev/null
else
        meson setup -Dprefix=/usr "$build" >/dev/null
fi
ninja -C "$build" >/dev/null

if [ "${AZL_DEMO_INNER:-0}" != 1 ]; then
        exec unshare --net env AZL_DEMO_INNER=1 AZL_SKIP_DEPS=1 AZL_BUILD_DIR="$build" "$0" "$@"
fi

ip link set lo up
work=${AZL_DEMO_DIR:-$(mktemp -d /tmp/azl-demo.XXXXXX)}
mkdir -p "$work"
agent="$build/agent/azl-agent"
fabric_pid=
cleanup() { [ -n "$fabric_pid" ] && kill "$fabric_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT

python3 tests/fabric/azfabric.py serve --scenario default --ready-file "$work/fabric.ready" \
        --state-dir "$work/fabric" > "$work/fabric.log" 2>&1 &
fabric_pid=$!
for _ in $(seq 100); do [ -s "$work/fabric.ready" ] && break; sleep 0.1; done
[ -s "$work/fabric.ready" ] || { echo "demo: the fabric did not start, see $work/fabric.log" >&2; exit 1; }
get() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$work/fabric.ready" "$1"; }

# The sandbox VM: a scratch root, the provisioning media's ovf-env.xml in the seed dir (this kernel may not
# mount ISO images; a real VM reads it from the CD-ROM), and agent.conf pointing at the fabric.
root="$work/root"
bash tests/integration/make-scratch-root.sh "$root"
python3 tests/fabric/azfabric.py media --scenario default --out "$work/media" >/dev/null
mkdir -p "$root/var/lib/azl-agent/seed" "$root/etc/azl-agent"
cp "$work/media/ovf-env.xml" "$root/var/lib/azl-agent/seed/"
printf '[Endpoints]\nIMDS=%s\nWireServer=%s\nHostGAPluginPort=%s\n' \
        "$(get imds)" "$(get wireserver)" "$(get hgap_port)" > "$root/etc/azl-agent/agent.conf"

echo "Simulated fabric: IMDS $(get imds), WireServer $(get wireserver) (in a private network namespace)"
echo "Sandbox VM root:  $root"
echo
echo "\$ azl-agent --root $root provision"
"$agent" --root "$root" provision
echo
echo "\$ azl-agent --root $root status"
"$agent" --root "$root" status
echo
echo "The fabric's health reports:"
python3 - "$(get control)/health-reports" <<'PY'
import json, sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with opener.open(sys.argv[1], timeout=10) as resp:
    for h in json.load(resp):
        sub = "/" + h["subStatus"] if h["subStatus"] else ""
        print("  %s  %s%s  accepted=%s" % (h["time"], h["state"], sub, h["accepted"]))
PY
