#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command of README.md: installs dependencies, builds, and runs the whole meson test suite inside a
# private network namespace that has only a loopback interface, so no test can reach 169.254.169.254,
# 168.63.129.16 or any other address off this machine. Prints "N passed, N failed, N skipped" last and
# exits non-zero on any failure.
#
# AZL_VM_TESTS=0 leaves out the vm suite (and the image build before it).
#
# Then (AZL_SANITIZERS=1, the default when no meson test arguments are given) a second build dir,
# AZL_SANITIZER_BUILD_DIR (default <build>-asan), configured with build-dev.ini (werror, ASan + UBSan), runs
# the unit, integration and fuzz (corpus replay) suites in another such namespace with leaks and undefined
# behaviour fatal; the last line then counts both runs. AZL_SANITIZERS=0 skips it.
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

# The VM images need the Debian mirror, so they are built here, before the namespace. A build failure fails the
# vm tests (tests/vm/ensure-images.sh records it for them); only an unreachable mirror makes them skip, and then
# the reason is printed again right above the closing line, where CI looks.
vm_note=
if [ "${AZL_VM_TESTS:-1}" != 0 ] && [ "$(id -u)" = 0 ] && command -v qemu-system-x86_64 >/dev/null; then
        vm_rc=0
        vm_out=$(tests/vm/ensure-images.sh 2>&1 | tee /dev/stderr) || vm_rc=$?
        if [ "$vm_rc" = 75 ]; then
                vm_note=$(printf '%s\n' "$vm_out" | grep '^vm-images: SKIP: ' | tail -n 1)
        elif [ "$vm_rc" != 0 ]; then
                echo "run-tests: building the VM images failed; the vm tests will fail (tests/vm/ensure-images.sh)" >&2
        fi
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

run_suite() { # BUILDDIR [meson test arguments]
        if unshare --net true 2>/dev/null; then
                unshare --net bash -c "$inner" run-tests "$@"
        elif unshare --user --map-root-user --net true 2>/dev/null; then
                echo "run-tests: not root; using a user namespace (root-only tests will skip)"
                unshare --user --map-root-user --net bash -c "$inner" run-tests "$@"
        else
                echo "run-tests: cannot create a network namespace; refusing to run tests on the host network" >&2
                exit 1
        fi
}

# AZL_VM_TESTS=0: no VM tests at all — not only no image build (images cached by an earlier run would
# otherwise still boot under TCG, minutes each).
vm_args=()
[ "${AZL_VM_TESTS:-1}" != 0 ] || vm_args=(--no-suite vm)

rc=0
run_suite "$build" "${vm_args[@]}" "$@" || rc=$?
logs=("$build/meson-logs/testlog.json")

if [ "${AZL_SANITIZERS:-$([ $# -eq 0 ] && echo 1 || echo 0)}" != 0 ]; then
        sanbuild=${AZL_SANITIZER_BUILD_DIR:-$build-asan}
        start=$(date +%s)
        echo "run-tests: ASan + UBSan build in $sanbuild (AZL_SANITIZERS=0 skips this)"
        reconfigure=$([ -f "$sanbuild/build.ninja" ] && echo --reconfigure || true)
        rm -f "$sanbuild/meson-logs/testlog.json"
        if meson setup $reconfigure --native-file build-dev.ini -Dprefix=/usr "$sanbuild" >/dev/null &&
           ninja -C "$sanbuild" >"$sanbuild/run-tests-build.log" 2>&1; then
                # Reports go to files too: a daemon's exit status or stderr is not always checked by its test.
                reports="$sanbuild/sanitizer-reports"
                rm -rf "$reports" && mkdir -p "$reports"
                export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:print_summary=1:log_path=$reports/asan
                export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:print_summary=1:log_path=$reports/ubsan
                # The same arguments when given (AZL_SANITIZERS=1 --suite X); by default unit + integration + fuzz.
                if [ $# -gt 0 ]; then
                        run_suite "$sanbuild" "$@" || rc=1
                else
                        run_suite "$sanbuild" --suite unit --suite integration --suite fuzz || rc=1
                fi
                logs+=("$sanbuild/meson-logs/testlog.json")
                if [ -n "$(ls -A "$reports")" ]; then
                        head -n 40 "$reports"/* >&2
                        echo "run-tests: sanitizer reports in $reports (counted as one failure)" >&2
                        echo '{"name": "sanitizer-reports", "result": "FAIL"}' >>"$sanbuild/meson-logs/testlog.json"
                        rc=1
                fi
        else
                tail -30 "$sanbuild/run-tests-build.log" >&2 2>/dev/null || true
                echo "run-tests: the ASan + UBSan build failed" >&2
                rc=1
        fi
        echo "run-tests: ASan + UBSan stage took $(($(date +%s) - start)) s"
fi

# The closing line CI reads, from meson's own record of this run (both runs when the sanitizers ran).
[ -z "$vm_note" ] || echo "run-tests: $vm_note"
python3 - "${logs[@]}" <<'PY'
import json, sys
total = {"passed": 0, "failed": 0, "skipped": 0}
line = "{passed} passed, {failed} failed, {skipped} skipped"
for i, path in enumerate(sys.argv[1:]):
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    try:
        with open(path) as f:
            for entry in f:
                r = json.loads(entry)["result"]
                if r in ("OK", "EXPECTEDFAIL"):
                    counts["passed"] += 1
                elif r == "SKIP":
                    counts["skipped"] += 1
                else:
                    counts["failed"] += 1
    except FileNotFoundError:
        pass
    for k in total:
        total[k] += counts[k]
    if len(sys.argv) > 2:
        print(("main suite: " if i == 0 else "ASan+UBSan suite: ") + line.format(**counts))
print(line.format(**total))
PY
exit $rc
