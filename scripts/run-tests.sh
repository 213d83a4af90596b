#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command of README.md: installs dependencies, builds, and runs the whole meson test suite inside a
# private network namespace that has only a loopback interface, so no test can reach 169.254.169.254,
# 168.63.129.16 or any other address off this machine. Prints "N passed, N failed, N skipped" last and
# exits non-zero on any failure.
#
#   scripts/run-tests.sh [meson test arguments, e.g. --suite unit]
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${AZL_BUILD_DIR:-$src/build}
cd "$src"

[ "${AZL_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh

# --prefix=/usr as on Azure Linux: the VM rig installs this build into its guest.
if [ -d "$build" ] && [ -f "$build/build.ninja" ]; then
        meson setup --reconfigure -Dprefix=/usr "$build" >/dev/null
else
        meson setup -Dprefix=/usr "$build"
fi
ninja -C "$build"

if [ "${AZL_VM_TESTS:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v qemu-system-x86_64 >/dev/null; then
        tests/vm/build-image.sh || echo "run-tests: building the VM images failed; the vm tests will skip" >&2
fi

# Inside the namespace: bring lo up, prove there is no way out, then run the suite.
inner='set -eu
ip link set lo up
if ip -4 route show default | grep -q . || ip -6 route show default | grep -q .; then
        echo "run-tests: the test namespace has a default route, refusing to run" >&2; exit 1
fi
if [ "$(ip -o link show | grep -vc ": lo:")" != 0 ]; then
        echo "run-tests: the test namespace has interfaces besides lo, refusing to run" >&2; exit 1
fi
echo "run-tests: inside a private network namespace (only lo, no routes out)"
exec meson test -C "$1" --print-errorlogs --num-processes 2 "${@:2}"'

rc=0
if unshare --net true 2>/dev/null; then
        unshare --net bash -c "$inner" run-tests "$build" "$@" || rc=$?
elif unshare --user --map-root-user --net true 2>/dev/null; then
        echo "run-tests: not root; using a user namespace (root-only tests will skip)"
        unshare --user --map-root-user --net bash -c "$inner" run-tests "$build" "$@" || rc=$?
else
        echo "run-tests: cannot create a network namespace; refusing to run tests on the host network" >&2
        exit 1
fi

# The closing line CI reads, from meson's own record of this run.
python3 - "$build/meson-logs/testlog.json" <<'PY'
import json, sys
counts = {"passed": 0, "failed": 0, "skipped": 0}
try:
    with open(sys.argv[1]) as f:
        for line in f:
            r = json.loads(line)["result"]
            if r in ("OK", "EXPECTEDFAIL"):
                counts["passed"] += 1
            elif r == "SKIP":
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
except FileNotFoundError:
    pass
print(f'{counts["passed"]} passed, {counts["failed"]} failed, {counts["skipped"]} skipped')
PY
exit $rc
