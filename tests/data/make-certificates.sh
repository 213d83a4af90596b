#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Regenerates the certificate test data in tests/data/wire/ (docs/protocol/certificates.md, protocol §1.6):
#
#   transport-key.pem, transport-cert.pem  the guest's transport certificate (RSA-2048, CN=LinuxTransport,
#                                           with a SubjectKeyIdentifier: the fabric addresses the blob by it)
#   tenant-*.pem                           the tenant certificates inside the blob: "with-key" (certificate +
#                                           private key) and "cert-only" (certificate alone)
#   certificates.xml                       the Certificates document: CMS EnvelopedData (RSA PKCS#1 v1.5 key
#                                           transport, DES-EDE3-CBC, recipient by SKI) of a PKCS#12 with an
#                                           empty password holding the key and both certificates
#   certificates-no-format.xml             the same blob without <Format> (accepted)
#   certificates-not-pfx.xml               <Format>CertificatesNonPfxPackage</Format> (skipped)
#   certificates-other-recipient.xml       a blob for another transport certificate (cannot be opened)
#   protected-settings.txt                 {"secret": "azl-test-protected-value", "count": 2} encrypted to the
#                                           "with-key" tenant certificate, base64 on one line, as protectedSettings
#   thumbprints.txt                        SHA-1 of each tenant certificate's DER, upper-case hex
#
# Keys are random: running this again produces different files and thumbprints, and the tests that name a
# thumbprint (tests/extensions/test-certificates.c, test-ext-conf.c) must follow. The committed files are what
# the tests use; nothing here runs at build or test time.
set -euo pipefail

out=$(cd "$(dirname "$0")" && pwd)/wire
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

days=36500      # the tests must not start failing when a certificate expires
selfsigned() { # KEYFILE CERTFILE SUBJECT
        openssl req -x509 -nodes -newkey rsa:2048 -days "$days" -subj "$3" -keyout "$1" -out "$2" 2>/dev/null
}
thumbprint() {
        openssl x509 -in "$1" -outform DER | sha1sum | cut -d' ' -f1 | tr a-f A-F
}
blob_xml() { # DER-FILE FORMAT-LINE
        {
                printf '<?xml version="1.0" encoding="utf-8"?>\n'
                printf '<CertificateFile xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
                printf ' xsi:noNamespaceSchemaLocation="certificates10.xsd">\n'
                printf '  <Version>2012-11-30</Version>\n  <Incarnation>3</Incarnation>\n'
                [ -n "$2" ] && printf '  %s\n' "$2"
                printf '  <Data>'
                base64 -w 64 "$1"
                printf '</Data>\n</CertificateFile>\n'
        }
}

selfsigned transport-key.pem transport-cert.pem /CN=LinuxTransport
selfsigned other-key.pem other-cert.pem /CN=LinuxTransport
selfsigned tenant-with-key.key tenant-with-key.pem "/CN=azl-agent test tenant with key"
selfsigned tenant-cert-only.key tenant-cert-only.pem "/CN=azl-agent test tenant certificate only"

openssl pkcs12 -export -passout pass: -keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 \
        -inkey tenant-with-key.key -in tenant-with-key.pem -certfile tenant-cert-only.pem -out tenants.pfx
openssl cms -encrypt -binary -outform DER -des3 -keyid -recip transport-cert.pem -in tenants.pfx -out blob.der
openssl cms -encrypt -binary -outform DER -des3 -keyid -recip other-cert.pem -in tenants.pfx -out other.der

blob_xml blob.der '<Format>Pkcs7BlobWithPfxContents</Format>' > "$out/certificates.xml"
blob_xml blob.der '' > "$out/certificates-no-format.xml"
blob_xml blob.der '<Format>CertificatesNonPfxPackage</Format>' > "$out/certificates-not-pfx.xml"
blob_xml other.der '<Format>Pkcs7BlobWithPfxContents</Format>' > "$out/certificates-other-recipient.xml"

printf '{"secret": "azl-test-protected-value", "count": 2}' |
        openssl cms -encrypt -binary -outform DER -aes256 -recip tenant-with-key.pem |
        base64 -w 0 > "$out/protected-settings.txt"
echo >> "$out/protected-settings.txt"

cp transport-key.pem transport-cert.pem tenant-with-key.pem tenant-cert-only.pem "$out/"
printf 'with-key %s\ncert-only %s\n' "$(thumbprint tenant-with-key.pem)" "$(thumbprint tenant-cert-only.pem)" \
        > "$out/thumbprints.txt"
cat "$out/thumbprints.txt"
