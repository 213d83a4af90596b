#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `systemd-analyze security --offline` on the two services (works without systemd as PID 1):
#  * azl-agent.service is confined (issue #17 §7): extension handlers run as transient services that systemd spawns
#    (extensions/ext-spawn.h), so nothing of the daemon's sandbox reaches them. The sandbox options must be in effect
#    and the overall exposure must stay at most 4.5 (it was 9.6 unconfined); the daemon's writable paths must be the
#    ones tmpfiles creates;
#  * azl-provision.service must NOT get a private mount namespace or a device policy: it mounts the resource disk
#    and swap for the whole system and writes /etc and /home, and NoNewPrivileges= would break SELinux
#    transitions of useradd/passwd. Everything that needs none of those is on (system call filter, address
#    families, namespaces, capability bounding set): at most 6.0 (it was 9.3). Adding or dropping any of those
#    fails here, with the reason.
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

exposure() { # unit → "2.2"
        analyze "$1" | sed -n 's/^→ Overall exposure level for .*: \([0-9.]*\) .*/\1/p'
}

at_most() { # value limit
        "${PYTHON:-python3}" -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= float(sys.argv[2]) else 1)' "$1" "$2"
}

if ! msg=$(check_fields azl-agent.service true ProtectSystem ProtectHome PrivateTmp PrivateDevices PrivateMounts \
        NoNewPrivileges ProtectKernelTunables ProtectKernelModules ProtectKernelLogs ProtectControlGroups ProtectClock \
        ProtectHostname ProtectProc RestrictSUIDSGID MemoryDenyWriteExecute LockPersonality RestrictRealtime \
        SystemCallArchitectures SystemCallFilter_mount SystemCallFilter_module SystemCallFilter_reboot \
        SystemCallFilter_swap SystemCallFilter_raw_io SystemCallFilter_clock SystemCallFilter_debug \
        SystemCallFilter_obsolete SystemCallFilter_cpu_emulation SystemCallFilter_resources \
        RestrictNamespaces_user RestrictNamespaces_mnt RestrictNamespaces_net RestrictAddressFamilies_AF_PACKET \
        RestrictAddressFamilies_OTHER CapabilityBoundingSet_CAP_SYS_ADMIN CapabilityBoundingSet_CAP_SYS_MODULE \
        CapabilityBoundingSet_CAP_SYS_PTRACE CapabilityBoundingSet_CAP_SYS_RAWIO CapabilityBoundingSet_CAP_SYS_TIME \
        CapabilityBoundingSet_CAP_SET_UID_GID_PCAP CapabilityBoundingSet_CAP_CHOWN_FSETID_SETFCAP \
        CapabilityBoundingSet_CAP_SYS_CHROOT CapabilityBoundingSet_CAP_MKNOD AmbientCapabilities 2>&1); then
        fail "azl-agent.service lost part of its sandbox (units/azl-agent.service.in, docs/security.md):
$msg"
fi
agent=$(exposure azl-agent.service)
at_most "$agent" 4.5 || fail "azl-agent.service: exposure $agent, more than 4.5"
echo "ok: azl-agent.service is confined, exposure $agent"

# Its writable paths are exactly what the daemon writes, and tmpfiles creates them before it starts (a missing
# ReadWritePaths= entry would fail the unit; '-' only for networkd's runtime directory).
rw=$(sed -n 's/^ReadWritePaths=//p' "$root/usr/lib/systemd/system/azl-agent.service")
[ "$rw" = "/var/lib/waagent /var/lib/azl-agent /var/log/azure /run/azl-agent -/run/systemd/network" ] ||
        fail "azl-agent.service ReadWritePaths= is '$rw'"
for d in /var/lib/waagent /var/lib/azl-agent /var/log/azure /run/azl-agent; do
        grep -Eq "^d +$d " "$AZL_SOURCE_ROOT/units/tmpfiles-azl-agent.conf" ||
                fail "$d is writable for azl-agent.service but not created by tmpfiles"
done
echo "ok: azl-agent.service writes only the agent's directories"

if ! msg=$(check_fields azl-provision.service false PrivateTmp PrivateDevices PrivateMounts ProtectSystem \
        ProtectHome ProtectKernelTunables ProtectKernelLogs ProtectControlGroups ProtectClock DeviceAllow \
        ProtectHostname NoNewPrivileges RootDirectoryOrRootImage 2>&1); then
        fail "azl-provision.service must not be namespaced or device-restricted (resource disk mount, /etc,
/home, SELinux transitions; see the unit's header):
$msg"
fi
echo "ok: azl-provision.service keeps the host mount namespace, devices and SELinux transitions"

if ! msg=$(check_fields azl-provision.service true RestrictRealtime LockPersonality SystemCallArchitectures \
        RestrictSUIDSGID MemoryDenyWriteExecute RestrictNamespaces_user RestrictNamespaces_mnt RestrictNamespaces_net \
        RestrictAddressFamilies_AF_PACKET RestrictAddressFamilies_OTHER SystemCallFilter_module SystemCallFilter_reboot \
        SystemCallFilter_raw_io SystemCallFilter_clock SystemCallFilter_debug SystemCallFilter_obsolete \
        SystemCallFilter_cpu_emulation CapabilityBoundingSet_CAP_SYS_MODULE CapabilityBoundingSet_CAP_SYS_TIME \
        CapabilityBoundingSet_CAP_SYS_PTRACE CapabilityBoundingSet_CAP_SYS_RAWIO CapabilityBoundingSet_CAP_SYS_BOOT \
        CapabilityBoundingSet_CAP_BPF CapabilityBoundingSet_CAP_SYSLOG AmbientCapabilities 2>&1); then
        fail "azl-provision.service lost a restriction that provisioning does not need:
$msg"
fi
prov=$(exposure azl-provision.service)
at_most "$prov" 6.0 || fail "azl-provision.service: exposure $prov, more than 6.0"
echo "ok: azl-provision.service is as tight as provisioning allows, exposure $prov"
