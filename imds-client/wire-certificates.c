/* SPDX-License-Identifier: MIT */
/*
 * Certificates (protocol §1.6) for both verbs: the transport certificate (TransportCert.pem/TransportPrivate.pem in
 * the storage directory, generated once; in memory only for a client without storage), the Certificates request
 * (x-ms-guest-agent-public-x509-cert + x-ms-cipher-name AES128_CBC, then DES_EDE3_CBC when that request or its
 * decryption fails, as waagent does), the decryption (extensions/certificates.c) and the <THUMB>.crt/.prv files.
 * The client remembers which thumbprints it wrote so that the poller can tell when a goal state references a
 * certificate it does not hold.
 */
#include <stdio.h>
#include <string.h>

#include "azure-client-internal.h"
#include "fileio.h"
#include "log.h"
#include "secret-file.h"

struct WireCertificates {
        AzureClient *client;
        char *url;
        RetryPolicy policy;
        bool cipher_3des;
        HttpRetry *retry;
        WireCertificatesCallback callback;
        void *userdata;
};

void wire_certificates_done(AzureClient *c) {
        EVP_PKEY_free(c->transport_key);
        X509_free(c->transport_cert);
        c->transport_key = NULL;
        c->transport_cert = NULL;
        free(c->transport_cert_header);
        c->transport_cert_header = NULL;
        c->thumbprints = strv_free(c->thumbprints);
}

/* A transport key of an earlier run without a secrets directory: a regular file on the disk. */
static bool transport_key_on_disk(AzureClient *c) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "%s/" TRANSPORT_KEY_FILE, c->lib_dir) < 0)
                return true;
        return secret_file_is_linked(c->root_fd, path, c->secrets_dir) <= 0;
}

int azure_client_transport_cert_setup(AzureClient *c, bool *ret_generated) {
        bool generated = false, replaced = false, in_memory = false;
        int r;

        if (c->transport_cert_header) {
                if (ret_generated)
                        *ret_generated = false;
                return 0;
        }
        if (c->root_fd >= 0 && c->lib_dir) {
                r = mkdir_p_in_root(c->root_fd, c->lib_dir, 0700);
                if (r < 0)
                        return r;
                r = transport_cert_load(c->root_fd, c->lib_dir, &c->transport_key, &c->transport_cert);
                if (r >= 0 && c->secrets_dir && transport_key_on_disk(c)) {
                        log_debug("The transport key in %s is on the disk: replacing it with one in %s.",
                                  c->lib_dir, c->secrets_dir);
                        EVP_PKEY_free(c->transport_key);
                        X509_free(c->transport_cert);
                        c->transport_key = NULL;
                        c->transport_cert = NULL;
                        replaced = true;
                        r = -ENOENT;
                }
                if (r < 0)
                        log_debug_errno(r, "No usable transport certificate in %s, generating one: %m",
                                        c->lib_dir);
        } else
                r = -ENOENT;
        if (r < 0) {
                r = transport_cert_generate(&c->transport_key, &c->transport_cert);
                if (r < 0)
                        return r;
                generated = true;
                if (c->root_fd >= 0 && c->lib_dir) {
                        r = transport_cert_save_to(c->root_fd, c->lib_dir, c->secrets_dir, c->transport_key,
                                                   c->transport_cert);
                        if (r == -EMEDIUMTYPE)
                                in_memory = true;
                        else if (r < 0)
                                return r;
                        if (in_memory && replaced) {
                                /* Neither the new key nor the old one on the disk. */
                                _cleanup_free_ char *path = NULL;

                                if (asprintf(&path, "%s/" TRANSPORT_KEY_FILE, c->lib_dir) < 0)
                                        return -ENOMEM;
                                r = secret_file_discard(c->root_fd, path);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        r = transport_cert_header_value(c->transport_cert, &c->transport_cert_header);
        if (r < 0)
                return r;
        if (ret_generated)
                *ret_generated = generated;
        return in_memory ? TRANSPORT_CERT_IN_MEMORY : replaced ? TRANSPORT_CERT_REPLACED : 0;
}

WireCertificates *wire_certificates_cancel(WireCertificates *op) {
        if (!op)
                return NULL;
        http_retry_cancel(op->retry);
        free(op->url);
        free(op);
        return NULL;
}

static const char *cipher_name(const WireCertificates *op) {
        return op->cipher_3des ? CERTIFICATES_CIPHER_3DES : CERTIFICATES_CIPHER_AES128;
}

static int certificates_request(WireCertificates *op);

/* The answer's document → a list (empty when the goal state has no certificates in a supported format). */
static int certificates_decode(WireCertificates *op, const HttpResponse *resp, CertificateList **ret,
                               char **ret_reason) {
        _cleanup_(certificates_xml_done) CertificatesXml xml = {};
        _cleanup_free_ CertificateList *list = NULL;
        _cleanup_free_ char *reason = NULL;
        int r;

        list = calloc(1, sizeof *list);
        if (!list)
                return -ENOMEM;
        r = certificates_xml_parse(resp->body, resp->body_size, &xml, &reason);
        if (r < 0) {
                if (asprintf(ret_reason, "Certificates document is invalid: %s", strna(reason)) < 0)
                        *ret_reason = NULL;
                return r;
        }
        if (xml.data) {
                r = certificates_decrypt(xml.data, xml.data_size, op->client->transport_key,
                                         op->client->transport_cert, list, &reason);
                if (r < 0) {
                        if (asprintf(ret_reason, "Failed to decrypt the certificates (%s): %s",
                                     cipher_name(op), strna(reason)) < 0)
                                *ret_reason = NULL;
                        return r;
                }
        }
        *ret = TAKE_PTR(list);
        return 0;
}

static void on_certificates(HttpRetry *retry, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        _cleanup_free_ char *reason = NULL;
        CertificateList *list = NULL;
        WireCertificates *op = userdata;
        bool throttled = !error && wire_status_is_throttle(resp->status);
        int r;

        op->retry = NULL;
        r = wire_response_errno(error, resp);
        if (r < 0) {
                char what[HTTP_FAILURE_STRING_MAX];

                reason = strdup(http_failure_string(error, error < 0 ? 0 : resp->status, what, sizeof what));
        } else
                r = certificates_decode(op, resp, &list, &reason);
        if (r < 0 && r != -ESTALE && r != -ENOMEM && !throttled && !op->cipher_3des) {
                /* waagent retries with DES_EDE3_CBC when the AES request or its decryption fails. */
                log_debug("Certificates with %s failed (%s), asking for %s.", cipher_name(op), strna(reason),
                          CERTIFICATES_CIPHER_3DES);
                op->cipher_3des = true;
                r = certificates_request(op);
                if (r >= 0)
                        return;
        }
        op->callback(op, r, r < 0 ? NULL : list, reason, op->userdata);
        if (r < 0 && list) {
                certificate_list_done(list);
                free(list);
        }
        wire_certificates_cancel(op);
}

static int certificates_request(WireCertificates *op) {
        _cleanup_free_ char *cert = NULL, *cipher = NULL;

        if (asprintf(&cert, "x-ms-guest-agent-public-x509-cert: %s", op->client->transport_cert_header) <
                    0 ||
            asprintf(&cipher, "x-ms-cipher-name: %s", cipher_name(op)) < 0)
                return -ENOMEM;
        return wire_request_start(op->client, HTTP_METHOD_GET, op->url, (char *const[]){cert, cipher, NULL},
                                  NULL, 0, CERTIFICATES_DATA_MAX, &op->policy, on_certificates, op,
                                  &op->retry);
}

int wire_certificates_start(AzureClient *c, const GoalState *g, const RetryPolicy *p,
                            WireCertificatesCallback cb, void *userdata, WireCertificates **ret) {
        WireCertificates *op;
        int r;

        if (!c || !g || !cb)
                return -EINVAL;
        if (!g->certificates_url)
                return -ENOENT;
        r = azure_client_transport_cert_setup(c, NULL);
        if (r < 0)
                return r;
        op = calloc(1, sizeof *op);
        if (!op)
                return -ENOMEM;
        *op = (WireCertificates){
                .client = c,
                .url = strdup(g->certificates_url),
                .policy = p ? *p : c->policy,
                .callback = cb,
                .userdata = userdata,
        };
        if (!op->url) {
                wire_certificates_cancel(op);
                return -ENOMEM;
        }
        r = certificates_request(op);
        if (r < 0) {
                wire_certificates_cancel(op);
                return r;
        }
        if (ret)
                *ret = op;
        return 0;
}

typedef struct CertificatesSync {
        bool done;
        int error;
        CertificateList *list;
        char *reason;
} CertificatesSync;

static void on_certificates_sync(WireCertificates *op, int error, CertificateList *list, const char *reason,
                                 void *userdata) {
        CertificatesSync *s = userdata;

        s->done = true;
        s->error = error;
        s->list = list;
        s->reason = reason ? strdup(reason) : NULL;
}

int wire_certificates_run(AzureClient *c, const GoalState *g, const RetryPolicy *p, CertificateList *ret,
                          char **ret_reason) {
        CertificatesSync s = {};
        int r;

        r = wire_certificates_start(c, g, p, on_certificates_sync, &s, NULL);
        if (r < 0)
                return r;
        r = azure_client_run(c, &s.done);
        if (r >= 0)
                r = s.error;
        if (r < 0) {
                if (ret_reason)
                        *ret_reason = TAKE_PTR(s.reason);
                free(s.reason);
                return r;
        }
        free(s.reason);
        *ret = *s.list;
        free(s.list);
        return 0;
}

int wire_fetch_certificates(const WireOptions *o, const GoalState *g, CertificateList *ret,
                            char **ret_reason) {
        _cleanup_azure_client_ AzureClient *c = NULL;
        int r;

        if (!o || !g || !ret)
                return -EINVAL;
        /* The same request as the daemon's, on a private loop, with a transport certificate made for it. */
        r = azure_client_new(NULL, o, &c);
        if (r < 0)
                return r;
        return wire_certificates_run(c, g, &o->policy, ret, ret_reason);
}

int azure_client_certificates_store(AzureClient *c, const CertificateList *l) {
        _cleanup_strv_free_ char **thumbs = NULL;
        int r;

        if (c->root_fd < 0 || !c->lib_dir)
                return -ENODEV;
        r = certificates_write_to(c->root_fd, c->lib_dir, c->secrets_dir, l);
        if (r == -EMEDIUMTYPE)
                /* No key is written; none that an earlier run without a secrets directory wrote stays either. */
                for (size_t i = 0; i < l->n; i++) {
                        _cleanup_free_ char *path = NULL;

                        if (asprintf(&path, "%s/%s.prv", c->lib_dir, l->certs[i].thumbprint) < 0)
                                return -ENOMEM;
                        (void) secret_file_discard(c->root_fd, path);
                }
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                if (strv_extend(&thumbs, l->certs[i].thumbprint) < 0)
                        return -ENOMEM;
        strv_free(c->thumbprints);
        c->thumbprints = TAKE_PTR(thumbs);
        return 0;
}

bool azure_client_has_certificate(AzureClient *c, const char *thumbprint) {
        _cleanup_free_ char *path = NULL;
        char upper[41];

        if (!wire_thumbprint_is_valid(thumbprint))
                return false; /* never held: not a name we would write */
        for (size_t i = 0; i < sizeof upper; i++)
                upper[i] = (char) (thumbprint[i] >= 'a' && thumbprint[i] <= 'f' ? thumbprint[i] - ('a' - 'A')
                                                                                : thumbprint[i]);
        if (strv_contains(c->thumbprints, upper))
                return true;
        if (c->root_fd < 0 || !c->lib_dir || asprintf(&path, "%s/%s.crt", c->lib_dir, upper) < 0)
                return false;
        return access_in_root(c->root_fd, path) >= 0;
}

char *const *azure_client_thumbprints(const AzureClient *c) {
        return c->thumbprints;
}
