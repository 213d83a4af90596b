/* SPDX-License-Identifier: MIT */
/*
 * IMDS attested data (IMDS doc "Attested data"): what `azl-agent attest` verifies.
 *
 *   GET /metadata/attested/document?api-version=…&nonce=<1–10 digits>
 *   → {"encoding": "pkcs7", "signature": "<base64 of a DER PKCS#7 SignedData>"}
 *
 * The SignedData encapsulates the document (JSON) and carries the signing certificate (Azure sends the leaf only;
 * the intermediates come from the message, a configured bundle or, when configured, the leaf's AIA caIssuers URL).
 * The document:
 *
 *   {"licenseType": "", "nonce": "1234567890", "plan": {"name": "", "product": "", "publisher": ""},
 *    "sku": "…", "subscriptionId": "…", "timeStamp": {"createdOn": "11/30/20 21:19:19 -0000",
 *    "expiresOn": "11/30/20 21:19:24 -0000"}, "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6"}
 *
 * What is verified, in order (attested_verify(), then attested_check()):
 *   1. the response is {"encoding": "pkcs7", "signature": base64} and the signature a DER SignedData over the
 *      id-data content type with the content attached, one signer;
 *   2. the signature over the content, with the signer's certificate (OpenSSL CMS_verify);
 *   3. the signer's certificate chains to a trust anchor (the system trust store, or [Attestation] TrustAnchors=),
 *      through intermediates from the message or [Attestation] Intermediates= (OpenSSL X509_verify_cert: validity
 *      periods, CA basic constraints, signatures along the chain);
 *   4. the signer's key usage allows digitalSignature (when the certificate restricts it) and one of its
 *      subjectAltName DNS names is a signer domain or a subdomain of one (IMDS doc "Signature Validation
 *      Guidance": *.metadata.azure.com, .azure.us, .azure.cn, .microsoftazure.de);
 *   5. the signed document's nonce equals the one asked for, its vmId equals the instance's, and now lies in
 *      [createdOn − skew, expiresOn + skew].
 * Not verified: revocation (no CRL/OCSP fetch), and nothing about the hardware: that is the attestation service's
 * job with the vTPM evidence (hcl-report.h).
 *
 * Parsers are pure functions over (buf, len), bounded by the *_MAX constants, and fuzzed (tests/fuzz).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "json-util.h"
#include "strutil.h"

#define ATTESTED_RESPONSE_MAX  (64U * 1024U) /* the JSON IMDS returns */
#define ATTESTED_SIGNATURE_MAX (32U * 1024U) /* the DER PKCS#7 */
#define ATTESTED_DOCUMENT_MAX  (16U * 1024U) /* the signed JSON document */
#define ATTESTED_STRING_MAX    1024U         /* any string field of the document */
#define ATTESTED_DOMAINS_MAX   16U
#define ATTESTED_CHAIN_MAX     8U /* certificates in a chain, AIA fetches included */

/* {"encoding": "pkcs7", "signature": "…"} → the DER bytes of the signature (base64-decoded, bounded). */
int attested_response_parse(const char *buf, size_t len, void **ret_der, size_t *ret_size, JsonError *err);

typedef struct AttestedDocument {
        char *nonce;
        char vm_id[37]; /* normalized */
        char *subscription_id;
        char *sku;
        char *license_type;
        char *plan_name, *plan_product, *plan_publisher;
        char *created_on_text, *expires_on_text;
        usec_t created_on, expires_on; /* CLOCK_REALTIME µs */
} AttestedDocument;

void attested_document_done(AttestedDocument *d);

/* The signed JSON document: nonce, vmId (a UUID) and timeStamp.createdOn/expiresOn are mandatory. */
int attested_document_parse(const char *buf, size_t len, AttestedDocument *ret, JsonError *err);

/* "MM/DD/YY HH:MM:SS ±HHMM" (IMDS' timeStamp form; years 2000–2099) → µs since the epoch, UTC. */
int attested_parse_timestamp(const char *s, usec_t *ret);

typedef struct AttestedTrust {
        X509_STORE *store;              /* trust anchors */
        STACK_OF(X509) * intermediates; /* untrusted helpers from a configured bundle; may be NULL */
        char **signer_domains;          /* SAN DNS names accepted: each domain and its subdomains */
        time_t verify_time;             /* 0: now (tests set it) */
        /* Optional: fetches the certificate at an AIA caIssuers URL (http:// only); NULL = never fetch. */
        int (*fetch_issuer)(const char *url, void *userdata, X509 **ret);
        void *fetch_userdata;
} AttestedTrust;

void attested_trust_done(AttestedTrust *t);

/* Reads PEM certificates from a buffer: into a store (trust anchors) or a stack (intermediates). -ENOKEY when
 * the buffer holds no certificate. */
int attested_store_add_pem(X509_STORE *store, const char *buf, size_t len, unsigned *ret_n);
int attested_stack_add_pem(STACK_OF(X509) * stack, const char *buf, size_t len, unsigned *ret_n);

typedef struct AttestedVerified {
        char *content; /* the signed document, NUL-terminated, exactly as signed */
        size_t content_size;
        AttestedDocument doc;
        char *signer;     /* the signer's subject, one line */
        char *signer_dns; /* the subjectAltName that matched a signer domain */
        char **chain;     /* subjects, signer first, trust anchor last */
        unsigned fetched; /* intermediates fetched through AIA */
} AttestedVerified;

void attested_verified_done(AttestedVerified *v);

/*
 * Steps 1–4 above on the DER signature, then parses the content. On failure returns -errno and a precise reason:
 * -EBADMSG (malformed signature or document), -EKEYREJECTED (the signature does not match the content, the
 * chain does not verify, or the signer is not acceptable), -ENOMEM.
 */
int attested_verify(const void *der, size_t size, const AttestedTrust *t, AttestedVerified *ret,
                    char **ret_error);

/*
 * Step 5: -ESTALE when the nonce differs, -EXDEV when the vmId differs, -ETIME outside the validity window
 * (skew widens it on both sides), with a precise reason.
 */
int attested_check(const AttestedDocument *d, const char *nonce, const char *vm_id, usec_t now, usec_t skew,
                   char **ret_error);
