/* SPDX-License-Identifier: MIT */
/*
 * Package downloads for the extension executor (ref §2.2, §3.3). For a handler name/version the executor
 * asks for, the manifest is fetched from the goal state's location, failoverlocation and additionalLocations
 * (each URI directly first, with the proxy settings, then through the HostGAPlugin's /extensionArtifact with
 * x-ms-artifact-location), the version is selected (manifest_select_version), and the zip is fetched the
 * same way (bounded by DAEMON_ARTIFACT_MAX) and handed to ext_executor_package_ready(). The manifest (1 MiB at
 * most) is read in memory; the zip is written to an anonymous file in the extensions directory
 * (ext_package_download_file(), truncated before every attempt), so memory stays bounded whatever its size.
 * One download at a time: the executor processes its operations in order.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon-internal.h"
#include "ext-package.h"
#include "log.h"
#include "macro.h"
#include "manifest.h"

typedef enum DownloadPhase {
        DOWNLOAD_MANIFEST,
        DOWNLOAD_PACKAGE,
} DownloadPhase;

struct Download {
        Daemon *daemon;
        ExtExecutor *executor;
        char *name, *version;
        bool fast_track;
        DownloadPhase phase;
        char **uris;
        size_t attempt;                 /* uri = attempt / 2, via HostGAPlugin when attempt is odd */
        char *manifest_url;
        HttpCall *call;
        int package_fd;                 /* the zip is downloaded into this file */
        char *last_error;
        unsigned round;                 /* passes over the URIs; another one only after a transient failure */
        bool round_transient;
        sd_event_source *retry_timer;
};

Download *download_free(Download *dl) {
        if (!dl)
                return NULL;
        http_call_cancel(dl->call);
        closep(&dl->package_fd);
        sd_event_source_disable_unref(dl->retry_timer);
        free(dl->name);
        free(dl->version);
        strv_free(dl->uris);
        free(dl->manifest_url);
        free(dl->last_error);
        free(dl);
        return NULL;
}

static void download_fail(Download *dl, int code, const char *fmt, ...) _printf_(3, 4);
static void download_fail(Download *dl, int code, const char *fmt, ...) {
        Daemon *d = dl->daemon;
        ExtExecutor *e = dl->executor;
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        log_warning("Download of %s %s failed: %s", dl->name, dl->version, strna(msg));
        d->download = download_free(d->download);
        ext_executor_package_failed(e, code, msg ?: "Download failed");
}

static int download_attempt(Download *dl);
static int download_retry_later(Download *dl);

static void download_manifest_received(Download *dl, HttpResponse *resp, const char *url) {
        _cleanup_(manifest_done) Manifest m = {};
        _cleanup_free_ char *reason = NULL;
        const ManifestPackage *pkg;
        int r;

        r = manifest_parse(resp->body, resp->body_size, &m, &reason);
        if (r < 0) {
                _cleanup_free_ char *shown = NULL;

                (void) http_url_for_log(url, &shown);
                return download_fail(dl, EXT_CODE_MANIFEST_DOWNLOAD_ERROR, "Invalid manifest of %s from %s%s: %s",
                                     dl->name, strna(shown), dl->attempt % 2 == 1 ? " (HostGAPlugin)" : "",
                                     strna(reason));
        }
        r = manifest_select_version(&m, dl->version, &pkg, &reason);
        if (r < 0)
                return download_fail(dl, EXT_CODE_MANIFEST_DOWNLOAD_ERROR, "%s", strna(reason));
        if (strv_length(pkg->uris) == 0)
                return download_fail(dl, EXT_CODE_MANIFEST_DOWNLOAD_ERROR, "Manifest of %s lists no URI for %s",
                                     dl->name, pkg->version);
        strv_free(dl->uris);
        dl->uris = NULL;
        for (char **u = pkg->uris; *u; u++)
                if (strv_extend(&dl->uris, *u) < 0)
                        return download_fail(dl, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        if (free_and_strdup(&dl->manifest_url, url) < 0)
                return download_fail(dl, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        r = ext_package_download_file(dl->daemon->context, &dl->package_fd);
        if (r < 0)
                return download_fail(dl, EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                     "Cannot create a file for the package in the extensions directory: %s",
                                     strerror(-r));
        dl->phase = DOWNLOAD_PACKAGE;
        dl->attempt = 0;
        dl->round = 0;
        dl->round_transient = false;
        r = download_attempt(dl);
        if (r < 0)
                download_fail(dl, EXT_CODE_PACKAGE_DOWNLOAD_FAILED, "Cannot start the package download: %s",
                              strerror(-r));
}

static void on_download(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        Download *dl = userdata;
        Daemon *d = dl->daemon;
        _cleanup_free_ char *url = NULL, *shown = NULL;
        bool via_hgap = dl->attempt % 2 == 1;
        int r;

        dl->call = NULL;
        url = strdup(dl->uris[dl->attempt / 2]);
        if (!url)
                return download_fail(dl, EXT_CODE_PLUGIN_PROCESSING_ERROR, "Out of memory");
        (void) http_url_for_log(url, &shown);
        if (error < 0 || !http_status_ok(resp->status)) {
                char what[HTTP_FAILURE_STRING_MAX];

                free(dl->last_error);
                if (error < 0)
                        (void) asprintf(&dl->last_error, "%s%s: %s", strna(shown), via_hgap ? " (HostGAPlugin)" : "",
                                        http_failure_string(error, 0, what, sizeof what));
                else
                        (void) asprintf(&dl->last_error, "%s%s: HTTP %ld", strna(shown),
                                        via_hgap ? " (HostGAPlugin)" : "", resp->status);
                log_debug("Download attempt failed: %s", strna(dl->last_error));
                if (via_hgap && resp && wire_status_to_errno(resp) == -ESTALE)
                        daemon_refresh_goal_state_soon(d);
                if (error < 0 ? retry_error_is_transient(error) : resp->status == 429 || resp->status >= 500)
                        dl->round_transient = true;
                dl->attempt++;
                r = download_attempt(dl);
                if (r == -ENOENT && download_retry_later(dl) >= 0)
                        return;
                if (r < 0)
                        download_fail(dl,
                                      dl->phase == DOWNLOAD_MANIFEST ? EXT_CODE_MANIFEST_DOWNLOAD_ERROR :
                                                                       EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                                      "Failed to download the %s of %s %s: %s",
                                      dl->phase == DOWNLOAD_MANIFEST ? "manifest" : "package", dl->name,
                                      dl->version, strna(dl->last_error));
                return;
        }
        log_debug("Downloaded %s (%zu bytes%s).", strna(shown), resp->body_size, via_hgap ? ", HostGAPlugin" : "");
        if (dl->phase == DOWNLOAD_MANIFEST)
                return download_manifest_received(dl, resp, url);

        /* The executor may ask for the next package from within package_ready(): detach first. */
        ExtExecutor *e = dl->executor;
        _cleanup_close_ int fd = TAKE_FD(dl->package_fd);
        log_info("Downloaded %s %s (%zu bytes%s).", dl->name, dl->version, resp->body_size,
                 via_hgap ? " via HostGAPlugin" : "");
        d->download = download_free(d->download);
        ext_executor_package_ready(e, fd);
}

static int on_download_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Download *dl = userdata;
        int r;

        r = download_attempt(dl);
        if (r < 0)
                download_fail(dl,
                              dl->phase == DOWNLOAD_MANIFEST ? EXT_CODE_MANIFEST_DOWNLOAD_ERROR :
                                                               EXT_CODE_PACKAGE_DOWNLOAD_FAILED,
                              "Cannot start the download of %s %s: %s", dl->name, dl->version, strerror(-r));
        return 0;
}

/* Every URI failed, at least one transiently (transport error, 429, 5xx): go over them again a little later, as
 * waagent's restutil retries each artifact request (ref §1.2). <0 when no pass is left. */
static int download_retry_later(Download *dl) {
        usec_t delay;
        int r;

        if (!dl->round_transient || dl->round + 1 >= DAEMON_DOWNLOAD_ROUNDS)
                return -ENOENT;
        dl->round++;
        dl->round_transient = false;
        dl->attempt = 0;
        delay = DAEMON_DOWNLOAD_RETRY_DELAY * dl->round;
        log_debug("Download of %s %s: every location failed (%s), trying them again in %.0fs.", dl->name,
                  dl->version, strna(dl->last_error), (double) delay / USEC_PER_SEC);
        if (dl->retry_timer) {
                r = sd_event_source_set_time_relative(dl->retry_timer, delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(dl->retry_timer, SD_EVENT_ONESHOT);
        } else
                r = sd_event_add_time_relative(dl->daemon->event, &dl->retry_timer, CLOCK_MONOTONIC, delay,
                                               10 * USEC_PER_MSEC, on_download_retry, dl);
        return r;
}

/* Starts the current attempt, skipping to the next URI/channel as needed; -ENOENT when all are used up. */
static int download_attempt(Download *dl) {
        Daemon *d = dl->daemon;

        for (; dl->attempt / 2 < strv_length(dl->uris); dl->attempt++) {
                _cleanup_strv_free_ char **headers = NULL;
                _cleanup_free_ char *hgap_url = NULL, *loc = NULL, *mloc = NULL;
                const char *uri = dl->uris[dl->attempt / 2];
                bool via_hgap = dl->attempt % 2 == 1;
                int r;

                HttpRequest req = {
                        .method = HTTP_METHOD_GET,
                        .url = uri,
                        .timeout = DAEMON_DOWNLOAD_TIMEOUT,
                        .max_response = dl->phase == DOWNLOAD_MANIFEST ? DAEMON_MANIFEST_MAX : DAEMON_ARTIFACT_MAX,
                        .body_to_fd = dl->phase == DOWNLOAD_PACKAGE,
                        .body_fd = dl->package_fd,
                        .use_proxy = true,
                        /* The 5 min timeout cannot catch a slow drip: below 1 KiB/s for HTTPTimeoutSec is a stall. */
                        .low_speed_time = d->context->config.http_timeout,
                };
                if (via_hgap) {
                        if (asprintf(&hgap_url, "%s/extensionArtifact", d->hgap_base) < 0 ||
                            asprintf(&loc, "x-ms-artifact-location: %s", uri) < 0 ||
                            (dl->phase == DOWNLOAD_PACKAGE && dl->manifest_url &&
                             asprintf(&mloc, "x-ms-artifact-manifest-location: %s", dl->manifest_url) < 0))
                                return -ENOMEM;
                        r = daemon_hgap_headers(d,
                                                STRV_MAKE(loc, dl->fast_track ? "x-ms-verify-from-artifacts-blob: true" :
                                                                                mloc, dl->fast_track ? mloc : NULL),
                                                &headers);
                        if (r < 0) {
                                log_debug_errno(r, "Cannot ask the HostGAPlugin (no container id yet): %m");
                                continue;
                        }
                        req.url = hgap_url;
                        req.headers = headers;
                        req.use_proxy = false;
                }
                r = http_client_start(d->http, &req, on_download, dl, &dl->call);
                if (r >= 0)
                        return 0;
                log_debug_errno(r, "Cannot start a download: %m");
        }
        return -ENOENT;
}

int daemon_package_request(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *handler,
                           void *userdata) {
        Daemon *d = userdata;
        _cleanup_(download_freep) Download *dl = NULL;
        int r;

        if (d->download)
                return -EBUSY;
        if (!handler)
                return -ENOENT;
        dl = calloc(1, sizeof *dl);
        if (!dl)
                return -ENOMEM;
        *dl = (Download) {
                .daemon = d,
                .executor = e,
                .name = strdup(name),
                .version = strdup(version),
                .fast_track = d->current && d->current->channel == GOAL_STATE_CHANNEL_HOSTGAPLUGIN,
                .package_fd = -EBADF,
        };
        if (!dl->name || !dl->version)
                return -ENOMEM;
        if ((handler->location && strv_extend(&dl->uris, handler->location) < 0) ||
            (handler->failover_location && strv_extend(&dl->uris, handler->failover_location) < 0))
                return -ENOMEM;
        for (char **u = handler->additional_locations; u && *u; u++)
                if (strv_extend(&dl->uris, *u) < 0)
                        return -ENOMEM;
        if (strv_length(dl->uris) == 0) {
                ext_executor_package_failed(e, EXT_CODE_MANIFEST_DOWNLOAD_ERROR, "The goal state names no manifest location");
                return 0;
        }
        log_info("Downloading %s %s.", name, version);
        r = download_attempt(dl);
        if (r < 0)
                return r;
        d->download = TAKE_PTR(dl);
        return 0;
}
