#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `systemd-analyze security --offline` on the two services (works without systemd as PID 1):
#  * azl-agent.service must NOT restrict what its children inherit: extension handlers run in transient scopes
#    around processes the daemon forks, so a private mount namespace, no_new_privs, a seccomp filter, a
#    capability bounding set or MemoryDenyWriteExecute would break extensions (VMAccess writes /home,
#    CustomScript runs setuid tools and JIT runtimes). Hardening comes back with transient services;
#  * azl-provision.service must NOT get a private mount namespace or a device policy: it mounts the resource
#    disk and swap for the whole system and writes /etc and /home, and NoNewPrivileges= would break SELinux
#    transitions of useradd/passwd. Adding any of those options fails here, with the reason.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need systemd-analyze
command -v "${PYTHON:-python3}" >/dev/null || skip "python3 missing"
systemd-analyze security --help 2>/dev/null | grep -q -- '--offline' || skip "systemd-analyze has no --offline"
export SYSTEMD_LOG_LEVEL=err SYSTEMD_LOG_COLOR=0 LC_ALL=C.UTF-8

root=$scratch/root
mkdir -p "$root/usr/lib/systemd/system" "$root/usr/bin" "$root/bin"
for u in azl-agent.service azl-provision.service; do
        render_unit "$AZL_SOURCE_ROOT/units/$u.in" /usr/bin "$root/usr/lib/systemd/system/$u"
done
cp "$AZL_SOURCE_ROOT"/units/*.slice "$root/usr/lib/systemd/system/"
install -m 0755 "$AZL_AGENT" "$root/usr/bin/azl-agent"
install -m 0755 /bin/sh "$root/bin/sh"

analyze() { # unit [args]
        systemd-analyze security --offline=yes --root="$root" --no-pager "$@"
}

check_fields() { # unit expected(true|false) field… ; "set" is true when the secure setting is in effect
        local unit=$1 want=$2
        shift 2
        analyze --json=short "$unit" | "${PYTHON:-python3}" -c '
import json, sys
want = sys.argv[1] == "true"
rows = {r["json_field"]: r for r in json.load(sys.stdin)}
bad = []
for f in sys.argv[2:]:
    r = rows.get(f)
    if r is None:
        bad.append(f + " (not reported by this systemd)")
    elif r["set"] is not want:
        bad.append(f + ": " + r["description"])
if bad:
    print("\n".join(bad))
    sys.exit(1)
' "$want" "$@"
}

if ! msg=$(check_fields azl-agent.service false ProtectSystem ProtectHome PrivateTmp PrivateMounts NoNewPrivileges \
        SystemCallFilter_privileged SystemCallFilter_mount RestrictSUIDSGID MemoryDenyWriteExecute CapabilityBoundingSet_CAP_SYS_ADMIN \
        RestrictAddressFamilies_AF_PACKET 2>&1); then
        fail "azl-agent.service must not sandbox what extension handlers inherit (they run in scopes around
processes the daemon forks; see the unit):
$msg"
fi
echo "ok: azl-agent.service leaves extension handlers the whole system"

if ! msg=$(check_fields azl-provision.service false PrivateTmp PrivateDevices PrivateMounts ProtectSystem \
        ProtectHome ProtectKernelTunables ProtectKernelLogs ProtectControlGroups ProtectClock DeviceAllow \
        ProtectHostname NoNewPrivileges RootDirectoryOrRootImage 2>&1); then
        fail "azl-provision.service must not be namespaced or device-restricted (resource disk mount, /etc,
/home, SELinux transitions; see the unit's header):
$msg"
fi
echo "ok: azl-provision.service keeps the host mount namespace, devices and SELinux transitions"
