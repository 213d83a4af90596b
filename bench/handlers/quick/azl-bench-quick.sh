#!/bin/bash
# SPDX-License-Identifier: MIT
# Benchmark extension "quick" (bench/extbench.py): does nothing but what every handler must do — on enable
# write a success status file for $ConfigSequenceNumber — and records its own cost without forking:
# "<handler dir> <operation> <start epoch s> <end epoch s>" then the `times` builtin's two lines (own and
# children's user/sys CPU) then the write_bytes/wchar of /proc/self/io, one file per invocation in
# $AZL_BENCH_HANDLER_DIR (left unset: nothing is recorded). The agent's environment reaches the handler
# (wire protocol §4.4: the agent merges its own environment over the handler's). With $AZL_BENCH_HANDLER_WORK=<s>
# it also works that long (a sleep) between its start and end times.
t0=$EPOCHREALTIME
op=$1
if [ -n "$AZL_BENCH_HANDLER_WORK" ]; then
        sleep "$AZL_BENCH_HANDLER_WORK"
fi
if [ "$op" = enable ]; then
        [ -d status ] || mkdir -p status
        printf '[{"version": 1.0, "timestampUTC": "2026-01-01T00:00:00Z", "status": {"name": "BenchQuick", "operation": "Enable", "status": "success", "code": 0, "formattedMessage": {"lang": "en-US", "message": "quick %s"}}}]\n' \
                "$op" > "status/${ConfigSequenceNumber:-0}.status"
fi
if [ -n "$AZL_BENCH_HANDLER_DIR" ]; then
        wb=0 wc=0
        while read -r k v; do
                case $k in
                write_bytes:) wb=$v ;;
                wchar:) wc=$v ;;
                esac
        done < /proc/self/io
        t1=$EPOCHREALTIME
        d=${AZURE_GUEST_AGENT_EXTENSION_PATH:-$PWD}
        {
                echo "${d##*/} $op $t0 $t1"
                times
                echo "io $wb $wc"
        } > "$AZL_BENCH_HANDLER_DIR/${d##*/}.$op.$$"
fi
exit 0
