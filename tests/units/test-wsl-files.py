#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""
The WSL image files as installed: /etc/wsl-distribution.conf (generated in the build directory) and
/etc/wsl.conf. Checks the keys WSL's distribution validator (validate-modern.py) accepts, [oobe] command =
<bindir>/azl-agent wsl-setup, defaultUid=1000, defaultName=AzureLinux, [boot] systemd=true, and that the
image does not carry "[user] default=" (discouraged: it is written on first run). Finally, the OOBE command
only works if the binary has the verb: when `azl-agent --help` does not list it the test is skipped (77) with
that reason, after all other checks passed.
"""
import configparser
import os
import re
import subprocess
import sys

SRC = os.environ["AZL_SOURCE_ROOT"]
BUILD = os.environ["AZL_UNITS_BUILD_DIR"]
BINDIR = os.environ["AZL_BINDIR"]
AGENT = os.environ["AZL_AGENT"]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg, file=sys.stderr)


def load(path):
    text = open(path, encoding="utf-8").read()
    if "@" in re.sub(r"^#.*$", "", text, flags=re.M):
        fail(f"{path}: unsubstituted @…@ left")
    p = configparser.ConfigParser(interpolation=None, strict=True)
    p.optionxform = str  # WSL key names are case-sensitive in its validator
    p.read_string(text, source=path)
    return p


allowed = {("oobe", "command"), ("oobe", "defaultUid"), ("oobe", "defaultName"), ("shortcut", "icon"),
           ("shortcut", "enabled"), ("windowsterminal", "profileTemplate"), ("windowsterminal", "enabled")}
dist = load(os.path.join(BUILD, "wsl-distribution.conf"))
for s in dist.sections():
    for k in dist[s]:
        if (s, k) not in allowed:
            fail(f"wsl-distribution.conf: [{s}] {k} is not a key WSL knows")
want = {"command": f"{BINDIR}/azl-agent wsl-setup", "defaultUid": "1000", "defaultName": "AzureLinux"}
for k, v in want.items():
    got = dist.get("oobe", k, fallback=None)
    if got != v:
        fail(f"wsl-distribution.conf: [oobe] {k}={got!r}, want {v!r}")
if not os.path.isabs(dist.get("oobe", "command", fallback="x").split()[0]):
    fail("wsl-distribution.conf: [oobe] command must start with an absolute path")

wsl = load(os.path.join(SRC, "data", "wsl.conf"))
if wsl.get("boot", "systemd", fallback=None) != "true":
    fail("wsl.conf: [boot] systemd=true missing")
if wsl.has_option("user", "default"):
    fail("wsl.conf: [user] default= must not be in the image (written by the first-run command)")

if failures:
    sys.exit(1)
print("ok: wsl-distribution.conf and wsl.conf")

help_text = subprocess.run([AGENT, "--help"], capture_output=True, text=True, check=True).stdout
verbs = re.findall(r"^  (\S+)\s", help_text.split("Options:")[0], re.M)
if "wsl-setup" not in verbs:
    print(f"SKIP: [oobe] command runs 'azl-agent wsl-setup', but this build has no such verb (verbs: {verbs})")
    sys.exit(77)
print("ok: the OOBE verb exists")
