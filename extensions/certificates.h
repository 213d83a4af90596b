/* SPDX-License-Identifier: MIT */
/*
 * Certificates (wire protocol §1.6). The agent creates a self-signed RSA-2048 transport certificate
 * (CN=LinuxTransport, 730 days, SubjectKeyIdentifier = SHA-1 hash as openssl's "subjectKeyIdentifier=hash")
 * and sends it with the Certificates request; the WireServer answers with a CMS EnvelopedData addressed to it
 * (recipient by SKI; AES-128-CBC + RSAES-OAEP or DES-EDE3-CBC + PKCS#1 v1.5) whose content is a PKCS#12 with an
 * empty password holding the tenant certificates and their private keys. These are written, waagent-compatibly,
 * as <THUMBPRINT>.crt / <THUMBPRINT>.prv (PEM) where the thumbprint is the SHA-1 of the DER certificate in
 * 40 upper-case hex digits; extensions (protected settings) and KeyVault read them from there.
 *
 * Everything is done in-process with OpenSSL 3 (CMS, PKCS12, X509, EVP); nothing shells out.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CERTIFICATES_FORMAT_PFX "Pkcs7BlobWithPfxContents"
#define CERTIFICATES_MAX        64U
#define CERTIFICATES_DATA_MAX   (4U * 1024U * 1024U)
#define TRANSPORT_CERT_DAYS     730
#define TRANSPORT_CERT_FILE     "TransportCert.pem"
#define TRANSPORT_KEY_FILE      "TransportPrivate.pem"

/* The cipher the agent asks for (x-ms-cipher-name); DES_EDE3_CBC is the fallback when AES fails. */
#define CERTIFICATES_CIPHER_AES128 "AES128_CBC"
#define CERTIFICATES_CIPHER_3DES   "DES_EDE3_CBC"

int transport_cert_generate(EVP_PKEY **ret_key, X509 **ret_cert);

/* PEM helpers. Key PEM is PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted, like `openssl req -nodes`. */
int pem_load_private_key(const void *buf, size_t len, EVP_PKEY **ret);
int pem_load_certificate(const void *buf, size_t len, X509 **ret);
int pem_format_certificate(X509 *cert, char **ret);
int pem_format_private_key(EVP_PKEY *key, char **ret); /* secret: free with erase_and_free() */

/* Saves TransportPrivate.pem (0600) and TransportCert.pem (0644) in dir under root_fd; loads them back. */
int transport_cert_save(int root_fd, const char *dir, EVP_PKEY *key, X509 *cert);
/* The same; with secrets_dir (tmpfs, docs/security.md "Confidential VMs") the key goes there and
 * TransportPrivate.pem is a symlink to it (common/secret-file.h). -EMEDIUMTYPE when secrets_dir is not tmpfs. */
int transport_cert_save_to(int root_fd, const char *dir, const char *secrets_dir, EVP_PKEY *key, X509 *cert);
int transport_cert_load(int root_fd, const char *dir, EVP_PKEY **ret_key, X509 **ret_cert);
/* Value of the x-ms-guest-agent-public-x509-cert header: base64 of the DER certificate, no newlines. */
int transport_cert_header_value(X509 *cert, char **ret);

/* Thumbprint: SHA-1 over the DER certificate, 40 upper-case hex characters. */
int certificate_thumbprint(X509 *cert, char ret[static 41]);

/*
 * The public key as an OpenSSH authorized_keys line without a comment, byte for byte what `ssh-keygen -i -m
 * PKCS8` prints for it: "ssh-rsa <base64>", "ecdsa-sha2-nistp256|384|521 <base64>" (the point uncompressed) or
 * "ssh-ed25519 <base64>". -EPROTONOSUPPORT for any other key type or curve. certificate_openssh_public_key()
 * does it for a certificate's key: ovf-env.xml may name an SSH key only by the thumbprint of a goal-state
 * certificate (waagent and cloud-init take the key from that certificate).
 */
int openssh_public_key_format(EVP_PKEY *key, char **ret);
int certificate_openssh_public_key(X509 *cert, char **ret);

typedef struct CertificatesXml {
        char *format;          /* NULL or "" when not specified */
        bool format_supported; /* Format absent/empty or Pkcs7BlobWithPfxContents */
        void *data;            /* DER CMS EnvelopedData; NULL when there is no <Data> (no certificates) */
        size_t data_size;
} CertificatesXml;

void certificates_xml_done(CertificatesXml *c);

/*
 * Parses the Certificates document. No <Data> → success with data NULL (no certificates). A Format other
 * than Pkcs7BlobWithPfxContents → success with format_supported false and data NULL (waagent skips it).
 */
int certificates_xml_parse(const char *buf, size_t len, CertificatesXml *ret, char **ret_error);

typedef struct Certificate {
        char thumbprint[41];
        X509 *cert;
        EVP_PKEY *key; /* the private key whose public key matches the certificate, or NULL */
} Certificate;

typedef struct CertificateList {
        Certificate *certs;
        size_t n;
} CertificateList;

void certificate_list_done(CertificateList *l);
const Certificate *certificate_list_find(const CertificateList *l, const char *thumbprint);

/*
 * Decrypts the CMS EnvelopedData with the transport key/certificate and parses the PKCS#12 inside (empty
 * password, tried as "" and as absent; the MAC is not verified, as waagent's -nomacver). Keys are matched to
 * certificates by public key. -EBADMSG when the blob is not CMS/PKCS#12, -EKEYREJECTED when it cannot be
 * decrypted with this key (not addressed to us).
 */
int certificates_decrypt(const void *cms_der, size_t len, EVP_PKEY *key, X509 *cert, CertificateList *ret,
                         char **ret_error);

/*
 * Writes <THUMB>.crt and, when the key is known, <THUMB>.prv (PEM, 0600, atomically) into dir (created 0700)
 * under root_fd.
 */
int certificates_write(int root_fd, const char *dir, const CertificateList *l);
/* The same; with secrets_dir the <THUMB>.prv keys go there (tmpfs, or -EMEDIUMTYPE before any key is written
 * elsewhere) and the <THUMB>.prv paths in dir are symlinks to them (common/secret-file.h). */
int certificates_write_to(int root_fd, const char *dir, const char *secrets_dir, const CertificateList *l);

/* waagent's Certificates.json summary: [{"thumbprint": "…", "hasPrivateKey": true|false}, …] */
int certificates_summary_json(const CertificateList *l, char **ret);
