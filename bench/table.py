#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown tables (medians) from bench/vmbench.py's JSON lines and bench/steady.py's JSON files.

    bench/table.py --vm results.jsonl [--steady waagent.json ...] [--azl-daemon-na REASON]
"""
import argparse
import json
import statistics


def med(rows, key, fmt="%.1f"):
    vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
    if not vals:
        return "–"
    m = statistics.median(vals)
    if len(vals) > 1:
        return (fmt + " (%s–%s)") % (m, fmt % min(vals), fmt % max(vals))
    return fmt % m


def vm_table(path):
    heads, rows = {}, {}
    for line in open(path):
        r = json.loads(line)
        if r.get("header"):
            heads[r["agent"]] = r
        else:
            rows.setdefault(r["agent"], []).append(r)
    print("### First boot in the VM (qemu TCG, 2 vCPU, 1 GiB; default scenario; medians, (min–max))\n")
    print("| agent | boots ok/run | kernel → Ready s | agent start → Ready s | kernel → sshd s | "
          "kernel → 1st fabric request s | CPU s to Ready | memory peak MB to Ready | CPU s total | "
          "memory peak MB total | fabric requests |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for agent in ("azl-agent", "cloudinit", "waagent"):
        h = heads.get(agent)
        if h is None:
            continue
        name = {"cloudinit": "cloud-init", "azl-agent": "azl-agent"}.get(agent, agent)
        if "na" in h:
            print("| %s | n/a (%s) |" % (name, h["na"]) + " n/a |" * 9)
            continue
        rs = rows.get(agent, [])
        ok = [r for r in rs if r.get("ready") and r.get("ssh_user_ok") and "error" not in r]
        print("| %s (%s) | %d/%d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, h.get("version", "?"), len(ok), len(rs), med(ok, "kernel_to_ready"),
            med(ok, "agent_start_to_ready"), med(ok, "kernel_to_sshd"), med(ok, "kernel_to_first_request"),
            med(ok, "cpu_to_ready_s", "%.2f"), med(ok, "mem_peak_to_ready_mb", "%.0f"),
            med(ok, "cpu_s", "%.2f"), med(ok, "mem_peak_mb", "%.0f"), med(ok, "requests", "%.0f")))
    print()


def parse_daemon_idle(path):
    """Text printed by bench/daemon-idle.sh (the daemon area's idle benchmark of `azl-agent daemon`)."""
    r = {"agent": "azl-agent daemon", "version": "bench/daemon-idle.sh"}
    idle = {}
    for line in open(path):
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        f = v.replace("(", " ").replace(")", " ").split()
        try:
            if k == "startup to extension Ready":
                r["startup"] = {"wall_to_ready_s": float(f[0])}
            elif k == "idle period":
                idle["seconds"] = float(f[0])
            elif k == "RSS":
                idle["rss_last_mb"] = int(f[0]) / 1024
                idle["rss_peak_mb"] = int(f[3]) / 1024
            elif k.startswith("CPU (user+sys) while idle"):
                idle["cpu_s"] = float(f[0])
            elif line.strip().endswith(" total"):
                idle["requests"] = int(line.split()[0])
            elif k == "status uploads while idle":
                idle["status_uploads"] = int(f[0])
        except (IndexError, ValueError):
            pass
    if "seconds" in idle and "cpu_s" in idle:
        r["idle"] = idle
        r["idle_minutes"] = idle["seconds"] / 60
    return r


def steady_table(paths, azl_na, azl_daemon=()):
    res = [parse_daemon_idle(p) for p in azl_daemon] + [json.load(open(p)) for p in paths]
    if res and any("idle" in r for r in res):
        azl_na = "" if any(r["agent"] == "azl-agent daemon" for r in res) else azl_na
    if not res and not azl_na:
        return
    print("### Guest agent daemon steady state (private network namespace on the host, no TCG; medians over "
          "runs)\n")
    print("waagent: bench/steady.py (process tree incl. reaped children, Provisioning.Agent=disabled); azl-agent: "
          "bench/daemon-idle.sh (daemon process only, scratch root; startup = until the extension is Ready).\n")
    print("| agent | startup → Ready s | startup CPU s | startup peak RSS MB | idle min | idle CPU s | "
          "idle CPU % | RSS MB (peak / last) | requests | bytes uploaded | requests/min |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    if azl_na:
        print("| azl-agent daemon | n/a (%s) | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a |" % azl_na)
    by = {}
    for r in res:
        by.setdefault(r["agent"], []).append(r)
    for agent, rs in by.items():
        ok = [r for r in rs if "idle" in r]
        st = [r["startup"] for r in rs if "startup" in r]
        idle = [dict(r["idle"], pct=100 * r["idle"]["cpu_s"] / r["idle"]["seconds"],
                     rpm=60 * r["idle"].get("requests", 0) / r["idle"]["seconds"]) for r in ok]
        print("| %s (%s; %d/%d runs) | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s |" % (
            agent, rs[0].get("version", "?"), len(ok), len(rs), med(st, "wall_to_ready_s", "%.2f"),
            med(st, "cpu_s", "%.2f"), med(st, "peak_rss_mb", "%.0f"),
            ("%g" % rs[0]["idle_minutes"]) if "idle_minutes" in rs[0] else "?", med(idle, "cpu_s", "%.2f"),
            med(idle, "pct", "%.2f"), med(idle, "rss_peak_mb", "%.0f"), med(idle, "rss_last_mb", "%.0f"),
            med(idle, "requests", "%.0f"), med(idle, "bytes_up", "%.0f"), med(idle, "rpm", "%.1f")))
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vm")
    ap.add_argument("--steady", nargs="*", default=[])
    ap.add_argument("--azl-daemon-na", default="")
    ap.add_argument("--azl-daemon", nargs="*", default=[], help="outputs of bench/daemon-idle.sh")
    args = ap.parse_args()
    if args.vm:
        vm_table(args.vm)
    steady_table(args.steady, args.azl_daemon_na, args.azl_daemon)


if __name__ == "__main__":
    main()
