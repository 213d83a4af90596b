#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""First-boot provisioning, side by side, in the VM rig (tests/vm): one JSON line per boot.

    bench/vmbench.py --agent cloudinit|waagent|azl-agent [--runs 3] [--build build-vm] --out results.jsonl
                     [--agent-lib-dir DIR]   (azl-agent: its units load DIR's shared libraries first)

Each boot: fresh qcow2 overlay, fresh fabric (default scenario), qemu TCG. Measured:
  kernel_to_ready        guest kernel start → the fabric receives the accepted health report Ready (host clock;
                         kernel start = host stamp of a serial line - the guest uptime printed in it)
  kernel_to_first_request  → first request the fabric sees from the guest
  agent_start_to_ready   the agent's first unit leaving "inactive" (guest journal) → Ready
  kernel_to_sshd         ssh.service active (guest monotonic clock)
  cpu_to_ready_s, mem_peak_to_ready_mb   the agent's units' cgroups (cpu.stat usage_usec, memory.peak — which
                         includes page cache) at the last 1 s guest sample before Ready (rig-sampler, injected)
  cpu_s, mem_peak_mb     the same in total: ExecStartPost= meter of oneshot units (cloud-init's four stages,
                         azl-provision), or for waagent's daemon read once the boot settled (includes extensions)
  pss_peak_to_ready_mib, private_dirty_peak_to_ready_mib   the agent's own memory: the sums of smaps_rollup Pss
                         and Private_Dirty over the processes of the agent's units, peak of the 1 s samples
                         before Ready (pss_peak_mib, private_dirty_peak_mib: of all samples)
  daemon_pss_mib, daemon_private_dirty_mib   the same for the guest agent daemon (azl-agent.service,
                         walinuxagent.service), its last sample when the rig collects: 15 s after its first
                         status upload (daemon_settled: that upload came)
  requests               requests the fabric received until collection
  steps                  azl-agent: {step: seconds} of the provisioning run, `azl-agent status --json` in the guest
                         (state.json's per-step durations, as bench/provbench.py records them on the host)
Runs in a private network namespace (re-exec under unshare --net; see tests/vm/vmrig.py). No assertions.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests", "vm"))
import vmrig  # noqa: E402

sys.path.insert(0, os.path.join(SRC, "bench"))
import provbench  # noqa: E402

FLAVOUR = {"azl-agent": "base", "cloudinit": "cloudinit", "waagent": "waagent"}
DAEMON = {"azl-agent": "azl-agent.service", "waagent": "walinuxagent.service"}
DAEMON_SETTLE_S = 15  # after the first status upload: two poll periods and a sample
UNITS = {"azl-agent": ["azl-provision.service"],
         "cloudinit": ["cloud-init-local.service", "cloud-init.service", "cloud-config.service",
                       "cloud-final.service"],
         "waagent": ["walinuxagent.service"]}


def meters(sections):
    out, cur = {}, {}
    for line in sections.get("meter", []) + [""]:
        if not line.strip():
            if cur.get("unit"):
                out[cur["unit"]] = cur
            cur = {}
            continue
        if line.startswith("usage_usec"):
            cur["usage_usec"] = int(line.split()[1])
        elif "=" in line:
            k, v = line.split("=", 1)
            cur[k] = v
    wa = {}
    for line in sections.get("waagent-cgroup", []):
        if line.startswith("usage_usec"):
            wa["usage_usec"] = int(line.split()[1])
        elif line.startswith("memory_peak="):
            wa["memory_peak"] = line.split("=", 1)[1]
    if wa:
        wa["unit"] = "walinuxagent.service"
        out["walinuxagent.service"] = wa
    return out


def own_memory(samples, units, daemon, ready):
    """Pss / private dirty of the agent's processes from the sampler's rounds (one line per unit per round, the
    same uptime): per round the sum over the agent's units; the peak before Ready and overall; the daemon's last."""
    out, rounds = {}, {}
    for u in units:
        for up, _, _, pss, pd in samples.get(u, []):
            if pss is not None:
                r = rounds.setdefault(up, [0, 0])
                r[0] += pss
                r[1] += pd
    if rounds:
        out["pss_peak_mib"] = max(r[0] for r in rounds.values()) / 2**20
        out["private_dirty_peak_mib"] = max(r[1] for r in rounds.values()) / 2**20
        before = [r for up, r in rounds.items() if ready is not None and up <= ready + 0.5]
        if before:
            out["pss_peak_to_ready_mib"] = max(r[0] for r in before) / 2**20
            out["private_dirty_peak_to_ready_mib"] = max(r[1] for r in before) / 2**20
    last = [x for x in samples.get(daemon, []) if x[3] is not None] if daemon else []
    if last:
        out["daemon_pss_mib"] = last[-1][3] / 2**20
        out["daemon_private_dirty_mib"] = last[-1][4] / 2**20
    return out


def daemon_settled(vm, timeout=180, settle=DAEMON_SETTLE_S):
    """Waits for the guest agent daemon's first status upload (a PUT the fabric saw), then settle s more, so that
    its last memory sample is the idle daemon's rather than its startup's. False when none came in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and vm.alive():
        try:
            if any(r.get("method") == "PUT" and "status" in r.get("path", "") for r in vm.control("/requests")):
                time.sleep(settle)
                return True
        except Exception:
            pass
        time.sleep(1)
    return False


def version(agent, flavour, build):
    if agent == "azl-agent":
        import subprocess
        r = subprocess.run([os.path.join(build, "agent", "azl-agent"), "--version"], capture_output=True, text=True)
        return (r.stdout or r.stderr).strip().split("\n")[0]
    pkg = {"cloudinit": "cloud-init", "waagent": "waagent"}[agent]
    for line in open(os.path.join(vmrig.image_dir(flavour), "packages.txt")):
        f = line.split()
        if f and f[0] == pkg:
            return "%s %s" % (pkg, f[1])
    return pkg


GUEST_LIB_DIR = "/usr/local/lib/azl-agent-libs"
AGENT_UNITS = ("azl-provision.service", "azl-agent.service", "azl-userdata.service")


def agent_lib_files(lib_dir):
    """--agent-lib-dir: the shared libraries of lib_dir (each name, symlinks resolved) in the guest's
    GUEST_LIB_DIR, and the agent's units told to look there first (LD_LIBRARY_PATH drop-ins): the agent as an
    image would run it with another build of a library, e.g. a minimal libcurl (BENCHMARKS.md, sixth round)."""
    files = {}
    for name in sorted(os.listdir(lib_dir)):
        path = os.path.join(lib_dir, name)
        if ".so" in name and os.path.isfile(path):
            with open(path, "rb") as f:
                files[os.path.join(GUEST_LIB_DIR, name)] = f.read()
    if not files:
        raise RuntimeError("no shared library in %s" % lib_dir)
    for unit in AGENT_UNITS:
        files["/etc/systemd/system/%s.d/agent-lib-dir.conf" % unit] = \
            "[Service]\nEnvironment=LD_LIBRARY_PATH=%s\n" % GUEST_LIB_DIR
    return files


def one_boot(agent, build, keep, lib_dir=None):
    flavour = FLAVOUR[agent]
    out = tempfile.mkdtemp(prefix="azl-bench-%s-" % agent)
    vm = vmrig.VM(flavour, out)
    res = {"agent": agent}
    try:
        sampled = UNITS[agent] + [u for u in [DAEMON.get(agent)] if u and u not in UNITS[agent]]
        if agent == "azl-agent":
            inject, _, _ = vmrig.make_inject_tar(build, out, sampler_units=sampled,
                                                 extra_files=agent_lib_files(lib_dir) if lib_dir else None)
        else:
            inject = vmrig.make_sampler_tar(out, sampled)
        vm.start(inject_tar=inject)
        ready = vm.wait_ready(480, settled_unit="azl-provision.service" if agent == "azl-agent" else None)
        res["ready"] = ready is not None
        login = vm.wait_ssh_user(240 if ready else 20)
        res["ssh_user_ok"] = login is not None
        if login:
            res["ssh_key"] = login[2]
        if not vm.alive():
            res["error"] = "VM stopped"
            return res
        if DAEMON.get(agent):
            res["daemon_settled"] = daemon_settled(vm)
        facts = vm.collect()
        tl = vm.timeline(facts, UNITS[agent][:1])
        for k in ("kernel_to_ready", "kernel_to_first_request", "agent_start_to_ready", "kernel_to_sshd",
                  "kernel_to_agent_start", "requests"):
            if tl.get(k) is not None:
                res[k] = tl[k]
        m = meters(facts["sections"])
        got = [m[u] for u in UNITS[agent] if u in m]
        res["metered_units"] = [g["unit"] for g in got]
        if got:
            res["cpu_s"] = sum(g.get("usage_usec", 0) for g in got) / 1e6
            peaks = [int(g["memory_peak"]) for g in got if g.get("memory_peak", "").isdigit()]
            if peaks:
                res["mem_peak_mb"] = max(peaks) / 2**20
        # CPU and memory up to the Ready report, from the guest's 1 s samples (guest uptime ≈ kernel time)
        samples = vmrig.parse_samples("\n".join(facts["sections"].get("samples", [])))
        if tl.get("kernel_to_ready") is not None and samples:
            cpu, peak = 0, 0
            for u in UNITS[agent]:
                before = [x for x in samples.get(u, []) if x[0] <= tl["kernel_to_ready"] + 0.5]
                if before:
                    cpu += before[-1][1]
                    peak = max(peak, before[-1][2])
            res["cpu_to_ready_s"] = cpu / 1e6
            res["mem_peak_to_ready_mb"] = peak / 2**20
        res.update(own_memory(samples, UNITS[agent], DAEMON.get(agent), tl.get("kernel_to_ready")))
        if agent == "azl-agent":
            res["steps"] = provbench.steps_of_status(vm.ssh("azl-agent status --json", root=True, check=False).stdout)
        analyze = " ".join(facts["sections"].get("analyze", []))
        res["systemd_analyze"] = analyze[:200]
        return res
    except Exception as e:  # a benchmark records failures, it does not stop
        res["error"] = "%s: %s" % (type(e).__name__, e)
        return res
    finally:
        vm.stop()
        if keep:
            shutil.copytree(out, os.path.join(keep, os.path.basename(out)), dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(out, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", choices=sorted(FLAVOUR), required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(SRC, "build-vm"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep")
    ap.add_argument("--agent-lib-dir", help="azl-agent only: its units load these shared libraries first "
                    "(an experiment: e.g. a minimal libcurl build)")
    args = ap.parse_args()
    if not vmrig.enter_private_netns():
        print("vmbench: cannot create a private network namespace", file=sys.stderr)
        return 77
    flavour = FLAVOUR[args.agent]
    head = {"agent": args.agent, "header": True}
    if vmrig.missing_tools() or not vmrig.image_dir(flavour):
        head["na"] = "VM image or tools missing (tests/vm/build-image.sh)"
    elif args.agent == "azl-agent":
        binary = os.path.join(args.build, "agent", "azl-agent")
        if not os.path.exists(binary):
            head["na"] = "no built agent in %s" % args.build
        elif b"'provision' is not implemented yet" in open(binary, "rb").read():
            head["na"] = "provision not implemented yet"
    if "na" not in head:
        head["version"] = version(args.agent, flavour, args.build)
        if args.agent_lib_dir and args.agent == "azl-agent":
            head["version"] += " (libraries of %s first)" % args.agent_lib_dir
    with open(args.out, "a") as f:
        f.write(json.dumps(head) + "\n")
    if "na" in head:
        print("vmbench: %s: n/a (%s)" % (args.agent, head["na"]))
        return 0
    for i in range(args.runs):
        r = one_boot(args.agent, args.build, args.keep,
                     args.agent_lib_dir if args.agent == "azl-agent" else None)
        if args.agent_lib_dir and args.agent == "azl-agent":
            r["agent_lib_dir"] = args.agent_lib_dir
        r["run"] = i + 1
        print("vmbench: " + json.dumps(r), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
