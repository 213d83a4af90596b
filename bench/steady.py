#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Daemon steady state: Debian's waagent daemon against the fabric for N idle minutes.

Runs (re-executing itself) inside `unshare --net --mount`: a network namespace with only `lo`, where the fabric
serves the real Azure addresses (169.254.169.254, 168.63.129.16:80/:32526) — the recipe of
tests/fabric/waagent-interop.sh. /var/log and the udev rules directories are replaced by scratch mounts that die
with the namespace; waagent's Lib.Dir, extension logs and pid file are in a scratch directory; provisioning is
disabled (Provisioning.Agent=disabled), so it only reports Ready, runs the scenario's extension and then polls.

Phases, all host clock:
  startup  waagent start → the fabric's accepted health report Ready; CPU s and peak RSS (sum over the process
           tree, sampled every 0.2 s) up to then
  idle     from the first status-blob upload + 30 s settle, for --minutes: CPU s, RSS (peak and last, sum over
           the tree), requests to the fabric, bytes uploaded (request bodies), by endpoint

    bench/steady.py --minutes 10 --json out.json
Prints one JSON object; exit 77 without waagent or unshare.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FABRIC = os.path.join(SRC, "tests", "fabric", "azfabric.py")
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

WAAGENT_CONF = """Provisioning.Agent=disabled
Provisioning.MonitorHostName=n
Provisioning.RegenerateSshHostKeyPair=n
Provisioning.DeleteRootPassword=n
ResourceDisk.Format=n
Extensions.Enabled=y
AutoUpdate.Enabled=n
OS.AllowHTTP=y
OS.EnableFirewall=n
OS.EnableRDMA=n
DetectScvmmEnv=n
Logs.Verbose=n
Logs.Collect=n
CGroups.EnforceLimits=n
Lib.Dir={w}/lib
Extension.LogDir={w}/extlog
Pid.File={w}/waagent.pid
"""


def session_procs(sid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        f = st[st.rfind(")") + 2:].split()
        # fields after comm: state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12) cutime(13) cstime(14) rss(21)
        if int(f[3]) == sid:
            out.append((int(p), (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / CLK, int(f[21]) * PAGE))
    return out


def tree_cpu_rss(sid, dead_cpu):
    procs = session_procs(sid)
    for pid, cpu, _ in procs:
        dead_cpu[pid] = cpu          # remember the last value: a process that exits keeps its share
    return sum(dead_cpu.values()), sum(r for _, _, r in procs)


def control(base, path):
    with _opener.open(base + path, timeout=10) as r:
        data = r.read().decode()
    if path.startswith("/requests"):
        return [json.loads(l) for l in data.splitlines() if l.strip()]
    return json.loads(data)


def inner(args):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    routes = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True, text=True).stdout
    if routes.strip():
        print("steady: the namespace has a default route, refusing", file=sys.stderr)
        return 1
    w = tempfile.mkdtemp(prefix="azl-bench-waagent-")
    for d in ("lib", "varlog", "extlog", "state"):
        os.makedirs(os.path.join(w, d))
    subprocess.run(["mount", "--bind", os.path.join(w, "varlog"), "/var/log"], check=True)
    for d in ("/etc/udev/rules.d", "/lib/udev/rules.d"):
        if os.path.isdir(d):
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
    open(os.path.join(w, "waagent.conf"), "w").write(WAAGENT_CONF.format(w=w))
    fabric = subprocess.Popen([sys.executable, FABRIC, "serve", "--scenario", args.scenario, "--real-addresses",
                               "--state-dir", os.path.join(w, "state"), "--ready-file", os.path.join(w, "ready.json")],
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(w, "fabric.err"), "w"))
    agent = None
    result = {"agent": "waagent", "tier": "netns", "idle_minutes": args.minutes}
    try:
        for _ in range(200):
            if os.path.exists(os.path.join(w, "ready.json")):
                break
            time.sleep(0.1)
        ctl = json.load(open(os.path.join(w, "ready.json")))["control"]
        subprocess.run(["ip", "route", "add", "168.63.129.16/32", "dev", "lo"], check=True)
        result["version"] = subprocess.run(["waagent", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
        t0 = time.time()
        agent = subprocess.Popen(["waagent", "-daemon", "-configuration-path:" + os.path.join(w, "waagent.conf")],
                                 stdout=open(os.path.join(w, "waagent.out"), "w"), stderr=subprocess.STDOUT,
                                 start_new_session=True)
        cpu_seen, peak = {}, 0
        ready_t = blob_t = None
        while time.time() - t0 < args.startup_timeout:
            cpu, rss = tree_cpu_rss(agent.pid, cpu_seen)
            peak = max(peak, rss)
            if ready_t is None:
                hr = [h for h in control(ctl, "/health-reports") if h.get("accepted") and h.get("state") == "Ready"]
                if hr:
                    ready_t = time.time()
                    result["startup"] = {"wall_to_ready_s": ready_t - t0, "cpu_s": cpu, "peak_rss_mb": peak / 2**20}
            if ready_t is not None:
                try:
                    if control(ctl, "/status-blobs"):
                        blob_t = time.time()
                        break
                except Exception:
                    pass
            time.sleep(0.2)
        if blob_t is None:
            result["error"] = "no Ready/status blob within %d s" % args.startup_timeout
            return emit(result, args)
        time.sleep(30)                        # let the extension's enable finish and the loop settle
        seq0 = max([r["seq"] for r in control(ctl, "/requests")] or [0])
        cpu0, _ = tree_cpu_rss(agent.pid, cpu_seen)
        ts, end, rss_peak, rss_last = time.time(), time.time() + args.minutes * 60, 0, 0
        while time.time() < end:
            if agent.poll() is not None:
                result["error"] = "waagent exited (rc %s)" % agent.returncode
                break
            _, rss_last = tree_cpu_rss(agent.pid, cpu_seen)
            rss_peak = max(rss_peak, rss_last)
            time.sleep(5)
        cpu1, rss_last = tree_cpu_rss(agent.pid, cpu_seen)
        dur = time.time() - ts
        reqs = [r for r in control(ctl, "/requests?since=%d" % seq0) if r["seq"] > seq0]
        by_ep = {}
        for r in reqs:
            e = by_ep.setdefault(r["endpoint"], {"requests": 0, "bytes_up": 0})
            e["requests"] += 1
            e["bytes_up"] += r.get("body_len") or 0
        result["idle"] = {"seconds": dur, "cpu_s": cpu1 - cpu0, "rss_peak_mb": rss_peak / 2**20,
                          "rss_last_mb": rss_last / 2**20, "requests": len(reqs),
                          "bytes_up": sum(e["bytes_up"] for e in by_ep.values()), "by_endpoint": by_ep,
                          "processes": len(session_procs(agent.pid))}
        return emit(result, args)
    finally:
        if agent is not None and agent.poll() is None:
            try:
                os.killpg(agent.pid, signal.SIGTERM)
                agent.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(agent.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        fabric.terminate()
        try:
            fabric.wait(10)
        except subprocess.TimeoutExpired:
            fabric.kill()
        if args.keep:
            shutil.copytree(w, args.keep, dirs_exist_ok=True, ignore_dangling_symlinks=True)
        subprocess.run(["umount", "/var/log"], check=False)
        shutil.rmtree(w, ignore_errors=True)


def emit(result, args):
    s = json.dumps(result, indent=1)
    print(s)
    if args.json:
        open(args.json, "w").write(s + "\n")
    return 0 if "error" not in result else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--startup-timeout", type=int, default=240)
    ap.add_argument("--json")
    ap.add_argument("--keep")
    args = ap.parse_args()
    if os.environ.get("AZL_BENCH_STEADY_INNER") == "1":
        return inner(args)
    if not shutil.which("waagent"):
        print("steady: waagent not installed (apt-get install waagent)", file=sys.stderr)
        return 77
    if subprocess.run(["unshare", "--net", "--mount", "true"], capture_output=True).returncode != 0:
        print("steady: cannot unshare --net --mount", file=sys.stderr)
        return 77
    env = dict(os.environ, AZL_BENCH_STEADY_INNER="1")
    return subprocess.run(["unshare", "--net", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)] + sys.argv[1:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
