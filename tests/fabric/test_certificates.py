#!/usr/bin/env python3
"""comp=certificates: real CMS EnvelopedData of a PKCS#12, decrypted the way waagent/cloud-init do."""

import base64
import json
import os
import re
import xml.etree.ElementTree as ET

import fabric_testlib as ftl

ftl.ensure_netns()


def make_transport(tmp, ski=True):
    """Transport cert like waagent's gen_transport_cert (protocol §1.6)."""
    key, cert = os.path.join(tmp, "TransportPrivate.pem"), os.path.join(tmp, "TransportCert.pem")
    args = ["req", "-x509", "-nodes", "-subj", "/CN=LinuxTransport", "-days", "730", "-newkey", "rsa:2048",
            "-keyout", key, "-out", cert]
    if not ski:
        args += ["-addext", "subjectKeyIdentifier=none", "-addext", "authorityKeyIdentifier=none"]
    ftl.openssl(*args)
    with open(cert) as handle:
        pem = handle.read()
    header = "".join(line for line in pem.splitlines() if "-----" not in line)
    return key, cert, header


def thumbprints(pem_text):
    """SHA-1 thumbprints of every certificate in a PEM bundle (waagent's method)."""
    prints = []
    for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem_text, re.S):
        out = ftl.openssl("x509", "-fingerprint", "-noout", data=block.encode()).decode()
        prints.append(out.strip().split("=", 1)[1].replace(":", "").upper())
    return sorted(prints)


class Certificates(ftl.FabricCase):
    scenario_overrides = {"tenantCertificates": [{"name": "KeyVaultCert"}, {"name": "EcCert", "keyType": "ec"},
                                                 {"name": "PublicOnly", "privateKey": False}]}

    def fetch(self, header, cipher):
        urls = self.control("/state")["goalState"]["goalStateUrls"]
        headers = {"x-ms-guest-agent-public-x509-cert": header}
        if cipher:
            headers["x-ms-cipher-name"] = cipher
        return self.wire(ftl.url_path(urls["certificates"]), headers=headers)

    def decrypt_like_waagent(self, tmp, key, cert, xml_body):
        """protocol §1.6: wrap <Data> as S/MIME, openssl cms -decrypt, openssl pkcs12 -nodes -password pass:."""
        root = ET.fromstring(xml_body)
        self.assertEqual(root.findtext("Format"), "Pkcs7BlobWithPfxContents")
        data = root.findtext("Data")
        p7m = os.path.join(tmp, "Certificates.p7m")
        with open(p7m, "w") as handle:
            handle.write('MIME-Version:1.0\nContent-Disposition: attachment; filename="%s"\n'
                         'Content-Type: application/x-pkcs7-mime; name="%s"\nContent-Transfer-Encoding: base64\n\n%s'
                         % (p7m, p7m, data))
        pfx = ftl.openssl("cms", "-decrypt", "-in", p7m, "-inkey", key, "-recip", cert)
        return ftl.openssl("pkcs12", "-nodes", "-password", "pass:", data=pfx).decode(), data

    def test_both_ciphers_decrypt_to_scenario_certs(self):
        expected = sorted(c.thumbprint for c in self.fabric.tenant_certs)
        self.assertEqual(len(expected), 3)
        with ftl.tempdir() as tmp:
            key, cert, header = make_transport(tmp)
            for cipher, algo, transport in (("AES128_CBC", "aes-128-cbc", "rsaesOaep"),
                                            ("DES_EDE3_CBC", "des-ede3-cbc", "rsaEncryption")):
                status, _, body = self.fetch(header, cipher)
                self.assertEqual(status, 200, body)
                pem, data = self.decrypt_like_waagent(tmp, key, cert, body)
                self.assertEqual(thumbprints(pem), expected, cipher)
                self.assertEqual(pem.count("PRIVATE KEY-----") // 2, 2, "two certs carry keys")
                dump = ftl.openssl("cms", "-cmsout", "-print", "-inform", "DER",
                                   data=base64.b64decode(data)).decode()
                self.assertIn(algo, dump)
                self.assertIn(transport, dump)
                self.assertIn("subjectKeyIdentifier", dump)
                # cloud-init's variant: DER straight into openssl cms | openssl pkcs12
                pfx = ftl.openssl("cms", "-decrypt", "-inform", "DER", "-inkey", key, "-recip", cert,
                                  data=base64.b64decode(data))
                self.assertEqual(thumbprints(ftl.openssl("pkcs12", "-nodes", "-password", "pass:",
                                                         data=pfx).decode()), expected)

    def test_thumbprints_match_goal_state_documents(self):
        state = self.control("/state")
        listed = sorted(c["thumbprint"] for c in state["goalState"]["tenantCertificates"])
        _, _, hec = self.wire(ftl.url_path(state["goalState"]["goalStateUrls"]["hostingEnvironmentConfig"]))
        stored = sorted(e.get("certificateId").split(":")[1] for e in ET.fromstring(hec).iter("StoredCertificate"))
        self.assertEqual(listed, stored)

    def test_request_errors(self):
        with ftl.tempdir() as tmp:
            _, _, header = make_transport(tmp)
            status, _, body = self.fetch(header, "RC4")
            self.assertEqual(status, 400)
            self.assertIn(b"x-ms-cipher-name", body)
            status, _, body = self.fetch("not base64!!", "AES128_CBC")
            self.assertEqual(status, 400)
            _, _, no_ski = make_transport(os.path.join(tmp), ski=False)
            status, _, body = self.fetch(no_ski, "AES128_CBC")
            self.assertEqual(status, 400)
            self.assertIn(b"SubjectKeyIdentifier", body)
        urls = self.control("/state")["goalState"]["goalStateUrls"]
        status, _, body = self.wire(ftl.url_path(urls["certificates"]))
        self.assertEqual(status, 400)
        self.assertIn(b"x-ms-guest-agent-public-x509-cert", body)

    def test_protected_settings_decrypt_with_tenant_cert(self):
        state = self.control("/state")
        _, _, ext = self.wire(ftl.url_path(state["goalState"]["goalStateUrls"]["extensionsConfig"]))
        rs = json.loads(ET.fromstring(ext).find("PluginSettings/Plugin/RuntimeSettings").text)
        handler = rs["runtimeSettings"][0]["handlerSettings"]
        tenant = [c for c in self.fabric.tenant_certs if c.thumbprint == handler["protectedSettingsCertThumbprint"]][0]
        with ftl.tempdir() as tmp:
            crt, prv = os.path.join(tmp, "t.crt"), os.path.join(tmp, "t.prv")
            for path, text in ((crt, tenant.cert_pem), (prv, tenant.key_pem)):
                with open(path, "w") as handle:
                    handle.write(text)
            plain = ftl.openssl("smime", "-decrypt", "-inform", "DER", "-recip", crt, "-inkey", prv,
                                data=base64.b64decode(handler["protectedSettings"]))
        self.assertEqual(json.loads(plain), {"secret": "azfabric-protected-value"})


class NoCertificates(ftl.FabricCase):
    scenario_overrides = {"tenantCertificates": 0, "extensions": []}

    def test_goal_state_omits_certificates(self):
        _, _, body = self.wire("/machine/?comp=goalstate")
        self.assertIsNone(ET.fromstring(body).find("Container/RoleInstanceList/RoleInstance/Configuration/Certificates"))


class FixtureCertificates(ftl.FabricCase):
    """certificatesFixture: a Certificates document served verbatim (ours, tests/data/wire/certificates.xml)."""
    scenario_overrides = {"certificatesFixture": "wire/certificates.xml"}

    def test_fixture_blob_decrypts_with_its_transport_key(self):
        urls = self.control("/state")["goalState"]["goalStateUrls"]
        _, _, body = self.wire(ftl.url_path(urls["certificates"]))
        with open(ftl.data("wire/certificates.xml"), "rb") as handle:
            self.assertEqual(body, handle.read())
        data = base64.b64decode(ET.fromstring(body).findtext("Data"))
        pfx = ftl.openssl("cms", "-decrypt", "-inform", "DER", "-inkey", ftl.data("wire/transport-key.pem"),
                          "-recip", ftl.data("wire/transport-cert.pem"), data=data)
        pem = ftl.openssl("pkcs12", "-nodes", "-password", "pass:", data=pfx).decode()
        self.assertEqual(sorted(thumbprints(pem)), ["15EBEC74C36C0B59812AF3A3D7B2FE7DC0D2A6EF",
                                                    "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D"])


if __name__ == "__main__":
    ftl.main()
