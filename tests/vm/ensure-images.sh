#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ensure-images.sh [flavour...]: makes sure the VM rig's images exist, building them with build-image.sh when
# they do not, and records the outcome for the vm tests in $VM_CACHE/build-status (one line):
#
#   ok                                   every image is there
#   mirror-unreachable <why>             an image is missing and the Debian mirror cannot be reached: the only
#                                        case in which the vm tests skip (exit 75 here, one line on stderr)
#   failed <why>                         build-image.sh failed with the mirror reachable: the vm tests fail
#
# Run it before the test suite enters its network namespace (scripts/run-tests.sh does). Kept apart from
# build-image.sh, whose content is part of the image cache key (tests/vm/lib.sh).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

FLAVOURS=("$@")
[ ${#FLAVOURS[@]} -gt 0 ] || FLAVOURS=(base cloudinit waagent)
MIRROR=${AZL_VM_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$VM_CACHE" || { echo "vm-images: FAIL: cannot create $VM_CACHE" >&2; exit 1; }
STATUS=$VM_CACHE/build-status
LOG=$VM_CACHE/build-image.log

missing=()
for f in "${FLAVOURS[@]}"; do [ -e "$VM_CACHE/$f/.done" ] || missing+=("$f"); done
if [ ${#missing[@]} -eq 0 ]; then
        echo ok > "$STATUS"
        exit 0
fi

# The mirror's Release file for the suite build-image.sh debootstraps: reachable, or why not.
why=$(python3 - "$MIRROR/dists/bookworm/Release" <<'PY' 2>&1
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=20) as r:
        r.read(1)
except Exception as e:
    print("%s: %s" % (type(e).__name__, getattr(e, "reason", e)))
    sys.exit(1)
PY
)
if [ $? -ne 0 ]; then
        line="the Debian mirror $MIRROR is unreachable (${why//$'\n'/ }): VM images ${missing[*]} not built, the vm tests skip"
        echo "mirror-unreachable $line" > "$STATUS"
        echo "vm-images: SKIP: $line" >&2
        exit 75
fi

echo "vm-images: building ${missing[*]} (log: $LOG)"
bash "$HERE/build-image.sh" "${missing[@]}" > >(tee "$LOG") 2>&1
rc=$?
if [ $rc -eq 0 ]; then
        echo ok > "$STATUS"
        exit 0
fi
last=$(grep -v '^[[:space:]]*$' "$LOG" | tail -n 1)
line="build-image.sh ${missing[*]} exited $rc with the mirror reachable: ${last:-no output} (log: $LOG)"
echo "failed $line" > "$STATUS"
echo "vm-images: FAIL: $line" >&2
exit 1
