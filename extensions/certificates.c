/* SPDX-License-Identifier: MIT */
/*
 * Certificates (wire protocol §1.6): transport certificate, CMS EnvelopedData decryption, PKCS#12 parsing and
 * the waagent-compatible <THUMBPRINT>.crt/.prv files. See certificates.h for the design. Library code: logs
 * nothing, returns negative errno, and never puts key material into an error string.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "certificates.h"
#include "ext-util.h"
#include "fileio.h"
#include "secret-file.h"
#include "json-util.h"
#include "openssl-util.h"
#include "strutil.h"
#include "xml-util.h"

static int add_extension(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

        if (!ext || X509_add_ext(x, ext, -1) != 1)
                return -EIO;
        return 0;
}

int transport_cert_generate(EVP_PKEY **ret_key, X509 **ret_cert) {
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *x = NULL;
        _cleanup_(BN_freep) BIGNUM *serial = NULL;
        X509_NAME *name;
        X509V3_CTX ctx;
        int r;

        /* openssl req -x509 -nodes -subj /CN=LinuxTransport -days 730 -newkey rsa:2048 (cryptutil.py) */
        key = EVP_RSA_gen(2048);
        x = X509_new();
        serial = BN_new();
        if (!key || !x || !serial)
                return -ENOMEM;
        if (X509_set_version(x, X509_VERSION_3) != 1 ||
            BN_rand(serial, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
            !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
            !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
            !X509_time_adj_ex(X509_getm_notAfter(x), TRANSPORT_CERT_DAYS, 0, NULL) ||
            X509_set_pubkey(x, key) != 1)
                return -EIO;
        name = X509_get_subject_name(x);
        if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) "LinuxTransport",
                                       -1, -1, 0) != 1 ||
            X509_set_issuer_name(x, name) != 1)
                return -EIO;

        /* The WireServer addresses the EnvelopedData to the SubjectKeyIdentifier of this certificate (recipient
         * info version 2, [0] SKI), so the extension is mandatory. The rest mirrors openssl's v3_ca defaults. */
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
        if ((r = add_extension(x, &ctx, NID_subject_key_identifier, "hash")) < 0 ||
            (r = add_extension(x, &ctx, NID_authority_key_identifier, "keyid:always")) < 0 ||
            (r = add_extension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE")) < 0)
                return r;
        if (X509_sign(x, key, EVP_sha256()) <= 0)
                return -EIO;

        *ret_key = TAKE_PTR(key);
        *ret_cert = TAKE_PTR(x);
        return 0;
}

int pem_load_private_key(const void *buf, size_t len, EVP_PKEY **ret) {
        _cleanup_bio_ BIO *b = NULL;
        EVP_PKEY *k;

        if (len > INT32_MAX)
                return -E2BIG;
        b = BIO_new_mem_buf(buf, (int) len);
        if (!b)
                return -ENOMEM;
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, (void *) "");
        if (!k)
                return -EBADMSG;
        *ret = k;
        return 0;
}

int pem_load_certificate(const void *buf, size_t len, X509 **ret) {
        _cleanup_bio_ BIO *b = NULL;
        X509 *x;

        if (len > INT32_MAX)
                return -E2BIG;
        b = BIO_new_mem_buf(buf, (int) len);
        if (!b)
                return -ENOMEM;
        x = PEM_read_bio_X509(b, NULL, NULL, NULL);
        if (!x)
                return -EBADMSG;
        *ret = x;
        return 0;
}

/* Copies the contents of a memory BIO into a NUL-terminated string and wipes the BIO's buffer. */
static int bio_take_string(BIO *b, char **ret) {
        char *data, *s;
        long n = BIO_get_mem_data(b, &data);

        if (n < 0)
                return -EIO;
        s = malloc((size_t) n + 1);
        if (!s)
                return -ENOMEM;
        memcpy(s, data, (size_t) n);
        s[n] = 0;
        OPENSSL_cleanse(data, (size_t) n);
        *ret = s;
        return 0;
}

int pem_format_certificate(X509 *cert, char **ret) {
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_mem());

        if (!b)
                return -ENOMEM;
        if (PEM_write_bio_X509(b, cert) != 1)
                return -EIO;
        return bio_take_string(b, ret);
}

int pem_format_private_key(EVP_PKEY *key, char **ret) {
        _cleanup_bio_ BIO *b = BIO_new(BIO_s_secmem());

        if (!b)
                return -ENOMEM;
        if (PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) != 1)
                return -EIO;
        return bio_take_string(b, ret);
}

static int path_in_dir(const char *dir, const char *name, char **ret) {
        return asprintf(ret, "%s/%s", dir, name) < 0 ? -ENOMEM : 0;
}

int transport_cert_save(int root_fd, const char *dir, EVP_PKEY *key, X509 *cert) {
        return transport_cert_save_to(root_fd, dir, NULL, key, cert);
}

int transport_cert_save_to(int root_fd, const char *dir, const char *secrets_dir, EVP_PKEY *key,
                           X509 *cert) {
        _cleanup_free_ char *cert_pem = NULL, *key_path = NULL, *cert_path = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        int r;

        if ((r = pem_format_private_key(key, &key_pem)) < 0 ||
            (r = pem_format_certificate(cert, &cert_pem)) < 0 ||
            (r = path_in_dir(dir, TRANSPORT_KEY_FILE, &key_path)) < 0 ||
            (r = path_in_dir(dir, TRANSPORT_CERT_FILE, &cert_path)) < 0)
                return r;
        r = mkdir_p_in_root(root_fd, dir, 0700);
        if (r < 0)
                return r;
        r = secret_file_write(root_fd, key_path, secrets_dir, key_pem, strlen(key_pem));
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(root_fd, cert_path, cert_pem, 0644, WRITE_SYNC);
}

int transport_cert_load(int root_fd, const char *dir, EVP_PKEY **ret_key, X509 **ret_cert) {
        _cleanup_free_ char *key_path = NULL, *cert_path = NULL, *cert_pem = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        _cleanup_evp_pkey_ EVP_PKEY *key = NULL;
        _cleanup_x509_ X509 *cert = NULL;
        size_t n;
        int r;

        if ((r = path_in_dir(dir, TRANSPORT_KEY_FILE, &key_path)) < 0 ||
            (r = path_in_dir(dir, TRANSPORT_CERT_FILE, &cert_path)) < 0)
                return r;
        if ((r = read_file_in_root(root_fd, key_path, 64 * 1024, &key_pem, &n)) < 0 ||
            (r = pem_load_private_key(key_pem, n, &key)) < 0)
                return r;
        if ((r = read_file_in_root(root_fd, cert_path, 64 * 1024, &cert_pem, &n)) < 0 ||
            (r = pem_load_certificate(cert_pem, n, &cert)) < 0)
                return r;
        if (X509_check_private_key(cert, key) != 1)
                return -EKEYREJECTED;
        *ret_key = TAKE_PTR(key);
        *ret_cert = TAKE_PTR(cert);
        return 0;
}

int transport_cert_header_value(X509 *cert, char **ret) {
        _cleanup_free_ unsigned char *der = NULL;
        int n = i2d_X509(cert, &der);

        if (n <= 0)
                return -EIO;
        return base64_encode(der, (size_t) n, ret);
}

int certificate_thumbprint(X509 *cert, char ret[static 41]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        _cleanup_free_ char *hex = NULL;
        int r;

        /* `openssl x509 -fingerprint` (SHA-1 over the DER encoding), colons removed, upper case. */
        if (X509_digest(cert, EVP_sha1(), md, &len) != 1 || len != 20)
                return -EIO;
        r = hex_encode(md, len, true, &hex);
        if (r < 0)
                return r;
        memcpy(ret, hex, 41);
        return 0;
}

/* ---- OpenSSH public keys (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709 §4) ---- */

typedef struct SshBuf {
        unsigned char *data;
        size_t size;
} SshBuf;

static int ssh_buf_put(SshBuf *b, const void *p, size_t n) {
        unsigned char *d;

        if (n > 16U * 1024U || b->size > 64U * 1024U)
                return -E2BIG;
        d = realloc(b->data, b->size + 4 + n);
        if (!d)
                return -ENOMEM;
        b->data = d;
        d += b->size;
        d[0] = (unsigned char) (n >> 24);
        d[1] = (unsigned char) (n >> 16);
        d[2] = (unsigned char) (n >> 8);
        d[3] = (unsigned char) n;
        if (n > 0)
                memcpy(d + 4, p, n);
        b->size += 4 + n;
        return 0;
}

static int ssh_buf_put_string(SshBuf *b, const char *s) {
        return ssh_buf_put(b, s, strlen(s));
}

/* mpint: big-endian two's complement, minimal, a leading zero byte when the top bit is set — what BN_bn2mpi()
 * writes after its own 4-byte length. */
static int ssh_buf_put_mpint(SshBuf *b, const BIGNUM *bn) {
        _cleanup_free_ unsigned char *mpi = NULL;
        int n;

        if (BN_is_negative(bn))
                return -EINVAL;
        n = BN_bn2mpi(bn, NULL);
        if (n < 4)
                return -EIO;
        mpi = malloc((size_t) n);
        if (!mpi)
                return -ENOMEM;
        if (BN_bn2mpi(bn, mpi) != n)
                return -EIO;
        return ssh_buf_put(b, mpi + 4, (size_t) n - 4);
}

static int ssh_blob_rsa(EVP_PKEY *key, SshBuf *b, const char **ret_type) {
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        int r;

        if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
            EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
                return -EIO;
        *ret_type = "ssh-rsa";
        r = ssh_buf_put_string(b, *ret_type);
        if (r >= 0)
                r = ssh_buf_put_mpint(b, e);
        if (r >= 0)
                r = ssh_buf_put_mpint(b, n);
        return r;
}

static int ssh_blob_ecdsa(EVP_PKEY *key, SshBuf *b, const char **ret_type) {
        static const struct {
                const char *group; /* OpenSSL's name */
                const char *curve; /* the SSH identifier */
                const char *type;
                size_t field_bytes;
        } curves[] = {
                {"prime256v1", "nistp256", "ecdsa-sha2-nistp256", 32},
                {"secp384r1", "nistp384", "ecdsa-sha2-nistp384", 48},
                {"secp521r1", "nistp521", "ecdsa-sha2-nistp521", 66},
        };
        _cleanup_(BN_freep) BIGNUM *x = NULL, *y = NULL;
        unsigned char point[1 + 2 * 66];
        char group[64];
        size_t i, f;
        int r;

        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, NULL) != 1)
                return -EIO;
        for (i = 0; i < ELEMENTSOF(curves); i++)
                if (streq(group, curves[i].group))
                        break;
        if (i >= ELEMENTSOF(curves))
                return -EPROTONOSUPPORT; /* OpenSSH knows these three curves only */
        if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
            EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1)
                return -EIO;
        /* Q as the uncompressed SEC1 point, whatever form the certificate used. */
        f = curves[i].field_bytes;
        point[0] = 0x04;
        if (BN_bn2binpad(x, point + 1, (int) f) < 0 || BN_bn2binpad(y, point + 1 + f, (int) f) < 0)
                return -EIO;
        *ret_type = curves[i].type;
        r = ssh_buf_put_string(b, curves[i].type);
        if (r >= 0)
                r = ssh_buf_put_string(b, curves[i].curve);
        if (r >= 0)
                r = ssh_buf_put(b, point, 1 + 2 * f);
        return r;
}

static int ssh_blob_ed25519(EVP_PKEY *key, SshBuf *b, const char **ret_type) {
        unsigned char pk[32];
        size_t n = sizeof pk;
        int r;

        if (EVP_PKEY_get_raw_public_key(key, pk, &n) != 1 || n != sizeof pk)
                return -EIO;
        *ret_type = "ssh-ed25519";
        r = ssh_buf_put_string(b, *ret_type);
        if (r >= 0)
                r = ssh_buf_put(b, pk, n);
        return r;
}

int openssh_public_key_format(EVP_PKEY *key, char **ret) {
        _cleanup_free_ char *b64 = NULL;
        SshBuf b = {};
        const char *type = NULL;
        char *line;
        int r;

        if (!key || !ret)
                return -EINVAL;
        switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
                r = ssh_blob_rsa(key, &b, &type);
                break;
        case EVP_PKEY_EC:
                r = ssh_blob_ecdsa(key, &b, &type);
                break;
        case EVP_PKEY_ED25519:
                r = ssh_blob_ed25519(key, &b, &type);
                break;
        default:
                r = -EPROTONOSUPPORT;
                break;
        }
        if (r >= 0)
                r = base64_encode(b.data, b.size, &b64);
        free(b.data);
        if (r < 0)
                return r;
        if (asprintf(&line, "%s %s", type, b64) < 0)
                return -ENOMEM;
        *ret = line;
        return 0;
}

int certificate_openssh_public_key(X509 *cert, char **ret) {
        EVP_PKEY *key;

        if (!cert)
                return -EINVAL;
        key = X509_get0_pubkey(cert);
        if (!key)
                return -EBADMSG;
        return openssh_public_key_format(key, ret);
}

void certificates_xml_done(CertificatesXml *c) {
        if (!c)
                return;
        free(c->format);
        free(c->data);
        *c = (CertificatesXml){};
}

int certificates_xml_parse(const char *buf, size_t len, CertificatesXml *ret, char **ret_error) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(certificates_xml_done) CertificatesXml c = {};
        _cleanup_free_ char *data = NULL;
        xmlNodePtr root;
        int r;

        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return ext_error(ret_error, r, "Certificates: not a valid XML document");
        root = xml_doc_root(doc);

        r = xml_find_text(root, "Format", &c.format);
        if (r < 0 && r != -ENOENT)
                return r;
        /* A Format that is present and not Pkcs7BlobWithPfxContents is skipped (waagent logs a warning). */
        c.format_supported = isempty(c.format) || streq(c.format, CERTIFICATES_FORMAT_PFX);

        r = xml_find_text(root, "Data", &data);
        if (r == -ENOENT || (r >= 0 && isempty(data)) || !c.format_supported) {
                *ret = c;
                c = (CertificatesXml){};
                return 0;
        }
        if (r < 0)
                return r;
        if (strlen(data) > CERTIFICATES_DATA_MAX)
                return ext_error(ret_error, -E2BIG, "Certificates: Data exceeds %u bytes",
                                 CERTIFICATES_DATA_MAX);
        r = base64_decode(data, strlen(data), &c.data, &c.data_size);
        if (r < 0)
                return ext_error(ret_error, r, "Certificates: Data is not valid base64");

        *ret = c;
        c = (CertificatesXml){};
        return 0;
}

void certificate_list_done(CertificateList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                X509_free(l->certs[i].cert);
                EVP_PKEY_free(l->certs[i].key);
        }
        free(l->certs);
        *l = (CertificateList){};
}

const Certificate *certificate_list_find(const CertificateList *l, const char *thumbprint) {
        for (size_t i = 0; l && thumbprint && i < l->n; i++)
                if (strcasecmp(l->certs[i].thumbprint, thumbprint) == 0)
                        return &l->certs[i];
        return NULL;
}

typedef struct Pkcs12Contents {
        X509 *certs[CERTIFICATES_MAX];
        size_t n_certs;
        EVP_PKEY *keys[CERTIFICATES_MAX];
        size_t n_keys;
} Pkcs12Contents;

static void pkcs12_contents_done(Pkcs12Contents *c) {
        for (size_t i = 0; i < c->n_certs; i++)
                X509_free(c->certs[i]);
        for (size_t i = 0; i < c->n_keys; i++)
                EVP_PKEY_free(c->keys[i]);
}

/* The empty password: as an empty BMPString ("") and as absent (NULL); Windows tools produce both. */
static const char *const empty_passwords[] = {"", NULL};

static int bag_add(PKCS12_SAFEBAG *bag, Pkcs12Contents *c) {
        _cleanup_(PKCS8_PRIV_KEY_INFO_freep) PKCS8_PRIV_KEY_INFO *p8 = NULL;
        EVP_PKEY *k;
        X509 *x;

        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_keyBag:
                k = EVP_PKCS82PKEY(PKCS12_SAFEBAG_get0_p8inf(bag));
                break;
        case NID_pkcs8ShroudedKeyBag:
                for (size_t i = 0; !p8 && i < ELEMENTSOF(empty_passwords); i++)
                        p8 = PKCS12_decrypt_skey(bag, empty_passwords[i], 0);
                if (!p8)
                        return -EKEYREJECTED;
                k = EVP_PKCS82PKEY(p8);
                break;
        case NID_certBag:
                if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
                        return 0;
                if (c->n_certs >= CERTIFICATES_MAX)
                        return -E2BIG;
                x = PKCS12_SAFEBAG_get1_cert(bag);
                if (!x)
                        return -EBADMSG;
                c->certs[c->n_certs++] = x;
                return 0;
        default:
                return 0; /* CRLs, secrets, nested bags: not used by the fabric */
        }
        if (!k)
                return -EBADMSG;
        if (c->n_keys >= CERTIFICATES_MAX) {
                EVP_PKEY_free(k);
                return -E2BIG;
        }
        c->keys[c->n_keys++] = k;
        return 0;
}

static int pkcs12_extract(const unsigned char *der, size_t len, Pkcs12Contents *c) {
        _cleanup_(PKCS12_freep) PKCS12 *p12 = NULL;
        _cleanup_(sk_PKCS7_pop_freep) STACK_OF(PKCS7) *safes = NULL;
        const unsigned char *p = der;
        int r;

        p12 = d2i_PKCS12(NULL, &p, (long) len);
        if (!p12)
                return -EBADMSG;
        /* waagent runs `openssl pkcs12 -nomacver` first: the MAC is not verified. */
        safes = PKCS12_unpack_authsafes(p12);
        if (!safes)
                return -EBADMSG;
        for (int i = 0; i < sk_PKCS7_num(safes); i++) {
                _cleanup_(sk_PKCS12_SAFEBAG_pop_freep) STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
                PKCS7 *p7 = sk_PKCS7_value(safes, i);

                if (PKCS7_type_is_data(p7))
                        bags = PKCS12_unpack_p7data(p7);
                else if (PKCS7_type_is_encrypted(p7))
                        for (size_t j = 0; !bags && j < ELEMENTSOF(empty_passwords); j++)
                                bags = PKCS12_unpack_p7encdata(p7, empty_passwords[j], 0);
                else
                        continue;
                if (!bags)
                        return -EKEYREJECTED;
                for (int j = 0; j < sk_PKCS12_SAFEBAG_num(bags); j++) {
                        r = bag_add(sk_PKCS12_SAFEBAG_value(bags, j), c);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int certificates_decrypt(const void *cms_der, size_t len, EVP_PKEY *key, X509 *cert, CertificateList *ret,
                         char **ret_error) {
        _cleanup_(CMS_ContentInfo_freep) CMS_ContentInfo *cms = NULL;
        _cleanup_(pkcs12_contents_done) Pkcs12Contents c = {};
        _cleanup_(certificate_list_done) CertificateList l = {};
        _cleanup_bio_ BIO *out = NULL;
        const unsigned char *p = cms_der;
        unsigned char *pfx;
        long pfx_len;
        int r;

        if (len > CERTIFICATES_DATA_MAX)
                return ext_error(ret_error, -E2BIG, "Certificates blob exceeds %u bytes",
                                 CERTIFICATES_DATA_MAX);
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) len);
        if (!cms || OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_enveloped)
                return ext_error(ret_error, -EBADMSG, "Certificates blob is not a CMS EnvelopedData");

        /* The recipient is found by the transport certificate's SubjectKeyIdentifier (or issuer+serial); both
         * RSAES-OAEP and PKCS#1 v1.5 key transport, AES-128-CBC and DES-EDE3-CBC content encryption. */
        out = BIO_new(BIO_s_secmem());
        if (!out)
                return -ENOMEM;
        if (CMS_decrypt_set1_pkey_and_peer(cms, key, cert, NULL) != 1 ||
            CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) != 1)
                return ext_error(ret_error, -EKEYREJECTED,
                                 "Failed to decrypt the certificates blob with the transport certificate "
                                 "(not addressed to it, or corrupted)");

        pfx_len = BIO_get_mem_data(out, &pfx);
        r = pfx_len > 0 ? pkcs12_extract(pfx, (size_t) pfx_len, &c) : -EBADMSG;
        if (pfx_len > 0)
                OPENSSL_cleanse(pfx, (size_t) pfx_len);
        if (r < 0)
                return ext_error(ret_error, r,
                                 "The decrypted certificates blob is not a PKCS#12 with an empty "
                                 "password");

        l.certs = calloc(MAX(c.n_certs, 1U), sizeof(Certificate));
        if (!l.certs)
                return -ENOMEM;
        for (size_t i = 0; i < c.n_certs; i++) {
                Certificate *e = &l.certs[l.n];
                EVP_PKEY *pub = X509_get0_pubkey(c.certs[i]);

                r = certificate_thumbprint(c.certs[i], e->thumbprint);
                if (r < 0)
                        return r;
                e->cert = TAKE_PTR(c.certs[i]);
                l.n++;
                /* The key goes with the certificate holding its public key (waagent compares pubkeys). */
                for (size_t k = 0; pub && k < c.n_keys; k++)
                        if (c.keys[k] && EVP_PKEY_eq(pub, c.keys[k]) == 1) {
                                e->key = TAKE_PTR(c.keys[k]);
                                break;
                        }
        }
        c.n_certs = 0;

        *ret = l;
        l = (CertificateList){};
        return 0;
}

int certificates_write(int root_fd, const char *dir, const CertificateList *l) {
        return certificates_write_to(root_fd, dir, NULL, l);
}

int certificates_write_to(int root_fd, const char *dir, const char *secrets_dir, const CertificateList *l) {
        int r;

        r = mkdir_p_in_root(root_fd, dir, 0700);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++) {
                _cleanup_free_ char *path = NULL, *pem = NULL;
                _cleanup_erase_ char *key_pem = NULL;

                if (asprintf(&path, "%s/%s.crt", dir, l->certs[i].thumbprint) < 0)
                        return -ENOMEM;
                r = pem_format_certificate(l->certs[i].cert, &pem);
                if (r < 0)
                        return r;
                r = write_string_file_atomic_in_root(root_fd, path, pem, 0600, WRITE_SYNC);
                if (r < 0)
                        return r;
                if (!l->certs[i].key)
                        continue;

                path = mfree_str(path);
                if (asprintf(&path, "%s/%s.prv", dir, l->certs[i].thumbprint) < 0)
                        return -ENOMEM;
                r = pem_format_private_key(l->certs[i].key, &key_pem);
                if (r < 0)
                        return r;
                /* Created 0600 before the first byte of the key is written (write_file_atomic_in_root); on a
                 * confidential VM on tmpfs, the contract path a symlink to it (secret-file.h). */
                r = secret_file_write(root_fd, path, secrets_dir, key_pem, strlen(key_pem));
                if (r < 0)
                        return r;
        }
        return 0;
}

int certificates_summary_json(const CertificateList *l, char **ret) {
        _cleanup_free_ char *s = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&s, &size);
        if (!f)
                return -ENOMEM;
        fputc('[', f);
        for (size_t i = 0; i < l->n; i++)
                fprintf(f, "%s{\"thumbprint\": \"%s\", \"hasPrivateKey\": %s}", i > 0 ? ", " : "",
                        l->certs[i].thumbprint, l->certs[i].key ? "true" : "false");
        fputc(']', f);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(s);
        return 0;
}
