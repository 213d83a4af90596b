#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Daemon steady state: `azl-agent daemon` and Debian's `waagent -daemon` against the fabric, then N idle minutes.

Both agents run the same way (bench/agentrig.py): on the host, in a private network + mount namespace, the fabric
serving the real Azure addresses on `lo`, bench/scenarios/default.json (the default scenario with one extension
from this tree, bench/handlers/quick; one tenant certificate, Fast Track), a scratch directory; both are measured the same way (bench/proctree.py: the agent's
whole process tree, reaped children included).

Phases, host clock:
  startup  agent start → the first status blob the fabric receives in which every handler is Ready with status
           success (the extension ran); CPU s, peak RSS (sampled every 0.2 s) and fabric requests up to
           then. waagent's accepted health report Ready is recorded too (azl-agent's daemon does not send one:
           that is `azl-agent provision`'s job).
  memory   RSS, and Pss and private dirty from smaps_rollup (bench/proctree.py): peak during startup, and over
           the idle window peak and last (every 5 s)
  idle     from then + --settle s, for --minutes: CPU s, RSS (peak and last, every 5 s), fabric requests and
           their bytes (request bodies up, response bodies down, request headers) by endpoint, the request trace
           (bench/fleet.py), status blob uploads, disk writes (write_bytes:
           block-device bytes the tree caused, incl. its log file) and wchar (all write()/send() bytes).
  libweight  azl-agent only, at the end of the idle window: the daemon's memory by what loads it
           (bench/libweight.py: each direct dependency with what only it loads, the heap, libxml2 with ICU,
           what a libcurl-minimal would not load)

    bench/steady.py [--agent azl-agent|waagent ...] [--minutes 10] [--runs 1] [--out results.jsonl]
Prints one JSON line per agent and run (appended to --out); exit 77 when no requested agent is available.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agentrig  # noqa: E402
import libweight  # noqa: E402
import proctree  # noqa: E402


SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "default.json")

def extensions_done(parsed):
    try:
        hs = parsed["aggregateStatus"]["handlerAggregateStatus"]
    except (KeyError, TypeError):
        return False
    for h in hs:
        try:
            st = h["runtimeSettingsStatus"]["settingsStatus"]["status"]["status"]
        except (KeyError, TypeError):
            return False
        if h.get("status") != "Ready" or st != "success":
            return False
    return True


def request_kind(r):
    """A short name of what the request was for (the trace keeps no URLs)."""
    q, p = r.get("query") or "", r.get("path") or ""
    if "comp=goalstate" in q:
        return "goalstate"
    for key in ("comp=health", "comp=telemetrydata", "comp=versions", "comp=certificates", "comp=config"):
        if key in q:
            return key.split("=")[1]
    for key in ("/vmSettings", "/status", "/HealthService", "/versions", "/extensionArtifact", "/metadata"):
        if p.startswith(key):
            return key.strip("/")
    return p.split("?")[0][:40]


def header_bytes(r):
    """Bytes of the request line and headers as sent (the fabric logs them; response headers are not logged)."""
    line = len(r.get("method") or "") + len(r.get("path") or "") + len(r.get("query") or "") + 12
    return line + sum(len(k) + len(str(v)) + 4 for k, v in (r.get("headers") or {}).items()) + 2


def one_run(args, agent, run):
    res = {"agent": agent, "run": run, "tier": "netns", "idle_minutes": args.minutes,
           "scenario": os.path.basename(args.scenario)}
    with agentrig.Rig(agent, args.scenario, azl_agent=args.azl_agent,
                      keep=args.keep and "%s/steady-%s-%d" % (args.keep, agent, run)) as rig:
        res["version"] = rig.version()
        proc = rig.start_agent()
        t0, peak, pss_peak, pd_peak, done_t = rig.t_start, 0, 0, 0, None
        s = None
        while time.time() - t0 < args.startup_timeout:
            if proc.poll() is not None:
                res["error"] = "agent exited during startup (rc %s)" % proc.returncode
                return res
            s = proctree.sample(proc.pid)
            peak = max(peak, s["rss"])
            pss_peak = max(pss_peak, s["pss"])
            pd_peak = max(pd_peak, s["private_dirty"])
            blobs = rig.control("/status-blobs")
            hit = [b for b in blobs if extensions_done(b.get("parsed"))]
            if hit:
                done_t = agentrig.iso_to_epoch(hit[0]["time"])
                break
            time.sleep(0.2)
        if done_t is None:
            res["error"] = "no status blob with every extension successful within %d s" % args.startup_timeout
            return res
        res["startup"] = {"wall_to_ready_s": done_t - t0, "cpu_s": s["cpu_s"], "peak_rss_mb": peak / 2**20,
                          "peak_pss_mib": pss_peak / 2**20, "peak_private_dirty_mib": pd_peak / 2**20,
                          "requests": len(rig.control("/requests"))}
        hr = [h for h in rig.control("/health-reports") if h.get("accepted") and h.get("state") == "Ready"]
        if hr:
            res["startup"]["wall_to_health_ready_s"] = agentrig.iso_to_epoch(hr[0]["time"]) - t0
        time.sleep(args.settle)
        seq0 = max([r["seq"] for r in rig.control("/requests")] or [0])
        uploads0 = len(rig.control("/status-blobs"))
        s0 = proctree.sample(proc.pid)
        ts = time.time()
        end = ts + args.minutes * 60
        rss_peak = rss_last = s0["rss"]
        mem_peak = {k: s0[k] for k in ("pss", "private_dirty")}
        mem_last = dict(mem_peak)
        while time.time() < end:
            if proc.poll() is not None:
                res["error"] = "agent exited while idle (rc %s)" % proc.returncode
                return res
            time.sleep(min(5, max(0.0, end - time.time())))
            s = proctree.sample(proc.pid)
            rss_last = s["rss"]
            rss_peak = max(rss_peak, rss_last)
            for k in mem_peak:
                mem_last[k] = s[k]
                mem_peak[k] = max(mem_peak[k], s[k])
        s1 = proctree.sample(proc.pid)
        dur = time.time() - ts
        if agent == "azl-agent":
            try:
                res["libweight"] = libweight.report(proc.pid)  # /proc/<pid>/exe: azl-agent execs azl-agent-daemon
            except (OSError, ValueError) as exc:
                res["libweight_error"] = str(exc)
        reqs = [r for r in rig.control("/requests?since=%d" % seq0) if r["seq"] > seq0]
        by_ep, trace = {}, []
        for r in reqs:
            e = by_ep.setdefault(r["endpoint"], {"requests": 0, "bytes_up": 0, "bytes_down": 0, "header_bytes": 0})
            e["requests"] += 1
            e["bytes_up"] += r.get("body_len") or 0
            e["bytes_down"] += r.get("response_len") or 0
            hdr = header_bytes(r)
            e["header_bytes"] += hdr
            # the per-VM trace bench/fleet.py replays: start time in the window, endpoint, what, bytes
            start = agentrig.iso_to_epoch(r["time"]) - (r.get("duration_ms") or 0) / 1000 - ts
            trace.append([round(start, 3), r["endpoint"], r["method"], request_kind(r), r.get("body_len") or 0,
                          r.get("response_len") or 0, hdr])
        d = proctree.delta(s0, s1)
        res["idle"] = {"seconds": dur, "cpu_s": d["cpu_s"], "rss_peak_mb": rss_peak / 2**20,
                       "rss_last_mb": rss_last / 2**20, "requests": len(reqs),
                       "pss_peak_mib": mem_peak["pss"] / 2**20, "pss_last_mib": mem_last["pss"] / 2**20,
                       "private_dirty_peak_mib": mem_peak["private_dirty"] / 2**20,
                       "private_dirty_last_mib": mem_last["private_dirty"] / 2**20,
                       "bytes_up": sum(e["bytes_up"] for e in by_ep.values()),
                       "bytes_down": sum(e["bytes_down"] for e in by_ep.values()),
                       "header_bytes": sum(e["header_bytes"] for e in by_ep.values()),
                       "by_endpoint": by_ep, "trace": trace,
                       "status_uploads": len(rig.control("/status-blobs")) - uploads0,
                       "write_kb": d["write_bytes"] / 1024, "wchar_kb": d["wchar"] / 1024,
                       "processes": s1["procs"]}
        res["exit_status"] = rig.stop_agent()
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--agent", action="append", choices=agentrig.AGENTS, help="repeatable; default: both")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--settle", type=float, default=30, help="seconds between startup and the idle window")
    ap.add_argument("--scenario", default=SCENARIO)
    ap.add_argument("--azl-agent", default=os.environ.get("AZL_AGENT") or agentrig.default_azl_agent())
    ap.add_argument("--startup-timeout", type=int, default=240)
    ap.add_argument("--out", help="append the JSON lines here")
    ap.add_argument("--keep", help="copy each run's scratch dir below this directory")
    args = ap.parse_args()
    avail, rc = agentrig.enter(args, "AZL_BENCH_STEADY_INNER", "steady")
    if rc is not None:
        return rc
    failed = 0
    for i in range(1, args.runs + 1):
        for agent in avail:
            try:
                r = one_run(args, agent, i)
            except Exception as exc:  # one broken run must not lose the others
                r = {"agent": agent, "run": i, "error": "%s: %s" % (type(exc).__name__, exc)}
            failed += "error" in r
            line = json.dumps(r, sort_keys=True)
            print(line, flush=True)
            if args.out:
                with open(args.out, "a") as f:
                    f.write(line + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
