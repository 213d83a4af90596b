"""HostGAPlugin (real: http://168.63.129.16:32526), protocol §2.

* ``GET /versions``          JSON array including "2015-09-01"
* ``GET /health``            200 while healthy
* ``GET /vmSettings``        Fast Track goal state (protocol §2.1, §3.2): ``ETag``
                             header, 304 on a matching ``if-none-match``, 404
                             when the scenario disables Fast Track
* ``GET /extensionArtifact`` proxy of ``x-ms-artifact-location`` to the blob
                             store (served in-process, never over a socket;
                             502 for anything that is not the fabric's store)
* ``PUT /status``            status blob upload proxy (protocol §4.9): JSON
                             ``{"requestUri", "headers": [...], "content"}``
                             forwarded to the blob store
* ``PUT /vmAgentLog``        log upload sink

Requests carrying ``x-ms-containerid`` for a container that is no longer
current get 410 (protocol §2.2: the agent refreshes the goal state and retries).
"""

import base64
import binascii
import json
from urllib.parse import urlsplit

from .httpbase import Response, Service


class HostGAPluginService(Service):
    endpoint = "hgap"
    max_body = 16 * 1024 * 1024

    def error(self, status, message):
        return Response(status, message + "\n", "text/plain; charset=utf-8", note=message)

    def handle(self, req):
        path = req.path.rstrip("/") or "/"
        if path == "/versions":
            return self._get(req) or Response(200, json.dumps(self.fabric.scenario.data["hgap"]["versions"]),
                                              "application/json; charset=utf-8")
        if path == "/health":
            return self._get(req) or Response(200, b"", "text/plain")
        if path == "/vmSettings":
            return self._get(req) or self._headers(req, ("x-ms-version", "x-ms-containerid",
                                                         "x-ms-host-config-name")) or self._vm_settings(req)
        if path == "/extensionArtifact":
            return self._get(req) or self._headers(req, ("x-ms-version", "x-ms-containerid",
                                                         "x-ms-artifact-location")) or self._artifact(req)
        if path == "/status":
            if req.method != "PUT":
                return self.error(405, "Method not allowed")
            return self._headers(req, ("x-ms-version", "x-ms-containerid")) or self._status(req)
        if path == "/vmAgentLog":
            if req.method != "PUT":
                return self.error(405, "Method not allowed")
            self.fabric.record_event("vmAgentLog", "%d bytes" % len(req.body))
            return Response(200, b"")
        return self.error(404, "Not found: %s" % path)

    def _get(self, req):
        if req.method not in ("GET", "HEAD"):
            return self.error(405, "Method not allowed")
        return None

    def _headers(self, req, names):
        missing = [n for n in names if not req.header(n)]
        if missing:
            return self.error(400, "Missing required header(s): %s" % ", ".join(missing))
        cid = req.header("x-ms-containerid")
        snap = self.fabric.snapshot
        if cid and cid != snap.container_id and not self.fabric.scenario.data.get("goalStateFixture"):
            return self.error(410, "x-ms-containerid %s is not the current container (%s)" % (cid, snap.container_id))
        return None

    def _vm_settings(self, req):
        if not self.fabric.scenario.data["fastTrack"]:
            return self.error(404, "vmSettings are not supported on this host (Fast Track disabled)")
        snap = self.fabric.snapshot
        etag = snap.etag
        if (req.header("if-none-match") or "").strip().strip('"') == etag:
            return Response(304, b"", None, headers={"ETag": etag})
        return Response(200, snap.vm_settings, "application/json; charset=utf-8", headers={"ETag": etag})

    def _artifact(self, req):
        location = req.header("x-ms-artifact-location")
        resp = self.fabric.blob_service.fetch_url(location)
        if resp is None:
            return self.error(502, "Upstream request to %s failed: host is not reachable from the fabric" % location)
        return resp

    def _status(self, req):
        try:
            doc = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return self.error(400, "PUT /status body must be JSON: %s" % exc)
        if not isinstance(doc, dict) or not isinstance(doc.get("requestUri"), str):
            return self.error(400, "PUT /status body needs a string requestUri")
        headers = doc.get("headers")
        if not isinstance(headers, list) or not all(isinstance(h, dict) and "headerName" in h and "headerValue" in h
                                                    for h in headers):
            return self.error(400, "PUT /status headers must be a list of {headerName, headerValue}")
        content = b""
        if doc.get("content") is not None:
            try:
                content = base64.b64decode(doc["content"], validate=True)
            except (binascii.Error, ValueError) as exc:
                return self.error(400, "PUT /status content is not base64: %s" % exc)
        fwd_headers = {h["headerName"]: str(h["headerValue"]) for h in headers}
        parts = urlsplit(doc["requestUri"])
        target = parts.path + ("?" + parts.query if parts.query else "")
        resp = self.fabric.blob_service.forward(parts.netloc, "PUT", target, fwd_headers, content, via="hgap")
        if resp is None:
            return self.error(502, "Upstream storage %s is not reachable from the fabric" % parts.netloc)
        return resp
