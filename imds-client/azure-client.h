/* SPDX-License-Identifier: MIT */
/*
 * The Azure client: one object, AzureClient, for everything the agent says to the fabric — the WireServer,
 * the HostGAPlugin, blob storage (and IMDS, whose requests run on the same HttpClient) — on one sd-event loop.
 * Both verbs use it: the daemon on its own loop, `provision` through the synchronous functions of
 * wireserver.h, which start the same asynchronous operations on a private loop and run it to completion
 * (azure_client_run()). Requests, parsers and the retry policy (wire_retry_policy(), http-retry.h) therefore
 * exist once. References ("protocol §N") are to the wire protocol document.
 *
 * What it does, one module each:
 *   azure-client.c   the object: endpoints, the HttpClient, the goal state whose ids the HostGAPlugin headers
 *                    carry, request helpers (WireServer headers, no proxy; HostGAPlugin headers), the private
 *                    loop of the synchronous path;
 *   wireserver.c, wire-health.c   versions, goal state (RoleInstance re-fetch), documents, health (protocol §1.3–§1.5);
 *   wire-certificates.c   the transport certificate, Certificates (AES-128, then 3DES, protocol §1.6), decryption
 *                    and the <THUMB>.crt/.prv files, the set of thumbprints held;
 *   goal-state-poll.c   the daemon's goal-state pass (protocol §1.4, §2.1): goal state → vmSettings →
 *                    HostingEnvironmentConfig → Certificates → ExtensionsConfig → Fast Track choice, and the
 *                    410 / throttle / Fibonacci back-off rules between passes;
 *   status-upload.c  the status blob (protocol §4.9): BlockBlob or PageBlob, through the HostGAPlugin, else direct;
 *   artifact-download.c   manifests and packages (protocol §2.2, §3.3): each location directly, then through the
 *                    HostGAPlugin, packages streamed into an anonymous file, several at a time.
 *
 * The library logs at debug level only: results, with what went wrong in words, go to the callbacks, and the
 * verb logs them. The pure document models (ExtensionsConfig, vmSettings, Certificates, manifests, status
 * blob) live in extensions/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "certificates.h"
#include "extensions-goal-state.h"
#include "http-retry.h"
#include "wireserver.h"

typedef struct AzureClient AzureClient;

/* ---- the client ---- */

/* e NULL: a private event loop, for the synchronous functions (run it with azure_client_run()). o is copied. */
int azure_client_new(sd_event *e, const WireOptions *o, AzureClient **ret);
AzureClient *azure_client_free(AzureClient *c); /* cancels everything in flight, no callbacks */
DEFINE_TRIVIAL_CLEANUP_FUNC(AzureClient *, azure_client_free);
#define _cleanup_azure_client_ _cleanup_(azure_client_freep)

sd_event *azure_client_get_event(AzureClient *c);
HttpClient *azure_client_get_http(AzureClient *c);            /* IMDS requests (imds.h) run on it too */
const char *azure_client_wire_endpoint(const AzureClient *c); /* the WireServer "host[:port]" */
const char *
azure_client_wire_host(const AzureClient *c); /* the WireServer host, for the handler environment */
const char *azure_client_hgap_base(const AzureClient *c); /* "http://<host>:<hgap port>" */

/* Where certificates and packages are written: lib_dir (e.g. /var/lib/waagent) beneath root_fd. Both are
 * borrowed and must outlive c. Without it, certificates are decrypted but not written, and packages cannot be
 * downloaded. */
void azure_client_set_storage(AzureClient *c, int root_fd, const char *lib_dir);
/* On a confidential VM: the private keys (transport key, tenant certificates' .prv) go to secrets_dir, which must
 * be on tmpfs, and their paths in lib_dir become symlinks to them (common/secret-file.h). Borrowed; NULL (the
 * default): beside the certificates. */
void azure_client_set_secrets_dir(AzureClient *c, const char *secrets_dir);

/* Runs the client's event loop until *done is true (the synchronous path). */
int azure_client_run(AzureClient *c, const bool *done);

/* Something answered 410 (or InvalidContainerConfiguration): the goal state is stale, and the poller, if any,
 * fetches it again at once (protocol §1.2). */
void azure_client_goal_state_stale(AzureClient *c);

/* ---- requests ---- */

/* The outcome of a fabric request as an errno: error itself when < 0, 0 for 2xx, else
 * wire_status_to_errno(response). */
int wire_response_errno(int error, const HttpResponse *response);
/* Throttling statuses of protocol §1.2 (403, 429, 503). */
bool wire_status_is_throttle(long status);

/* One attempt, no retry: the daemon's goal-state pass retries whole passes, not single requests. */
void wire_single_attempt_policy(RetryPolicy *ret);

/* GET (or POST with body) of a WireServer URL with the x-ms-agent-name/x-ms-version headers (protocol §1.4) plus
 * extra, never through a proxy; p NULL = the client's policy. The callback gets any final status. */
int wire_request_start(AzureClient *c, HttpMethod method, const char *url, char *const *extra,
                       const void *body, size_t body_size, size_t max_response, const RetryPolicy *p,
                       HttpRetryCallback cb, void *userdata, HttpRetry **ret);
/* The HostGAPlugin common headers of the client's goal state (protocol §2) plus extra (NULL items are skipped).
 * -ESTALE without a goal state (no container id yet). */
int hgap_headers(AzureClient *c, char *const *extra, size_t n_extra, char ***ret);
/* GET/PUT http://<host>:<hgap port><path> with hgap_headers(). */
int hgap_request_start(AzureClient *c, HttpMethod method, const char *path, char *const *extra,
                       size_t n_extra, const void *body, size_t body_size, size_t max_response,
                       const RetryPolicy *p, HttpRetryCallback cb, void *userdata, HttpRetry **ret);

/* GET /machine/?comp=goalstate with the RoleInstance re-fetch of protocol §1.4 (validate hook: up to 6 GETs 0.5 s
 * apart); retry_gone also re-asks on 410 (the synchronous path). The callback parses with
 * goal_state_parse(). */
int wire_goal_state_start(AzureClient *c, const RetryPolicy *p, bool retry_gone, HttpRetryCallback cb,
                          void *userdata, HttpRetry **ret);

/* POST /machine?comp=health with the ids of g (protocol §1.5). */
int wire_health_start(AzureClient *c, const GoalState *g, HealthState state, const char *substatus,
                      const char *description, const RetryPolicy *p, HttpRetryCallback cb, void *userdata,
                      HttpRetry **ret);
/* protocol §1.5: 200/201/202 → 0, anything else → wire_response_errno(). */
int wire_health_result(int error, const HttpResponse *response);

/* ---- certificates (protocol §1.6) ---- */

/* Loads the transport certificate from the storage directory, or generates one and saves it there (in memory
 * only without storage). ret_generated (optional) says which. With a secrets directory, a key that lies on the
 * disk (of a run without one) is not used: a new one replaces it, and the old file is zeroed. Returns 0,
 * TRANSPORT_CERT_REPLACED when that happened, or TRANSPORT_CERT_IN_MEMORY when the secrets directory is not on
 * tmpfs and the new key stays in memory only (the WireServer accepts a new one any time). Idempotent. */
#define TRANSPORT_CERT_REPLACED  1
#define TRANSPORT_CERT_IN_MEMORY 2
int azure_client_transport_cert_setup(AzureClient *c, bool *ret_generated);

typedef struct WireCertificates WireCertificates;
/* list is NULL on failure; reason says why ("HTTP 500", "Certificates document is invalid: …"). The callee owns
 * list (certificate_list_done() + free()). The WireCertificates is freed after the callback. */
typedef void (*WireCertificatesCallback)(WireCertificates *op, int error, CertificateList *list,
                                         const char *reason, void *userdata);
/* GET the goal state's Certificates with the transport certificate, AES128_CBC first and DES_EDE3_CBC when that
 * request or its decryption fails (as waagent), and decrypt. g without a Certificates URL → an empty list at
 * once (the callback runs before this returns). */
int wire_certificates_start(AzureClient *c, const GoalState *g, const RetryPolicy *p,
                            WireCertificatesCallback cb, void *userdata, WireCertificates **ret);
WireCertificates *wire_certificates_cancel(WireCertificates *op);
/* The daemon's form: the whole certificate pass — the transport key loaded or made (and saved), the request,
 * the decryption, azure_client_certificates_store() — runs in a child process, so that no private key and none
 * of OpenSSL's key caches stay in the caller (wire-certificates-worker.c). The callback gets the stored
 * thumbprints (borrowed; also azure_client_thumbprints()) or the error and its reason; the worker is freed after
 * it. -ENOENT when the goal state has no Certificates URL. */
typedef struct WireCertificatesWorker WireCertificatesWorker;
typedef void (*WireCertificatesWorkerCallback)(WireCertificatesWorker *w, int error,
                                               char *const *thumbprints, const char *reason, void *userdata);
int wire_certificates_worker_start(AzureClient *c, const RetryPolicy *p, WireCertificatesWorkerCallback cb,
                                   void *userdata, WireCertificatesWorker **ret);
WireCertificatesWorker *wire_certificates_worker_cancel(WireCertificatesWorker *w); /* kills and reaps it */
/* The same, synchronously (a private loop, a transport certificate generated in memory): for provisioning, whose
 * ovf-env.xml may name SSH keys by certificate thumbprint. ret_reason (optional) says why it failed. */
int wire_fetch_certificates(const WireOptions *o, const GoalState *g, CertificateList *ret,
                            char **ret_reason);
/* Writes <THUMB>.crt/.prv (0600) into the storage directory (each .prv into the secrets directory, if set, and a
 * symlink to it; -EMEDIUMTYPE when that is not on tmpfs, and the .prv files an earlier run left on the disk are
 * zeroed and removed) and records the thumbprints as held. */
int azure_client_certificates_store(AzureClient *c, const CertificateList *l);
/* true when <thumb>.crt is in the storage directory, written by this client or before (protocol §1.6). */
bool azure_client_has_certificate(AzureClient *c, const char *thumbprint);
/* Thumbprints of the last stored list (strv, may be NULL). */
char *const *azure_client_thumbprints(const AzureClient *c);

/* ---- the goal-state poller (protocol §1.4, §2.1) ---- */

/* What one pass found, for the verb to log and record. Pointers are valid during the callback only. */
typedef struct WirePollResult {
        int error;                /* 0: the pass succeeded */
        const char *failure;      /* what failed, in words ("Certificates request: HTTP 500"), or NULL */
        unsigned n_failures;      /* consecutive failed passes, this one included */
        unsigned recovered_after; /* the pass succeeded after that many failed ones */
        usec_t next;              /* delay until the next pass */
        const char *incarnation;  /* whose documents we hold; NULL before the first complete pass */
        const char *previous_incarnation; /* set when this pass fetched the documents of a new incarnation */
        bool new_incarnation;
        const char *container_id, *previous_container_id; /* previous set when the container id changed */
        const char *etag;                                 /* of the vmSettings we hold, or NULL */
        bool fast_track;                                  /* the HostGAPlugin serves vmSettings */
        const char *fast_track_change;                    /* why fast_track changed in this pass, or NULL */
        ssize_t ext_conf_handlers; /* ExtensionsConfig fetched: its handlers; -1 not fetched */
        bool new_vm_settings;      /* new vmSettings in this pass (etag above) */
        GoalStateSource vm_settings_source;
        const char *hgap_version; /* that vmSettings' hostGAPluginVersion */
        ssize_t certificates;     /* certificates written in this pass; -1 not fetched */
        const char
                *certificates_why; /* why they were fetched ("new incarnation", "container id changed", …) */
        bool certificates_skipped; /* not fetched: HostingEnvironmentConfig lists the thumbprints we hold */
        usec_t certificates_usec;  /* request, decryption and files, when fetched */
        usec_t duration;           /* the whole pass (CLOCK_MONOTONIC) */
        char *const *warnings;     /* problems that did not fail the pass */
} WirePollResult;

typedef struct WirePollerCallbacks {
        /* The start of every pass, before its first request: the place to reconcile anything the pass relies
         * on (e.g. the WireServer firewall). May be NULL. */
        void (*pass_start)(void *userdata);
        /* A newer extensions goal state was chosen (protocol §1.4 / §2.1), or a re-fetch of the newest one (same:
         * the id did not change; it refreshes SAS URLs). The callee owns gs. */
        void (*extensions_goal_state)(ExtensionsGoalState *gs, bool same, void *userdata);
        /* The end of every pass. */
        void (*pass_done)(const WirePollResult *result, void *userdata);
        void *userdata;
} WirePollerCallbacks;

typedef struct WirePollerOptions {
        usec_t period; /* between passes ([Timeouts] GoalStatePeriodSec) */
        WirePollerCallbacks callbacks;
} WirePollerOptions;

/* Starts polling (the first pass at once). One poller per client; it stays until the client is freed. */
int azure_client_poll_start(AzureClient *c, const WirePollerOptions *o);
/* The next pass starts at once (or right after the running one): D-Bus RefreshGoalState, a 410. */
void azure_client_poll_now(AzureClient *c);
bool azure_client_fast_track(const AzureClient *c);         /* vmSettings supported (last answer) */
const char *azure_client_incarnation(const AzureClient *c); /* whose documents we hold */
uint64_t azure_client_passes(const AzureClient *c);

/* ---- the status blob (protocol §4.9) ---- */

typedef struct StatusUploadResult {
        int error;
        const char *failure; /* each channel's failure in words, or NULL */
        bool via_hgap;
        size_t size;
        const char *sas;  /* where it went (log it through http_url_for_log()) */
        const char *hash; /* the caller's hash of the blob (see azure_client_upload_status) */
        bool again;       /* another upload was asked for while this one ran */
        usec_t duration;  /* CLOCK_MONOTONIC, both channels */
} StatusUploadResult;
typedef void (*StatusUploadCallback)(const StatusUploadResult *result, void *userdata);

/* Uploads blob to the SAS URL sas: through the HostGAPlugin when the client has a goal state, then directly if
 * that fails. One upload at a time: -EBUSY while one runs. hash is the caller's and is handed back. cb may run
 * before this returns (a failure to start). */
int azure_client_upload_status(AzureClient *c, const char *sas, StatusBlobType type, const char *blob,
                               size_t size, const char *hash, StatusUploadCallback cb, void *userdata);
/* true while an upload runs; the wish to upload again is then remembered and reported as again=true when it
 * ends. */
bool azure_client_upload_busy(AzureClient *c);

/* ---- manifests and packages (protocol §2.2, §3.3) ---- */

#define AZURE_ARTIFACT_MAX         (256U * 1024U * 1024U) /* zip download bound (HTTP_RESPONSE_MAX_LIMIT) */
#define AZURE_MANIFEST_MAX         (1024U * 1024U)
#define AZURE_DOWNLOAD_TIMEOUT     (5U * 60U * USEC_PER_SEC) /* _DOWNLOAD_TIMEOUT per artifact, protocol §2.2 */
#define AZURE_DOWNLOAD_ROUNDS      3U                  /* passes over an artifact's locations (transient) */
#define AZURE_DOWNLOAD_RETRY_DELAY (2U * USEC_PER_SEC) /* × pass number */
#define AZURE_DOWNLOADS_MAX        4U                  /* packages fetched at the same time */

typedef struct PackageResult {
        int error;           /* 0: fd holds the zip */
        int code;            /* EXT_CODE_* when it failed */
        const char *failure; /* why, in words */
        int fd;              /* the zip, in an anonymous file of the storage directory (borrowed) */
        size_t size;
        bool via_hgap;
        usec_t manifest_usec, package_usec; /* CLOCK_MONOTONIC time each phase took */
} PackageResult;
typedef void (*PackageCallback)(const char *name, const char *version, const PackageResult *result,
                                void *userdata);

/* The package zip of handler name/version: the manifest from the handler's locations (protocol §3.3), the version
 * chosen (manifest_select_version), the zip streamed into a file. fast_track adds the x-ms-verify-from-artifacts-
 * blob header to HostGAPlugin requests. A package already being fetched (prefetch) is joined rather than fetched
 * twice; at most AZURE_DOWNLOADS_MAX run at once, the rest queue. cb runs once (perhaps before this returns when
 * it fails at once). */
int azure_client_fetch_package(AzureClient *c, const ExtensionHandler *handler, const char *version,
                               bool fast_track, PackageCallback cb, void *userdata);
/* Starts the same fetch without a callback: azure_client_fetch_package() later picks up the result. */
int azure_client_prefetch_package(AzureClient *c, const ExtensionHandler *handler, const char *version,
                                  bool fast_track);
/* Whether the fetch of name/version has finished (with the package or a failure): azure_client_fetch_package()
 * then calls back before it returns. */
bool azure_client_package_done(AzureClient *c, const char *name, const char *version);
/* Drops every fetch nobody waits for (a new goal state). */
void azure_client_drop_prefetched(AzureClient *c);
