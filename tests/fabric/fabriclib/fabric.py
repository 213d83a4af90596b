"""The Fabric: shared state plus the five HTTP servers.

One process, one ``Fabric``; every service reads the current
``GoalStateSnapshot`` (``fabric.snapshot``) which is swapped atomically when
the scenario changes (new incarnation and/or new vmSettings etag).
"""

import collections
import copy
import json
import os
import tempfile
import threading

from . import crypto, media, netns
from .blobstore import BlobStoreService
from .control import ControlService
from .faults import FaultTable
from .goalstate import GoalStateSnapshot
from .hgap import HostGAPluginService
from .httpbase import FabricServer
from .imds import ImdsService
from .ppsnic import PpsNic
from .scenario import Scenario
from .util import dotnet_ticks, merge_patch, sha256_hex, utc_iso
from .wireserver import WireServerService

MAX_LOG = 200000
MAX_HISTORY = 200


class Fabric:
    def __init__(self, scenario, host="127.0.0.1", ports=None, real_addresses=False, state_dir=None):
        self.scenario = scenario
        self.host = host
        self.ports = dict({"imds": 0, "wire": 0, "hgap": 0, "blob": 0, "control": 0}, **(ports or {}))
        self.real_addresses = real_addresses
        self.state_dir = state_dir  # created in start(), after the safety checks
        self.stop_event = threading.Event()
        self.lock = threading.RLock()
        self.faults = FaultTable()
        self.sas_key = os.urandom(32)
        self.incarnation = scenario.data["wire"]["incarnation"]
        self.etag_serial = 1
        self.previous_container_ids = set()
        self.pps = {"reprovision": False, "fetched": 0}
        self.pps_nic = PpsNic(self)  # POST /pps/nic: NIC switch / hot-attach on veth links
        self._log = collections.deque(maxlen=MAX_LOG)
        self._seq = 0
        self._health = []
        self._status = collections.deque(maxlen=MAX_HISTORY)
        self._events = collections.deque(maxlen=1000)
        self._log_file = None
        self._added_addresses = []
        self.servers = {}
        self.urls = {}
        self.snapshot = None
        self.tenant_certs = []
        self.attestation_pki = None     # directory of the attested-data chains (crypto.make_attestation_pki)
        self.imds_service = ImdsService(self)
        self.wire_service = WireServerService(self)
        self.hgap_service = HostGAPluginService(self)
        self.blob_service = BlobStoreService(self)
        self.control_service = ControlService(self)

    # -- lifecycle ---------------------------------------------------------------
    def start(self):
        if self.real_addresses:
            netns.check_isolated()
            self._added_addresses = netns.ensure_lo_addresses([netns.REAL_IMDS, netns.REAL_WIRESERVER])
            binds = {"imds": (netns.REAL_IMDS, 80), "wire": (netns.REAL_WIRESERVER, 80),
                     "hgap": (netns.REAL_WIRESERVER, 32526), "blob": ("127.0.0.1", self.ports["blob"]),
                     "control": ("127.0.0.1", self.ports["control"])}
        else:
            if not netns.is_loopback(self.host):
                netns.check_isolated()  # a non-loopback --host is only allowed in an isolated netns
            binds = {name: (self.host, self.ports[name]) for name in ("imds", "wire", "hgap", "blob")}
            binds["control"] = ("127.0.0.1", self.ports["control"])
        self.state_dir = self.state_dir or tempfile.mkdtemp(prefix="azfabric-state-")
        os.makedirs(self.state_dir, exist_ok=True)
        self._log_file = open(os.path.join(self.state_dir, "requests.jsonl"), "a", encoding="utf-8")
        services = {"imds": self.imds_service, "wire": self.wire_service, "hgap": self.hgap_service,
                    "blob": self.blob_service, "control": self.control_service}
        try:
            for name in ("imds", "wire", "hgap", "blob", "control"):
                self.servers[name] = FabricServer(binds[name], services[name])
        except OSError:
            self._close_servers()
            raise
        for name, server in self.servers.items():
            host, port = server.server_address[:2]
            self.urls[name] = "http://%s:%d" % (host, port)
        self.tenant_certs = self._make_tenant_certs(self.scenario)
        if self.scenario.data.get("attested") is not None:
            self.ensure_attestation_pki()
        self.snapshot = self._build_snapshot(self.scenario, new_ticks=True)
        self.faults.set(self.scenario.data["faults"], self.scenario.resolve_path)
        for name, server in self.servers.items():
            thread = threading.Thread(target=server.serve_forever, name="azfabric-" + name,
                                      kwargs={"poll_interval": 0.2}, daemon=True)
            thread.start()
        return self.ready_info()

    def stop(self):
        self.stop_event.set()
        self.pps_nic.close()
        for server in self.servers.values():
            server.shutdown()
        self._close_servers()
        if self._added_addresses:
            netns.remove_lo_addresses(self._added_addresses)
            self._added_addresses = []
        with self.lock:
            if self._log_file is not None:
                self._log_file.close()

    def _close_servers(self):
        for server in self.servers.values():
            try:
                server.server_close()
            except OSError:
                pass

    def ready_info(self):
        wire_host, wire_port = self.servers["wire"].server_address[:2]
        info = {"imds": self.urls["imds"], "wireserver": "%s:%d" % (wire_host, wire_port),
                "hgap_port": self.servers["hgap"].server_address[1], "blob": self.urls["blob"],
                "control": self.urls["control"], "vm_id": self.scenario.vm["vmId"],
                "incarnation": self.snapshot.incarnation, "hgap": self.urls["hgap"],
                "state_dir": self.state_dir, "pid": os.getpid()}
        if self.attestation_pki:
            info["attestation_pki"] = self.attestation_pki
        return info

    # -- attested data -------------------------------------------------------------
    def ensure_attestation_pki(self):
        """The attested-data chains in <state dir>/attestation-pki (made once; AIA URLs on the blob store)."""
        with self.lock:
            if self.attestation_pki is None:
                out = os.path.join(self.state_dir, "attestation-pki")
                crypto.make_attestation_pki(out, aia_base=self.urls["blob"] + "/pki")
                self.attestation_pki = out
            return self.attestation_pki

    def attestation_pki_file(self, name):
        """DER bytes of <name> ("inter.crt", "root.crt") for the AIA caIssuers URLs, or None."""
        if self.attestation_pki is None or name not in [n + ".crt" for n in crypto.PKI_FILES]:
            return None
        with open(os.path.join(self.attestation_pki, name), "rb") as handle:
            return handle.read()

    # -- goal state --------------------------------------------------------------
    def _make_tenant_certs(self, scenario):
        cache = os.path.join(self.state_dir, "tenant-certs", scenario.vm["vmId"])
        certs = []
        for entry in scenario.data["tenantCertificates"]:
            if entry.get("certFile"):
                with open(entry["certFile"]) as handle:
                    cert_pem = handle.read()
                key_pem = None
                if entry.get("keyFile"):
                    with open(entry["keyFile"]) as handle:
                        key_pem = handle.read()
            else:
                cert_pem, key_pem = crypto.generate_cert(entry["name"], os.path.join(cache, entry["keyType"]),
                                                         entry["keyType"])
            certs.append(crypto.TenantCert(entry["name"], cert_pem, key_pem if entry["privateKey"] else None))
        return certs

    def _build_snapshot(self, scenario, new_ticks=False, new_ext_ticks=False):
        old = self.snapshot
        ticks = dotnet_ticks() if (new_ticks or old is None) else old.created_ticks
        ext_ticks = ticks if new_ticks else (dotnet_ticks() if new_ext_ticks else old.ext_ticks)
        wire_url = self.urls["wire"]
        urls = {"wire": wire_url, "blob": self.urls["blob"], "hgap": self.urls["hgap"]}
        return GoalStateSnapshot(scenario, self.incarnation, self.etag_serial, urls, self.sas_key,
                                 self.tenant_certs, ticks=ticks, ext_ticks=ext_ticks)

    def update_scenario(self, body, mode="merge", bump="incarnation"):
        with self.lock:
            raw = body if mode == "replace" else merge_patch(self.scenario.raw, body)
            scenario = Scenario(raw, base_dir=self.scenario.base_dir, source=self.scenario.source)
            certs = self._make_tenant_certs(scenario)
            old_cid = self.snapshot.container_id
            if bump == "incarnation":
                self.incarnation += 1
                self.etag_serial += 1
            elif bump == "etag":
                self.etag_serial += 1
            self.scenario = scenario
            self.tenant_certs = certs
            self.snapshot = self._build_snapshot(scenario, new_ticks=(bump == "incarnation"),
                                                 new_ext_ticks=(bump == "etag"))
            if self.snapshot.container_id != old_cid:
                self.previous_container_ids.add(old_cid)
            if "faults" in body or mode == "replace":
                self.faults.set(scenario.data["faults"], scenario.resolve_path)
            self.record_event("scenario", "mode=%s bump=%s incarnation=%d etag=%s"
                              % (mode, bump, self.incarnation, self.snapshot.etag))
            return self.state()

    # -- pre-provisioning ----------------------------------------------------------
    def current_pps_type(self):
        return "None" if self.pps["reprovision"] else self.scenario.data["ppsType"]

    def enable_reprovision(self, patch=None):
        patch = patch if patch is not None else (self.scenario.data.get("reprovision") or {})
        patch = merge_patch(patch, {"ppsType": "None"})
        with self.lock:
            self.pps["reprovision"] = True
            return self.update_scenario(patch, mode="merge", bump="incarnation")

    def reprovision_ovf_env(self):
        return media.render_ovf_env(self.scenario, pps_type="None")

    def ovf_env(self):
        return media.render_ovf_env(self.scenario)

    # -- records ----------------------------------------------------------------------
    def log_request(self, entry):
        with self.lock:
            self._seq += 1
            entry = dict(entry, seq=self._seq)
            self._log.append(entry)
            if self._log_file is not None and not self._log_file.closed:
                self._log_file.write(json.dumps(entry) + "\n")
                self._log_file.flush()

    def requests_since(self, since=0):
        with self.lock:
            return [e for e in self._log if e["seq"] > since]

    def record_health(self, report):
        with self.lock:
            report = dict(report, seq=len(self._health) + 1)
            self._health.append(report)
            with open(os.path.join(self.state_dir, "health-reports.jsonl"), "a", encoding="utf-8") as handle:
                handle.write(json.dumps(report) + "\n")

    def health_reports(self):
        with self.lock:
            return copy.deepcopy(self._health)

    def record_event(self, kind, text):
        with self.lock:
            self._events.append({"time": utc_iso(), "kind": kind, "body": text[:65536]})

    def events(self):
        with self.lock:
            return list(self._events)

    def record_status_blob(self, path, blob_type, data, req):
        content = data
        if blob_type == "PageBlob":
            content = content.rstrip(b"\x00").rstrip(b" ")
        parsed, error = None, None
        try:
            text = content.decode("utf-8")
            if text.startswith("\ufeff"):
                text = text[1:]
            parsed = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            error = str(exc)
        entry = {"time": utc_iso(), "path": path, "blobType": blob_type,
                 "via": "hgap" if req.client == "hgap" else "direct", "length": len(content),
                 "sha256": sha256_hex(content), "parsed": parsed, "parseError": error, "raw": content}
        with self.lock:
            entry["seq"] = len(self._status) + 1
            self._status.append(entry)
            with open(os.path.join(self.state_dir, "status-blob.json"), "wb") as handle:
                handle.write(content)

    def latest_status(self):
        with self.lock:
            return self._status[-1] if self._status else None

    def status_history(self):
        with self.lock:
            return list(self._status)

    def state(self):
        with self.lock:
            snap = self.snapshot
            return {
                "vm_id": self.scenario.vm["vmId"], "scenario": self.scenario.data["name"],
                "incarnation": snap.incarnation, "etag": snap.etag, "fastTrack": self.scenario.data["fastTrack"],
                "containerId": snap.container_id, "previousContainerIds": sorted(self.previous_container_ids),
                "roleInstanceId": snap.role_instance_id, "configName": snap.config_name,
                "urls": dict(self.urls), "realAddresses": self.real_addresses, "stateDir": self.state_dir,
                "pps": {"ppsType": self.current_pps_type(), "reprovisionEnabled": self.pps["reprovision"],
                        "reprovisionFetched": self.pps["fetched"]},
                "counts": {"requests": self._seq, "healthReports": len(self._health),
                           "statusBlobs": len(self._status), "events": len(self._events)},
                "goalState": snap.describe(), "faults": self.faults.describe(),
            }
