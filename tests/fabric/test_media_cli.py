#!/usr/bin/env python3
"""CLI contract: media command, serve (ready line/file, SIGTERM), --real-addresses and its safety checks."""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import xml.etree.ElementTree as ET
from unittest import mock

import fabric_testlib as ftl

ftl.ensure_netns()

from fabriclib import netns  # noqa: E402

NS = {"oe": "http://schemas.dmtf.org/ovf/environment/1", "wa": "http://schemas.microsoft.com/windowsazure"}


def read_iso_label(path):
    with open(path, "rb") as handle:
        handle.seek(16 * 2048)
        pvd = handle.read(2048)
    assert pvd[1:6] == b"CD001", "not an ISO9660 image"
    return pvd[40:72].decode("ascii").strip()


def extract_from_iso(iso, name, tmp):
    if shutil.which("isoinfo"):
        return subprocess.run(["isoinfo", "-J", "-i", iso, "-x", "/" + name], check=True,
                              stdout=subprocess.PIPE).stdout
    if shutil.which("xorriso"):
        out = os.path.join(tmp, "x-" + name)
        subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/" + name, out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out, "rb") as handle:
            return handle.read()
    raise unittest.SkipTest("no isoinfo/xorriso to read the ISO back")


class Media(unittest.TestCase):
    def test_media_command(self):
        with ftl.tempdir() as tmp:
            out = subprocess.run([sys.executable, ftl.AZFABRIC, "media", "--scenario", "default", "--out", tmp],
                                 check=True, stdout=subprocess.PIPE).stdout
            result = json.loads(out)
            with open(os.path.join(tmp, "ovf-env.xml"), "rb") as handle:
                ovf = handle.read()
            root = ET.fromstring(ovf)
            lpcs = root.find("wa:ProvisioningSection/wa:LinuxProvisioningConfigurationSet", NS)
            self.assertEqual(lpcs.findtext("wa:ConfigurationSetType", namespaces=NS), "LinuxProvisioningConfiguration")
            self.assertEqual(lpcs.findtext("wa:HostName", namespaces=NS), "azl-demo")
            self.assertEqual(lpcs.findtext("wa:UserName", namespaces=NS), "azureuser")
            self.assertIsNone(lpcs.find("wa:UserPassword", NS))
            self.assertEqual(lpcs.findtext("wa:DisableSshPasswordAuthentication", namespaces=NS), "true")
            keys = lpcs.findall("wa:SSH/wa:PublicKeys/wa:PublicKey", NS)
            self.assertEqual([k.findtext("wa:Value", namespaces=NS).split()[0] for k in keys], ["ssh-ed25519", "ssh-rsa"])
            self.assertEqual(keys[0].findtext("wa:Path", namespaces=NS), "/home/azureuser/.ssh/authorized_keys")
            custom = base64.b64decode(lpcs.findtext("wa:CustomData", namespaces=NS))
            self.assertTrue(custom.startswith(b"#cloud-config"))
            settings = root.find("wa:PlatformSettingsSection/wa:PlatformSettings", NS)
            self.assertEqual(settings.findtext("wa:ProvisionGuestAgent", namespaces=NS), "true")
            self.assertEqual(settings.findtext("wa:PreprovisionedVm", namespaces=NS), "false")
            iso = os.path.join(tmp, "ovf-env.iso")
            self.assertTrue(read_iso_label(iso).startswith("rd_rdfe_stable."))
            self.assertEqual(result["label"], read_iso_label(iso))
            self.assertEqual(extract_from_iso(iso, "ovf-env.xml", tmp), ovf)
            self.assertEqual(extract_from_iso(iso, "CustomData.bin", tmp), custom)

    def test_media_password_and_pps(self):
        scn = ftl.scenario({"admin": {"password": "P@ss<w>rd&1", "disablePasswordAuthentication": False},
                            "ppsType": "Savable", "customData": None})
        from fabriclib import media
        root = ET.fromstring(media.render_ovf_env(scn))
        lpcs = root.find("wa:ProvisioningSection/wa:LinuxProvisioningConfigurationSet", NS)
        self.assertEqual(lpcs.findtext("wa:UserPassword", namespaces=NS), "P@ss<w>rd&1")
        self.assertIsNone(lpcs.find("wa:CustomData", NS))
        settings = root.find("wa:PlatformSettingsSection/wa:PlatformSettings", NS)
        self.assertEqual(settings.findtext("wa:PreprovisionedVm", namespaces=NS), "true")
        self.assertEqual(settings.findtext("wa:PreprovisionedVMType", namespaces=NS), "Savable")


class Serve(unittest.TestCase):
    def start(self, *extra):
        tmp = ftl.tempfile.mkdtemp(prefix="azfabric-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        ready = os.path.join(tmp, "ready.json")
        proc = subprocess.Popen([sys.executable, ftl.AZFABRIC, "serve", "--scenario", "default",
                                 "--ready-file", ready, "--state-dir", os.path.join(tmp, "state")] + list(extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        def cleanup():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        self.addCleanup(cleanup)
        line = proc.stdout.readline()
        self.assertTrue(line, proc.stderr.read() if proc.poll() is not None else "no ready line")
        info = json.loads(line)
        with open(ready) as handle:
            self.assertEqual(json.loads(handle.read()), info)
        return proc, info

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0)

    def get(self, url, path, headers=None):
        import http.client
        conn = http.client.HTTPConnection(url.replace("http://", ""), timeout=5)
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        return resp.status, body

    def test_loopback_ready_line_and_sigterm(self):
        proc, info = self.start("--imds-port", "0")
        for key in ("imds", "wireserver", "hgap_port", "blob", "control", "vm_id", "incarnation"):
            self.assertIn(key, info)
        self.assertTrue(info["imds"].startswith("http://127.0.0.1:"))
        self.assertRegex(info["wireserver"], r"^127\.0\.0\.1:\d+$")
        self.assertEqual(info["incarnation"], 1)
        status, body = self.get(info["imds"], "/metadata/instance/compute/vmId?api-version=2021-02-01&format=text",
                                {"Metadata": "true"})
        self.assertEqual((status, body.decode()), (200, info["vm_id"]))
        status, _ = self.get("http://" + info["wireserver"], "/?comp=versions")
        self.assertEqual(status, 200)
        self.stop(proc)

    def test_real_addresses(self):
        proc, info = self.start("--real-addresses")
        self.assertEqual(info["imds"], "http://169.254.169.254:80")
        self.assertEqual(info["wireserver"], "168.63.129.16:80")
        self.assertEqual(info["hgap_port"], 32526)
        self.assertTrue(info["blob"].startswith("http://127.0.0.1:"))
        status, body = self.get("http://169.254.169.254", "/metadata/instance/network/interface/0/macAddress"
                                "?api-version=2021-02-01&format=text", {"Metadata": "true"})
        self.assertEqual((status, body), (200, b"000D3A1B2C3D"))
        status, body = self.get("http://168.63.129.16", "/machine/?comp=goalstate", {"x-ms-version": "2012-11-30"})
        self.assertEqual(status, 200)
        self.assertIn(b"http://168.63.129.16:80/machine/", body)
        self.assertEqual(self.get("http://168.63.129.16:32526", "/versions")[0], 200)
        self.stop(proc)
        addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", "lo"], stdout=subprocess.PIPE).stdout.decode()
        self.assertNotIn("169.254.169.254", addrs, "addresses the fabric added are removed again")

    def test_real_addresses_refused_with_default_route(self):
        # a nested namespace with a dummy uplink and a default route: must refuse before binding
        # (a veth pair whose both ends stay in that namespace: still no path to the outside)
        script = ("ip link set lo up && ip link add v0 type veth peer name v1 && ip addr add 192.0.2.10/24 dev v0 && "
                  "ip link set v0 up && ip link set v1 up && ip route add default via 192.0.2.1 && "
                  "exec %s %s serve --scenario default --real-addresses" % (sys.executable, ftl.AZFABRIC))
        proc = subprocess.run(["unshare", "--net", "sh", "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(b"default route", proc.stderr)
        self.assertEqual(proc.stdout, b"")

    def test_refused_in_pid1_namespace(self):
        with mock.patch.object(netns, "netns_ids", return_value=(1, 1, "test")):
            with self.assertRaises(netns.UnsafeNetwork):
                netns.check_isolated()
        with mock.patch.object(netns, "default_routes", return_value=["ipv4 default via eth0"]):
            with self.assertRaises(netns.UnsafeNetwork):
                netns.check_isolated()
        netns.check_isolated()  # this test process itself runs in a private netns

    def test_bad_scenario_is_reported(self):
        with ftl.tempdir() as tmp:
            path = os.path.join(tmp, "bad.json")
            with open(path, "w") as handle:
                json.dump({"name": "bad", "vmm": {}}, handle)
            proc = subprocess.run([sys.executable, ftl.AZFABRIC, "serve", "--scenario", path],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(proc.returncode, 2)
            self.assertIn(b"vmm", proc.stderr)


if __name__ == "__main__":
    ftl.main()
