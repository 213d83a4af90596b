#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "recorder": appends "<operation> <version>[ <instance>]" to $AZL_TEST_RECORD (the agent's
# own environment is merged over the handler's, wire protocol §4.4), dumps the §4.4 variables and the
# settings file it was given into its directory, reports success on enable, and fails (exit 7) for the
# operations listed in $AZL_TEST_FAIL.
op="$1"
dir="$AZURE_GUEST_AGENT_EXTENSION_PATH"
ver="$AZURE_GUEST_AGENT_EXTENSION_VERSION"
inst="${ConfigExtensionName:+-$ConfigExtensionName}"
prefix="${ConfigExtensionName:+$ConfigExtensionName.}"
if [ -n "$AZL_TEST_RECORD" ]; then
        echo "$op $ver${ConfigExtensionName:+ $ConfigExtensionName}" >> "$AZL_TEST_RECORD"
fi
env | grep -E '^(AZURE_GUEST_AGENT_|ConfigSequenceNumber=|ConfigExtensionName=|VERSION=)' | LC_ALL=C sort \
        > "$dir/env-$op$inst.txt"
pwd > "$dir/cwd-$op$inst.txt"
settings="config/$prefix$ConfigSequenceNumber.settings"
if [ -f "$settings" ]; then
        cp "$settings" "$dir/settings-seen-$op$inst.json"
fi
if [ "$op" = enable ]; then
        mkdir -p status
        echo "$ConfigSequenceNumber" > mrseq
        printf '[{"version": 1.0, "timestampUTC": "2026-11-21T00:00:00Z", "status": {"name": "Recorder", "operation": "Enable", "status": "success", "code": 0, "formattedMessage": {"lang": "en-US", "message": "enabled %s"}}}]' \
                "$ver" > "status/$prefix$ConfigSequenceNumber.status"
fi
echo "recorder $op stdout"
echo "recorder $op stderr" >&2
case " $AZL_TEST_FAIL " in
*" $op "*) exit 7 ;;
esac
exit 0
