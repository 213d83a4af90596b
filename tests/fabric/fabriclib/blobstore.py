"""Blob storage (an HTTP server on its own loopback port).

Serves the artifacts of the current goal state (extension manifests and zips,
GA manifests, the InVMArtifactsProfile blob, ``blobFixtures``) without
authentication, and the VM status blob (protocol §4.9) behind a SAS:

* ``PUT <blob>?<sas>`` with ``x-ms-blob-type: BlockBlob`` -> 201, body stored
* ``PUT <blob>?<sas>`` with ``x-ms-blob-type: PageBlob`` and
  ``x-ms-blob-content-length`` (multiple of 512, empty body) -> 201
* ``PUT <blob>?<sas>&comp=page`` with ``x-ms-range: bytes=S-E`` (512-aligned)
  and ``x-ms-page-write: update`` -> 201
* ``GET <blob>?<sas>`` (sp contains r) -> the stored bytes

``x-ms-version`` and ``x-ms-date`` are required on writes (waagent always
sends them; real storage would accept a SAS request without them — the
fabric is deliberately stricter so the agent under test sends what waagent
sends).  Errors use the storage service's XML error body and
``x-ms-error-code`` header.  After every complete upload the blob is parsed
as JSON (page blobs: trailing NUL/space padding stripped) and handed to the
fabric so tests can read the latest status back.
"""

import base64
import hashlib
import hmac
import http.client
import re
import threading
import uuid
from urllib.parse import parse_qs, urlsplit

from .goalstate import sas_signature
from .httpbase import Request, Response, Service
from .util import rfc1123, utc_iso

XML = "application/xml"
MAX_PAGE_BLOB = 64 * 1024 * 1024
ERROR_MESSAGES = {
    "AuthenticationFailed": "Server failed to authenticate the request. Make sure the value of Authorization header "
                            "is formed correctly including the signature.",
    "AuthorizationPermissionMismatch": "This request is not authorized to perform this operation using this permission.",
    "MissingRequiredHeader": "An HTTP header that's mandatory for this request is not specified.",
    "InvalidHeaderValue": "The value for one of the HTTP headers is not in the correct format.",
    "InvalidBlobType": "The blob type is invalid for this operation.",
    "InvalidPageRange": "The page range specified is invalid.",
    "BlobNotFound": "The specified blob does not exist.",
    "UnsupportedHttpVerb": "The resource doesn't support specified Http Verb.",
    "RequestBodyTooLarge": "The request body is too large and exceeds the maximum permissible limit.",
}


class BlobStoreService(Service):
    endpoint = "blob"
    max_body = 16 * 1024 * 1024

    def __init__(self, fabric):
        super().__init__(fabric)
        self._lock = threading.Lock()
        self.written = {}   # path -> dict(type, data, etag, lastModified)

    # -- storage style errors ---------------------------------------------
    def storage_error(self, status, code, detail=None, header_name=None):
        message = ERROR_MESSAGES.get(code, code)
        body = '<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s\nRequestId:%s\nTime:%s</Message>' % (
            code, message, uuid.uuid4(), utc_iso())
        if header_name:
            body += "<HeaderName>%s</HeaderName>" % header_name
        if detail:
            body += "<AuthenticationErrorDetail>%s</AuthenticationErrorDetail>" % detail if code == "AuthenticationFailed" \
                else "<Detail>%s</Detail>" % detail
        body += "</Error>"
        return Response(status, body, XML, headers={"x-ms-error-code": code},
                        note="%s%s" % (code, (": " + detail) if detail else (": " + header_name if header_name else "")))

    def error(self, status, message):
        code = "RequestBodyTooLarge" if status == 413 else "InvalidInput"
        return self.storage_error(status, code, message)

    # -- in-process access used by the HostGAPlugin proxy --------------------
    def authority(self):
        return urlsplit(self.fabric.urls["blob"]).netloc

    def fetch_url(self, url):
        parts = urlsplit(url)
        if parts.netloc != self.authority():
            return None
        target = parts.path + ("?" + parts.query if parts.query else "")
        return self.forward(parts.netloc, "GET", target, {}, b"", via="hgap")

    def forward(self, netloc, method, target, headers, body, via):
        if netloc != self.authority():
            return None
        msg = http.client.HTTPMessage()
        for name, value in headers.items():
            msg[name] = value
        if body and "Content-Length" not in msg:
            msg["Content-Length"] = str(len(body))
        req = Request(method, target, msg, body, via, self.endpoint)
        return self.handle(req)

    # ------------------------------------------------------------------
    def handle(self, req):
        snap = self.fabric.snapshot
        path = req.path
        if req.method in ("GET", "HEAD") and path in snap.blobs and not path.startswith("/$system/"):
            art = snap.blobs[path]
            return Response(200, art.data, art.content_type, headers=self._blob_headers(art.data, "BlockBlob"))
        if path.startswith("/$system/"):
            return self._system_blob(req, snap)
        if req.method in ("GET", "HEAD") and path.startswith("/pki/"):
            data = self.fabric.attestation_pki_file(path[len("/pki/"):])
            if data is not None:    # the attested-data chain's AIA caIssuers URLs (crypto.py)
                return Response(200, data, "application/pkix-cert")
        if req.method in ("GET", "HEAD"):
            return self.storage_error(404, "BlobNotFound")
        return self.storage_error(403, "AuthenticationFailed", "Writes are only allowed to SAS blobs under /$system/")

    @staticmethod
    def _blob_headers(data, blob_type):
        etag = '"0x8D%s"' % hashlib.sha1(data).hexdigest()[:13].upper()
        return {"ETag": etag, "Last-Modified": rfc1123(), "x-ms-blob-type": blob_type,
                "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
                "x-ms-request-id": str(uuid.uuid4()), "x-ms-version": "2018-03-28"}

    def _check_sas(self, req, needed):
        query = parse_qs(req.query_string, keep_blank_values=True)
        missing = [k for k in ("sv", "sr", "sig", "sp", "se") if k not in query]
        if missing:
            return self.storage_error(403, "AuthenticationFailed",
                                      "SAS query parameter(s) missing: %s" % ", ".join(missing))
        perms = query["sp"][0]
        expected = sas_signature(self.fabric.sas_key, req.path, perms)
        if not hmac.compare_digest(query["sig"][0], expected):
            return self.storage_error(403, "AuthenticationFailed",
                                      "Signature did not match. String to sign used was %s" % perms)
        if needed not in perms:
            return self.storage_error(403, "AuthorizationPermissionMismatch")
        return None

    def _system_blob(self, req, snap):
        if req.method in ("GET", "HEAD"):
            problem = self._check_sas(req, "r")
            if problem:
                return problem
            with self._lock:
                blob = self.written.get(req.path)
            if blob is not None:
                data = bytes(blob["data"])
                return Response(200, data, "application/octet-stream", headers=self._blob_headers(data, blob["type"]))
            if req.path in snap.blobs:
                art = snap.blobs[req.path]
                return Response(200, art.data, art.content_type, headers=self._blob_headers(art.data, "BlockBlob"))
            return self.storage_error(404, "BlobNotFound")
        if req.method != "PUT":
            return self.storage_error(405, "UnsupportedHttpVerb")
        problem = self._check_sas(req, "w")
        if problem:
            return problem
        for name in ("x-ms-version", "x-ms-date"):
            if not req.header(name):
                return self.storage_error(400, "MissingRequiredHeader", header_name=name)
        if req.q("comp") == "page":
            return self._put_page(req)
        if req.q("comp") is not None:
            return self.storage_error(400, "InvalidQueryParameterValue", "comp=%s is not supported" % req.q("comp"))
        blob_type = req.header("x-ms-blob-type")
        if not blob_type:
            return self.storage_error(400, "MissingRequiredHeader", header_name="x-ms-blob-type")
        if blob_type == "BlockBlob":
            data = bytearray(req.body)
            with self._lock:
                self.written[req.path] = {"type": "BlockBlob", "data": data}
            self.fabric.record_status_blob(req.path, "BlockBlob", bytes(data), req)
            return Response(201, b"", None, headers=self._blob_headers(bytes(data), "BlockBlob"))
        if blob_type == "PageBlob":
            size = req.header("x-ms-blob-content-length")
            if size is None:
                return self.storage_error(400, "MissingRequiredHeader", header_name="x-ms-blob-content-length")
            try:
                size = int(size)
            except ValueError:
                return self.storage_error(400, "InvalidHeaderValue", header_name="x-ms-blob-content-length")
            if size < 0 or size % 512 or size > MAX_PAGE_BLOB:
                return self.storage_error(400, "InvalidHeaderValue",
                                          "x-ms-blob-content-length must be a multiple of 512 (got %d)" % size,
                                          header_name="x-ms-blob-content-length")
            if req.body:
                return self.storage_error(400, "InvalidHeaderValue",
                                          "a PageBlob is created with an empty body", header_name="Content-Length")
            with self._lock:
                self.written[req.path] = {"type": "PageBlob", "data": bytearray(size)}
            return Response(201, b"", None, headers=self._blob_headers(b"", "PageBlob"))
        return self.storage_error(400, "InvalidHeaderValue", "unsupported x-ms-blob-type %r" % blob_type,
                                  header_name="x-ms-blob-type")

    def _put_page(self, req):
        rng = req.header("x-ms-range") or req.header("Range")
        if not rng:
            return self.storage_error(400, "MissingRequiredHeader", header_name="x-ms-range")
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", rng.strip())
        if not match:
            return self.storage_error(400, "InvalidHeaderValue", header_name="x-ms-range")
        start, end = int(match.group(1)), int(match.group(2))
        if start % 512 or (end + 1) % 512 or end < start:
            return self.storage_error(416, "InvalidPageRange",
                                      "range %s is not aligned to 512-byte pages" % rng)
        mode = req.header("x-ms-page-write")
        if mode not in ("update", "clear"):
            return self.storage_error(400, "MissingRequiredHeader" if mode is None else "InvalidHeaderValue",
                                      header_name="x-ms-page-write")
        with self._lock:
            blob = self.written.get(req.path)
            if blob is None:
                return self.storage_error(404, "BlobNotFound")
            if blob["type"] != "PageBlob":
                return self.storage_error(409, "InvalidBlobType")
            if end >= len(blob["data"]):
                return self.storage_error(416, "InvalidPageRange", "range ends beyond the blob size %d"
                                          % len(blob["data"]))
            length = end - start + 1
            if mode == "update":
                if len(req.body) != length:
                    return self.storage_error(400, "InvalidHeaderValue",
                                              "Content-Length %d does not match the range length %d"
                                              % (len(req.body), length), header_name="Content-Length")
                blob["data"][start:end + 1] = req.body
            else:
                if req.body:
                    return self.storage_error(400, "InvalidHeaderValue", "clear takes no body",
                                              header_name="Content-Length")
                blob["data"][start:end + 1] = bytes(length)
            data = bytes(blob["data"])
        self.fabric.record_status_blob(req.path, "PageBlob", data, req)
        return Response(201, b"", None, headers=self._blob_headers(data, "PageBlob"))
