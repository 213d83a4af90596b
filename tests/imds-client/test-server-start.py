#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A test whose own server dies fails; only a python3 that cannot be run skips (issue #17 §8).

test-imds-fabric (tests/fabric/azfabric.py) and test-http (tests/imds-client/fake-server.py) used to exit 77 when
their server exited before it listened, so a broken fabric showed as SKIP. Each binary is run here against a
throw-away source tree whose server script exits 3 at once: the binary must fail (neither 0 nor 77). With no
python3 on PATH (the exec fails) it must skip (77). TAP on stdout.

  test-server-start.py TEST_FABRIC TEST_HTTP
"""
import os
import subprocess
import sys
import tempfile

SCRIPTS = {"test-fabric": "tests/fabric/azfabric.py", "test-http": "tests/imds-client/fake-server.py"}


def run(binary, source_root, path):
    env = dict(os.environ, AZL_SOURCE_ROOT=source_root, PATH=path)
    # These runs are meant to fail, and a failing cmocka case jumps past its cleanup: under the ASan stage
    # LeakSanitizer would report that as a leak of the product. Every other sanitizer check stays on.
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    p = subprocess.run([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.decode(errors="replace")


def main():
    binaries = dict(zip(SCRIPTS, sys.argv[1:3]))
    print("1..%d" % (2 * len(binaries)))
    n = failed = 0
    with tempfile.TemporaryDirectory() as tree:
        for rel in SCRIPTS.values():
            os.makedirs(os.path.join(tree, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tree, rel), "w") as f:
                f.write("import sys\nsys.stderr.write('broken on purpose\\n')\nsys.exit(3)\n")
        for name, binary in binaries.items():
            cases = [
                ("its server exits before listening: FAIL", os.environ.get("PATH", "/usr/bin:/bin"),
                 lambda rc: rc not in (0, 77)),
                ("no python3 to run its server: SKIP", "/nonexistent", lambda rc: rc == 77),
            ]
            for what, path, ok in cases:
                n += 1
                rc, out = run(binary, tree, path)
                good = ok(rc)
                failed += not good
                print("%s %d - %s %s (exit %d)" % ("ok" if good else "not ok", n, name, what, rc))
                if not good:
                    for line in out.splitlines()[-15:]:
                        print("# " + line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
