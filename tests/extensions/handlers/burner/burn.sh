#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "burner": enable spins on the CPU for 3 seconds of wall-clock time; its manifest limits it
# to 10 % of a CPU (resourceLimits, §4.10), so the cgroup's cpu.stat must show throttling.
if [ "$1" = enable ]; then
        end=$(( $(date +%s) + 3 ))
        while [ "$(date +%s)" -lt "$end" ]; do
                i=0
                while [ $i -lt 20000 ]; do i=$((i + 1)); done
        done
        mkdir -p status
        printf '[{"version": 1.0, "status": {"status": "success", "code": 0}}]' > "status/$ConfigSequenceNumber.status"
fi
exit 0
