#!/usr/bin/env python3
"""HostGAPlugin: versions, health, vmSettings (ETag/304/404), artifact proxy, status proxy."""

import base64
import io
import json
import os
import zipfile

import fabric_testlib as ftl

ftl.ensure_netns()

# A status blob in the format of docs/protocol/status-blob.md (tests/data/status/status-blob.json).
with open(ftl.data("status/status-blob.json"), "rb") as _fh:
    STATUS = _fh.read()


class HostGAPlugin(ftl.FabricCase):
    def test_versions_and_health(self):
        status, _, body = self.request("hgap", "/versions", headers={"x-ms-containerid": self.fabric.snapshot.container_id})
        self.assertEqual(status, 200)
        self.assertIn("2015-09-01", json.loads(body))
        self.assertEqual(self.request("hgap", "/health")[0], 200)

    def test_vm_settings_etag_and_304(self):
        status, headers, body = self.request("hgap", "/vmSettings", headers=self.hgap_headers())
        self.assertEqual(status, 200)
        etag = headers["etag"]
        doc = json.loads(body)
        self.assertEqual(doc["extensionGoalStatesSource"], "FastTrack")
        self.assertEqual(doc["inSvdSeqNo"], self.fabric.snapshot.incarnation)
        ext = doc["extensionGoalStates"][0]
        self.assertEqual((ext["name"], ext["version"], ext["state"]),
                         ("AzlAgent.SampleHandler", "1.0.0", "enabled"))
        self.assertEqual(json.loads(ext["settings"][0]["publicSettings"]), {"message": "hello from azfabric"})
        self.assertIsInstance(ext["settings"][0]["publicSettings"], str, "publicSettings is a JSON string")
        self.assertTrue(doc["statusUploadBlob"]["value"].startswith(self.urls["blob"]))
        status, headers, body = self.request("hgap", "/vmSettings", headers=self.hgap_headers(**{"if-none-match": etag}))
        self.assertEqual((status, body), (304, b""))
        # a Fast-Track-only change: new etag, same incarnation
        inc = self.control("/state")["incarnation"]
        state = self.control("/scenario?bump=etag", method="POST",
                             body={"extensions": [{"name": "AzlAgent.SampleHandler", "version": "1.0.0",
                                                   "source": ftl.SAMPLE_HANDLER, "seqNo": 5}]})
        self.assertEqual(state["incarnation"], inc)
        self.assertNotEqual(state["etag"], etag)
        status, headers, body = self.request("hgap", "/vmSettings", headers=self.hgap_headers(**{"if-none-match": etag}))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["extensionGoalStates"][0]["settingsSeqNo"], 5)

    def test_vm_settings_header_rules(self):
        status, _, _ = self.request("hgap", "/vmSettings", headers={"x-ms-version": "2015-09-01"})
        self.assertEqual(status, 400)
        status, _, _ = self.request("hgap", "/vmSettings", headers=self.hgap_headers(**{"x-ms-containerid": "stale"}))
        self.assertEqual(status, 410)

    def test_extension_artifact_proxy(self):
        snap = self.fabric.snapshot
        ext = self.fabric.scenario.data["extensions"][0]
        manifest_url = snap.manifest_url(ext)
        status, _, body = self.request("hgap", "/extensionArtifact",
                                       headers=self.hgap_headers(**{"x-ms-artifact-location": manifest_url}))
        self.assertEqual(status, 200)
        self.assertIn(b"<PluginVersionManifest", body)
        zip_url = body.split(b"<Uri>")[1].split(b"</Uri>")[0].decode()
        status, _, data = self.request("hgap", "/extensionArtifact",
                                       headers=self.hgap_headers(**{"x-ms-artifact-location": zip_url,
                                                                    "x-ms-artifact-manifest-location": manifest_url}))
        self.assertEqual(status, 200)
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        self.assertIn("HandlerManifest.json", names)
        info = zipfile.ZipFile(io.BytesIO(data)).getinfo("sample-handler.py")
        self.assertTrue((info.external_attr >> 16) & 0o111, "executable bit kept")
        status, _, _ = self.request("hgap", "/extensionArtifact", headers=self.hgap_headers(
            **{"x-ms-artifact-location": "https://example.blob.core.windows.net/x/y"}))
        self.assertEqual(status, 502)

    def test_status_proxy_block_blob(self):
        url = self.fabric.snapshot.status_blob_url
        body = {"content": base64.b64encode(STATUS).decode(), "headers": [
            {"headerName": "Content-Length", "headerValue": str(len(STATUS))},
            {"headerName": "x-ms-blob-type", "headerValue": "BlockBlob"},
            {"headerName": "x-ms-date", "headerValue": "2026-11-21T19:02:51Z"},
            {"headerName": "x-ms-version", "headerValue": "2014-02-14"}], "requestUri": url}
        status, _, data = self.request("hgap", "/status", method="PUT", body=body,
                                       headers=dict(self.hgap_headers(), **{"Content-type": "application/json"}))
        self.assertIn(status, (200, 201), data)
        latest = self.control("/status-blob")
        self.assertEqual(latest["aggregateStatus"]["guestAgentStatus"]["status"], "Ready")
        self.assertEqual(self.control("/status-blobs")[-1]["via"], "hgap")

    def test_status_proxy_page_blob(self):
        url = self.fabric.snapshot.status_blob_url
        size = (len(STATUS) + 511) // 512 * 512
        common = dict(self.hgap_headers(), **{"Content-type": "application/json"})
        create = {"headers": [{"headerName": "Content-Length", "headerValue": "0"},
                              {"headerName": "x-ms-blob-content-length", "headerValue": str(size)},
                              {"headerName": "x-ms-blob-type", "headerValue": "PageBlob"},
                              {"headerName": "x-ms-date", "headerValue": "2026-11-21T19:02:51Z"},
                              {"headerName": "x-ms-version", "headerValue": "2014-02-14"}], "requestUri": url}
        status, _, data = self.request("hgap", "/status", method="PUT", body=create, headers=common)
        self.assertIn(status, (200, 201), data)
        padded = STATUS.ljust(size)  # the HGAP path pads with spaces (protocol §4.9)
        page = {"content": base64.b64encode(padded).decode(), "requestUri": url + "&comp=page", "headers": [
            {"headerName": "Content-Length", "headerValue": str(size)},
            {"headerName": "x-ms-range", "headerValue": "bytes=0-%d" % (size - 1)},
            {"headerName": "x-ms-page-write", "headerValue": "update"},
            {"headerName": "x-ms-date", "headerValue": "2026-11-21T19:02:51Z"},
            {"headerName": "x-ms-version", "headerValue": "2014-02-14"}]}
        status, _, data = self.request("hgap", "/status", method="PUT", body=page, headers=common)
        self.assertIn(status, (200, 201), data)
        latest = self.control("/status-blobs")[-1]
        self.assertEqual(latest["blobType"], "PageBlob")
        self.assertEqual(latest["parsed"], json.loads(STATUS))

    def test_status_proxy_rejects_bad_body(self):
        status, _, _ = self.request("hgap", "/status", method="PUT", body=b"not json", headers=self.hgap_headers())
        self.assertEqual(status, 400)


class FastTrackDisabled(ftl.FabricCase):
    scenario_overrides = {"fastTrack": False}

    def test_vm_settings_404(self):
        status, _, _ = self.request("hgap", "/vmSettings", headers=self.hgap_headers())
        self.assertEqual(status, 404)


if __name__ == "__main__":
    ftl.main()
