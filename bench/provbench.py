#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""`azl-agent provision` on the host: its own memory sampled finely, and the time of each provisioning step.

The VM rig (bench/vmbench.py) times the real first boot but samples memory once a second; this runs the same verb
on a scratch root (tests/integration/make-scratch-root.sh, bench/scenarios/default.json's ovf-env.xml in its seed
directory) against the fabric on the real Azure addresses, in a private network + mount namespace
(bench/agentrig.py), and samples /proc/<pid>/smaps_rollup every 5 ms — the agent process itself (what the
`provision` verb holds) and its whole tree (with useradd, ssh-keygen, … while they run). Only azl-agent:
cloud-init and waagent cannot provision a scratch root. The disks step is skipped under --root (never the host's
disks).

  wall_s                     start → exit
  cpu_s                      the tree's CPU (reaped children included, bench/proctree.py)
  peak_{rss_mb,pss_mib,private_dirty_mib}        the agent process alone (its own memory)
  tree_peak_{pss_mib,private_dirty_mib}          the process tree at the same samples
  steps                      {step: seconds} from `azl-agent status --json --long` (per-step timings), when
                             the status has them

    bench/provbench.py [--runs 3] [--azl-agent PATH] [--out results.jsonl]
Prints one JSON line per run (appended to --out); exit 77 when azl-agent is not built.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agentrig  # noqa: E402
import proctree  # noqa: E402

# the default scenario with a handler from this tree (the fabric loads every extension source at start)
SCENARIO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios", "default.json")


def step_times(azl, root):
    """{step name: seconds} from the agent's own status (`status --json`: provisioning.steps[].duration_usec)."""
    r = subprocess.run([azl, "--root", root, "status", "--json", "--long"], capture_output=True, text=True)
    return steps_of_status(r.stdout)


def steps_of_status(text):
    """{step name: seconds} of `azl-agent status --json` output; {} when it is not that (bench/vmbench.py too)."""
    try:
        st = json.loads(text)
    except ValueError:
        return {}
    out = {}
    for s in (st.get("provisioning") or {}).get("steps", []):
        if isinstance(s, dict) and isinstance(s.get("duration_usec"), int):
            out[s["name"]] = s["duration_usec"] / 1e6
    return out


def one_run(args, run):
    res = {"agent": "azl-agent", "run": run}
    with agentrig.Rig("azl-agent", args.scenario, azl_agent=args.azl_agent) as rig:
        res["version"] = rig.version()
        root = rig.make_root(media=True)
        own = {"rss": 0, "pss": 0, "private_dirty": 0}
        tree = {"pss": 0, "private_dirty": 0}
        proc = rig.start_agent("provision")
        cpu = 0.0
        while proc.poll() is None:
            st = proctree._stat(proc.pid)
            mine = proctree.rollup(proc.pid)
            if st:
                own["rss"] = max(own["rss"], st["rss"])
            for k in ("pss", "private_dirty"):
                own[k] = max(own[k], mine[k])
            s = proctree.sample(proc.pid)
            cpu = max(cpu, s["cpu_s"])
            for k in tree:
                tree[k] = max(tree[k], s[k])
            time.sleep(0.005)
        wall = time.time() - rig.t_start
        # the reaped process's CPU: its rusage through the Popen wait status is not kept; the last live reading
        # undercounts by at most the final sampling interval
        res.update({"exit_status": proc.returncode, "wall_s": wall, "cpu_s": cpu,
                    "peak_rss_mb": own["rss"] / 2**20, "peak_pss_mib": own["pss"] / 2**20,
                    "peak_private_dirty_mib": own["private_dirty"] / 2**20,
                    "tree_peak_pss_mib": tree["pss"] / 2**20,
                    "tree_peak_private_dirty_mib": tree["private_dirty"] / 2**20,
                    "requests": len(rig.control("/requests")),
                    "steps": step_times(args.azl_agent, root)})
        hr = [h for h in rig.control("/health-reports") if h.get("accepted") and h.get("state") == "Ready"]
        if proc.returncode != 0 or not hr:
            res["error"] = "provision exited %s, %d accepted Ready report(s): %s" % (
                proc.returncode, len(hr), open(os.path.join(rig.w, "agent.out")).read()[-1500:])
        else:
            res["start_to_ready_s"] = agentrig.iso_to_epoch(hr[0]["time"]) - rig.t_start
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--scenario", default=SCENARIO)
    ap.add_argument("--azl-agent", default=os.environ.get("AZL_AGENT") or agentrig.default_azl_agent())
    ap.add_argument("--agent", action="append", choices=["azl-agent"], help="only azl-agent")
    ap.add_argument("--out", help="append the JSON lines here")
    args = ap.parse_args()
    args.agent = ["azl-agent"]
    avail, rc = agentrig.enter(args, "AZL_BENCH_PROV_INNER", "provbench")
    if rc is not None:
        return rc
    failed = 0
    for i in range(1, args.runs + 1):
        try:
            r = one_run(args, i)
        except Exception as exc:  # one broken run must not lose the others
            r = {"agent": "azl-agent", "run": i, "error": "%s: %s" % (type(exc).__name__, exc)}
        failed += "error" in r
        line = json.dumps(r, sort_keys=True)
        print(line, flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(line + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
