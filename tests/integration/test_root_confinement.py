#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""--root confinement (issue #17 §5, docs/security.md "--root confinement"): provisioning an alternate root never
reads or writes a host path, whatever symlinks the root holds, and no spawned process carries a secret in argv.

A scratch root whose /home, /etc/sudoers.d and /etc/ssh are absolute symlinks to a host directory the test owns
(each alone, then all three):

  * when the link targets exist only on the host: provisioning fails, the reason names the path and the symlink,
    nothing appears in the host directory, and for the user step nothing of the root changed either;
  * when the targets also exist inside the root: provisioning succeeds and everything lands inside the root
    (absolute symlinks resolve inside the root, as they will when the image boots), the host directory stays
    empty.

A root without useradd: a clear error, the host's useradd is not run on the root's files.

The state directory an absolute symlink: `status --wait` watches it beneath the root and returns once provisioning
wrote state.json there (a host-path watch looked at the host's directory and waited forever).

Every tool in the root wrapped by a shell script that appends its argv and environment to a log in the root:
provisioning with a password runs useradd and chpasswd through the wrappers, and neither the password nor its
hash is in any argv or environment.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402

PASSWORD = "Root-Confinement-Pw-5521"
PATCH = {"admin": {"password": PASSWORD, "disablePasswordAuthentication": False}}
STATE = "/var/lib/azl-agent/state.json"
# root path -> (name of the host directory it points to, the step that must fail, files that must stay as they are)
LINKS = {
    "/home": ("home", "user", ("/etc/passwd", "/etc/group", "/etc/shadow")),
    "/etc/sudoers.d": ("sudoers.d", "user", ("/etc/passwd", "/etc/group", "/etc/shadow")),
    "/etc/ssh": ("ssh", "sshd-config", ()),
}
TOOLS = ("useradd", "usermod", "groupadd", "chpasswd", "visudo", "ssh-keygen")


def tree(path):
    """Every entry below path (relative), directories with a trailing '/'."""
    out = []
    for dirpath, dirs, files in os.walk(path):
        rel = os.path.relpath(dirpath, path)
        out += [os.path.join(rel, d) + "/" for d in dirs] + [os.path.join(rel, f) for f in files]
    return sorted(out)


class RootConfinementTest(azltest.FabricTestCase):
    def setUp(self):
        super().setUp()
        self.host = tempfile.mkdtemp(prefix="azl-host-")
        os.chmod(self.host, 0o755)
        for name, _, _ in LINKS.values():
            os.makedirs(os.path.join(self.host, name))
        self.host_tree = tree(self.host)

    def tearDown(self):
        shutil.rmtree(self.host, ignore_errors=True)
        super().tearDown()

    def link(self, root, path, also_inside):
        """Replaces root's path by an absolute symlink to the host directory for it."""
        target = os.path.join(self.host, LINKS[path][0])
        shutil.rmtree(root.file(path))
        os.symlink(target, root.file(path))
        if also_inside:
            os.makedirs(root.file(target))
        return target

    def assert_host_untouched(self):
        self.assertEqual(tree(self.host), self.host_tree, "something was written to the host directory")

    def state(self, root):
        return json.loads(root.read(STATE))

    def test_symlinks_to_host_fail_with_reason(self):
        cases = [[p] for p in LINKS] + [list(LINKS)]
        base = self.workdir
        for i, paths in enumerate(cases):
            with self.subTest(paths=paths):
                self.workdir = os.path.join(base, f"case{i}")
                os.makedirs(self.workdir)
                fabric, root = self.start(PATCH)
                try:
                    targets = {p: self.link(root, p, also_inside=False) for p in paths}
                    kept = {f: root.read(f) for p in paths for f in LINKS[p][2]}
                    r = root.run("provision")
                    self.assertNotEqual(r.returncode, 0, r.stderr)
                    self.assert_host_untouched()
                    st = self.state(root)
                    self.assertEqual(st["state"], "failed")
                    step = min((LINKS[p][1] for p in paths), key=["user", "sshd-config"].index)
                    self.assertTrue(st["reason"].startswith(f"Step {step} failed: "), st["reason"])
                    # The reason names the path, the symlink on it and its host target.
                    self.assertTrue(any(f"{p} is a symlink to '{t}', which is resolved inside the target root "
                                        f"{root.path})" in st["reason"] for p, t in targets.items()), st["reason"])
                    failed = [s for s in st["steps"] if s["result"] == "failed"]
                    self.assertEqual(failed[-1]["name"], step)
                    self.assertIn("symlink", failed[-1].get("summary", ""))
                    # Checked before the first change: the account databases are as they were.
                    for f, before in kept.items():
                        self.assertEqual(root.read(f), before, f)
                finally:
                    self.fabric.close()
                    self.fabric = None
                    self.workdir = base

    def test_symlinks_resolve_inside_root(self):
        fabric, root = self.start(PATCH)
        targets = {p: self.link(root, p, also_inside=True) for p in LINKS}
        # The image's /etc/ssh held sshd_config; the moved directory still does.
        with open(root.file(targets["/etc/ssh"] + "/sshd_config"), "w") as f:
            f.write("Include /etc/ssh/sshd_config.d/*.conf\n")
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_host_untouched()
        home = root.file(targets["/home"] + "/azureuser")
        self.assertTrue(os.path.isdir(home))
        self.assertEqual(os.stat(home).st_uid, int(root.passwd_entry("azureuser")[2]))
        self.assertTrue(os.path.isfile(os.path.join(home, ".ssh", "authorized_keys")))
        sudoers = root.file(targets["/etc/sudoers.d"] + "/azl-agent")
        self.assertEqual(stat.S_IMODE(os.stat(sudoers).st_mode), 0o440)
        self.assertTrue(os.path.isfile(root.file(targets["/etc/ssh"] + "/ssh_host_ed25519_key")))
        self.assertTrue(os.path.isfile(root.file(targets["/etc/ssh"] + "/sshd_config.d/50-azl-agent.conf")))

    def test_state_dir_symlink_watched_inside_root(self):
        """status --wait watches the state directory through an fd opened beneath the root: with the directory an
        absolute symlink, the old host-path watch looked at the host's directory and never saw state.json."""
        fabric, root = self.start(PATCH)
        host_state = os.path.join(self.host, "state")
        os.makedirs(host_state)
        self.host_tree = tree(self.host)
        shutil.move(root.file("/var/lib/azl-agent"), root.file(host_state))
        os.symlink(host_state, root.file("/var/lib/azl-agent"))
        waiter = subprocess.Popen([azltest.AGENT, "--root", root.path, "status", "--wait"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(1)
            self.assertIsNone(waiter.poll(), "status --wait returned before provisioning")
            r = root.run("provision")
            self.assertEqual(r.returncode, 0, r.stderr)
            # --wait also waits for the user data's after-Ready phase (azl-userdata.service), as cloud-init's
            # does for cloud-final; the scenario has custom data
            # (0 done, 2 degraded: the scratch root lacks what some of it runs; either ends the wait)
            ud = root.run("userdata", "run")
            self.assertIn(ud.returncode, (0, 2), ud.stdout + ud.stderr)
            out, _ = waiter.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            waiter.kill()
            waiter.communicate()
            self.fail("status --wait did not see state.json written beneath the root")
        self.assertEqual(waiter.returncode, ud.returncode, out)
        self.assertTrue(os.path.isfile(root.file(host_state + "/state.json")))
        self.assert_host_untouched()

    def test_tool_missing_in_root(self):
        fabric, root = self.start(PATCH)
        os.unlink(root.file("/usr/sbin/useradd"))
        passwd = root.read("/etc/passwd")
        r = root.run("provision")
        self.assertNotEqual(r.returncode, 0)
        st = self.state(root)
        self.assertEqual(st["reason"], f"Step user failed: useradd is not installed in the target root {root.path} "
                                       "(its tools run chrooted into it; the host's are never used on its files)")
        self.assertEqual(root.read("/etc/passwd"), passwd)  # the host's useradd did not stand in

    def test_no_secret_in_any_argv(self):
        fabric, root = self.start(PATCH)
        for tool in TOOLS:
            path = next(p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if os.path.exists(root.file(p)))
            os.rename(root.file(path), root.file(path + ".real"))
            with open(root.file(path), "w") as f:
                # argv NUL-separated, one record per line; the environment as the shell exports it.
                f.write("#!/bin/sh\n"
                        "{ for a in \"$0\" \"$@\"; do printf '%s\\001' \"$a\"; done; echo; } >> /argv.log\n"
                        "export -p >> /env.log\n"
                        f"exec {path}.real \"$@\"\n")
            os.chmod(root.file(path), 0o755)
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        records = [line.split("\x01")[:-1] for line in root.read("/argv.log").splitlines()]
        ran = {os.path.basename(rec[0]) for rec in records}
        # The wrappers saw the tools that create the account and set its password (the old code ran the host's).
        self.assertTrue({"useradd", "chpasswd", "ssh-keygen"} <= ran, ran)
        self.assertIn(["/usr/sbin/chpasswd", "-e"], records)
        shadow = [line for line in root.read("/etc/shadow").splitlines() if line.startswith("azureuser:")][0]
        hashed = shadow.split(":")[1]
        self.assertTrue(hashed.startswith("$y$") and azltest.crypt_matches(PASSWORD, hashed), hashed)
        argv_log, env_log = root.read("/argv.log"), root.read("/env.log")
        self.assertTrue(env_log)
        for secret in (PASSWORD, hashed, hashed.split("$")[-1]):
            self.assertNotIn(secret, argv_log)
            self.assertNotIn(secret, env_log)


if __name__ == "__main__":
    azltest.main()
