"""Control API (loopback only): observe and steer the fabric from tests.

=======  =====================  ===============================================
method   path                   effect
=======  =====================  ===============================================
GET      /state                 incarnation, etag, container id, URLs, counters
GET      /requests              request log as JSONL (?endpoint=, ?since=seq)
GET      /health-reports        JSON array of every health report (+verdict)
GET      /status-blob           latest parsed status blob (?raw=1: raw bytes)
GET      /status-blobs          every upload (metadata + parsed JSON)
GET      /events                telemetry / HealthService / roleProperties sinks
GET      /scenario              the current (normalized) scenario
POST     /scenario              replace (?mode=replace) or JSON-merge-patch
                                (default) the scenario; ?bump=incarnation
                                (default) | etag | none
GET      /faults                installed fault rules with counters
POST     /faults                install rules (list or object); ?mode=append
DELETE   /faults                remove every rule
POST     /pps/reprovision       switch /metadata/reprovisiondata on (body: an
                                optional merge patch describing the new VM)
POST     /pps/nic               NIC switch / detach / hot-attach on veth links
                                (ppsnic.py)
GET      /media/ovf-env.xml     the provisioning ovf-env.xml of the scenario
=======  =====================  ===============================================
"""

import json
from urllib.parse import parse_qs

from .faults import FaultError
from .httpbase import Response, Service
from .scenario import ScenarioError


class ControlService(Service):
    endpoint = "control"
    max_body = 4 * 1024 * 1024
    fault_injection = False
    logged = False

    def error(self, status, message):
        return Response(status, json.dumps({"error": message}) + "\n", "application/json", note=message)

    def _json(self, obj, status=200):
        return Response(status, json.dumps(obj, indent=2) + "\n", "application/json")

    def _body(self, req):
        if not req.body.strip():
            return None
        return json.loads(req.body.decode("utf-8"))

    def handle(self, req):
        fabric = self.fabric
        path = req.path.rstrip("/") or "/"
        query = parse_qs(req.query_string)
        try:
            if req.method == "GET":
                if path == "/state":
                    return self._json(fabric.state())
                if path == "/requests":
                    endpoint = query.get("endpoint", [None])[0]
                    since = int(query.get("since", ["0"])[0])
                    lines = [json.dumps(e) for e in fabric.requests_since(since) if
                             endpoint is None or e["endpoint"] == endpoint]
                    return Response(200, "".join(line + "\n" for line in lines), "application/x-ndjson")
                if path == "/health-reports":
                    return self._json(fabric.health_reports())
                if path == "/status-blob":
                    latest = fabric.latest_status()
                    if latest is None:
                        return self.error(404, "no status blob has been uploaded yet")
                    if query.get("raw", ["0"])[0] == "1":
                        return Response(200, latest["raw"], "application/octet-stream")
                    if latest["parsed"] is None:
                        return self.error(422, "latest status blob is not valid JSON: %s" % latest["parseError"])
                    return self._json(latest["parsed"])
                if path == "/status-blobs":
                    return self._json([{k: v for k, v in s.items() if k != "raw"} for s in fabric.status_history()])
                if path == "/events":
                    return self._json(fabric.events())
                if path == "/scenario":
                    return self._json(fabric.scenario.data_for_output())
                if path == "/faults":
                    return self._json(fabric.faults.describe())
                if path == "/media/ovf-env.xml":
                    return Response(200, fabric.ovf_env(), "text/xml; charset=utf-8")
                return self.error(404, "unknown control path %s" % path)
            if req.method == "POST":
                body = self._body(req)
                if path == "/scenario":
                    mode = query.get("mode", ["merge"])[0]
                    bump = query.get("bump", ["incarnation"])[0]
                    if mode not in ("merge", "replace") or bump not in ("incarnation", "etag", "none"):
                        return self.error(400, "mode must be merge|replace and bump incarnation|etag|none")
                    if not isinstance(body, dict):
                        return self.error(400, "POST /scenario needs a JSON object")
                    return self._json(fabric.update_scenario(body, mode=mode, bump=bump))
                if path == "/faults":
                    rules = body if isinstance(body, list) else [body]
                    mode = query.get("mode", ["replace"])[0]
                    installed = fabric.faults.set(rules, fabric.scenario.resolve_path, append=(mode == "append"))
                    return self._json(installed)
                if path == "/pps/reprovision":
                    return self._json(fabric.enable_reprovision(body))
                if path == "/pps/nic":
                    return self._json(fabric.pps_nic.handle(body))
                return self.error(404, "unknown control path %s" % path)
            if req.method == "DELETE" and path == "/faults":
                fabric.faults.clear()
                return self._json([])
            return self.error(405, "method %s not supported on %s" % (req.method, path))
        except (ValueError, ScenarioError, FaultError) as exc:
            return self.error(400, str(exc))
