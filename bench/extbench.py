#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Extension goal state with N quick shell handlers: the agent's own overhead, azl-agent vs Debian's waagent.

Scenario bench/scenarios/ten-handlers.json: ten independent handlers AzlBench.Quick01..10, all the same
bench/handlers/quick (install: nothing; enable: write a success status file; each invocation records its start
and end time, its CPU (`times`) and its write_bytes into a tmpfs directory, without forking).

Per run, on the host, in a private network + mount namespace (bench/agentrig.py): the fabric starts with the
scenario minus its extensions; the agent daemon starts, uploads its first status blob, settles 10 s; then the
extensions are published (POST /scenario, new incarnation) and the run ends at the first status blob the
fabric receives in which all N handlers are Ready with settings status success.

  detect s      publish → the agent's first goal-state or vmSettings request after it (start of the request):
                the polling phase, 0–6 s for both agents (period 6 s), reported but not part of the overhead
  process s     that request → the fabric has the all-success status blob
  handlers s    union of the handler invocations' [start, end] intervals (= their sum when they run one after
                the other, as both agents do here; the sum is reported too)
  overhead s    process s − handlers s: the agent's own wall time for the goal state (documents, downloads,
                unpacking, spawning, waiting for the processes, status, upload)
  spawn floor   what starting the handler costs here without an agent: a shell loop runs its install command 20
                times (best of 3), ms per run — the part of each invocation no agent can save; "overhead beyond
                the floor" subtracts it once per invocation
  agent CPU s   CPU of the agent's process tree from publish to done (bench/proctree.py: reaped children
                included) minus the handlers' own CPU as they report it (`times`: the shell and its children);
                the `/bin/sh -c` each agent wraps a command in counts as the agent's
  fabric CPU s  CPU of the simulated fabric (Python, one thread per request) in the same window: it serves the
                manifests, packages and uploads on the same two cores, so part of each agent's wall time is
                waiting for it — a real WireServer is another machine
  peak RSS MB   sum of the tree's RSS without the handler processes, sampled every 0.1 s
  peak Pss / private dirty MiB   the same processes' smaps_rollup Pss and Private_Dirty (bench/proctree.py),
                same samples
  disk writes   write_bytes of the tree minus the handlers' own (their status files), kB
  requests, bytes up   fabric requests between publish and done, and their request body bytes
  phases        azl-agent only: where its time went, as the daemon records it in daemon.json "timings" (µs):
                the goal-state pass (fetchUsec), certificatesUsec (0 when the thumbprints did not change),
                planUsec, manifestsUsec/packagesUsec (summed over concurrent downloads), extractionUsec,
                settingsUsec, commitUsec (the group commits that make the state files durable), commandsUsec
                (spawn to exit, the handlers' own time included), statusReadUsec,
                runUsec (the whole run) and uploadUsec

    bench/extbench.py [--agent azl-agent|waagent ...] [--runs 3] [--handlers 10] [--chain] [--handler-work S]
                      [--out results.jsonl]

  --handlers N  the scenario's ten, then more made like the first (100: the linear-growth check)
  --chain       a dependsOn chain: handler i depends on handler i-1 (dependencyLevel i), so each enable waits
                for its predecessor's terminal status
  --handler-work S  each invocation also works S seconds (a `sleep`, inside its own [start, end]): real handlers
                take time, and what the agent does while one runs is not on the goal state's path
Prints one JSON line per run (and appends them to --out); exit 77 when no requested agent is available.
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agentrig  # noqa: E402
import proctree  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIO = os.path.join(HERE, "scenarios", "ten-handlers.json")
MARKER = "azl-bench-quick.sh"


def load_scenario(path, n, chain=False):
    """The scenario without its extensions, and n extensions: the scenario's, then more made like its first one
    (AzlBench.QuickNN, NN from 01). chain: each depends on the one before (dependsOn, dependencyLevel i), so
    they run one after the other, each only once its predecessor reported a terminal status."""
    sc = json.load(open(path))
    base = os.path.dirname(os.path.abspath(path))
    exts = copy.deepcopy(sc.get("extensions", [])[:n])
    if not exts:
        raise SystemExit("extbench: %s has no extensions" % path)
    template = exts[0]
    width = max(2, len(str(n)))
    for i in range(len(exts), n):
        e = copy.deepcopy(template)
        e["name"] = "AzlBench.Quick%0*d" % (width, i + 1)
        e["publicSettings"] = {"n": i + 1}
        exts.append(e)
    for e in exts:
        if "source" in e and not os.path.isabs(e["source"]):
            e["source"] = os.path.normpath(os.path.join(base, e["source"]))
    if chain:
        for i, e in enumerate(exts):
            e.pop("dependsOn", None)
            e["dependencyLevel"] = i + 1
            if i:
                e["dependsOn"] = [{"handler": exts[i - 1]["name"]}]
    empty = dict(sc, extensions=[])
    return empty, exts


def parse_handler_records(d):
    recs = []
    for name in sorted(os.listdir(d)):
        try:
            lines = open(os.path.join(d, name)).read().splitlines()
            handler, op, t0, t1 = lines[0].split()
            cpu = 0.0
            for line in lines[1:3]:
                for tok in line.split():
                    m, _, s = tok.rstrip("s").partition("m")
                    cpu += int(m) * 60 + float(s)
            io = lines[3].split()
            recs.append({"handler": handler, "op": op, "start": float(t0), "end": float(t1), "cpu_s": cpu,
                         "write_bytes": int(io[1]), "wchar": int(io[2])})
        except (IndexError, ValueError, OSError):
            continue
    return recs


def union_length(intervals):
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def all_success(parsed, names):
    try:
        hs = parsed["aggregateStatus"]["handlerAggregateStatus"]
    except (KeyError, TypeError):
        return False
    ok = set()
    for h in hs:
        try:
            st = h["runtimeSettingsStatus"]["settingsStatus"]["status"]["status"]
        except (KeyError, TypeError):
            continue
        if h.get("status") == "Ready" and st == "success":
            ok.add(h.get("handlerName"))
    return names <= ok


def daemon_timings(rig, incarnation, timeout=5.0):
    """azl-agent's daemon.json "timings" of the published goal state (written right after its status upload)."""
    path = os.path.join(rig.w, "root", "var", "lib", "azl-agent", "daemon.json")
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path) as f:
                t = json.load(f).get("timings") or {}
            if t.get("goalStateId") == "incarnation_%s" % incarnation and "uploadUsec" in t:
                return t
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    return None


def spawn_floor_ms(exts, n=20):
    """What starting the benchmark handler costs on this machine without any agent: a shell loop runs its install
    command n times (fork, exec of the script's interpreter, the script, exit, wait), milliseconds per run; the
    agent overhead per invocation cannot go below it."""
    src = exts[0].get("source")
    script = os.path.join(src, MARKER) if src else None
    if not script or not os.path.exists(script):
        return None
    env = {k: v for k, v in os.environ.items() if k != "AZL_BENCH_HANDLER_DIR"}
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(["/bin/sh", "-c", 'i=0; while [ $i -lt %d ]; do "$0" install; i=$((i+1)); done' % n, script],
                       cwd=src, env=env, check=True)
        t = (time.perf_counter() - t0) * 1000 / n
        best = t if best is None else min(best, t)
    return best


def one_run(args, agent, azl_path, run, scenario_file, exts):
    res = {"agent": agent, "run": run, "handlers": len(exts), "chain": bool(args.chain)}
    names = {e["name"] for e in exts}
    with agentrig.Rig(agent, scenario_file, azl_agent=azl_path, keep=args.keep and "%s/ext%d%s-%s-%d" % (
            args.keep, len(exts), "-chain" if args.chain else "", agent, run)) as rig:
        hdir = rig.tmpfs("handler-records")
        rig.env["AZL_BENCH_HANDLER_DIR"] = hdir
        if args.handler_work:
            rig.env["AZL_BENCH_HANDLER_WORK"] = "%g" % args.handler_work
            res["handler_work_s"] = args.handler_work
        res["version"] = rig.version()
        res["scratch_fs"] = agentrig.scratch_fs(rig.w)
        proc = rig.start_agent()
        if agentrig.wait_first_status_blob(rig, args.startup_timeout) is None:
            res["error"] = "no first status blob within %d s (agent rc %s)" % (args.startup_timeout, proc.poll())
            return res
        time.sleep(args.settle)
        nblobs0 = len(rig.control("/status-blobs"))
        seq0 = max([r["seq"] for r in rig.control("/requests")] or [0])
        s0 = proctree.sample(proc.pid, (MARKER,))
        f0 = proctree.sample(rig.fabric.pid)
        t_pub = time.time()
        rig.control("/scenario?mode=merge&bump=incarnation", {"extensions": exts})
        rss_peak, pss_peak, pd_peak, done_blob, last_check = 0, 0, 0, None, 0.0
        end = t_pub + args.timeout
        while time.time() < end and done_blob is None:
            if proc.poll() is not None:
                res["error"] = "agent exited (rc %s)" % proc.returncode
                return res
            s = proctree.sample(proc.pid, (MARKER,))
            rss_peak = max(rss_peak, s["rss"])
            pss_peak = max(pss_peak, s["pss"])
            pd_peak = max(pd_peak, s["private_dirty"])
            if time.time() - last_check >= 0.5:
                last_check = time.time()
                for b in rig.control("/status-blobs")[nblobs0:]:
                    if all_success(b.get("parsed"), names):
                        done_blob = b
                        break
            if done_blob is None:
                time.sleep(0.1)
        s1 = proctree.sample(proc.pid, (MARKER,))
        f1 = proctree.sample(rig.fabric.pid)
        if done_blob is None:
            res["error"] = "no status blob with all %d handlers successful within %d s" % (len(exts), args.timeout)
            return res
        t_done = agentrig.iso_to_epoch(done_blob["time"])
        reqs = [r for r in rig.control("/requests?since=%d" % seq0) if r["seq"] > seq0]
        for r in reqs:          # the log's time is the request's end
            r["start"] = agentrig.iso_to_epoch(r["time"]) - (r.get("duration_ms") or 0) / 1000
        fetch = [r["start"] for r in reqs if r["start"] >= t_pub and (
                 (r["endpoint"] == "wireserver" and "comp=goalstate" in (r.get("query") or ""))
                 or (r["endpoint"] == "hgap" and r["path"].startswith("/vmSettings")))]
        win = [r for r in reqs if r["start"] <= t_done]   # incl. the upload of the all-success blob
        recs = parse_handler_records(hdir)
        d = proctree.delta(s0, s1)
        hcpu = sum(r["cpu_s"] for r in recs)
        hwb = sum(r["write_bytes"] for r in recs)
        union = union_length([(r["start"], r["end"]) for r in recs])
        t_fetch = min(fetch) if fetch else t_pub
        res.update({
            "detect_s": t_fetch - t_pub,
            "process_s": t_done - t_fetch,
            "handler_union_s": union,
            "handler_sum_s": sum(r["end"] - r["start"] for r in recs),
            "overhead_s": (t_done - t_fetch) - union,
            "handler_invocations": len(recs),
            "handler_ops": sorted({r["op"] for r in recs}),
            "tree_cpu_s": d["cpu_s"], "handler_cpu_s": hcpu, "agent_cpu_s": d["cpu_s"] - hcpu,
            "fabric_cpu_s": proctree.delta(f0, f1)["cpu_s"],
            "peak_rss_mb": rss_peak / 2**20, "peak_pss_mib": pss_peak / 2**20,
            "peak_private_dirty_mib": pd_peak / 2**20,
            "tree_write_bytes": d["write_bytes"], "handler_write_bytes": hwb,
            "agent_write_kb": (d["write_bytes"] - hwb) / 1024,
            "tree_wchar": d["wchar"],
            "requests": len(win), "bytes_up": sum(r.get("body_len") or 0 for r in win),
        })
        floor = spawn_floor_ms(exts)
        if floor is not None and recs:
            res["spawn_floor_ms"] = floor
            res["overhead_beyond_floor_s"] = res["overhead_s"] - len(recs) * floor / 1000
        if len(recs) < len(exts):
            res["warning"] = "only %d handler records for %d handlers" % (len(recs), len(exts))
        if agent == "azl-agent":
            res["phases"] = daemon_timings(rig, rig.control("/state")["incarnation"])
        res["exit_status"] = rig.stop_agent()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", action="append", choices=agentrig.AGENTS,
                    help="repeatable; default: both")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--handlers", type=int, default=10,
                    help="the scenario's extensions, then more made like its first one")
    ap.add_argument("--chain", action="store_true", help="each handler dependsOn the one before")
    ap.add_argument("--handler-work", type=float, default=0, help="seconds each handler invocation works")
    ap.add_argument("--scenario", default=SCENARIO)
    ap.add_argument("--azl-agent", default=os.environ.get("AZL_AGENT") or agentrig.default_azl_agent())
    ap.add_argument("--settle", type=float, default=10, help="seconds after the first status blob")
    ap.add_argument("--startup-timeout", type=int, default=180)
    ap.add_argument("--timeout", type=int, default=300, help="per goal state")
    ap.add_argument("--out", help="append the JSON lines here")
    ap.add_argument("--keep", help="copy each run's scratch dir (logs, fabric state) below this directory")
    args = ap.parse_args()
    avail, rc = agentrig.enter(args, "AZL_BENCH_EXT_INNER", "extbench")
    if rc is not None:
        return rc
    empty, exts = load_scenario(args.scenario, args.handlers, args.chain)
    scen_dir = os.path.join("/tmp", "azl-bench-ext-scenario-%d" % os.getpid())
    os.makedirs(scen_dir, exist_ok=True)
    scen_file = os.path.join(scen_dir, "scenario.json")
    json.dump(empty, open(scen_file, "w"))
    failed = 0
    try:
        for agent in avail:
            for i in range(1, args.runs + 1):
                try:
                    r = one_run(args, agent, args.azl_agent, i, scen_file, exts)
                except Exception as exc:  # one broken run must not lose the others
                    r = {"agent": agent, "run": i, "error": "%s: %s" % (type(exc).__name__, exc)}
                failed += "error" in r
                line = json.dumps(r, sort_keys=True)
                print(line, flush=True)
                if args.out:
                    with open(args.out, "a") as f:
                        f.write(line + "\n")
    finally:
        os.unlink(scen_file)
        os.rmdir(scen_dir)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
