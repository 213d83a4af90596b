#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Interop: every WALinuxAgent fixture class in wire/ and hostgaplugin/ can be served verbatim by the fabric.

Reads the peer fixtures named by $AZL_FIXTURES (meson -Dfixtures_dir=, tests/interop/README.md); without them
it prints one line and exits 77 (skipped). The fabric's fixture root is pointed at them for this test only.
"""

import base64
import glob
import os
import re
import sys
import xml.etree.ElementTree as ET

INTEROP_SKIP_LINE = "interop: no fixtures directory given (-Dfixtures_dir= or AZL_FIXTURES); skipping"
PEER = os.environ.get("AZL_FIXTURES", "")
if not PEER:
    print(INTEROP_SKIP_LINE)
    sys.exit(77)
if not os.path.isdir(PEER):
    print("interop: the fixtures directory %s does not exist" % PEER, file=sys.stderr)
    sys.exit(1)
os.environ["AZFABRIC_FIXTURES"] = PEER
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fabric"))

import fabric_testlib as ftl  # noqa: E402

ftl.ensure_netns()

# Files in wire/ that are inputs for the guest side, not documents a service serves.
NOT_SERVED = {"ec-key.pem", "ec-key.pub.pem", "rsa-key.pem", "rsa-key.pub.pem", "sample.pem", "trans_cert",
              "trans_prv", "trans_pub", "encrypted.enc", "sshd_config"}


def classify(rel):
    """Fixture file -> (scenario key or 'blob', description)."""
    name = os.path.basename(rel)
    if rel.startswith("hostgaplugin/vm_settings"):
        return "vmSettingsFixture"
    if name.startswith("ext_conf"):
        return "extensionsConfigFixture"
    if name.startswith("goal_state"):
        return "goalStateFixture"
    if name.startswith("certs") or name == "incorrect-certs.xml":
        return "certificatesFixture"
    if name == "hosting_env.xml":
        return "hostingEnvironmentConfigFixture"
    if name == "shared_config.xml":
        return "sharedConfigFixture"
    if name == "version_info.xml":
        return "versionsFixture"
    if name.startswith("remote_access"):
        return "remoteAccessFixture"
    if "manifest" in name or name == "in_vm_artifacts_profile.json":
        return "blobFixtures"
    return None


def all_fixtures():
    files = []
    for pattern in ("wire/*", "wire/*/*", "hostgaplugin/*"):
        for path in sorted(glob.glob(ftl.data(pattern))):
            if os.path.isfile(path):
                files.append(os.path.relpath(path, ftl.DATA))
    return files


class FixturesVerbatim(ftl.FabricCase):
    def fetch(self, key, rel):
        snap = self.fabric.snapshot
        urls = {k: ftl.url_path(snap.config_url(k)) for k in ("hostingEnvironmentConfig", "sharedConfig",
                                                               "extensionsConfig", "certificates")}
        if key == "versionsFixture":
            return self.request("wire", "/?comp=versions")
        if key == "goalStateFixture":
            return self.wire("/machine/?comp=goalstate")
        if key == "hostingEnvironmentConfigFixture":
            return self.wire(urls["hostingEnvironmentConfig"])
        if key == "sharedConfigFixture":
            return self.wire(urls["sharedConfig"])
        if key == "extensionsConfigFixture":
            return self.wire(urls["extensionsConfig"])
        if key == "certificatesFixture":
            return self.wire(urls["certificates"])
        if key == "remoteAccessFixture":
            return self.wire(urls["certificates"].replace("comp=certificates", "comp=remoteAccess"))
        if key == "vmSettingsFixture":
            return self.request("hgap", "/vmSettings", headers=self.hgap_headers())
        if key == "blobFixtures":
            return self.request("blob", "/fixtures/" + rel)
        raise AssertionError(key)

    def test_every_fixture_is_served(self):
        served = 0
        for rel in all_fixtures():
            name = os.path.basename(rel)
            key = classify(rel)
            if key is None:
                self.assertIn(name, NOT_SERVED, "unclassified fixture %s" % rel)
                continue
            with self.subTest(fixture=rel):
                patch = {"blobFixtures": {"/fixtures/" + rel: rel}} if key == "blobFixtures" else {key: rel}
                undo = {"blobFixtures": None} if key == "blobFixtures" else {key: None}
                self.fabric.update_scenario(patch, bump="none")
                try:
                    status, headers, body = self.fetch(key, rel)
                finally:
                    self.fabric.update_scenario(undo, bump="none")
                with open(ftl.data(rel), "rb") as handle:
                    expected = handle.read()
                self.assertEqual(status, 200, rel)
                self.assertEqual(body, expected, rel)
                if key == "vmSettingsFixture":
                    self.assertTrue(headers.get("etag"), "vmSettings needs an ETag")
                served += 1
        self.assertGreaterEqual(served, 70)


class PeerCertificates(ftl.FabricCase):
    """waagent's Certificates document, served verbatim, opens with waagent's transport key."""
    scenario_overrides = {"certificatesFixture": "wire/certs.xml"}

    def test_blob_decrypts_with_the_peer_transport_key(self):
        urls = self.control("/state")["goalState"]["goalStateUrls"]
        _, _, body = self.wire(ftl.url_path(urls["certificates"]))
        with open(ftl.data("wire/certs.xml"), "rb") as handle:
            self.assertEqual(body, handle.read())
        data = base64.b64decode(ET.fromstring(body).findtext("Data"))
        pfx = ftl.openssl("cms", "-decrypt", "-inform", "DER", "-inkey", ftl.data("wire/trans_prv"),
                          "-recip", ftl.data("wire/trans_cert"), data=data)
        pem = ftl.openssl("pkcs12", "-nodes", "-password", "pass:", data=pfx).decode()
        prints = []
        for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S):
            out = ftl.openssl("x509", "-fingerprint", "-noout", data=block.encode()).decode()
            prints.append(out.strip().split("=", 1)[1].replace(":", "").upper())
        self.assertIn("F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", prints)


if __name__ == "__main__":
    ftl.main()
