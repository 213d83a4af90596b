#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "privileged" (tests/vm): on enable, does what real extensions (VMAccess, CustomScript) do and what
# the agent's own sandbox forbids (issue #17 §7) — writes /etc, runs a setgid tool as an unprivileged user (chage
# reads /etc/shadow through its setgid bit, which no_new_privs would ignore) — and records what it could, plus
# its no_new_privs/seccomp/capability bounding set, into its directory. Reports success only if all of it worked.
op="$1"
dir="$AZURE_GUEST_AGENT_EXTENSION_PATH"
[ "$op" = enable ] || exit 0
ok=success
echo "written by the privileged test extension, seq $ConfigSequenceNumber" > /etc/azl-ext-probe.conf || ok=error
grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/self/status > "$dir/proc-status.txt"
setpriv --reuid=65534 --regid=65534 --clear-groups chage -l nobody > "$dir/chage.txt" 2>&1
rc=$?
echo "rc=$rc" >> "$dir/chage.txt"
[ "$rc" -eq 0 ] || ok=error
cat /proc/self/cgroup > "$dir/cgroup-enable.txt" 2>/dev/null
mkdir -p status
printf '[{"version": 1.0, "timestampUTC": "2026-11-21T00:00:00Z", "status": {"name": "Privileged", "operation": "Enable", "status": "%s", "code": 0, "formattedMessage": {"lang": "en-US", "message": "etc and setgid: %s"}}}]' \
        "$ok" "$ok" > "status/$ConfigSequenceNumber.status"
exit 0
