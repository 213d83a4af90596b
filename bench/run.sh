#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Peers side by side: azl-agent, Debian's cloud-init and Debian's waagent against the same simulated fabric
# (tests/fabric, default scenario). Prints markdown tables (medians over --runs) — no assertions anywhere.
#
#   bench/run.sh [--runs N] [--steady-runs K] [--idle-minutes M] [--agents "azl-agent cloudinit waagent"] [--no-vm] [--no-steady]
#                [--build DIR] [--keep DIR] [--quick]
#
#   --runs N          VM boots per agent (default 3)
#   --steady-runs K   daemon steady-state runs (default 1)
#   --idle-minutes M  daemon steady-state window (default 10; --quick = --runs 1 --idle-minutes 2)
#   --build DIR       azl-agent build dir, configured --prefix=/usr (default build-vm; set up and built if missing)
#
# Steps: (1) tests/vm/build-image.sh — the ONLY step that uses the network (Debian's mirror), skipped when the
# images are cached; (2) ninja in the build dir; (3) everything else inside `unshare --net` (only lo; the VM
# rig and steady.py add their own namespaces): first boots in the VM rig (bench/vmbench.py), then the daemons'
# steady state — waagent with bench/steady.py, `azl-agent daemon` with bench/daemon-idle.sh (the daemon area's
# script) when present; (4) bench/table.py. Raw results stay in the output directory.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runs=3 steady_runs=1 idle=10 agents="azl-agent cloudinit waagent" do_vm=1 do_steady=1 build=$src/build-vm keep=""
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift ;;
        --idle-minutes) idle=$2; shift ;;
        --steady-runs) steady_runs=$2; shift ;;
        --agents) agents=$2; shift ;;
        --no-vm) do_vm=0 ;;
        --no-steady) do_steady=0 ;;
        --build) build=$(realpath -m "$2"); shift ;;
        --keep) keep=$(realpath -m "$2"); shift ;;
        --quick) runs=1 steady_runs=1 idle=2 ;;
        -h|--help) sed -n '3,19p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
        esac
        shift
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (debootstrap, namespaces)" >&2; exit 1; }
out=$(mktemp -d /tmp/azl-bench.XXXXXX)
echo "run.sh: results in $out" >&2

if [ $do_vm = 1 ]; then
        "$src/tests/vm/build-image.sh" >&2
        if [[ " $agents " == *" azl-agent "* ]]; then
                [ -f "$build/build.ninja" ] || meson setup "$build" --prefix=/usr >&2
                # a failure elsewhere in the tree (e.g. another area's fuzzers) must not stop the benchmark as long
                # as the agent itself built
                ninja -C "$build" agent/azl-agent >&2 || echo "run.sh: ninja failed; using what was built" >&2
        fi
fi

inner='set -eu
ip link set lo up
if ip -4 route show default | grep -q . || ip -6 route show default | grep -q .; then
        echo "run.sh: the namespace has a default route, refusing" >&2; exit 1
fi
src=$1 out=$2 runs=$3 idle=$4 agents=$5 do_vm=$6 do_steady=$7 build=$8 keep=$9 steady_runs=${10}
keeparg=""; [ -n "$keep" ] && keeparg="--keep $keep"
if [ "$do_vm" = 1 ]; then
        for a in $agents; do
                AZL_VM_NETNS=1 python3 "$src/bench/vmbench.py" --agent "$a" --runs "$runs" --build "$build" \
                        --out "$out/vm.jsonl" $keeparg >&2 || true
        done
fi
if [ "$do_steady" = 1 ] && [[ " $agents " == *" waagent "* ]]; then
        for i in $(seq "$steady_runs"); do
                python3 "$src/bench/steady.py" --minutes "$idle" --json "$out/steady-waagent-$i.json" >&2 || true
        done
fi
# azl-agent daemon: the daemon area'"'"'s own idle benchmark (scratch root, its own unshare --net)
if [ "$do_steady" = 1 ] && [[ " $agents " == *" azl-agent "* ]] && [ -x "$src/bench/daemon-idle.sh" ] \
        && [ -x "$build/agent/azl-agent" ] && ! grep -qa "daemon. is not implemented yet" "$build/agent/azl-agent"; then
        secs=$(python3 -c "print(int(float(\"$idle\") * 60))")
        for i in $(seq "$steady_runs"); do
                AZL_AGENT="$build/agent/azl-agent" "$src/bench/daemon-idle.sh" "$secs" \
                        > "$out/daemon-idle-azl-$i.txt" || true
        done
fi'
unshare --net bash -c "$inner" run.sh "$src" "$out" "$runs" "$idle" "$agents" "$do_vm" "$do_steady" "$build" "$keep" "$steady_runs"

azl_daemon_na=""
if [ -x "$build/agent/azl-agent" ] && grep -qa "'daemon' is not implemented yet" "$build/agent/azl-agent"; then
        azl_daemon_na="daemon not implemented yet"
elif [ ! -x "$build/agent/azl-agent" ]; then
        azl_daemon_na="no built agent"
else
        azl_daemon_na="not measured (bench/daemon-idle.sh missing or failed)"
fi
echo
echo "Command: bench/run.sh --runs $runs --steady-runs $steady_runs --idle-minutes $idle --agents \"$agents\"$([ $do_vm = 1 ] || echo ' --no-vm')$([ $do_steady = 1 ] || echo ' --no-steady')"
echo "Host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r), qemu $(qemu-system-x86_64 --version 2>/dev/null | head -1 | awk '{print $4}')"
echo
steady=()
for f in "$out"/steady-*.json; do [ -s "$f" ] && steady+=("$f"); done
azl_idle=()
for f in "$out"/daemon-idle-azl-*.txt; do [ -s "$f" ] && grep -q "^CPU (user+sys) while idle" "$f" && azl_idle+=("$f"); done
args=()
[ -s "$out/vm.jsonl" ] && args+=(--vm "$out/vm.jsonl")
python3 "$src/bench/table.py" "${args[@]}" --steady "${steady[@]}" --azl-daemon "${azl_idle[@]}" \
        --azl-daemon-na "$azl_daemon_na"
echo "raw results: $out"
