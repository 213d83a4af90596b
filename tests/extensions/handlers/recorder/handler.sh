#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "recorder": appends "<operation> <version>[ <instance>]" to $AZL_TEST_RECORD (the agent's
# own environment is merged over the handler's, wire protocol §4.4), dumps the §4.4 variables and the
# settings file it was given and its cgroup (plus, under systemd, its unit's limits) into its directory,
# reports success on enable, and fails (exit 7) for the operations listed in $AZL_TEST_FAIL. With
# $AZL_TEST_STATUS_DELAY=<seconds>, enable reports "transitioning" and a background process turns it into
# "success" that much later, recording "status-success <version>[ <instance>]". With $AZL_TEST_PROBE=<path>,
# "<operation> <version> saw the probe" follows the operation's line when that path exists (enable waits up to
# 0.5 s for it to appear).
op="$1"
dir="$AZURE_GUEST_AGENT_EXTENSION_PATH"
ver="$AZURE_GUEST_AGENT_EXTENSION_VERSION"
inst="${ConfigExtensionName:+-$ConfigExtensionName}"
prefix="${ConfigExtensionName:+$ConfigExtensionName.}"
if [ -n "$AZL_TEST_RECORD" ]; then
        echo "$op $ver${ConfigExtensionName:+ $ConfigExtensionName}" >> "$AZL_TEST_RECORD"
        # $AZL_TEST_PROBE: a path the agent may make while this command runs (enable waits 0.5 s for it)
        if [ -n "$AZL_TEST_PROBE" ]; then
                i=0
                while [ "$op" = enable ] && [ ! -e "$AZL_TEST_PROBE" ] && [ $i -lt 10 ]; do
                        sleep 0.05
                        i=$((i + 1))
                done
                if [ -e "$AZL_TEST_PROBE" ]; then
                        echo "$op $ver saw the probe" >> "$AZL_TEST_RECORD"
                fi
        fi
fi
env | grep -E '^(AZURE_GUEST_AGENT_|ConfigSequenceNumber=|ConfigExtensionName=|VERSION=)' | LC_ALL=C sort \
        > "$dir/env-$op$inst.txt"
pwd > "$dir/cwd-$op$inst.txt"
# Where the command runs (§4.10): the cgroup, and with systemd as PID 1 the limits of its transient unit, read
# while the unit exists.
cat /proc/self/cgroup > "$dir/cgroup-$op$inst.txt" 2>/dev/null
if [ -d /run/systemd/system ] && command -v systemctl > /dev/null; then
        unit=$(sed -n 's|^0::.*/||p' /proc/self/cgroup)
        systemctl show -p Id -p Slice -p MemoryMax -p CPUQuotaPerSecUSec -p KillMode "$unit" > "$dir/unit-$op$inst.txt" 2>&1
fi
settings="config/$prefix$ConfigSequenceNumber.settings"
if [ -f "$settings" ]; then
        cp "$settings" "$dir/settings-seen-$op$inst.json"
fi
# Protected settings (§4.3) decrypted as real extensions do, with the tenant certificate the agent wrote next to
# the handler directory (<thumb>.crt/.prv, §1.6): the plaintext goes to protected-seen-<op>.json, openssl's
# complaint to protected-error-<op>.txt.
thumb=$(sed -n 's/.*"protectedSettingsCertThumbprint": *"\([0-9A-Fa-f]*\)".*/\1/p' "$settings" 2>/dev/null)
blob=$(sed -n 's/.*"protectedSettings": *"\([A-Za-z0-9+\/=\\]*\)".*/\1/p' "$settings" 2>/dev/null | tr -d '\\')
if [ -n "$thumb" ] && [ -n "$blob" ] && command -v openssl > /dev/null; then
        rm -f "$dir/protected-seen-$op$inst.json" "$dir/protected-error-$op$inst.txt"
        if ! { printf '%s' "$blob" | base64 -d | openssl smime -decrypt -inform DER -recip "$dir/../$thumb.crt" \
                        -inkey "$dir/../$thumb.prv"; } > "$dir/protected-seen-$op$inst.json" \
                        2> "$dir/protected-error-$op$inst.txt"; then
                rm -f "$dir/protected-seen-$op$inst.json"
        fi
fi
write_status() {
        printf '[{"version": 1.0, "timestampUTC": "2026-11-21T00:00:00Z", "status": {"name": "Recorder", "operation": "Enable", "status": "%s", "code": 0, "formattedMessage": {"lang": "en-US", "message": "%s %s"}}}]' \
                "$1" "$2" "$ver" > "$status.tmp" && mv -f "$status.tmp" "$status"
}
if [ "$op" = enable ]; then
        mkdir -p status
        echo "$ConfigSequenceNumber" > mrseq
        status="status/$prefix$ConfigSequenceNumber.status"
        if [ -n "$AZL_TEST_STATUS_DELAY" ]; then
                # Terminal status only after enable has returned, from a background process (§4.6 dependency wait).
                write_status transitioning enabling
                (
                        sleep "$AZL_TEST_STATUS_DELAY"
                        write_status success enabled
                        [ -n "$AZL_TEST_RECORD" ] &&
                                echo "status-success $ver${ConfigExtensionName:+ $ConfigExtensionName}" >> "$AZL_TEST_RECORD"
                ) < /dev/null > /dev/null 2>&1 &
        else
                write_status success enabled
        fi
fi
echo "recorder $op stdout"
echo "recorder $op stderr" >&2
case " $AZL_TEST_FAIL " in
*" $op "*) exit 7 ;;
esac
exit 0
