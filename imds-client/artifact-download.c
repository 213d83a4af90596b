/* SPDX-License-Identifier: MIT */
/*
 * Manifests and packages (protocol §2.2, §3.3). For a handler name/version the manifest is fetched from the goal
 * state's location, failoverlocation and additionalLocations (each URI directly first, with the proxy settings,
 * then through the HostGAPlugin's /extensionArtifact with x-ms-artifact-location), the version is selected
 * (manifest_select_version), and the zip is fetched the same way, bounded by AZURE_ARTIFACT_MAX and written to an
 * anonymous file in the storage directory (truncated before every attempt), so memory stays bounded whatever its
 * size. When every location failed and at least one failure was transient (transport error, 429, 5xx), the
 * locations are tried again after 2 s, 4 s (AZURE_DOWNLOAD_ROUNDS passes, as waagent's restutil retries each
 * artifact request, protocol §1.2).
 *
 * Fetches are keyed by (name, version) and run concurrently on the event loop, at most AZURE_DOWNLOADS_MAX at a
 * time: the daemon prefetches every package a plan needs, and the executor's request for one joins the fetch
 * already under way (or takes its finished result). A fetch somebody waits for starts before prefetches.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "azure-client-internal.h"
#include "ext-handler.h"
#include "ext-package.h"
#include "log.h"
#include "manifest.h"

typedef enum DownloadPhase {
        DOWNLOAD_QUEUED,
        DOWNLOAD_MANIFEST,
        DOWNLOAD_PACKAGE,
        DOWNLOAD_DONE,
} DownloadPhase;

struct PackageFetch {
        AzureClient *client;
        PackageFetch *next;
        char *name, *version;
        bool fast_track;
        DownloadPhase phase;
        char **locations; /* the manifest's locations */
        char **uris;      /* of the current phase */
        size_t attempt;   /* uri = attempt / 2, via HostGAPlugin when attempt is odd */
        char *manifest_url;
        HttpRetry *call;
        int package_fd;
        char *last_error;
        unsigned round; /* passes over the URIs; another one only after a transient failure */
        bool round_transient;
        sd_event_source *retry_timer;
        usec_t started_at, manifest_at, finished_at; /* CLOCK_MONOTONIC */
        /* the outcome, kept until somebody asks when nobody waits yet */
        int error, code;
        char *failure;
        size_t size;
        bool via_hgap;
        PackageCallback callback; /* NULL: a prefetch nobody waits for (yet) */
        void *userdata;
};

static PackageFetch *fetch_free(PackageFetch *f) {
        if (!f)
                return NULL;
        http_retry_cancel(f->call);
        closep(&f->package_fd);
        sd_event_source_disable_unref(f->retry_timer);
        free(f->name);
        free(f->version);
        strv_free(f->locations);
        strv_free(f->uris);
        free(f->manifest_url);
        free(f->last_error);
        free(f->failure);
        free(f);
        return NULL;
}

static void fetch_unlink(PackageFetch *f) {
        for (PackageFetch **p = &f->client->downloads; *p; p = &(*p)->next)
                if (*p == f) {
                        *p = f->next;
                        break;
                }
        f->next = NULL;
}

void package_fetches_free(AzureClient *c) {
        while (c->downloads) {
                PackageFetch *f = c->downloads;

                c->downloads = f->next;
                fetch_free(f);
        }
}

static PackageFetch *fetch_find(AzureClient *c, const char *name, const char *version) {
        for (PackageFetch *f = c->downloads; f; f = f->next)
                if (streq(f->name, name) && streq(f->version, version))
                        return f;
        return NULL;
}

static unsigned fetches_running(AzureClient *c) {
        unsigned n = 0;

        for (PackageFetch *f = c->downloads; f; f = f->next)
                if (f->phase == DOWNLOAD_MANIFEST || f->phase == DOWNLOAD_PACKAGE)
                        n++;
        return n;
}

/* Hands a finished fetch to its waiter and forgets it; without a waiter it stays for later pickup. */
static void fetch_deliver(PackageFetch *f) {
        PackageCallback cb = f->callback;

        if (!cb)
                return;
        PackageResult result = {
                .error = f->error,
                .code = f->code,
                .failure = f->failure,
                .fd = f->package_fd,
                .size = f->size,
                .via_hgap = f->via_hgap,
                .manifest_usec = f->manifest_at > f->started_at ? f->manifest_at - f->started_at : 0,
                .package_usec = f->manifest_at > 0 && f->finished_at > f->manifest_at
                                        ? f->finished_at - f->manifest_at
                                        : 0,
        };
        fetch_unlink(f);
        cb(f->name, f->version, &result, f->userdata);
        fetch_free(f);
}

static void fetches_start_queued(AzureClient *c);

static void fetch_finish(PackageFetch *f, int error, int code, const char *fmt, ...) _printf_(4, 5);
static void fetch_finish(PackageFetch *f, int error, int code, const char *fmt, ...) {
        AzureClient *c = f->client;

        f->call = http_retry_cancel(f->call);
        f->retry_timer = sd_event_source_disable_unref(f->retry_timer);
        f->phase = DOWNLOAD_DONE;
        f->finished_at = now_usec(CLOCK_MONOTONIC);
        f->error = error;
        f->code = code;
        if (fmt) {
                va_list ap;

                va_start(ap, fmt);
                if (vasprintf(&f->failure, fmt, ap) < 0)
                        f->failure = NULL;
                va_end(ap);
                closep(&f->package_fd);
                log_debug("Download of %s %s failed: %s", f->name, f->version, strna(f->failure));
        }
        fetch_deliver(f);
        fetches_start_queued(c);
}

static int download_attempt(PackageFetch *f);
static int download_retry_later(PackageFetch *f);

static int fetch_start_phase(PackageFetch *f, DownloadPhase phase, char **uris) {
        strv_free(f->uris);
        f->uris = uris;
        f->phase = phase;
        f->attempt = 0;
        f->round = 0;
        f->round_transient = false;
        return download_attempt(f);
}

static void manifest_received(PackageFetch *f, HttpResponse *resp, const char *url) {
        _cleanup_(manifest_done) Manifest m = {};
        _cleanup_strv_free_ char **uris = NULL;
        _cleanup_free_ char *reason = NULL;
        const ManifestPackage *pkg;
        int r;

        f->manifest_at = now_usec(CLOCK_MONOTONIC);
        r = manifest_parse(resp->body, resp->body_size, &m, &reason);
        if (r < 0) {
                _cleanup_free_ char *shown = NULL;

                (void) http_url_for_log(url, &shown);
                return fetch_finish(f, r, EXT_CODE_MANIFEST_DOWNLOAD_ERROR,
                                    "Invalid manifest of %s from %s%s: %s", f->name, strna(shown),
                                    f->attempt % 2 == 1 ? " (HostGAPlugin)" : "", strna(reason));
        }
        r = manifest_select_version(&m, f->version, &pkg, &reason);
        if (r < 0)
                return fetch_finish(f, r, EXT_CODE_MANIFEST_DOWNLOAD_ERROR, "%s", strna(reason));
        if (strv_length(pkg->uris) == 0)
                return fetch_finish(f, -ENOENT, EXT_CODE_MANIFEST_DOWNLOAD_ERROR,
                                    "Manifest of %s lists no URI for %s", f->name, pkg->version);
        for (char **u = pkg->uris; *u; u++)
                if (strv_extend(&uris, *u) < 0)
                        return fetch_finish(f, -ENOMEM, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        if (free_and_strdup(&f->manifest_url, url) < 0)
                return fetch_finish(f, -ENOMEM, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        r = -ENODEV;
        if (f->client->root_fd >= 0 && f->client->lib_dir)
                r = ext_package_download_file(f->client->root_fd, f->client->lib_dir, &f->package_fd);
        if (r < 0)
                return fetch_finish(f, r, EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                    "Cannot create a file for the package in the extensions directory: %s",
                                    strerror(-r));
        r = fetch_start_phase(f, DOWNLOAD_PACKAGE, TAKE_PTR(uris));
        if (r < 0)
                fetch_finish(f, r, EXT_CODE_PACKAGE_DOWNLOAD_FAILED, "Cannot start the package download: %s",
                             strerror(-r));
}

static void on_download(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        PackageFetch *f = userdata;
        _cleanup_free_ char *url = NULL, *shown = NULL;
        bool via_hgap = f->attempt % 2 == 1;
        int r;

        f->call = NULL;
        url = strdup(f->uris[f->attempt / 2]);
        if (!url)
                return fetch_finish(f, -ENOMEM, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        (void) http_url_for_log(url, &shown);
        if (error < 0 || !http_status_ok(resp->status)) {
                char what[HTTP_FAILURE_STRING_MAX];

                free(f->last_error);
                if (asprintf(&f->last_error, "%s%s: %s", strna(shown), via_hgap ? " (HostGAPlugin)" : "",
                             http_failure_string(error, error < 0 ? 0 : resp->status, what, sizeof what)) <
                    0)
                        f->last_error = NULL;
                log_debug("Download attempt failed: %s", strna(f->last_error));
                if (via_hgap && resp && wire_status_to_errno(resp) == -ESTALE)
                        azure_client_goal_state_stale(f->client);
                if (error < 0 ? retry_error_is_transient(error) : resp->status == 429 || resp->status >= 500)
                        f->round_transient = true;
                f->attempt++;
                r = download_attempt(f);
                if (r == -ENOENT && download_retry_later(f) >= 0)
                        return;
                if (r < 0)
                        fetch_finish(f, r == -ENOENT ? -EREMOTEIO : r,
                                     f->phase == DOWNLOAD_MANIFEST ? EXT_CODE_MANIFEST_DOWNLOAD_ERROR
                                                                   : EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                     "Failed to download the %s of %s %s: %s",
                                     f->phase == DOWNLOAD_MANIFEST ? "manifest" : "package", f->name,
                                     f->version, strna(f->last_error));
                return;
        }
        log_debug("Downloaded %s (%zu bytes%s).", strna(shown), resp->body_size,
                  via_hgap ? ", HostGAPlugin" : "");
        if (f->phase == DOWNLOAD_MANIFEST)
                return manifest_received(f, resp, url);
        f->size = resp->body_size;
        f->via_hgap = via_hgap;
        fetch_finish(f, 0, 0, NULL);
}

static int on_download_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        PackageFetch *f = userdata;
        int r;

        r = download_attempt(f);
        if (r < 0)
                fetch_finish(f, r,
                             f->phase == DOWNLOAD_MANIFEST ? EXT_CODE_MANIFEST_DOWNLOAD_ERROR
                                                           : EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                             "Cannot start the download of %s %s: %s", f->name, f->version, strerror(-r));
        return 0;
}

/* Every URI failed, at least one transiently: go over them again a little later. <0 when no pass is left. */
static int download_retry_later(PackageFetch *f) {
        usec_t delay;
        int r;

        if (!f->round_transient || f->round + 1 >= AZURE_DOWNLOAD_ROUNDS)
                return -ENOENT;
        f->round++;
        f->round_transient = false;
        f->attempt = 0;
        delay = AZURE_DOWNLOAD_RETRY_DELAY * f->round;
        log_debug("Download of %s %s: every location failed (%s), trying them again in %.0fs.", f->name,
                  f->version, strna(f->last_error), (double) delay / USEC_PER_SEC);
        if (f->retry_timer) {
                r = sd_event_source_set_time_relative(f->retry_timer, delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(f->retry_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(f->client->event, &f->retry_timer, CLOCK_MONOTONIC, delay,
                                               10 * USEC_PER_MSEC, on_download_retry, f);
        return r;
}

/* Starts the current attempt, skipping to the next URI/channel as needed; -ENOENT when all are used up. */
static int download_attempt(PackageFetch *f) {
        AzureClient *c = f->client;
        RetryPolicy once;

        wire_single_attempt_policy(&once);
        for (; f->attempt / 2 < strv_length(f->uris); f->attempt++) {
                _cleanup_strv_free_ char **headers = NULL;
                _cleanup_free_ char *hgap_url = NULL, *loc = NULL, *mloc = NULL;
                const char *uri = f->uris[f->attempt / 2];
                bool via_hgap = f->attempt % 2 == 1;
                int r;

                HttpRequest req = {
                        .method = HTTP_METHOD_GET,
                        .url = uri,
                        .timeout = AZURE_DOWNLOAD_TIMEOUT,
                        .max_response =
                                f->phase == DOWNLOAD_MANIFEST ? AZURE_MANIFEST_MAX : AZURE_ARTIFACT_MAX,
                        .body_to_fd = f->phase == DOWNLOAD_PACKAGE,
                        .body_fd = f->package_fd,
                        .use_proxy = true,
                        /* The 5 min timeout cannot catch a slow drip: below 1 KiB/s for HTTPTimeoutSec is a stall. */
                        .low_speed_time = c->http_timeout,
                };
                if (via_hgap) {
                        if (asprintf(&hgap_url, "%s/extensionArtifact", c->hgap_base) < 0 ||
                            asprintf(&loc, "x-ms-artifact-location: %s", uri) < 0 ||
                            (f->phase == DOWNLOAD_PACKAGE && f->manifest_url &&
                             asprintf(&mloc, "x-ms-artifact-manifest-location: %s", f->manifest_url) < 0))
                                return -ENOMEM;
                        char *verify =
                                f->fast_track ? (char *) "x-ms-verify-from-artifacts-blob: true" : NULL;

                        r = hgap_headers(c, (char *const[]){loc, verify ?: mloc, verify ? mloc : NULL}, 3,
                                         &headers);
                        if (r < 0) {
                                log_debug_errno(r, "Cannot ask the HostGAPlugin (no container id yet): %m");
                                continue;
                        }
                        req.url = hgap_url;
                        req.headers = headers;
                        req.use_proxy = false;
                }
                r = http_retry_start(c->http, &req, &once, on_download, f, &f->call);
                if (r >= 0)
                        return 0;
                log_debug_errno(r, "Cannot start a download: %m");
        }
        return -ENOENT;
}

static void fetch_start(PackageFetch *f) {
        int r;

        f->started_at = now_usec(CLOCK_MONOTONIC);
        r = fetch_start_phase(f, DOWNLOAD_MANIFEST, TAKE_PTR(f->locations));
        if (r < 0)
                fetch_finish(f, r, EXT_CODE_MANIFEST_DOWNLOAD_ERROR,
                             "Cannot start the download of %s %s: %s", f->name, f->version, strerror(-r));
}

/* Starts queued fetches while there is room, those somebody waits for first. */
static void fetches_start_queued(AzureClient *c) {
        for (int pass = 0; pass < 2; pass++)
                for (PackageFetch *f = c->downloads; f; f = f->next) {
                        if (fetches_running(c) >= AZURE_DOWNLOADS_MAX)
                                return;
                        if (f->phase != DOWNLOAD_QUEUED || (pass == 0 && !f->callback))
                                continue;
                        fetch_start(f);
                        /* f may be gone (a synchronous failure delivered it): rescan from the start */
                        return fetches_start_queued(c);
                }
}

static int fetch_new(AzureClient *c, const ExtensionHandler *handler, const char *version, bool fast_track,
                     PackageFetch **ret) {
        PackageFetch *f;

        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        *f = (PackageFetch){
                .client = c,
                .name = strdup(handler->name),
                .version = strdup(version),
                .fast_track = fast_track,
                .package_fd = -EBADF,
        };
        if (!f->name || !f->version ||
            (handler->location && strv_extend(&f->locations, handler->location) < 0) ||
            (handler->failover_location && strv_extend(&f->locations, handler->failover_location) < 0))
                return fetch_free(f), -ENOMEM;
        for (char **u = handler->additional_locations; u && *u; u++)
                if (strv_extend(&f->locations, *u) < 0)
                        return fetch_free(f), -ENOMEM;
        if (strv_length(f->locations) == 0) {
                fetch_free(f);
                return -ENOENT;
        }
        /* appended: the queue keeps the order of the plan */
        PackageFetch **tail = &c->downloads;
        while (*tail)
                tail = &(*tail)->next;
        *tail = f;
        *ret = f;
        return 0;
}

int azure_client_prefetch_package(AzureClient *c, const ExtensionHandler *handler, const char *version,
                                  bool fast_track) {
        PackageFetch *f;
        int r;

        if (!c || !handler || !handler->name || !version)
                return -EINVAL;
        if (fetch_find(c, handler->name, version))
                return 0;
        r = fetch_new(c, handler, version, fast_track, &f);
        if (r < 0)
                return r;
        fetches_start_queued(c);
        return 0;
}

int azure_client_fetch_package(AzureClient *c, const ExtensionHandler *handler, const char *version,
                               bool fast_track, PackageCallback cb, void *userdata) {
        PackageFetch *f;
        int r;

        if (!c || !handler || !handler->name || !version || !cb)
                return -EINVAL;
        f = fetch_find(c, handler->name, version);
        if (f && f->callback)
                return -EBUSY;
        if (!f) {
                r = fetch_new(c, handler, version, fast_track, &f);
                if (r == -ENOENT) {
                        PackageResult result = {
                                .error = -ENOENT,
                                .code = EXT_CODE_MANIFEST_DOWNLOAD_ERROR,
                                .failure = "The goal state names no manifest location",
                                .fd = -EBADF,
                        };
                        cb(handler->name, version, &result, userdata);
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        f->callback = cb;
        f->userdata = userdata;
        if (f->phase == DOWNLOAD_DONE)
                fetch_deliver(f);
        else
                fetches_start_queued(c);
        return 0;
}

bool azure_client_package_done(AzureClient *c, const char *name, const char *version) {
        const PackageFetch *f = c && name && version ? fetch_find(c, name, version) : NULL;

        return f && f->phase == DOWNLOAD_DONE && !f->callback;
}

void azure_client_drop_prefetched(AzureClient *c) {
        PackageFetch **p = &c->downloads;

        while (*p) {
                PackageFetch *f = *p;

                if (f->callback) {
                        p = &f->next;
                        continue;
                }
                *p = f->next;
                fetch_free(f);
        }
        fetches_start_queued(c);
}
