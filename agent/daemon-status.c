/* SPDX-License-Identifier: MIT */
/*
 * The VM status blob (ref §4.9): built with status_blob_build() from the executor's results (or, after a
 * restart, the results recorded in daemon.json), compared by the SHA-256 of its bytes built with every
 * timestamp zeroed, and uploaded only when that changed or the keep-alive ([Timeouts] StatusKeepAliveSec)
 * expired — waagent uploads every 6 s unconditionally, which is most of an idle agent's traffic.
 *
 * An upload is a short list of blob PUTs (BlockBlob: one; PageBlob: create + pages ≤ 4 MiB, ref §4.9) run
 * one after the other, first through the HostGAPlugin (PUT /status with the JSON envelope: content, headers,
 * requestUri; pages padded with spaces), then, if that fails for any reason but 410, directly to the SAS URL
 * (pages padded with NULs). The SAS signature never reaches a log line: URLs are logged through
 * http_url_for_log() and the logger masks "sig=" anyway.
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

typedef struct BlobPut {
        char *url;
        char **headers;         /* the storage headers (Content-Length not included: curl sends it) */
        char *body;
        size_t size;
} BlobPut;

struct StatusUpload {
        Daemon *daemon;
        char *hash;
        bool via_hgap;
        BlobPut *puts;
        size_t n_puts, next;
        HttpCall *call;
        char *blob;
        size_t blob_size;
        StatusBlobType type;
        char *sas;
        char failure[2 * HTTP_FAILURE_STRING_MAX + 64]; /* each channel's failure, for the warning */
};

static void blob_puts_free(BlobPut *p, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(p[i].url);
                strv_free(p[i].headers);
                free(p[i].body);
        }
        free(p);
}

StatusUpload *status_upload_free(StatusUpload *u) {
        if (!u)
                return NULL;
        http_call_cancel(u->call);
        blob_puts_free(u->puts, u->n_puts);
        free(u->hash);
        free(u->blob);
        free(u->sas);
        free(u);
        return NULL;
}

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
                                char **dst = startswith(*l, "ID=") ? &d->os_name :
                                             startswith(*l, "VERSION_ID=") ? &d->os_version : NULL;
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
            (d->vm_settings_supported && strv_extend(&features, "FastTrack") < 0))
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
                .in_svd_seq_no = gs && gs->in_svd_seq_no ? gs->in_svd_seq_no : d->incarnation,
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

/* ---- the PUT list ---- */

static int header_line(char ***l, const char *name, const char *fmt, ...) _printf_(3, 4);
static int header_line(char ***l, const char *name, const char *fmt, ...) {
        _cleanup_free_ char *v = NULL;
        char *line;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&v, fmt, ap);
        va_end(ap);
        if (k < 0 || asprintf(&line, "%s: %s", name, v) < 0)
                return -ENOMEM;
        if (strv_push(l, line) < 0) {
                free(line);
                return -ENOMEM;
        }
        return 0;
}

static int puts_add(BlobPut **puts, size_t *n, BlobPut *p) {
        BlobPut *a = realloc(*puts, (*n + 1) * sizeof *a);

        if (!a)
                return -ENOMEM;
        a[(*n)++] = *p;
        *puts = a;
        *p = (BlobPut) {};
        return 0;
}

/* ref §4.9. pad is the page padding byte: ' ' through the HostGAPlugin, '\0' direct. */
static int blob_puts_build(const StatusUpload *u, char pad, BlobPut **ret, size_t *ret_n) {
        BlobPut *puts = NULL;
        size_t n = 0;
        char date[64];
        int r = -ENOMEM;

        if (format_timestamp_iso(now_usec(CLOCK_REALTIME), date, sizeof date) < 0)
                return -EINVAL;
        if (u->type == STATUS_BLOB_TYPE_BLOCK) {
                BlobPut p = { .url = strdup(u->sas), .body = malloc(MAX(u->blob_size, (size_t) 1)),
                              .size = u->blob_size };

                if (!p.url || !p.body)
                        goto fail_one_block;
                memcpy(p.body, u->blob, u->blob_size);
                if (header_line(&p.headers, "x-ms-blob-type", "BlockBlob") < 0 ||
                    header_line(&p.headers, "x-ms-date", "%s", date) < 0 ||
                    header_line(&p.headers, "x-ms-version", STATUS_BLOB_VERSION_HEADER) < 0 ||
                    puts_add(&puts, &n, &p) < 0)
                        goto fail_one_block;
                *ret = puts;
                *ret_n = n;
                return 0;
fail_one_block:
                free(p.url);
                strv_free(p.headers);
                free(p.body);
                return -ENOMEM;
        }

        /* PageBlob: create with the padded length, then write the pages. */
        size_t padded = (u->blob_size + STATUS_PAGE_SIZE - 1) / STATUS_PAGE_SIZE * STATUS_PAGE_SIZE;
        BlobPut create = { .url = strdup(u->sas) };

        if (!create.url || header_line(&create.headers, "x-ms-blob-content-length", "%zu", padded) < 0 ||
            header_line(&create.headers, "x-ms-blob-type", "PageBlob") < 0 ||
            header_line(&create.headers, "x-ms-date", "%s", date) < 0 ||
            header_line(&create.headers, "x-ms-version", STATUS_BLOB_VERSION_HEADER) < 0 ||
            puts_add(&puts, &n, &create) < 0) {
                free(create.url);
                strv_free(create.headers);
                goto fail;
        }
        for (size_t start = 0; start < padded; start += STATUS_PAGE_CHUNK_MAX) {
                size_t len = MIN((size_t) STATUS_PAGE_CHUNK_MAX, padded - start);
                size_t have = start < u->blob_size ? MIN(len, u->blob_size - start) : 0;
                BlobPut p = { .body = malloc(len), .size = len };

                if (!p.body ||
                    asprintf(&p.url, "%s%scomp=page", u->sas, strchr(u->sas, '?') ? "&" : "?") < 0) {
                        free(p.body);
                        goto fail;
                }
                memcpy(p.body, u->blob + start, have);
                memset(p.body + have, pad, len - have);
                if (header_line(&p.headers, "x-ms-range", "bytes=%zu-%zu", start, start + len - 1) < 0 ||
                    header_line(&p.headers, "x-ms-page-write", "update") < 0 ||
                    header_line(&p.headers, "x-ms-date", "%s", date) < 0 ||
                    header_line(&p.headers, "x-ms-version", STATUS_BLOB_VERSION_HEADER) < 0 ||
                    puts_add(&puts, &n, &p) < 0) {
                        free(p.url);
                        free(p.body);
                        strv_free(p.headers);
                        goto fail;
                }
        }
        *ret = puts;
        *ret_n = n;
        return 0;
fail:
        blob_puts_free(puts, n);
        return r;
}

/* The HostGAPlugin envelope (ref §4.9): keys sorted, Content-Length first among the headers. */
static int hgap_envelope(const BlobPut *p, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *h = json_object_new_array();
        _cleanup_free_ char *content = NULL;
        const char *text;
        char len[32];

        if (!o || !h)
                return -ENOMEM;
        if (p->size > 0) {
                if (base64_encode(p->body, p->size, &content) < 0)
                        return -ENOMEM;
                if (json_object_object_add(o, "content", json_object_new_string(content)) < 0)
                        return -ENOMEM;
        }
        snprintf(len, sizeof len, "%zu", p->size);
        for (ssize_t i = -1; i < (ssize_t) strv_length(p->headers); i++) {
                struct json_object *e = json_object_new_object();
                _cleanup_free_ char *name = NULL;
                const char *value;

                if (!e)
                        return -ENOMEM;
                if (i < 0) {
                        name = strdup("Content-Length");
                        value = len;
                } else {
                        const char *colon = strchr(p->headers[i], ':');
                        name = strndup(p->headers[i], colon - p->headers[i]);
                        value = colon + 2;
                }
                if (!name || json_object_object_add(e, "headerName", json_object_new_string(name)) < 0 ||
                    json_object_object_add(e, "headerValue", json_object_new_string(value)) < 0 ||
                    json_object_array_add(h, e) < 0) {
                        json_object_put(e);
                        return -ENOMEM;
                }
        }
        if (json_object_object_add(o, "headers", TAKE_PTR(h)) < 0 ||
            json_object_object_add(o, "requestUri", json_object_new_string(p->url)) < 0)
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        *ret = strdup(text);
        return *ret ? 0 : -ENOMEM;
}

/* ---- running it ---- */

static int upload_channel_start(StatusUpload *u, bool via_hgap);
static int upload_next(StatusUpload *u);

static void upload_done(StatusUpload *u, int r) {
        Daemon *d = u->daemon;
        _cleanup_free_ char *url = NULL;

        (void) http_url_for_log(u->sas, &url);
        if (r >= 0) {
                bool changed = !streq_ptr(d->state.status_hash, u->hash);

                (void) log_full_errno_id(changed || d->n_uploads == 0 ? LOG_INFO : LOG_DEBUG, 0, MESSAGE_ID_STATUS_UPLOADED,
                                  "Uploaded the status blob (%zu bytes, %s) to %s%s.", u->blob_size,
                                  u->via_hgap ? "via HostGAPlugin" : "direct", strna(url),
                                  changed ? "" : " (keep-alive)");
                d->n_uploads++;
                d->status_uploaded_at = now_usec(CLOCK_MONOTONIC);
                if (changed) {
                        free(d->state.status_hash);
                        d->state.status_hash = TAKE_PTR(u->hash);
                        d->state_dirty = true;
                        daemon_save_state(d);
                }
                daemon_bus_emit_changed(d);
        } else if (u->failure[0])
                log_warning("Failed to upload the status blob to %s: %s", strna(url), u->failure);
        else
                log_warning_errno(r, "Failed to upload the status blob to %s: %m", strna(url));
        d->upload = status_upload_free(d->upload);
        if (d->status_again) {
                d->status_again = false;
                daemon_status_request(d);
        }
}

static void on_put(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        StatusUpload *u = userdata;
        int r;

        u->call = NULL;
        if (error < 0)
                r = error;
        else if (http_status_ok(resp->status))
                r = 0;
        else
                r = u->via_hgap ? wire_status_to_errno(resp) : http_status_to_errno(resp->status);
        if (r < 0) {
                char what[HTTP_FAILURE_STRING_MAX];
                size_t n = strlen(u->failure);

                (void) snprintf(u->failure + n, sizeof u->failure - n, "%s%s: %s", n > 0 ? "; " : "",
                                u->via_hgap ? "via HostGAPlugin" : "direct",
                                http_failure_string(error, error < 0 ? 0 : resp->status, what, sizeof what));
                log_debug_errno(r, "Status PUT %zu/%zu %s failed (%s%ld): %m", u->next, u->n_puts,
                                u->via_hgap ? "via HostGAPlugin" : "direct", error < 0 ? "transport error " : "HTTP ",
                                error < 0 ? 0L : resp->status);
                if (u->via_hgap) {
                        if (r == -ESTALE)
                                /* ref §2.2: refresh the container id; the next cycle uploads again. */
                                daemon_refresh_goal_state_soon(u->daemon);
                        r = upload_channel_start(u, false);
                        if (r >= 0)
                                return;
                }
                return upload_done(u, r);
        }
        r = upload_next(u);
        if (r <= 0)
                return upload_done(u, r);
}

/* Starts the next PUT; 0 when there is none left. */
static int upload_next(StatusUpload *u) {
        Daemon *d = u->daemon;
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL, *envelope = NULL;
        const BlobPut *p;
        int r;

        if (u->next >= u->n_puts)
                return 0;
        p = &u->puts[u->next++];
        HttpRequest req = {
                .method = HTTP_METHOD_PUT,
                .timeout = d->context->config.http_timeout,
        };
        if (u->via_hgap) {
                r = daemon_hgap_headers(d, STRV_MAKE("Content-Type: application/json"), &headers);
                if (r < 0)
                        return r;
                r = hgap_envelope(p, &envelope);
                if (r < 0)
                        return r;
                if (asprintf(&url, "%s/status", d->hgap_base) < 0)
                        return -ENOMEM;
                req.url = url;
                req.headers = headers;
                req.body = envelope;
                req.body_size = strlen(envelope);
        } else {
                req.url = p->url;
                req.headers = p->headers;
                req.body = p->body;
                req.body_size = p->size;
                req.use_proxy = true;   /* blob storage honours the proxy settings (ref §1.2) */
        }
        r = http_client_start(d->http, &req, on_put, u, &u->call);
        return r < 0 ? r : 1;
}

static int upload_channel_start(StatusUpload *u, bool via_hgap) {
        int r;

        blob_puts_free(u->puts, u->n_puts);
        u->puts = NULL;
        u->n_puts = u->next = 0;
        u->via_hgap = via_hgap;
        r = blob_puts_build(u, via_hgap ? ' ' : '\0', &u->puts, &u->n_puts);
        if (r < 0)
                return r;
        r = upload_next(u);
        return r == 0 ? -EINVAL : r;
}

/* Extensions keep writing status/<seq>.status after their enable returned (transitioning → success, ref §4.7):
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
        StatusUpload *u;
        bool keepalive_due;
        int r;

        if (!d->current || !d->current->status_upload_blob)
                return;
        if (d->upload) {
                d->status_again = true;
                return;
        }
        handler_status_refresh(d);
        r = status_build(d, 0, &stable);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to build the status blob: %m");
        r = sha256_hex(stable, strlen(stable), &hash);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to hash the status blob: %m");
        keepalive_due = d->status_uploaded_at == 0 ||
                        now_usec(CLOCK_MONOTONIC) >= d->status_uploaded_at + d->context->config.status_keepalive;
        if (streq_ptr(hash, d->state.status_hash) && !keepalive_due)
                return;
        r = status_build(d, now_usec(CLOCK_REALTIME), &blob);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to build the status blob: %m");

        size_t blob_size = strlen(blob);

        u = calloc(1, sizeof *u);
        if (!u)
                return (void) log_oom();
        *u = (StatusUpload) {
                .daemon = d,
                .hash = TAKE_PTR(hash),
                .blob_size = blob_size,
                .blob = TAKE_PTR(blob),
                .type = d->current->status_upload_blob_type,
                .sas = strdup(d->current->status_upload_blob),
        };
        d->upload = u;
        if (!u->sas)
                return upload_done(u, log_oom());
        r = upload_channel_start(u, d->goal_state.container_id != NULL);
        if (r < 0 && u->via_hgap)
                r = upload_channel_start(u, false);
        if (r < 0)
                upload_done(u, r);
}
