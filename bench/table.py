#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Markdown tables from the benchmarks' JSON lines: one row per figure, one column per agent (median over the
successful runs, (min–max) when there are several), and a ratio column azl-agent / peer (of the medians) for every
row where both have a number.

    bench/table.py [--vm vm.jsonl] [--prov prov.jsonl] [--ext ext.jsonl] [--steady steady.jsonl ...]

--vm: bench/vmbench.py; --prov: bench/provbench.py; --ext: bench/extbench.py; --steady: bench/steady.py (JSON
lines, or one JSON object per file as older steady.py runs wrote). A line {"agent": A, "na": REASON} marks an agent that could not run.
"""
import argparse
import json
import os
import statistics

NAMES = {"azl-agent": "azl-agent", "cloudinit": "cloud-init", "waagent": "waagent"}


def load(paths):
    out = []
    for p in paths:
        text = open(p).read()
        try:
            obj = json.loads(text)
            out.extend(obj if isinstance(obj, list) else [obj])
            continue
        except ValueError:
            pass
        out.extend(json.loads(l) for l in text.splitlines() if l.strip())
    return out


def get(r, key):
    for k in key.split("."):
        if not isinstance(r, dict):
            return None
        r = r.get(k)
    return r if isinstance(r, (int, float)) and not isinstance(r, bool) else None


def cell(vals, fmt):
    if not vals:
        return "–"
    m = statistics.median(vals)
    if len(vals) > 1 and min(vals) != max(vals):
        return (fmt + " (%s–%s)") % (m, fmt % min(vals), fmt % max(vals))
    return fmt % m


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return ("%.0f×" if r >= 10 else "%.1f×" if r >= 1 else "%.2g×") % r


def table(agents, rows_by_agent, metrics, peers, labels=None):
    """agents: ordered; rows_by_agent: agent -> successful result dicts; metrics: (key, label, fmt);
    peers: the agents azl-agent is divided by."""
    labels = labels or {}
    head = ["figure"] + [labels.get(a, NAMES.get(a, a)) for a in agents]
    peers = [p for p in peers if p in agents and "azl-agent" in agents]
    head += ["azl-agent / %s" % NAMES.get(p, p) for p in peers]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key, label, fmt in metrics:
        vals = {a: [v for v in (get(r, key) for r in rows_by_agent.get(a, [])) if v is not None] for a in agents}
        if not any(vals.values()):
            continue
        meds = {a: statistics.median(v) if v else None for a, v in vals.items()}
        line = [label] + [cell(vals[a], fmt) for a in agents]
        line += [ratio(meds["azl-agent"], meds[p]) for p in peers]
        print("| " + " | ".join(line) + " |")
    print()


def group(results):
    order, ok, na, total, version = [], {}, {}, {}, {}
    for r in results:
        a = r.get("agent")
        if a is None or r.get("header"):
            if r.get("header"):
                version[a] = r.get("version", version.get(a))
                if "na" in r:
                    na[a] = r["na"]
                if a not in order:
                    order.append(a)
            continue
        if a not in order:
            order.append(a)
        if "na" in r:
            na[a] = r["na"]
            continue
        total[a] = total.get(a, 0) + 1
        if r.get("version"):
            version[a] = r["version"]
        if "error" not in r:
            ok.setdefault(a, []).append(r)
    order.sort(key=lambda a: ("azl-agent", "cloudinit", "waagent").index(a)
               if a in ("azl-agent", "cloudinit", "waagent") else 9)
    return order, ok, na, total, version


def footer(order, ok, na, total, version):
    for a in order:
        if a in na:
            print("- %s: not measured (%s)" % (NAMES.get(a, a), na[a]))
        else:
            print("- %s: %s, %d/%d runs ok" % (NAMES.get(a, a), version.get(a, "?"), len(ok.get(a, [])),
                                                total.get(a, 0)))
    print()


def vm_table(path):
    order, ok, na, total, version = group(load([path]))
    for a in order:   # a boot counts when Ready was accepted and ssh as the scenario user worked
        ok[a] = [r for r in ok.get(a, []) if r.get("ready") and r.get("ssh_user_ok")]
    print("### First boot in the VM (qemu TCG, 2 vCPU, 1 GiB; default scenario)\n")
    footer(order, ok, na, total, version)
    table(order, ok, [
        ("kernel_to_ready", "kernel → Ready s", "%.1f"),
        ("agent_start_to_ready", "agent start → Ready s", "%.1f"),
        ("kernel_to_sshd", "kernel → sshd s", "%.1f"),
        ("kernel_to_first_request", "kernel → 1st fabric request s", "%.1f"),
        ("cpu_to_ready_s", "CPU s to Ready", "%.2f"),
        ("mem_peak_to_ready_mb", "memory peak MB to Ready", "%.0f"),
        ("cpu_s", "CPU s total", "%.2f"),
        ("mem_peak_mb", "memory peak MB total", "%.0f"),
        ("pss_peak_to_ready_mib", "agent Pss peak MiB to Ready", "%.1f"),
        ("private_dirty_peak_to_ready_mib", "agent private dirty peak MiB to Ready", "%.1f"),
        ("pss_peak_mib", "agent Pss peak MiB total", "%.1f"),
        ("private_dirty_peak_mib", "agent private dirty peak MiB total", "%.1f"),
        ("daemon_pss_mib", "daemon Pss MiB (15 s after its first status upload)", "%.1f"),
        ("daemon_private_dirty_mib", "daemon private dirty MiB (15 s after its first status upload)", "%.2f"),
        ("requests", "fabric requests", "%.0f"),
    ] + step_metrics(ok), ["cloudinit", "waagent"])


def step_metrics(ok):
    """One row per provisioning step azl-agent recorded (its status: per-step durations), in the run's order."""
    steps = []
    for r in ok.get("azl-agent", []):
        for name in r.get("steps", {}):
            if name not in steps:
                steps.append(name)
    return [("steps." + n, "step %s s" % n, "%.3f") for n in steps]


def ext_table(path):
    res = load([path])
    order, ok, na, total, version = group(res)
    n = sorted({r.get("handlers") for r in res if r.get("handlers")})
    chain = any(r.get("chain") for r in res)
    work = sorted({r["handler_work_s"] for r in res if r.get("handler_work_s")})
    print("### Extension goal state: %s quick shell handlers%s%s (bench/extbench.py; host, private netns)\n"
          % ("/".join(str(x) for x in n or ["?"]), ", a dependsOn chain" if chain else "",
             ", each invocation working %s ms" % "/".join("%g" % (1000 * w) for w in work) if work else ""))
    fs = sorted({r["scratch_fs"] for r in res if r.get("scratch_fs")})
    if fs:
        print("- scratch roots on: %s" % "; ".join(fs))
    footer(order, ok, na, total, version)
    for a in order:
        ok[a] = [dict(r, per_invocation_ms=1000 * r["overhead_s"] / r["handler_invocations"])
                 if r.get("handler_invocations") and "overhead_s" in r else r for r in ok.get(a, [])]
    table(order, ok, [
        ("overhead_s", "**agent overhead s** (process − handlers)", "%.3f"),
        ("per_invocation_ms", "**agent overhead per handler invocation ms**", "%.1f"),
        ("spawn_floor_ms", "spawn floor ms (the handler started from a shell loop, no agent)", "%.1f"),
        ("overhead_beyond_floor_s", "agent overhead beyond the spawn floor s", "%.3f"),
        ("process_s", "goal state fetched → all-success status blob s", "%.2f"),
        ("handler_union_s", "handlers' own run time s (union = sum here)", "%.3f"),
        ("detect_s", "published → fetched s (poll phase, 0–6)", "%.1f"),
        ("agent_cpu_s", "**agent CPU s** (tree − handlers)", "%.2f"),
        ("handler_cpu_s", "handlers' own CPU s", "%.3f"),
        ("fabric_cpu_s", "simulated fabric's CPU s (same window, same two cores)", "%.2f"),
        ("peak_rss_mb", "**peak RSS MB** (tree without handlers)", "%.0f"),
        ("peak_pss_mib", "peak Pss MiB (tree without handlers)", "%.1f"),
        ("peak_private_dirty_mib", "peak private dirty MiB (tree without handlers)", "%.1f"),
        ("agent_write_kb", "disk writes kB (tree − handlers)", "%.0f"),
        ("requests", "fabric requests", "%.0f"),
        ("bytes_up", "bytes uploaded", "%.0f"),
        ("handler_invocations", "handler invocations", "%.0f"),
    ], ["waagent"])


PHASES = [("fetchUsec", "goal-state pass (documents; the certificates within it)"),
          ("certificatesUsec", "certificates (0: thumbprints unchanged, skipped)"),
          ("planUsec", "plan"),
          ("manifestsUsec", "manifests (summed over concurrent downloads)"),
          ("packagesUsec", "zip packages (summed over concurrent downloads)"),
          ("extractionUsec", "extraction"),
          ("settingsUsec", "settings files"),
          ("commitUsec", "state files made durable (group commits; most of them while a handler runs)"),
          ("commandsUsec", "handler commands, spawn → exit (handlers' own time included)"),
          ("statusReadUsec", "status files read"),
          ("runUsec", "the whole run (plan → last status read)"),
          ("uploadUsec", "status blob upload")]


def ext_phase_table(path):
    """azl-agent's own per-phase timers (daemon.json "timings", bench/extbench.py "phases"), median over runs."""
    runs = [r for r in load([path]) if r.get("agent") == "azl-agent" and isinstance(r.get("phases"), dict)
            and "error" not in r]
    if not runs:
        return
    n = sorted({r.get("handlers") for r in runs if r.get("handlers")})
    chain = any(r.get("chain") for r in runs)
    work = sorted({r["handler_work_s"] for r in runs if r.get("handler_work_s")})
    print("### Extension goal state, azl-agent per phase (daemon.json timings; %s handlers%s%s; %d runs)\n"
          % ("/".join(str(x) for x in n) or "?", ", a dependsOn chain" if chain else "",
             ", working %s ms each" % "/".join("%g" % (1000 * w) for w in work) if work else "", len(runs)))
    print("| phase | ms | per handler ms |")
    print("|---|---|---|")
    for key, label in PHASES:
        vals = [r["phases"][key] / 1000.0 for r in runs if isinstance(r["phases"].get(key), (int, float))]
        if not vals:
            continue
        per = [v / r["handlers"] for v, r in zip(vals, runs) if r.get("handlers")]
        print("| %s | %s | %s |" % (label, cell(vals, "%.1f"), cell(per, "%.2f") if per else "–"))
    print()


def steady_table(paths):
    res = load(paths)
    order, ok, na, total, version = group(res)
    for a in order:
        ok[a] = [dict(r, pct=100 * r["idle"]["cpu_s"] / r["idle"]["seconds"],
                      rpm=60 * r["idle"]["requests"] / r["idle"]["seconds"],
                      upm=60 * r["idle"].get("bytes_up", 0) / r["idle"]["seconds"] / 1024)
                 for r in ok.get(a, []) if "idle" in r]
    mins = sorted({r.get("idle_minutes") for r in res if isinstance(r.get("idle_minutes"), (int, float))})
    scen = sorted({str(r.get("scenario")) for r in res if r.get("scenario")})
    print("### Guest agent daemon steady state (bench/steady.py; host, private netns; scenario %s; "
          "idle window %s min)\n" % ("/".join(scen) or "?", "/".join("%g" % m for m in mins) or "?"))
    footer(order, ok, na, total, version)
    table(order, ok, [
        ("startup.wall_to_ready_s", "startup → extension Ready s", "%.2f"),
        ("startup.cpu_s", "startup CPU s", "%.2f"),
        ("startup.peak_rss_mb", "startup peak RSS MB", "%.0f"),
        ("startup.peak_pss_mib", "startup peak Pss MiB", "%.1f"),
        ("startup.peak_private_dirty_mib", "startup peak private dirty MiB", "%.1f"),
        ("startup.requests", "startup requests", "%.0f"),
        ("idle.cpu_s", "idle CPU s", "%.2f"),
        ("pct", "idle CPU %", "%.3f"),
        ("idle.rss_peak_mb", "idle RSS MB (peak)", "%.0f"),
        ("idle.rss_last_mb", "idle RSS MB (last)", "%.0f"),
        ("idle.pss_peak_mib", "idle Pss MiB (peak)", "%.1f"),
        ("idle.pss_last_mib", "**idle Pss MiB** (last)", "%.1f"),
        ("idle.private_dirty_peak_mib", "idle private dirty MiB (peak)", "%.2f"),
        ("idle.private_dirty_last_mib", "**idle private dirty MiB** (last)", "%.2f"),
        ("idle.requests", "idle requests", "%.0f"),
        ("rpm", "requests/min", "%.1f"),
        ("idle.bytes_up", "bytes uploaded", "%.0f"),
        ("upm", "kB uploaded/min", "%.2f"),
        ("idle.status_uploads", "status blob uploads", "%.0f"),
        ("idle.write_kb", "disk writes kB (write_bytes)", "%.0f"),
        ("idle.wchar_kb", "write() kB (wchar)", "%.0f"),
    ], ["waagent"])


def prov_table(path):
    res = load([path])
    order, ok, na, total, version = group(res)
    print("### `azl-agent provision` on the host (bench/provbench.py; scratch root, private netns; default "
          "scenario)\n")
    footer(order, ok, na, total, version)
    metrics = [
        ("start_to_ready_s", "start → Ready accepted s", "%.2f"),
        ("wall_s", "start → exit s", "%.2f"),
        ("cpu_s", "CPU s (tree)", "%.2f"),
        ("peak_rss_mb", "peak RSS MB (agent process)", "%.0f"),
        ("peak_pss_mib", "peak Pss MiB (agent process)", "%.1f"),
        ("peak_private_dirty_mib", "**peak private dirty MiB** (agent process)", "%.2f"),
        ("tree_peak_pss_mib", "peak Pss MiB (tree)", "%.1f"),
        ("tree_peak_private_dirty_mib", "peak private dirty MiB (tree)", "%.2f"),
        ("requests", "fabric requests", "%.0f"),
    ] + step_metrics(ok)
    table(order, ok, metrics, [])


def libweight_table(paths):
    """The idle daemon's memory by what loads it (bench/libweight.py via steady.py), median over the runs."""
    rows = [r["libweight"] for r in load(paths) if r.get("agent") == "azl-agent" and "libweight" in r]
    if not rows:
        return
    print("### The idle daemon's memory by what loads it (bench/libweight.py; azl-agent, smaps, kB)\n")
    print("Each direct dependency with the libraries only it loads; \"shared\": reached through several. "
          "Private dirty is paid per process whatever else runs; Pss depends on what else maps the same "
          "libraries. Median over %d run(s).\n" % len(rows))
    print("| what | libraries | RSS kB | Pss kB | private dirty kB | private clean kB |")
    print("|---|---|---|---|---|---|")

    def med(key, k):
        vals = [x[k] for x in (pick(r, key) for r in rows) if x]
        return "%.0f" % statistics.median(vals) if vals else "–"

    def pick(r, key):
        node = r
        for part in key:
            node = (node or {}).get(part)
        return node
    lines = [(("total",), "all %s libraries + heap + stacks" % rows[0]["libraries_loaded"]),
             (("heap",), "[heap]"), (("anon",), "other anonymous"), (("stack",), "[stack]"),
             (("binary",), "%s itself" % os.path.basename(rows[0]["binary"].get("path") or "azl-agent"))]
    groups = sorted(rows[0]["groups"], key=lambda g: -rows[0]["groups"][g]["pss"])
    lines += [(("groups", g), ", ".join(rows[0]["groups"][g]["libraries"])) for g in groups
              if rows[0]["groups"][g]["libraries"]]
    lines += [(("shared",), ", ".join(rows[0]["shared"]["libraries"])),
              (("libxml2_everywhere",), "if nothing loaded libxml2 (loaded by %s): %s" % (
                  ", ".join(rows[0]["libxml2_everywhere"]["loaded_by"]),
                  ", ".join(rows[0]["libxml2_everywhere"]["libraries"]))),
              (("curl_minimal_drops",), "what a libcurl-minimal build would not load: %s" % ", ".join(
                  rows[0]["curl_minimal_drops"]["libraries"]))]
    lines += [(("each", n), "(one library)") for n in sorted(rows[0].get("each", {}))]
    for key, libs in lines:
        name = key[-1] if key[0] in ("groups", "each") else key[0]
        print("| %s | %s | %s | %s | %s | %s |" % (name, libs, med(key, "rss"), med(key, "pss"),
                                                   med(key, "private_dirty"), med(key, "private_clean")))
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vm")
    ap.add_argument("--ext", nargs="*", default=[], help="one table each (10 handlers, 100, a chain)")
    ap.add_argument("--steady", nargs="*", default=[])
    ap.add_argument("--prov")
    args = ap.parse_args()
    if args.vm:
        vm_table(args.vm)
    if args.prov:
        prov_table(args.prov)
    for path in args.ext:
        ext_table(path)
        ext_phase_table(path)
    if args.steady:
        steady_table(args.steady)
        libweight_table(args.steady)


if __name__ == "__main__":
    main()
