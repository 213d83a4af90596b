/* SPDX-License-Identifier: MIT */
/*
 * What the modules of the Azure client (azure-client.h) share: the object itself. Each module owns its part of
 * it (the poller, the upload, the downloads) and frees it from azure_client_free() through the *_free() below.
 */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "azure-client.h"

typedef struct WirePoller WirePoller;
typedef struct StatusUpload StatusUpload;
typedef struct PackageFetch PackageFetch;

struct AzureClient {
        sd_event *event;
        bool private_event;
        HttpClient *http;

        char *endpoint;  /* WireServer host[:port] */
        char *wire_host; /* host only */
        char *hgap_base; /* http://host:port */
        unsigned hgap_port;
        usec_t http_timeout;
        RetryPolicy policy; /* for requests given no policy */

        GoalState goal_state; /* the one in effect: HostGAPlugin headers (the poller keeps it) */
        bool have_goal_state;

        int root_fd; /* storage: certificates, packages; -EBADF = none */
        const char *lib_dir;
        const char *secrets_dir; /* decrypted private keys (tmpfs, common/secret-file.h); NULL: lib_dir */

        /* certificates (wire-certificates.c) */
        EVP_PKEY *transport_key;
        X509 *transport_cert;
        char *transport_cert_header;
        char **thumbprints; /* of the last stored list */

        WirePoller *poller;   /* goal-state-poll.c */
        StatusUpload *upload; /* status-upload.c */
        bool upload_again;
        PackageFetch *downloads; /* artifact-download.c: a list */
};

WirePoller *wire_poller_free(WirePoller *p);
StatusUpload *status_upload_free(StatusUpload *u);
void package_fetches_free(AzureClient *c);
void wire_certificates_done(AzureClient *c);
/* The certificates request on c's private loop, run until answered (wire-certificates.c): *ret is the decrypted
 * list (certificate_list_done() it). For wire_fetch_certificates() and the certificate worker. */
int wire_certificates_run(AzureClient *c, const GoalState *g, const RetryPolicy *p, CertificateList *ret,
                          char **ret_reason);
