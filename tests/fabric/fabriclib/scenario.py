"""Scenario files: loading, validation, defaults and derived identities.

A scenario is a JSON object describing one VM and the fabric's behaviour.  The
full key list is documented in tests/fabric/README.md ("Scenario format");
``TOP_LEVEL_KEYS`` below is the authoritative list — unknown keys are rejected
so that typos do not silently fall back to defaults.
"""

import base64
import copy
import ipaddress
import json
import os
import re

from .util import merge_patch, stable_uuid

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO_DIR = os.path.join(HERE, "scenarios")
# Relative document paths resolve against the scenario's folder, then against the fixture root: the repository's
# own test data (tests/data, tests/data/README.md) unless AZFABRIC_FIXTURES or a scenario's "fixtureRoot" names
# another directory (the interop suite points it at the peer fixtures, tests/interop/README.md), then against
# tests/fabric itself (resolve_path()).
_REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_FIXTURE_ROOT = os.environ.get("AZFABRIC_FIXTURES") or os.path.join(_REPO, "tests", "data")

# Scenario keys that name a fixture file served verbatim (path relative to the
# scenario's directory or to the fixture root).
FIXTURE_KEYS = {
    "versionsFixture": "WireServer /?comp=versions",
    "goalStateFixture": "WireServer /machine/?comp=goalstate",
    "hostingEnvironmentConfigFixture": "WireServer comp=config&type=hostingEnvironmentConfig",
    "sharedConfigFixture": "WireServer comp=config&type=sharedConfig",
    "extensionsConfigFixture": "WireServer comp=config&type=extensionsConfig",
    "certificatesFixture": "WireServer comp=certificates",
    "remoteAccessFixture": "WireServer comp=remoteAccess",
    "vmSettingsFixture": "HostGAPlugin /vmSettings",
    "imdsFixture": "IMDS /metadata/instance document",
    "ovfEnvFixture": "provisioning media ovf-env.xml",
}

TOP_LEVEL_KEYS = {
    "name", "description", "fixtureRoot", "vm", "admin", "customData", "userData",
    "network", "extensions", "tenantCertificates", "fastTrack", "ppsType", "onHold",
    "provisionGuestAgent", "statusBlobType", "wire", "hgap", "imds", "faults",
    "blobFixtures", "gaFamilies", "reprovision", "attested",
} | set(FIXTURE_KEYS)

EXTENSION_KEYS = {
    "name", "version", "source", "state", "seqNo", "publicSettings", "protectedSettings",
    "protectedSettingsCert", "dependsOn", "dependencyLevel", "multiConfig", "manifestVersions",
    "autoUpgrade", "encodedSignature", "additionalLocations", "failover", "unsafeName",
}
MULTI_CONFIG_KEYS = {"name", "seqNo", "state", "publicSettings", "protectedSettings",
                     "protectedSettingsCert", "dependsOn", "dependencyLevel"}
PPS_TYPES = ("None", "Running", "Savable", "PreprovisionedOSDisk")
SECURITY_TYPES = ("Standard", "TrustedLaunch", "ConfidentialVM")
# /metadata/attested/document behaviours (imds.py): a good document, or one a verifier must refuse
ATTESTED_MODES = ("good", "no-intermediate", "tampered", "wrong-nonce", "expired", "untrusted-root", "wrong-vm-id",
                  "wrong-san", "no-digital-signature")
EXT_STATES = ("enabled", "disabled", "uninstall")


class ScenarioError(ValueError):
    """The scenario is invalid; the message says which key and why."""


DEFAULTS = {
    "name": "unnamed",
    "description": "",
    "vm": {
        "vmId": None,                      # derived from name if absent
        "name": "azfabric-vm",
        "computerName": None,              # defaults to vm.name
        "size": "Standard_D2s_v5",
        "location": "eastus",
        "zone": "",
        "subscriptionId": "00000000-0000-0000-0000-000000000000",
        "resourceGroup": "azfabric-rg",
        "osType": "Linux",
        "image": {"publisher": "MicrosoftCBLMariner", "offer": "azure-linux-3",
                  "sku": "azure-linux-3-gen2", "version": "3.20250102.01"},
        "tags": {},
        "vmScaleSetName": "",
        "platformFaultDomain": "0",
        "platformUpdateDomain": "0",
        "priority": "",
        "licenseType": "",
        "securityType": "TrustedLaunch",
        "encryptionAtHost": False,
        "azEnvironment": "AzurePublicCloud",
    },
    "admin": {"username": "azureuser", "password": None, "disablePasswordAuthentication": True,
              "sshKeys": []},
    "customData": None,
    "userData": None,
    "network": {"interfaces": [{"macAddress": "000D3A1B2C3D",
                                "ipv4": [{"privateIpAddress": "10.0.0.4", "publicIpAddress": ""}],
                                "subnet": {"address": "10.0.0.0", "prefix": 24},
                                "ipv6": [], "ipv6Subnet": None}]},
    "extensions": [],
    "tenantCertificates": 1,
    "fastTrack": True,
    "ppsType": "None",
    "onHold": False,
    "provisionGuestAgent": True,
    "statusBlobType": "BlockBlob",
    "wire": {"incarnation": 1, "containerId": None, "roleInstanceId": None, "preferredVersion": "2015-04-05",
             "supportedVersions": ["2012-11-30", "2010-12-15", "2010-28-10"],
             "strictIncarnation": False, "requireVersionHeader": True},
    "hgap": {"version": "1.0.8.179", "versions": ["2015-09-01"]},
    "imds": {"rateLimit": False, "apiVersions": None},
    "faults": [],
    "blobFixtures": {},
    "gaFamilies": ["Prod", "Test"],
    "reprovision": None,
    "attested": None,
}


def _err(path, message):
    raise ScenarioError("scenario key %s: %s" % (path, message))


def load(spec):
    """Load a scenario by path or by name (``default`` -> scenarios/default.json)."""
    path = spec
    if not os.path.isfile(path):    # a directory of that name in the cwd is no scenario (e.g. "confidential")
        candidate = os.path.join(SCENARIO_DIR, spec if spec.endswith(".json") else spec + ".json")
        if os.path.exists(candidate):
            path = candidate
        else:
            raise ScenarioError("scenario %r not found (tried %s and %s)" % (spec, spec, candidate))
    with open(path, encoding="utf-8") as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as exc:
            raise ScenarioError("%s is not valid JSON: %s" % (path, exc))
    return Scenario(data, base_dir=os.path.dirname(os.path.abspath(path)), source=path)


class Scenario:
    """A validated scenario plus everything derived from it."""

    def __init__(self, raw, base_dir=None, source=None):
        if not isinstance(raw, dict):
            raise ScenarioError("scenario must be a JSON object")
        unknown = set(raw) - TOP_LEVEL_KEYS
        if unknown:
            _err(", ".join(sorted(unknown)), "unknown key(s); known keys: %s" % ", ".join(sorted(TOP_LEVEL_KEYS)))
        self.raw = copy.deepcopy(raw)
        self.base_dir = base_dir or SCENARIO_DIR
        self.source = source
        data = merge_patch(copy.deepcopy(DEFAULTS), _drop_nulls_for_defaults(raw))
        # merge_patch drops keys set to null; keep explicit nulls for optional values
        for key in ("customData", "userData", "reprovision"):
            if key in raw:
                data[key] = raw[key]
        self.data = data
        self.fixture_root = data.get("fixtureRoot") or DEFAULT_FIXTURE_ROOT
        self._validate()

    # -- helpers -----------------------------------------------------------
    def resolve_path(self, rel, what):
        """Resolve *rel* against the scenario dir, the fixture root, then the fabric's own folder (its sample
        extension, ext/sample-handler, resolves from a copy of a scenario anywhere)."""
        if os.path.isabs(rel):
            candidates = [rel]
        else:
            candidates = [os.path.join(self.base_dir, rel), os.path.join(self.fixture_root, rel),
                          os.path.join(HERE, rel)]
        for cand in candidates:
            if os.path.exists(cand):
                return cand
        _err(what, "file %r not found (looked in %s)" % (rel, ", ".join(candidates)))

    def fixture_bytes(self, key):
        rel = self.data.get(key)
        if not rel:
            return None
        with open(self.resolve_path(rel, key), "rb") as handle:
            return handle.read()

    # -- validation --------------------------------------------------------
    def _validate(self):
        d = self.data
        vm = d["vm"]
        for key in ("name", "size", "location", "subscriptionId", "resourceGroup"):
            if not isinstance(vm.get(key), str) or (key != "zone" and not vm.get(key)):
                _err("vm." + key, "must be a non-empty string")
        if not vm.get("vmId"):
            vm["vmId"] = stable_uuid("vmid", vm["name"])
        if not re.fullmatch(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", vm["vmId"]):
            _err("vm.vmId", "must be a GUID")
        vm["vmId"] = vm["vmId"].lower()
        if not vm.get("computerName"):
            vm["computerName"] = vm["name"]
        if not isinstance(vm.get("tags"), dict):
            _err("vm.tags", "must be an object of name -> value")
        for key in ("platformFaultDomain", "platformUpdateDomain", "zone"):
            vm[key] = str(vm.get(key, ""))

        admin = d["admin"]
        if not isinstance(admin.get("username"), str) or not admin["username"]:
            _err("admin.username", "must be a non-empty string")
        if admin.get("password") is not None and not isinstance(admin["password"], str):
            _err("admin.password", "must be a string or null")
        keys = []
        for idx, key in enumerate(admin.get("sshKeys") or []):
            if isinstance(key, str):
                key = {"keyData": key}
            if not isinstance(key, dict):
                _err("admin.sshKeys[%d]" % idx, "must be a string or an object")
            key.setdefault("path", "/home/%s/.ssh/authorized_keys" % admin["username"])
            if "certificate" in key:
                # A key given by fingerprint only (ovf-env.xml PublicKey without Value): the public key of the
                # tenant certificate of that name; resolved below, once the certificates are known.
                if not isinstance(key["certificate"], str) or "keyData" in key or "keyFile" in key:
                    _err("admin.sshKeys[%d].certificate" % idx, "must be a tenant certificate name, alone")
                keys.append({"certificate": key["certificate"], "path": key["path"]})
                continue
            if "fingerprint" in key:
                # The same with a fingerprint given as is (e.g. one no certificate of the goal state has).
                if not isinstance(key["fingerprint"], str) or "keyData" in key or "keyFile" in key:
                    _err("admin.sshKeys[%d].fingerprint" % idx, "must be a string, alone")
                keys.append({"fingerprint": key["fingerprint"], "path": key["path"]})
                continue
            if "keyFile" in key:
                with open(self.resolve_path(key["keyFile"], "admin.sshKeys[%d].keyFile" % idx)) as handle:
                    key = dict(key, keyData=handle.read().strip())
            if not isinstance(key.get("keyData"), str) or not key["keyData"].strip():
                _err("admin.sshKeys[%d].keyData" % idx, "missing")
            keys.append({"keyData": key["keyData"].strip(), "path": key["path"]})
        admin["sshKeys"] = keys

        for key in ("customData", "userData"):
            d[key + "Bytes"] = _payload_bytes(d.get(key), key)

        nics = d["network"].get("interfaces")
        if not isinstance(nics, list) or not nics:
            _err("network.interfaces", "must be a non-empty list")
        for idx, nic in enumerate(nics):
            where = "network.interfaces[%d]" % idx
            mac = str(nic.get("macAddress", "")).replace(":", "").replace("-", "").upper()
            if not re.fullmatch(r"[0-9A-F]{12}", mac):
                _err(where + ".macAddress", "must be 12 hex digits (e.g. 000D3A1B2C3D)")
            nic["macAddress"] = mac
            addrs = []
            for jdx, addr in enumerate(nic.get("ipv4") or []):
                if isinstance(addr, str):
                    addr = {"privateIpAddress": addr}
                try:
                    ipaddress.IPv4Address(addr["privateIpAddress"])
                except (KeyError, ValueError):
                    _err("%s.ipv4[%d]" % (where, jdx), "privateIpAddress must be an IPv4 address")
                addrs.append({"privateIpAddress": addr["privateIpAddress"],
                              "publicIpAddress": addr.get("publicIpAddress", "") or ""})
            nic["ipv4"] = addrs
            subnet = nic.get("subnet")
            if addrs and not subnet:
                net = ipaddress.IPv4Network(addrs[0]["privateIpAddress"] + "/24", strict=False)
                subnet = {"address": str(net.network_address), "prefix": 24}
            if subnet:
                try:
                    ipaddress.IPv4Network("%s/%s" % (subnet["address"], subnet["prefix"]))
                except (KeyError, ValueError) as exc:
                    _err(where + ".subnet", "invalid subnet: %s" % exc)
                subnet = {"address": subnet["address"], "prefix": str(subnet["prefix"])}
            nic["subnet"] = subnet
            v6 = []
            for jdx, addr in enumerate(nic.get("ipv6") or []):
                if isinstance(addr, str):
                    addr = {"privateIpAddress": addr}
                try:
                    ipaddress.IPv6Address(addr["privateIpAddress"])
                except (KeyError, ValueError):
                    _err("%s.ipv6[%d]" % (where, jdx), "privateIpAddress must be an IPv6 address")
                v6.append({"privateIpAddress": addr["privateIpAddress"]})
            nic["ipv6"] = v6
            if nic.get("ipv6Subnet"):
                nic["ipv6Subnet"] = {"address": nic["ipv6Subnet"]["address"],
                                     "prefix": str(nic["ipv6Subnet"]["prefix"])}
        if vm.get("securityType") not in SECURITY_TYPES:
            _err("vm.securityType", "must be one of %s" % ", ".join(SECURITY_TYPES))
        att = d.get("attested")
        if att is not None:
            if not isinstance(att, dict) or set(att) - {"mode", "validitySeconds"}:
                _err("attested", "must be an object with mode and validitySeconds")
            att.setdefault("mode", "good")
            att.setdefault("validitySeconds", 21600)
            if att["mode"] not in ATTESTED_MODES:
                _err("attested.mode", "must be one of %s" % ", ".join(ATTESTED_MODES))
            if not isinstance(att["validitySeconds"], int) or att["validitySeconds"] < 1:
                _err("attested.validitySeconds", "must be a positive integer")
        if d["ppsType"] not in PPS_TYPES:
            _err("ppsType", "must be one of %s" % ", ".join(PPS_TYPES))
        if d["statusBlobType"] not in ("BlockBlob", "PageBlob"):
            _err("statusBlobType", "must be BlockBlob or PageBlob")
        certs = d["tenantCertificates"]
        if isinstance(certs, int):
            certs = [{"name": "TenantCert%d" % i} for i in range(certs)]
        if not isinstance(certs, list):
            _err("tenantCertificates", "must be a count or a list of objects")
        norm = []
        for idx, cert in enumerate(certs):
            if not isinstance(cert, dict):
                _err("tenantCertificates[%d]" % idx, "must be an object")
            entry = {"name": cert.get("name", "TenantCert%d" % idx),
                     "privateKey": cert.get("privateKey", True),
                     "keyType": cert.get("keyType", "rsa"),
                     "certFile": cert.get("certFile"), "keyFile": cert.get("keyFile")}
            for key in ("certFile", "keyFile"):
                if entry[key]:
                    entry[key] = self.resolve_path(entry[key], "tenantCertificates[%d].%s" % (idx, key))
            norm.append(entry)
        d["tenantCertificates"] = norm
        for idx, key in enumerate(admin["sshKeys"]):
            if "certificate" in key:
                key["fingerprint"] = self._certificate_thumbprint(norm, key["certificate"],
                                                                  "admin.sshKeys[%d].certificate" % idx)
        exts = d["extensions"]
        if not isinstance(exts, list):
            _err("extensions", "must be a list")
        names = set()
        for idx, ext in enumerate(exts):
            self._validate_extension(ext, "extensions[%d]" % idx, len(norm))
            if ext["name"].lower() in names:
                _err("extensions[%d].name" % idx, "duplicate handler %s" % ext["name"])
            names.add(ext["name"].lower())
        for key in FIXTURE_KEYS:
            if d.get(key):
                self.resolve_path(d[key], key)
        for blob_path, rel in (d.get("blobFixtures") or {}).items():
            if not blob_path.startswith("/"):
                _err("blobFixtures", "blob paths must start with '/': %r" % blob_path)
            self.resolve_path(rel, "blobFixtures[%s]" % blob_path)
        if not isinstance(d["faults"], list):
            _err("faults", "must be a list")
        wire = d["wire"]
        if not isinstance(wire.get("incarnation"), int) or wire["incarnation"] < 1:
            _err("wire.incarnation", "must be a positive integer")
        if not wire.get("containerId"):
            wire["containerId"] = stable_uuid("container", vm["vmId"])

    @staticmethod
    def _certificate_thumbprint(certs, name, where):
        """Thumbprint of the tenant certificate *name*, which must come from a file: ovf-env.xml (written by the
        ``media`` command, without the fabric's generated certificates) carries it."""
        from . import crypto
        for cert in certs:
            if cert["name"] == name:
                if not cert["certFile"]:
                    _err(where, "tenant certificate %r needs certFile (its thumbprint goes into ovf-env.xml)" % name)
                with open(cert["certFile"]) as handle:
                    return crypto.thumbprint(crypto.pem_to_der(handle.read()))
        _err(where, "no tenant certificate named %r" % name)

    def _validate_extension(self, ext, where, n_certs):
        unknown = set(ext) - EXTENSION_KEYS
        if unknown:
            _err(where, "unknown key(s) %s; known: %s" % (", ".join(sorted(unknown)), ", ".join(sorted(EXTENSION_KEYS))))
        # unsafeName: a name/version the platform would never send, served as given (the agent's own checks).
        unsafe = bool(ext.get("unsafeName"))
        if not unsafe and not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+", ext.get("name", "")):
            _err(where + ".name", "must look like Publisher.Type (got %r)" % ext.get("name"))
        if not unsafe and not re.fullmatch(r"\d+(\.\d+){1,3}", str(ext.get("version", ""))):
            _err(where + ".version", "must be a dotted version")
        ext["version"] = str(ext["version"])
        ext.setdefault("state", "enabled")
        if ext["state"] not in EXT_STATES:
            _err(where + ".state", "must be one of %s" % ", ".join(EXT_STATES))
        ext.setdefault("seqNo", 0)
        ext.setdefault("dependencyLevel", 1 if ext.get("dependsOn") else 0)
        ext.setdefault("autoUpgrade", False)
        if ext.get("source"):
            ext["source"] = self.resolve_path(ext["source"], where + ".source")
        versions = ext.get("manifestVersions") or [{"version": ext["version"], "source": ext.get("source")}]
        norm = []
        for jdx, ver in enumerate(versions):
            if isinstance(ver, str):
                ver = {"version": ver, "source": ext.get("source")}
            elif ver.get("source") and ver["source"] != ext.get("source"):
                ver = dict(ver, source=self.resolve_path(ver["source"], "%s.manifestVersions[%d]" % (where, jdx)))
            norm.append(ver)
        ext["manifestVersions"] = norm
        cert_idx = ext.get("protectedSettingsCert", 0)
        if ext.get("protectedSettings") is not None and not (0 <= cert_idx < max(n_certs, 0)):
            _err(where + ".protectedSettingsCert", "protected settings need a tenant certificate (index %s of %d)"
                 % (cert_idx, n_certs))
        for dep_idx, dep in enumerate(ext.get("dependsOn") or []):
            if not isinstance(dep, dict) or "handler" not in dep:
                _err("%s.dependsOn[%d]" % (where, dep_idx), "must be {\"handler\": ..., [\"extension\": ...]}")
        for mc_idx, mc in enumerate(ext.get("multiConfig") or []):
            mwhere = "%s.multiConfig[%d]" % (where, mc_idx)
            unknown = set(mc) - MULTI_CONFIG_KEYS
            if unknown:
                _err(mwhere, "unknown key(s) %s" % ", ".join(sorted(unknown)))
            if not re.fullmatch(r"[A-Za-z0-9_]+", mc.get("name", "")):
                _err(mwhere + ".name", "must be an alphanumeric extension instance name")
            mc.setdefault("seqNo", 0)
            mc.setdefault("state", "enabled")
            mc.setdefault("dependencyLevel", 1 if mc.get("dependsOn") else 0)
            if mc["state"] not in ("enabled", "disabled"):
                _err(mwhere + ".state", "must be enabled or disabled")
            if mc.get("protectedSettings") is not None and not (0 <= mc.get("protectedSettingsCert", 0) < n_certs):
                _err(mwhere + ".protectedSettingsCert", "protected settings need a tenant certificate")

    def data_for_output(self):
        """The normalized scenario as JSON-serialisable data."""
        return copy.deepcopy({k: v for k, v in self.data.items() if not k.endswith("Bytes")})

    # -- derived identities (protocol §1.4) ---------------------------------------
    @property
    def vm(self):
        return self.data["vm"]

    @property
    def deployment_id(self):
        return stable_uuid("deployment", self.vm["vmId"])

    @property
    def role_name(self):
        return "_" + self.vm["name"]

    @property
    def role_instance_id(self):
        return self.data["wire"].get("roleInstanceId") or "%s.%s" % (self.deployment_id, self.role_name)

    def config_name(self, incarnation):
        return "%s.%d.%s.%d.%s.1.xml" % (self.deployment_id, incarnation, self.deployment_id,
                                         incarnation, self.role_name)


def _payload_bytes(value, key):
    """customData/userData: a string (used verbatim), or {"base64": ...}, or {"file": ...}."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, dict) and "base64" in value:
        try:
            return base64.b64decode(value["base64"], validate=True)
        except ValueError as exc:
            _err(key + ".base64", "invalid base64: %s" % exc)
    _err(key, "must be a string or {\"base64\": \"...\"}")


def _drop_nulls_for_defaults(raw):
    """merge_patch treats null as delete; scenario authors mean "use default"."""
    if isinstance(raw, dict):
        return {k: _drop_nulls_for_defaults(v) for k, v in raw.items() if v is not None}
    return raw
