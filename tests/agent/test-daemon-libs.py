#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""What the long-running daemon maps (BENCHMARKS.md, "Memory"): the DT_NEEDED entries of both programs.

  * azl-agent-daemon (what `azl-agent daemon` execs, agent/daemon-main.c) needs none of the libraries only the
    other verbs use: libfdisk, libblkid, libcryptsetup, libyaml, libcrypt (libxcrypt), libudev;
  * neither program needs libnftables, libarchive or libxml2: provisioners/firewall.c and common/archive-dl.c
    dlopen() the first two for each operation, common/xml-util.c libxml2 from a parse to the end of the pass;
  * both still need what the daemon does use (libcurl, libsystemd), so the check reads real entries.

Reads the dynamic section with readelf; skips (77) without it.
"""
import shutil
import subprocess
import sys

NOT_IN_DAEMON = ("libfdisk.so", "libblkid.so", "libcryptsetup.so", "libyaml-0.so", "libcrypt.so", "libudev.so")
NOT_ANYWHERE = ("libnftables.so", "libarchive.so", "libxml2.so")
EVERYWHERE = ("libcurl.so", "libsystemd.so")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]


def main():
    if len(sys.argv) != 3:
        print("usage: test-daemon-libs.py AZL_AGENT AZL_AGENT_DAEMON", file=sys.stderr)
        return 2
    if not shutil.which("readelf"):
        print("SKIP: readelf not found")
        return 77
    agent, daemon = needed(sys.argv[1]), needed(sys.argv[2])
    failed = 0

    def check(ok, what):
        nonlocal failed
        print(("ok: " if ok else "FAIL: ") + what)
        failed += not ok

    for name, libs in (("azl-agent", agent), ("azl-agent-daemon", daemon)):
        for lib in EVERYWHERE:
            check(any(n.startswith(lib) for n in libs), "%s needs %s" % (name, lib))
        for lib in NOT_ANYWHERE:
            check(not any(n.startswith(lib) for n in libs), "%s does not need %s (dlopen)" % (name, lib))
    for lib in NOT_IN_DAEMON:
        check(not any(n.startswith(lib) for n in daemon), "azl-agent-daemon does not need %s" % lib)
    check(any(n.startswith("libfdisk.so") for n in agent), "azl-agent needs libfdisk.so (the provision verb)")
    print("%d libraries for azl-agent, %d for azl-agent-daemon" % (len(agent), len(daemon)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
