#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "hanger": enable never returns. It first starts a background child in its own process group
# (child.pid) and, when setsid(1) exists, one that leaves the group for a session of its own (escaped.pid):
# only a cgroup catches that one. Its enableCommand has a leading '/' (stripped by the agent, §4.2).
dir="$AZURE_GUEST_AGENT_EXTENSION_PATH"
if [ "$1" = enable ]; then
        sleep 1000 &
        echo $! > "$dir/child.pid"
        if command -v setsid > /dev/null; then
                setsid sleep 1001 &
                echo $! > "$dir/escaped.pid"
        fi
        echo "hanging"
        while :; do sleep 1; done
fi
exit 0
