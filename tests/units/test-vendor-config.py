#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
data/agent.conf (installed as /usr/lib/azl-agent/agent.conf) against the agent itself:
  1. its commented-out "#Key=Value" lines, section by section and in order, are exactly what
     `azl-agent --root <empty> config` prints (every key, built-in default), so it cannot drift from config.c;
  2. no key is set (uncommented) in the vendor file;
  3. installed into a scratch root it loads without any diagnostic and changes nothing;
  4. every documented default, uncommented (empty values excepted: an empty assignment means "unset" and is
     not accepted by every parser), parses and yields the same configuration;
  5. the diagnostics docs/agent.conf.md promises: an unknown key is a warning naming file:line and the agent
     runs; a bad value is an error naming file:line and the agent exits 1.
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


def run_config(root, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    p = subprocess.run([AGENT, "--root", root, *extra, "config"], capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def entries(text, commented):
    """[(section, key, value)] of a config text; commented=True reads '#Key=Value' lines."""
    out, section = [], None
    key_re = re.compile(r"^#([A-Za-z][A-Za-z0-9]*)=(.*)$" if commented else r"^([A-Za-z][A-Za-z0-9]*)=(.*)$")
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r"^\[([A-Za-z]+)\]$", line)
        if m:
            section = m.group(1)
            continue
        m = key_re.match(line)
        if m:
            out.append((section, m.group(1), m.group(2)))
    return out


with tempfile.TemporaryDirectory() as tmp:
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    rc, defaults_text, err = run_config(empty)
    if rc != 0 or err:
        fail(f"azl-agent config on an empty root: exit {rc}, stderr {err!r}")
    defaults = entries(defaults_text, commented=False)
    if len(defaults) < 10:
        fail(f"azl-agent config printed only {len(defaults)} keys")

    vendor_path = os.path.join(SRC, "data", "agent.conf")
    vendor_text = open(vendor_path, encoding="utf-8").read()
    vendor = entries(vendor_text, commented=True)

    # 1. Same keys, same order, same values.
    if vendor != defaults:
        dk = {(s, k): v for s, k, v in defaults}
        vk = {(s, k): v for s, k, v in vendor}
        for sk in dk.keys() - vk.keys():
            fail(f"data/agent.conf lacks [{sk[0]}] #{sk[1]}={dk[sk]}")
        for sk in vk.keys() - dk.keys():
            fail(f"data/agent.conf has [{sk[0]}] #{sk[1]}= which azl-agent config does not know")
        for sk in dk.keys() & vk.keys():
            if dk[sk] != vk[sk]:
                fail(f"data/agent.conf [{sk[0]}] {sk[1]}: documents '{vk[sk]}', default is '{dk[sk]}'")
        if dk.keys() == vk.keys() and dk == vk:
            fail("data/agent.conf lists the keys in a different order than azl-agent config")
    else:
        print(f"ok: data/agent.conf documents all {len(defaults)} keys with their defaults")

    # 2. Nothing set.
    set_lines = entries(vendor_text, commented=False)
    if set_lines:
        fail(f"data/agent.conf sets keys (should only document them): {set_lines}")

    # 3. Installed as the vendor file.
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "usr/lib/azl-agent"))
    with open(os.path.join(root, "usr/lib/azl-agent/agent.conf"), "w", encoding="utf-8") as f:
        f.write(vendor_text)
    rc, text, err = run_config(root)
    if rc != 0 or err or text != defaults_text:
        fail(f"vendor file installed: exit {rc}, stderr {err!r}, output differs: {text != defaults_text}")
    else:
        print("ok: the installed vendor file loads silently and changes nothing")

    # 4. Documented defaults, uncommented, in a drop-in.
    dropin_dir = os.path.join(root, "etc/azl-agent/agent.conf.d")
    os.makedirs(dropin_dir)
    lines, skipped = [], []
    for line in vendor_text.splitlines():
        m = re.match(r"^#([A-Za-z][A-Za-z0-9]*)=(.*)$", line)
        if m and m.group(2) == "":
            skipped.append(m.group(1))
            continue
        lines.append(line[1:] if m else line)
    with open(os.path.join(dropin_dir, "50-defaults.conf"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    rc, text, err = run_config(root)
    if rc != 0 or err or text != defaults_text:
        fail(f"defaults uncommented: exit {rc}, stderr {err!r}, output differs: {text != defaults_text}")
    else:
        print(f"ok: every documented default parses (empty, not tried: {', '.join(skipped) or 'none'})")
    os.unlink(os.path.join(dropin_dir, "50-defaults.conf"))

    # 5. Diagnostics with file:line.
    with open(os.path.join(dropin_dir, "60-unknown.conf"), "w", encoding="utf-8") as f:
        f.write("[Agent]\n\nNoSuchKey=1\n")
    rc, text, err = run_config(root)
    if rc != 0 or "/etc/azl-agent/agent.conf.d/60-unknown.conf:3:" not in err or text != defaults_text:
        fail(f"unknown key: want a warning naming 60-unknown.conf:3 and exit 0, got exit {rc}, stderr {err!r}")
    else:
        print("ok: unknown key → warning with file:line, agent runs")
    with open(os.path.join(dropin_dir, "70-bad.conf"), "w", encoding="utf-8") as f:
        f.write("[Agent]\nKVP=maybe\n")
    rc, text, err = run_config(root)
    if rc != 1 or "/etc/azl-agent/agent.conf.d/70-bad.conf:2:" not in err:
        fail(f"bad value: want an error naming 70-bad.conf:2 and exit 1, got exit {rc}, stderr {err!r}")
    else:
        print("ok: bad value → error with file:line, exit 1")

sys.exit(1 if failures else 0)
