#!/bin/bash
# SPDX-License-Identifier: MIT
# Validates units/udev/80-azl-azure-disk.rules: `udevadm verify` when this udev has it (systemd >= 253),
# and always a structural lint: every line parses as udev key/operator/value tokens with known keys,
# every GOTO has its LABEL, both LUN tables are complete (SCSI 0-63, NVMe nsid 2-65 -> LUN 0-63), no shell
# or helper program is run, and the /dev/disk/azure names azure-vm-utils/waagent users rely on are made.
set -euo pipefail
rules="${AZL_SOURCE_ROOT:-$(dirname "$0")/../..}/units/udev/80-azl-azure-disk.rules"
[[ -r "$rules" ]] || { echo "missing $rules"; exit 1; }
fail() { echo "FAIL: $*"; exit 1; }

if command -v udevadm >/dev/null && udevadm verify --help >/dev/null 2>&1; then
        udevadm verify --resolve-names=never "$rules" || fail "udevadm verify"
        echo "udevadm verify: ok"
else
        echo "udevadm verify unavailable (systemd < 253); structural lint only"
fi

keys='ACTION|SUBSYSTEM|SUBSYSTEMS|KERNEL|KERNELS|ENV\{[A-Za-z_]+\}|ATTR\{[A-Za-z_/]+\}|ATTRS\{[A-Za-z_/]+\}|SYMLINK|GOTO|LABEL|DEVTYPE'
token="($keys)(==|!=|=|\+=)\"[^\"]*\""
n=0
while IFS= read -r line; do
        n=$((n + 1))
        [[ -z "$line" || "$line" == \#* ]] && continue
        rest="$line"
        while [[ -n "$rest" ]]; do
                [[ "$rest" =~ ^$token(,\ )?(.*)$ ]] || fail "line $n does not parse: $rest"
                rest="${BASH_REMATCH[4]}"
        done
done < "$rules"
echo "lint: $n lines parse"

grep -Eq 'PROGRAM|IMPORT\{program\}|RUN' "$rules" && fail "rules must not run programs"
for g in $(grep -o 'GOTO="[a-z_]*"' "$rules" | sort -u | cut -d'"' -f2); do
        grep -q "^LABEL=\"$g\"" "$rules" || fail "GOTO $g has no LABEL"
done
for i in $(seq 0 63); do
        grep -qF "KERNELS==\"*:*:*:$i\", SUBSYSTEMS==\"scsi\", ENV{AZURE_DISK_LUN}=\"$i\"" "$rules" || fail "SCSI LUN $i"
        grep -qF "ATTRS{nsid}==\"$((i + 2))\", ENV{AZURE_DISK_TYPE}=\"data\", ENV{AZURE_DISK_LUN}=\"$i\"" "$rules" ||
                fail "NVMe nsid $((i + 2))"
done
for link in 'disk/azure/root"' 'disk/azure/$env{AZURE_DISK_TYPE}"' 'disk/azure/data/by-lun/$env{AZURE_DISK_LUN}"' \
            'disk/azure/scsi1/lun$env{AZURE_DISK_LUN}"' 'disk/azure/root-part%n"'; do
        grep -qF "SYMLINK+=\"$link" "$rules" || fail "no symlink $link"
done
# Gen1 and Gen2 resource disk identification (VMBus GUIDs)
grep -qF 'ATTRS{device_id}=="?00000000-0001-*", ENV{AZURE_DISK_TYPE}="resource"' "$rules" || fail "Gen1 resource"
grep -qF 'ATTRS{device_id}=="{f8b3781a-1e82-4818-a1c3-63d806ec15bb}", ENV{AZURE_DISK_LUN}=="1", ENV{AZURE_DISK_TYPE}="resource"' \
        "$rules" || fail "Gen2 resource"
echo "ok"
