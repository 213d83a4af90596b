/* SPDX-License-Identifier: MIT */
/*
 * IMDS attested data (provisioners/confidential/attested.h): the parsers, the timestamp form, and the verification against the
 * fabric's CA chains (`azfabric.py pki`: root → issuing CA → metadata.azure.com, a rogue chain with the same names,
 * a leaf for another domain, one without digitalSignature), signed here with OpenSSL as IMDS signs (PKCS#7, no
 * signed attributes, SHA-256). Skips (77) when python3 or the openssl command is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "attested.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

#define VM_ID "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"
#define DOC                                                                                                 \
        "{\"licenseType\":\"\",\"nonce\":\"1234567890\",\"plan\":{\"name\":\"\",\"product\":\"\","          \
        "\"publisher\":\"\"},"                                                                              \
        "\"sku\":\"gen2\",\"subscriptionId\":\"8d2f1c6a-3b4e-4f5a-9c7d-1e2f3a4b5c6d\",\"timeStamp\":{"      \
        "\"createdOn\":"                                                                                    \
        "\"11/30/20 21:19:19 -0000\",\"expiresOn\":\"11/30/20 21:19:24 -0000\"},\"vmId\":\"" VM_ID "\"}"

static char *pki; /* the directory azfabric.py pki wrote */

static char *pki_path(const char *name, const char *ext) {
        char *p;

        assert_true(asprintf(&p, "%s/%s.%s", pki, name, ext) > 0);
        return p;
}

static X509 *load_cert(const char *name) {
        _cleanup_free_ char *path = pki_path(name, "pem");
        FILE *f = fopen(path, "re");
        X509 *x;

        assert_non_null(f);
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
        assert_non_null(x);
        return x;
}

/* PKCS#7 SignedData of content by <leaf>, carrying the certificates in chain (NULL-terminated). */
static void *sign(const char *leaf, const char *const *chain, const char *content, size_t *ret_size) {
        _cleanup_free_ char *key_path = pki_path(leaf, "key");
        STACK_OF(X509) *certs = sk_X509_new_null();
        FILE *f = fopen(key_path, "re");
        X509 *cert = load_cert(leaf);
        EVP_PKEY *key;
        CMS_ContentInfo *cms;
        BIO *in, *out;
        char *data;
        void *der;
        long n;

        assert_non_null(f);
        key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
        assert_non_null(key);
        for (const char *const *c = chain; c && *c; c++)
                sk_X509_push(certs, load_cert(*c));
        in = BIO_new_mem_buf(content, (int) strlen(content));
        cms = CMS_sign(cert, key, certs, in, CMS_BINARY | CMS_NOSMIMECAP | CMS_NOATTR);
        assert_non_null(cms);
        out = BIO_new(BIO_s_mem());
        assert_int_equal(i2d_CMS_bio(out, cms), 1);
        n = BIO_get_mem_data(out, &data);
        der = malloc((size_t) n);
        memcpy(der, data, (size_t) n);
        *ret_size = (size_t) n;
        BIO_free(out);
        BIO_free(in);
        CMS_ContentInfo_free(cms);
        EVP_PKEY_free(key);
        X509_free(cert);
        sk_X509_pop_free(certs, X509_free);
        return der;
}

static void trust_init(AttestedTrust *t, bool with_intermediates) {
        _cleanup_free_ char *root = NULL, *inter = NULL, *root_path = pki_path("root", "pem"),
                            *inter_path = pki_path("inter", "pem");
        _cleanup_close_ int fs = -EBADF;
        size_t n;

        assert_int_equal(root_open("/", &fs), 0);
        *t = (AttestedTrust){.store = X509_STORE_new()};
        assert_int_equal(read_file_in_root(fs, root_path, 65536, &root, &n), 0);
        assert_int_equal(attested_store_add_pem(t->store, root, n, NULL), 0);
        assert_int_equal(strv_extend(&t->signer_domains, "metadata.azure.com"), 0);
        assert_int_equal(strv_extend(&t->signer_domains, "metadata.azure.us"), 0);
        if (with_intermediates) {
                t->intermediates = sk_X509_new_null();
                assert_int_equal(read_file_in_root(fs, inter_path, 65536, &inter, &n), 0);
                assert_int_equal(attested_stack_add_pem(t->intermediates, inter, n, NULL), 0);
        }
}

static void expect_rejected(const char *leaf, const char *const *chain, const AttestedTrust *t, int error,
                            const char *needle) {
        _cleanup_(attested_verified_done) AttestedVerified v = {};
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ void *der = NULL;
        size_t n;

        der = sign(leaf, chain, DOC, &n);
        assert_int_equal(attested_verify(der, n, t, &v, &reason), error);
        assert_non_null(reason);
        if (!strstr(reason, needle))
                fail_msg("'%s' does not say '%s'", reason, needle);
        assert_null(v.content);
}

static void test_timestamp(void **state) {
        usec_t t;

        assert_int_equal(attested_parse_timestamp("11/30/20 21:19:19 -0000", &t), 0);
        assert_int_equal(t, 1606771159 * USEC_PER_SEC);
        assert_int_equal(attested_parse_timestamp("11/30/20 22:19:19 +0100", &t), 0);
        assert_int_equal(t, 1606771159 * USEC_PER_SEC);
        assert_int_equal(attested_parse_timestamp("11/30/2020 21:19:19 -0000", &t), 0);
        assert_int_equal(t, 1606771159 * USEC_PER_SEC);
        assert_int_equal(attested_parse_timestamp("02/29/24 00:00:00 -0000", &t), 0);
        static const char *const bad[] = {
                "",
                "11/30/20 21:19:19",
                "11/30/20 21:19:19 Z",
                "02/30/20 00:00:00 -0000",
                "02/29/23 00:00:00 -0000",
                "13/01/20 00:00:00 -0000",
                "00/01/20 00:00:00 -0000",
                "11/30/20 24:00:00 -0000",
                "11/30/20 21:60:00 -0000",
                "1/30/20 21:19:19 -0000",
                "11/30/20 21:19:19 -00000",
                "11/30/20  21:19:19 -0000",
                "11-30-20 21:19:19 -0000",
                "11/30/20 21:19:19 +2400",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(attested_parse_timestamp(bad[i], &t), -EINVAL);
}

static void test_response_parse(void **state) {
        static const struct {
                const char *json;
                const char *field;
        } bad[] = {
                {"{\"encoding\": \"base64\", \"signature\": \"AAAA\"}", "encoding"},
                {"{\"encoding\": \"pkcs7\", \"signature\": \"!!!!\"}", "signature"},
                {"{\"encoding\": \"pkcs7\", \"signature\": \"\"}", "signature"},
                {"{\"encoding\": \"pkcs7\"}", "signature"},
                {"{\"signature\": \"AAAA\"}", "encoding"},
                {"{\"encoding\": 7, \"signature\": \"AAAA\"}", "encoding"},
                {"[\"pkcs7\"]", ""},
        };
        const char *good = "{\"encoding\": \"pkcs7\", \"signature\": \"MIIBAAEC\"}";
        _cleanup_free_ void *der = NULL;
        size_t n = 0;

        assert_int_equal(attested_response_parse(good, strlen(good), &der, &n, NULL), 0);
        assert_int_equal(n, 6);
        assert_memory_equal(der, "\x30\x82\x01\x00\x01\x02", 6);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                JsonError err = {};
                void *x = NULL;

                assert_int_equal(attested_response_parse(bad[i].json, strlen(bad[i].json), &x, NULL, &err),
                                 -EBADMSG);
                assert_string_equal(err.field, bad[i].field);
                assert_null(x);
        }
        assert_int_equal(attested_response_parse(good, ATTESTED_RESPONSE_MAX + 1, &der, &n, NULL), -E2BIG);
}

static void test_document_parse(void **state) {
        _cleanup_(attested_document_done) AttestedDocument d = {};
        JsonError err = {};

        assert_int_equal(attested_document_parse(DOC, strlen(DOC), &d, &err), 0);
        assert_string_equal(d.nonce, "1234567890");
        assert_string_equal(d.vm_id, VM_ID);
        assert_string_equal(d.sku, "gen2");
        assert_int_equal(d.created_on, 1606771159 * USEC_PER_SEC);
        assert_int_equal(d.expires_on, 1606771164 * USEC_PER_SEC);

        static const struct {
                const char *json;
                const char *field;
        } bad[] = {
                {"{\"vmId\": \"" VM_ID
                 "\", \"timeStamp\": {\"createdOn\": \"11/30/20 21:19:19 -0000\", \"expiresOn\": "
                 "\"11/30/20 21:19:24 -0000\"}}",
                 "nonce"},
                {"{\"nonce\": \"1\", \"vmId\": \"nope\", \"timeStamp\": {\"createdOn\": \"11/30/20 21:19:19 "
                 "-0000\", "
                 "\"expiresOn\": \"11/30/20 21:19:24 -0000\"}}",
                 "vmId"},
                {"{\"nonce\": \"1\", \"vmId\": \"" VM_ID "\"}", "timeStamp"},
                {"{\"nonce\": \"1\", \"vmId\": \"" VM_ID "\", \"timeStamp\": {\"createdOn\": \"yesterday\", "
                 "\"expiresOn\": \"11/30/20 21:19:24 -0000\"}}",
                 "timeStamp.createdOn"},
                {"{\"nonce\": \"1\", \"vmId\": \"" VM_ID
                 "\", \"timeStamp\": {\"createdOn\": \"11/30/20 21:19:29 -0000\", "
                 "\"expiresOn\": \"11/30/20 21:19:24 -0000\"}}",
                 "timeStamp"},
                {"{\"nonce\": 1, \"vmId\": \"" VM_ID
                 "\", \"timeStamp\": {\"createdOn\": \"11/30/20 21:19:19 -0000\", "
                 "\"expiresOn\": \"11/30/20 21:19:24 -0000\"}}",
                 "nonce"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                AttestedDocument x = {};

                err = (JsonError){};
                assert_int_equal(attested_document_parse(bad[i].json, strlen(bad[i].json), &x, &err),
                                 -EBADMSG);
                assert_string_equal(err.field, bad[i].field);
                assert_null(x.nonce);
        }
}

static int fetch_from_pki(const char *url, void *userdata, X509 **ret) {
        unsigned *calls = userdata;

        (*calls)++;
        if (!endswith(url, "/inter.crt") || !startswith(url, "http://aia.test/pki/"))
                return -ENOENT;
        *ret = load_cert("inter");
        return 0;
}

static void test_verify(void **state) {
        static const char *const with_inter[] = {"inter", NULL}, *const rogue[] = {"rogue-inter", NULL};
        _cleanup_(attested_verified_done) AttestedVerified v = {};
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ void *der = NULL;
        AttestedTrust t, bundle;
        unsigned calls = 0;
        size_t n;

        trust_init(&t, false);
        trust_init(&bundle, true);

        /* Good: the intermediate comes with the message. */
        der = sign("leaf", with_inter, DOC, &n);
        assert_int_equal(attested_verify(der, n, &t, &v, &reason), 0);
        assert_string_equal(v.content, DOC);
        assert_string_equal(v.doc.nonce, "1234567890");
        assert_string_equal(v.signer, "CN = metadata.azure.com");
        assert_string_equal(v.signer_dns, "metadata.azure.com");
        assert_int_equal(strv_length(v.chain), 3);
        assert_true(strstr(v.chain[2], "Root CA") != NULL);
        attested_verified_done(&v);

        /* Tampered: one byte of the signed content changed after signing. */
        {
                uint8_t *p = memmem(der, n, "\"vmId\":\"5c0e", 12);

                assert_non_null(p);
                p[8] = 'f';
                assert_int_equal(attested_verify(der, n, &t, &v, &reason), -EKEYREJECTED);
                assert_non_null(strstr(reason, "does not match the signed document"));
        }

        /* The leaf alone (as Azure sends it): the intermediate from a configured bundle, or from the AIA URL. */
        expect_rejected("leaf", NULL, &t, -EKEYREJECTED, "[Attestation] Intermediates=");
        free(der);
        der = sign("leaf", NULL, DOC, &n);
        assert_int_equal(attested_verify(der, n, &bundle, &v, &reason), 0);
        attested_verified_done(&v);
        t.fetch_issuer = fetch_from_pki;
        t.fetch_userdata = &calls;
        assert_int_equal(attested_verify(der, n, &t, &v, &reason), 0);
        assert_int_equal(v.fetched, 1);
        assert_int_equal(calls, 1);
        attested_verified_done(&v);
        t.fetch_issuer = NULL;

        /* Refused: a chain to another root with the same names, a leaf for another domain, one whose key usage
         * forbids signatures, a certificate that expired at the verification time. */
        expect_rejected("rogue-leaf", rogue, &t, -EKEYREJECTED, "does not chain to a trusted root");
        expect_rejected("wrongsan-leaf", with_inter, &t, -EKEYREJECTED,
                        "not issued to a signer domain (its subjectAltName names metadata.example.net)");
        expect_rejected("nodsig-leaf", with_inter, &t, -EKEYREJECTED, "does not allow digitalSignature");
        t.verify_time = time(NULL) + 20 * 365 * 24 * 3600L;
        expect_rejected("leaf", with_inter, &t, -EKEYREJECTED, "certificate has expired");
        t.verify_time = 0;

        /* Another signer domain configured: the other leaf is accepted. */
        assert_int_equal(strv_extend(&t.signer_domains, "example.net"), 0);
        free(der);
        der = sign("wrongsan-leaf", with_inter, DOC, &n);
        assert_int_equal(attested_verify(der, n, &t, &v, &reason), 0);
        assert_string_equal(v.signer_dns, "metadata.example.net");
        attested_verified_done(&v);

        /* Signed, but the content is no attested document. */
        free(der);
        der = sign("leaf", with_inter, "{\"nonce\": \"1\"}", &n);
        assert_int_equal(attested_verify(der, n, &t, &v, &reason), -EBADMSG);
        assert_non_null(strstr(reason, "the signed document is invalid"));

        /* Not PKCS#7 at all; truncated. */
        assert_int_equal(attested_verify("\x30\x03\x02\x01\x01", 5, &t, &v, &reason), -EBADMSG);
        free(der);
        der = sign("leaf", with_inter, DOC, &n);
        assert_int_equal(attested_verify(der, n / 2, &t, &v, &reason), -EBADMSG);

        attested_trust_done(&t);
        attested_trust_done(&bundle);
}

static void test_check(void **state) {
        _cleanup_(attested_document_done) AttestedDocument d = {};
        _cleanup_free_ char *reason = NULL;
        usec_t created = 1606771159 * USEC_PER_SEC;

        assert_int_equal(attested_document_parse(DOC, strlen(DOC), &d, NULL), 0);
        assert_int_equal(attested_check(&d, "1234567890", VM_ID, created + USEC_PER_SEC, 0, &reason), 0);
        assert_int_equal(attested_check(&d, "1234567891", VM_ID, created, 0, &reason), -ESTALE);
        assert_non_null(strstr(reason, "carries nonce '1234567890', not the '1234567891' asked for"));
        assert_int_equal(attested_check(&d, "1234567890", "0f0f0f0f-1111-4222-8333-444455556666", created, 0,
                                        &reason),
                         -EXDEV);
        assert_non_null(strstr(reason, "is for VM " VM_ID ", this instance is 0f0f0f0f"));
        /* expired 5 s after creation; a 60 s skew still accepts 30 s later, not 70 s later */
        assert_int_equal(attested_check(&d, "1234567890", VM_ID, created + 35 * USEC_PER_SEC, 0, &reason),
                         -ETIME);
        assert_non_null(strstr(reason, "expired on 11/30/20 21:19:24 -0000"));
        assert_int_equal(attested_check(&d, "1234567890", VM_ID, created + 35 * USEC_PER_SEC,
                                        60 * USEC_PER_SEC, NULL),
                         0);
        assert_int_equal(attested_check(&d, "1234567890", VM_ID, created + 70 * USEC_PER_SEC,
                                        60 * USEC_PER_SEC, NULL),
                         -ETIME);
        assert_int_equal(attested_check(&d, "1234567890", VM_ID, created - 10 * USEC_PER_SEC, 0, &reason),
                         -ETIME);
        assert_non_null(strstr(reason, "not valid yet"));
}

static int setup(void **state) {
        _cleanup_free_ char *cmd = NULL;
        const char *src = getenv("AZL_SOURCE_ROOT");

        if (!src || system("command -v python3 >/dev/null && command -v openssl >/dev/null") != 0) {
                printf("SKIP: python3, openssl or AZL_SOURCE_ROOT missing\n");
                exit(EXIT_TEST_SKIP);
        }
        pki = tmpdir_new();
        assert_true(
                asprintf(&cmd,
                         "python3 %s/tests/fabric/azfabric.py pki --out %s --aia-base http://aia.test/pki "
                         ">/dev/null",
                         src, pki) > 0);
        assert_int_equal(system(cmd), 0);
        return 0;
}

static int teardown(void **state) {
        tmpdir_remove(pki);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timestamp),      cmocka_unit_test(test_response_parse),
                cmocka_unit_test(test_document_parse), cmocka_unit_test(test_verify),
                cmocka_unit_test(test_check),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
