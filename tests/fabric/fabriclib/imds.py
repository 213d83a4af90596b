"""Instance Metadata Service (real: http://169.254.169.254:80).

Behaviour from the public IMDS documentation ("IMDS doc") and the peers'
clients (protocol §6):

* ``Metadata: true`` is required -> 400 ``{"error": "Bad request. Required
  metadata header not specified"}``; requests carrying ``X-Forwarded-For``
  are rejected (400).
* only GET (405 otherwise); duplicate query parameters are rejected (400).
* ``api-version`` is required except on ``/metadata/versions``; missing or
  unsupported -> 400 with the three ``newest-versions``.
* route parameters walk the JSON (``/metadata/instance/network/interface/0``);
  leaves need ``format=text`` (400 otherwise); every primitive is a string.
* fields appear only from the api-version that introduced them (IMDS doc
  "Version introduced" column).
* 5 requests/s rate limit -> 429 (scenario ``imds.rateLimit``).
* ``/metadata/reprovisiondata`` (pre-provisioned VMs): 404 until the control
  API switches it on, then the new ovf-env.xml (protocol §6.5).
* ``/metadata/attested/document`` (IMDS doc "Attested data", api-version >=
  2018-10-01): ``{"encoding": "pkcs7", "signature": base64}``, a PKCS#7
  SignedData of the document (nonce: the query's, else the UTC time
  "YYYYMMDD-HHMMSS"; timeStamp "MM/DD/YY HH:MM:SS -0000", valid
  ``attested.validitySeconds``) signed by the fabric's own chain (crypto.py);
  ``attested.mode`` makes it one a verifier must refuse.  404 when the scenario
  has no ``attested`` key.
"""

import base64
import collections
import datetime
import json
import threading
import time

from . import crypto
from .httpbase import Response, Service
from .util import bool_str

API_VERSIONS = [
    "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01", "2018-04-02",
    "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01", "2019-06-04", "2019-08-01",
    "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15", "2020-09-01", "2020-10-01", "2020-12-01",
    "2021-01-01", "2021-02-01", "2021-03-01", "2021-05-01", "2021-08-01", "2021-10-01", "2021-11-01",
    "2021-11-15", "2021-12-13", "2022-02-01", "2022-03-01", "2022-05-01", "2022-07-01", "2022-08-01",
    "2022-09-01", "2022-11-01", "2023-01-01", "2023-02-01", "2023-03-01", "2023-04-01", "2023-05-01",
    "2023-06-01", "2023-07-01", "2023-08-01", "2023-09-01", "2023-10-01", "2023-11-15", "2024-03-15",
    "2024-07-17", "2025-04-07",
]

# compute field -> api-version that introduced it (IMDS doc, "Compute" table)
COMPUTE_SINCE = {
    "azEnvironment": "2018-10-01", "customData": "2019-02-01", "evictionPolicy": "2020-12-01",
    "isHostCompatibilityLayerVm": "2020-06-01", "licenseType": "2020-09-01", "location": "2017-04-02",
    "name": "2017-04-02", "offer": "2017-04-02", "osProfile": "2020-07-15", "osType": "2017-04-02",
    "placementGroupId": "2017-08-01", "plan": "2018-04-02", "platformUpdateDomain": "2017-04-02",
    "platformFaultDomain": "2017-04-02", "priority": "2020-12-01", "provider": "2018-10-01",
    "publicKeys": "2018-04-02", "publisher": "2017-04-02", "resourceGroupName": "2017-08-01",
    "resourceId": "2019-03-11", "sku": "2017-04-02", "securityProfile": "2020-06-01",
    "storageProfile": "2019-06-01", "subscriptionId": "2017-08-01", "tags": "2017-08-01",
    "tagsList": "2019-06-04", "userData": "2021-01-01", "version": "2017-04-02", "vmId": "2017-04-02",
    "vmScaleSetName": "2017-12-01", "vmSize": "2017-04-02", "zone": "2017-12-01",
}
EXTENDED_SINCE = "2021-01-01"
ATTESTED_SINCE = "2018-10-01"
# attested document field -> api-version that introduced it (IMDS doc, "Attested data")
ATTESTED_FIELD_SINCE = {"subscriptionId": "2019-04-30", "sku": "2019-11-01", "licenseType": "2020-09-01"}
# securityProfile field -> api-version (IMDS doc, "Compute")
SECURITY_SINCE = {"secureBootEnabled": "2020-06-01", "virtualTpmEnabled": "2020-06-01",
                  "encryptionAtHost": "2021-11-01", "securityType": "2021-12-13"}

ERR_HEADER = "Bad request. Required metadata header not specified"
ERR_XFF = "Bad request. Requests with an X-Forwarded-For header are not allowed"
ERR_NO_VERSION = "Bad request. api-version was not specified in the request. For more information refer to aka.ms/azureimds"
ERR_BAD_VERSION = ("Bad request. api-version is invalid or was not specified in the request. "
                   "For more information refer to aka.ms/azureimds")


class ImdsService(Service):
    endpoint = "imds"
    max_body = 64 * 1024

    def __init__(self, fabric):
        super().__init__(fabric)
        self._rate_lock = threading.Lock()
        self._recent = collections.deque()

    def error(self, status, message, **extra):
        body = dict({"error": message}, **extra)
        return Response(status, json.dumps(body), "application/json; charset=utf-8", note=message)

    @property
    def versions(self):
        return self.fabric.scenario.data["imds"].get("apiVersions") or API_VERSIONS

    def _newest(self):
        return sorted(self.versions, reverse=True)[:3]

    def _rate_limited(self):
        if not self.fabric.scenario.data["imds"].get("rateLimit"):
            return False
        now = time.monotonic()
        with self._rate_lock:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= 5:
                return True
            self._recent.append(now)
            return False

    def handle(self, req):
        if req.header("X-Forwarded-For") is not None:
            return self.error(400, ERR_XFF)
        if (req.header("Metadata") or "").strip().lower() != "true":
            return self.error(400, ERR_HEADER)
        if req.method != "GET":
            return self.error(405, "Method not allowed. Only GET is supported")
        names = [k for k, _ in req.query_pairs]
        if len(names) != len(set(names)):
            return self.error(400, "Bad request. Duplicate query parameters are not allowed")
        if self._rate_limited():
            return self.error(429, "Too many requests")
        path = req.path.rstrip("/") or "/"
        if path == "/metadata/versions":
            return self._json({"apiVersions": list(self.versions)})
        version = req.q("api-version")
        if version is None:
            return self.error(400, ERR_NO_VERSION, **{"newest-versions": self._newest()})
        if version not in self.versions:
            return self.error(400, ERR_BAD_VERSION, **{"newest-versions": self._newest()})
        fmt = (req.q("format") or "json").lower()
        if fmt not in ("json", "text"):
            return self.error(400, "Bad request. format must be json or text")
        if path == "/metadata/reprovisiondata":
            return self._reprovision_data()
        if path == "/metadata/attested/document":
            return self._attested(version, req.q("nonce"))
        if path == "/metadata/scheduledevents":
            return self._json({"DocumentIncarnation": 0, "Events": []})
        if path == "/metadata/instance" or path.startswith("/metadata/instance/"):
            extended = (req.q("extended") or "").lower() == "true"
            doc = self.instance_document(version, extended)
            parts = [p for p in path[len("/metadata/instance"):].split("/") if p]
            node = doc
            for part in parts:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                    node = node[int(part)]
                else:
                    return self.error(404, "Not found")
            return self._render(node, fmt)
        return self.error(404, "Not found")

    def _json(self, obj):
        return Response(200, json.dumps(obj), "application/json; charset=utf-8")

    def _render(self, node, fmt):
        leaf = not isinstance(node, (dict, list))
        if fmt == "text":
            if leaf:
                text = "" if node is None else str(node)
            elif isinstance(node, dict):
                text = "\n".join(k + ("/" if isinstance(v, (dict, list)) else "") for k, v in node.items())
            else:
                text = "\n".join("%d/" % i for i in range(len(node)))
            return Response(200, text, "text/plain; charset=utf-8")
        if leaf:
            return self.error(400, "Bad request. Leaf nodes are only available with format=text")
        return self._json(node)

    def _reprovision_data(self):
        pps = self.fabric.pps
        if not pps["reprovision"]:
            return self.error(404, "Not found")
        pps["fetched"] += 1
        return Response(200, self.fabric.reprovision_ovf_env(), "text/xml; charset=utf-8")

    # ------------------------------------------------------------------
    def instance_document(self, version, extended):
        scenario = self.fabric.scenario
        base = scenario.fixture_bytes("imdsFixture")
        if base is not None:
            doc = json.loads(base.decode("utf-8-sig"))
        else:
            doc = {"compute": self._compute(scenario, version), "network": self._network(scenario)}
        if extended and version >= EXTENDED_SINCE:
            doc["extended"] = {"compute": {"ppsType": self.fabric.current_pps_type()}}
        return doc

    @staticmethod
    def _compute(scenario, version):
        d = scenario.data
        vm = d["vm"]
        admin = d["admin"]
        image = vm["image"]
        tags = vm["tags"]
        resource_id = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines/%s" % (
            vm["subscriptionId"], vm["resourceGroup"], vm["name"])
        user_data = d.get("userDataBytes")
        compute = {
            "azEnvironment": vm["azEnvironment"],
            "customData": "",
            "evictionPolicy": "",
            "isHostCompatibilityLayerVm": "false",
            "licenseType": vm["licenseType"],
            "location": vm["location"],
            "name": vm["name"],
            "offer": image.get("offer", ""),
            "osProfile": {"adminUsername": admin["username"], "computerName": vm["computerName"],
                          "disablePasswordAuthentication": bool_str(admin["disablePasswordAuthentication"])},
            "osType": vm["osType"],
            "placementGroupId": "",
            "plan": {"name": "", "product": "", "publisher": ""},
            "platformFaultDomain": vm["platformFaultDomain"],
            "platformUpdateDomain": vm["platformUpdateDomain"],
            "priority": vm["priority"],
            "provider": "Microsoft.Compute",
            # keys given by a certificate's fingerprint only are in ovf-env.xml alone
            "publicKeys": [{"keyData": k["keyData"], "path": k["path"]} for k in admin["sshKeys"] if "keyData" in k],
            "publisher": image.get("publisher", ""),
            "resourceGroupName": vm["resourceGroup"],
            "resourceId": resource_id,
            "securityProfile": ImdsService._security_profile(vm, version),
            "sku": image.get("sku", ""),
            "storageProfile": {
                "dataDisks": [],
                "imageReference": {"id": "", "offer": image.get("offer", ""), "publisher": image.get("publisher", ""),
                                   "sku": image.get("sku", ""), "version": image.get("version", "")},
                "osDisk": {"caching": "ReadWrite", "createOption": "FromImage", "diffDiskSettings": {"option": ""},
                           "diskSizeGB": "30", "encryptionSettings": {"enabled": "false"}, "image": {"uri": ""},
                           "managedDisk": {"id": "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/"
                                                 "disks/%s_OsDisk_1" % (vm["subscriptionId"], vm["resourceGroup"],
                                                                         vm["name"]),
                                           "storageAccountType": "Premium_LRS"},
                           "name": "%s_OsDisk_1" % vm["name"], "osType": vm["osType"], "vhd": {"uri": ""},
                           "writeAcceleratorEnabled": "false"},
            },
            "subscriptionId": vm["subscriptionId"],
            "tags": ";".join("%s:%s" % (k, v) for k, v in tags.items()),
            "tagsList": [{"name": k, "value": str(v)} for k, v in tags.items()],
            "userData": base64.b64encode(user_data).decode("ascii") if user_data else "",
            "version": image.get("version", ""),
            "vmId": vm["vmId"],
            "vmScaleSetName": vm["vmScaleSetName"],
            "vmSize": vm["size"],
            "zone": vm["zone"],
        }
        if version < "2020-10-01":
            compute["osProfile"].pop("disablePasswordAuthentication")
        return {k: v for k, v in compute.items() if version >= COMPUTE_SINCE.get(k, "0")}

    @staticmethod
    def _security_profile(vm, version):
        launch = vm["securityType"] in ("TrustedLaunch", "ConfidentialVM")
        profile = {"secureBootEnabled": bool_str(launch), "virtualTpmEnabled": bool_str(launch),
                   "encryptionAtHost": bool_str(vm.get("encryptionAtHost", False)),
                   "securityType": "" if vm["securityType"] == "Standard" else vm["securityType"]}
        return {k: v for k, v in profile.items() if version >= SECURITY_SINCE[k]}

    # ------------------------------------------------------------------
    def _attested(self, version, nonce):
        """The attested document, signed; attested.mode turns it into one a verifier must refuse."""
        att = self.fabric.scenario.data.get("attested")
        if att is None:
            return self.error(404, "Not found")
        pki = self.fabric.ensure_attestation_pki()
        if version < ATTESTED_SINCE:
            return self.error(400, ERR_BAD_VERSION, **{"newest-versions": self._newest()})
        if nonce is not None and (not nonce.isdigit() or len(nonce) > 10):
            return self.error(400, "Bad request. nonce must be a string of at most 10 digits")
        vm = self.fabric.scenario.vm
        mode = att["mode"]
        now = datetime.datetime.now(datetime.timezone.utc)
        created = now - datetime.timedelta(seconds=5)
        if mode == "expired":
            created = now - datetime.timedelta(seconds=att["validitySeconds"] + 3600)
        expires = created + datetime.timedelta(seconds=att["validitySeconds"])
        image = vm["image"]
        doc = {"licenseType": vm["licenseType"],
               "nonce": nonce if nonce is not None else now.strftime("%Y%m%d-%H%M%S"),
               "plan": {"name": "", "product": "", "publisher": ""},
               "sku": image.get("sku", ""),
               "subscriptionId": vm["subscriptionId"],
               "timeStamp": {"createdOn": created.strftime("%m/%d/%y %H:%M:%S -0000"),
                             "expiresOn": expires.strftime("%m/%d/%y %H:%M:%S -0000")},
               "vmId": vm["vmId"]}
        doc = {k: v for k, v in doc.items() if version >= ATTESTED_FIELD_SINCE.get(k, "0")}
        if mode == "wrong-nonce":   # IMDS may answer with a cached document (IMDS doc, "Attested data" note)
            doc["nonce"] = "0000000001" if doc["nonce"] != "0000000001" else "0000000002"
        if mode == "wrong-vm-id":
            doc["vmId"] = "0f0f0f0f-1111-4222-8333-444455556666"
        content = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        leaf, chain = {"untrusted-root": ("rogue-leaf", ("rogue-inter",)),
                       "wrong-san": ("wrongsan-leaf", ("inter",)),
                       "no-digital-signature": ("nodsig-leaf", ("inter",)),
                       "no-intermediate": ("leaf", ())}.get(mode, ("leaf", ("inter",)))
        der = crypto.sign_attested(content, pki, leaf, chain)
        if mode == "tampered":      # the signed bytes changed after signing: the vmId's first digit
            at = der.find(content)
            assert at >= 0, "the signed content is not contiguous in the DER"
            pos = at + content.find(b'"vmId":"') + len(b'"vmId":"')
            der = der[:pos] + (b"a" if der[pos:pos + 1] != b"a" else b"b") + der[pos + 1:]
        return self._json({"encoding": "pkcs7", "signature": base64.b64encode(der).decode("ascii")})

    @staticmethod
    def _network(scenario):
        interfaces = []
        for nic in scenario.data["network"]["interfaces"]:
            v6 = {"ipAddress": [dict(a) for a in nic["ipv6"]]}
            if nic.get("ipv6Subnet"):
                v6["subnet"] = [dict(nic["ipv6Subnet"])]
            interfaces.append({
                "ipv4": {"ipAddress": [dict(a) for a in nic["ipv4"]],
                         "subnet": [dict(nic["subnet"])] if nic.get("subnet") else []},
                "ipv6": v6,
                "macAddress": nic["macAddress"],
            })
        return {"interface": interfaces}
