#!/usr/bin/env python3
"""IMDS: header rules, api-version handling, document shape, text leaves, PPS, rate limit."""

import base64
import json
import os
import subprocess
import time
import xml.etree.ElementTree as ET

import fabric_testlib as ftl

ftl.ensure_netns()

V = "api-version=2021-02-01"


class ImdsRules(ftl.FabricCase):
    def test_metadata_header_required(self):
        status, headers, body = self.request("imds", "/metadata/instance?" + V)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"error": "Bad request. Required metadata header not specified"})
        self.assertTrue(headers["content-type"].startswith("application/json"))
        status, _, _ = self.request("imds", "/metadata/instance?" + V, headers={"Metadata": "false"})
        self.assertEqual(status, 400)

    def test_x_forwarded_for_rejected(self):
        status, _, body = self.imds("/metadata/instance?" + V, headers={"X-Forwarded-For": "10.0.0.9"})
        self.assertEqual(status, 400)
        self.assertIn("X-Forwarded-For", json.loads(body)["error"])

    def test_api_version_missing_and_unsupported(self):
        status, _, body = self.imds("/metadata/instance")
        self.assertEqual(status, 400)
        doc = json.loads(body)
        self.assertIn("api-version was not specified", doc["error"])
        self.assertEqual(len(doc["newest-versions"]), 3)
        self.assertEqual(doc["newest-versions"], sorted(doc["newest-versions"], reverse=True))
        status, _, body = self.imds("/metadata/instance?api-version=2016-01-01")
        self.assertEqual(status, 400)
        self.assertIn("newest-versions", json.loads(body))

    def test_versions_endpoint_needs_no_api_version(self):
        status, _, body = self.imds("/metadata/versions")
        self.assertEqual(status, 200)
        versions = json.loads(body)["apiVersions"]
        for needed in ("2018-02-01", "2019-06-01", "2021-02-01", "2021-08-01", "2023-11-15"):
            self.assertIn(needed, versions)

    def test_only_get_and_no_duplicate_query(self):
        status, _, _ = self.request("imds", "/metadata/instance?" + V, method="POST",
                                    headers={"Metadata": "true"}, body=b"{}")
        self.assertEqual(status, 405)
        status, _, _ = self.imds("/metadata/instance?" + V + "&" + V)
        self.assertEqual(status, 400)

    def test_instance_document_shape(self):
        status, _, body = self.imds("/metadata/instance?api-version=2023-11-15")
        self.assertEqual(status, 200)
        doc = json.loads(body)
        compute, net = doc["compute"], doc["network"]
        scn = self.fabric.scenario.data
        self.assertEqual(compute["vmId"], scn["vm"]["vmId"])
        self.assertEqual(compute["name"], "azl-demo")
        self.assertEqual(compute["osProfile"], {"adminUsername": "azureuser", "computerName": "azl-demo",
                                                "disablePasswordAuthentication": "true"})
        self.assertEqual(len(compute["publicKeys"]), 2)
        self.assertTrue(compute["publicKeys"][0]["keyData"].startswith("ssh-ed25519 "))
        self.assertTrue(compute["publicKeys"][1]["keyData"].startswith("ssh-rsa "))
        self.assertEqual(compute["publicKeys"][0]["path"], "/home/azureuser/.ssh/authorized_keys")
        self.assertEqual(base64.b64decode(compute["userData"]), b"azl-demo user data\n")
        self.assertEqual(compute["zone"], "1")
        self.assertEqual(compute["tags"], "project:azl-agent;purpose:demo")
        nic = net["interface"][0]
        self.assertEqual(nic["macAddress"], "000D3A1B2C3D")
        self.assertEqual(nic["ipv4"]["ipAddress"][0]["privateIpAddress"], "10.0.0.4")
        self.assertEqual(nic["ipv4"]["subnet"][0], {"address": "10.0.0.0", "prefix": "24"})
        self.assertNotIn("extended", doc)

        def all_strings(node, where):
            if isinstance(node, dict):
                for key, value in node.items():
                    all_strings(value, where + "." + key)
            elif isinstance(node, list):
                for idx, value in enumerate(node):
                    all_strings(value, "%s[%d]" % (where, idx))
            else:
                self.assertIsInstance(node, str, "IMDS primitives are strings: %s" % where)

        all_strings(doc, "")

    def test_fields_follow_api_version(self):
        _, _, body = self.imds("/metadata/instance/compute?api-version=2017-08-01")
        compute = json.loads(body)
        self.assertIn("vmId", compute)
        self.assertNotIn("osProfile", compute)
        self.assertNotIn("publicKeys", compute)
        self.assertNotIn("userData", compute)
        _, _, body = self.imds("/metadata/instance/compute?api-version=2020-09-01")
        compute = json.loads(body)
        self.assertNotIn("disablePasswordAuthentication", compute["osProfile"])
        self.assertIn("adminUsername", compute["osProfile"])

    def test_route_parameters_and_text_leaves(self):
        status, _, body = self.imds("/metadata/instance/compute/osProfile?" + V)
        self.assertEqual(json.loads(body)["adminUsername"], "azureuser")
        status, headers, body = self.imds(
            "/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress?" + V + "&format=text")
        self.assertEqual((status, body), (200, b"10.0.0.4"))
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        status, _, body = self.imds("/metadata/instance/compute/vmId?" + V)
        self.assertEqual(status, 400, "leaves need format=text")
        status, _, body = self.imds("/metadata/instance/compute/userData?api-version=2021-01-01&format=text")
        self.assertEqual(base64.b64decode(body), b"azl-demo user data\n")
        status, _, body = self.imds("/metadata/instance/compute/publicKeys?" + V)
        self.assertEqual(len(json.loads(body)), 2)
        status, _, body = self.imds("/metadata/instance/compute/publicKeys/1/keyData?" + V + "&format=text")
        self.assertTrue(body.startswith(b"ssh-rsa "))
        status, _, body = self.imds("/metadata/instance/network/interface/0/macAddress?" + V + "&format=text")
        self.assertEqual(body, b"000D3A1B2C3D")
        status, _, _ = self.imds("/metadata/instance/compute/nope?" + V)
        self.assertEqual(status, 404)
        status, _, _ = self.imds("/metadata/instance/network/interface/7?" + V)
        self.assertEqual(status, 404)
        status, _, body = self.imds("/metadata/instance/compute?" + V + "&format=text")
        self.assertIn(b"vmId", body.split(b"\n"))

    def test_extended_pps_type(self):
        _, _, body = self.imds("/metadata/instance?api-version=2021-08-01&extended=true")
        self.assertEqual(json.loads(body)["extended"], {"compute": {"ppsType": "None"}})


class ImdsPreprovisioning(ftl.FabricCase):
    scenario_overrides = {"ppsType": "Running",
                          "reprovision": {"vm": {"computerName": "real-vm"}, "admin": {"username": "realuser"}}}

    def test_reprovision_flow(self):
        _, _, body = self.imds("/metadata/instance?api-version=2021-08-01&extended=true")
        self.assertEqual(json.loads(body)["extended"]["compute"]["ppsType"], "Running")
        status, _, _ = self.imds("/metadata/reprovisiondata?api-version=2019-06-01")
        self.assertEqual(status, 404)
        before = self.control("/state")["incarnation"]
        self.control("/pps/reprovision", method="POST")
        status, headers, body = self.imds("/metadata/reprovisiondata?api-version=2019-06-01")
        self.assertEqual(status, 200)
        root = ET.fromstring(body)
        ns = {"wa": "http://schemas.microsoft.com/windowsazure"}
        self.assertEqual(root.find(".//wa:LinuxProvisioningConfigurationSet/wa:UserName", ns).text, "realuser")
        self.assertEqual(root.find(".//wa:LinuxProvisioningConfigurationSet/wa:HostName", ns).text, "real-vm")
        self.assertEqual(root.find(".//wa:PreprovisionedVm", ns).text, "false")
        _, _, body = self.imds("/metadata/instance?api-version=2021-08-01&extended=true")
        doc = json.loads(body)
        self.assertEqual(doc["extended"]["compute"]["ppsType"], "None")
        self.assertEqual(doc["compute"]["osProfile"]["adminUsername"], "realuser")
        state = self.control("/state")
        self.assertEqual(state["incarnation"], before + 1)
        self.assertEqual(state["pps"]["reprovisionFetched"], 1)


class ImdsRateLimit(ftl.FabricCase):
    scenario_overrides = {"imds": {"rateLimit": True}}

    def test_429_above_five_per_second(self):
        time.sleep(1.1)
        statuses = [self.imds("/metadata/instance/compute/vmId?%s&format=text" % V)[0] for _ in range(8)]
        self.assertEqual(statuses[:5], [200] * 5)
        self.assertIn(429, statuses[5:])
        time.sleep(1.1)
        self.assertEqual(self.imds("/metadata/instance/compute/vmId?%s&format=text" % V)[0], 200)


class ImdsSecurityProfile(ftl.FabricCase):
    scenario_overrides = {"vm": {"securityType": "ConfidentialVM", "encryptionAtHost": True}}

    def test_fields_by_api_version(self):
        def profile(version):
            _, _, body = self.imds("/metadata/instance/compute/securityProfile?api-version=" + version)
            return json.loads(body)
        self.assertEqual(profile("2023-07-01"), {"secureBootEnabled": "true", "virtualTpmEnabled": "true",
                                                 "encryptionAtHost": "true", "securityType": "ConfidentialVM"})
        self.assertEqual(profile("2021-11-01"), {"secureBootEnabled": "true", "virtualTpmEnabled": "true",
                                                 "encryptionAtHost": "true"})
        self.assertEqual(profile("2021-02-01"), {"secureBootEnabled": "true", "virtualTpmEnabled": "true"})
        # no attested key in the scenario: no attested document
        status, _, _ = self.imds("/metadata/attested/document?api-version=2020-09-01&nonce=1")
        self.assertEqual(status, 404)


class ImdsAttested(ftl.FabricCase):
    """/metadata/attested/document: IMDS' response form, a PKCS#7 signature the openssl command verifies against
    the fabric's own root (and only with the intermediate), the document's fields, and the refusable modes."""
    scenario_overrides = {"attested": {"mode": "good", "validitySeconds": 600}}

    def fetch(self, query):
        status, _, body = self.imds("/metadata/attested/document?" + query)
        self.assertEqual(status, 200, body)
        resp = json.loads(body)
        self.assertEqual(set(resp), {"encoding", "signature"})
        self.assertEqual(resp["encoding"], "pkcs7")
        return base64.b64decode(resp["signature"])

    def verify(self, der, ca="root.pem", untrusted=None, check=True):
        """The verified content, or None when `openssl smime -verify` fails (it may print the content anyway).
        untrusted: an intermediate given besides the message (the 3.0 command line has no -untrusted for smime: it
        goes into the CA file, which builds the same chain)."""
        pki = self.info["attestation_pki"]
        cafile = pki + "/" + ca
        if untrusted:
            cafile = os.path.join(self.state_dir, "ca-bundle.pem")
            with open(cafile, "w") as out:
                for name in (ca, untrusted):
                    with open(pki + "/" + name) as f:
                        out.write(f.read())
        args = ["openssl", "smime", "-verify", "-inform", "DER", "-purpose", "any", "-CAfile", cafile]
        p = subprocess.run(args, input=der, capture_output=True)
        if check and p.returncode != 0:
            raise AssertionError("openssl smime -verify failed: " + p.stderr.decode())
        return p.stdout if p.returncode == 0 else None

    def set_mode(self, mode):
        self.control("/scenario?bump=none", method="POST", body={"attested": {"mode": mode}})

    def test_good_document(self):
        self.set_mode("good")
        doc = json.loads(self.verify(self.fetch("api-version=2020-09-01&nonce=1234567890")))
        vm = self.fabric.scenario.vm
        self.assertEqual(doc["nonce"], "1234567890")
        self.assertEqual(doc["vmId"], vm["vmId"])
        self.assertEqual(doc["subscriptionId"], vm["subscriptionId"])
        self.assertIn("licenseType", doc)
        created = time.strptime(doc["timeStamp"]["createdOn"], "%m/%d/%y %H:%M:%S -0000")
        expires = time.strptime(doc["timeStamp"]["expiresOn"], "%m/%d/%y %H:%M:%S -0000")
        self.assertEqual(time.mktime(expires) - time.mktime(created), 600)
        # fields by api-version: sku from 2019-11-01, licenseType from 2020-09-01, subscriptionId from 2019-04-30
        doc = json.loads(self.verify(self.fetch("api-version=2019-06-01&nonce=2")))
        self.assertNotIn("sku", doc)
        self.assertNotIn("licenseType", doc)
        self.assertIn("subscriptionId", doc)
        # without a nonce: the UTC time
        doc = json.loads(self.verify(self.fetch("api-version=2020-09-01")))
        self.assertRegex(doc["nonce"], r"^\d{8}-\d{6}$")
        # a nonce that is not 1-10 digits, an api-version before attested data
        self.assertEqual(self.imds("/metadata/attested/document?api-version=2020-09-01&nonce=12345678901")[0], 400)
        self.assertEqual(self.imds("/metadata/attested/document?api-version=2018-04-02&nonce=1")[0], 400)

    def test_refusable_modes(self):
        self.set_mode("tampered")
        self.assertIsNone(self.verify(self.fetch("api-version=2020-09-01&nonce=1"), check=False))
        self.set_mode("untrusted-root")
        self.assertIsNone(self.verify(self.fetch("api-version=2020-09-01&nonce=1"), check=False))
        self.assertTrue(self.verify(self.fetch("api-version=2020-09-01&nonce=1"), ca="rogue-root.pem"))
        self.set_mode("no-intermediate")
        der = self.fetch("api-version=2020-09-01&nonce=1")
        self.assertIsNone(self.verify(der, check=False))
        self.assertTrue(self.verify(der, untrusted="inter.pem"))
        self.set_mode("wrong-nonce")
        self.assertNotEqual(json.loads(self.verify(self.fetch("api-version=2020-09-01&nonce=1")))["nonce"], "1")
        self.set_mode("wrong-vm-id")
        self.assertNotEqual(json.loads(self.verify(self.fetch("api-version=2020-09-01&nonce=1")))["vmId"],
                            self.fabric.scenario.vm["vmId"])
        self.set_mode("expired")
        doc = json.loads(self.verify(self.fetch("api-version=2020-09-01&nonce=1")))
        expires = time.mktime(time.strptime(doc["timeStamp"]["expiresOn"], "%m/%d/%y %H:%M:%S -0000"))
        self.assertLess(expires, time.mktime(time.gmtime()) - 3000)
        self.set_mode("good")

    def test_aia_on_the_blob_store(self):
        der = ftl.openssl("x509", "-in", self.info["attestation_pki"] + "/leaf.pem", "-noout", "-text")
        self.assertIn(("URI:" + self.urls["blob"] + "/pki/inter.crt").encode(), der)
        status, headers, body = self.request("blob", "/pki/inter.crt")
        self.assertEqual(status, 200)
        with open(self.info["attestation_pki"] + "/inter.crt", "rb") as f:
            self.assertEqual(body, f.read())
        self.assertEqual(self.request("blob", "/pki/inter.key")[0], 404)


class ImdsFixture(ftl.FabricCase):
    scenario_overrides = {"imdsFixture": "imds/instance.json"}

    def test_fixture_document_is_walkable(self):
        _, _, body = self.imds("/metadata/instance?" + V)
        with open(ftl.data("imds/instance.json")) as handle:
            self.assertEqual(json.loads(body), json.load(handle))
        _, _, body = self.imds("/metadata/instance/network/interface/0/macAddress?%s&format=text" % V)
        self.assertEqual(body, b"000D3A5C6D7E")


if __name__ == "__main__":
    ftl.main()
