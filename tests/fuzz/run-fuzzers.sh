#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer binaries and runs each target for a while on a copy of its corpus.
#
#   tests/fuzz/run-fuzzers.sh [-j JOBS] [-b BUILDDIR] [-o OUTDIR] [--merge] [SECONDS [TARGET...]]
#
# The build is a separate meson build directory (default build-libfuzzer/) configured with CC=clang,
# b_sanitize=address,undefined (UBSan made fatal) and -fsanitize=fuzzer-no-link, so that every library is
# instrumented; tests/fuzz/meson.build then declares fuzz-<name>-libfuzzer (the same fuzz-<name>.c, linked
# with -fsanitize=fuzzer instead of fuzz-main.c). Needs clang and its runtime (Debian: clang-14,
# libclang-rt-14-dev).
#
# Every target runs SECONDS (default 60) on OUTDIR/<target>/corpus, a copy of tests/fuzz/corpus/<target>;
# JOBS targets (default: the number of CPUs) run at the same time. Crashes, leaks, timeouts and OOMs are
# written to OUTDIR/<target>/ (crash-*, leak-*, …) and the log to OUTDIR/<target>/log. With --merge, the
# grown corpus is minimized against the committed one (libFuzzer -merge=1): the inputs that add coverage are
# left in OUTDIR/<target>/new/ named min-<sha1>, ready to be reviewed and copied into tests/fuzz/corpus/<target>/.
# Replay them with build-fuzz/tests/fuzz/fuzz-<target> before committing.
#
# Prints one line per target: execs, execs/s, crashes, corpus files before → after. Exit status 1 when any
# target crashed.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
fuzzdir="$src/tests/fuzz"
builddir="$src/build-libfuzzer"
outdir=""
jobs=$(nproc)
merge=0

while [ $# -gt 0 ]; do
        case "$1" in
        -j) jobs="$2"; shift 2 ;;
        -b) builddir="$2"; shift 2 ;;
        -o) outdir="$2"; shift 2 ;;
        --merge) merge=1; shift ;;
        -h|--help) sed -n '3,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-fuzzers.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
        esac
done
seconds="${1:-60}"
[ $# -gt 0 ] && shift
case "$seconds" in ''|*[!0-9]*) echo "run-fuzzers.sh: SECONDS must be a number" >&2; exit 2 ;; esac

if [ $# -gt 0 ]; then
        targets=("$@")
else
        mapfile -t targets < <(cd "$fuzzdir" && ls fuzz-*.c | sed -n 's/^fuzz-\(.*\)\.c$/\1/p' | grep -vx main)
fi
for t in "${targets[@]}"; do
        if [ ! -f "$fuzzdir/fuzz-$t.c" ] || [ ! -d "$fuzzdir/corpus/$t" ]; then
                echo "run-fuzzers.sh: no target '$t' (fuzz-$t.c and corpus/$t/)" >&2
                exit 2
        fi
done

if ! command -v clang >/dev/null; then
        echo "run-fuzzers.sh: clang not found (apt-get install clang libclang-rt-dev)" >&2
        exit 77
fi

# ---- build ----
if [ ! -f "$builddir/build.ninja" ]; then
        CC=clang meson setup "$builddir" "$src" \
                -Db_sanitize=address,undefined \
                -Db_lundef=false \
                -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all -fno-omit-frame-pointer -gline-tables-only" \
                -Dc_link_args=-fno-sanitize-recover=all \
                --buildtype=debugoptimized >"${TMPDIR:-/tmp}/run-fuzzers-setup.log" 2>&1 || {
                cat "${TMPDIR:-/tmp}/run-fuzzers-setup.log" >&2
                exit 1
        }
fi
ninja -C "$builddir" $(for t in "${targets[@]}"; do echo "tests/fuzz/fuzz-$t-libfuzzer"; done) >/dev/null

[ -n "$outdir" ] || outdir=$(mktemp -d "${TMPDIR:-/tmp}/azl-fuzz.XXXXXX")
mkdir -p "$outdir"

# ASan: leaks are bugs (every target frees what it parsed); UBSan: stack traces for reports.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_one() {
        local t="$1" d="$outdir/$1" bin="$builddir/tests/fuzz/fuzz-$1-libfuzzer"

        rm -rf "$d"
        mkdir -p "$d/corpus"
        cp -r "$fuzzdir/corpus/$t/." "$d/corpus/"
        find "$d/corpus" -name '.*' -delete
        # -max_len: the committed seeds may be bigger than libFuzzer's default of 4096.
        "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=262144 \
                -print_final_stats=1 -artifact_prefix="$d/" "$d/corpus" >"$d/log" 2>&1 || true
        if [ "$merge" = 1 ]; then
                mkdir -p "$d/new" "$d/merged"
                "$bin" -merge=1 -max_len=262144 "$d/merged" "$fuzzdir/corpus/$t" "$d/corpus" \
                        >"$d/merge.log" 2>&1 || true
                # The committed inputs that still count land in merged/ too; keep only the new ones.
                known=$(find "$fuzzdir/corpus/$t" -type f ! -name '.*' -exec sha1sum {} + | cut -c1-40)
                for f in "$d/merged"/*; do
                        [ -e "$f" ] || continue
                        h=$(sha1sum "$f" | cut -c1-40)
                        if ! grep -qx "$h" <<<"$known"; then
                                cp "$f" "$d/new/min-$h"
                        fi
                done
        fi
}

summary() {
        local t="$1" d="$outdir/$1" execs rate crashes before after new=""

        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" | tail -1)
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$d/log" | tail -1)
        crashes=$(find "$d" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                        -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l)
        before=$(find "$fuzzdir/corpus/$t" -type f ! -name '.*' | wc -l)
        after=$(find "$d/corpus" -type f | wc -l)
        [ "$merge" = 1 ] && new=" +$(find "$d/new" -type f | wc -l) min"
        printf '%-18s %12s %10s %8s %8s → %-6s%s\n' "$t" "${execs:-?}" "${rate:-?}" "$crashes" "$before" "$after" "$new"
        [ "$crashes" -eq 0 ]
}

running=0
for t in "${targets[@]}"; do
        run_one "$t" &
        running=$((running + 1))
        if [ "$running" -ge "$jobs" ]; then
                wait -n || true
                running=$((running - 1))
        fi
done
wait

status=0
printf '%-18s %12s %10s %8s %19s\n' target execs execs/s crashes "corpus before→after"
for t in "${targets[@]}"; do
        summary "$t" || status=1
done
echo "artifacts and logs: $outdir"
for f in "$outdir"/*/crash-* "$outdir"/*/leak-* "$outdir"/*/timeout-* "$outdir"/*/oom-*; do
        if [ -e "$f" ]; then
                echo "  $f"
        fi
done
exit $status
