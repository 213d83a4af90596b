/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent attest [--nonce N] [--evidence] [--vm-id ID] [--response FILE]`: does the instance metadata really come
 * from Azure, for this VM, now? (issue #22, docs/security.md "Confidential VMs", azl-agent(8) ATTESTATION)
 *
 *   1. GET IMDS /metadata/attested/document with a nonce (the one given, else 10 random digits); --response FILE
 *      verifies a response saved earlier instead (then --nonce is the one that was asked).
 *   2. provisioners/confidential/attested.h verifies it: the PKCS#7 signature over the document, the signer's chain to a trust
 *      anchor ([Attestation] TrustAnchors=, else the system trust store; intermediates from the message,
 *      [Attestation] Intermediates= or, with FetchIntermediates=yes, the AIA URL), its subjectAltName and key
 *      usage; then the nonce, the vmId against this instance's (--vm-id, else the SMBIOS product UUID, else the
 *      VM id the provisioning run recorded) and the validity window (± [Attestation] ClockSkewSec=). IMDS may
 *      answer with a cached document (IMDS doc, "Attested data"): a nonce mismatch is asked again, twice.
 *   3. Prints the verified document (the signed JSON, as signed) — or, with --evidence, one JSON object with the
 *      document, the signature, what was verified, and the vTPM's HCL report (base64) for an attestation service.
 *
 * Exit 0 when verified, 1 with a precise reason on stderr otherwise, 4 when Azure endpoints may not be contacted.
 * This is not remote attestation: nothing here appraises the hardware report (docs/security.md).
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "agent.h"
#include "attested.h"
#include "evidence.h"
#include "fileio.h"
#include "http.h"
#include "imds.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "provision-state.h"
#include "tpm2.h"

#define ATTEST_NONCE_ATTEMPTS 3
#define ATTEST_BUNDLE_MAX     (4U * 1024U * 1024U)
#define ATTEST_AIA_MAX        (64U * 1024U)

typedef struct AttestArgs {
        char nonce[IMDS_ATTESTED_NONCE_MAX + 1];
        bool nonce_given;
        bool evidence;
        const char *vm_id;
        const char *response;
} AttestArgs;

static bool nonce_is_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= IMDS_ATTESTED_NONCE_MAX && strspn(s, "0123456789") == n;
}

static int parse_args(int argc, char **argv, AttestArgs *ret) {
        static const struct option options[] = {
                {"nonce", required_argument, NULL, 'n'}, {"evidence", no_argument, NULL, 'e'},
                {"vm-id", required_argument, NULL, 'i'}, {"response", required_argument, NULL, 'r'},
                {"help", no_argument, NULL, 'h'},        {}};
        AttestArgs a = {};
        int opt;

        optind = 0; /* GNU: full re-initialisation after main()'s getopt */
        while ((opt = getopt_long(argc, argv, "n:ei:r:h", options, NULL)) >= 0)
                switch (opt) {
                case 'n':
                        if (!nonce_is_valid(optarg))
                                return log_error_errno(
                                        EINVAL,
                                        "--nonce must be 1 to %u decimal digits (IMDS takes a "
                                        "10-digit nonce), got '%s'.",
                                        IMDS_ATTESTED_NONCE_MAX, optarg);
                        (void) snprintf(a.nonce, sizeof a.nonce, "%s", optarg);
                        a.nonce_given = true;
                        break;
                case 'e':
                        a.evidence = true;
                        break;
                case 'i':
                        a.vm_id = optarg;
                        break;
                case 'r':
                        a.response = optarg;
                        break;
                case 'h':
                        printf("azl-agent attest [--nonce N] [--evidence] [--vm-id ID] [--response FILE]\n");
                        exit(EXIT_SUCCESS);
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        if (a.response && !a.nonce_given)
                return log_error_errno(
                        EINVAL, "--response needs --nonce: the nonce the saved document was asked with.");
        *ret = a;
        return 0;
}

static int random_nonce(char ret[static IMDS_ATTESTED_NONCE_MAX + 1]) {
        uint8_t b[IMDS_ATTESTED_NONCE_MAX];

        if (getrandom(b, sizeof b, 0) != (ssize_t) sizeof b)
                return negative_errno();
        for (size_t i = 0; i < sizeof b; i++)
                ret[i] = (char) ('0' + b[i] % 10);
        ret[sizeof b] = 0;
        return 0;
}

/* This instance's VM id, and where it came from. */
static int instance_vm_id(Context *c, const AttestArgs *a, char ret[static 37], const char **ret_source) {
        _cleanup_(provision_state_done) ProvisionState s = {};

        if (a->vm_id) {
                if (uuid_normalize(a->vm_id, ret) < 0)
                        return log_error_errno(EINVAL, "--vm-id '%s' is not a UUID.", a->vm_id);
                *ret_source = "--vm-id";
                return 0;
        }
        if (!isempty(c->platform.vm_id)) {
                memcpy(ret, c->platform.vm_id, 37);
                *ret_source = "SMBIOS product UUID";
                return 0;
        }
        if (provision_state_load(c, &s) >= 0 && s.vm_id && uuid_normalize(s.vm_id, ret) >= 0) {
                *ret_source = "the provisioning run's record (IMDS)";
                return 0;
        }
        return log_error_errno(
                ENXIO, "Cannot tell this instance's VM id (no SMBIOS product UUID, nothing provisioned); "
                       "give it with --vm-id.");
}

/* ---- trust ---- */

static int read_bundle(Context *c, const char *path, const char *key, char **ret, size_t *ret_size) {
        int r = read_file_in_root(c->root_fd, path, ATTEST_BUNDLE_MAX, ret, ret_size);

        if (r < 0)
                return log_error_errno(r, "Cannot read [Attestation] %s=%s: %m", key, path);
        return 0;
}

/* FetchIntermediates=yes: the certificate at an AIA caIssuers URL (DER or PEM), bounded, no proxy. */
static int fetch_issuer(const char *url, void *userdata, X509 **ret) {
        const Context *c = userdata;
        _cleanup_http_response_ HttpResponse *resp = NULL;
        const unsigned char *p;
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .timeout = c->config.http_timeout,
                .max_response = ATTEST_AIA_MAX,
        };
        X509 *x;
        int r;

        log_debug("Fetching an intermediate certificate from %s ([Attestation] FetchIntermediates=yes).",
                  url);
        r = http_request_sync(&req, &resp);
        if (r < 0)
                return r;
        if (!http_status_ok(resp->status))
                return http_status_to_errno(resp->status);
        p = (const unsigned char *) resp->body;
        x = d2i_X509(NULL, &p, (long) resp->body_size);
        if (!x) {
                STACK_OF(X509) *s = sk_X509_new_null();

                ERR_clear_error();
                if (!s)
                        return -ENOMEM;
                if (attested_stack_add_pem(s, resp->body, resp->body_size, NULL) >= 0)
                        x = sk_X509_shift(s);
                sk_X509_pop_free(s, X509_free);
        }
        if (!x)
                return -EBADMSG;
        *ret = x;
        return 0;
}

static int trust_setup(Context *c, AttestedTrust *t) {
        _cleanup_free_ char *buf = NULL;
        const Config *cfg = &c->config;
        size_t size;
        int r;

        *t = (AttestedTrust){.store = X509_STORE_new()};
        if (!t->store)
                return log_oom();
        if (cfg->attestation_trust_anchors) {
                r = read_bundle(c, cfg->attestation_trust_anchors, "TrustAnchors", &buf, &size);
                if (r < 0)
                        return r;
                r = attested_store_add_pem(t->store, buf, size, NULL);
                if (r < 0)
                        return log_error_errno(r, "[Attestation] TrustAnchors=%s holds no PEM certificate.",
                                               cfg->attestation_trust_anchors);
        } else if (X509_STORE_set_default_paths(t->store) != 1)
                return log_error_errno(EIO, "Cannot load the system trust store.");
        if (cfg->attestation_intermediates) {
                free(buf);
                buf = NULL;
                r = read_bundle(c, cfg->attestation_intermediates, "Intermediates", &buf, &size);
                if (r < 0)
                        return r;
                t->intermediates = sk_X509_new_null();
                if (!t->intermediates)
                        return log_oom();
                r = attested_stack_add_pem(t->intermediates, buf, size, NULL);
                if (r < 0)
                        return log_error_errno(r, "[Attestation] Intermediates=%s holds no PEM certificate.",
                                               cfg->attestation_intermediates);
        }
        for (char *const *d = cfg->attestation_signer_domains; d && *d; d++)
                if (strv_extend(&t->signer_domains, *d) < 0)
                        return log_oom();
        if (!t->signer_domains)
                return log_error_errno(
                        EINVAL, "[Attestation] SignerDomains= is empty: no signer could be accepted.");
        if (cfg->attestation_fetch_intermediates) {
                t->fetch_issuer = fetch_issuer;
                t->fetch_userdata = c;
        }
        return 0;
}

/* ---- fetch and verify ---- */

static int get_response(Context *c, const AttestArgs *a, const char *nonce, char **ret, size_t *ret_size) {
        ImdsOptions o;
        int r;

        if (a->response) {
                int fd = open(a->response, O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (fd < 0)
                        return log_error_errno(errno, "Cannot open %s: %m", a->response);
                r = read_full_fd(fd, ATTESTED_RESPONSE_MAX, ret, ret_size);
                (void) close(fd);
                if (r < 0)
                        return log_error_errno(r, "Cannot read %s: %m", a->response);
                return 0;
        }
        imds_options_from_config(&c->config, &o);
        r = imds_fetch_attested(&o, nonce, ret, ret_size);
        if (r < 0)
                return log_error_errno(r, "IMDS did not give an attested document: %m");
        return 0;
}

/* One attempt: returns 0 when verified, -ESTALE on a nonce mismatch (worth asking again), other -errno logged. */
static int attest_once(Context *c, const AttestArgs *a, const AttestedTrust *t, const char *nonce,
                       const char *vm_id, AttestedVerified *ret, char **ret_signature) {
        _cleanup_(attested_verified_done) AttestedVerified v = {};
        _cleanup_free_ char *body = NULL, *reason = NULL;
        _cleanup_free_ void *der = NULL;
        size_t size = 0, der_size = 0;
        JsonError err = {};
        int r;

        r = get_response(c, a, nonce, &body, &size);
        if (r < 0)
                return r;
        r = attested_response_parse(body, size, &der, &der_size, &err);
        if (r < 0)
                return log_error_errno(r, "The attested data response is invalid: %s",
                                       r == -E2BIG      ? "too large"
                                       : err.message[0] ? err.message
                                                        : strerror(-r));
        r = attested_verify(der, der_size, t, &v, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0)
                return log_error_errno(r, "Attested document NOT verified: %s.", strna(reason));
        r = attested_check(&v.doc, nonce, vm_id, now_usec(CLOCK_REALTIME), c->config.attestation_clock_skew,
                           &reason);
        if (r == -ESTALE)
                return log_debug_errno(r, "%s", reason);
        if (r < 0)
                return log_error_errno(r, "Attested document NOT verified: %s.", strna(reason));
        if (ret_signature && base64_encode(der, der_size, ret_signature) < 0)
                return log_oom();
        *ret = v;
        v = (AttestedVerified){};
        return 0;
}

/* ---- output ---- */

static struct json_object *string_array(char *const *l) {
        struct json_object *a = json_object_new_array();

        for (; a && l && *l; l++)
                json_object_array_add(a, json_object_new_string(*l));
        return a;
}

static int evidence_json(Context *c, const char *vm_id, struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *reason = NULL, *b64 = NULL, *hw = NULL;
        _cleanup_free_ void *data = NULL;
        char index[16];
        HclReport h;
        size_t size = 0;
        int r;

        if (!o)
                return log_oom();
        (void) snprintf(index, sizeof index, "0x%08x", TPM2_NV_INDEX_HCL_REPORT);
        json_object_object_add(o, "tpm", json_object_new_string(c->config.tpm_device));
        json_object_object_add(o, "nv_index", json_object_new_string(index));
        r = evidence_read_hcl_report(c->root_fd, c->config.tpm_device, &data, &size, &h, &reason);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_warning("No hardware evidence: %s.", reason);
                json_object_object_add(o, "available", json_object_new_boolean(false));
                json_object_object_add(o, "reason", json_object_new_string(reason));
                *ret = TAKE_PTR(o);
                return 0;
        }
        if (base64_encode(data, size, &b64) < 0 || base64_encode(h.hw_report, h.hw_report_size, &hw) < 0)
                return log_oom();
        json_object_object_add(o, "available", json_object_new_boolean(true));
        json_object_object_add(o, "hcl_report", json_object_new_string(b64));
        json_object_object_add(o, "report_type",
                               json_object_new_string(hcl_report_type_to_string(h.report_type)));
        json_object_object_add(o, "hardware_report", json_object_new_string(hw));
        json_object_object_add(o, "runtime_data_bound", json_object_new_boolean(h.runtime_data_bound));
        json_object_object_add(o, "vm_unique_id",
                               h.vm_unique_id[0] ? json_object_new_string(h.vm_unique_id) : NULL);
        json_object_object_add(o, "vm_unique_id_matches",
                               h.vm_unique_id[0] ? json_object_new_boolean(streq(h.vm_unique_id, vm_id))
                                                 : NULL);
        json_object_object_add(o, "appraised", json_object_new_boolean(false));
        *ret = TAKE_PTR(o);
        return 0;
}

static int print_evidence(Context *c, const AttestedVerified *v, const char *signature, const char *nonce,
                          const char *vm_id, const char *vm_id_source) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *doc = NULL, *verified = NULL,
                                          *evidence = NULL;
        int r;

        if (!o)
                return log_oom();
        r = json_parse_buffer(v->content, v->content_size, &doc, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot re-read the verified document: %m");
        verified = json_object_new_object();
        if (!verified)
                return log_oom();
        json_object_object_add(verified, "signer", json_object_new_string(v->signer));
        json_object_object_add(verified, "signer_dns_name", json_object_new_string(v->signer_dns));
        json_object_object_add(verified, "chain", string_array(v->chain));
        json_object_object_add(verified, "intermediates_fetched", json_object_new_int((int) v->fetched));
        json_object_object_add(verified, "nonce", json_object_new_string(nonce));
        json_object_object_add(verified, "vm_id", json_object_new_string(vm_id));
        json_object_object_add(verified, "vm_id_source", json_object_new_string(vm_id_source));
        json_object_object_add(verified, "created_on", json_object_new_string(v->doc.created_on_text));
        json_object_object_add(verified, "expires_on", json_object_new_string(v->doc.expires_on_text));
        r = evidence_json(c, vm_id, &evidence);
        if (r < 0)
                return r;
        json_object_object_add(o, "document", TAKE_PTR(doc));
        json_object_object_add(o, "signature", json_object_new_string(signature));
        json_object_object_add(o, "verified", TAKE_PTR(verified));
        json_object_object_add(o, "evidence", TAKE_PTR(evidence));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

int verb_attest(Context *c, int argc, char **argv) {
        _cleanup_(attested_verified_done) AttestedVerified v = {};
        _cleanup_(attested_trust_done) AttestedTrust t = {};
        _cleanup_error_ Error reason = ERROR_NULL;
        _cleanup_free_ char *signature = NULL;
        const char *vm_id_source = NULL;
        char vm_id[37];
        AttestArgs a;
        int r;

        r = parse_args(argc, argv, &a);
        if (r < 0)
                return r;
        if (!a.response) {
                r = context_endpoints_allowed(c, &reason);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0) {
                        log_error("Not asking IMDS: %s", error_reason(&reason));
                        return EXIT_NOT_APPLICABLE;
                }
        }
        r = instance_vm_id(c, &a, vm_id, &vm_id_source);
        if (r < 0)
                return r;
        r = trust_setup(c, &t);
        if (r < 0)
                return r;
        if (!a.nonce_given && random_nonce(a.nonce) < 0)
                return log_error_errno(EIO, "Cannot make a random nonce.");

        for (unsigned attempt = 1;; attempt++) {
                r = attest_once(c, &a, &t, a.nonce, vm_id, &v, &signature);
                if (r != -ESTALE)
                        break;
                if (a.response || attempt >= ATTEST_NONCE_ATTEMPTS)
                        return log_error_errno(
                                r,
                                "Attested document NOT verified: it carries another nonce than '%s' "
                                "(%u attempt(s); a replayed or cached document).",
                                a.nonce, attempt);
                (void) sleep(1);
        }
        if (r < 0)
                return r;
        log_info("Attested document verified: signed by %s (%s), chain to %s; nonce %s; vmId %s (%s); valid "
                 "until %s.",
                 v.signer, v.signer_dns, strv_length(v.chain) > 0 ? v.chain[strv_length(v.chain) - 1] : "?",
                 a.nonce, vm_id, vm_id_source, v.doc.expires_on_text);
        if (a.evidence)
                return print_evidence(c, &v, signature, a.nonce, vm_id, vm_id_source);
        fwrite(v.content, 1, v.content_size, stdout);
        putchar('\n');
        return 0;
}
