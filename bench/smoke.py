#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Smoke test (meson suite 'bench'): the benchmark commands work from a clean clone and print every row.

What a user does with BENCHMARKS.md, in miniature: the source tree is exported on its own (the files git tracks,
as they are in the working tree, into an empty directory — no build dir, nothing beside it, no peer fixtures),
and that copy's `bench/run.sh --no-vm` runs with a fresh build dir: run.sh sets up and builds it itself, then
bench/provbench.py (1 run), bench/extbench.py (2 handlers, 1 run) and bench/steady.py (6 s idle window), for
azl-agent and (when installed) waagent, bench/table.py and bench/fleet.py (50 VMs). Then the VM rig's install
step (tests/vm/vmrig.py make_inject_tar(): `meson install --no-rebuild` of that build, as bench/vmbench.py does
before a boot) must succeed and carry the binary, the manual pages and the units — so a build step that builds
too little fails here, not in the middle of a benchmark. Asserts what the runs did — every handler installed and
enabled once, fabric requests recorded, a status blob with the extension Ready — and that every figure row of the
four tables (provision, extensions, steady state, fleet per VM-hour) is there with a number per agent (and a
ratio when waagent ran). No timing is asserted.

    bench/smoke.py [AZL_AGENT_BINARY]      (the argument only keeps meson's dependency; the clone builds its own)
Exit 77 without root or namespaces, or when the tree is not a git checkout (nothing to export).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
HANDLERS = 2
BIG = 3  # --ext-big: the linear-growth run, small here
CHAIN = 2  # --ext-chain: a dependsOn chain
EXT_ROWS = ["**agent overhead s** (process − handlers)", "goal state fetched → all-success status blob s",
            "handlers' own run time s (union = sum here)", "**agent CPU s** (tree − handlers)",
            "**peak RSS MB** (tree without handlers)", "peak Pss MiB (tree without handlers)",
            "peak private dirty MiB (tree without handlers)", "disk writes kB (tree − handlers)", "fabric requests",
            "bytes uploaded", "handler invocations"]
STEADY_ROWS = ["startup → extension Ready s", "startup CPU s", "startup peak RSS MB", "startup peak Pss MiB",
               "startup peak private dirty MiB", "idle CPU s", "idle CPU %", "idle RSS MB (peak)",
               "**idle Pss MiB** (last)", "**idle private dirty MiB** (last)", "idle requests", "requests/min", "bytes uploaded",
               "disk writes kB (write_bytes)", "write() kB (wchar)"]
PROV_ROWS = ["start → Ready accepted s", "CPU s (tree)", "peak Pss MiB (agent process)",
             "**peak private dirty MiB** (agent process)", "fabric requests"]
FLEET_ROWS = ["WireServer + HostGAPlugin requests / VM-hour",
              "WireServer + HostGAPlugin kB (bodies both ways + request headers) / VM-hour",
              "IMDS requests / VM-hour", "IMDS kB (bodies both ways + request headers) / VM-hour"]
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


def export_tree(dest):
    """The files git tracks (plus new ones not ignored), as they are in the working tree, copied into dest."""
    r = subprocess.run(["git", "-C", SRC, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                       capture_output=True)
    if r.returncode != 0:
        return False
    for rel in sorted(set(r.stdout.decode().split("\0")) - {""}):
        src = os.path.join(SRC, rel)
        if not os.path.lexists(src):        # deleted in the working tree
            continue
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    return True


def check_inject(clone, build, w):
    """The VM rig's install of the clone's build (what bench/vmbench.py does before booting)."""
    sys.path.insert(0, os.path.join(clone, "tests", "vm"))
    import vmrig
    try:
        tar, enabled, dest = vmrig.make_inject_tar(build, os.path.join(w, "inject"))
    except RuntimeError as e:
        fail("the VM rig cannot install run.sh's build: %s" % e)
    want = ["usr/bin/azl-agent", "usr/share/man/man8/azl-agent.8", "usr/share/man/man5/agent.conf.5"]
    for rel in want:
        if not os.path.isfile(os.path.join(dest, rel)):
            fail("the VM rig's install lacks %s" % rel)
    units = sorted(f for f, _, _ in enabled)
    # the preset's units: provisioning, the guest agent, the user data's after-Ready phase
    if units != ["azl-agent.service", "azl-provision.service", "azl-userdata.service"]:
        fail("the VM rig enabled %s, expected azl-agent.service, azl-provision.service and azl-userdata.service"
             % units)
    print("ok: the VM rig installs run.sh's build (%d kB tar)" % (os.path.getsize(tar) // 1024))


def main():
    if os.geteuid() != 0 or subprocess.run(["unshare", "--net", "--mount", "true"],
                                           capture_output=True).returncode != 0:
        print("SKIP: needs root and unshare --net --mount")
        return 77
    agents = ["azl-agent"] + (["waagent"] if shutil.which("waagent") else [])
    w = tempfile.mkdtemp(prefix="azl-bench-smoke-")
    try:
        clone = os.path.join(w, "src")
        os.makedirs(os.path.join(clone))
        if not export_tree(clone):
            print("SKIP: %s is not a git checkout (nothing to export)" % SRC)
            return 77
        build, out = os.path.join(clone, "build-vm"), os.path.join(w, "out")
        r = subprocess.run([os.path.join(clone, "bench", "run.sh"), "--no-vm", "--prov-runs", "1", "--ext-runs", "1",
                            "--handlers",
                            str(HANDLERS), "--ext-big", str(BIG), "--ext-chain", str(CHAIN),
                            "--steady-runs", "1", "--idle-minutes", "0.1", "--settle", "1",
                            "--fleet-vms", "50",
                            "--agents", " ".join(agents), "--out", out],
                           stdout=subprocess.PIPE, text=True, cwd=w)
        text = r.stdout
        print(text)
        if r.returncode != 0:
            fail("bench/run.sh of a clean clone exited %d" % r.returncode)
        check_inject(clone, build, w)
        ext, steady = os.path.join(out, "ext.jsonl"), os.path.join(out, "steady.jsonl")
        # the linear-growth and dependsOn variants: one run each, every handler installed and enabled
        for name, n, chain in (("ext-big", BIG, False), ("ext-chain", CHAIN, True)):
            path = os.path.join(out, name + ".jsonl")
            res = [json.loads(l) for l in open(path) if l.strip()] if os.path.exists(path) else []
            for a in agents:
                mine = [r for r in res if r.get("agent") == a]
                if len(mine) != 1 or "error" in mine[0] or mine[0].get("handler_invocations") != 2 * n \
                        or mine[0].get("chain") != chain or not mine[0].get("spawn_floor_ms", 0) > 0:
                    fail("%s %s: %s" % (name, a, mine))
        prov = [json.loads(l) for l in open(os.path.join(out, "prov.jsonl")) if l.strip()] \
            if os.path.exists(os.path.join(out, "prov.jsonl")) else []
        if len(prov) != 1 or "error" in prov[0] or prov[0]["exit_status"] != 0 \
                or not 0 < prov[0]["peak_private_dirty_mib"] <= prov[0]["peak_pss_mib"]:
            fail("provbench: %s" % prov)
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
                    if r["requests"] < 1 or r["tree_cpu_s"] < 0 or r["peak_rss_mb"] <= 0 \
                            or not 0 < r["peak_private_dirty_mib"] <= r["peak_pss_mib"] <= r["peak_rss_mb"]:
                        fail("%s: implausible extbench result %s" % (a, r))
                    ph = r.get("phases") if a == "azl-agent" else {}
                    if ph is None or (a == "azl-agent" and (ph.get("downloads") != HANDLERS or
                                                            ph.get("commands") != 2 * HANDLERS or
                                                            ph.get("runUsec", 0) <= 0)):
                        fail("%s: the daemon's phase timings do not describe the run: %s" % (a, ph))
                else:
                    st = r["startup"]
                    idle = r["idle"]
                    if st["requests"] < 1 or st["peak_rss_mb"] <= 0 or idle["seconds"] <= 0 \
                            or not 0 < idle["private_dirty_last_mib"] <= idle["pss_last_mib"] <= idle["rss_last_mb"]:
                        fail("%s: implausible steady result %s" % (a, r))
        check_table(text, "`azl-agent provision` on the host", PROV_ROWS, ["azl-agent"])
        check_table(text, "Extension goal state", EXT_ROWS, agents)
        if "quick shell handlers, a dependsOn chain" not in text:
            fail("no table of the dependsOn chain")
        check_table(text, "daemon steady state", STEADY_ROWS, agents)
        check_table(text, "Fleet cost: per idle VM-hour", FLEET_ROWS, agents)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    print("ok: %s" % ", ".join(agents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
