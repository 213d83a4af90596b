#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Peers side by side: azl-agent, Debian's cloud-init and Debian's waagent against the same simulated fabric
# (tests/fabric). Prints markdown tables (one row per figure, medians over the runs, ratio azl-agent / peer) —
# no assertions anywhere.
#
#   bench/run.sh [--runs N] [--prov-runs P] [--ext-runs E] [--handlers H] [--steady-runs K] [--idle-minutes M]
#                [--ext-work W] [--agents "azl-agent cloudinit waagent"] [--no-vm] [--no-prov] [--no-ext] [--no-steady]
#                [--build DIR] [--keep DIR] [--out DIR] [--settle S] [--fleet-vms V] [--scratch-fs journaled|tmp]
#                [--quick]
#
#   --runs N          VM first boots per agent (default 3)
#   --prov-runs P     `azl-agent provision` on a scratch root on the host (default 3; azl-agent only)
#   --ext-runs E      extension goal state runs per agent (default 3), H handlers (default 10)
#   --ext-big B       then once per agent with B handlers (default 100; 0: not run): the cost must grow linearly
#   --ext-chain C     then once per agent with C handlers in a dependsOn chain (default 10; 0: not run)
#   --ext-work W      then E runs per agent with H handlers that each work W seconds per invocation (default 0.02;
#                     0: not run): what the agent does while a handler runs is off the goal state's path
#   --steady-runs K   daemon steady-state runs per agent (default 1)
#   --idle-minutes M  daemon steady-state idle window (default 2; the full measurement is 10)
#   --quick           = --runs 1 --prov-runs 1 --ext-runs 1 --steady-runs 1 --idle-minutes 1
#   --build DIR       azl-agent build dir, configured --prefix=/usr (default build-vm; set up if missing, and
#                     every installed target built — the VM rig installs it with --no-rebuild)
#   --out DIR         raw results (JSON lines) here instead of a new /tmp/azl-bench.XXXXXX
#   --settle S        seconds the host benchmarks let a daemon settle before measuring (default: theirs, 10/30)
#   --fleet-vms V     VMs in the fleet simulation from the steady-state trace (bench/fleet.py; default 10000)
#   --scratch-fs F    where the host benchmarks keep their scratch roots: "journaled" (default), a fresh ext4
#                     with its journal on a loop device, like a VM's disk; "tmp", $TMPDIR as it is (a host's
#                     root may have no journal, and there an fsync costs far less; BENCHMARKS.md, sixth round)
#
# Steps: (1) tests/vm/build-image.sh — the ONLY step that uses the network (Debian's mirror), only with the VM
# part, skipped when the images are cached; (2) ninja in the build dir; (3) everything else inside `unshare --net`
# (only lo; the VM rig and the host benchmarks add their own namespaces): first boots in the VM rig
# (bench/vmbench.py), `azl-agent provision` on a scratch root (bench/provbench.py), the extension goal state
# (bench/extbench.py), the daemons' steady state (bench/steady.py);
# (4) bench/table.py, and bench/fleet.py from the steady-state idle trace. Raw results (JSON lines) stay in the
# output directory it prints.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
runs=3 prov_runs=3 ext_runs=3 handlers=10 ext_big=100 ext_chain=10 ext_work=0.02 steady_runs=1 idle=2 agents="azl-agent cloudinit waagent"
do_vm=1 do_prov=1 do_ext=1 do_steady=1 build=$src/build-vm keep="" out="" settle="" fleet_vms=10000 scratch_fs=journaled
while [ $# -gt 0 ]; do
        case $1 in
        --runs) runs=$2; shift ;;
        --prov-runs) prov_runs=$2; shift ;;
        --ext-runs) ext_runs=$2; shift ;;
        --handlers) handlers=$2; shift ;;
        --ext-big) ext_big=$2; shift ;;
        --ext-chain) ext_chain=$2; shift ;;
        --ext-work) ext_work=$2; shift ;;
        --idle-minutes) idle=$2; shift ;;
        --steady-runs) steady_runs=$2; shift ;;
        --agents) agents=$2; shift ;;
        --no-vm) do_vm=0 ;;
        --no-prov) do_prov=0 ;;
        --no-ext) do_ext=0 ;;
        --no-steady) do_steady=0 ;;
        --build) build=$(realpath -m "$2"); shift ;;
        --keep) keep=$(realpath -m "$2"); shift ;;
        --out) out=$(realpath -m "$2"); shift ;;
        --settle) settle=$2; shift ;;
        --fleet-vms) fleet_vms=$2; shift ;;
        --scratch-fs) scratch_fs=$2; shift ;;
        --quick) runs=1 prov_runs=1 ext_runs=1 ext_big=0 ext_chain=0 ext_work=0 steady_runs=1 idle=1 ;;
        -h|--help) sed -n '3,34p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
        esac
        shift
done
for n in "$runs" "$prov_runs" "$ext_runs" "$handlers" "$ext_big" "$ext_chain" "$steady_runs" "$fleet_vms"; do
        [[ $n =~ ^[0-9]+$ ]] || { echo "run.sh: not a count: $n" >&2; exit 2; }
done
[[ $idle =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: not a number of minutes: $idle" >&2; exit 2; }
[[ $ext_work =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: not a number of seconds: $ext_work" >&2; exit 2; }
[[ -z $settle || $settle =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "run.sh: not a number of seconds: $settle" >&2; exit 2; }
[[ $scratch_fs == journaled || $scratch_fs == tmp ]] || { echo "run.sh: --scratch-fs journaled|tmp" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (debootstrap, namespaces)" >&2; exit 1; }
if [ -n "$out" ]; then mkdir -p "$out"; else out=$(mktemp -d /tmp/azl-bench.XXXXXX); fi
echo "run.sh: results in $out" >&2

[ $do_vm = 1 ] && "$src/tests/vm/build-image.sh" >&2
if [[ " $agents " == *" azl-agent "* ]]; then
        [ -f "$build/build.ninja" ] || meson setup "$build" "$src" --prefix=/usr >&2
        # Everything `meson install` installs (the VM rig installs the build with --no-rebuild: binary, manual
        # pages, generated units), and nothing else: the tests and fuzzers of other areas are not the benchmark's.
        # The list comes from the build's own introspection, so a new installed target cannot be forgotten here;
        # regenerate first, or a target added since the last configure is not in it yet.
        ninja -C "$build" build.ninja >&2 || { echo "run.sh: configuring $build failed" >&2; exit 1; }
        mapfile -t targets < <(meson introspect "$build" --targets | python3 -c '
import json, os, sys
build = os.path.realpath(sys.argv[1])
for t in json.load(sys.stdin):
    if t.get("installed"):
        for f in t["filename"]:
            print(os.path.relpath(f, build))' "$build")
        [ ${#targets[@]} -gt 0 ] || { echo "run.sh: $build has no installed targets" >&2; exit 1; }
        ninja -C "$build" "${targets[@]}" >&2 || { echo "run.sh: building the agent failed" >&2; exit 1; }
fi

# The host benchmarks' scratch roots ($TMPDIR, bench/agentrig.py) on a fresh journaled ext4, sparse, on a loop
# device: the kind of filesystem a VM's disk has. Without a loop device, $TMPDIR as it is (the tables name it).
if [ "$scratch_fs" = journaled ] && { [ $do_prov = 1 ] || [ $do_ext = 1 ] || [ $do_steady = 1 ]; }; then
        if truncate -s 8G "$out/scratch.img" && mkfs.ext4 -q -F "$out/scratch.img" && mkdir -p "$out/scratch" &&
                mount -o loop "$out/scratch.img" "$out/scratch"; then
                trap 'umount "$out/scratch" && rm -f "$out/scratch.img"' EXIT
                export TMPDIR=$out/scratch
        else
                rm -f "$out/scratch.img"
                echo "run.sh: no journaled loop filesystem; the host benchmarks use ${TMPDIR:-/tmp}" >&2
        fi
fi

# the host benchmarks know azl-agent and waagent; cloud-init has no guest agent daemon
host_agents=()
for a in $agents; do
        case $a in azl-agent|waagent) host_agents+=(--agent "$a") ;; esac
done

inner='set -eu
ip link set lo up
if ip -4 route show default | grep -q . || ip -6 route show default | grep -q .; then
        echo "run.sh: the namespace has a default route, refusing" >&2; exit 1
fi
src=$1 out=$2 build=$3 keep=$4 agents=$5 do_vm=$6 runs=$7 do_ext=$8 ext_runs=$9 handlers=${10} do_steady=${11}
steady_runs=${12} idle=${13} settle=${14} do_prov=${15} prov_runs=${16} ext_big=${17} ext_chain=${18}
ext_work=${19}
shift 19
keeparg=""; [ -n "$keep" ] && keeparg="--keep $keep"
settlearg=""; [ -n "$settle" ] && settlearg="--settle $settle"
if [ "$do_vm" = 1 ]; then
        for a in $agents; do
                AZL_VM_NETNS=1 python3 "$src/bench/vmbench.py" --agent "$a" --runs "$runs" --build "$build" \
                        --out "$out/vm.jsonl" $keeparg >&2 || true
        done
fi
if [ "$do_prov" = 1 ] && [[ " $agents " == *" azl-agent "* ]]; then
        python3 "$src/bench/provbench.py" --runs "$prov_runs" --azl-agent "$build/agent/azl-agent" \
                --out "$out/prov.jsonl" >&2 || true
fi
if [ "$do_ext" = 1 ] && [ $# -gt 0 ]; then
        python3 "$src/bench/extbench.py" "$@" --runs "$ext_runs" --handlers "$handlers" \
                --azl-agent "$build/agent/azl-agent" --out "$out/ext.jsonl" $keeparg $settlearg >&2 || true
        if [ "$ext_big" -gt 0 ]; then
                python3 "$src/bench/extbench.py" "$@" --runs 1 --handlers "$ext_big" --timeout 3600 \
                        --azl-agent "$build/agent/azl-agent" --out "$out/ext-big.jsonl" $keeparg $settlearg >&2 || true
        fi
        if [ "$ext_chain" -gt 0 ]; then
                python3 "$src/bench/extbench.py" "$@" --runs 1 --handlers "$ext_chain" --chain \
                        --azl-agent "$build/agent/azl-agent" --out "$out/ext-chain.jsonl" $keeparg $settlearg >&2 || true
        fi
        if [ "$ext_work" != 0 ]; then
                python3 "$src/bench/extbench.py" "$@" --runs "$ext_runs" --handlers "$handlers" --handler-work "$ext_work" \
                        --azl-agent "$build/agent/azl-agent" --out "$out/ext-work.jsonl" $keeparg $settlearg >&2 || true
        fi
fi
if [ "$do_steady" = 1 ] && [ $# -gt 0 ]; then
        python3 "$src/bench/steady.py" "$@" --runs "$steady_runs" --minutes "$idle" \
                --azl-agent "$build/agent/azl-agent" --out "$out/steady.jsonl" $keeparg $settlearg >&2 || true
fi'
unshare --net bash -c "$inner" run.sh "$src" "$out" "$build" "$keep" "$agents" "$do_vm" "$runs" "$do_ext" \
        "$ext_runs" "$handlers" "$do_steady" "$steady_runs" "$idle" "$settle" "$do_prov" "$prov_runs" "$ext_big" \
        "$ext_chain" "$ext_work" "${host_agents[@]}"

echo
cmd="bench/run.sh"
[ $do_vm = 1 ] && cmd+=" --runs $runs" || cmd+=" --no-vm"
[ $do_prov = 1 ] && cmd+=" --prov-runs $prov_runs" || cmd+=" --no-prov"
[ $do_ext = 1 ] && cmd+=" --ext-runs $ext_runs --handlers $handlers --ext-big $ext_big --ext-chain $ext_chain --ext-work $ext_work" ||
        cmd+=" --no-ext"
[ $do_steady = 1 ] && cmd+=" --steady-runs $steady_runs --idle-minutes $idle" || cmd+=" --no-steady"
echo "Command: $cmd --agents \"$agents\""
echo "Host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)," \
        "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
args=()
[ -s "$out/vm.jsonl" ] && args+=(--vm "$out/vm.jsonl")
[ -s "$out/prov.jsonl" ] && args+=(--prov "$out/prov.jsonl")
exts=()
for f in ext ext-big ext-chain ext-work; do [ -s "$out/$f.jsonl" ] && exts+=("$out/$f.jsonl"); done
[ ${#exts[@]} -gt 0 ] && args+=(--ext "${exts[@]}")
[ -s "$out/steady.jsonl" ] && args+=(--steady "$out/steady.jsonl")
python3 "$src/bench/table.py" "${args[@]}"
[ -s "$out/steady.jsonl" ] && { python3 "$src/bench/fleet.py" --vms "$fleet_vms" "$out/steady.jsonl" || true; }
echo "raw results: $out"
