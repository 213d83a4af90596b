#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke test (meson suite 'bench'): the host benchmarks still run and bench/table.py prints every row.

A miniature of bench/run.sh --no-vm: bench/extbench.py with 2 handlers, 1 run, and bench/steady.py with a 6 s
idle window, for azl-agent and (when installed) waagent; then the tables. Asserts what the runs did — every
handler installed and enabled once, fabric requests recorded, a status blob with the extension Ready — and that
every figure row of both tables is there with a number per agent (and a ratio when waagent ran). No timing is
asserted.

    bench/smoke.py AZL_AGENT_BINARY
Exit 77 without root or namespaces.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
HANDLERS = 2
EXT_ROWS = ["**agent overhead s** (process − handlers)", "goal state fetched → all-success status blob s",
            "handlers' own run time s (union = sum here)", "**agent CPU s** (tree − handlers)",
            "**peak RSS MB** (tree without handlers)", "disk writes kB (tree − handlers)", "fabric requests",
            "bytes uploaded", "handler invocations"]
STEADY_ROWS = ["startup → extension Ready s", "startup CPU s", "startup peak RSS MB", "idle CPU s", "idle CPU %",
               "idle RSS MB (peak)", "idle requests", "requests/min", "bytes uploaded",
               "disk writes kB (write_bytes)", "write() kB (wchar)"]
NUM = re.compile(r"^-?[0-9]+(\.[0-9]+)?( \(-?[0-9.]+–-?[0-9.]+\))?$")
RATIO = re.compile(r"^([0-9.e+-]+×|–)$")


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def rows(text, title):
    """{figure: [cells]} of the markdown table after the heading containing title."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("###") and title in l), None)
    if start is None:
        fail("no table %r in:\n%s" % (title, text))
    out, head = {}, None
    for l in lines[start + 1:]:
        if l.startswith("###"):
            break
        if not l.startswith("| "):
            continue
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        if head is None:
            head = cells
        elif not cells[0].startswith("---"):
            out[cells[0]] = cells[1:]
    return head, out


def check_table(text, title, want, agents):
    head, got = rows(text, title)
    if head[1:1 + len(agents)] != agents:
        fail("%s: columns %s, expected %s" % (title, head, agents))
    for figure in want:
        if figure not in got:
            fail("%s: row %r missing" % (title, figure))
        cells = got[figure]
        for a, c in zip(agents, cells):
            if not NUM.match(c):
                fail("%s: %r for %s is %r, not a number" % (title, figure, a, c))
        if "waagent" in agents:
            if len(cells) != len(agents) + 1 or not RATIO.match(cells[-1]):
                fail("%s: %r has no ratio column: %s" % (title, figure, cells))


def main():
    if len(sys.argv) != 2 or not os.access(sys.argv[1], os.X_OK):
        print("usage: smoke.py AZL_AGENT_BINARY")
        return 2
    if os.geteuid() != 0 or subprocess.run(["unshare", "--net", "--mount", "true"],
                                           capture_output=True).returncode != 0:
        print("SKIP: needs root and unshare --net --mount")
        return 77
    agents = ["azl-agent"] + (["waagent"] if shutil.which("waagent") else [])
    aargs = sum((["--agent", a] for a in agents), [])
    w = tempfile.mkdtemp(prefix="azl-bench-smoke-")
    try:
        ext, steady = os.path.join(w, "ext.jsonl"), os.path.join(w, "steady.jsonl")
        common = ["--azl-agent", sys.argv[1]] + aargs
        subprocess.run([sys.executable, os.path.join(HERE, "extbench.py"), "--runs", "1", "--handlers",
                        str(HANDLERS), "--settle", "1", "--out", ext] + common, check=False)
        subprocess.run([sys.executable, os.path.join(HERE, "steady.py"), "--runs", "1", "--minutes", "0.1",
                        "--settle", "1", "--out", steady] + common, check=False)
        for path, kind in ((ext, "extbench"), (steady, "steady")):
            res = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
            for a in agents:
                mine = [r for r in res if r.get("agent") == a]
                if len(mine) != 1 or "error" in mine[0] or "na" in mine[0]:
                    fail("%s %s: %s" % (kind, a, mine))
                r = mine[0]
                if kind == "extbench":
                    if r["handler_invocations"] != 2 * HANDLERS or r["handler_ops"] != ["enable", "install"]:
                        fail("%s: handlers ran %d times (%s), expected install + enable of %d"
                             % (a, r["handler_invocations"], r["handler_ops"], HANDLERS))
                    if r["requests"] < 1 or r["tree_cpu_s"] < 0 or r["peak_rss_mb"] <= 0:
                        fail("%s: implausible extbench result %s" % (a, r))
                    ph = r.get("phases") if a == "azl-agent" else {}
                    if ph is None or (a == "azl-agent" and (ph.get("downloads") != HANDLERS or
                                                            ph.get("commands") != 2 * HANDLERS or
                                                            ph.get("runUsec", 0) <= 0)):
                        fail("%s: the daemon's phase timings do not describe the run: %s" % (a, ph))
                else:
                    st = r["startup"]
                    if st["requests"] < 1 or st["peak_rss_mb"] <= 0 or r["idle"]["seconds"] <= 0:
                        fail("%s: implausible steady result %s" % (a, r))
        text = subprocess.run([sys.executable, os.path.join(HERE, "table.py"), "--ext", ext, "--steady", steady],
                              capture_output=True, text=True, check=True).stdout
        print(text)
        check_table(text, "Extension goal state", EXT_ROWS, agents)
        check_table(text, "daemon steady state", STEADY_ROWS, agents)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print("ok: %s" % ", ".join(agents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
