#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Fleet cost: what a WireServer host sees from many idle VMs, computed from one VM's measured idle trace.

Input: bench/steady.py results (JSON lines; each run's idle window carries the request trace the fabric recorded:
start time, endpoint, method, kind, body bytes up, response bytes down, request header bytes). Output (markdown):

1. Per idle VM-hour, each agent: requests and bytes (up + down + request headers) to the host's two endpoints
   (WireServer 168.63.129.16:80 and HostGAPlugin :32526) and to IMDS, scaled from the idle window.
2. A fleet of --vms VMs (default 10,000) rebooted together: each VM's daemon starts within --start-spread seconds
   (default 1 s: a whole cluster coming back at once, the worst case for synchronisation) and then repeats its
   agent's passes. A pass is one poll as the trace shows it: the requests from one goal state or vmSettings request
   that comes more than 1 s after the previous pass began to the next such request, with their offsets (azl-agent
   asks the WireServer goal state every second pass while vmSettings is unchanged: its passes alternate between two
   requests and one); the VM replays the trace's passes in order from a random one.
   The time between passes comes from one of two models:
     measured   drawn from the intervals between passes in the trace (this host's own noise included — on a
                loaded shared machine that noise desynchronises waagent more than identical VMs would be)
     nominal    each agent's own schedule for identical VMs: waagent 2.7 sleeps exactly Extensions.GoalStatePeriod
                (6 s) after a pass, so its period is 6 s + the pass's duration (the trace's median), the same on
                every VM; azl-agent arms its timer for GoalStatePeriodSec= ± 10 % drawn anew every pass
                (imds-client/goal-state-poll.c poll_period()) after the pass
   The host's requests per second: the mean over the hour, the busiest second and the busiest 100 ms (as a rate)
   in the first 10 minutes after the reboot and in the last 10 minutes of the hour.

    bench/fleet.py steady.jsonl [--vms 10000] [--hours 1] [--start-spread 1] [--seed 1]
"""
import argparse
import json
import random
import statistics
from array import array

HOST = ("wireserver", "hgap")
NAMES = {"azl-agent": "azl-agent", "waagent": "waagent"}
PERIOD = 6.0
JITTER = 0.10


def load(paths):
    out = []
    for p in paths:
        for line in open(p):
            if line.strip():
                r = json.loads(line)
                # an empty trace counts (a short window may hold no request): 0 per hour, no passes to replay
                if isinstance(r.get("idle", {}).get("trace"), list) and "error" not in r:
                    out.append(r)
    return out


def per_hour(runs):
    """Requests and bytes per idle VM-hour (median over runs), host endpoints and IMDS."""
    res = {}
    for key, eps in (("host", HOST), ("imds", ("imds",))):
        reqs, byts = [], []
        for r in runs:
            scale = 3600.0 / r["idle"]["seconds"]
            tr = [t for t in r["idle"]["trace"] if t[1] in eps]
            reqs.append(len(tr) * scale)
            byts.append(sum(t[4] + t[5] + t[6] for t in tr) * scale)
        res[key] = (statistics.median(reqs), statistics.median(byts))
    return res


def passes(trace):
    """[(offsets of the pass's host requests from its start)], [intervals between pass starts], median pass
    duration (last request start − first)."""
    host = sorted(t for t in trace if t[1] in HOST)
    starts = []
    for i, t in enumerate(host):
        if t[3] in ("goalstate", "vmSettings") and (not starts or t[0] - host[starts[-1]][0] > 1.0):
            starts.append(i)
    if len(starts) < 2:
        return [], [], 0.0
    out, intervals, durations = [], [], []
    for a, b in zip(starts, starts[1:] + [len(host)]):
        t0 = host[a][0]
        group = [round(t[0] - t0, 3) for t in host[a:b]]
        if b < len(host):
            intervals.append(host[b][0] - t0)
        durations.append(group[-1])
        out.append(group)
    return out, intervals, statistics.median(durations)


def simulate(pass_list, interval, vms, hours, spread, rng, binsize=0.1):
    """Counts of host requests per bin of `binsize` s over `hours` after a reboot at 0."""
    horizon = hours * 3600.0
    bins = array("i", [0]) * (int(horizon / binsize) + 1)
    n = len(pass_list)
    for _ in range(vms):
        t = rng.uniform(0, spread)
        i = rng.randrange(n)
        while t < horizon:
            for off in pass_list[i]:
                x = t + off
                if x < horizon:
                    bins[int(x / binsize)] += 1
            i = (i + 1) % n
            t += interval(rng)
    return bins


def rates(bins, binsize, hours):
    per_s = int(round(1 / binsize))
    seconds = [sum(bins[i:i + per_s]) for i in range(0, len(bins) - per_s + 1, per_s)]
    ten = 600
    first, last = seconds[:ten], seconds[-ten:]
    b_first = bins[:int(600 / binsize)]
    b_last = bins[-int(600 / binsize):]
    return {"mean": sum(bins) / (hours * 3600.0),
            "peak_s_first": max(first), "peak_100ms_first": max(b_first) / binsize,
            "peak_s_last": max(last), "peak_100ms_last": max(b_last) / binsize}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("steady", nargs="+")
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--start-spread", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    runs = load(args.steady)
    agents = [a for a in ("azl-agent", "waagent") if any(r["agent"] == a for r in runs)]
    if not agents:
        print("fleet.py: no steady-state run with an idle trace in %s" % ", ".join(args.steady))
        return 1
    by = {a: [r for r in runs if r["agent"] == a] for a in agents}

    print("### Fleet cost: per idle VM-hour (from bench/steady.py's idle trace)\n")
    print("| figure | " + " | ".join(NAMES[a] for a in agents) + (" | azl-agent / waagent |" if len(agents) == 2
                                                                    else " |"))
    print("|---|" + "---|" * (len(agents) + (1 if len(agents) == 2 else 0)))
    ph = {a: per_hour(by[a]) for a in agents}
    for key, label in (("host", "WireServer + HostGAPlugin"), ("imds", "IMDS")):
        for idx, what in ((0, "requests"), (1, "kB (bodies both ways + request headers)")):
            vals = [ph[a][key][idx] / (1 if idx == 0 else 1024) for a in agents]
            row = "| %s %s / VM-hour | " % (label, what) + " | ".join("%.0f" % v for v in vals)
            if len(agents) == 2:
                row += " | " + ("%.2f×" % (vals[0] / vals[1]) if vals[1] else "–")
            print(row + " |")
    print()

    print("### Fleet cost: %d VMs rebooted together (start within %g s), requests/s at the WireServer host\n"
          % (args.vms, args.start_spread))
    cols = []
    for a in agents:
        tr = by[a][0]["idle"]["trace"]
        plist, intervals, dur = passes(tr)
        if not plist:
            continue
        models = {"measured": lambda rng, iv=intervals: rng.choice(iv)}
        if a == "waagent":
            models["nominal"] = lambda rng, d=dur: PERIOD + d
        else:
            models["nominal"] = lambda rng, d=dur: d + rng.uniform(PERIOD * (1 - JITTER), PERIOD * (1 + JITTER))
        for m, fn in models.items():
            rng = random.Random(args.seed)
            bins = simulate(plist, fn, args.vms, args.hours, args.start_spread, rng)
            cols.append(("%s, %s" % (NAMES[a], m), rates(bins, 0.1, args.hours),
                         statistics.median(intervals), dur))
    if not cols:
        print("(no agent's idle window held two goal state passes: nothing to replay; use a longer window)\n")
        return 0
    print("| figure | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    print("| pass interval s (trace median) | " + " | ".join("%.2f" % c[2] for c in cols) + " |")
    print("| pass duration s (trace median) | " + " | ".join("%.3f" % c[3] for c in cols) + " |")
    for key, label in (("mean", "mean requests/s over the hour"),
                       ("peak_s_first", "busiest second, first 10 min"),
                       ("peak_100ms_first", "busiest 100 ms as a rate, first 10 min"),
                       ("peak_s_last", "busiest second, last 10 min"),
                       ("peak_100ms_last", "busiest 100 ms as a rate, last 10 min")):
        print("| %s | " % label + " | ".join("%.0f" % c[1][key] for c in cols) + " |")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
