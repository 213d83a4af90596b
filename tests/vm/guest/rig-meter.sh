#!/bin/sh
# Test rig only (tests/vm): ExecStartPost= of the measured oneshot units. Records the unit's cgroup CPU time and
# memory peak while the cgroup still exists (it is gone once the oneshot finishes).
u="$1"
cg=/sys/fs/cgroup/system.slice/"$u"
mkdir -p /run/rig-meter
{
        echo "unit=$u"
        read up _ < /proc/uptime; echo "uptime=$up"
        grep -E '^usage_usec' "$cg/cpu.stat" 2>/dev/null
        echo "memory_peak=$(cat "$cg/memory.peak" 2>/dev/null)"
} > /run/rig-meter/"$u"
