/* SPDX-License-Identifier: MIT */
/*
 * Azure Instance Metadata Service client.
 *
 *   GET <imds_url>/metadata/instance?api-version=<v>&extended=true      Metadata: true, no proxy
 *   GET <imds_url>/metadata/instance/compute/userData?api-version=2021-01-01&format=text   (base64)
 *   GET <imds_url>/metadata/reprovisiondata?api-version=2019-06-01     (pre-provisioned VMs: ovf-env.xml)
 *
 * Retry behaviour follows cloud-init/azure-init (protocol §6.3): 404, 410, 429, 500, 503
 * and connection errors are retried with capped exponential backoff and jitter until the deadline
 * (Config.imds_deadline, 300 s by default). HTTP 400 means the api-version is not known to this IMDS: the
 * request is repeated with an older one (2021-08-01, then 2019-06-01, as cloud-init falls back) within the
 * same deadline. Responses are bounded (IMDS_RESPONSE_MAX).
 *
 * The parser is a pure function over a buffer: typed json_dispatch tables, unknown fields tolerated, wrong
 * types rejected naming the field ("compute.osProfile.adminUsername").
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"
#include "http-retry.h"
#include "json-util.h"

#define IMDS_RESPONSE_MAX            (1024U * 1024U)
#define IMDS_STRING_MAX              4096U         /* any single string field */
#define IMDS_KEY_DATA_MAX            (16U * 1024U) /* one SSH public key */
#define IMDS_PUBLIC_KEYS_MAX         64U
#define IMDS_USER_DATA_MAX           (64U * 1024U) /* decoded; Azure limits user data to 64 KiB */
#define IMDS_USER_DATA_API_VERSION   "2021-01-01"
#define IMDS_REPROVISION_API_VERSION "2019-06-01"

typedef enum ImdsPpsType {
        IMDS_PPS_NONE,
        IMDS_PPS_RUNNING,
        IMDS_PPS_SAVABLE,
        _IMDS_PPS_TYPE_MAX,
        _IMDS_PPS_TYPE_INVALID = -EINVAL,
} ImdsPpsType;

/* compute.securityProfile (api-version 2020-06-01: secureBootEnabled, virtualTpmEnabled; 2021-11-01:
 * encryptionAtHost; 2021-12-13: securityType). Booleans are strings on the wire; -1 = absent. securityType is
 * "TrustedLaunch", "ConfidentialVM", or "" for a standard VM. */
typedef struct ImdsSecurityProfile {
        bool present;
        char *security_type; /* NULL when absent */
        int secure_boot;
        int virtual_tpm;
        int encryption_at_host;
} ImdsSecurityProfile;

typedef struct ImdsPublicKey {
        char *key_data;
        char *path;
} ImdsPublicKey;

typedef struct ImdsInstance {
        /* compute */
        char vm_id[37]; /* normalized lower-case UUID */
        char *name;
        char *computer_name;  /* compute.osProfile.computerName */
        char *admin_username; /* compute.osProfile.adminUsername */
        bool disable_password_authentication;
        ImdsPublicKey *public_keys;
        size_t n_public_keys;
        char *location;
        char *vm_size;
        char *zone;
        char *subscription_id;
        char *resource_group_name;
        char *os_type;
        char *tags;
        char *user_data;              /* compute.userData, still base64 (NULL if absent) */
        ImdsPpsType pps_type;         /* extended.compute.ppsType */
        ImdsSecurityProfile security; /* compute.securityProfile */
        /* network, for the networking module (it parses network.interface[] itself); a reference */
        struct json_object *network;
} ImdsInstance;

void imds_instance_done(ImdsInstance *i);

const char *imds_pps_type_to_string(ImdsPpsType t);
ImdsPpsType imds_pps_type_from_string(const char *s);

/* Pure parser; err (optional) names the offending field. -EBADMSG on malformed/invalid documents, -E2BIG
 * above IMDS_RESPONSE_MAX, -ENOMEM. */
int imds_parse_instance(const char *buf, size_t len, ImdsInstance *ret, JsonError *err);

typedef struct ImdsOptions {
        const char *url;         /* base, e.g. "http://169.254.169.254" (no trailing path) */
        const char *api_version; /* preferred api-version */
        usec_t http_timeout;     /* per attempt */
        RetryPolicy policy;      /* deadline, backoff and retryable statuses */
} ImdsOptions;

/* Fills o from the configuration (pointers into c) with the default IMDS retry policy. */
void imds_options_from_config(const Config *c, ImdsOptions *ret);
/* The default IMDS policy for a deadline: exponential 1 s … 10 s ±20 %, 404/410/429/500/503 + transport. */
void imds_retry_policy(usec_t deadline, RetryPolicy *ret);

/* Builds "<url>/metadata/instance?api-version=<v>[&extended=true]" (extended from 2021-03-01 on). */
int imds_instance_url(const char *base, const char *api_version, char **ret);
/* Request headers: "Metadata: true" and "x-ms-client-request-id: <uuid4>". */
int imds_request_headers(char ***ret);

/* Fetches the instance document, with api-version fallback on 400. ret_api_version (optional) receives the
 * version that answered. */
int imds_fetch_instance_raw(const ImdsOptions *o, char **ret_body, size_t *ret_size, char **ret_api_version);
int imds_fetch_instance(const ImdsOptions *o, ImdsInstance *ret, JsonError *err);

/*
 * The same fetch on an event loop (the daemon): the GET runs on client's sd-event loop with o's retry policy,
 * deadline and api-version fallback, and cb is called once with the body (the callee owns it) or error < 0
 * (transport error, -ETIMEDOUT, or the final HTTP status as http_status_to_errno()). The ImdsFetch is freed
 * after the callback returns: drop any pointer to it there. o's strings are copied.
 */
typedef struct ImdsFetch ImdsFetch;
typedef void (*ImdsFetchCallback)(ImdsFetch *f, int error, char *body, size_t size, void *userdata);
int imds_fetch_instance_start(HttpClient *client, const ImdsOptions *o, ImdsFetchCallback cb, void *userdata,
                              ImdsFetch **ret);
ImdsFetch *imds_fetch_cancel(ImdsFetch *f); /* callback not called; returns NULL */

/* compute.userData, base64-decoded. -ENODATA when the VM has none (empty body). */
int imds_fetch_user_data(const ImdsOptions *o, void **ret, size_t *ret_size);

/* Pre-provisioned VMs: the real ovf-env.xml bytes. */
int imds_fetch_reprovision_data(const ImdsOptions *o, char **ret, size_t *ret_size);

/*
 * Attested data (IMDS doc "Attested data"): GET /metadata/attested/document?api-version=…&nonce=<nonce>, the
 * JSON {"encoding": "pkcs7", "signature": "<base64 PKCS#7>"} as it came (parsed and verified by
 * provisioners/confidential/attested.h). nonce: 1–IMDS_ATTESTED_NONCE_MAX decimal digits (IMDS: "a 10-digit string").
 */
#define IMDS_ATTESTED_API_VERSION "2020-09-01"
#define IMDS_ATTESTED_NONCE_MAX   10U
int imds_fetch_attested(const ImdsOptions *o, const char *nonce, char **ret_body, size_t *ret_size);
