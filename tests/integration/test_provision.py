# SPDX-License-Identifier: MIT
"""`azl-agent provision` end to end against the simulated fabric, on scratch roots (issue #4)."""
import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402

KEYS = None  # the default scenario's two keys, filled in setUpModule


def setUpModule():
    global KEYS
    with open(azltest.DEFAULT_SCENARIO) as f:
        KEYS = [k["keyData"] for k in json.load(f)["admin"]["sshKeys"]]


class ProvisionDefault(azltest.FabricTestCase):
    def test_default_scenario(self):
        fabric, root = self.start()
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)

        # User with the right groups and shell.
        pw = root.passwd_entry("azureuser")
        self.assertIsNotNone(pw)
        uid, gid, home, shell = int(pw[2]), int(pw[3]), pw[5], pw[6]
        self.assertEqual((home, shell), ("/home/azureuser", "/bin/bash"))
        groups = {l.split(":")[0]: l.split(":")[3].split(",") for l in root.read("/etc/group").splitlines()}
        self.assertIn("azureuser", groups["wheel"])
        # No password in the scenario: the account is locked ('!' prefix in shadow).
        shadow = [l for l in root.read("/etc/shadow").splitlines() if l.startswith("azureuser:")][0]
        self.assertTrue(shadow.split(":")[1].startswith("!"), shadow)

        # sudoers drop-in: bytes, mode, and visudo accepts it.
        sudoers = root.file("/etc/sudoers.d/azl-agent")
        self.assertEqual(stat.S_IMODE(os.stat(sudoers).st_mode), 0o440)
        self.assertIn("azureuser ALL=(ALL) NOPASSWD:ALL\n", root.read("/etc/sudoers.d/azl-agent"))
        if os.path.exists("/usr/sbin/visudo"):
            v = subprocess.run(["/usr/sbin/visudo", "-c", "-f", sudoers], capture_output=True, text=True)
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)

        # authorized_keys: exact bytes (each key once, even though IMDS and ovf-env both carry them), modes, owner.
        ak = root.file("/home/azureuser/.ssh/authorized_keys")
        self.assertEqual(root.read("/home/azureuser/.ssh/authorized_keys"), "".join(k + "\n" for k in KEYS))
        st = os.stat(ak)
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, uid, gid))
        st = os.stat(os.path.dirname(ak))
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o700, uid))

        self.assertEqual(root.read("/etc/ssh/sshd_config.d/50-azl-agent.conf").count("PasswordAuthentication no\n"), 1)
        self.assertEqual(root.read("/etc/hostname"), "azl-demo\n")
        self.assertTrue(os.path.exists(root.file("/etc/ssh/ssh_host_ed25519_key")))

        # The fabric recorded NotReady/Provisioning, then a valid Ready.
        reports = fabric.health_reports()
        self.assertTrue(all(h["accepted"] for h in reports), reports)
        self.assertEqual([(h["state"], h["subStatus"]) for h in reports],
                         [("NotReady", "Provisioning"), ("Ready", None)])

        # KVP holds the final report.
        kvp = root.read("/var/lib/hyperv/.kvp_pool_1", "rb")
        self.assertEqual(len(kvp) % 2560, 0)
        records = {kvp[i:i + 512].rstrip(b"\0"): kvp[i + 512:i + 2560].rstrip(b"\0") for i in range(0, len(kvp), 2560)}
        self.assertTrue(records[b"PROVISIONING_REPORT"].startswith(b"result=success|agent=azl-agent/"))
        self.assertIn(b"vm_id=5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10", records[b"PROVISIONING_REPORT"])

        # State file for `status`; marker holds the VM id; redacted ovf-env copy is 0600.
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["state"], "ready")
        self.assertEqual([s["name"] for s in state["steps"]],
                         ["media", "imds", "firewall", "wireserver", "network", "validate", "userdata",
                          "hostname", "user", "ssh-keys", "sshd-config", "ssh-host-keys", "marker", "report-ready",
                          "disks", "ssh-host-keys-rest"])
        self.assertEqual(root.read("/var/lib/azl-agent/provisioned"), "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10\n")
        steps = {s["name"]: s for s in state["steps"]}
        self.assertEqual(steps["disks"]["result"], "skipped")  # never the host's disks under --root
        # Networking from IMDS for networkd in the sandbox: the scenario's NIC by MAC, DHCP, primary metric.
        net = root.read("/run/systemd/network/10-azl-000d3a1b2c3d.network")
        self.assertIn("MACAddress=00:0d:3a:1b:2c:3d\n", net)
        self.assertIn("DHCP=ipv4\n", net)
        self.assertIn("RouteMetric=100\n", net)
        self.assertEqual(stat.S_IMODE(os.stat(root.file("/var/lib/azl-agent/ovf-env.xml")).st_mode), 0o600)

    def test_second_run_changes_nothing_new_vm_id_reprovisions(self):
        fabric, root = self.start()
        self.assertEqual(root.run("provision").returncode, 0)
        watched = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hostname", "/etc/sudoers.d/azl-agent",
                   "/home/azureuser/.ssh/authorized_keys", "/etc/ssh/sshd_config.d/50-azl-agent.conf",
                   "/etc/ssh/ssh_host_ed25519_key", "/run/systemd/network/10-azl-000d3a1b2c3d.network"]
        before = {p: os.stat(root.file(p)).st_mtime_ns for p in watched}
        host_key = root.read("/etc/ssh/ssh_host_ed25519_key.pub")
        time.sleep(0.05)

        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({p: os.stat(root.file(p)).st_mtime_ns for p in watched}, before)
        self.assertEqual([h["state"] for h in fabric.health_reports()], ["NotReady", "Ready", "Ready"])

        # A captured image booting as a new VM: provisioned again, host keys regenerated.
        fabric.patch_scenario({"vm": {"vmId": "0f0e0d0c-0b0a-4908-8706-050403020100"}})
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(root.read("/var/lib/azl-agent/provisioned"), "0f0e0d0c-0b0a-4908-8706-050403020100\n")
        self.assertNotEqual(root.read("/etc/ssh/ssh_host_ed25519_key.pub"), host_key)


class ProvisionFaults(azltest.FabricTestCase):
    def assert_failed_with(self, fabric, root, r, reason):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        failed = [h for h in fabric.health_reports() if h["subStatus"] == "ProvisioningFailed"]
        self.assertEqual(len(failed), 1, fabric.health_reports())
        self.assertTrue(failed[0]["accepted"], failed[0])
        desc = failed[0]["description"]
        self.assertTrue(desc.startswith("result=error|reason="), desc)
        self.assertIn(reason, desc)
        self.assertIn("documentation_url=https://aka.ms/linuxprovisioningerror", desc)
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["state"], "failed")
        self.assertIn(reason, state["reason"])
        self.assertFalse(os.path.exists(root.file("/var/lib/azl-agent/provisioned")))
        return desc

    def test_imds_500_three_times_then_ready(self):
        fabric, root = self.start({"faults": [{"endpoint": "imds", "path": "/metadata/instance", "nth": [1, 2, 3],
                                               "status": 500}]})
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        imds = [q for q in fabric.requests("imds") if q["path"] == "/metadata/instance"]
        self.assertEqual([q["status"] for q in imds], [500, 500, 500, 200])
        self.assertTrue(all(q["headers"].get("Metadata") == "true" for q in imds))
        self.assertEqual(fabric.health_reports()[-1]["state"], "Ready")

    def test_imds_never_answers(self):
        fabric, root = self.start({"faults": [{"endpoint": "imds", "status": 500}]},
                                  conf_extra="")
        root.write_conf(fabric, "[Timeouts]\nIMDSDeadlineSec=4\n")
        passwd = root.read("/etc/passwd")
        t0 = time.monotonic()
        r = root.run("provision")
        elapsed = time.monotonic() - t0
        self.assert_failed_with(fabric, root, r, "IMDS did not answer within 4s")
        self.assertLess(elapsed, 60)  # bounded by the deadline, not by retries piling up
        self.assertEqual(root.read("/etc/passwd"), passwd)

    def assert_untouched_failure(self, patch, reason, faults=None):
        fabric, root = self.start(patch)
        if faults:
            fabric.set_faults(faults)
        before = {p: root.read(p) for p in ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/hostname")}
        r = root.run("provision")
        self.assert_failed_with(fabric, root, r, reason)
        self.assertEqual({p: root.read(p) for p in before}, before)
        self.assertFalse(os.path.exists(root.file("/home/azureuser")))
        self.assertFalse(os.path.exists(root.file("/etc/sudoers.d/azl-agent")))

    def test_bad_username(self):
        self.assert_untouched_failure({"admin": {"username": "Bad User"}}, "Invalid admin user name 'Bad User'")

    def test_reserved_username(self):
        self.assert_untouched_failure({"admin": {"username": "daemon"}}, "Invalid admin user name 'daemon'")

    def test_bad_key_type(self):
        self.assert_untouched_failure(
            {"admin": {"sshKeys": [{"keyData": "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2",
                                    "path": "/home/azureuser/.ssh/authorized_keys"}]}},
            "No valid SSH key (1 skipped as invalid) and no password")

    def test_garbage_imds_json(self):
        self.assert_untouched_failure(None, "IMDS instance metadata is invalid",
                                      faults=[{"endpoint": "imds", "path": "/metadata/instance", "action": "garbage"}])

    def test_oversized_imds_body(self):
        self.assert_untouched_failure(None, "IMDS instance metadata is larger than allowed",
                                      faults=[{"endpoint": "imds", "path": "/metadata/instance",
                                               "action": "oversized", "oversizedBytes": 64 * 1024 * 1024}])


KEYS_DIR = os.path.join(azltest.SRC, "tests", "fabric", "scenarios", "keys")
# ssh-keygen -i -m PKCS8 of the certificates' public keys (the ed25519 one from its raw key: ssh-keygen 9.2 cannot
# import ed25519 PKCS#8); tests/extensions/test-certificates.c checks the conversion itself.
CERT_KEYS = {
    "rsa": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCVGiJZEZHwNZU75ZtAKSIpiQwO6NJnOXMcUSYMxSo/jqhKPRbglnffztv1hJiUYFeJ+BNTT"
           "53PnZF9IXWt8B96GaKu9t72GYRRk2hjXfOTK+MJyWMTtSRfpxhtAW2RkkelsMtsSblN+3bJYS8ryyef6PP0Y8GJxSBH9z7H+/OeltVQirfR0"
           "nEP3NsQQUoyAFFM0/rnTtpI4LcqmFZcDln+5oyDndt/D2AwArZ5KB5fXHvZ488oVXQ2YhzGuZUehx74SN/7ESyVSnLG5bGxDp0KDLEhfQVto"
           "25JF/vaURbOWqq7fpZUMbjjxlV3tSzNZNotJpbL9Z4BXsOYGeILl/O3",
    "ecdsa": "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBC/oehaMxzKk0/LPprsVsnfigsXsTo72"
             "9TQdocyq3V+30sa8iVxXYmJAjuV385hZPGBXlXjAwKudk9PbP3Hh0Cg=",
    "ed25519": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKWGrQ5AogCzMJHx/rVI6mZ8BntiSkvEbFzn12QLL5kh",
}


class ProvisionKeysByFingerprint(azltest.FabricTestCase):
    """ovf-env.xml keys given only by fingerprint (issue #19): the key of the goal-state certificate with that
    thumbprint, as waagent and cloud-init take it."""

    @staticmethod
    def certificates():
        certs = [{"name": "TenantCert0"}]
        for kind in CERT_KEYS:
            certs.append({"name": "ssh-" + kind, "certFile": os.path.join(KEYS_DIR, "ssh-cert-%s.crt" % kind),
                          "keyFile": os.path.join(KEYS_DIR, "ssh-cert-%s.key" % kind)})
        return certs

    def test_keys_from_certificates_unknown_fingerprint_skipped(self):
        other = "/home/azureuser/.ssh/other_keys"
        fabric, root = self.start({"tenantCertificates": self.certificates(), "admin": {"sshKeys": [
            {"certificate": "ssh-rsa"},
            {"fingerprint": "0123456789ABCDEF0123456789ABCDEF01234567"},
            {"keyData": KEYS[0]},
            {"certificate": "ssh-ecdsa"},
            {"certificate": "ssh-ed25519", "path": other}]}})
        ovf = root.read("/var/lib/azl-agent/seed/ovf-env.xml")
        self.assertIn("<Fingerprint>E1CBD8AF5A8ED9513531F7BE20C0EEE2E828A89E</Fingerprint>", ovf)
        self.assertNotIn(CERT_KEYS["rsa"].split()[1], ovf)      # really given by fingerprint only
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(root.read("/home/azureuser/.ssh/authorized_keys"),
                         KEYS[0] + "\n" + CERT_KEYS["rsa"] + "\n" + CERT_KEYS["ecdsa"] + "\n")
        self.assertEqual(root.read(other), CERT_KEYS["ed25519"] + "\n")
        self.assertEqual(stat.S_IMODE(os.stat(root.file(other)).st_mode), 0o600)
        # the fingerprint no certificate has: reported, skipped, not fatal
        self.assertIn("0123456789ABCDEF0123456789ABCDEF01234567", r.stderr)
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["state"], "ready")
        validate_step = [s for s in state["steps"] if s["name"] == "validate"][0]
        self.assertIn("3 SSH key(s) from goal-state certificates; skipped: SSH key 0123456789ABCDEF0123456789ABCDEF"
                      "01234567", validate_step["summary"])
        # and listed with the other skipped input items (state.json "skipped", status, D-Bus, KVP)
        self.assertEqual([(s["step"], s["item"], s["reason"]) for s in state["skipped"]],
                         [("validate", "SSH key 0123456789ABCDEF0123456789ABCDEF01234567 for "
                           "/home/azureuser/.ssh/authorized_keys", "no goal-state certificate has that thumbprint")])
        # one Certificates request, with the transport certificate it needs (protocol §1.6), nothing written to disk
        certs = [q for q in fabric.requests("wireserver") if "comp=certificates" in q["query"]]
        self.assertEqual(len(certs), 1, certs)
        self.assertTrue(certs[0]["headers"].get("x-ms-guest-agent-public-x509-cert"))
        self.assertFalse([f for f in os.listdir(root.file("/var/lib/waagent")) if f.endswith(".prv")]
                         if os.path.isdir(root.file("/var/lib/waagent")) else [])

    def test_only_key_unknown_fingerprint_fails(self):
        fabric, root = self.start({"tenantCertificates": self.certificates(), "admin": {"sshKeys": [
            {"fingerprint": "0123456789ABCDEF0123456789ABCDEF01234567"}]}})
        r = root.run("provision")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertIn("No SSH key and no password", state["reason"])

    def test_no_fingerprint_keys_no_certificates_request(self):
        fabric, root = self.start()
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual([q for q in fabric.requests("wireserver") if "comp=certificates" in q["query"]], [])


def validate(instance, schema, path="$"):
    """The JSON Schema subset docs/status.schema.json uses: type, enum, required, properties, items."""
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool, "null": type(None)}
    allowed = schema.get("type")
    if allowed:
        allowed = allowed if isinstance(allowed, list) else [allowed]
        ok = any(isinstance(instance, types[t]) and not (t == "integer" and isinstance(instance, bool)) for t in allowed)
        assert ok, f"{path}: {instance!r} is not of type {allowed}"
    if "enum" in schema:
        assert instance in schema["enum"], f"{path}: {instance!r} not in {schema['enum']}"
    for key in schema.get("required", []):
        assert key in instance, f"{path}: missing {key}"
    for key, sub in schema.get("properties", {}).items():
        if isinstance(instance, dict) and key in instance:
            validate(instance[key], sub, f"{path}.{key}")
    if "items" in schema and isinstance(instance, list):
        for i, item in enumerate(instance):
            validate(item, schema["items"], f"{path}[{i}]")


class Status(azltest.FabricTestCase):
    def schema(self):
        with open(os.path.join(azltest.SRC, "docs", "status.schema.json")) as f:
            return json.load(f)

    def test_json_validates_and_wait_after_ready(self):
        fabric, root = self.start()
        before = root.run("status", "--json")
        self.assertEqual(before.returncode, 0, before.stderr)
        doc = json.loads(before.stdout)
        validate(doc, self.schema())
        self.assertEqual(doc["provisioning"]["state"], "not-run")

        # --wait started before provisioning returns when the run ends and the user data's after-Ready phase
        # (azl-userdata.service: `userdata run`) has run.
        root.install_shell()
        waiter = subprocess.Popen([azltest.AGENT, "--root", root.path, "status", "--wait", "--json"],
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(0.3)
        self.assertIsNone(waiter.poll())  # still waiting: nothing has run
        self.assertEqual(root.run("provision").returncode, 0)
        self.assertEqual(root.run("userdata", "run").returncode, 0)
        out, _ = waiter.communicate(timeout=30)
        self.assertEqual(waiter.returncode, 0)
        doc = json.loads(out)
        validate(doc, self.schema())
        self.assertEqual(doc["provisioning"]["state"], "ready")
        self.assertEqual(doc["provisioning"]["health"]["reported"], "Ready")
        self.assertTrue(all(s["result"] != "failed" for s in doc["provisioning"]["steps"]))

        text = root.run("status")
        self.assertIn("provisioning:  ready", text.stdout)
        self.assertNotIn("\033[", text.stdout)  # no colour when not on a TTY

        # Each step carries when it started (CLOCK_BOOTTIME, time since the kernel started), in order, and
        # --long prints the timeline from them.
        steps = doc["provisioning"]["steps"]
        starts = [s["start_usec"] for s in steps]
        self.assertEqual(starts, sorted(starts))
        with open("/proc/uptime") as f:
            uptime_usec = float(f.read().split()[0]) * 1e6
        self.assertTrue(0 < starts[0] <= uptime_usec, (starts[0], uptime_usec))
        self.assertNotIn("timeline", text.stdout)
        long = root.run("status", "--long").stdout
        self.assertIn("timeline (seconds since the kernel started):", long)
        for s in steps:
            self.assertRegex(long, r"\n  %s +%.3f → " % (re.escape(s["name"]), s["start_usec"] / 1e6))

    def test_wait_after_failure(self):
        fabric, root = self.start({"admin": {"username": "Bad User"}})
        self.assertEqual(root.run("provision").returncode, 1)
        r = root.run("status", "--wait", "--json")
        self.assertEqual(r.returncode, 1)
        doc = json.loads(r.stdout)
        validate(doc, self.schema())
        self.assertEqual(doc["provisioning"]["state"], "failed")
        self.assertIn("Invalid admin user name", doc["provisioning"]["reason"])


if __name__ == "__main__":
    azltest.main()
