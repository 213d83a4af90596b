# SPDX-License-Identifier: MIT
"""User data (issue #18) end to end on the simulated fabric, on scratch roots.

The default scenario's CustomData is a cloud-config (a second user with a key and sudo, files with owners and
modes, a runcmd marker); tests/fabric/scenarios/userdata-multipart.json is MIME multipart (two cloud-config parts
merged by a Merge-Type header, a script, a boothook, a per-boot script, a jinja part and an 'apt' key that are not
supported). `azl-agent provision` runs the configuration modules; `azl-agent userdata run` (what
azl-userdata.service starts after Ready) runs the scripts chrooted into the root. Asserted: /etc/passwd, groups,
shadow, sudoers, authorized_keys, files' bytes/modes/owners, markers and their order, the waagent copy, the KVP
record, the status (text, JSON against docs/status.schema.json, --wait), and that the user data never shows up
in the status or the journal-bound output.
"""
import base64
import gzip
import json
import os
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402
from test_provision import validate  # noqa: E402

VM_ID = "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"
SCENARIOS = os.path.join(azltest.SRC, "tests", "fabric", "scenarios")
DEMO_KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFQl9NVmlqTdT2CeaPdMINCrwDsLFlUS2/eXUkNkZq5 "
            "demo@azl-demo (TEST KEY, do not use)")
DISABLE_ROOT_OPTS = ('no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command="echo \'Please login as the '
                     'user \\"azureuser\\" rather than the user \\"root\\".\';echo;sleep 10;exit 142"')


def scenario(name):
    with open(os.path.join(SCENARIOS, name + ".json")) as f:
        doc = json.load(f)
    doc.pop("name", None)
    doc.pop("description", None)
    return doc


def schema():
    with open(os.path.join(azltest.SRC, "docs", "status.schema.json")) as f:
        return json.load(f)


class UserDataTestCase(azltest.FabricTestCase):
    def owner_of(self, root, path):
        st = os.stat(root.file(path))
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    def ids(self, root, user):
        pw = root.passwd_entry(user)
        self.assertIsNotNone(pw, user)
        return int(pw[2]), int(pw[3])

    def group_members(self, root, group):
        for line in root.read("/etc/group").splitlines():
            f = line.split(":")
            if f[0] == group:
                return [m for m in f[3].split(",") if m]
        return None

    def status_json(self, root):
        r = root.run("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        validate(doc, schema())
        return doc

    def kvp(self, root):
        pool = root.read("/var/lib/hyperv/.kvp_pool_1", "rb")
        return {pool[i:i + 512].rstrip(b"\0"): pool[i + 512:i + 2560].rstrip(b"\0") for i in range(0, len(pool), 2560)}


class DefaultScenario(UserDataTestCase):
    def test_cloud_config(self):
        fabric, root = self.start()
        custom = fabric.scenario["customData"]
        root.install_shell()
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)

        # users: the second user, its group, shell, gecos, key, sudo rule; the administrator as always
        self.assertEqual(root.passwd_entry("demo")[4:], ["Demo User", "/home/demo", "/bin/bash"])
        self.assertIn("demo", self.group_members(root, "users"))
        uid, gid = self.ids(root, "demo")
        self.assertEqual(root.read("/home/demo/.ssh/authorized_keys"), DEMO_KEY + "\n")
        self.assertEqual(self.owner_of(root, "/home/demo/.ssh/authorized_keys"), (uid, gid, 0o600))
        shadow = [l for l in root.read("/etc/shadow").splitlines() if l.startswith("demo:")][0]
        self.assertTrue(shadow.split(":")[1].startswith("!"), shadow)   # lock_passwd defaults to true
        self.assertEqual(root.read("/etc/sudoers.d/90-cloud-init-users"),
                         "# Created by azl-agent from the cloud-config 'users' key\n\n"
                         "# User rules for demo\ndemo ALL=(ALL) NOPASSWD:ALL\n")
        self.assertEqual(self.owner_of(root, "/etc/sudoers.d/90-cloud-init-users"), (0, 0, 0o440))
        if os.path.exists("/usr/sbin/visudo"):
            v = subprocess.run(["/usr/sbin/visudo", "-c", "-f", root.file("/etc/sudoers.d/90-cloud-init-users")],
                               capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIsNotNone(root.passwd_entry("azureuser"))
        # root's keys: the administrator's, redirecting to it (cloud-init's disable_root default)
        root_keys = root.read("/root/.ssh/authorized_keys").splitlines()
        self.assertEqual(len(root_keys), 2)
        self.assertTrue(all(k.startswith(DISABLE_ROOT_OPTS + " ssh-") for k in root_keys), root_keys)

        # write_files: bytes, modes, owners
        self.assertEqual(root.read("/etc/azl-demo/motd"), "azl-demo custom data\n")
        self.assertEqual(self.owner_of(root, "/etc/azl-demo/motd"), (0, 0, 0o644))
        # owned by demo, so deferred (write_files runs before users, as in cloud-init): written after Ready
        self.assertFalse(os.path.exists(root.file("/etc/azl-demo/app.conf")))

        # waagent's copy of the custom data, the KVP record
        self.assertEqual(root.read("/var/lib/waagent/CustomData"), custom)
        self.assertEqual(self.owner_of(root, "/var/lib/waagent/CustomData"), (0, 0, 0o600))
        self.assertTrue(self.kvp(root)[b"PROVISIONING_USERDATA"].startswith(b"source=ovf|parts=1|cloud_config=1|"))

        # the step and the status before the after-Ready phase
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        names = [s["name"] for s in state["steps"]]
        self.assertLess(names.index("validate"), names.index("userdata"))
        self.assertLess(names.index("userdata"), names.index("hostname"))
        self.assertEqual({s["name"]: s["result"] for s in state["steps"]}["userdata"], "changed")
        doc = self.status_json(root)
        self.assertEqual(doc["userdata"]["state"], "pending")
        self.assertEqual(doc["userdata"]["source"], "ovf")
        self.assertEqual(doc["userdata"]["unsupported"], [])
        self.assertFalse(os.path.exists(root.file("/var/tmp/azl-demo-runcmd")))   # runcmd waits for Ready

        # after Ready: runcmd
        r = root.run("userdata", "run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(os.path.exists(root.file("/var/tmp/azl-demo-runcmd")))
        self.assertEqual(root.read("/etc/azl-demo/app.conf"), "demo-secret-setting=42\n")
        self.assertEqual(self.owner_of(root, "/etc/azl-demo/app.conf"), (uid, gid, 0o600))  # permissions: 0600 (octal)
        doc = self.status_json(root)
        ud = doc["userdata"]
        self.assertEqual(ud["state"], "done")
        runcmd = [s for s in ud["scripts"] if s["name"] == "runcmd"][0]
        self.assertEqual((runcmd["frequency"], runcmd["state"], runcmd["exit_status"]), ("instance", "done", 0))
        self.assertIn("azl-demo custom data", runcmd["output"])
        log = root.read("/var/log/azl-agent-userdata.log")
        self.assertIn("azl-demo custom data\n", log)
        self.assertEqual(self.owner_of(root, "/var/log/azl-agent-userdata.log")[2], 0o600)
        text = root.run("status").stdout
        self.assertIn("userdata:      done (CustomData, 1 part(s))", text)
        # the user data itself is in neither the status nor the state file
        for needle in ("ZGVtby1zZWNyZXQtc2V0dGluZz00Mgo=", "demo-secret-setting", "AAAAIDFQl9NVmlqTdT2CeaPdMINCrwDs"):
            self.assertNotIn(needle, text)
            self.assertNotIn(needle, json.dumps(doc))
            self.assertNotIn(needle, root.read("/var/lib/azl-agent/state.json"))

        # a reboot: nothing re-created, runcmd not again
        watched = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/azl-demo/app.conf", "/home/demo/.ssh/authorized_keys",
                   "/etc/sudoers.d/90-cloud-init-users", "/root/.ssh/authorized_keys"]
        before = {p: os.stat(root.file(p)).st_mtime_ns for p in watched}
        os.unlink(root.file("/var/tmp/azl-demo-runcmd"))
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual(root.run("userdata", "run").returncode, 0)
        self.assertEqual({p: os.stat(root.file(p)).st_mtime_ns for p in watched}, before)
        self.assertFalse(os.path.exists(root.file("/var/tmp/azl-demo-runcmd")))

    def test_failing_runcmd_is_degraded_not_failed(self):
        # (not "- [false]": YAML reads that as the boolean False, and cloud-init would run a command "False")
        fabric, root = self.start({"customData": "#cloud-config\nruncmd:\n  - echo about to fail\n  - exit 3\n"})
        root.install_shell()
        waiter = subprocess.Popen([azltest.AGENT, "--root", root.path, "status", "--wait", "--json"],
                                  stdout=subprocess.PIPE, text=True)
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual([h["state"] for h in fabric.health_reports()], ["NotReady", "Ready"])
        self.assertIsNone(waiter.poll())        # Ready, but the after-Ready phase has not run: still waiting
        r = root.run("userdata", "run")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)  # EXIT_DEGRADED
        out, _ = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 2)
        doc = json.loads(out)
        validate(doc, schema())
        self.assertEqual(doc["provisioning"]["state"], "ready")
        self.assertEqual(doc["userdata"]["state"], "degraded")
        runcmd = [s for s in doc["userdata"]["scripts"] if s["name"] == "runcmd"][0]
        self.assertEqual((runcmd["state"], runcmd["exit_status"]), ("failed", 3))
        self.assertIn("about to fail", runcmd["output"])
        text = root.run("status").stdout
        self.assertIn("userdata:      degraded", text)
        self.assertIn("| about to fail", text)
        # the fabric saw no NotReady after Ready
        self.assertEqual([h["state"] for h in fabric.health_reports()], ["NotReady", "Ready"])

    def test_imds_user_data_when_no_custom_data(self):
        fabric, root = self.start({"customData": None,
                                   "userData": "#cloud-config\nwrite_files:\n  - path: /etc/from-imds\n"
                                               "    content: imds\nsnap: {}\n"})
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(root.read("/etc/from-imds"), "imds")
        self.assertFalse(os.path.exists(root.file("/var/lib/waagent/CustomData")))
        ud = self.status_json(root)["userdata"]
        self.assertEqual((ud["source"], ud["unsupported"]), ("imds", ["snap"]))
        # the warning: key names only, on stderr (the journal and the console on a VM)
        self.assertIn("not supported by azl-agent, ignored: snap.", r.stderr)

    def test_sources_none(self):
        fabric, root = self.start(conf_extra="[UserData]\nSources=none\n")
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsNone(root.passwd_entry("demo"))
        self.assertFalse(os.path.exists(root.file("/var/lib/waagent/CustomData")))
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual({s["name"]: s["result"] for s in state["steps"]}["userdata"], "skipped")
        self.assertEqual(self.status_json(root)["userdata"]["state"], "none")


class Include(UserDataTestCase):
    def test_include_over_http(self):
        # #include-once of a blob the fabric serves on 127.0.0.1 (plain http: allowed by AllowHTTPInclude=yes),
        # and an https URL that refuses the connection: reported, the rest used.
        with open(os.path.join(self.workdir, "included.yaml"), "w") as f:
            f.write("#cloud-config\nwrite_files:\n  - path: /etc/included\n    content: from an include\n")
        self.fabric = fabric = azltest.Fabric(self.workdir, {"blobFixtures": {"/userdata/included.yaml":
                                                                              "included.yaml"}})
        fabric.scenario["customData"] = ("#include-once %s/userdata/included.yaml\nhttps://127.0.0.1:1/nothing\n"
                                         % fabric.endpoints["blob"])
        with open(fabric.scenario_path, "w") as f:
            json.dump(fabric.scenario, f)
        root = azltest.ScratchRoot(self.workdir, fabric, "[UserData]\nAllowHTTPInclude=yes\n")
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(root.read("/etc/included"), "from an include")
        fetched = [q for q in fabric.requests() if q.get("path") == "/userdata/included.yaml"]
        self.assertEqual(len(fetched), 1)
        ud = self.status_json(root)["userdata"]
        self.assertEqual(len(ud["problems"]), 1)                # the refused https include
        self.assertEqual(ud["parts"][0]["type"], "cloud-config")
        cache = root.file("/var/lib/azl-agent/userdata/includes")
        self.assertEqual(len(os.listdir(cache)), 1)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(cache, os.listdir(cache)[0])).st_mode), 0o600)
        # #include-once: never fetched again (a later boot, --force)
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual(root.run("provision", "--force").returncode, 0)
        self.assertEqual(len([q for q in fabric.requests() if q.get("path") == "/userdata/included.yaml"]), 1)

        # without AllowHTTPInclude=yes: http is refused, nothing is fetched, the problem is reported
        os.makedirs(os.path.join(self.workdir, "b"))
        root_b = azltest.ScratchRoot(os.path.join(self.workdir, "b"), fabric)
        self.assertEqual(root_b.run("provision").returncode, 0)
        self.assertFalse(os.path.exists(root_b.file("/etc/included")))
        self.assertEqual(len([q for q in fabric.requests() if q.get("path") == "/userdata/included.yaml"]), 1)
        self.assertEqual(len(self.status_json(root_b)["userdata"]["problems"]), 2)


class MultipartScenario(UserDataTestCase):
    def run_multipart(self, patch):
        fabric, root = self.start(patch)
        root.install_shell()
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("not supported by azl-agent, ignored: apt, part part-006: jinja2.", r.stderr)

        # the boothook ran during provisioning, with INSTANCE_ID
        self.assertEqual(root.read("/var/tmp/azl-multipart-boothook"), "boothook %s\n" % VM_ID)
        # groups and the user with a password hash, unlocked (lock_passwd: false)
        self.assertEqual(self.group_members(root, "webops"), ["web"])
        self.assertEqual(root.passwd_entry("web")[6], "/bin/sh")
        shadow = [l for l in root.read("/etc/shadow").splitlines() if l.startswith("web:")][0]
        self.assertEqual(shadow.split(":")[1], "$6$azlDemoSalt$JEhih6sN00MmnKQOvS8oX5ObfWZt8xC6GcxlSWT/Kd9hptgMWCJ/"
                                               "pnEKCwp34wys6SL8iDbKjcFO2AX0cthBd.")
        # files of both parts: the second part's Merge-Type appended its write_files and runcmd
        self.assertEqual(root.read("/etc/azl-multipart/base.txt"), "from part one")
        self.assertEqual(root.read("/etc/azl-multipart/more.txt"), "from part two\n")
        self.assertEqual(self.owner_of(root, "/etc/azl-multipart/more.txt"), (0, 0, 0o600))
        ud = self.status_json(root)["userdata"]
        self.assertTrue(ud["mime"])
        self.assertEqual([(p["name"], p["type"], p["supported"]) for p in ud["parts"]],
                         [("10-base.yaml", "cloud-config", True), ("20-more.yaml", "cloud-config", True),
                          ("50-setup.sh", "x-shellscript", True), ("part-004", "cloud-boothook", True),
                          ("part-005", "x-shellscript-per-boot", True), ("part-006", "jinja2", False)])
        self.assertEqual(ud["unsupported"], ["apt", "part part-006: jinja2"])

        r = root.run("userdata", "run")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the user's script before runcmd (by name), runcmd's two parts in order
        self.assertEqual(root.read("/var/tmp/azl-multipart-setup"), "setup ran as 0\n")
        self.assertEqual(root.read("/var/tmp/azl-multipart-order"), "part-one\npart-two\n")
        self.assertEqual(root.read("/var/tmp/azl-multipart-per-boot"), "boot\n")
        ud = self.status_json(root)["userdata"]
        self.assertEqual(ud["state"], "done")
        self.assertEqual(sorted((s["name"], s["frequency"], s["exit_status"]) for s in ud["scripts"]),
                         [("50-setup.sh", "instance", 0), ("boothook-part-004", "early", 0),
                          ("part-005", "boot", 0), ("runcmd", "instance", 0)])

        # the next boot: boothook and per-boot again, the rest not
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual(root.run("userdata", "run").returncode, 0)
        self.assertEqual(root.read("/var/tmp/azl-multipart-boothook"), "boothook %s\n" % VM_ID * 2)
        self.assertEqual(root.read("/var/tmp/azl-multipart-per-boot"), "boot\nboot\n")
        self.assertEqual(root.read("/var/tmp/azl-multipart-order"), "part-one\npart-two\n")

        # show (root only) and validate agree on the parts
        show = json.loads(root.run("userdata", "show", "--json").stdout)
        self.assertEqual(len(show["parts"]), 6)
        self.assertEqual(root.run("userdata", "show", "--part", "50-setup.sh").stdout,
                         "#!/bin/sh\necho \"setup ran as $(id -u)\" > /var/tmp/azl-multipart-setup")
        return fabric, root

    def test_multipart(self):
        fabric, root = self.run_multipart(scenario("userdata-multipart"))
        v = subprocess.run([azltest.AGENT, "userdata", "validate", "-"], input=fabric.scenario["customData"],
                           capture_output=True, text=True)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertIn("key 'apt' is not supported", v.stdout)
        self.assertIn("part part-006 (text/jinja2) is not supported", v.stdout)

    def test_multipart_gzip(self):
        # the same document gzip-compressed, as `write-mime-multipart | gzip` makes it
        patch = scenario("userdata-multipart")
        patch["customData"] = {"base64": base64.b64encode(gzip.compress(patch["customData"].encode())).decode()}
        fabric, root = self.run_multipart(patch)
        self.assertTrue(self.status_json(root)["userdata"]["gzip"])


if __name__ == "__main__":
    azltest.main()
