#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
azl-agent.spec against the meson files of the whole tree (every area adds dependencies): each
dependency('name') must have a "BuildRequires: pkgconfig(name)", each find_program() of a build tool we
package with (scdoc) a BuildRequires of it; and every pkgconfig() BuildRequires must still be used, so the
list neither lags behind nor keeps dead entries. Needs no rpm tooling.
"""
import os
import re
import sys

SRC = os.environ["AZL_SOURCE_ROOT"]
failures = []

spec = open(os.path.join(SRC, "azl-agent.spec"), encoding="utf-8").read()
brs = re.findall(r"^BuildRequires:\s*(.+?)\s*$", spec, re.M)
pc = {m.group(1) for b in brs for m in [re.match(r"pkgconfig\(([^)]+)\)", b)] if m}
plain = {b.split()[0] for b in brs if not b.startswith("pkgconfig(")}

deps, programs = {}, {}
for root, dirs, files in os.walk(SRC):
    rel = os.path.relpath(root, SRC)
    dirs[:] = [d for d in dirs if not d.startswith(("build", ".")) and d != "subprojects"]
    if "meson.build" in files:
        text = open(os.path.join(root, "meson.build"), encoding="utf-8").read()
        for m in re.finditer(r"\bdependency\(\s*'([^']+)'", text):
            deps.setdefault(m.group(1), os.path.join(rel, "meson.build"))
        for m in re.finditer(r"\bfind_program\(\s*'([^']+)'", text):
            programs.setdefault(m.group(1), os.path.join(rel, "meson.build"))

for d, where in sorted(deps.items()):
    if d not in pc:
        failures.append(f"{where} uses dependency('{d}') but azl-agent.spec has no BuildRequires: pkgconfig({d})")
for p in sorted(pc - deps.keys()):
    failures.append(f"azl-agent.spec BuildRequires pkgconfig({p}) but no meson.build uses dependency('{p}')")
# Build tools the package needs at build time (python3/bash/meson are build-system basics, listed or implied).
for prog in ("scdoc",):
    if prog in programs and prog not in plain:
        failures.append(f"{programs[prog]} uses find_program('{prog}') but azl-agent.spec lacks BuildRequires: {prog}")

for f in failures:
    print("FAIL:", f, file=sys.stderr)
if not failures:
    print(f"ok: {len(deps)} pkg-config dependencies, all in BuildRequires: {', '.join(sorted(deps))}")
sys.exit(1 if failures else 0)
