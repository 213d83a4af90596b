#!/usr/bin/env python3
"""Every WALinuxAgent fixture class in wire/ and hostgaplugin/ can be served verbatim."""

import glob
import os

import fabric_testlib as ftl

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
        for path in sorted(glob.glob(ftl.fixture(pattern))):
            if os.path.isfile(path):
                files.append(os.path.relpath(path, ftl.FIXTURES))
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
                with open(ftl.fixture(rel), "rb") as handle:
                    expected = handle.read()
                self.assertEqual(status, 200, rel)
                self.assertEqual(body, expected, rel)
                if key == "vmSettingsFixture":
                    self.assertTrue(headers.get("etag"), "vmSettings needs an ETag")
                served += 1
        self.assertGreaterEqual(served, 70)


if __name__ == "__main__":
    ftl.main()
