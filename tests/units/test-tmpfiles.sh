#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Applies units/tmpfiles-azl-agent.conf with systemd-tmpfiles to a scratch root and checks the result: every
# directory the agent writes exists afterwards with the mode the agent relies on, owned by root.
# systemd-tmpfiles must not print anything.
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
check /run/azl-agent/secrets 700

