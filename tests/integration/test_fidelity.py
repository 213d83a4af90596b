# SPDX-License-Identifier: MIT
"""Partial input is not total failure, ambiguous input is refused (issue #19), end to end against the simulated
fabric on scratch roots: one bad SSH key among good ones, two NICs sharing a MAC, a secondary IP outside its
subnet — skipped, reported (state.json, `status`, KVP, journal/stderr) and the rest provisioned; an ovf-env.xml
with an element twice — refused with a precise reason; one without ProvisionGuestAgent — accepted."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402
from test_provision import validate  # noqa: E402

GOOD = None  # the default scenario's two keys
BAD_BASE64 = "ssh-rsa AAAAB3NzaC1yc2E!!not-base64!! broken@example (TEST)"
DSS = "ssh-dss AAAAB3NzaC1kc3MAAACBAP1/U4EddRIpUt9KnC7s5Of2EbdSPO9EAMMeP4C2 old@example (TEST)"
SCHEMA = os.path.join(azltest.SRC, "docs", "status.schema.json")


def setUpModule():
    global GOOD
    with open(azltest.DEFAULT_SCENARIO) as f:
        GOOD = [k["keyData"] for k in json.load(f)["admin"]["sshKeys"]]


def kvp_records(root):
    data = root.read("/var/lib/hyperv/.kvp_pool_1", "rb")
    return [(data[i:i + 512].rstrip(b"\0").decode(), data[i + 512:i + 2560].rstrip(b"\0").decode())
            for i in range(0, len(data), 2560)]


def keys_patch(*keys):
    return {"admin": {"sshKeys": [{"keyData": k, "path": "/home/azureuser/.ssh/authorized_keys"} for k in keys]}}


class PartialInput(azltest.FabricTestCase):
    def assert_ready(self, fabric, r):
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual([h["state"] for h in fabric.health_reports()][-1], "Ready")

    def status_json(self, root):
        r = root.run("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        with open(SCHEMA) as f:
            validate(doc, json.load(f))
        return doc

    def test_bad_keys_skipped_good_keys_installed(self):
        fabric, root = self.start(keys_patch(GOOD[0], BAD_BASE64, DSS, GOOD[1]))
        r = root.run("provision")
        self.assert_ready(fabric, r)
        # Exactly the two good keys, in order; the bad ones nowhere.
        self.assertEqual(root.read("/home/azureuser/.ssh/authorized_keys"), GOOD[0] + "\n" + GOOD[1] + "\n")

        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["state"], "ready")
        self.assertEqual(state["admin_user"], "azureuser")
        skipped = state["skipped"]
        # IMDS and ovf-env both carry every key: each bad one is reported once.
        self.assertEqual([(s["step"], s["item"]) for s in skipped],
                         [("validate", "SSH public key #2 (ssh-rsa, for /home/azureuser/.ssh/authorized_keys)"),
                          ("validate", "SSH public key #3 (ssh-dss, for /home/azureuser/.ssh/authorized_keys)")])
        self.assertIn("malformed key", skipped[0]["reason"])
        self.assertIn("unsupported key type", skipped[1]["reason"])
        steps = {s["name"]: s for s in state["steps"]}
        self.assertEqual(steps["validate"]["summary"], "2 invalid SSH key(s) skipped, 2 kept")

        # status: text and JSON (schema-valid) show them.
        text = root.run("status")
        self.assertIn("skipped:\n  validate         SSH public key #2 (ssh-rsa", text.stdout)
        self.assertEqual(self.status_json(root)["provisioning"]["skipped"], skipped)
        # The log line (stderr here, the journal under systemd).
        self.assertIn("Step validate: skipped SSH public key #3 (ssh-dss", r.stderr)
        # KVP: one event record per skipped item, and the final report says success.
        recs = kvp_records(root)
        events = [v for k, v in recs if k.startswith("azl-agent|skipped|")]
        self.assertEqual(len(events), 2, recs)
        self.assertTrue(events[1].startswith("step=validate|item=SSH public key #3 (ssh-dss, for /home/azureuser"),
                        events)
        self.assertTrue(dict(recs)["PROVISIONING_REPORT"].startswith("result=success"))

    def test_no_valid_key_no_password_fails(self):
        fabric, root = self.start(keys_patch(BAD_BASE64, DSS))
        passwd = root.read("/etc/passwd")
        r = root.run("provision")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        failed = [h for h in fabric.health_reports() if h["subStatus"] == "ProvisioningFailed"]
        self.assertEqual(len(failed), 1)
        self.assertIn("No valid SSH key (2 skipped as invalid) and no password", failed[0]["description"])
        self.assertEqual(root.read("/etc/passwd"), passwd)  # nothing written
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(len(state["skipped"]), 2)

    def test_bad_key_with_password_still_provisions(self):
        fabric, root = self.start({**keys_patch(DSS), "admin": {"sshKeys": [DSS], "password": "Fid3lity-Pw!x",
                                                                 "disablePasswordAuthentication": False}})
        r = root.run("provision")
        self.assert_ready(fabric, r)
        self.assertFalse(os.path.exists(root.file("/home/azureuser/.ssh/authorized_keys")))
        self.assertNotIn("Fid3lity-Pw!x", r.stderr + root.read("/var/lib/azl-agent/state.json"))

    def test_network_shared_mac_and_outside_subnet(self):
        nics = [{"macAddress": "000D3A1B2C3D", "ipv4": ["10.0.0.4", "10.0.9.9", "10.0.0.5"],
                 "subnet": {"address": "10.0.0.0", "prefix": 24}},
                {"macAddress": "00:0d:3a:1b:2c:3d", "ipv4": ["10.0.3.4"]},
                {"macAddress": "000D3A0A0B0C", "ipv4": ["10.0.2.4"], "subnet": {"address": "10.0.2.0", "prefix": 24}}]
        fabric, root = self.start({"network": {"interfaces": nics}})
        r = root.run("provision")
        self.assert_ready(fabric, r)
        # The good NICs are rendered, with what was good in them.
        primary = root.read("/run/systemd/network/10-azl-000d3a1b2c3d.network")
        self.assertIn("Address=10.0.0.5/24\n", primary)
        self.assertNotIn("Address=10.0.9.9", primary)
        self.assertIn("# Left out (bad IMDS data): network.interface[0].ipv4.ipAddress[1].privateIpAddress: "
                      "'10.0.9.9' is not inside any network.interface[0].ipv4.subnet\n", primary)
        third = root.read("/run/systemd/network/10-azl-000d3a0a0b0c.network")
        self.assertIn("# network.interface[2]\n", third)
        self.assertIn("RouteMetric=300\n", third)
        net_files = sorted(os.listdir(root.file("/run/systemd/network")))
        self.assertEqual(net_files, ["05-azl-vf-000d3a0a0b0c.network", "05-azl-vf-000d3a1b2c3d.network",
                                     "10-azl-000d3a0a0b0c.network", "10-azl-000d3a1b2c3d.network"])

        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual([(s["step"], s["item"]) for s in state["skipped"]],
                         [("network", "network.interface[0].ipv4.ipAddress[1]"), ("network", "network.interface[1]")])
        self.assertIn("00:0d:3a:1b:2c:3d is also the MAC of network.interface[0]", state["skipped"][1]["reason"])
        steps = {s["name"]: s for s in state["steps"]}
        self.assertEqual(steps["network"]["result"], "changed")
        self.assertIn("2 interface(s)", steps["network"]["summary"])
        self.assertIn("2 IMDS entries skipped", steps["network"]["summary"])
        self.assertEqual(len([k for k, _ in kvp_records(root) if k.startswith("azl-agent|skipped|")]), 2)
        self.assertEqual(len(self.status_json(root)["provisioning"]["skipped"]), 2)

    def test_network_without_usable_primary_fails(self):
        fabric, root = self.start()
        # The real instance document with interface[0]'s MAC broken, served in its place.
        req = urllib.request.Request(fabric.endpoints["imds"] + "/metadata/instance?api-version=2021-02-01",
                                     headers={"Metadata": "true"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc = json.load(resp)
        doc["network"]["interface"][0]["macAddress"] = "000D3A1B2C3"
        fabric.set_faults([{"endpoint": "imds", "path": "/metadata/instance", "status": 200,
                            "body": json.dumps(doc), "contentType": "application/json"}])
        r = root.run("provision")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        failed = [h for h in fabric.health_reports() if h["subStatus"] == "ProvisioningFailed"]
        self.assertEqual(len(failed), 1, fabric.health_reports())
        self.assertIn("network.interface[0].macAddress", failed[0]["description"])
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["state"], "failed")
        self.assertFalse(os.path.exists(root.file("/run/systemd/network/10-azl-000d3a1b2c3d.network")))


class OvfEnvFidelity(azltest.FabricTestCase):
    def seed(self, root, transform):
        path = root.file("/var/lib/azl-agent/seed/ovf-env.xml")
        with open(path) as f:
            text = f.read()
        new = transform(text)
        self.assertNotEqual(new, text)
        with open(path, "w") as f:
            f.write(new)

    def test_duplicate_username_refused(self):
        fabric, root = self.start()
        self.seed(root, lambda t: t.replace("<UserName>azureuser</UserName>",
                                            "<UserName>azureuser</UserName><UserName>root</UserName>"))
        passwd = root.read("/etc/passwd")
        r = root.run("provision")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        failed = [h for h in fabric.health_reports() if h["subStatus"] == "ProvisioningFailed"]
        self.assertEqual(len(failed), 1, fabric.health_reports())
        self.assertIn("ovf-env.xml is invalid: UserName appears 2 times in LinuxProvisioningConfigurationSet",
                      failed[0]["description"])
        self.assertEqual(root.read("/etc/passwd"), passwd)

    def test_duplicate_provisioning_section_refused(self):
        fabric, root = self.start()

        def twice(t):
            a = t.index("<wa:ProvisioningSection>")
            b = t.index("</wa:ProvisioningSection>") + len("</wa:ProvisioningSection>")
            return t[:b] + t[a:b].replace("azureuser", "intruder") + t[b:]
        self.seed(root, twice)
        r = root.run("provision")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        state = json.loads(root.read("/var/lib/azl-agent/state.json"))
        self.assertEqual(state["reason"], "ovf-env.xml is invalid: ProvisioningSection appears 2 times in "
                                          "Environment (at most once is allowed)")
        self.assertIsNone(root.passwd_entry("intruder"))

    def test_without_provision_guest_agent_accepted(self):
        fabric, root = self.start()
        self.seed(root, lambda t: t.replace("<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>", ""))
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(fabric.health_reports()[-1]["state"], "Ready")
        self.assertIsNotNone(root.passwd_entry("azureuser"))


if __name__ == "__main__":
    azltest.main()
