#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Applies units/tmpfiles-azl-agent.conf with systemd-tmpfiles to a scratch root and checks the result: every
# path the agent service may write (ReadWritePaths= of azl-agent.service, minus optional "-" paths) exists
# afterwards with the mode the agent relies on, owned by root. systemd-tmpfiles must not print anything.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need systemd-tmpfiles stat

conf=$AZL_SOURCE_ROOT/units/tmpfiles-azl-agent.conf
root=$scratch/root
mkdir -p "$root"
out=$(systemd-tmpfiles --root="$root" --create "$conf" 2>&1) || fail "systemd-tmpfiles failed: $out"
[[ -z $out ]] || fail "systemd-tmpfiles printed: $out"

check() { # path mode
        [[ -d $root$1 ]] || fail "$1 was not created"
        local got
        got=$(stat -c '%a %U %G' "$root$1")
        [[ $got == "$2 root root" ]] || fail "$1 is '$got', want '$2 root root'"
        echo "ok: $1 $got"
}
check /var/lib/azl-agent 700
check /var/lib/waagent 700
check /var/log/azure 755
check /run/azl-agent 755

# Every mandatory ReadWritePaths= entry of the daemon must come from this file (or the unit fails to start
# with a namespace error when the directory is missing).
rw=$(sed -n 's/^ReadWritePaths=//p' "$AZL_SOURCE_ROOT/units/azl-agent.service.in")
[[ -n $rw ]] || fail "azl-agent.service.in has no ReadWritePaths="
for p in $rw; do
        [[ $p == -* ]] && continue
        [[ -d $root$p ]] || fail "ReadWritePaths=$p is not created by tmpfiles-azl-agent.conf"
done
echo "ok: every mandatory ReadWritePaths= entry is created"

# StateDirectory= and Extensions.Directory= defaults are among them.
mkdir -p "$scratch/empty"
for key in StateDirectory Directory; do
        v=$("$AZL_AGENT" --root "$scratch/empty" config | sed -n "s/^$key=//p")
        [[ -n $v ]] || fail "azl-agent config prints no $key="
        [[ " $rw " == *" $v "* ]] || fail "default $key=$v is not in azl-agent.service ReadWritePaths="
done
echo "ok: default StateDirectory= and [Extensions] Directory= are writable for the daemon"
