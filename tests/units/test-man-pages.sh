#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# The manual pages as built by scdoc: pure ASCII roff (no preprocessor needed), no groff warnings (-ww),
# a NAME line that lexgrog/whatis can parse, and the page names the units reference in Documentation=.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need groff

pages=("$AZL_UNITS_BUILD_DIR/azl-agent.8" "$AZL_UNITS_BUILD_DIR/agent.conf.5")
# waagent(8), the front end's page, when built with -Dwaagent_compat=true (no unit references it).
[[ -f $AZL_UNITS_BUILD_DIR/waagent.8 ]] && pages+=("$AZL_UNITS_BUILD_DIR/waagent.8")
for p in "${pages[@]:0:2}"; do
        [[ -f $p ]] || skip "$(basename "$p") not built (scdoc missing at configure time)"
done

for p in "${pages[@]}"; do
        n=$(basename "$p")
        if LC_ALL=C grep -nP '[^\x00-\x7F]' "$p" >&2; then
                fail "$n contains non-ASCII characters (lines above)"
        fi
        warnings=$(groff -man -ww -z "$p" 2>&1)
        [[ -z $warnings ]] || fail "$n: groff warnings: $warnings"
        if command -v lexgrog >/dev/null; then
                lexgrog "$p" >/dev/null || fail "$n: lexgrog cannot parse the NAME section"
        fi
        title=$(sed -n 's/^\.TH "\{0,1\}\([^" ]*\)"\{0,1\} "\{0,1\}\([0-9]\).*/\1(\2)/p' "$p")
        [[ $title == "${n%.*}(${n##*.})" ]] || fail "$n: .TH says '$title'"
        [[ $n == waagent.8 ]] || grep -q "man:$title" "$AZL_SOURCE_ROOT"/units/azl-agent.service.in ||
                fail "azl-agent.service does not reference man:$title in Documentation="
        echo "ok: $n ($title)"
done
