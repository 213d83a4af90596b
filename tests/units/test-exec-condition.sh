#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The ExecCondition= line of the services after Ready, run the way systemd runs it: `azl-agent detect` exiting 0
# (Azure) must start the unit, 4 (not Azure) and other 2–254 must skip it, and 1 (invalid configuration or another
# error) must become 255 so that the unit fails instead of being skipped. Also runs the line against the real
# binary on this machine, whose exit status must pass through unchanged (0, or 4 off Azure).
# azl-provision.service has no ExecCondition= (a second start of the agent on Ready's path, issue #21):
# `azl-agent provision` exits 4 off Azure, which its SuccessExitStatus=4 makes a success — checked here against the
# built binary on a scratch root, where no asset tag is visible.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

condition_of() { # unit-template bindir
        local line
        line=$(grep '^ExecCondition=' "$1") || fail "$1 has no ExecCondition="
        [[ $(grep -c '^ExecCondition=' "$1") -eq 1 ]] || fail "$1 has more than one ExecCondition="
        line=${line#ExecCondition=}
        line=${line#+}  # '+': run outside the unit's sandbox (azl-agent.service); the command line is the same
        line=${line//@bindir@/$2}
        # systemd turns "$$" into "$" before handing the command line over; other "$" would be expanded by it.
        grep -q '\$[^$]' <<<"${line//\$\$/}" && fail "$1: unescaped \$ in ExecCondition= (systemd would expand it)"
        printf '%s' "${line//\$\$/\$}"
}

run_condition() { # command-line: systemd splits it like a shell word list; only the '…' quoting is used here
        local cmdline=$1
        [[ $cmdline =~ ^/bin/sh\ -c\ \'(.*)\'$ ]] || fail "unexpected ExecCondition= form: $cmdline"
        local rc=0
        /bin/sh -c "${BASH_REMATCH[1]}" >/dev/null 2>&1 || rc=$?
        echo "$rc"
}

fake=$scratch/bin
mkdir -p "$fake"
cat >"$fake/azl-agent" <<'SH'
#!/bin/sh
[ "$1" = detect ] || exit 99
exit "${FAKE_DETECT_RC:?}"
SH
chmod 0755 "$fake/azl-agent"

tmpl=$AZL_SOURCE_ROOT/units/azl-provision.service.in
grep -q '^ExecCondition=' "$tmpl" && fail "azl-provision.service has an ExecCondition= again"
grep -qx 'SuccessExitStatus=4' "$tmpl" || fail "azl-provision.service lacks SuccessExitStatus=4"
mkdir -p "$scratch/root/etc"
rc=0
netns=(); unshare --net true 2>/dev/null && netns=(unshare --net) # nothing is sent either way: belt and braces
"${netns[@]}" "$AZL_AGENT" --root "$scratch/root" provision >"$scratch/provision.out" 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "azl-agent provision off Azure exited $rc, want 4: $(cat "$scratch/provision.out")"
grep -q "Not provisioning" "$scratch/provision.out" || fail "no 'Not provisioning' line: $(cat "$scratch/provision.out")"
echo "ok: azl-provision.service: no condition; provision off Azure exits 4 (SuccessExitStatus=4)"

for unit in azl-agent.service azl-userdata.service; do
        tmpl=$AZL_SOURCE_ROOT/units/$unit.in
        cmd=$(condition_of "$tmpl" "$fake")
        for pair in 0:0 4:4 1:255 2:2 3:3 254:254; do
                want=${pair#*:}
                got=$(FAKE_DETECT_RC=${pair%%:*} run_condition "$cmd")
                [[ $got == "$want" ]] || fail "$unit: detect exiting ${pair%%:*} gave condition status $got, want $want"
        done
        echo "ok: $unit condition maps 0→start, 1→fail(255), 2..254→skip"

        # The real binary, here.
        real_dir=$(dirname "$AZL_AGENT")
        cmd=$(condition_of "$tmpl" "$real_dir")
        expected=0
        "$AZL_AGENT" detect >/dev/null 2>&1 || expected=$?
        [[ $expected == 0 || $expected == 4 ]] || fail "azl-agent detect exits $expected on this machine"
        got=$(run_condition "$cmd")
        [[ $got == "$expected" ]] || fail "$unit: condition with the real binary gave $got, detect gave $expected"
        echo "ok: $unit condition with the built binary: $got"
done
