"""WireServer (real: http://168.63.129.16:80), protocol §1.

Routes:

* ``GET /?comp=versions``                              protocol §1.3 (no x-ms headers needed)
* ``GET /machine/?comp=goalstate``                     protocol §1.4 (x-ms-version required)
* ``GET /machine/<cid>/<role>?comp=config&type=...``   HostingEnvironmentConfig,
  SharedConfig, ExtensionsConfig, FullConfig
* ``GET /machine/<cid>/<role>?comp=certificates``      protocol §1.6 (real CMS/PKCS#12)
* ``POST /machine?comp=health``                        protocol §1.5 (strict validation)
* ``POST /machine?comp=telemetrydata``                 protocol §1.8 (sink)
* ``POST /machine?comp=roleProperties``                protocol §1.7 (202)
* ``POST /HealthService``                              protocol §1.9 (sink)
* ``POST /provisioning/health``                        azure-init's JSON report (protocol §1.5)

A config/certificates URL whose container id is not the current one answers
410 Gone (protocol §1.2: the caller refreshes the goal state and retries).
"""

import base64
import json
import re
import xml.etree.ElementTree as ET

from . import crypto
from .httpbase import Response, Service
from .util import utc_iso, wrap64

XML = "text/xml; charset=utf-8"
MAX_DESCRIPTION = 3686          # protocol §1.5
HEALTH_STATES = ("Ready", "NotReady")
SUBSTATUSES = ("Provisioning", "ProvisioningFailed")
# Exact element structure of the Health document (protocol §1.5).
HEALTH_SHAPE = ("Health", [
    ("GoalStateIncarnation", None),
    ("Container", [
        ("ContainerId", None),
        ("RoleInstanceList", [
            ("Role", [
                ("InstanceId", None),
                ("Health", "HEALTH"),
            ]),
        ]),
    ]),
])


class HealthError(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WireServerService(Service):
    endpoint = "wireserver"
    max_body = 4 * 1024 * 1024

    def handle(self, req):
        comp = req.q("comp")
        path = req.path
        if path == "/HealthService" and req.method == "POST":
            return self._sink(req, "healthservice")
        if path.rstrip("/") == "/provisioning/health":
            return self._json_health(req) if req.method == "POST" else self.error(405, "Method not allowed")
        if comp == "versions" and path in ("/", ""):
            return self._get_only(req) or Response(200, self.fabric.snapshot.versions_xml, XML)
        if not (path == "/machine" or path.startswith("/machine/")):
            return self.error(404, "Resource not found: %s" % path)
        if comp == "goalstate":
            return self._get_only(req) or self._need_version(req) or Response(
                200, self.fabric.snapshot.goal_state_xml, XML)
        if comp == "health":
            return self._health(req) if req.method == "POST" else self.error(405, "Method not allowed")
        if comp == "telemetrydata":
            return self._sink(req, "telemetry") if req.method == "POST" else self.error(405, "Method not allowed")
        if comp == "roleProperties":
            if req.method != "POST":
                return self.error(405, "Method not allowed")
            self.fabric.record_event("roleProperties", req.body.decode("utf-8", "replace"))
            return Response(202, b"", XML)
        if comp in ("config", "certificates", "remoteAccess"):
            problem = self._get_only(req) or self._need_version(req) or self._check_container(req)
            if problem:
                return problem
            snap = self.fabric.snapshot
            if comp == "certificates":
                return self._certificates(req, snap)
            if comp == "remoteAccess":
                if snap.remote_access_xml is None:
                    return self.error(404, "No remote access information for this role instance")
                return Response(200, snap.remote_access_xml, XML)
            kind = req.q("type")
            docs = {"hostingEnvironmentConfig": snap.hosting_env_xml, "sharedConfig": snap.shared_config_xml,
                    "extensionsConfig": snap.ext_conf_xml,
                    "fullConfig": snap.hosting_env_xml}
            if kind not in docs:
                return self.error(400, "Unknown config type %r" % kind)
            return Response(200, docs[kind], XML)
        return self.error(400, "Unsupported comp=%r on %s" % (comp, path))

    # ------------------------------------------------------------------
    @staticmethod
    def _get_only(req):
        if req.method not in ("GET", "HEAD"):
            return Response(405, "Method not allowed\n", "text/plain; charset=utf-8", note="method")
        return None

    def _need_version(self, req):
        if not self.fabric.scenario.data["wire"]["requireVersionHeader"]:
            return None
        if not req.header("x-ms-version"):
            return self.error(400, "Missing required header x-ms-version (expected 2012-11-30)")
        return None

    def _check_container(self, req):
        if self.fabric.scenario.data.get("goalStateFixture"):
            return None  # verbatim fixture URLs carry the fixture's own ids
        match = re.match(r"^/machine/([^/]+)/", req.path)
        if not match:
            return self.error(400, "Malformed config URL %s" % req.raw_path)
        snap = self.fabric.snapshot
        if match.group(1) != snap.container_id:
            return self.error(410, "Container %s is no longer current (current: %s); refresh the goal state"
                              % (match.group(1), snap.container_id))
        wire = self.fabric.scenario.data["wire"]
        inc = req.q("incarnation")
        if wire.get("strictIncarnation") and inc is not None and inc != str(snap.incarnation):
            return self.error(410, "Incarnation %s is no longer current (current: %d)" % (inc, snap.incarnation))
        return None

    def _certificates(self, req, snap):
        """protocol §1.6: CMS EnvelopedData (SKI recipient) of a PKCS#12, base64 in <Data>."""
        fixture = self.fabric.scenario.fixture_bytes("certificatesFixture")
        if fixture is not None:
            return Response(200, fixture, XML)
        head = ('<?xml version="1.0" encoding="utf-8"?>\n'
                '<CertificateFile xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                'xsi:noNamespaceSchemaLocation="certificates10.xsd">\n'
                '  <Version>2012-11-30</Version>\n  <Incarnation>%d</Incarnation>\n'
                '  <Format>Pkcs7BlobWithPfxContents</Format>\n' % snap.incarnation)
        if not snap.tenant_certs:
            return Response(200, head + "</CertificateFile>\n", XML)
        cert_header = req.header("x-ms-guest-agent-public-x509-cert")
        if not cert_header:
            return self.error(400, "Missing required header x-ms-guest-agent-public-x509-cert")
        cipher = req.header("x-ms-cipher-name") or "DES_EDE3_CBC"
        try:
            transport = crypto.transport_cert_pem(cert_header)
            pfx = crypto.build_pfx(snap.tenant_certs)
            blob = crypto.envelope(pfx, transport, cipher)
        except crypto.CryptoError as exc:
            return self.error(400, str(exc))
        data = wrap64(base64.b64encode(blob).decode("ascii"))
        body = head + "  <Data>%s</Data>\n</CertificateFile>\n" % data
        resp = Response(200, body, XML)
        resp.note = "certificates %s for %d tenant cert(s)" % (cipher, len(snap.tenant_certs))
        return resp

    def _sink(self, req, kind):
        self.fabric.record_event(kind, req.body.decode("utf-8", "replace"))
        return Response(200, b"", XML)

    # -- health (protocol §1.5) -------------------------------------------------------
    def _health(self, req):
        report = {"time": utc_iso(), "dialect": "xml", "client": req.client,
                  "body": req.body.decode("utf-8", "replace")}
        try:
            parsed = self.validate_health(req)
            report.update(parsed, accepted=True, status=200, reason=None)
            resp = Response(200, b"", XML)
        except HealthError as exc:
            report.update(accepted=False, status=exc.status, reason=exc.reason)
            resp = self.error(exc.status, exc.reason)
        self.fabric.record_health(report)
        return resp

    def validate_health(self, req):
        ctype = (req.header("Content-Type") or "").lower()
        if not ctype.startswith("text/xml"):
            raise HealthError(400, "Content-Type must be text/xml;charset=utf-8 (got %r)" % ctype)
        if self.fabric.scenario.data["wire"]["requireVersionHeader"] and not req.header("x-ms-version"):
            raise HealthError(400, "Missing required header x-ms-version")
        text = req.body
        if text.startswith(b"\xef\xbb\xbf"):
            text = text[3:]
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise HealthError(400, "Health report is not well-formed XML: %s" % exc)
        values = {}
        _check_shape(root, HEALTH_SHAPE, "", values)
        snap = self.fabric.snapshot
        if values["GoalStateIncarnation"] != str(snap.incarnation):
            raise HealthError(400, "GoalStateIncarnation %r does not match the current incarnation %d"
                              % (values["GoalStateIncarnation"], snap.incarnation))
        cid = values["ContainerId"]
        if cid != snap.container_id:
            if cid in self.fabric.previous_container_ids:
                raise HealthError(410, "ContainerId %s is stale (current: %s)" % (cid, snap.container_id))
            raise HealthError(400, "InvalidContainerConfiguration: unknown ContainerId %r" % cid)
        if values["InstanceId"] != snap.role_instance_id:
            raise HealthError(400, "InstanceId %r does not match the role instance %r"
                              % (values["InstanceId"], snap.role_instance_id))
        return {"incarnation": int(values["GoalStateIncarnation"]), "containerId": cid,
                "instanceId": values["InstanceId"], "state": values["State"],
                "subStatus": values.get("SubStatus"), "description": values.get("Description")}

    def _json_health(self, req):
        """azure-init's ``POST /provisioning/health`` (protocol §1.5)."""
        report = {"time": utc_iso(), "dialect": "json", "client": req.client,
                  "body": req.body.decode("utf-8", "replace")}
        try:
            if not (req.header("Content-Type") or "").lower().startswith("application/json"):
                raise HealthError(400, "Content-Type must be application/json")
            try:
                obj = json.loads(req.body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as exc:
                raise HealthError(400, "body is not JSON: %s" % exc)
            state = obj.get("state") if isinstance(obj, dict) else None
            if state not in HEALTH_STATES:
                raise HealthError(400, "state must be Ready or NotReady")
            details = obj.get("details") or {}
            sub = details.get("subStatus")
            if sub is not None and sub not in SUBSTATUSES:
                raise HealthError(400, "details.subStatus must be Provisioning or ProvisioningFailed")
            desc = details.get("description")
            if desc is not None and len(desc) > MAX_DESCRIPTION:
                raise HealthError(400, "details.description longer than %d characters" % MAX_DESCRIPTION)
            report.update(accepted=True, status=200, reason=None, state=state, subStatus=sub, description=desc,
                          incarnation=self.fabric.snapshot.incarnation)
            resp = Response(200, b"", "application/json")
        except HealthError as exc:
            report.update(accepted=False, status=exc.status, reason=exc.reason)
            resp = self.error(exc.status, exc.reason)
        self.fabric.record_health(report)
        return resp


def _check_shape(elem, shape, where, values):
    """Validate element names/order/leaves against HEALTH_SHAPE; collect leaf text."""
    name, children = shape
    here = where + "/" + name
    if elem.tag != name:
        raise HealthError(400, "expected <%s> at %s, found <%s>" % (name, where or "/", elem.tag))
    if elem.attrib:
        raise HealthError(400, "unexpected attribute(s) %s on %s" % (", ".join(sorted(elem.attrib)), here))
    kids = list(elem)
    if children is None:
        if kids:
            raise HealthError(400, "%s must be a text element" % here)
        values[name] = (elem.text or "").strip() if name != "Description" else (elem.text or "")
        return
    if (elem.text or "").strip() or any((k.tail or "").strip() for k in kids):
        raise HealthError(400, "unexpected text inside %s" % here)
    if children == "HEALTH":
        names = [k.tag for k in kids]
        if names not in (["State"], ["State", "Details"]):
            raise HealthError(400, "%s must contain <State> optionally followed by <Details>, found %s"
                              % (here, names))
        _check_shape(kids[0], ("State", None), here, values)
        if values["State"] not in HEALTH_STATES:
            raise HealthError(400, "State must be Ready or NotReady, found %r" % values["State"])
        if len(kids) == 2:
            details = list(kids[1])
            if [k.tag for k in details] != ["SubStatus", "Description"] or kids[1].attrib:
                raise HealthError(400, "%s/Details must contain exactly <SubStatus><Description>, found %s"
                                  % (here, [k.tag for k in details]))
            _check_shape(details[0], ("SubStatus", None), here + "/Details", values)
            _check_shape(details[1], ("Description", None), here + "/Details", values)
            if values["SubStatus"] not in SUBSTATUSES:
                raise HealthError(400, "SubStatus must be Provisioning or ProvisioningFailed, found %r"
                                  % values["SubStatus"])
            if len(values["Description"]) > MAX_DESCRIPTION:
                raise HealthError(400, "Description is %d characters after unescaping; the maximum is %d"
                                  % (len(values["Description"]), MAX_DESCRIPTION))
        return
    names = [k.tag for k in kids]
    expected = [c[0] for c in children]
    if names != expected:
        raise HealthError(400, "%s must contain %s in this order, found %s" % (here, expected, names))
    for kid, child_shape in zip(kids, children):
        _check_shape(kid, child_shape, here, values)

