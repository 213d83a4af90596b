#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job of README.md: installs dependencies, builds azl-agent, and shows what it sees on this machine.
# (When `azl-agent provision` lands, this provisions a sandbox VM root against the simulated fabric inside a
# private network namespace and then runs `azl-agent status` on it.)
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${AZL_BUILD_DIR:-$src/build}
cd "$src"
[ "${AZL_SKIP_DEPS:-0}" = 1 ] || scripts/install-deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

agent="$build/agent/azl-agent"
echo "\$ azl-agent detect"
"$agent" detect || true
echo
echo "\$ azl-agent status"
"$agent" status
