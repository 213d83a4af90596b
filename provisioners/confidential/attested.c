/* SPDX-License-Identifier: MIT */
/*
 * IMDS attested data: the response and document parsers and the PKCS#7 verification (see attested.h for what is
 * verified and what is not). OpenSSL 3's CMS API reads the PKCS#7 SignedData (CMS is its superset); the signer's
 * chain is built by X509_verify_cert() with the purpose left open (Azure signs with a TLS certificate for
 * metadata.azure.com, not an S/MIME one), and the key usage and subjectAltName are checked here. Library code:
 * nothing is logged above debug; every failure comes back as -errno with a reason for the user.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attested.h"
#include "log.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all);
DEFINE_TRIVIAL_CLEANUP_FUNC(CMS_ContentInfo *, CMS_ContentInfo_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(GENERAL_NAMES *, GENERAL_NAMES_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(AUTHORITY_INFO_ACCESS *, AUTHORITY_INFO_ACCESS_free);

static void x509_stack_freep(STACK_OF(X509) * *s) {
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}
#define _cleanup_x509_stack_ _cleanup_(x509_stack_freep)

static int set_error(char **ret_error, int error, const char *fmt, ...) _printf_(3, 4);
static int set_error(char **ret_error, int error, const char *fmt, ...) {
        va_list ap;

        if (ret_error) {
                va_start(ap, fmt);
                if (strprintfv(ret_error, fmt, ap) < 0)
                        error = -ENOMEM;
                va_end(ap);
        }
        return error;
}

/* The most recent OpenSSL error as text (for reasons), and the queue cleared. */
static const char *openssl_reason(char *buf, size_t size) {
        unsigned long e = ERR_peek_last_error();

        if (e == 0)
                (void) snprintf(buf, size, "no detail");
        else
                ERR_error_string_n(e, buf, size);
        ERR_clear_error();
        return buf;
}

/* ---- the IMDS response ---- */

static int dispatch_bounded(const char *name, struct json_object *v, void *dest, JsonError *err,
                            size_t max) {
        if (json_object_is_type(v, json_type_string) && (size_t) json_object_get_string_len(v) > max)
                return json_error(err, name, "field '%s' is longer than %zu bytes", name, max);
        return json_dispatch_string(name, v, dest, err);
}

static int dispatch_signature(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_bounded(name, v, dest, err, ATTESTED_SIGNATURE_MAX / 3 * 4 + 1024);
}

static int dispatch_short(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_bounded(name, v, dest, err, ATTESTED_STRING_MAX);
}

typedef struct ResponseFields {
        char *encoding;
        char *signature;
} ResponseFields;

int attested_response_parse(const char *buf, size_t len, void **ret_der, size_t *ret_size, JsonError *err) {
        static const JsonDispatch table[] = {
                {"encoding", dispatch_short, offsetof(ResponseFields, encoding), JSON_MANDATORY},
                {"signature", dispatch_signature, offsetof(ResponseFields, signature), JSON_MANDATORY},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_free_ void *der = NULL;
        ResponseFields f = {};
        size_t size = 0;
        int r;

        if (!buf || !ret_der)
                return -EINVAL;
        if (len > ATTESTED_RESPONSE_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &root, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return json_error(err, "", "the response is not a JSON object");
        r = json_dispatch(root, table, 0, &f, err);
        if (r >= 0 && strcasecmp(f.encoding, "pkcs7") != 0)
                r = json_error(err, "encoding", "encoding is '%.32s', expected 'pkcs7'", f.encoding);
        if (r >= 0 && base64_decode(f.signature, strlen(f.signature), &der, &size) < 0)
                r = json_error(err, "signature", "signature is not base64");
        if (r >= 0 && (size == 0 || size > ATTESTED_SIGNATURE_MAX))
                r = json_error(err, "signature", "signature is %zu bytes (1 to %u expected)", size,
                               ATTESTED_SIGNATURE_MAX);
        free(f.encoding);
        free(f.signature);
        if (r < 0)
                return r;
        *ret_der = TAKE_PTR(der);
        if (ret_size)
                *ret_size = size;
        return 0;
}

/* ---- the signed document ---- */

void attested_document_done(AttestedDocument *d) {
        if (!d)
                return;
        free(d->nonce);
        free(d->subscription_id);
        free(d->sku);
        free(d->license_type);
        free(d->plan_name);
        free(d->plan_product);
        free(d->plan_publisher);
        free(d->created_on_text);
        free(d->expires_on_text);
        *d = (AttestedDocument){};
}

static bool leap_year(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Reads exactly n decimal digits at *p, advancing it. */
static int read_digits(const char **p, unsigned n, int *ret) {
        int v = 0;

        for (unsigned i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

static int expect_char(const char **p, char c) {
        if (**p != c)
                return -EINVAL;
        (*p)++;
        return 0;
}

int attested_parse_timestamp(const char *s, usec_t *ret) {
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int mon, day, year, hour, min, sec, oh, om, sign;
        const char *p = s;
        struct tm tm = {};
        time_t t;

        if (!s || !ret)
                return -EINVAL;
        if (read_digits(&p, 2, &mon) < 0 || expect_char(&p, '/') < 0 || read_digits(&p, 2, &day) < 0 ||
            expect_char(&p, '/') < 0)
                return -EINVAL;
        /* two-digit years (the form IMDS uses) are 20YY; a four-digit year is taken as it is */
        if (isdigit((unsigned char) p[0]) && isdigit((unsigned char) p[1]) &&
            isdigit((unsigned char) p[2])) {
                if (read_digits(&p, 4, &year) < 0)
                        return -EINVAL;
        } else if (read_digits(&p, 2, &year) < 0)
                return -EINVAL;
        else
                year += 2000;
        if (expect_char(&p, ' ') < 0 || read_digits(&p, 2, &hour) < 0 || expect_char(&p, ':') < 0 ||
            read_digits(&p, 2, &min) < 0 || expect_char(&p, ':') < 0 || read_digits(&p, 2, &sec) < 0 ||
            expect_char(&p, ' ') < 0)
                return -EINVAL;
        if (*p != '+' && *p != '-')
                return -EINVAL;
        sign = *p++ == '-' ? -1 : 1;
        if (read_digits(&p, 2, &oh) < 0 || read_digits(&p, 2, &om) < 0 || *p != 0)
                return -EINVAL;
        if (year < 2000 || year > 2999 || mon < 1 || mon > 12 || day < 1 ||
            day > mdays[mon - 1] + (mon == 2 && leap_year(year)) || hour > 23 || min > 59 || sec > 60 ||
            oh > 23 || om > 59)
                return -EINVAL;
        tm = (struct tm){.tm_year = year - 1900,
                         .tm_mon = mon - 1,
                         .tm_mday = day,
                         .tm_hour = hour,
                         .tm_min = min,
                         .tm_sec = sec};
        t = timegm(&tm);
        if (t == (time_t) -1)
                return -EINVAL;
        t -= sign * (oh * 3600 + om * 60);
        if (t < 0)
                return -EINVAL;
        *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

typedef struct DocumentFields {
        char *vm_id;
        struct json_object *plan;
        struct json_object *time_stamp;
} DocumentFields;

static int parse_time_stamp(struct json_object *o, AttestedDocument *d, JsonError *err) {
        static const JsonDispatch table[] = {
                {"createdOn", dispatch_short, offsetof(AttestedDocument, created_on_text), JSON_MANDATORY},
                {"expiresOn", dispatch_short, offsetof(AttestedDocument, expires_on_text), JSON_MANDATORY},
                {},
        };
        int r;

        r = json_dispatch(o, table, 0, d, err);
        if (r < 0)
                return r;
        if (attested_parse_timestamp(d->created_on_text, &d->created_on) < 0)
                return json_error(err, "timeStamp.createdOn",
                                  "timeStamp.createdOn '%.64s' is not "
                                  "\"MM/DD/YY HH:MM:SS +HHMM\"",
                                  d->created_on_text);
        if (attested_parse_timestamp(d->expires_on_text, &d->expires_on) < 0)
                return json_error(err, "timeStamp.expiresOn",
                                  "timeStamp.expiresOn '%.64s' is not "
                                  "\"MM/DD/YY HH:MM:SS +HHMM\"",
                                  d->expires_on_text);
        if (d->expires_on < d->created_on)
                return json_error(err, "timeStamp", "the document expires (%s) before it was created (%s)",
                                  d->expires_on_text, d->created_on_text);
        return 0;
}

int attested_document_parse(const char *buf, size_t len, AttestedDocument *ret, JsonError *err) {
        static const JsonDispatch table[] = {
                {"nonce", dispatch_short, offsetof(AttestedDocument, nonce), JSON_MANDATORY},
                {"subscriptionId", dispatch_short, offsetof(AttestedDocument, subscription_id),
                 JSON_NULLABLE},
                {"sku", dispatch_short, offsetof(AttestedDocument, sku), JSON_NULLABLE},
                {"licenseType", dispatch_short, offsetof(AttestedDocument, license_type), JSON_NULLABLE},
                {},
        };
        static const JsonDispatch fields_table[] = {
                {"vmId", dispatch_short, offsetof(DocumentFields, vm_id), JSON_MANDATORY},
                {"plan", json_dispatch_object, offsetof(DocumentFields, plan), JSON_NULLABLE},
                {"timeStamp", json_dispatch_object, offsetof(DocumentFields, time_stamp), JSON_MANDATORY},
                {},
        };
        static const JsonDispatch plan_table[] = {
                {"name", dispatch_short, offsetof(AttestedDocument, plan_name), JSON_NULLABLE},
                {"product", dispatch_short, offsetof(AttestedDocument, plan_product), JSON_NULLABLE},
                {"publisher", dispatch_short, offsetof(AttestedDocument, plan_publisher), JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_(attested_document_done) AttestedDocument d = {};
        DocumentFields f = {};
        int r;

        if (!buf || !ret)
                return -EINVAL;
        if (len > ATTESTED_DOCUMENT_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &root, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(root, json_type_object))
                return json_error(err, "", "the attested document is not a JSON object");
        r = json_dispatch(root, fields_table, 0, &f, err);
        if (r >= 0)
                r = json_dispatch(root, table, 0, &d, err);
        if (r >= 0 && uuid_normalize(f.vm_id, d.vm_id) < 0)
                r = json_error(err, "vmId", "vmId '%.64s' is not a UUID", f.vm_id);
        if (r >= 0 && f.plan)
                r = json_dispatch(f.plan, plan_table, 0, &d, err);
        if (r >= 0)
                r = parse_time_stamp(f.time_stamp, &d, err);
        free(f.vm_id);
        json_object_put(f.plan);
        json_object_put(f.time_stamp);
        if (r < 0)
                return r;
        *ret = d;
        d = (AttestedDocument){};
        return 0;
}

/* ---- trust ---- */

void attested_trust_done(AttestedTrust *t) {
        if (!t)
                return;
        X509_STORE_free(t->store);
        x509_stack_freep(&t->intermediates);
        strv_free(t->signer_domains);
        *t = (AttestedTrust){};
}

/* Calls add(cert, userdata) for every PEM certificate in buf; -ENOKEY when there is none. */
static int pem_foreach(const char *buf, size_t len, int (*add)(X509 *x, void *userdata), void *userdata,
                       unsigned *ret_n) {
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        unsigned n = 0;
        int r;

        if (len > INT_MAX)
                return -E2BIG;
        bio = BIO_new_mem_buf(buf, (int) len);
        if (!bio)
                return -ENOMEM;
        for (;;) {
                _cleanup_(X509_freep) X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

                if (!x)
                        break;
                r = add(x, userdata);
                if (r < 0) {
                        ERR_clear_error();
                        return r;
                }
                n++;
        }
        ERR_clear_error(); /* the end of the input is reported as an error */
        if (n == 0)
                return -ENOKEY;
        if (ret_n)
                *ret_n = n;
        return 0;
}

static int add_to_store(X509 *x, void *userdata) {
        /* X509_STORE_add_cert() takes its own reference; a duplicate is fine */
        return X509_STORE_add_cert(userdata, x) == 1 ? 0 : -ENOMEM;
}

static int add_to_stack(X509 *x, void *userdata) {
        if (!X509_up_ref(x))
                return -ENOMEM;
        if (sk_X509_push(userdata, x) <= 0) {
                X509_free(x);
                return -ENOMEM;
        }
        return 0;
}

int attested_store_add_pem(X509_STORE *store, const char *buf, size_t len, unsigned *ret_n) {
        return pem_foreach(buf, len, add_to_store, store, ret_n);
}

int attested_stack_add_pem(STACK_OF(X509) * stack, const char *buf, size_t len, unsigned *ret_n) {
        return pem_foreach(buf, len, add_to_stack, stack, ret_n);
}

/* ---- verification ---- */

void attested_verified_done(AttestedVerified *v) {
        if (!v)
                return;
        free(v->content);
        attested_document_done(&v->doc);
        free(v->signer);
        free(v->signer_dns);
        strv_free(v->chain);
        *v = (AttestedVerified){};
}

static int name_oneline(const X509_NAME *name, char **ret) {
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        char *data;
        long n;

        if (!bio)
                return -ENOMEM;
        if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) < 0)
                return -ENOMEM;
        n = BIO_get_mem_data(bio, &data);
        if (n < 0)
                return -ENOMEM;
        *ret = strndup(n > 0 ? data : "", (size_t) MAX(n, 0));
        return *ret ? 0 : -ENOMEM;
}

/* domain matches itself and every subdomain ("eastus.metadata.azure.com" for "metadata.azure.com"). */
static bool dns_name_in_domain(const char *name, size_t n, const char *domain) {
        size_t d = strlen(domain);

        if (n == d)
                return strncasecmp(name, domain, n) == 0;
        return n > d + 1 && name[n - d - 1] == '.' && strncasecmp(name + n - d, domain, d) == 0;
}

/* Step 4: digitalSignature allowed, and a subjectAltName DNS name within a signer domain. */
static int check_signer(X509 *signer, char *const *domains, char **ret_dns, char **ret_error) {
        _cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *names = NULL;
        _cleanup_free_ char *seen = NULL;

        if ((X509_get_extension_flags(signer) & EXFLAG_KUSAGE) &&
            !(X509_get_key_usage(signer) & KU_DIGITAL_SIGNATURE))
                return set_error(ret_error, -EKEYREJECTED,
                                 "the signing certificate's key usage does not allow digitalSignature");
        names = X509_get_ext_d2i(signer, NID_subject_alt_name, NULL, NULL);
        for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
                const char *dns;
                int n;

                if (g->type != GEN_DNS)
                        continue;
                dns = (const char *) ASN1_STRING_get0_data(g->d.dNSName);
                n = ASN1_STRING_length(g->d.dNSName);
                if (n <= 0 || n > 253 || memchr(dns, 0, (size_t) n))
                        continue;
                for (char *const *d = domains; d && *d; d++)
                        if (dns_name_in_domain(dns, (size_t) n, *d)) {
                                *ret_dns = strndup(dns, (size_t) n);
                                return *ret_dns ? 0 : -ENOMEM;
                        }
                if (!seen && asprintf(&seen, "%.*s", n, dns) < 0)
                        return -ENOMEM;
        }
        return set_error(
                ret_error, -EKEYREJECTED, "the signing certificate is not issued to a signer domain (%s%s)",
                seen ? "its subjectAltName names " : "it has no subjectAltName DNS name", strempty(seen));
}

/* The caIssuers http:// URL of cert's Authority Information Access extension, or NULL. */
static char *aia_ca_issuers(X509 *cert) {
        _cleanup_(AUTHORITY_INFO_ACCESS_freep) AUTHORITY_INFO_ACCESS *aia =
                X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);

        for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
                const ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
                const char *uri;
                int n;

                if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
                        continue;
                uri = (const char *) ASN1_STRING_get0_data(ad->location->d.uniformResourceIdentifier);
                n = ASN1_STRING_length(ad->location->d.uniformResourceIdentifier);
                if (n > 7 && n < 2048 && !memchr(uri, 0, (size_t) n) && strncasecmp(uri, "http://", 7) == 0)
                        return strndup(uri, (size_t) n);
        }
        return NULL;
}

/* Whether a certificate in untrusted or the store (its lookups included: hashed directories) issued cert. */
static bool issuer_known(X509 *cert, STACK_OF(X509) * untrusted, X509_STORE *store) {
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        X509 *issuer = NULL;
        bool found;

        for (int i = 0; i < sk_X509_num(untrusted); i++)
                if (X509_check_issued(sk_X509_value(untrusted, i), cert) == X509_V_OK)
                        return true;
        ctx = X509_STORE_CTX_new();
        if (!ctx || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1)
                return false;
        found = X509_STORE_CTX_get1_issuer(&issuer, ctx, cert) == 1;
        X509_free(issuer);
        ERR_clear_error();
        return found;
}

/*
 * With a fetcher configured: while the certificate at the end of what we can build has an issuer that is
 * neither given nor trusted, fetch that issuer from its AIA caIssuers URL (at most ATTESTED_CHAIN_MAX).
 * Certificates from the store are found by X509_STORE's own lookup (default paths are hashed directories).
 */
static int fetch_missing_issuers(const AttestedTrust *t, X509 *signer, STACK_OF(X509) * untrusted,
                                 unsigned *ret_fetched) {
        X509 *cur = signer;
        unsigned n = 0;
        int r;

        while (t->fetch_issuer && n < ATTESTED_CHAIN_MAX && X509_check_issued(cur, cur) != X509_V_OK &&
               !issuer_known(cur, untrusted, t->store)) {
                _cleanup_free_ char *url = aia_ca_issuers(cur);
                X509 *issuer = NULL;

                if (!url)
                        break;
                r = t->fetch_issuer(url, t->fetch_userdata, &issuer);
                if (r < 0) {
                        log_debug_errno(r, "Could not fetch the issuer at %s: %m", url);
                        break;
                }
                if (X509_check_issued(issuer, cur) != X509_V_OK || sk_X509_push(untrusted, issuer) <= 0) {
                        X509_free(issuer);
                        break;
                }
                n++;
                cur = issuer;
        }
        *ret_fetched = n;
        return 0;
}

static int chain_subjects(STACK_OF(X509) * chain, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        for (int i = 0; i < sk_X509_num(chain); i++) {
                _cleanup_free_ char *s = NULL;

                r = name_oneline(X509_get_subject_name(sk_X509_value(chain, i)), &s);
                if (r < 0)
                        return r;
                r = strv_extend(&l, s);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Step 3: the signer's chain up to a trust anchor. */
static int verify_chain(const AttestedTrust *t, X509 *signer, STACK_OF(X509) * untrusted,
                        AttestedVerified *v, char **ret_error) {
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        STACK_OF(X509) * chain;
        int r, err;

        if (!ctx)
                return -ENOMEM;
        r = fetch_missing_issuers(t, signer, untrusted, &v->fetched);
        if (r < 0)
                return r;
        if (X509_STORE_CTX_init(ctx, t->store, signer, untrusted) != 1)
                return -ENOMEM;
        (void) X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_ANY);
        if (t->verify_time > 0)
                X509_STORE_CTX_set_time(ctx, 0, t->verify_time);
        if (X509_verify_cert(ctx) != 1) {
                _cleanup_free_ char *at = NULL;
                X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
                int depth = X509_STORE_CTX_get_error_depth(ctx);

                err = X509_STORE_CTX_get_error(ctx);
                ERR_clear_error();
                if (cur && depth > 0 && name_oneline(X509_get_subject_name(cur), &at) < 0)
                        return -ENOMEM;
                /* Nothing that issued the signer itself: the case of Azure's leaf-only messages. */
                return set_error(
                        ret_error, -EKEYREJECTED,
                        "the signing certificate (%s) does not chain to a trusted root: %s%s%s%s", v->signer,
                        X509_verify_cert_error_string(err), at ? " at " : "", strempty(at),
                        depth == 0 && (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
                                       err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT)
                                ? " (the message carries no certificate that issued it; give Azure's "
                                  "intermediate CAs in [Attestation] Intermediates= or set "
                                  "FetchIntermediates=yes)"
                                : "");
        }
        chain = X509_STORE_CTX_get0_chain(ctx);
        return chain_subjects(chain, &v->chain);
}

static int cms_content(CMS_ContentInfo *cms, char **ret_error) {
        ASN1_OCTET_STRING **pos;

        if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
                return set_error(ret_error, -EBADMSG, "the signature is not a PKCS#7 SignedData");
        if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data)
                return set_error(ret_error, -EBADMSG, "the signed content is not of type id-data");
        pos = CMS_get0_content(cms);
        if (!pos || !*pos)
                return set_error(ret_error, -EBADMSG,
                                 "the signature is detached: the document is not in it");
        if (ASN1_STRING_length(*pos) <= 0 || (size_t) ASN1_STRING_length(*pos) > ATTESTED_DOCUMENT_MAX)
                return set_error(ret_error, -EBADMSG, "the signed document is %d bytes (1 to %u expected)",
                                 ASN1_STRING_length(*pos), ATTESTED_DOCUMENT_MAX);
        if (sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) != 1)
                return set_error(ret_error, -EBADMSG, "the signature has %d signers, expected one",
                                 sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)));
        return 0;
}

/* Step 2: the signature over the content; the content is copied out (exactly as signed). */
static int verify_signature(CMS_ContentInfo *cms, STACK_OF(X509) * untrusted, AttestedVerified *v,
                            X509 **ret_signer, char **ret_error) {
        _cleanup_(BIO_free_allp) BIO *out = BIO_new(BIO_s_mem());
        STACK_OF(X509) * signers;
        char reason[256], *data;
        long n;
        int r;

        if (!out)
                return -ENOMEM;
        if (CMS_verify(cms, untrusted, NULL, NULL, out, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
                unsigned long e = ERR_peek_last_error();

                (void) openssl_reason(reason, sizeof reason);
                if (ERR_GET_REASON(e) == CMS_R_SIGNER_CERTIFICATE_NOT_FOUND)
                        return set_error(ret_error, -EKEYREJECTED,
                                         "the signing certificate is neither in the message nor given (%s)",
                                         reason);
                return set_error(
                        ret_error, -EKEYREJECTED,
                        "the signature does not match the signed document: it was altered or not signed by "
                        "that certificate (%s)",
                        reason);
        }
        n = BIO_get_mem_data(out, &data);
        if (n <= 0 || (size_t) n > ATTESTED_DOCUMENT_MAX || memchr(data, 0, (size_t) n))
                return set_error(ret_error, -EBADMSG, "the signed document is empty, too large or binary");
        v->content = strndup(data, (size_t) n);
        if (!v->content)
                return -ENOMEM;
        v->content_size = (size_t) n;
        signers = CMS_get0_signers(cms);
        if (sk_X509_num(signers) != 1) {
                sk_X509_free(signers);
                return set_error(ret_error, -EBADMSG, "the signature names no single signer");
        }
        *ret_signer = sk_X509_value(signers, 0);
        sk_X509_free(signers);
        r = X509_up_ref(*ret_signer) ? 0 : -ENOMEM;
        if (r < 0)
                *ret_signer = NULL;
        return r;
}

int attested_verify(const void *der, size_t size, const AttestedTrust *t, AttestedVerified *ret,
                    char **ret_error) {
        _cleanup_(attested_verified_done) AttestedVerified v = {};
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_x509_stack_ STACK_OF(X509) *untrusted = NULL;
        _cleanup_(BIO_free_allp) BIO *in = NULL;
        _cleanup_(X509_freep) X509 *signer = NULL;
        STACK_OF(X509) * certs;
        JsonError err = {};
        int r;

        if (!der || !t || !t->store || !ret)
                return -EINVAL;
        if (size == 0 || size > ATTESTED_SIGNATURE_MAX)
                return set_error(ret_error, -EBADMSG, "the signature is %zu bytes (1 to %u expected)", size,
                                 ATTESTED_SIGNATURE_MAX);
        in = BIO_new_mem_buf(der, (int) size);
        if (!in)
                return -ENOMEM;
        cms = d2i_CMS_bio(in, NULL);
        if (!cms) {
                ERR_clear_error();
                return set_error(ret_error, -EBADMSG, "the signature is not a DER PKCS#7 structure");
        }
        r = cms_content(cms, ret_error);
        if (r < 0)
                return r;

        /* Intermediates: the message's certificates and the configured bundle (both untrusted). */
        untrusted = sk_X509_new_null();
        if (!untrusted)
                return -ENOMEM;
        certs = CMS_get1_certs(cms);
        for (int i = 0; certs && i < sk_X509_num(certs); i++)
                if (sk_X509_push(untrusted, sk_X509_value(certs, i)) <= 0) {
                        sk_X509_pop_free(certs, X509_free);
                        return -ENOMEM;
                }
        sk_X509_free(certs); /* the references moved to untrusted */
        for (int i = 0; t->intermediates && i < sk_X509_num(t->intermediates); i++)
                if (add_to_stack(sk_X509_value(t->intermediates, i), untrusted) < 0)
                        return -ENOMEM;
        if (sk_X509_num(untrusted) > (int) ATTESTED_CHAIN_MAX * 4)
                return set_error(ret_error, -EBADMSG, "the signature carries %d certificates",
                                 sk_X509_num(untrusted));

        r = verify_signature(cms, untrusted, &v, &signer, ret_error);
        if (r < 0)
                return r;
        r = name_oneline(X509_get_subject_name(signer), &v.signer);
        if (r < 0)
                return r;
        r = verify_chain(t, signer, untrusted, &v, ret_error);
        if (r < 0)
                return r;
        r = check_signer(signer, t->signer_domains, &v.signer_dns, ret_error);
        if (r < 0)
                return r;
        r = attested_document_parse(v.content, v.content_size, &v.doc, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_error(ret_error, -EBADMSG, "the signed document is invalid: %s",
                                 err.message[0] ? err.message : strerror(-r));
        *ret = v;
        v = (AttestedVerified){};
        return 0;
}

int attested_check(const AttestedDocument *d, const char *nonce, const char *vm_id, usec_t now, usec_t skew,
                   char **ret_error) {
        char now_text[64] = "";

        if (!d || !nonce || !vm_id)
                return -EINVAL;
        if (!streq_ptr(d->nonce, nonce))
                return set_error(ret_error, -ESTALE,
                                 "the signed document carries nonce '%s', not the '%s' asked for "
                                 "(a replayed or cached document)",
                                 strna(d->nonce), nonce);
        if (!streq(d->vm_id, vm_id))
                return set_error(ret_error, -EXDEV, "the signed document is for VM %s, this instance is %s",
                                 d->vm_id, vm_id);
        (void) format_timestamp_iso(now, now_text, sizeof now_text);
        if (d->created_on > skew && now < d->created_on - skew)
                return set_error(ret_error, -ETIME,
                                 "the signed document is not valid yet: created on %s, now is %s",
                                 d->created_on_text, now_text);
        if (now > d->expires_on + skew)
                return set_error(ret_error, -ETIME, "the signed document expired on %s, now is %s",
                                 d->expires_on_text, now_text);
        return 0;
}
