#!/usr/bin/env python3
"""Blob store: SAS, header validation, BlockBlob and PageBlob uploads parsed as status."""

import json
import os
import xml.etree.ElementTree as ET

import fabric_testlib as ftl

ftl.ensure_netns()

with open(ftl.data("status/status-blob.json"), "rb") as _fh:
    STATUS = _fh.read()
DATE = "2026-11-21T19:02:51Z"


class BlobStore(ftl.FabricCase):
    def sas_path(self):
        return ftl.url_path(self.fabric.snapshot.status_blob_url)

    def put(self, path, body=b"", **headers):
        hdrs = {"x-ms-date": DATE, "x-ms-version": "2014-02-14"}
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        return self.request("blob", path, method="PUT", body=body, headers=hdrs)

    def error_code(self, body):
        return ET.fromstring(body).findtext("Code")

    def test_block_blob_upload_parsed(self):
        status, headers, _ = self.put(self.sas_path(), STATUS, x_ms_blob_type="BlockBlob")
        self.assertEqual(status, 201)
        self.assertIn("etag", headers)
        self.assertEqual(self.control("/status-blob"), json.loads(STATUS))
        entry = self.control("/status-blobs")[-1]
        self.assertEqual((entry["blobType"], entry["via"], entry["length"]), ("BlockBlob", "direct", len(STATUS)))
        status, _, body = self.request("blob", self.sas_path())
        self.assertEqual((status, body), (200, STATUS))

    def test_page_blob_upload_parsed(self):
        size = (len(STATUS) + 511) // 512 * 512
        status, _, body = self.put(self.sas_path(), x_ms_blob_type="PageBlob", x_ms_blob_content_length=str(size))
        self.assertEqual(status, 201, body)
        padded = STATUS + b"\0" * (size - len(STATUS))  # the direct path pads with NULs (protocol §4.9)
        half = size // 2 // 512 * 512 or 512
        status, _, body = self.put(self.sas_path() + "&comp=page", padded[:half], x_ms_range="bytes=0-%d" % (half - 1),
                                   x_ms_page_write="update")
        self.assertEqual(status, 201, body)
        if half < size:
            status, _, body = self.put(self.sas_path() + "&comp=page", padded[half:],
                                       x_ms_range="bytes=%d-%d" % (half, size - 1), x_ms_page_write="update")
            self.assertEqual(status, 201, body)
        entry = self.control("/status-blobs")[-1]
        self.assertEqual(entry["blobType"], "PageBlob")
        self.assertEqual(entry["parsed"], json.loads(STATUS))

    def test_page_rules(self):
        self.assertEqual(self.put(self.sas_path(), x_ms_blob_type="PageBlob", x_ms_blob_content_length="1000")[0], 400)
        self.assertEqual(self.put(self.sas_path(), x_ms_blob_type="PageBlob", x_ms_blob_content_length="1024")[0], 201)
        status, _, body = self.put(self.sas_path() + "&comp=page", b"x" * 100, x_ms_range="bytes=0-99",
                                   x_ms_page_write="update")
        self.assertEqual((status, self.error_code(body)), (416, "InvalidPageRange"))
        status, _, body = self.put(self.sas_path() + "&comp=page", b"x" * 512, x_ms_range="bytes=1024-1535",
                                   x_ms_page_write="update")
        self.assertEqual(status, 416)
        status, _, body = self.put(self.sas_path() + "&comp=page", b"x" * 511, x_ms_range="bytes=0-511",
                                   x_ms_page_write="update")
        self.assertEqual(status, 400)
        status, _, body = self.put(self.sas_path() + "&comp=page", b"x" * 512, x_ms_range="bytes=0-511")
        self.assertEqual((status, self.error_code(body)), (400, "MissingRequiredHeader"))
        self.put(self.sas_path(), b"{}", x_ms_blob_type="BlockBlob")
        status, _, body = self.put(self.sas_path() + "&comp=page", b"x" * 512, x_ms_range="bytes=0-511",
                                   x_ms_page_write="update")
        self.assertEqual((status, self.error_code(body)), (409, "InvalidBlobType"))

    def test_header_and_sas_validation(self):
        path = self.sas_path()
        status, headers, body = self.request("blob", path, method="PUT", body=STATUS,
                                             headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2014-02-14"})
        self.assertEqual((status, self.error_code(body)), (400, "MissingRequiredHeader"))
        self.assertIn(b"<HeaderName>x-ms-date</HeaderName>", body)
        self.assertEqual(headers["x-ms-error-code"], "MissingRequiredHeader")
        status, _, body = self.put(path, STATUS)
        self.assertIn(b"x-ms-blob-type", body)
        status, _, body = self.put(path.split("?")[0], STATUS, x_ms_blob_type="BlockBlob")
        self.assertEqual((status, self.error_code(body)), (403, "AuthenticationFailed"))
        tampered = path.replace("sp=rw", "sp=rwd")
        self.assertEqual(self.put(tampered, STATUS, x_ms_blob_type="BlockBlob")[0], 403)
        self.assertEqual(self.put(path, STATUS, x_ms_blob_type="AppendBlobX")[0], 400)

    def test_invalid_json_is_recorded(self):
        self.assertEqual(self.put(self.sas_path(), b"{not json", x_ms_blob_type="BlockBlob")[0], 201)
        entry = self.control("/status-blobs")[-1]
        self.assertIsNone(entry["parsed"])
        self.assertTrue(entry["parseError"])
        status, _, _ = self.request("control", "/status-blob")
        self.assertEqual(status, 422)

    def test_artifacts_served_without_sas(self):
        snap = self.fabric.snapshot
        ext = self.fabric.scenario.data["extensions"][0]
        for failover in (False, True):
            status, _, body = self.request("blob", ftl.url_path(snap.manifest_url(ext, failover)))
            self.assertEqual(status, 200)
            root = ET.fromstring(body)
            self.assertEqual(root.findtext("Plugins/Plugin/Version"), "1.0.0")
        self.assertEqual(self.request("blob", "/extensions/nope")[0], 404)


if __name__ == "__main__":
    ftl.main()
