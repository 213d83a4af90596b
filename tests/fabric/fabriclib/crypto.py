"""Certificates, PKCS#12 and CMS for the WireServer ``comp=certificates`` call.

Protocol §1.6: the guest sends its transport certificate (base64 DER) in
``x-ms-guest-agent-public-x509-cert`` and a cipher name in
``x-ms-cipher-name``; the WireServer answers with a CMS EnvelopedData (DER,
base64 in ``<Data>``) whose recipient is identified by the transport
certificate's SubjectKeyIdentifier and whose content is a PKCS#12 with an
empty password holding the tenant certificates and their private keys.

* ``AES128_CBC``   -> aes-128-cbc content encryption, RSAES-OAEP key transport
* ``DES_EDE3_CBC`` -> des-ede3-cbc content encryption, PKCS#1 v1.5 key transport

The PKCS#12 is assembled here in pure Python (``openssl pkcs12 -export`` can
only hold one private key): certificate bags in a plain SafeContents, private
keys as pkcs8ShroudedKeyBags (PBES2/AES-256-CBC, empty password, produced by
``openssl pkcs8 -topk8``), localKeyId attributes pairing keys and certs, and a
SHA-256 HMAC computed with the RFC 7292 appendix B key derivation.  The result
is what ``openssl pkcs12 -nodes -password pass:`` (the command waagent and
cloud-init run) parses.
"""

import base64
import hashlib
import hmac
import os
import re
import subprocess
import tempfile

OPENSSL = os.environ.get("AZFABRIC_OPENSSL", "openssl")

CIPHERS = {
    # x-ms-cipher-name -> (content cipher flag, key-transport options) for
    # `openssl cms -encrypt` (protocol §1.6)
    "AES128_CBC": ("-aes128", ["-keyopt", "rsa_padding_mode:oaep"]),
    "DES_EDE3_CBC": ("-des3", []),
}


class CryptoError(Exception):
    """A request could not be served because of its certificate/cipher."""


def run_openssl(args, data=None, check=True):
    """Run ``openssl`` with *args*; returns stdout bytes."""
    proc = subprocess.run([OPENSSL] + list(args), input=data, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, check=False)
    if check and proc.returncode != 0:
        raise CryptoError("openssl %s failed: %s" % (args[0], proc.stderr.decode("utf-8", "replace").strip()))
    return proc.stdout


def pem_to_der(pem_text, label="CERTIFICATE"):
    match = re.search(r"-----BEGIN %s-----(.*?)-----END %s-----" % (label, label), pem_text, re.S)
    if not match:
        raise CryptoError("no PEM %s block" % label)
    return base64.b64decode("".join(match.group(1).split()))


def der_to_pem(der, label="CERTIFICATE"):
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def thumbprint(cert_der):
    """SHA-1 over the DER certificate, 40 upper-case hex chars (protocol §1.6)."""
    return hashlib.sha1(cert_der).hexdigest().upper()


# --------------------------------------------------------------------------
# Minimal DER encoder (just what PKCS#12 needs)
# --------------------------------------------------------------------------

def _der_len(length):
    if length < 0x80:
        return bytes([length])
    out = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(out)]) + out


def der(tag, content):
    return bytes([tag]) + _der_len(len(content)) + content


def der_seq(*items):
    return der(0x30, b"".join(items))


def der_set(*items):
    return der(0x31, b"".join(sorted(items)))


def der_int(value):
    length = max(1, (value.bit_length() + 8) // 8)
    return der(0x02, value.to_bytes(length, "big", signed=True))


def der_octets(data):
    return der(0x04, data)


def der_null():
    return b"\x05\x00"


def der_explicit(number, content):
    return der(0xA0 | number, content)


def der_bmp(text):
    return der(0x1E, text.encode("utf-16-be"))


def der_oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytes([40 * parts[0] + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body += bytes(reversed(chunk))
    return der(0x06, body)


OID_DATA = "1.2.840.113549.1.7.1"
OID_KEY_BAG = "1.2.840.113549.1.12.10.1.1"
OID_SHROUDED_KEY_BAG = "1.2.840.113549.1.12.10.1.2"
OID_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
OID_X509_CERT = "1.2.840.113549.1.9.22.1"
OID_FRIENDLY_NAME = "1.2.840.113549.1.9.20"
OID_LOCAL_KEY_ID = "1.2.840.113549.1.9.21"
OID_SHA256 = "2.16.840.1.101.3.4.2.1"


def _pkcs12_kdf(password_bmp, salt, iterations, key_id, size, hash_name="sha256"):
    """RFC 7292 appendix B.2 key derivation."""
    hash_len = hashlib.new(hash_name).digest_size
    block = hashlib.new(hash_name).block_size
    diversifier = bytes([key_id]) * block

    def stretch(data):
        if not data:
            return b""
        count = -(-len(data) // block) * block
        return (data * (count // len(data) + 1))[:count]

    ival = bytearray(stretch(salt) + stretch(password_bmp))
    out = b""
    while len(out) < size:
        digest = diversifier + bytes(ival)
        for _ in range(iterations):
            digest = hashlib.new(hash_name, digest).digest()
        out += digest
        bval = (digest * (block // hash_len + 1))[:block]
        bnum = int.from_bytes(bval, "big") + 1
        for start in range(0, len(ival), block):
            chunk = int.from_bytes(ival[start:start + block], "big") + bnum
            ival[start:start + block] = (chunk & ((1 << (8 * block)) - 1)).to_bytes(block, "big")
    return out[:size]


def _bag(bag_oid, value, local_key_id, friendly_name):
    attrs = [der_seq(der_oid(OID_LOCAL_KEY_ID), der_set(der_octets(local_key_id)))]
    if friendly_name:
        attrs.append(der_seq(der_oid(OID_FRIENDLY_NAME), der_set(der_bmp(friendly_name))))
    return der_seq(der_oid(bag_oid), der_explicit(0, value), der_set(*attrs))


def build_pfx(entries, mac_iterations=2048):
    """Build a PKCS#12 (empty password) from TenantCert objects."""
    cert_bags = []
    key_bags = []
    for entry in entries:
        local_id = bytes.fromhex(entry.thumbprint)
        cert_bag = der_seq(der_oid(OID_X509_CERT), der_explicit(0, der_octets(entry.cert_der)))
        cert_bags.append(_bag(OID_CERT_BAG, cert_bag, local_id, entry.name))
        if entry.shrouded_key_der:
            key_bags.append(_bag(OID_SHROUDED_KEY_BAG, entry.shrouded_key_der, local_id, entry.name))
    safes = []
    for bags in (key_bags, cert_bags):
        if bags:
            safe_contents = der(0x30, b"".join(bags))
            safes.append(der_seq(der_oid(OID_DATA), der_explicit(0, der_octets(safe_contents))))
    auth_safe = der(0x30, b"".join(safes))
    salt = os.urandom(8)
    password_bmp = b"\x00\x00"  # empty password as BMPString with terminator
    mac_key = _pkcs12_kdf(password_bmp, salt, mac_iterations, 3, 32)
    digest = hmac.new(mac_key, auth_safe, hashlib.sha256).digest()
    mac_data = der_seq(der_seq(der_seq(der_oid(OID_SHA256), der_null()), der_octets(digest)),
                       der_octets(salt), der_int(mac_iterations))
    return der_seq(der_int(3), der_seq(der_oid(OID_DATA), der_explicit(0, der_octets(auth_safe))), mac_data)


# --------------------------------------------------------------------------
# Tenant certificates
# --------------------------------------------------------------------------

class TenantCert:
    """A certificate the fabric hands to the guest through comp=certificates."""

    def __init__(self, name, cert_pem, key_pem=None):
        self.name = name
        self.cert_pem = cert_pem
        self.key_pem = key_pem
        self.cert_der = pem_to_der(cert_pem)
        self.thumbprint = thumbprint(self.cert_der)
        self.shrouded_key_der = None
        if key_pem:
            self.shrouded_key_der = run_openssl(
                ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:", "-outform", "DER"],
                data=key_pem.encode("ascii"))

    def describe(self):
        return {"name": self.name, "thumbprint": self.thumbprint, "hasPrivateKey": self.key_pem is not None}


def generate_cert(name, cache_dir, key_type="rsa", days=3650):
    """Create (or reuse from *cache_dir*) a self-signed certificate + key."""
    os.makedirs(cache_dir, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    cert_path = os.path.join(cache_dir, safe + ".crt")
    key_path = os.path.join(cache_dir, safe + ".prv")
    if not (os.path.exists(cert_path) and os.path.exists(key_path)):
        newkey = {"rsa": ["-newkey", "rsa:2048"],
                  "ec": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]}.get(key_type)
        if newkey is None:
            raise ValueError("unsupported tenant certificate keyType %r (rsa|ec)" % key_type)
        run_openssl(["req", "-x509", "-nodes"] + newkey +
                    ["-keyout", key_path, "-out", cert_path, "-days", str(days),
                     "-subj", "/CN=" + name])
    with open(cert_path) as handle:
        cert_pem = handle.read()
    with open(key_path) as handle:
        key_pem = handle.read()
    return cert_pem, key_pem


# --------------------------------------------------------------------------
# CMS
# --------------------------------------------------------------------------



def transport_cert_pem(header_value):
    """Decode the x-ms-guest-agent-public-x509-cert header into PEM.

    Raises CryptoError with a clear reason when it is unusable.
    """
    try:
        der_bytes = base64.b64decode("".join(header_value.split()), validate=True)
    except (ValueError, TypeError) as exc:
        raise CryptoError("x-ms-guest-agent-public-x509-cert is not valid base64: %s" % exc)
    pem = der_to_pem(der_bytes)
    text = run_openssl(["x509", "-noout", "-text"], data=pem.encode("ascii"), check=False)
    if not text:
        raise CryptoError("x-ms-guest-agent-public-x509-cert is not a DER X.509 certificate")
    if b"Subject Key Identifier" not in text:
        # protocol §1.6: the recipient is identified by SubjectKeyIdentifier.
        raise CryptoError("transport certificate has no SubjectKeyIdentifier extension; "
                          "the WireServer identifies the CMS recipient by SKI")
    if b"rsaEncryption" not in text:
        raise CryptoError("transport certificate must carry an RSA public key")
    return pem


def envelope(content, recipient_pem, cipher_name):
    """CMS EnvelopedData (DER) of *content* for *recipient_pem* (SKI rid)."""
    if cipher_name not in CIPHERS:
        raise CryptoError("unsupported x-ms-cipher-name %r (supported: %s)"
                          % (cipher_name, ", ".join(sorted(CIPHERS))))
    with tempfile.TemporaryDirectory(prefix="azfabric-cms-") as tmp:
        recip = os.path.join(tmp, "recip.pem")
        with open(recip, "w") as handle:
            handle.write(recipient_pem)
        cipher_flag, keyopts = CIPHERS[cipher_name]
        # -keyopt applies to the -recip that precedes it.
        args = ["cms", "-encrypt", "-binary", "-outform", "DER", cipher_flag,
                "-keyid", "-recip", recip] + keyopts
        return run_openssl(args, data=content)


def encrypt_for_cert(content, cert_pem):
    """Protected settings: CMS EnvelopedData to a tenant cert (issuer+serial rid).

    Extensions decrypt it with ``openssl smime -decrypt -inform DER -recip
    <thumb>.crt -inkey <thumb>.prv`` (protocol §4.3).
    """
    with tempfile.TemporaryDirectory(prefix="azfabric-ps-") as tmp:
        recip = os.path.join(tmp, "recip.pem")
        with open(recip, "w") as handle:
            handle.write(cert_pem)
        return run_openssl(["cms", "-encrypt", "-binary", "-outform", "DER", "-aes256", "-recip", recip],
                           data=content)


# --------------------------------------------------------------------------
# IMDS attested data: the fabric's own CA chain (TEST ONLY) and PKCS#7 signing
# --------------------------------------------------------------------------
#
# Azure signs /metadata/attested/document with a TLS certificate for metadata.azure.com (IMDS doc, "Signature
# Validation Guidance": the subjectAltName is what a verifier checks). The fabric makes a chain of its own at
# start: root -> issuing CA (intermediate) -> leaf with the same names and key usages, plus a "rogue" chain with
# identical subject names and other keys (an untrusted root), and two leaves under the real intermediate that a
# verifier must refuse: one for another domain, one whose key usage forbids signatures.

# P-256 keys: RSA key generation takes seconds each on a loaded machine (Azure's chain is RSA; the verifier does
# not care which).
PKI_NEWKEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
PKI_FILES = ("root", "inter", "leaf", "rogue-root", "rogue-inter", "rogue-leaf", "wrongsan-leaf", "nodsig-leaf")


def _pki_ext(path, lines):
    with open(path, "w") as handle:
        handle.write("[v3]\n" + "\n".join(lines) + "\n")


def _pki_cert(out, name, subject, issuer, ext_lines, days):
    key, pem = os.path.join(out, name + ".key"), os.path.join(out, name + ".pem")
    if issuer is None:
        ext = os.path.join(out, name + ".ext")
        _pki_ext(ext, ext_lines)
        run_openssl(["req", "-x509"] + PKI_NEWKEY + ["-nodes", "-keyout", key, "-out", pem, "-days", str(days),
                     "-subj", subject, "-config", ext, "-extensions", "v3", "-sha256"])
        return
    csr, ext = os.path.join(out, name + ".csr"), os.path.join(out, name + ".ext")
    _pki_ext(ext, ext_lines)
    run_openssl(["req", "-new"] + PKI_NEWKEY + ["-nodes", "-keyout", key, "-out", csr, "-subj", subject])
    run_openssl(["x509", "-req", "-in", csr, "-CA", os.path.join(out, issuer + ".pem"),
                 "-CAkey", os.path.join(out, issuer + ".key"), "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
                 "-days", str(days), "-sha256", "-extfile", ext, "-extensions", "v3", "-out", pem])
    os.unlink(csr)


def make_attestation_pki(out, aia_base=None, days=3650):
    """Write the chains (PEM: <name>.pem, <name>.key; DER: <name>.crt for the AIA URLs) into *out*; returns
    {name: pem path}. aia_base: the URL prefix the certificates' caIssuers point to (<aia_base>/<issuer>.crt)."""
    os.makedirs(out, exist_ok=True)
    done = os.path.join(out, ".complete")
    if not os.path.exists(done):
        ca = ["basicConstraints = critical, CA:TRUE", "keyUsage = critical, keyCertSign, cRLSign",
              "subjectKeyIdentifier = hash"]
        inter = ["basicConstraints = critical, CA:TRUE, pathlen:0", "keyUsage = critical, keyCertSign, cRLSign",
                 "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid"]
        leaf = ["basicConstraints = critical, CA:FALSE", "keyUsage = critical, digitalSignature, keyAgreement",
                "extendedKeyUsage = serverAuth, clientAuth", "subjectKeyIdentifier = hash",
                "authorityKeyIdentifier = keyid",
                "subjectAltName = DNS:metadata.azure.com, DNS:eastus.metadata.azure.com"]

        def aia(issuer):
            return ["authorityInfoAccess = caIssuers;URI:%s/%s.crt" % (aia_base.rstrip("/"), issuer)] if aia_base else []

        root_subj, inter_subj = "/CN=azfabric Test Root CA (TEST ONLY)", "/CN=azfabric Test Issuing CA 01 (TEST ONLY)"
        _pki_cert(out, "root", root_subj, None, ca, days)
        _pki_cert(out, "inter", inter_subj, "root", inter + aia("root"), days)
        _pki_cert(out, "leaf", "/CN=metadata.azure.com", "inter", leaf + aia("inter"), days)
        _pki_cert(out, "rogue-root", root_subj, None, ca, days)
        _pki_cert(out, "rogue-inter", inter_subj, "rogue-root", inter, days)
        _pki_cert(out, "rogue-leaf", "/CN=metadata.azure.com", "rogue-inter", leaf, days)
        _pki_cert(out, "wrongsan-leaf", "/CN=metadata.example.net", "inter",
                  leaf[:-1] + ["subjectAltName = DNS:metadata.example.net"] + aia("inter"), days)
        _pki_cert(out, "nodsig-leaf", "/CN=metadata.azure.com", "inter",
                  [line.replace("digitalSignature, ", "") for line in leaf] + aia("inter"), days)
        for name in PKI_FILES:
            with open(os.path.join(out, name + ".pem")) as handle:
                der = pem_to_der(handle.read())
            with open(os.path.join(out, name + ".crt"), "wb") as handle:
                handle.write(der)
        with open(done, "w") as handle:
            handle.write("ok\n")
    return {name: os.path.join(out, name + ".pem") for name in PKI_FILES}


def sign_attested(content, out, leaf="leaf", chain=("inter",)):
    """PKCS#7 SignedData (DER) of *content* by <leaf>, carrying <leaf> and the certificates in *chain*; no signed
    attributes and SHA-256, like IMDS' documents."""
    with tempfile.TemporaryDirectory(prefix="azfabric-sign-") as tmp:
        data = os.path.join(tmp, "doc.json")
        with open(data, "wb") as handle:
            handle.write(content)
        args = ["smime", "-sign", "-binary", "-nodetach", "-noattr", "-md", "sha256", "-outform", "DER",
                "-in", data, "-signer", os.path.join(out, leaf + ".pem"), "-inkey", os.path.join(out, leaf + ".key")]
        if chain:
            extra = os.path.join(tmp, "chain.pem")
            with open(extra, "w") as handle:
                for name in chain:
                    with open(os.path.join(out, name + ".pem")) as src:
                        handle.write(src.read())
            args += ["-certfile", extra]
        return run_openssl(args)
