#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Pre-provisioned VM pools (PPS, docs/pps.md) against the simulated fabric.

The scenarios tests/fabric/scenarios/pps-running.json and pps-savable.json describe a pool VM (placeholder user
'pooladmin') and, under "reprovision", the customer's VM (user 'alice', hostname 'alice-vm'). The fabric plays
the platform's side: POST /pps/nic bounces the carrier of the veth NIC 'eth0' (Running: the VNet switch) or
detaches it and hot-attaches 'eth1' (Savable) in this network namespace, which the agent shares; POST
/pps/reprovision switches /metadata/reprovisiondata on. Checked: the order of the requests the fabric recorded
(pool Ready → the wait → reprovisiondata → final Ready), that the second data set is the one provisioned, the
reported-ready marker across a restart, and a precise failure when the handover never comes.

Needs root (useradd on the scratch root) and CAP_NET_ADMIN (veth links); exits 77 otherwise.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402

SCENARIOS = os.path.join(azltest.SRC, "tests", "fabric", "scenarios")
STATE_DIR = "/var/lib/azl-agent"
MARKER = STATE_DIR + "/pps-reported-ready"
POOL_MAC = "000D3A1B2C3D"
NEW_MAC = "000D3A5E6F70"


def load_scenario(name):
    with open(os.path.join(SCENARIOS, name + ".json")) as f:
        return json.load(f)


def is_ready_report(entry):
    return (entry["endpoint"] == "wireserver" and "comp=health" in (entry["query"] or "")
            and "<State>Ready</State>" in (entry["body_text"] or ""))


def is_reprovision_poll(entry):
    return entry["endpoint"] == "imds" and entry["path"].startswith("/metadata/reprovisiondata")


class PpsTest(azltest.FabricTestCase):
    def start_pps(self, scenario, conf_extra="", nic=True):
        # A previous test's links die with its fabric's host namespace, asynchronously: wait until they are gone.
        deadline = time.monotonic() + 10
        for name in ("eth0", "eth1"):
            while (subprocess.run(["ip", "link", "show", "dev", name], capture_output=True).returncode == 0
                   and time.monotonic() < deadline):
                subprocess.run(["ip", "link", "del", name], capture_output=True)
                time.sleep(0.1)
        fabric, root = self.start(load_scenario(scenario) if isinstance(scenario, str) else scenario, conf_extra)
        if nic:
            self.nic({"action": "attach", "name": "eth0", "mac": POOL_MAC, "up": True})
        self.agent_log = os.path.join(self.workdir, "agent.log")
        return fabric, root

    def nic(self, body):
        try:
            return json.loads(self.fabric._control("POST", "/pps/nic", body))
        except urllib.error.HTTPError as e:
            self.fail("POST /pps/nic %s: %s %s" % (body, e.code, e.read().decode(errors="replace")))

    def reprovision(self):
        return json.loads(self.fabric._control("POST", "/pps/reprovision"))

    def spawn_agent(self):
        log = open(self.agent_log, "a")
        proc = subprocess.Popen([azltest.AGENT, "--root", self.root.path, "provision"], stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        return proc

    def wait_exit(self, proc, timeout=90):
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            self.fail("agent did not finish; log:\n" + self.log_text())

    def log_text(self):
        with open(self.agent_log) as f:
            return f.read()

    def wait_for(self, what, cond, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.1)
        self.fail("timed out waiting for %s; agent log:\n%s" % (what, self.log_text()))

    def wait_pool_ready(self, proc):
        """The pool Ready reached the fabric and the marker is on disk: the agent now waits."""
        self.wait_for("the pool Ready and the marker",
                      lambda: any(is_ready_report(e) for e in self.fabric.requests())
                      and os.path.exists(self.root.file(MARKER)))
        self.assertIsNone(proc.poll(), "the agent must wait in the pool, not exit:\n" + self.log_text())

    def last_seq(self):
        return max((e["seq"] for e in self.fabric.requests()), default=0)

    def state(self):
        return json.loads(self.root.read(STATE_DIR + "/state.json"))

    def steps(self):
        return {s["name"]: s for s in self.state()["steps"]}

    def assert_order(self, switch_seq=None, pool_readies=1):
        """Pool Ready(s) → [nothing before the switch] → reprovisiondata polls → 200 → final Ready."""
        log = self.fabric.requests()
        readies = [e["seq"] for e in log if is_ready_report(e) and e["status"] == 200]
        polls = [e for e in log if is_reprovision_poll(e)]
        served = [e["seq"] for e in polls if e["status"] == 200]
        self.assertTrue(served, "reprovisiondata was never served")
        self.assertEqual(len([s for s in readies if s < served[0]]), pool_readies,
                         "Ready reports before the reprovisioning data: %s" % readies)
        self.assertEqual(len([s for s in readies if s > served[0]]), 1, "exactly one final Ready: %s" % readies)
        self.assertLess(readies[0], polls[0]["seq"], "polling started before the pool Ready")
        if switch_seq is not None:
            self.assertGreater(polls[0]["seq"], switch_seq, "reprovisiondata polled before the NIC switch")
        for e in polls:
            self.assertEqual(e["headers"].get("Metadata"), "true")
            self.assertIn(e["status"], (200, 404))
        self.assertGreater(readies[-1], served[-1])
        reports = self.fabric.health_reports()
        self.assertTrue(all(r["accepted"] for r in reports), reports)
        self.assertEqual(reports[-1]["state"], "Ready")
        # The pool's Ready comes first: NotReady/Provisioning is for the owner's goal state, after the handover.
        states = [(r["state"], r.get("subStatus")) for r in reports]
        self.assertEqual(states[0], ("Ready", None), states)
        self.assertEqual(states[-2:], [("NotReady", "Provisioning"), ("Ready", None)], states)
        return polls

    def assert_customer_provisioned(self):
        """The second data set (IMDS + reprovisiondata) is the one applied; the pool's user never existed."""
        self.assertIsNotNone(self.root.passwd_entry("alice"))
        self.assertIsNone(self.root.passwd_entry("pooladmin"))
        keys = self.root.read("/home/alice/.ssh/authorized_keys")
        self.assertIn("alice@pps-customer", keys)
        self.assertNotIn("azureuser@azl-demo", keys)
        self.assertEqual(self.root.read("/etc/hostname").strip(), "alice-vm")
        saved = self.root.read(STATE_DIR + "/ovf-env.xml")
        self.assertIn("<UserName>alice</UserName>", saved.replace("wa:", "").replace("ns1:", ""))
        self.assertFalse(os.path.exists(self.root.file(MARKER)), "the marker must go once provisioned")
        self.assertTrue(os.path.exists(self.root.file(STATE_DIR + "/provisioned")))
        st = self.state()
        self.assertEqual(st["state"], "ready")
        names = [s["name"] for s in st["steps"]]
        for step in ("pps-report-ready", "pps-wait", "pps-reprovision", "user", "report-ready"):
            self.assertIn(step, names)
        self.assertLess(names.index("pps-reprovision"), names.index("user"))
        self.assertIn("alice", self.steps()["pps-reprovision"]["summary"])

    # ------------------------------------------------------------------------------------------------------
    def test_running(self):
        self.start_pps("pps-running")
        agent = self.spawn_agent()
        self.wait_pool_ready(agent)
        time.sleep(1.5)   # the agent waits for the NIC: no polling yet
        self.assertFalse([e for e in self.fabric.requests() if is_reprovision_poll(e)])
        switch_seq = self.last_seq()
        self.nic({"action": "bounce", "name": "eth0", "downMs": 300})
        self.reprovision()
        self.assertEqual(self.wait_exit(agent), 0, self.log_text())
        self.assert_order(switch_seq)
        self.assert_customer_provisioned()
        wait = self.steps()["pps-wait"]
        self.assertEqual(wait["result"], "changed")
        self.assertRegex(wait["summary"], r"^VNet switch on eth0 \(00:0d:3a:1b:2c:3d\): carrier down after .*, up after")

    def test_savable(self):
        self.start_pps("pps-savable")
        agent = self.spawn_agent()
        self.wait_pool_ready(agent)
        time.sleep(1.0)
        self.assertFalse([e for e in self.fabric.requests() if is_reprovision_poll(e)])
        switch_seq = self.last_seq()
        self.nic({"action": "detach", "name": "eth0"})
        time.sleep(0.5)
        self.assertIsNone(agent.poll())
        self.nic({"action": "attach", "name": "eth1", "mac": NEW_MAC})   # hot-attached links start down
        self.reprovision()
        self.assertEqual(self.wait_exit(agent), 0, self.log_text())
        self.assert_order(switch_seq)
        self.assert_customer_provisioned()
        self.assertRegex(self.steps()["pps-wait"]["summary"],
                         r"^eth0 detached, eth1 hot-attached \(00:0d:3a:5e:6f:70\), up after")
        # The agent brought the new NIC up (cloud-init does the same before DHCP).
        flags = subprocess.run(["ip", "-o", "link", "show", "eth1"], capture_output=True, text=True).stdout
        self.assertRegex(flags, r"<[^>]*\bUP\b[^>]*>")
        # The network step ran again with the customer's IMDS data: the new NIC's MAC.
        net = "".join(self.root.read("/run/systemd/network/" + n) for n in
                      os.listdir(self.root.file("/run/systemd/network")) if n.endswith(".network"))
        self.assertIn("00:0d:3a:5e:6f:70", net)
        self.assertNotIn("00:0d:3a:1b:2c:3d", net)

    def test_restart_mid_wait(self):
        """Killed after the pool Ready: the next run does not report Ready again, polls, and completes."""
        self.start_pps("pps-running")
        agent = self.spawn_agent()
        self.wait_pool_ready(agent)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        self.assertIn("type=Running", self.root.read(MARKER))
        seq = self.last_seq()
        agent = self.spawn_agent()
        # Resumed: straight to polling (404 until the handover), no second pool Ready.
        self.wait_for("the resumed run's polling", lambda: [e for e in self.fabric.requests()
                                                            if is_reprovision_poll(e) and e["seq"] > seq])
        self.assertFalse([e for e in self.fabric.requests() if e["seq"] > seq and is_ready_report(e)])
        self.nic({"action": "bounce", "name": "eth0", "downMs": 200})
        self.reprovision()
        self.assertEqual(self.wait_exit(agent), 0, self.log_text())
        self.assert_order(pool_readies=1)
        self.assert_customer_provisioned()
        steps = self.steps()
        self.assertEqual(steps["pps-report-ready"]["result"], "skipped")
        self.assertEqual(steps["pps-wait"]["result"], "skipped")
        # And a reboot after that is an ordinary one: Ready for the same VM id, no PPS.
        seq = self.last_seq()
        done = self.root.run("provision")
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertFalse([e for e in self.fabric.requests() if e["seq"] > seq and is_reprovision_poll(e)])

    def test_legacy(self):
        """PreprovisionedVm=true without a type (IMDS says None): Ready, then polling at once."""
        scenario = load_scenario("pps-running")
        scenario["ppsType"] = "None"
        self.start_pps(scenario)
        seed = self.root.file(STATE_DIR + "/seed/ovf-env.xml")
        with open(seed) as f:
            xml = f.read()
        self.assertIn("PreprovisionedVm>false<", xml)
        with open(seed, "w") as f:
            f.write(xml.replace("PreprovisionedVm>false<", "PreprovisionedVm>true<"))
        agent = self.spawn_agent()
        self.wait_pool_ready(agent)
        self.wait_for("polling right after Ready",
                      lambda: [e for e in self.fabric.requests() if is_reprovision_poll(e)])
        self.reprovision()
        self.assertEqual(self.wait_exit(agent), 0, self.log_text())
        self.assert_order()
        self.assert_customer_provisioned()
        self.assertIn("Legacy", self.steps()["pps-wait"]["summary"])

    def test_deadline_without_switch(self):
        self.start_pps("pps-running", conf_extra="PreprovisionedWaitSec=3\n")
        t0 = time.monotonic()
        done = self.root.run("provision", timeout=60)
        elapsed = time.monotonic() - t0
        self.assertNotEqual(done.returncode, 0)
        self.assertGreaterEqual(elapsed, 3)
        self.assertLess(elapsed, 30)
        reason = ("Pre-provisioned VM (Running): the primary NIC eth0 (00:0d:3a:1b:2c:3d) did not go down "
                  "within 3s of the pool Ready (no VNet switch)")
        st = self.state()
        self.assertEqual(st["state"], "failed")
        self.assertEqual(st["reason"], reason)
        self.assertEqual(self.steps()["pps-wait"]["result"], "failed")
        reports = self.fabric.health_reports()
        self.assertEqual([r["state"] for r in reports], ["Ready", "NotReady"])
        self.assertEqual(reports[1]["subStatus"], "ProvisioningFailed")
        self.assertIn(reason, reports[1]["description"])
        self.assertFalse([e for e in self.fabric.requests() if is_reprovision_poll(e)])
        self.assertIsNone(self.root.passwd_entry("pooladmin"))

    def test_running_without_primary_nic(self):
        """No link with the IMDS primary MAC: nothing to watch, a precise failure before any Ready."""
        self.start_pps("pps-running", nic=False)
        done = self.root.run("provision", timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("no link has the primary NIC's MAC 00:0d:3a:1b:2c:3d", self.state()["reason"])
        self.assertEqual([r["state"] for r in self.fabric.health_reports()], ["NotReady"])


def main():
    azltest.require("useradd on a scratch root, veth links")
    for tool in ("ip", "nsenter", "unshare"):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed" % tool)
            sys.exit(77)
    probe = subprocess.run(["ip", "link", "add", "azlppsprobe", "type", "veth", "peer", "name", "azlppsprobe-p"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print("SKIP: cannot create veth links (CAP_NET_ADMIN): " + probe.stderr.strip())
        sys.exit(77)
    subprocess.run(["ip", "link", "del", "azlppsprobe"], check=False)
    unittest.main(verbosity=2)


if __name__ == "__main__":
    main()
