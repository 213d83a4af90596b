#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The azl-agent CLI end to end on fake roots: platform detection (Azure with the Gen1 VM-id byte swap, not
# Azure, WSL), configuration diagnostics naming file:line, endpoint refusal, and verbs not implemented yet.
set -u
agent=${AZL_AGENT:?}
fail=0
n=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # check NAME CONDITION-RESULT (TAP)
        n=$((n + 1))
        if [ "$2" = 0 ]; then echo "ok - $1"; else echo "not ok - $1"; fail=1; fi
}

mkdir -p "$tmp/azure/sys/class/dmi/id" "$tmp/plain" "$tmp/wsl/proc/sys/kernel"
echo 7783-7084-3265-9085-8269-3286-77 > "$tmp/azure/sys/class/dmi/id/chassis_asset_tag"
echo A6D4E2D5-7E61-4A33-9C1E-0123456789AB > "$tmp/azure/sys/class/dmi/id/product_uuid"
echo 5.15.167.4-microsoft-standard-WSL2 > "$tmp/wsl/proc/sys/kernel/osrelease"

out=$("$agent" --root "$tmp/azure" detect); rc=$?
check "detect on Azure exits 0" $rc
echo "$out" | grep -qx 'platform: azure'; check "detect says azure" $?
echo "$out" | grep -qx 'vm-id: d5e2d4a6-617e-334a-9c1e-0123456789ab'; check "Gen1 VM id is byte-swapped" $?
echo "$out" | grep -q '^azure-endpoints: allowed'; check "endpoints allowed on Azure" $?

out=$("$agent" --root "$tmp/plain" detect); rc=$?
[ $rc = 4 ]; check "detect off Azure exits 4" $?
echo "$out" | grep -qx 'platform: none'; check "detect says none" $?
echo "$out" | grep -q '^azure-endpoints: refused (not running on Azure'; check "endpoints refused off Azure with reason" $?

out=$("$agent" --root "$tmp/wsl" detect); rc=$?
echo "$out" | grep -qx 'platform: wsl'; check "detect says wsl" $?
echo "$out" | grep -q '^azure-endpoints: refused (running under WSL'; check "endpoints refused on WSL" $?

mkdir -p "$tmp/plain/etc/azl-agent/agent.conf.d"
printf '[Endpoints]\nIMDS=http://127.0.0.1:1\n' > "$tmp/plain/etc/azl-agent/agent.conf.d/10-test.conf"
out=$("$agent" --root "$tmp/plain" detect); rc=$?
echo "$out" | grep -q '^azure-endpoints: allowed (endpoints configured explicitly'; check "explicit endpoints allowed" $?
[ $rc = 0 ]; check "detect exits 0 when endpoints are configured (test rigs)" $?

printf '[Agent]\nLogLevel=info\nColour=yes\n[Timeouts]\n\nIMDSDeadlineSec=forever\n' > "$tmp/plain/etc/azl-agent/agent.conf"
err=$("$agent" --root "$tmp/plain" config 2>&1 >/dev/null); rc=$?
[ $rc != 0 ]; check "bad value makes the agent refuse to run" $?
echo "$err" | grep -q "/etc/azl-agent/agent.conf:3: unknown key 'Colour' in section \[Agent\]"; check "unknown key warns with file:line" $?
echo "$err" | grep -q "/etc/azl-agent/agent.conf:6: invalid value 'forever' for Timeouts.IMDSDeadlineSec"; check "bad value errors with file:line" $?

"$agent" --root "$tmp/azure" config > "$tmp/dump.conf"
"$agent" --root "$tmp/azure" --config "$tmp/dump.conf" config > /dev/null 2>&1; check "config output reads back as a configuration" $?

printf '[Timeouts]\nIMDSDeadlineSec=90\n' > "$tmp/plain/etc/azl-agent/agent.conf"
printf '[Timeouts]\nIMDSDeadlineSec=45\n' > "$tmp/extra.conf"
out=$("$agent" --root "$tmp/plain" --config "$tmp/extra.conf" config)
echo "$out" | grep -qx 'IMDSDeadlineSec=45'; check "--config is read last" $?

"$agent" --root "$tmp/plain" frobnicate >/dev/null 2>&1; rc=$?
[ $rc = 1 ]; check "unknown verb fails" $?
"$agent" --version | grep -q '^azl-agent [0-9]'; check "--version" $?
"$agent" --help | grep -q 'provision'; check "--help lists verbs" $?

echo "1..$n"
exit $fail
