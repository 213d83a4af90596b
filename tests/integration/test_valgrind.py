# SPDX-License-Identifier: MIT
"""`azl-agent provision` under valgrind memcheck against the simulated fabric, on a scratch root (issue #12),
then the operator verbs on that root (status, analyze, collect-logs, deprovision; issue #19).

valgrind does not know openat2() (3.19 answers ENOSYS), so this also runs every file access of a full
provisioning through common/fileio.c's userspace RESOLVE_IN_ROOT fallback. A memory error or a definite leak
fails the test (--error-exitcode); so does a provisioning that does not end Ready. Spawned tools (useradd,
ssh-keygen) are not traced. Skipped when valgrind is missing or the agent is built with sanitizers (ASan and
valgrind do not mix).
"""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402

VALGRIND = ["valgrind", "--error-exitcode=1", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--track-fds=no", "--num-callers=30"]


class ProvisionUnderValgrind(azltest.FabricTestCase):
    def test_provision_memcheck_clean(self):
        fabric, root = self.start()
        log = os.path.join(self.workdir, "valgrind.log")
        r = azltest.subprocess.run(VALGRIND + ["--log-file=" + log, azltest.AGENT, "--root", root.path, "provision"],
                                   capture_output=True, text=True, timeout=600)
        with open(log) as f:
            report = f.read()
        self.assertEqual(r.returncode, 0, report + r.stderr[-4000:])
        self.assertRegex(report, r"ERROR SUMMARY: 0 errors from 0 contexts")
        m = re.search(r"definitely lost: ([\d,]+) bytes", report)
        self.assertTrue(m is None or m.group(1) == "0", report)

        # It really provisioned: the fabric saw Ready, the user and the marker exist.
        self.assertEqual([h["state"] for h in fabric.health_reports()], ["NotReady", "Ready"])
        self.assertIsNotNone(root.passwd_entry("azureuser"))
        self.assertEqual(root.read("/var/lib/azl-agent/provisioned"), "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10\n")

        # The operator verbs (issue #19) on that root: status, analyze, collect-logs, deprovision.
        archive = os.path.join(self.workdir, "logs.tar.gz")
        for i, args in enumerate((["status", "--json"], ["analyze"], ["analyze", "blame", "--json"],
                                  ["collect-logs", "-o", archive], ["deprovision", "--user", "--dry-run"],
                                  ["deprovision", "--user", "--force"])):
            vlog = os.path.join(self.workdir, "valgrind-%d.log" % i)
            r = azltest.subprocess.run(VALGRIND + ["--log-file=" + vlog, azltest.AGENT, "--root", root.path, *args],
                                       capture_output=True, text=True, timeout=600)
            with open(vlog) as f:
                report = f.read()
            self.assertEqual(r.returncode, 0, " ".join(args) + "\n" + report + r.stderr[-4000:])
            self.assertRegex(report, r"ERROR SUMMARY: 0 errors from 0 contexts", " ".join(args))
            m = re.search(r"definitely lost: ([\d,]+) bytes", report)
            self.assertTrue(m is None or m.group(1) == "0", " ".join(args) + "\n" + report)
        self.assertTrue(os.path.exists(archive))
        self.assertIsNone(root.passwd_entry("azureuser"))


if __name__ == "__main__":
    if shutil.which("valgrind") is None:
        print("SKIP: valgrind not installed")
        sys.exit(77)
    if os.environ.get("AZL_B_SANITIZE", "none") != "none":
        print("SKIP: azl-agent is built with -fsanitize=" + os.environ["AZL_B_SANITIZE"])
        sys.exit(77)
    azltest.main()
