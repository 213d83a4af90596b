#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Validates the committed expected .network files with systemd-networkd itself. For each scenario under
# tests/network/expected/, a private network + mount namespace gets a tmpfs /run holding the files, one veth per
# MAC they mention (plus its peer), and a read-only sysfs of its own; systemd-networkd runs there for a few
# seconds with debug logging. Checks:
#   - networkd reports no parse problem for any of our files (a deliberately bad control file must be reported,
#     proving that the check can fail);
#   - every NIC is configured with its 10-azl-<mac>.network (the veth driver is not a VF driver, so the
#     Driver=!… guard lets it through and the 05-azl-vf- file does not take it);
#   - the static secondary addresses (Address=) show up on the right link.
# The namespaces have no uplink: DHCP from networkd stays on the veth pairs. Exit 77 when this cannot run.
set -u

src="${AZL_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
networkd=""
for p in /usr/lib/systemd/systemd-networkd /lib/systemd/systemd-networkd; do
        [ -x "$p" ] && networkd="$p" && break
done
[ "$(id -u)" = 0 ] || { echo "skipped: needs root"; exit 77; }
[ -n "$networkd" ] || { echo "skipped: systemd-networkd not installed"; exit 77; }
id systemd-network >/dev/null 2>&1 || { echo "skipped: no systemd-network user"; exit 77; }
unshare --net --mount true 2>/dev/null || { echo "skipped: cannot create namespaces"; exit 77; }

run_scenario() {
        local dir="$1"
        # shellcheck disable=SC2016
        unshare --net --mount --fork bash -c '
                set -eu
                dir="$1"; networkd="$2"
                mount -t tmpfs tmpfs /run
                mkdir -p /run/systemd/network
                cp "$dir"/run/systemd/network/*.network /run/systemd/network/
                printf "[Match]\nName=nothing-here\n\n[Network]\nNoSuchKey=1\n" > /run/systemd/network/99-control.network
                mount -t sysfs -o ro sysfs /sys
                i=0
                for mac in $(sed -n "s/^MACAddress=//p" /run/systemd/network/10-azl-*.network); do
                        ip link add "nic$i" type veth peer name "peer$i"
                        ip link set "nic$i" address "$mac"
                        ip link set "peer$i" up
                        i=$((i + 1))
                done
                SYSTEMD_LOG_LEVEL=debug SYSTEMD_LOG_TARGET=console "$networkd" > /run/networkd.log 2>&1 &
                pid=$!
                for _ in $(seq 30); do
                        grep -q "Setting addresses" /run/networkd.log 2>/dev/null && [ "$(grep -c "Configuring with" /run/networkd.log)" -ge "$i" ] && break
                        sleep 0.2
                done
                sleep 1
                echo "=== log"; cat /run/networkd.log
                echo "=== addr"; ip -o addr show
                echo "=== links"; ip -o link show
                kill "$pid"; wait "$pid" 2>/dev/null || true
        ' _ "$dir" "$networkd"
}

fail=0
for dir in "$src"/tests/network/expected/*/; do
        name=$(basename "$dir")
        out=$(run_scenario "$dir")
        log=$(printf '%s\n' "$out" | sed -n '/^=== log/,/^=== addr/p')
        addr=$(printf '%s\n' "$out" | sed -n '/^=== addr/,/^=== links/p')
        links=$(printf '%s\n' "$out" | sed -n '/^=== links/,$p')

        if ! grep -q "99-control.network:.*NoSuchKey" <<< "$log"; then
                echo "FAIL $name: networkd did not report the control file; cannot validate"; fail=1; continue
        fi
        if grep -E "^/run/systemd/network/[0-9]+-azl-[^:]*:" <<< "$log"; then
                echo "FAIL $name: networkd reported problems in our files"; fail=1
        fi
        for f in "$dir"run/systemd/network/10-azl-*.network; do
                base=$(basename "$f")
                mac=$(sed -n 's/^MACAddress=//p' "$f")
                nic=$(grep -F "link/ether $mac " <<< "$links" | head -1 | awk '{print $2}' | sed 's/[:@].*//')
                if ! grep -q "^$nic: Configuring with /run/systemd/network/$base" <<< "$log"; then
                        echo "FAIL $name: $nic ($mac) not configured with $base"; fail=1
                fi
                for a in $(sed -n 's/^Address=//p' "$f"); do
                        if ! grep -qE "^[0-9]+: $nic +inet6? $a " <<< "$addr"; then
                                echo "FAIL $name: $a missing on $nic"; fail=1
                        fi
                done
        done
        if grep -q "Configuring with /run/systemd/network/05-azl-vf-" <<< "$log"; then
                echo "FAIL $name: a veth matched a VF file"; fail=1
        fi
        [ $fail = 0 ] && echo "ok $name"
done
exit $fail
