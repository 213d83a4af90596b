#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The VM rig reports its own failures as failures (issue #17 §8, docs/security.md "Tests that tell the truth").

Against a throw-away image cache (AZL_VM_CACHE), never the real one, and without booting anything:

  * ensure-images.sh with an unreachable mirror exits 75, records "mirror-unreachable", and says so on one line;
  * ensure-images.sh with a mirror that answers but cannot be built from (a Release file and nothing else, served
    on 127.0.0.1 in this test's network namespace) exits 1 and records "failed" with build-image.sh's last line;
  * test-vm-boot.py then FAILS for an image whose build failed or was never attempted, and SKIPS, printing the
    reason, only when the mirror was unreachable.

The old rig turned every one of these into a skip (run-tests.sh: "building the VM images failed; the vm tests will
skip"; test-vm-boot.py: exit 77 for any missing image).
"""
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import vmrig  # noqa: E402

n = failed = 0


def check(ok, what, detail=""):
    global n, failed
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {what}")
    if not ok:
        failed += 1
        for line in str(detail).splitlines()[-15:]:
            print("# " + line)


def run(cmd, cache, **env):
    e = {k: v for k, v in os.environ.items() if k != "AZL_VM_TESTS"}
    e.update(AZL_VM_CACHE=cache, **env)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)


def status(cache):
    for d in os.listdir(cache) if os.path.isdir(cache) else []:
        p = os.path.join(cache, d, "build-status")
        if os.path.exists(p):
            with open(p) as f:
                return f.read().strip()
    return ""


def boot(cache, **env):
    return run([sys.executable, os.path.join(HERE, "test-vm-boot.py"), "--agent", "cloudinit"], cache, **env)


def main():
    if os.environ.get("AZL_VM_NETNS") != "1":
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
            print("1..0 # SKIP cannot create a private network namespace")
            return 0
        os.execvpe("unshare", ["unshare", "--net", sys.executable] + sys.argv, dict(os.environ, AZL_VM_NETNS="1"))
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    ensure = os.path.join(HERE, "ensure-images.sh")
    can_boot = not vmrig.missing_tools()
    tmp = tempfile.mkdtemp(prefix="azl-vm-rig-")
    try:
        # never attempted: a failure, not a skip
        cache = os.path.join(tmp, "never")
        os.makedirs(cache)
        if can_boot:
            r = boot(cache)
            check(r.returncode == 1 and "FAIL: VM image 'cloudinit' not built" in r.stdout,
                  "image never built: test-vm-boot fails (exit %d)" % r.returncode, r.stdout + r.stderr)
            r = boot(cache, AZL_VM_TESTS="0")
            check(r.returncode == 77, "AZL_VM_TESTS=0: test-vm-boot skips", r.stdout)

        # mirror unreachable: the one skip, said on one line
        cache = os.path.join(tmp, "unreachable")
        r = run(["bash", ensure, "base"], cache, AZL_VM_MIRROR="http://127.0.0.1:9/debian")
        lines = [l for l in r.stderr.splitlines() if l.startswith("vm-images: SKIP: ")]
        check(r.returncode == 75 and len(lines) == 1 and "http://127.0.0.1:9/debian is unreachable" in lines[0],
              "unreachable mirror: ensure-images exits 75 with one SKIP line", r.stdout + r.stderr)
        check(status(cache).startswith("mirror-unreachable "), "unreachable mirror recorded", status(cache))
        if can_boot:
            r = boot(cache)
            check(r.returncode == 77 and "is unreachable" in r.stdout,
                  "unreachable mirror: test-vm-boot skips and says why", r.stdout + r.stderr)

        # a build that fails with the mirror reachable: a failure
        if os.geteuid() != 0 or not shutil.which("debootstrap"):
            print("# build failure part not run: needs root and debootstrap (build-image.sh)")
        else:
            www = os.path.join(tmp, "mirror")
            os.makedirs(os.path.join(www, "debian", "dists", "bookworm"))
            with open(os.path.join(www, "debian", "dists", "bookworm", "Release"), "w") as f:
                f.write("Origin: not a mirror\n")
            handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=www, **k)  # noqa: E731
            http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            cache = os.path.join(tmp, "broken")
            mirror = "http://127.0.0.1:%d/debian" % srv.server_address[1]
            r = run(["bash", ensure, "base"], cache, AZL_VM_MIRROR=mirror)
            srv.shutdown()
            check(r.returncode == 1 and "vm-images: FAIL: build-image.sh base exited" in r.stderr,
                  "failed build with the mirror reachable: ensure-images exits 1 (exit %d)" % r.returncode,
                  r.stdout + r.stderr)
            check(status(cache).startswith("failed build-image.sh base exited"), "failed build recorded",
                  status(cache))
            if can_boot:
                r = boot(cache)
                check(r.returncode == 1 and "FAIL: VM image 'cloudinit' not built: build-image.sh" in r.stdout,
                      "failed build: test-vm-boot fails (exit %d)" % r.returncode, r.stdout + r.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
