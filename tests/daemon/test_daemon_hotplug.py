#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Hot-plugged NICs (issue #5): `azl-agent daemon` with [Network] Backend=netlink against the simulated fabric, in
a private network namespace (real netlink, real links: veth pairs; no uplink, the fabric is on 127.0.0.1).

A NIC's driver is declared with a fake sysfs tree in the scratch root (<root>/sys/class/net/<if>/device/driver),
which is where the agent reads drivers: "hv_netvsc" for the synthetic NIC, "mlx5_core" for its Accelerated
Networking VF (same MAC). Asserted with `ip -j`:

  * a NIC attached before IMDS lists it: the daemon asks IMDS again (bounded backoff), and once the fabric's
    scenario lists the MAC, the link gets its primary and secondary addresses with the subnet prefix, is up and
    carries the default route of its index; the VF twin stays untouched (no address, down, MTU unchanged);
  * the NIC detached: the daemon keeps running, re-applies, the VF left alone is still untouched, network.json
    still records the NIC's addresses (IMDS lists it), and the NIC re-attached is configured again;
  * a burst of two NICs gives one IMDS request; a software link (a container's veth) gives none;
  * a NIC that IMDS never lists: exactly 1 + 5 requests, then the daemon gives up and stays quiet.
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from test_daemon import DaemonTest, wait_for  # noqa: E402

NIC0 = {"macAddress": "000D3A1B2C3D", "ipv4": ["10.0.0.4"], "subnet": {"address": "10.0.0.0", "prefix": 24}}
MAC1 = "00:0d:3a:00:00:b1"
NIC1 = {"macAddress": "000D3A0000B1", "ipv4": ["10.0.1.5", "10.0.1.6"], "subnet": {"address": "10.0.1.0", "prefix": 24}}
MAC2 = "00:0d:3a:00:00:b2"
NIC2 = {"macAddress": "000D3A0000B2", "ipv4": ["10.0.2.7"], "subnet": {"address": "10.0.2.0", "prefix": 26},
        "ipv6": ["fd00:2::7"], "ipv6Subnet": {"address": "fd00:2::", "prefix": 64}}
DEBOUNCE = 1.5
RETRIES = 5     # retry_delays[] in agent/daemon-network.c: 1, 2, 4, 8, 16 s
CONF = "[Network]\nBackend=netlink\n"


def ip(*args):
    subprocess.run(["ip", *args], check=True)


def ip_json(*args):
    return json.loads(subprocess.run(["ip", "-j", *args], check=True, capture_output=True, text=True).stdout or "[]")


def veth(name, mac):
    ip("link", "add", name, "type", "veth", "peer", "name", name + "p")
    ip("link", "set", name, "address", mac)
    ip("link", "set", name + "p", "up")


def addresses(ifname):
    out = set()
    for link in ip_json("addr", "show", "dev", ifname):
        for a in link.get("addr_info", []):
            if a.get("scope") == "global":
                out.add("%s/%d" % (a["local"], a["prefixlen"]))
    return out


def link_info(ifname):
    return ip_json("-d", "link", "show", "dev", ifname)[0]


def default_routes():
    return {(r["dev"], r["gateway"], r.get("metric", 0)) for r in ip_json("-4", "route", "show", "default")}


class HotplugTest(DaemonTest):
    def setUp(self):
        super().setUp()
        if subprocess.run(["ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1"],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot create veth links (CAP_NET_ADMIN)")
        ip("link", "del", "probe0")

    def tearDown(self):
        for name in ("eth1", "eth2", "vf1", "pod0"):
            subprocess.run(["ip", "link", "del", name], capture_output=True)
        super().tearDown()

    def start_hotplug(self, nics):
        self.start_all({"extensions": [], "network": {"interfaces": nics}}, CONF)
        self.wait_log("Network unchanged after daemon start", "Network re-applied after daemon start")

    def fake_driver(self, ifname, driver):
        dev = self.root.file("/sys/class/net/%s/device" % ifname)
        os.makedirs(dev, exist_ok=True)
        os.symlink("../../../../bus/pci/drivers/" + driver, os.path.join(dev, "driver"))

    def log_text(self):
        self.daemon_log.flush()
        with open(self.daemon_log.name) as f:
            return f.read()

    def wait_log(self, *texts, timeout=20):
        return wait_for("daemon log: " + " | ".join(texts),
                        lambda: any(t in self.log_text() for t in texts), timeout=timeout)

    def imds_instance_gets(self):
        return [r for r in self.fabric.requests("imds") if r["path"] == "/metadata/instance"]

    def set_nics(self, nics):
        # The network data is not part of the goal state: same incarnation.
        self.fabric.patch_scenario({"network": {"interfaces": nics}}, bump="none")

    def network_json(self):
        with open(self.root.file("/var/lib/azl-agent/network.json")) as f:
            return json.load(f)

    def test_hot_attach_before_imds_lists_it_vf_twin_detach(self):
        self.start_hotplug([NIC0])
        n0 = len(self.imds_instance_gets())
        self.fake_driver("eth1", "hv_netvsc")
        self.fake_driver("vf1", "mlx5_core")
        veth("eth1", MAC1)
        veth("vf1", MAC1)
        vf_mtu = link_info("vf1")["mtu"]

        # IMDS lags the attach: the first answer does not list MAC1, the daemon asks again.
        wait_for("a second IMDS request", lambda: len(self.imds_instance_gets()) >= n0 + 2, timeout=15)
        self.assertEqual(addresses("eth1"), set())
        self.assertIn("IMDS does not list eth1 %s" % MAC1, self.log_text())
        self.set_nics([NIC0, NIC1])

        wait_for("eth1 configured", lambda: addresses("eth1") == {"10.0.1.5/24", "10.0.1.6/24"}, timeout=30)
        self.assertIn("UP", link_info("eth1")["flags"])
        self.assertIn(("eth1", "10.0.1.1", 200), default_routes())
        # The VF twin is never configured.
        self.assertEqual(addresses("vf1"), set())
        self.assertNotIn("UP", link_info("vf1")["flags"])
        self.assertEqual(link_info("vf1")["mtu"], vf_mtu)
        self.assertNotIn("vf1", {dev for dev, _, _ in default_routes()})
        owned = self.network_json()
        self.assertEqual(sorted(a["address"] for a in owned["addresses"] if a["mac"] == MAC1),
                         ["10.0.1.5/24", "10.0.1.6/24"])
        self.assertIn("IMDS lists NIC %s (interface 1): 10.0.1.5/24 10.0.1.6/24" % MAC1, self.log_text())

        # Detach: the daemon re-applies, keeps running; only the VF is left with MAC1 and stays untouched.
        n1 = len(self.imds_instance_gets())
        ip("link", "del", "eth1")
        wait_for("the re-apply after the detach", lambda: "after eth1 removed" in self.log_text(), timeout=15)
        self.assertGreater(len(self.imds_instance_gets()), n1)
        self.assertIsNone(self.daemon.poll(), "daemon still running")
        self.assertEqual(addresses("vf1"), set())
        self.assertNotIn("UP", link_info("vf1")["flags"])
        # IMDS still lists the NIC: its records are kept for when it comes back.
        owned = self.network_json()
        self.assertEqual(sorted(a["address"] for a in owned["addresses"] if a["mac"] == MAC1),
                         ["10.0.1.5/24", "10.0.1.6/24"])

        # Re-attach (a PPS Savable VM resuming): configured again.
        veth("eth1", MAC1)
        wait_for("eth1 configured again", lambda: addresses("eth1") == {"10.0.1.5/24", "10.0.1.6/24"},
                 timeout=15)
        self.assertEqual(addresses("vf1"), set())
        self.stop_daemon()

    def test_burst_one_request_software_links_ignored(self):
        self.start_hotplug([NIC0, NIC1, NIC2])
        n0 = len(self.imds_instance_gets())

        # A container's veth: no device, MAC unknown to IMDS → not a NIC of this VM, no IMDS request.
        ip("link", "add", "pod0", "type", "veth", "peer", "name", "pod0p")
        time.sleep(DEBOUNCE + 1.5)
        self.assertEqual(len(self.imds_instance_gets()), n0)

        # Two NICs at once (MACs already listed): one re-apply.
        self.fake_driver("eth1", "hv_netvsc")
        self.fake_driver("eth2", "hv_netvsc")
        veth("eth1", MAC1)
        veth("eth2", MAC2)
        wait_for("eth1 and eth2 configured", lambda: addresses("eth1") == {"10.0.1.5/24", "10.0.1.6/24"} and
                 addresses("eth2") == {"10.0.2.7/26", "fd00:2::7/64"}, timeout=15)
        time.sleep(DEBOUNCE + 1.0)
        self.assertEqual(len(self.imds_instance_gets()), n0 + 1)
        routes = default_routes()
        self.assertIn(("eth1", "10.0.1.1", 200), routes)
        self.assertIn(("eth2", "10.0.2.1", 300), routes)
        self.assertEqual(addresses("pod0"), set())
        self.stop_daemon()

    def test_nic_never_listed_bounded_retries(self):
        self.start_hotplug([NIC0])
        n0 = len(self.imds_instance_gets())
        self.fake_driver("eth2", "hv_netvsc")
        veth("eth2", MAC2)
        # 1 + 5 fetches over 1.5 + 1 + 2 + 4 + 8 + 16 s, then it gives up.
        self.wait_log("IMDS does not list eth2 %s yet after %d attempts" % (MAC2, RETRIES + 1), timeout=60)
        self.assertEqual(len(self.imds_instance_gets()), n0 + 1 + RETRIES)
        time.sleep(3)
        self.assertEqual(len(self.imds_instance_gets()), n0 + 1 + RETRIES)
        self.assertEqual(addresses("eth2"), set())
        self.assertIsNone(self.daemon.poll())
        self.stop_daemon()


if __name__ == "__main__":
    azltest.main()
