# SPDX-License-Identifier: MIT
# Shared helpers for the shell tests of the 'units' suite. Sourced, not run.

skip() {
        echo "SKIP: $*"
        exit 77
}

fail() {
        echo "FAIL: $*" >&2
        exit 1
}

need() {
        local p
        for p in "$@"; do
                command -v "$p" >/dev/null 2>&1 || skip "$p not installed"
        done
}

: "${AZL_SOURCE_ROOT:?run through meson test}"
: "${AZL_AGENT:?run through meson test}"

scratch=$(mktemp -d "${TMPDIR:-/tmp}/azl-units.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# Substitutes @bindir@ in a unit template the way units/meson.build does.
render_unit() { # template bindir output
        sed "s|@bindir@|$2|g" "$1" >"$3"
}
