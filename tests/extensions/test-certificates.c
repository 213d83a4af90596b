/* SPDX-License-Identifier: MIT */
/*
 * Certificates tests: our own Certificates documents (tests/data/wire/certificates*.xml, made by
 * tests/data/make-certificates.sh: PKCS#1 v1.5 + DES-EDE3-CBC, a PKCS#12 with one key and two certificates)
 * decrypted with our transport key to the thumbprints of the tenant certificates (E4884896… with its key,
 * 15EBEC74… without), the Format rules, a blob addressed to another transport certificate, and round trips
 * through a freshly generated transport certificate with EnvelopedData built here (AES-128-CBC + RSAES-OAEP
 * and DES-EDE3-CBC + PKCS#1 v1.5, recipient by SubjectKeyIdentifier). Written files are cross-checked with
 * the openssl command. The interop group decrypts WALinuxAgent's certs*.xml with its transport key to the
 * thumbprints waagent derives (F6ABAA61… with its key, 8979F1AC… without).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "certificates.h"
#include "fileio.h"
#include "openssl-util.h"
#include "strutil.h"
#include "tests.h"

/* One set of Certificates documents with its transport key and the thumbprints they must decrypt to. */
typedef struct CertData {
        TestReadFn read;
        const char *transport_key, *transport_cert;
        const char *certs, *certs_no_format, *certs_not_pfx, *certs_undecryptable;
        const char *thumb_with_key, *thumb_no_key;
} CertData;

static const CertData own_data = {
        .read = test_data_read,
        .transport_key = "wire/transport-key.pem",
        .transport_cert = "wire/transport-cert.pem",
        .certs = "wire/certificates.xml",
        .certs_no_format = "wire/certificates-no-format.xml",
        .certs_not_pfx = "wire/certificates-not-pfx.xml",
        .certs_undecryptable = "wire/certificates-other-recipient.xml",
        .thumb_with_key = "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D",
        .thumb_no_key = "15EBEC74C36C0B59812AF3A3D7B2FE7DC0D2A6EF",
};

/* WALinuxAgent's fixtures; F6ABAA61… is what its ext_conf.xml names as protectedSettingsCertThumbprint. */
static const CertData peer_data = {
        .read = fixture_read,
        .transport_key = "wire/trans_prv",
        .transport_cert = "wire/trans_cert",
        .certs = "wire/certs.xml",
        .certs_no_format = "wire/certs_no_format_specified.xml",
        .certs_not_pfx = "wire/certs_format_not_pfx.xml",
        .certs_undecryptable = "wire/incorrect-certs.xml",
        .thumb_with_key = "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9",
        .thumb_no_key = "8979F1AC8C4215827BF3B5A403E6137B504D02A4",
};

static void load_transport(const CertData *d, EVP_PKEY **ret_key, X509 **ret_cert) {
        _cleanup_free_ char *k = NULL, *c = NULL;
        size_t nk, nc;

        k = d->read(d->transport_key, &nk);
        c = d->read(d->transport_cert, &nc);
        assert_int_equal(pem_load_private_key(k, nk, ret_key), 0);
        assert_int_equal(pem_load_certificate(c, nc, ret_cert), 0);
}

static void decrypt_document(const CertData *d, const char *rel, CertificateList *ret) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(certificates_xml_done) CertificatesXml x = {};
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *cert = NULL;
        size_t size;

        buf = d->read(rel, &size);
        assert_int_equal(certificates_xml_parse(buf, size, &x, &error), 0);
        assert_true(x.format_supported);
        assert_non_null(x.data);
        load_transport(d, &key, &cert);
        if (certificates_decrypt(x.data, x.data_size, key, cert, ret, &error) < 0)
                fail_msg("%s: %s", rel, error);
}

static void check_list(const CertData *d, const CertificateList *l) {
        const Certificate *c;

        assert_int_equal(l->n, 2);
        c = certificate_list_find(l, d->thumb_with_key);
        assert_non_null(c);
        assert_non_null(c->key);
        assert_int_equal(X509_check_private_key(c->cert, c->key), 1);
        c = certificate_list_find(l, d->thumb_no_key);
        assert_non_null(c);
        assert_null(c->key);
}

static void check_certs(const CertData *d) {
        _cleanup_(certificate_list_done) CertificateList l = {};
        _cleanup_free_ char *summary = NULL, *with = NULL, *without = NULL;

        decrypt_document(d, d->certs, &l);
        check_list(d, &l);
        assert_int_equal(certificates_summary_json(&l, &summary), 0);
        assert_true(asprintf(&with, "{\"thumbprint\": \"%s\", \"hasPrivateKey\": true}", d->thumb_with_key) >
                    0);
        assert_true(asprintf(&without, "{\"thumbprint\": \"%s\", \"hasPrivateKey\": false}",
                             d->thumb_no_key) > 0);
        assert_non_null(strstr(summary, with));
        assert_non_null(strstr(summary, without));
}

static void check_no_format_specified(const CertData *d) {
        _cleanup_(certificate_list_done) CertificateList l = {};

        decrypt_document(d, d->certs_no_format, &l);
        check_list(d, &l);
}

static void check_format_not_pfx(const CertData *d) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(certificates_xml_done) CertificatesXml x = {};
        size_t size;

        buf = d->read(d->certs_not_pfx, &size);
        assert_int_equal(certificates_xml_parse(buf, size, &x, NULL), 0);
        assert_string_equal(x.format, "CertificatesNonPfxPackage");
        assert_false(x.format_supported);
        assert_null(x.data);
}

static void test_no_data(void **state) {
        static const char doc[] =
                "<CertificateFile><Version>2012-11-30</Version><Incarnation>1</Incarnation>"
                "<Format>Pkcs7BlobWithPfxContents</Format></CertificateFile>";
        _cleanup_(certificates_xml_done) CertificatesXml x = {};

        assert_int_equal(certificates_xml_parse(doc, strlen(doc), &x, NULL), 0);
        assert_true(x.format_supported);
        assert_null(x.data);
}

static void check_undecryptable(const CertData *d) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(certificates_xml_done) CertificatesXml x = {};
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *cert = NULL;
        CertificateList l = {.n = 4242};
        size_t size;
        int r;

        buf = d->read(d->certs_undecryptable, &size);
        assert_int_equal(certificates_xml_parse(buf, size, &x, NULL), 0);
        load_transport(d, &key, &cert);
        r = certificates_decrypt(x.data, x.data_size, key, cert, &l, &error);
        assert_true(r == -EKEYREJECTED || r == -EBADMSG);
        assert_non_null(error);
        print_message("%s: %s\n", d->certs_undecryptable, error);
        assert_int_equal(l.n, 4242);
        /* Not a CMS blob at all. */
        free(error);
        error = NULL;
        assert_int_equal(certificates_decrypt("garbage", 7, key, cert, &l, &error), -EBADMSG);
        assert_string_equal(error, "Certificates blob is not a CMS EnvelopedData");
}

/* Builds a tenant certificate + key wrapped the way the fabric does: PKCS#12 (empty password) inside a CMS
 * EnvelopedData addressed to the transport certificate by SubjectKeyIdentifier. */
static void make_blob(X509 *transport, const EVP_CIPHER *cipher, bool oaep, X509 **ret_tenant,
                      unsigned char **ret, size_t *ret_size) {
        _cleanup_evp_pkey_ EVP_PKEY *tkey = NULL;
        _cleanup_x509_ X509 *tcert = NULL;
        _cleanup_(PKCS12_freep) PKCS12 *p12 = NULL;
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_bio_ BIO *in = NULL;
        _cleanup_free_ unsigned char *pfx = NULL;
        CMS_RecipientInfo *ri;
        unsigned char *der = NULL;
        int n, pfx_len;

        assert_int_equal(transport_cert_generate(&tkey, &tcert), 0);
        p12 = PKCS12_create("", "TenantEncryptionCert", tkey, tcert, NULL, 0, 0, 0, 0, 0);
        assert_non_null(p12);
        pfx_len = i2d_PKCS12(p12, &pfx);
        assert_true(pfx_len > 0);

        cms = CMS_encrypt(NULL, NULL, cipher, CMS_BINARY | CMS_PARTIAL);
        assert_non_null(cms);
        ri = CMS_add1_recipient_cert(cms, transport, CMS_USE_KEYID | CMS_KEY_PARAM);
        assert_non_null(ri);
        if (oaep)
                assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(CMS_RecipientInfo_get0_pkey_ctx(ri),
                                                              RSA_PKCS1_OAEP_PADDING),
                                 1);
        in = BIO_new_mem_buf(pfx, pfx_len);
        assert_int_equal(CMS_final(cms, in, NULL, CMS_BINARY), 1);
        n = i2d_CMS_ContentInfo(cms, &der);
        assert_true(n > 0);
        *ret = der;
        *ret_size = (size_t) n;
        *ret_tenant = TAKE_PTR(tcert);
}

static void round_trip(const EVP_CIPHER *cipher, bool oaep) {
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL, *other_key = NULL;
        _cleanup_x509_ X509 *cert = NULL, *tenant = NULL, *other_cert = NULL;
        _cleanup_(certificate_list_done) CertificateList l = {};
        _cleanup_free_ char *error = NULL;
        unsigned char *blob = NULL;
        char thumb[41];
        size_t size;

        assert_int_equal(transport_cert_generate(&key, &cert), 0);
        make_blob(cert, cipher, oaep, &tenant, &blob, &size);
        assert_int_equal(certificates_decrypt(blob, size, key, cert, &l, &error), 0);
        assert_int_equal(l.n, 1);
        assert_int_equal(certificate_thumbprint(tenant, thumb), 0);
        assert_string_equal(l.certs[0].thumbprint, thumb);
        assert_int_equal(X509_cmp(l.certs[0].cert, tenant), 0);
        assert_non_null(l.certs[0].key);
        assert_int_equal(X509_check_private_key(tenant, l.certs[0].key), 1);

        /* Another transport certificate cannot open it. */
        assert_int_equal(transport_cert_generate(&other_key, &other_cert), 0);
        certificate_list_done(&l);
        free(error);
        error = NULL;
        assert_int_equal(certificates_decrypt(blob, size, other_key, other_cert, &l, &error), -EKEYREJECTED);
        OPENSSL_free(blob);
}

static void test_round_trip_aes_oaep(void **state) {
        round_trip(EVP_aes_128_cbc(), true);
}

static void test_round_trip_3des_pkcs1(void **state) {
        round_trip(EVP_des_ede3_cbc(), false);
}

static void test_transport_cert(void **state) {
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *cert = NULL;
        const ASN1_OCTET_STRING *ski;
        unsigned char md[20];
        unsigned md_len = 0;
        char cn[64];
        int days = 0, secs = 0;

        assert_int_equal(transport_cert_generate(&key, &cert), 0);
        assert_int_equal(EVP_PKEY_get_bits(key), 2048);
        assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
        assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn) >
                    0);
        assert_string_equal(cn, "LinuxTransport");
        assert_int_equal(X509_check_private_key(cert, key), 1);
        assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert), X509_get0_notAfter(cert)),
                         1);
        assert_int_equal(days, TRANSPORT_CERT_DAYS);
        /* SKI = SHA-1 of the subjectPublicKey BIT STRING (openssl's subjectKeyIdentifier=hash, RFC 5280 (1)). */
        ski = X509_get0_subject_key_id(cert);
        assert_non_null(ski);
        assert_int_equal(X509_pubkey_digest(cert, EVP_sha1(), md, &md_len), 1);
        assert_int_equal(ASN1_STRING_length(ski), 20);
        assert_memory_equal(ASN1_STRING_get0_data(ski), md, 20);
}

static void test_transport_cert_files(void **state) {
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL, *key2 = NULL;
        _cleanup_x509_ X509 *cert = NULL, *cert2 = NULL;
        _cleanup_free_ char *header = NULL, *path = NULL;
        _cleanup_free_ void *der = NULL;
        _cleanup_close_ int root = -EBADF;
        unsigned char *der2 = NULL;
        char *dir = tmpdir_new();
        struct stat st;
        size_t n;
        int n2;

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(transport_cert_generate(&key, &cert), 0);
        assert_int_equal(transport_cert_save(root, "/var/lib/waagent", key, cert), 0);
        assert_int_equal(asprintf(&path, "%s/var/lib/waagent/" TRANSPORT_KEY_FILE, dir) > 0, 1);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(transport_cert_load(root, "/var/lib/waagent", &key2, &cert2), 0);
        assert_int_equal(X509_cmp(cert, cert2), 0);
        assert_int_equal(EVP_PKEY_eq(key, key2), 1);

        /* x-ms-guest-agent-public-x509-cert: base64 DER, single line. */
        assert_int_equal(transport_cert_header_value(cert, &header), 0);
        assert_null(strchr(header, '\n'));
        assert_int_equal(base64_decode(header, strlen(header), &der, &n), 0);
        n2 = i2d_X509(cert, &der2);
        assert_int_equal((size_t) n2, n);
        assert_memory_equal(der, der2, n);
        OPENSSL_free(der2);
        tmpdir_remove(dir);
}

static void openssl_cmd(const char *cmd, char *out, size_t size) {
        FILE *p = popen(cmd, "r");
        size_t n;

        assert_non_null(p);
        n = fread(out, 1, size - 1, p);
        out[n] = 0;
        assert_int_equal(pclose(p), 0);
}

/* "sha1 Fingerprint=AB:CD:…\n", as `openssl x509 -fingerprint -sha1` prints a thumbprint. */
static void fingerprint_line(const char *thumb, char *out, size_t size) {
        size_t n = 0;

        n += snprintf(out, size, "sha1 Fingerprint=");
        for (size_t i = 0; thumb[i] && n + 4 < size; i += 2)
                n += snprintf(out + n, size - n, "%s%.2s", i ? ":" : "", thumb + i);
        snprintf(out + n, size - n, "\n");
}

static void check_write_files(const CertData *d) {
        _cleanup_(certificate_list_done) CertificateList l = {};
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *crt = NULL, *prv = NULL, *nokey_prv = NULL, *cmd = NULL, *cmd2 = NULL;
        char *dir = tmpdir_new();
        char out[4096], out2[4096], expected[128];
        struct stat st;

        decrypt_document(d, d->certs, &l);
        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(certificates_write(root, "/var/lib/waagent", &l), 0);

        assert_true(asprintf(&crt, "%s/var/lib/waagent/%s.crt", dir, d->thumb_with_key) > 0);
        assert_true(asprintf(&prv, "%s/var/lib/waagent/%s.prv", dir, d->thumb_with_key) > 0);
        assert_true(asprintf(&nokey_prv, "%s/var/lib/waagent/%s.prv", dir, d->thumb_no_key) > 0);
        assert_int_equal(stat(crt, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(prv, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(nokey_prv, &st), -1);
        *strrchr(crt, '/') = 0;
        assert_int_equal(stat(crt, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        *strrchr(crt, 0) = '/';

        /* Cross-check with the openssl command, as waagent computes them. */
        if (system("openssl version >/dev/null 2>&1") != 0) {
                print_message("openssl command not available, cross-check skipped\n");
                tmpdir_remove(dir);
                return;
        }
        assert_true(asprintf(&cmd, "openssl x509 -in '%s' -noout -fingerprint -sha1", crt) > 0);
        openssl_cmd(cmd, out, sizeof out);
        fingerprint_line(d->thumb_with_key, expected, sizeof expected);
        assert_string_equal(out, expected);
        free(cmd);
        cmd = NULL;
        assert_true(asprintf(&cmd, "openssl pkey -in '%s' -pubout", prv) > 0);
        assert_true(asprintf(&cmd2, "openssl x509 -in '%s' -noout -pubkey", crt) > 0);
        openssl_cmd(cmd, out, sizeof out);
        openssl_cmd(cmd2, out2, sizeof out2);
        assert_true(startswith(out, "-----BEGIN PUBLIC KEY-----"));
        assert_string_equal(out, out2);
        tmpdir_remove(dir);
}

/* ---- OpenSSH public keys from certificates (ovf-env.xml keys given by fingerprint, issue #19) ---- */

/* The test-only certificates of tests/fabric/scenarios/keys and their keys as `ssh-keygen -i -m PKCS8` prints them
 * (ssh-keygen 9.2 cannot import an ed25519 PKCS#8 key: that line was computed from the raw key in Python and is
 * accepted by `ssh-keygen -l`). */
static const struct {
        const char *file;
        const char *thumbprint;
        const char *line;
} ssh_certs[] = {
        {"ssh-cert-rsa.crt", "E1CBD8AF5A8ED9513531F7BE20C0EEE2E828A89E",
         "ssh-rsa "
         "AAAAB3NzaC1yc2EAAAADAQABAAABAQCVGiJZEZHwNZU75ZtAKSIpiQwO6NJnOXMcUSYMxSo/"
         "jqhKPRbglnffztv1hJiUYFeJ+BNTT53PnZ"
         "F9IXWt8B96GaKu9t72GYRRk2hjXfOTK+MJyWMTtSRfpxhtAW2RkkelsMtsSblN+3bJYS8ryyef6PP0Y8GJxSBH9z7H+/"
         "OeltVQirfR0nEP3NsQ"
         "QUoyAFFM0/rnTtpI4LcqmFZcDln+5oyDndt/D2AwArZ5KB5fXHvZ488oVXQ2YhzGuZUehx74SN/"
         "7ESyVSnLG5bGxDp0KDLEhfQVto25JF/vaUR"
         "bOWqq7fpZUMbjjxlV3tSzNZNotJpbL9Z4BXsOYGeILl/O3"},
        {"ssh-cert-ecdsa.crt", "F0F66A83160180FF87F716427F874903BDC9372B",
         "ecdsa-sha2-nistp256 "
         "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBC/oehaMxzKk0/LPprsVsnfigsXsTo729TQdoc"
         "yq3V+30sa8iVxXYmJAjuV385hZPGBXlXjAwKudk9PbP3Hh0Cg="},
        {"ssh-cert-ed25519.crt", "3665198C6D2125F0DA52C6CF26D1C74CBFDF0044",
         "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKWGrQ5AogCzMJHx/rVI6mZ8BntiSkvEbFzn12QLL5kh"},
};

static X509 *load_source_cert(const char *name) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        const char *src = getenv("AZL_SOURCE_ROOT");
        size_t size;
        X509 *x = NULL;
        int fd;

        assert_non_null(src);
        assert_true(asprintf(&path, "%s/tests/fabric/scenarios/keys/%s", src, name) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 64 * 1024, &buf, &size), 0);
        close(fd);
        assert_int_equal(pem_load_certificate(buf, size, &x), 0);
        return x;
}

static void test_openssh_from_certificates(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(ssh_certs); i++) {
                _cleanup_x509_ X509 *x = load_source_cert(ssh_certs[i].file);
                _cleanup_free_ char *line = NULL;
                char thumb[41];

                assert_int_equal(certificate_thumbprint(x, thumb), 0);
                assert_string_equal(thumb, ssh_certs[i].thumbprint);
                assert_int_equal(certificate_openssh_public_key(x, &line), 0);
                assert_string_equal(line, ssh_certs[i].line);
        }
}

/* What `ssh-keygen -i -m PKCS8` makes of key's public half; NULL without ssh-keygen. */
static char *ssh_keygen_import(EVP_PKEY *key) {
        _cleanup_free_ char *dir = tmpdir_new(), *path = NULL, *cmd = NULL;
        char line[4096];
        FILE *f;

        assert_true(asprintf(&path, "%s/pub.pem", dir) > 0);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(PEM_write_PUBKEY(f, key), 1);
        fclose(f);
        assert_true(asprintf(&cmd, "ssh-keygen -i -m PKCS8 -f '%s' 2>/dev/null", path) > 0);
        f = popen(cmd, "r");
        assert_non_null(f);
        if (!fgets(line, sizeof line, f))
                line[0] = 0;
        int status = pclose(f);
        tmpdir_remove(TAKE_PTR(dir));
        if (status != 0 || !line[0])
                return NULL;
        line[strcspn(line, "\n")] = 0;
        return strdup(line);
}

/* Keys made here, cross-checked with ssh-keygen where it is installed: other sizes and curves, the mpint sign
 * byte (RSA moduli always have their top bit set; e = 65537 does not), and the types OpenSSH does not know. */
static void test_openssh_generated_keys(void **state) {
        EVP_PKEY *keys[] = {
                EVP_RSA_gen(3072),
                EVP_EC_gen("secp384r1"),
                EVP_EC_gen("secp521r1"),
                EVP_EC_gen("prime256v1"),
        };
        static const char *const prefixes[] = {"ssh-rsa AAAAB3NzaC1yc2EAAAADAQAB", "ecdsa-sha2-nistp384 ",
                                               "ecdsa-sha2-nistp521 ", "ecdsa-sha2-nistp256 "};
        _cleanup_evp_pkey_ EVP_PKEY *k1 = EVP_EC_gen("secp256k1");
        _cleanup_free_ char *unsupported = NULL;
        bool checked = false;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *line = NULL, *expected = NULL;

                assert_non_null(keys[i]);
                assert_int_equal(openssh_public_key_format(keys[i], &line), 0);
                assert_true(startswith(line, prefixes[i]));
                expected = ssh_keygen_import(keys[i]);
                if (expected) {
                        assert_string_equal(line, expected);
                        checked = true;
                }
                EVP_PKEY_free(keys[i]);
        }
        if (!checked)
                fprintf(stderr, "# ssh-keygen not found: generated keys checked by prefix only\n");
        assert_non_null(k1);
        assert_int_equal(openssh_public_key_format(k1, &unsupported), -EPROTONOSUPPORT);
        assert_null(unsupported);
}

#define DATA_TESTS(prefix, data)                                                                            \
        static void prefix##_certs(void **state) {                                                          \
                check_certs(&data);                                                                         \
        }                                                                                                   \
        static void prefix##_no_format_specified(void **state) {                                            \
                check_no_format_specified(&data);                                                           \
        }                                                                                                   \
        static void prefix##_format_not_pfx(void **state) {                                                 \
                check_format_not_pfx(&data);                                                                \
        }                                                                                                   \
        static void prefix##_undecryptable(void **state) {                                                  \
                check_undecryptable(&data);                                                                 \
        }                                                                                                   \
        static void prefix##_write_files(void **state) {                                                    \
                check_write_files(&data);                                                                   \
        }

DATA_TESTS(test, own_data)
DATA_TESTS(interop, peer_data)

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_certs),          cmocka_unit_test(interop_no_format_specified),
                cmocka_unit_test(interop_format_not_pfx), cmocka_unit_test(interop_undecryptable),
                cmocka_unit_test(interop_write_files),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_certs),
                cmocka_unit_test(test_no_format_specified),
                cmocka_unit_test(test_format_not_pfx),
                cmocka_unit_test(test_no_data),
                cmocka_unit_test(test_undecryptable),
                cmocka_unit_test(test_round_trip_aes_oaep),
                cmocka_unit_test(test_round_trip_3des_pkcs1),
                cmocka_unit_test(test_transport_cert),
                cmocka_unit_test(test_transport_cert_files),
                cmocka_unit_test(test_write_files),
                cmocka_unit_test(test_openssh_from_certificates),
                cmocka_unit_test(test_openssh_generated_keys),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
