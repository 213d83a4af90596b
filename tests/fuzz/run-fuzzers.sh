#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer binaries and runs each target for a while on a copy of its corpus.
#
#   tests/fuzz/run-fuzzers.sh [-j JOBS] [-b BUILDDIR] [-o OUTDIR] [-r RUNS] [--merge|--save] [--report FILE]
#                             [SECONDS [TARGET...]]
#
# The build is a separate meson build directory (default build-libfuzzer/) configured with CC=clang,
# b_sanitize=address,undefined (UBSan made fatal) and -fsanitize=fuzzer-no-link, so that every library is
# instrumented; tests/fuzz/meson.build then declares fuzz-<name>-libfuzzer (the same fuzz-<name>.c, linked
# with -fsanitize=fuzzer instead of fuzz-main.c). Needs clang and its runtime (Debian: clang-14,
# libclang-rt-14-dev).
#
# Every target runs SECONDS (default 60) on OUTDIR/<target>/corpus, a copy of tests/fuzz/corpus/<target>, or
# until it has executed RUNS inputs (-r, libFuzzer -runs) when that comes first; JOBS targets (default: the
# number of CPUs) run at the same time. Run it under `nice -n 19` on a shared machine. Crashes, leaks, timeouts and OOMs are
# written to OUTDIR/<target>/ (crash-*, leak-*, …) and the log to OUTDIR/<target>/log. With --merge, the
# grown corpus is minimized against the committed one (libFuzzer -merge=1): the inputs that add coverage are
# left in OUTDIR/<target>/new/ named min-<sha1>, ready to be reviewed and copied into tests/fuzz/corpus/<target>/.
# Replay them with build-fuzz/tests/fuzz/fuzz-<target> before committing. --save (implies --merge) copies them
# into tests/fuzz/corpus/<target>/ itself when the target crashed nothing, smallest first while the corpus
# stays within 2 MiB.
# --report FILE writes the results as a Markdown table with each target's exact libFuzzer command
# (docs/fuzz-report.md).
#
# Prints one line per target: execs, execs/s, crashes, corpus files before → after. Exit status 1 when any
# target crashed.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
cmdline=("$@")
fuzzdir="$src/tests/fuzz"
builddir="$src/build-libfuzzer"
outdir=""
jobs=$(nproc)
merge=0
save=0
runs=""
report=""

while [ $# -gt 0 ]; do
        case "$1" in
        -j) jobs="$2"; shift 2 ;;
        -b) builddir="$2"; shift 2 ;;
        -o) outdir="$2"; shift 2 ;;
        -r) runs="$2"; shift 2 ;;
        --merge) merge=1; shift ;;
        --save) merge=1; save=1; shift ;;
        --report) report="$2"; shift 2 ;;
        -h|--help) sed -n '3,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "run-fuzzers.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
        esac
done
seconds="${1:-60}"
[ $# -gt 0 ] && shift
case "$seconds" in ''|*[!0-9]*) echo "run-fuzzers.sh: SECONDS must be a number" >&2; exit 2 ;; esac
case "$runs" in *[!0-9]*) echo "run-fuzzers.sh: RUNS must be a number" >&2; exit 2 ;; esac
corpus_max=$((2 * 1024 * 1024))

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
        local t="$1" d="$outdir/$1" bin="$builddir/tests/fuzz/fuzz-$1-libfuzzer" start cmd

        rm -rf "$d"
        mkdir -p "$d/corpus"
        cp -r "$fuzzdir/corpus/$t/." "$d/corpus/"
        find "$d/corpus" -name '.*' -delete
        # -max_len: the committed seeds may be bigger than libFuzzer's default of 4096.
        cmd=("$bin" -max_total_time="$seconds" ${runs:+-runs="$runs"} -timeout=10 -rss_limit_mb=2048
             -max_len=262144 -print_final_stats=1 -artifact_prefix="$d/" "$d/corpus")
        echo "${cmd[*]}" >"$d/cmd"
        start=$(date +%s.%N)
        "${cmd[@]}" >"$d/log" 2>&1 || true
        echo "$(date +%s.%N) - $start" | bc >"$d/time"
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
        echo 0 >"$d/saved"
        if [ "$save" = 1 ] && [ "$(count_crashes "$d")" -eq 0 ]; then
                save_new "$d" "$fuzzdir/corpus/$t"
        fi
}

# Copies DIR/new/* into CORPUS, smallest first, while CORPUS stays within corpus_max bytes.
save_new() {
        local d="$1" corpus="$2" budget n=0 size f

        budget=$((corpus_max - $(corpus_bytes "$corpus")))
        while read -r size f; do
                [ "$size" -le "$budget" ] || break
                cp "$f" "$corpus/"
                budget=$((budget - size))
                n=$((n + 1))
        done < <(find "$d/new" -type f -printf '%s %p\n' | sort -n)
        echo "$n" >"$d/saved"
}

count_crashes() {
        find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
                -o -name 'oom-*' -o -name 'slow-unit-*' \) | wc -l
}

corpus_bytes() {
        find "$1" -type f ! -name '.*' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

stat_of() {
        sed -n "s/^stat::$2: *//p" "$1/log" | tail -1
}

summary() {
        local t="$1" d="$outdir/$1" execs rate crashes before after new=""

        execs=$(stat_of "$d" number_of_executed_units)
        rate=$(stat_of "$d" average_exec_per_sec)
        crashes=$(count_crashes "$d")
        before=$(find "$fuzzdir/corpus/$t" -type f ! -name '.*' | wc -l)
        after=$(find "$d/corpus" -type f | wc -l)
        [ "$merge" = 1 ] && new=" +$(find "$d/new" -type f | wc -l) min"
        before=$((before - $(cat "$d/saved")))
        [ "$save" = 1 ] && new="$new, $(cat "$d/saved") saved"
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

if [ -n "$report" ]; then
        {
                echo "# Fuzz report"
                echo
                echo "Generated by \`tests/fuzz/run-fuzzers.sh ${cmdline[*]}\` on $(date -u +%Y-%m-%d) ($(nproc) CPUs,"
                echo "$(uname -r), $(clang --version | head -1)). Each target is the libFuzzer binary of"
                echo "\`$(basename "$builddir")/\` (clang, ASan + UBSan, UBSan fatal), run alone for up to ${seconds} s${runs:+ or $runs execs},"
                echo "starting from a copy of its committed corpus; \"corpus\" is tests/fuzz/corpus/<target>/ afterwards$(
                        [ "$save" = 0 ] || printf ',\nincluding the new inputs kept by `-merge=1`')."
                echo
                echo "| target | execs | time (s) | execs/s | crashes | corpus files | corpus size |"
                echo "|---|---:|---:|---:|---:|---:|---:|"
                for t in "${targets[@]}"; do
                        d="$outdir/$t"
                        # libFuzzer's average_exec_per_sec is an integer division that reads 0 after a crash.
                        execs=$(stat_of "$d" number_of_executed_units)
                        secs=$(cat "$d/time")
                        printf '| `%s` | %s | %.1f | %.0f | %s | %s | %s KiB |\n' "$t" "${execs:-?}" "$secs" \
                                "$(echo "${execs:-0} / $secs" | bc -l)" "$(count_crashes "$d")" \
                                "$(find "$fuzzdir/corpus/$t" -type f ! -name '.*' | wc -l)" \
                                "$(( ($(corpus_bytes "$fuzzdir/corpus/$t") + 1023) / 1024 ))"
                done
                echo
                echo "Commands (OUTDIR=$outdir; ASAN_OPTIONS=$ASAN_OPTIONS UBSAN_OPTIONS=$UBSAN_OPTIONS):"
                echo
                for t in "${targets[@]}"; do
                        echo "    $(sed "s|$outdir|\$OUTDIR|g; s|$src/||g" "$outdir/$t/cmd")"
                done
        } >"$report"
fi
for f in "$outdir"/*/crash-* "$outdir"/*/leak-* "$outdir"/*/timeout-* "$outdir"/*/oom-*; do
        if [ -e "$f" ]; then
                echo "  $f"
        fi
done
exit $status
