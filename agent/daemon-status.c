/* SPDX-License-Identifier: MIT */
/*
 * The VM status blob (protocol §4.9): built with status_blob_build() from the executor's results (or, after a
 * restart, the results recorded in daemon.json), compared by the SHA-256 of its bytes built with every
 * timestamp zeroed, and uploaded only when that changed or the keep-alive ([Timeouts] StatusKeepAliveSec)
 * expired — waagent uploads every 6 s unconditionally, which is most of an idle agent's traffic.
 *
 * The Azure client uploads it (imds-client/status-upload.c: BlockBlob or PageBlob, through the HostGAPlugin,
 * else directly); one upload at a time, and a request during one is made again when it ends. The SAS signature
 * never reaches a log line: URLs are logged through http_url_for_log() and the logger masks "sig=" anyway.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/types.h>
#include <string.h>

#include <openssl/evp.h>

#include "daemon-internal.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "status-blob.h"
#include "version.h"

/* ---- building ---- */

static void os_info_load(Daemon *d) {
        _cleanup_free_ char *osrel = NULL, *hostname = NULL;
        char host[256];

        if (d->os_name)
                return;
        if (read_one_line_in_root(d->context->root_fd, "/etc/hostname", 255, &hostname) >= 0 &&
            !isempty(strstrip(hostname)))
                d->computer_name = TAKE_PTR(hostname);
        else if (gethostname(host, sizeof host - 1) >= 0) {
                host[sizeof host - 1] = 0;
                d->computer_name = strdup(host);
        }
        if (read_file_in_root(d->context->root_fd, "/etc/os-release", 64 * 1024, &osrel, NULL) >= 0 ||
            read_file_in_root(d->context->root_fd, "/usr/lib/os-release", 64 * 1024, &osrel, NULL) >= 0) {
                _cleanup_strv_free_ char **lines = NULL;

                if (strv_split(osrel, "\n", &lines) >= 0)
                        for (char **l = lines; *l; l++) {
                                char **dst = startswith(*l, "ID=")           ? &d->os_name
                                             : startswith(*l, "VERSION_ID=") ? &d->os_version
                                                                             : NULL;
                                char *v;
                                size_t n;

                                if (!dst || *dst)
                                        continue;
                                v = strchr(*l, '=') + 1;
                                n = strlen(v);
                                if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
                                        v[n - 1] = 0;
                                        v++;
                                }
                                *dst = strdup(v);
                        }
        }
        if (!d->os_name)
                d->os_name = strdup("linux");
}

static int status_build(Daemon *d, usec_t timestamp, char **ret) {
        _cleanup_free_ HandlerStatusReport *reports = NULL;
        _cleanup_strv_free_ char **features = NULL;
        const ExtensionsGoalState *gs = d->current;
        bool executed;
        size_t n = 0;
        int r;

        os_info_load(d);
        if (d->executor_running) {
                /* Progress of the run in flight. */
                r = ext_executor_reports(d->executor, &reports, &n);
                if (r < 0)
                        return r;
        } else {
                reports = calloc(MAX(d->state.n_handlers, (size_t) 1), sizeof *reports);
                if (!reports)
                        return -ENOMEM;
                for (size_t i = 0; i < d->state.n_handlers; i++)
                        ext_handler_result_to_report(&d->state.handlers[i], &reports[n++]);
        }
        if (strv_extend(&features, "MultipleExtensionsPerHandler") < 0 ||
            strv_extend(&features, "VersioningGovernance") < 0 ||
            (azure_client_fast_track(d->client) && strv_extend(&features, "FastTrack") < 0))
                return -ENOMEM;
        executed = gs && streq_ptr(d->state.executed_id, gs->id) && !d->executor_running;

        VmStatusReport report = {
                .timestamp = timestamp,
                .agent_version = PACKAGE_VERSION,
                .agent_status = "Ready",
                .agent_message = "Guest Agent is running",
                .handlers = reports,
                .n_handlers = n,
                .has_goal_state_status = executed,
                .goal_state_status = "Success",
                .goal_state_code = 0,
                .goal_state_message = "GoalState executed successfully",
                .in_svd_seq_no =
                        gs && gs->in_svd_seq_no ? gs->in_svd_seq_no : azure_client_incarnation(d->client),
                .computer_name = d->computer_name,
                .os_name = d->os_name,
                .os_version = d->os_version,
                .supported_features = features,
        };
        return status_blob_build(&report, ret);
}

static int sha256_hex(const void *data, size_t size, char **ret) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len;

        if (EVP_Digest(data, size, md, &len, EVP_sha256(), NULL) != 1)
                return -EIO;
        return hex_encode(md, len, false, ret);
}

/* ---- uploading ---- */

static void on_status_uploaded(const StatusUploadResult *res, void *userdata) {
        Daemon *d = userdata;
        _cleanup_free_ char *url = NULL;

        (void) http_url_for_log(res->sas, &url);
        if (res->error >= 0) {
                bool changed = !streq_ptr(d->state.status_hash, res->hash);

                (void) log_full_errno_id(changed || d->n_uploads == 0 ? LOG_INFO : LOG_DEBUG, 0,
                                         MESSAGE_ID_STATUS_UPLOADED,
                                         "Uploaded the status blob (%zu bytes, %s) to %s%s.", res->size,
                                         res->via_hgap ? "via HostGAPlugin" : "direct", strna(url),
                                         changed ? "" : " (keep-alive)");
                d->n_uploads++;
                d->status_uploaded_at = now_usec(CLOCK_MONOTONIC);
                daemon_timings_uploaded(d, res->duration);
                if (changed) {
                        if (free_and_strdup(&d->state.status_hash, res->hash) < 0)
                                log_oom();
                        d->state_dirty = true;
                        /* During an extension run the uploads follow the handlers; the run's end saves
                         * daemon.json with the latest hash (on_executor_done()), one durable write, not one
                         * per upload. A hash lost in a crash costs one upload. */
                        if (!d->executor_running)
                                daemon_save_state(d);
                }
                daemon_bus_emit_changed(d);
        } else if (res->failure)
                log_warning("Failed to upload the status blob to %s: %s", strna(url), res->failure);
        else
                log_warning_errno(res->error, "Failed to upload the status blob to %s: %m", strna(url));
        if (res->again)
                daemon_status_request(d);
}

/* Extensions keep writing status/<seq>.status after their enable returned (transitioning → success, protocol §4.7):
 * re-read the files of the handlers that reported one. A few hundred bytes per handler and period. */
static void handler_status_refresh(Daemon *d) {
        ExtLayout l;

        if (d->executor_running)
                return;
        ext_layout_init(&l, d->context, NULL);
        for (size_t i = 0; i < d->state.n_handlers; i++)
                if (d->state.handlers[i].has_extension_status)
                        (void) ext_handler_result_read_status(&l, &d->state.handlers[i], false,
                                                              now_usec(CLOCK_REALTIME));
}

void daemon_status_request(Daemon *d) {
        _cleanup_free_ char *stable = NULL, *hash = NULL, *blob = NULL;
        bool keepalive_due;
        int r;

        if (!d->current || !d->current->status_upload_blob)
                return;
        if (azure_client_upload_busy(d->client))
                return; /* asked again when it ends */
        handler_status_refresh(d);
        r = status_build(d, 0, &stable);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to build the status blob: %m");
        r = sha256_hex(stable, strlen(stable), &hash);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to hash the status blob: %m");
        keepalive_due =
                d->status_uploaded_at == 0 ||
                now_usec(CLOCK_MONOTONIC) >= d->status_uploaded_at + d->context->config.status_keepalive;
        if (streq_ptr(hash, d->state.status_hash) && !keepalive_due) {
                daemon_timings_uploaded(d, 0); /* the run changed nothing to report */
                return;
        }
        r = status_build(d, now_usec(CLOCK_REALTIME), &blob);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to build the status blob: %m");

        r = azure_client_upload_status(d->client, d->current->status_upload_blob,
                                       d->current->status_upload_blob_type, blob, strlen(blob), hash,
                                       on_status_uploaded, d);
        if (r < 0)
                log_warning_errno(r, "Failed to start the status blob upload: %m");
}
