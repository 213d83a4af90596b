#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A cmocka skip() shows as SKIP (issue #17 §8, docs/security.md "Tests that tell the truth").

tests-selftest (tests/common/tests-selftest.c, built with tests/common/tests.h like every cmocka test) runs one of four
case sets. Its exit status must be 77 when a case skipped and none failed (a binary whose only case skips, and
one with a pass and a skip), a failure when a case failed (even with a skip), 0 when all passed. Then the same
binary is registered in a throw-away meson project and run by `meson test`: meson's own summary must say SKIP,
SKIP, FAIL, OK. cmocka alone exits 0 for a skip, which meson counts as a pass.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HELPER = sys.argv[1]
EXPECT = {"skip-only": "SKIP", "mixed": "SKIP", "fail-skip": "FAIL", "pass": "OK"}
n = 0
failed = 0


def check(ok, what, detail=""):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {what}")
    if not ok:
        failed += 1
        for line in str(detail).splitlines()[-20:]:
            print("# " + line)


for mode, verdict in EXPECT.items():
    r = subprocess.run([HELPER, mode], capture_output=True, text=True)
    want = {"SKIP": lambda c: c == 77, "FAIL": lambda c: c not in (0, 77), "OK": lambda c: c == 0}[verdict]
    check(want(r.returncode), f"{mode}: exit status {r.returncode} means {verdict}", r.stdout + r.stderr)
    if verdict == "SKIP":
        check("SKIP: 1 of" in r.stderr, f"{mode}: says how many cases skipped", r.stderr)

meson = shutil.which("meson")
if not meson:
    print("# meson not found: the meson part is not run")
else:
    with tempfile.TemporaryDirectory(prefix="azl-skip-proof.") as tmp:
        src, build = os.path.join(tmp, "src"), os.path.join(tmp, "build")
        os.makedirs(src)
        with open(os.path.join(src, "meson.build"), "w") as f:
            f.write("project('skip-proof')\nhelper = find_program(%r)\n" % os.path.abspath(HELPER))
            for mode in EXPECT:
                f.write(f"test({mode!r}, helper, args : [{mode!r}])\n")
        r = subprocess.run([meson, "setup", build, src], capture_output=True, text=True)
        check(r.returncode == 0, "meson setup of the throw-away project", r.stdout + r.stderr)
        r = subprocess.run([meson, "test", "-C", build], capture_output=True, text=True)
        results = {}
        try:
            with open(os.path.join(build, "meson-logs", "testlog.json")) as f:
                results = {json.loads(line)["name"]: json.loads(line)["result"] for line in f if line.strip()}
        except FileNotFoundError:
            pass
        for mode, verdict in EXPECT.items():
            check(results.get(mode) == verdict, f"meson test says {verdict} for {mode} (got {results.get(mode)})",
                  r.stdout)
        check("Skipped:            2" in r.stdout, "meson's summary counts 2 skipped", r.stdout)

print(f"1..{n}")
sys.exit(1 if failed else 0)
