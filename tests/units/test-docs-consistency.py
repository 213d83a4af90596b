#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
The documentation against the code, so neither can drift:
  * config keys: config_items[] in common/config.c, the output of `azl-agent config` (same keys, same order),
    man/agent.conf.5.scd ("*Key=*" entries under "## [Section]" with "Default: *value*") and
    docs/agent.conf.md (table rows under "### [Section]"): every key in its section, no extra keys, and the
    documented default equal to the built-in one;
  * the command line: every verb and option of `azl-agent --help` in man/azl-agent.8.scd, docs/cli.md and the
    bash completion, and no verb documented that the binary does not have; every exit code in agent/agent.h
    (plus 0 and 1) in the man page's EXIT STATUS and in docs/cli.md;
  * MESSAGE_IDs quoted in the man page exist in common/log.h.
"""
import os
import re
import subprocess
import sys
import tempfile

SRC = os.environ["AZL_SOURCE_ROOT"]
AGENT = os.environ["AZL_AGENT"]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def read(*parts):
    with open(os.path.join(SRC, *parts), encoding="utf-8") as f:
        return f.read()


# ---------------------------------------------------------------- configuration keys
config_c = read("common", "config.c")
table = re.findall(r'^\s*(?:ITEM|ENDPOINT)\("(\w+)",\s*"(\w+)"', config_c, re.M)
if len(table) < 10:
    fail(f"found only {len(table)} entries of config_items[] in common/config.c; has the table changed shape?")

with tempfile.TemporaryDirectory() as empty:
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    dump = subprocess.run([AGENT, "--root", empty, "config"], capture_output=True, text=True, env=env, check=True)
defaults, section = {}, None
order = []
for line in dump.stdout.splitlines():
    m = re.match(r"^\[(\w+)\]$", line)
    if m:
        section = m.group(1)
    elif "=" in line:
        k, v = line.split("=", 1)
        defaults[(section, k)] = v
        order.append((section, k))
if order != table:
    fail(f"`azl-agent config` keys differ from config_items[]: {sorted(set(order) ^ set(table))}")


def check_doc(name, found):
    """found: {(section, key): default-or-None}"""
    ok = True
    for sk in table:
        if sk not in found:
            fail(f"{name}: [{sk[0]}] {sk[1]}= is not documented")
            ok = False
        elif found[sk] is None:
            fail(f"{name}: [{sk[0]}] {sk[1]}= has no recognisable default")
            ok = False
        elif found[sk] != defaults.get(sk):
            fail(f"{name}: [{sk[0]}] {sk[1]}= documents default '{found[sk]}', built-in is '{defaults.get(sk)}'")
            ok = False
    for sk in found.keys() - set(table):
        fail(f"{name}: documents [{sk[0]}] {sk[1]}= which is not in config_items[]")
        ok = False
    if ok:
        print(f"ok: {name} documents all {len(table)} keys with their built-in defaults")


# man/agent.conf.5.scd
scd = read("man", "agent.conf.5.scd")
found, section, key, block = {}, None, None, []


def flush():
    if key:
        text = " ".join(block)
        m = re.search(r"Default: (?:\*([^*]*)\*|(empty))", text)
        found[(section, key)] = None if not m else (m.group(1) if m.group(1) is not None else "")


for line in scd.splitlines():
    m = re.match(r"^## \[(\w+)\]", line)
    if m or re.match(r"^# ", line):
        flush()
        key, block = None, []
        section = m.group(1) if m else None
        continue
    m = re.match(r"^\*(\w+)=\*", line)
    if m and section:
        flush()
        key, block = m.group(1), []
        continue
    if key:
        block.append(line.strip())
flush()
check_doc("man/agent.conf.5.scd", found)

# docs/agent.conf.md
md = read("docs", "agent.conf.md")
found, section = {}, None
for line in md.splitlines():
    m = re.match(r"^### \[(\w+)\]", line)
    if m:
        section = m.group(1)
        continue
    if re.match(r"^#{1,2} ", line):
        section = None
    m = re.match(r"^\| `(\w+)=` \|", line)
    if m and section:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4:
            fail(f"docs/agent.conf.md: row for {m.group(1)} has {len(cells)} cells, want 4")
            continue
        d = cells[2]
        dm = re.fullmatch(r"`([^`]*)`", d)
        found[(section, m.group(1))] = dm.group(1) if dm else ("" if d == "(empty)" else None)
check_doc("docs/agent.conf.md", found)

# ---------------------------------------------------------------- command line
help_text = subprocess.run([AGENT, "--help"], capture_output=True, text=True, check=True).stdout
verbs, options, part = [], [], None
for line in help_text.splitlines():
    if line.startswith("Verbs:"):
        part = "verbs"
    elif line.startswith("Options:"):
        part = "options"
    elif not line.strip():
        part = None
    elif part == "verbs":
        verbs.append(line.split()[0])
    elif part == "options":
        m = re.match(r"^\s+(.*?)\s{2,}\S", line)
        options += re.findall(r"(?<![\w-])(--?\w[\w-]*)", m.group(1) if m else line)
options = [o for o in dict.fromkeys(options)]
if len(verbs) < 3 or "--help" not in options:
    fail(f"could not parse `azl-agent --help`: verbs {verbs}, options {options}")

man8 = read("man", "azl-agent.8.scd")
cli = read("docs", "cli.md")
completion = read("completions", "azl-agent")


def man_section(text, title):
    m = re.search(rf"^# {title}\n(.*?)(?=^# )", text, re.M | re.S)
    return m.group(1) if m else ""


man_verbs = re.findall(r"^\*([a-z][a-z-]*)\*", man_section(man8, "VERBS"), re.M)
man_opts = man_section(man8, "OPTIONS")
completion_verbs = re.search(r"local verbs='([^']*)'", completion)
completion_opts = re.search(r"local global_opts='([^']*)'", completion)
completion_verbs = completion_verbs.group(1).split() if completion_verbs else []
completion_opts = completion_opts.group(1).split() if completion_opts else []
cli_verbs = re.findall(r"^### `([a-z][a-z-]*)", cli, re.M)

for v in verbs:
    if v not in man_verbs:
        fail(f"verb '{v}' is not in the VERBS section of man/azl-agent.8.scd")
    if v not in cli_verbs:
        fail(f"verb '{v}' has no '### `{v}`' heading in docs/cli.md")
    if v not in completion_verbs:
        fail(f"verb '{v}' is not completed by completions/azl-agent")
for name, lst in (("man/azl-agent.8.scd", man_verbs), ("docs/cli.md", cli_verbs),
                  ("completions/azl-agent", completion_verbs)):
    for v in lst:
        if v not in verbs:
            fail(f"{name} documents verb '{v}' that `azl-agent --help` does not list")
for o in options:
    if f"*{o}*" not in man_opts:
        fail(f"option {o} is not in the OPTIONS section of man/azl-agent.8.scd")
    if f"`{o}" not in cli:
        fail(f"option {o} is not in docs/cli.md")
    if o not in completion_opts:
        fail(f"option {o} is not completed by completions/azl-agent")

codes = {0, 1} | {int(c) for c in re.findall(r"^#define EXIT_\w+\s+(\d+)", read("agent", "agent.h"), re.M)}
man_codes = {int(c) for c in re.findall(r"^\*(\d+)\*", man_section(man8, "EXIT STATUS"), re.M)}
cli_codes = {int(c) for c in re.findall(r"^\| `(\d+)` \|", cli, re.M)}
if codes != man_codes:
    fail(f"exit codes: agent.h and 0/1 give {sorted(codes)}, the man page documents {sorted(man_codes)}")
if codes != cli_codes:
    fail(f"exit codes: agent.h and 0/1 give {sorted(codes)}, docs/cli.md documents {sorted(cli_codes)}")
if not [f for f in failures if "verb" in f or "option" in f or "exit codes" in f]:
    print(f"ok: verbs {verbs}, options {options}, exit codes {sorted(codes)} documented and completed")

ids = set(re.findall(r'"([0-9a-f]{32})"', read("common", "log.h")))
for i in re.findall(r"\b[0-9a-f]{32}\b", man8):
    if i not in ids:
        fail(f"man/azl-agent.8.scd quotes MESSAGE_ID {i} which common/log.h does not define")

sys.exit(1 if failures else 0)
