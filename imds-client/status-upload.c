/* SPDX-License-Identifier: MIT */
/*
 * The status blob upload (protocol §4.9). An upload is a short list of blob PUTs (BlockBlob: one; PageBlob: create +
 * pages ≤ 4 MiB) run one after the other, first through the HostGAPlugin (PUT /status with the JSON envelope:
 * content, headers, requestUri; pages padded with spaces), then, if that fails for any reason, directly to the
 * SAS URL (pages padded with NULs) — a 410 from the HostGAPlugin also marks the goal state stale, so the next
 * pass refreshes the container id. Each PUT is one attempt: the caller uploads again at its next occasion. The
 * SAS signature never reaches a log line: URLs are logged through http_url_for_log() and the logger masks
 * "sig=" anyway.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "azure-client-internal.h"
#include "json-util.h"
#include "log.h"

#define STATUS_BLOB_VERSION_HEADER "2014-02-14" /* protocol §4.9 */
#define STATUS_PAGE_SIZE           512U
#define STATUS_PAGE_CHUNK_MAX      (4U * 1024U * 1024U)

typedef struct BlobPut {
        char *url;
        char **headers; /* the storage headers (Content-Length not included: curl sends it) */
        char *body;
        size_t size;
} BlobPut;

struct StatusUpload {
        AzureClient *client;
        char *hash;
        bool via_hgap;
        BlobPut *puts;
        size_t n_puts, next;
        HttpRetry *call;
        char *blob;
        size_t blob_size;
        StatusBlobType type;
        char *sas;
        char failure[2 * HTTP_FAILURE_STRING_MAX + 64]; /* each channel's failure */
        StatusUploadCallback callback;
        void *userdata;
        usec_t started;
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
        http_retry_cancel(u->call);
        blob_puts_free(u->puts, u->n_puts);
        free(u->hash);
        free(u->blob);
        free(u->sas);
        free(u);
        return NULL;
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
        *p = (BlobPut){};
        return 0;
}

/* protocol §4.9. pad is the page padding byte: ' ' through the HostGAPlugin, '\0' direct. */
static int blob_puts_build(const StatusUpload *u, char pad, BlobPut **ret, size_t *ret_n) {
        BlobPut *puts = NULL;
        size_t n = 0;
        char date[64];
        int r = -ENOMEM;

        if (format_timestamp_iso(now_usec(CLOCK_REALTIME), date, sizeof date) < 0)
                return -EINVAL;
        if (u->type == STATUS_BLOB_TYPE_BLOCK) {
                BlobPut p = {.url = strdup(u->sas),
                             .body = malloc(MAX(u->blob_size, (size_t) 1)),
                             .size = u->blob_size};

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
        BlobPut create = {.url = strdup(u->sas)};

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
                BlobPut p = {.body = malloc(len), .size = len};

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

/* The HostGAPlugin envelope (protocol §4.9): keys sorted, Content-Length first among the headers. */
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
        AzureClient *c = u->client;
        StatusUploadResult result = {
                .error = r,
                .failure = u->failure[0] ? u->failure : NULL,
                .via_hgap = u->via_hgap,
                .size = u->blob_size,
                .sas = u->sas,
                .hash = u->hash,
                .again = c->upload_again,
                .duration = now_usec(CLOCK_MONOTONIC) - u->started,
        };
        StatusUploadCallback cb = u->callback;
        void *userdata = u->userdata;

        /* Detach first: the callback may start the next upload. */
        c->upload = NULL;
        c->upload_again = false;
        if (cb)
                cb(&result, userdata);
        status_upload_free(u);
}

static void on_put(HttpRetry *call, int error, HttpResponse *response, void *userdata) {
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
                                u->via_hgap ? "via HostGAPlugin" : "direct",
                                error < 0 ? "transport error " : "HTTP ", error < 0 ? 0L : resp->status);
                if (u->via_hgap) {
                        if (r == -ESTALE)
                                /* protocol §2.2: refresh the container id; the next pass uploads again. */
                                azure_client_goal_state_stale(u->client);
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
        AzureClient *c = u->client;
        _cleanup_free_ char *envelope = NULL;
        const BlobPut *p;
        RetryPolicy once;
        int r;

        if (u->next >= u->n_puts)
                return 0;
        p = &u->puts[u->next++];
        wire_single_attempt_policy(&once);
        if (u->via_hgap) {
                r = hgap_envelope(p, &envelope);
                if (r < 0)
                        return r;
                r = hgap_request_start(c, HTTP_METHOD_PUT, "/status",
                                       (char *const[]){(char *) "Content-Type: application/json"}, 1,
                                       envelope, strlen(envelope), 0, &once, on_put, u, &u->call);
        } else {
                HttpRequest req = {
                        .method = HTTP_METHOD_PUT,
                        .url = p->url,
                        .headers = p->headers,
                        .body = p->body,
                        .body_size = p->size,
                        .timeout = c->http_timeout,
                        .use_proxy = true, /* blob storage honours the proxy settings (protocol §1.2) */
                };
                r = http_retry_start(c->http, &req, &once, on_put, u, &u->call);
        }
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

bool azure_client_upload_busy(AzureClient *c) {
        if (!c->upload)
                return false;
        c->upload_again = true;
        return true;
}

int azure_client_upload_status(AzureClient *c, const char *sas, StatusBlobType type, const char *blob,
                               size_t size, const char *hash, StatusUploadCallback cb, void *userdata) {
        StatusUpload *u;
        int r;

        if (!c || !sas || !blob)
                return -EINVAL;
        if (azure_client_upload_busy(c))
                return -EBUSY;
        u = calloc(1, sizeof *u);
        if (!u)
                return -ENOMEM;
        *u = (StatusUpload){
                .client = c,
                .hash = hash ? strdup(hash) : NULL,
                .blob = malloc(size + 1),
                .blob_size = size,
                .type = type,
                .sas = strdup(sas),
                .callback = cb,
                .userdata = userdata,
                .started = now_usec(CLOCK_MONOTONIC),
        };
        if (!u->sas || !u->blob || (hash && !u->hash)) {
                status_upload_free(u);
                return -ENOMEM;
        }
        memcpy(u->blob, blob, size);
        u->blob[size] = 0;
        c->upload = u;
        r = upload_channel_start(u, c->have_goal_state && c->goal_state.container_id);
        if (r < 0 && u->via_hgap)
                r = upload_channel_start(u, false);
        if (r < 0)
                upload_done(u, r);
        return 0;
}
