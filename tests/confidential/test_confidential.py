#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Confidential VMs (issue #22, docs/security.md "Confidential VMs") against the simulated fabric, in a private
network namespace. One group per meson test (argv[1]); a group whose tools or privileges are missing exits 77 with
a line saying which:

  attest     `azl-agent attest` against the fabric's attested document, signed by the fabric's own CA chain (the
             scratch root trusts its root through [Attestation] TrustAnchors=): a good document is printed exactly
             as signed, with the nonce the fabric saw; tampered, wrong-nonce (asked three times), expired,
             untrusted-root, wrong-vmId, wrong-SAN and no-digitalSignature documents are refused with their reason
             and exit 1; a leaf-only message verifies with [Attestation] Intermediates= or FetchIntermediates=yes
             (the fabric's log shows the AIA fetch); --response verifies a saved response offline; without Azure
             or endpoints, exit 4.
  evidence   swtpm on a unix socket in the scratch root, NV index 0x01400001 defined and written with tpm2-tools
             (a synthetic SEV-SNP HCL report whose REPORT_DATA binds its runtime claims): `attest --evidence` hands
             out its exact bytes (base64) with the type, the binding and vmUniqueId; `provision` records it and
             `detect`/`status` show guest and IMDS agreeing. Needs root, swtpm and tpm2-tools.
  provision  a ConfidentialVM scenario: confidential.json, `status --json` (schema-checked) and `detect` say
             active/disagree (no TEE in a scratch root) or agree (a fake /dev/sev-guest there), `config` shows
             SignatureValidation=enforce; a TrustedLaunch VM keeps report; explicit settings and Mode=no win.
  firewall   on the fabric's real addresses: a confidential VM whose nftables table cannot be installed
             (CAP_NET_ADMIN dropped) fails provisioning with the reason, reported to the fabric; installed, it is
             Ready with the guard required; Mode=no makes the failure best effort again. Needs root, nft, setpriv.
  secrets    the daemon on a confidential VM: the tenant certificates' private keys and the transport key live in a
             tmpfs mounted at <root>/run, /var/lib/waagent/<THUMB>.prv and TransportPrivate.pem are symlinks to
             them; without tmpfs no private key is written anywhere in the root; D-Bus Confidential and
             ConfidentialDetail on a private bus. Needs root and a mount namespace.
"""
import base64
import ctypes
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for sub in ("integration", "firewall", "dbus"):
    sys.path.insert(0, os.path.join(TESTS, sub))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402
from test_provision import validate  # noqa: E402

VM_ID = "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"
CVM = {"vm": {"securityType": "ConfidentialVM", "encryptionAtHost": True, "size": "Standard_DC2as_v5"},
       "attested": {"mode": "good"}}
HCL_INDEX = "0x01400001"


def schema():
    with open(os.path.join(azltest.SRC, "docs", "status.schema.json")) as f:
        return json.load(f)


def make_azure(root, vm_id=VM_ID):
    """Azure's SMBIOS in the scratch root (chassis asset tag, product UUID, Gen2: no byte swap)."""
    for rel, text in (("/sys/class/dmi/id/chassis_asset_tag", "7783-7084-3265-9085-8269-3286-77\n"),
                      ("/sys/class/dmi/id/product_uuid", vm_id.upper() + "\n")):
        os.makedirs(os.path.dirname(root.file(rel)), exist_ok=True)
        with open(root.file(rel), "w") as f:
            f.write(text)
    os.makedirs(root.file("/sys/firmware/efi"), exist_ok=True)


def hcl_report(vm_id=VM_ID, bind=True):
    """A synthetic SEV-SNP HCL report (confidential/hcl-report.h): header, 1184-byte hardware report whose REPORT_DATA
    (offset 0x50) starts with SHA-256 of the runtime claims, IGVM request data, the claims."""
    claims = json.dumps({"keys": [{"kid": "HCLAkPub", "kty": "RSA", "e": "AQAB", "n": "tEsT"}],
                         "vm-configuration": {"console-enabled": True, "secure-boot": True, "tpm-enabled": True,
                                              "vmUniqueId": vm_id.upper()},
                         "user-data": "00" * 16}).encode()
    hw = bytearray(bytes((0x41 + i % 23) for i in range(1184)))
    digest = hashlib.sha256(claims).digest()
    hw[0x50:0x50 + 64] = (digest if bind else bytes(32)) + bytes(32)
    header = b"HCLA" + struct.pack("<7I", 2, 1236 + len(claims), 1, 0, 0, 0, 0)
    request = struct.pack("<5I", 20 + len(claims), 1, 2, 1, len(claims))
    return header + bytes(hw) + request + claims


def agent(root, *args, timeout=120, env=None):
    return subprocess.run([azltest.AGENT, "--root", root.path, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)



def is_tool_dir(root, dirpath):
    """The scratch root's own copies of the tools the agent runs chrooted (ssh-keygen's text names PEM headers)."""
    return any(dirpath == root.file(d) or dirpath.startswith(root.file(d) + "/")
               for d in ("/usr", "/bin", "/sbin", "/lib", "/lib64"))

class CvmCase(azltest.FabricTestCase):
    """A fabric with the confidential patch and a scratch root that trusts the fabric's attestation root."""

    PATCH = CVM

    def start_cvm(self, patch=None, conf_extra="", azure=True):
        fabric, root = self.start(azltest.merge_patch(self.PATCH, patch or {}))
        pki = fabric.endpoints.get("attestation_pki")
        if pki:
            shutil.copy(os.path.join(pki, "root.pem"), root.file("/etc/azl-agent/attestation-root.pem"))
            shutil.copy(os.path.join(pki, "inter.pem"), root.file("/etc/azl-agent/attestation-inter.pem"))
        root.write_conf(fabric, "[Attestation]\nTrustAnchors=/etc/azl-agent/attestation-root.pem\n" + conf_extra)
        if azure:
            make_azure(root)
        return fabric, root

    def set_mode(self, mode):
        self.fabric.patch_scenario({"attested": {"mode": mode}}, bump="none")

    def attested_requests(self):
        return [r for r in self.fabric.requests("imds") if r["path"] == "/metadata/attested/document"]


# ---------------------------------------------------------------------------------------------------------------
class Attest(CvmCase):
    def test_good_document(self):
        fabric, root = self.start_cvm()
        r = agent(root, "attest", "--nonce", "1234567890")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["nonce"], "1234567890")
        self.assertEqual(doc["vmId"], VM_ID)
        self.assertEqual(doc["subscriptionId"], "8d2f1c6a-3b4e-4f5a-9c7d-1e2f3a4b5c6d")
        self.assertRegex(doc["timeStamp"]["expiresOn"], r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d -0000$")
        self.assertIn("Attested document verified: signed by CN = metadata.azure.com (metadata.azure.com)", r.stderr)
        self.assertIn("(SMBIOS product UUID)", r.stderr)
        reqs = self.attested_requests()
        self.assertEqual(len(reqs), 1)
        self.assertIn("nonce=1234567890", reqs[0]["query"])

        # Without --nonce: ten random digits, the same in the request and in the verified document.
        r = agent(root, "attest")
        self.assertEqual(r.returncode, 0, r.stderr)
        nonce = json.loads(r.stdout)["nonce"]
        self.assertRegex(nonce, r"^\d{10}$")
        self.assertIn("nonce=" + nonce, self.attested_requests()[-1]["query"])

    def test_refused_documents(self):
        fabric, root = self.start_cvm()
        cases = {
            "tampered": "the signature does not match the signed document",
            "wrong-nonce": "it carries another nonce than '1234567890' (3 attempt(s)",
            "expired": "the signed document expired on",
            "untrusted-root": "does not chain to a trusted root: unable to get local issuer certificate at "
                              "CN = azfabric Test Issuing CA 01",
            "wrong-vm-id": "the signed document is for VM 0f0f0f0f-1111-4222-8333-444455556666, this instance is "
                           + VM_ID,
            "wrong-san": "not issued to a signer domain (its subjectAltName names metadata.example.net)",
            "no-digital-signature": "key usage does not allow digitalSignature",
        }
        for mode, reason in cases.items():
            with self.subTest(mode=mode):
                self.set_mode(mode)
                before = len(self.attested_requests())
                r = agent(root, "attest", "--nonce", "1234567890")
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertIn("Attested document NOT verified: ", r.stderr)
                self.assertIn(reason, r.stderr)
                # a cached (other-nonce) document is asked for again; anything else is final
                self.assertEqual(len(self.attested_requests()) - before, 3 if mode == "wrong-nonce" else 1)

    def test_leaf_only(self):
        """Azure's messages carry the leaf alone: the intermediate comes from a bundle or the AIA URL."""
        fabric, root = self.start_cvm({"attested": {"mode": "no-intermediate"}})
        r = agent(root, "attest", "--nonce", "42")
        self.assertEqual(r.returncode, 1)
        self.assertIn("the message carries no certificate that issued it; give Azure's intermediate CAs in "
                      "[Attestation] Intermediates= or set FetchIntermediates=yes", r.stderr)

        root.write_conf(fabric, "[Attestation]\nTrustAnchors=/etc/azl-agent/attestation-root.pem\n"
                                "Intermediates=/etc/azl-agent/attestation-inter.pem\n")
        r = agent(root, "attest", "--nonce", "42")
        self.assertEqual(r.returncode, 0, r.stderr)

        root.write_conf(fabric, "[Attestation]\nTrustAnchors=/etc/azl-agent/attestation-root.pem\n"
                                "FetchIntermediates=yes\n")
        r = agent(root, "attest", "--nonce", "42", "--evidence")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["verified"]["intermediates_fetched"], 1)
        self.assertEqual(len(out["verified"]["chain"]), 3)
        fetched = [q for q in fabric.requests("blob") if q["path"] == "/pki/inter.crt"]
        self.assertEqual(len(fetched), 1, "one AIA fetch of the intermediate")

    def test_saved_response(self):
        fabric, root = self.start_cvm()
        import urllib.request
        req = urllib.request.Request(fabric.endpoints["imds"] + "/metadata/attested/document?api-version=2020-09-01"
                                     "&nonce=777", headers={"Metadata": "true"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            body = resp.read()
        saved = os.path.join(self.workdir, "attested.json")
        with open(saved, "wb") as f:
            f.write(body)
        n = len(self.attested_requests())
        r = agent(root, "attest", "--response", saved, "--nonce", "777")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["nonce"], "777")
        self.assertEqual(len(self.attested_requests()), n, "--response asks IMDS nothing")
        r = agent(root, "attest", "--response", saved, "--nonce", "778")
        self.assertEqual(r.returncode, 1)
        self.assertIn("carries another nonce than '778'", r.stderr)
        r = agent(root, "attest", "--response", saved, "--nonce", "777", "--vm-id", "0f0f0f0f-1111-4222-8333-444455556666")
        self.assertEqual(r.returncode, 1)
        self.assertIn("this instance is 0f0f0f0f-1111-4222-8333-444455556666", r.stderr)
        r = agent(root, "attest", "--response", saved)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--response needs --nonce", r.stderr)
        r = agent(root, "attest", "--nonce", "12345678901")
        self.assertEqual(r.returncode, 1)
        self.assertIn("--nonce must be 1 to 10 decimal digits", r.stderr)
        # a response that is not one
        with open(saved, "w") as f:
            f.write('{"encoding": "pkcs7", "signature": "bm90IGEgc2lnbmF0dXJl"}')
        r = agent(root, "attest", "--response", saved, "--nonce", "777")
        self.assertEqual(r.returncode, 1)
        self.assertIn("the signature is not a DER PKCS#7 structure", r.stderr)

    def test_not_azure_no_endpoints(self):
        fabric, root = self.start_cvm(azure=False)
        with open(root.file("/etc/azl-agent/agent.conf"), "w") as f:
            f.write("[Attestation]\nTrustAnchors=/etc/azl-agent/attestation-root.pem\n")
        r = agent(root, "attest")
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn("Not asking IMDS: not running on Azure", r.stderr)
        self.assertEqual(self.attested_requests(), [])


# ---------------------------------------------------------------------------------------------------------------
class Swtpm:
    """swtpm serving raw TPM 2.0 commands on <sock> (and its control channel on <sock>.ctrl, for tpm2-tools)."""

    def __init__(self, workdir, sock):
        self.sock = sock
        state = os.path.join(workdir, "tpmstate")
        os.makedirs(state, exist_ok=True)
        self.log = open(os.path.join(workdir, "swtpm.log"), "w")
        self.proc = subprocess.Popen(["swtpm", "socket", "--tpm2", "--tpmstate", "dir=" + state,
                                      "--server", "type=unixio,path=" + sock,
                                      "--ctrl", "type=unixio,path=" + sock + ".ctrl",
                                      "--flags", "not-need-init,startup-clear"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_for("the swtpm socket", lambda: os.path.exists(sock) and os.path.exists(sock + ".ctrl"), timeout=10)

    def tool(self, *args, data=None):
        p = subprocess.run([args[0], "-T", "swtpm:path=" + self.sock, *args[1:]], input=data, capture_output=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError("%s failed: %s" % (" ".join(args), p.stderr.decode(errors="replace")))
        return p.stdout

    def define_and_write(self, index, data, attributes="ownerread|ownerwrite"):
        self.tool("tpm2_nvdefine", "-C", "o", "-s", str(len(data)), "-a", attributes, index)
        path = self.sock + ".data"
        with open(path, "wb") as f:
            f.write(data)
        self.tool("tpm2_nvwrite", "-C", "o", "-i", path, index)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Evidence(CvmCase):
    def setUp(self):
        super().setUp()
        self.tpm = None

    def tearDown(self):
        if self.tpm:
            self.tpm.close()
        super().tearDown()

    def start_tpm(self, root):
        os.makedirs(root.file("/dev"), exist_ok=True)
        self.tpm = Swtpm(self.workdir, root.file("/dev/tpm.sock"))
        return self.tpm

    def test_evidence_from_swtpm(self):
        fabric, root = self.start_cvm(conf_extra="TPMDevice=/dev/tpm.sock\n")
        tpm = self.start_tpm(root)

        # No index yet: the document is verified, the evidence says why there is none.
        r = agent(root, "attest", "--evidence", "--nonce", "5")
        self.assertEqual(r.returncode, 0, r.stderr)
        ev = json.loads(r.stdout)["evidence"]
        self.assertFalse(ev["available"])
        self.assertIn("has no NV index 0x01400001: no HCL report (not an Azure confidential VM)", ev["reason"])

        report = hcl_report()
        tpm.define_and_write(HCL_INDEX, report)
        r = agent(root, "attest", "--evidence", "--nonce", "6")
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout)
        ev = out["evidence"]
        self.assertTrue(ev["available"])
        self.assertEqual(base64.b64decode(ev["hcl_report"]), report)        # every byte, read in chunks
        self.assertEqual(base64.b64decode(ev["hardware_report"]), report[32:32 + 1184])
        self.assertEqual(ev["report_type"], "sev-snp")
        self.assertTrue(ev["runtime_data_bound"])
        self.assertEqual(ev["vm_unique_id"], VM_ID)
        self.assertTrue(ev["vm_unique_id_matches"])
        self.assertFalse(ev["appraised"])
        self.assertEqual(ev["nv_index"], HCL_INDEX)
        self.assertEqual(out["document"]["nonce"], "6")
        self.assertEqual(out["verified"]["vm_id"], VM_ID)
        # the signature handed on verifies with the openssl command too (a relying party can re-check it)
        der = base64.b64decode(out["signature"])
        p = subprocess.run(["openssl", "smime", "-verify", "-inform", "DER", "-purpose", "any", "-CAfile",
                            root.file("/etc/azl-agent/attestation-root.pem")], input=der, capture_output=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), out["document"])

        # The provisioning run records it: guest and IMDS agree.
        r = agent(root, "provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        rec = json.loads(root.read("/var/lib/azl-agent/confidential.json"))
        self.assertEqual(rec["hcl_report"]["type"], "sev-snp")
        self.assertIn("runtime data bound", rec["hcl_report"]["detail"])
        r = agent(root, "detect")
        self.assertIn("confidential-hcl-report: sev-snp (HCL report in NV index 0x01400001 of /dev/tpm.sock", r.stdout)
        self.assertIn("confidential-agreement: agree\n", r.stdout)
        doc = json.loads(agent(root, "status", "--json").stdout)
        validate(doc, schema())
        self.assertTrue(doc["confidential"]["active"])
        self.assertEqual(doc["confidential"]["agreement"], "agree")
        self.assertEqual(doc["confidential"]["guest"]["hcl_report"], "sev-snp")

    def test_unbound_and_not_a_report(self):
        fabric, root = self.start_cvm(conf_extra="TPMDevice=/dev/tpm.sock\n")
        tpm = self.start_tpm(root)
        tpm.define_and_write(HCL_INDEX, hcl_report(vm_id="0f0f0f0f-1111-4222-8333-444455556666", bind=False))
        ev = json.loads(agent(root, "attest", "--evidence", "--nonce", "7").stdout)["evidence"]
        self.assertFalse(ev["runtime_data_bound"])
        self.assertFalse(ev["vm_unique_id_matches"])
        tpm.tool("tpm2_nvundefine", "-C", "o", HCL_INDEX)
        tpm.define_and_write(HCL_INDEX, b"not an HCL report at all" * 4)
        ev = json.loads(agent(root, "attest", "--evidence", "--nonce", "8").stdout)["evidence"]
        self.assertFalse(ev["available"])
        self.assertIn("holds no HCL report", ev["reason"])


# ---------------------------------------------------------------------------------------------------------------
class Provision(CvmCase):
    def confidential(self, root):
        r = agent(root, "status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        validate(doc, schema())
        return doc["confidential"]

    def effective(self, root, key):
        out = agent(root, "config").stdout
        m = re.search(r"(?m)^%s=(.*)$" % re.escape(key), out)
        return m.group(1) if m else None

    def test_confidential_vm(self):
        fabric, root = self.start_cvm()
        # Before provisioning: IMDS not asked, nothing seen.
        c = self.confidential(root)
        self.assertFalse(c["active"])
        self.assertTrue(c["agreement"].startswith("unknown:"))
        self.assertEqual(self.effective(root, "SignatureValidation"), "report")

        r = agent(root, "provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Confidential VM (IMDS securityType ConfidentialVM", r.stderr)
        rec = json.loads(root.read("/var/lib/azl-agent/confidential.json"))
        self.assertEqual(rec["imds"], {"security_type": "ConfidentialVM", "secure_boot": True, "virtual_tpm": True,
                                       "encryption_at_host": True})
        self.assertIsNone(rec["hcl_report"]["type"])
        self.assertIn("no TPM at /dev/tpmrm0", rec["hcl_report"]["detail"])
        self.assertEqual(stat.S_IMODE(os.stat(root.file("/var/lib/azl-agent/confidential.json")).st_mode), 0o644)
        c = self.confidential(root)
        self.assertTrue(c["active"])
        self.assertEqual(c["reason"], "IMDS securityType ConfidentialVM")
        self.assertEqual(c["agreement"], "disagree: IMDS says ConfidentialVM, the guest sees no TEE interface and no "
                                         "HCL report")
        self.assertEqual(c["policies"]["extension_signatures"], "enforce (confidential-VM default)")
        self.assertTrue(c["policies"]["wireserver_guard"].startswith("required"))
        self.assertEqual(c["policies"]["secrets"], "tmpfs /run/azl-agent/secrets, linked from /var/lib/waagent "
                                                   "(confidential-VM default)")
        self.assertEqual(self.effective(root, "SignatureValidation"), "enforce")
        text = agent(root, "status").stdout
        self.assertRegex(text, r"(?m)^confidential:\s+yes — IMDS securityType ConfidentialVM \(IMDS and guest: disagree")
        self.assertRegex(text, r"(?m)^  signatures:\s+enforce \(confidential-VM default\)$")

        # The guest's own view in the root: they agree.
        os.makedirs(root.file("/dev"), exist_ok=True)
        open(root.file("/dev/sev-guest"), "w").close()
        r = agent(root, "detect")
        self.assertIn("confidential-guest: sev-snp (/dev/sev-guest)", r.stdout)
        self.assertIn("confidential-imds: securityType 'ConfidentialVM', secure boot yes, vTPM yes, encryption at host "
                      "yes", r.stdout)
        self.assertIn("confidential-agreement: agree", r.stdout)
        self.assertIn("confidential: yes (IMDS securityType ConfidentialVM; the guest sees sev-snp (/dev/sev-guest))",
                      r.stdout)

        # What a file says wins; Mode=no switches it all off.
        root.write_conf(fabric, "[Extensions]\nSignatureValidation=report\n")
        self.assertEqual(self.effective(root, "SignatureValidation"), "report")
        self.assertEqual(self.confidential(root)["policies"]["extension_signatures"],
                         "report ([Extensions] SignatureValidation=report set explicitly)")
        root.write_conf(fabric, "[Confidential]\nMode=no\n")
        c = self.confidential(root)
        self.assertFalse(c["active"])
        self.assertEqual(c["reason"], "[Confidential] Mode=no")
        self.assertEqual(self.effective(root, "SignatureValidation"), "report")

    def test_trusted_launch(self):
        fabric, root = self.start_cvm({"vm": {"securityType": "TrustedLaunch", "encryptionAtHost": False}})
        r = agent(root, "provision")
        self.assertEqual(r.returncode, 0, r.stderr)
        c = self.confidential(root)
        self.assertFalse(c["active"])
        self.assertEqual(c["agreement"], "agree")
        self.assertEqual(c["imds"]["security_type"], "TrustedLaunch")
        self.assertFalse(c["imds"]["encryption_at_host"])
        self.assertEqual(self.effective(root, "SignatureValidation"), "report")
        # ... unless forced
        root.write_conf(fabric, "[Confidential]\nMode=yes\n")
        self.assertTrue(self.confidential(root)["active"])
        self.assertEqual(self.effective(root, "SignatureValidation"), "enforce")


# ---------------------------------------------------------------------------------------------------------------
def firewall_classes():
    import test_firewall

    class CvmFirewall(test_firewall.FirewallTest):
        DROP = ["setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"]

        def test_required_guard_cannot_be_installed(self):
            self.start_real(patch=CVM)
            make_azure(self.root)
            r = self.provision(*self.DROP, expect=1)
            state = self.state()
            self.assertEqual(state["state"], "failed")
            self.assertIn("Confidential VM: the WireServer guard is required but could not be installed: ",
                          state["reason"])
            self.assertIn("Operation not permitted", state["reason"])
            self.assertEqual(self.step("firewall")["result"], "failed")
            self.assertIsNone(test_firewall.our_table())
            last = self.fabric.health_reports()[-1]
            self.assertEqual((last["state"], last["subStatus"]), ("NotReady", "ProvisioningFailed"))
            self.assertIn("WireServer guard is required", last["description"])
            self.assertIn("Provisioning failed: Confidential VM", r.stderr)

        def test_required_guard_installed(self):
            self.start_real(patch=CVM)
            self.provision()
            self.assertIsNotNone(test_firewall.our_table())
            doc = self.status_json()
            self.assertTrue(doc["confidential"]["active"])
            self.assertEqual(doc["firewall"]["state"], "active")
            self.assertTrue(doc["confidential"]["policies"]["wireserver_guard"].startswith("required"))

        def test_mode_no_best_effort(self):
            self.start_real(patch=CVM, conf_extra="[Confidential]\nMode=no\n")
            self.provision(*self.DROP)
            self.assertEqual(self.state()["state"], "ready")
            self.assertEqual(self.step("firewall")["result"], "failed")

    return [CvmFirewall]


# ---------------------------------------------------------------------------------------------------------------
def private_mounts():
    """This process (and its children) in a mount namespace of its own, nothing propagated back."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(0x00020000) != 0:   # CLONE_NEWNS
        return False
    return subprocess.run(["mount", "--make-rprivate", "/"]).returncode == 0


class Secrets(CvmCase):
    def setUp(self):
        super().setUp()
        self.daemon = None
        self.daemon_log = None
        self.bus = None
        self.mounted = []

    def tearDown(self):
        if self.daemon and self.daemon.poll() is None:
            self.daemon.kill()
            self.daemon.wait()
        if self.daemon_log:
            self.daemon_log.close()
        if self.bus:
            self.bus.close()
        for m in reversed(self.mounted):
            subprocess.run(["umount", "-l", m])
        super().tearDown()

    def start_daemon(self, root, bus=False):
        env = dict(os.environ)
        if bus:
            from test_dbus import PrivateBus
            self.bus = PrivateBus()
            env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus.address
        else:
            env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=" + os.path.join(self.workdir, "no-such-bus")
        self.daemon_log = open(os.path.join(self.workdir, "daemon.log"), "w")
        self.daemon = subprocess.Popen([azltest.AGENT, "--root", root.path, "-v", "daemon"], stdout=self.daemon_log,
                                       stderr=subprocess.STDOUT, env=env)

    def daemon_text(self):
        with open(self.daemon_log.name, errors="replace") as f:
            return f.read()

    def stop_daemon(self):
        self.daemon.send_signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(15), 0, self.daemon_text()[-3000:])

    def thumbprints(self):
        state = json.loads(self.fabric._control("GET", "/state"))
        return [c["thumbprint"] for c in state["goalState"]["tenantCertificates"] if c["hasPrivateKey"]]

    def test_keys_on_tmpfs(self):
        fabric, root = self.start_cvm(conf_extra="[Confidential]\nMode=yes\n[Timeouts]\nGoalStatePeriodSec=1\n")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=8m", "tmpfs", root.file("/run")], check=True)
        self.mounted.append(root.file("/run"))
        have_bus = shutil.which("dbus-daemon") is not None and shutil.which("busctl") is not None
        self.start_daemon(root, bus=have_bus)
        thumbs = self.thumbprints()
        self.assertTrue(thumbs)
        waagent = root.file("/var/lib/waagent")
        wait_for("the certificates", lambda: all(os.path.exists(os.path.join(waagent, t + ".crt")) for t in thumbs),
                 timeout=60, detail=lambda: self.daemon_text()[-2000:])
        wait_for("the private keys", lambda: all(os.path.lexists(os.path.join(waagent, t + ".prv")) for t in thumbs),
                 timeout=30)
        for name in [t + ".prv" for t in thumbs] + ["TransportPrivate.pem"]:
            link = os.path.join(waagent, name)
            self.assertTrue(os.path.islink(link), name + " is a symlink")
            self.assertEqual(os.readlink(link), "/run/azl-agent/secrets/" + name)
            target = root.file("/run/azl-agent/secrets/" + name)
            st = os.stat(target)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
            with open(target) as f:
                self.assertIn("-----BEGIN PRIVATE KEY-----", f.read())
        self.assertEqual(stat.S_IMODE(os.stat(root.file("/run/azl-agent/secrets")).st_mode), 0o700)
        # Nothing but symlinks on the disk: no regular file holding a private key anywhere in the root's disk part.
        for dirpath, dirnames, filenames in os.walk(root.path):
            if dirpath.startswith(root.file("/run")) or is_tool_dir(root, dirpath):
                continue
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                with open(p, "rb") as f:
                    self.assertNotIn(b"PRIVATE KEY-----", f.read(), p + " holds a private key on disk")
        if have_bus:
            self.assertIs(self.bus.get("Confidential"), True)
            detail = self.bus.get("ConfidentialDetail")
            self.assertIn("[Confidential] Mode=yes", detail)
            self.assertIn("secrets: tmpfs /run/azl-agent/secrets", detail)
            self.assertIn("signatures: enforce (confidential-VM default)", detail)
        self.stop_daemon()

    def test_no_tmpfs_no_keys(self):
        """<root>/run is on the disk: the transport key stays in memory, no tenant private key is written, the daemon
        keeps running (and says why). A transport key left on the disk by an earlier run is wiped and replaced."""
        fabric, root = self.start_cvm(conf_extra="[Confidential]\nMode=yes\n[Timeouts]\nGoalStatePeriodSec=1\n")
        self.start_daemon(root)
        wait_for("the refusal", lambda: "private keys are not written" in self.daemon_text(), timeout=60,
                 detail=lambda: self.daemon_text()[-2000:])
        text = self.daemon_text()
        self.assertIn("Confidential VM: /run/azl-agent/secrets is not on tmpfs, the transport key stays in memory",
                      text)
        self.assertIn("Confidential VM: /run/azl-agent/secrets is not on tmpfs, the tenant certificates' private keys "
                      "are not written", text)
        self.assertIsNone(self.daemon.poll(), "the daemon keeps running")
        self.stop_daemon()
        for dirpath, dirnames, filenames in os.walk(root.path):
            for fn in filenames:
                p = os.path.join(dirpath, fn)
                self.assertFalse(fn.endswith(".prv") or fn == "TransportPrivate.pem", p)
                if os.path.isfile(p) and not os.path.islink(p) and not is_tool_dir(root, dirpath):
                    with open(p, "rb") as f:
                        self.assertNotIn(b"PRIVATE KEY-----", f.read(), p)

    def test_key_on_disk_replaced(self):
        """A non-confidential run left TransportPrivate.pem on the disk; on a confidential VM it is replaced by a
        link to tmpfs and its old bytes are zeros."""
        fabric, root = self.start_cvm(conf_extra="[Timeouts]\nGoalStatePeriodSec=1\n")
        self.start_daemon(root)
        key = root.file("/var/lib/waagent/TransportPrivate.pem")
        cert = root.file("/var/lib/waagent/TransportCert.pem")
        # the pair: the key is written first, and a key without its certificate is not "replaced" but remade
        wait_for("the transport key and certificate", lambda: os.path.isfile(key) and os.path.isfile(cert),
                 timeout=60)
        self.stop_daemon()
        self.assertFalse(os.path.islink(key))
        old = os.open(key, os.O_RDONLY)
        try:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=8m", "tmpfs", root.file("/run")], check=True)
            self.mounted.append(root.file("/run"))
            with open(root.file("/etc/azl-agent/agent.conf"), "a") as f:
                f.write("[Confidential]\nMode=yes\n")
            self.start_daemon(root)
            wait_for("the link", lambda: os.path.islink(key), timeout=60, detail=lambda: self.daemon_text()[-2000:])
            # logged once the new key is in place: after the link appeared
            wait_for("the log line", lambda: "replacing the transport key on disk with one on tmpfs" in
                     self.daemon_text(), timeout=30, detail=lambda: self.daemon_text()[-2000:])
            data = os.pread(old, 8192, 0)
            self.assertTrue(data and data == bytes(len(data)), "the old key's bytes are zeros")
            self.stop_daemon()
        finally:
            os.close(old)

    def test_key_on_disk_no_tmpfs(self):
        """A non-confidential run left TransportPrivate.pem and the tenant keys on the disk; on a confidential VM
        without tmpfs for the secrets the new transport key stays in memory, and the old keys are zeroed and removed,
        not left behind."""
        fabric, root = self.start_cvm(conf_extra="[Timeouts]\nGoalStatePeriodSec=1\n")
        self.start_daemon(root)
        key = root.file("/var/lib/waagent/TransportPrivate.pem")
        thumbs = self.thumbprints()
        self.assertTrue(thumbs)
        prv = [root.file("/var/lib/waagent/%s.prv" % t) for t in thumbs]
        wait_for("the keys", lambda: all(os.path.isfile(p) for p in [key] + prv), timeout=60,
                 detail=lambda: self.daemon_text()[-2000:])
        self.stop_daemon()
        old = os.open(key, os.O_RDONLY)
        try:
            with open(root.file("/etc/azl-agent/agent.conf"), "a") as f:
                f.write("[Confidential]\nMode=yes\n")
            self.start_daemon(root)
            wait_for("the refusal", lambda: "private keys are not written" in self.daemon_text(), timeout=60,
                     detail=lambda: self.daemon_text()[-2000:])
            self.assertIn("the transport key stays in memory", self.daemon_text())
            self.assertFalse(os.path.lexists(key), "the old transport key is removed")
            for p in prv:
                self.assertFalse(os.path.lexists(p), p + " is removed")
            data = os.pread(old, 8192, 0)
            self.assertTrue(data and data == bytes(len(data)), "the old key's bytes are zeros")
            self.assertIsNone(self.daemon.poll(), "the daemon keeps running")
            self.stop_daemon()
        finally:
            os.close(old)


# ---------------------------------------------------------------------------------------------------------------
def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def main():
    group = sys.argv[1] if len(sys.argv) > 1 else ""
    groups = {"attest": [Attest], "evidence": [Evidence], "provision": [Provision], "secrets": [Secrets]}
    if group not in list(groups) + ["firewall"]:
        raise SystemExit("usage: test_confidential.py attest|evidence|provision|firewall|secrets")
    azltest.enter_private_netns()
    if os.geteuid() != 0 and group != "attest":
        skip("needs root (useradd on a scratch root, swtpm state, nftables, mounts)")
    if not os.path.exists(azltest.AGENT):
        skip("azl-agent not built at " + azltest.AGENT)
    if shutil.which("openssl") is None:
        skip("the openssl command is missing (the fabric signs with it)")
    if group == "evidence":
        missing = [t for t in ("swtpm", "tpm2_nvdefine", "tpm2_nvwrite") if shutil.which(t) is None]
        if missing:
            skip("hardware evidence needs %s (Debian: swtpm, swtpm-tools, tpm2-tools)" % ", ".join(missing))
    if group == "firewall":
        for tool in ("nft", "setpriv"):
            if shutil.which(tool) is None:
                skip(tool + " not installed")
        classes = firewall_classes()
    else:
        classes = groups[group]
    if group == "secrets" and not private_mounts():
        skip("cannot make a private mount namespace")
    suite = unittest.TestSuite()
    for cls in classes:
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(cls))
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
