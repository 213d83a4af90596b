/* SPDX-License-Identifier: MIT */
/*
 * HTTP client for the Azure fabric endpoints (IMDS, WireServer, HostGAPlugin) and blob storage.
 *
 * libcurl's multi interface is glued to an sd_event loop (systemd's CurlGlue pattern): curl tells us which
 * sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it up (CURLMOPT_TIMERFUNCTION); we turn those
 * into sd-event io and time sources. One loop, no threads, no sleeping. Every transfer is bounded: a total
 * timeout and a maximum response size, enforced in the write callback (-E2BIG as soon as it is exceeded).
 * Bodies are kept in memory, or (HttpRequest.body_to_fd: extension packages of up to 256 MiB) written to a file
 * so that the agent's memory stays bounded whatever the size.
 * Proxies are only honoured for blob storage (use_proxy); the fabric endpoints are link-local and must never
 * go through a proxy (protocol §1.2, "use_proxy=False"). Every request carries "Connection: close"
 * (one TCP connection per request, as waagent's httplib does).
 *
 * Transport errors are mapped to a small errno set: -ETIMEDOUT (also: slower than low_speed_time allows),
 * -ECONNREFUSED, -ECONNRESET, -EPIPE (the connection closed before the announced body was complete),
 * -EHOSTUNREACH (DNS or routing), -E2BIG (response too large), -EINVAL (bad URL), -ENOMEM, -EIO (anything
 * else). An HTTP status is not an error at this layer: the retry engine (http-retry.h) and the protocol clients
 * decide. http_failure_string() puts either in words for failure reasons.
 *
 * URLs are never logged with their query string (SAS signatures live there).
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "macro.h"
#include "strutil.h"

#define HTTP_TIMEOUT_DEFAULT      (10 * USEC_PER_SEC) /* waagent's default socket timeout, protocol §1.2 */
#define HTTP_RESPONSE_MAX_DEFAULT (1024U * 1024U)     /* 1 MiB */
#define HTTP_RESPONSE_MAX_LIMIT   (256U * 1024U * 1024U) /* absolute upper bound a caller may ask for */
#define HTTP_REQUEST_HEADERS_MAX  32
#define HTTP_RESPONSE_HEADERS_MAX 32 /* selected headers kept from a response */
#define HTTP_HEADER_LINE_MAX      8192
#define HTTP_URL_MAX              8192
#define HTTP_LOW_SPEED_LIMIT      1024L /* bytes/s, see HttpRequest.low_speed_time */
#define HTTP_FAILURE_STRING_MAX   96

typedef enum HttpMethod {
        HTTP_METHOD_GET,
        HTTP_METHOD_POST,
        HTTP_METHOD_PUT,
        _HTTP_METHOD_MAX,
        _HTTP_METHOD_INVALID = -EINVAL,
} HttpMethod;

typedef struct HttpRequest {
        HttpMethod method;
        const char *url;
        char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
        const void *body;     /* POST/PUT body (may be NULL for an empty body) */
        size_t body_size;
        usec_t timeout;        /* whole transfer; 0 = HTTP_TIMEOUT_DEFAULT */
        size_t max_response;   /* body bytes; 0 = HTTP_RESPONSE_MAX_DEFAULT */
        bool use_proxy;        /* honour http(s)_proxy/no_proxy: blob storage only */
        usec_t low_speed_time; /* abort (-ETIMEDOUT) when slower than HTTP_LOW_SPEED_LIMIT for this long;
                                 * 0 = off. For long transfers whose timeout cannot catch a slow drip. */
        /* A 2xx body goes to body_fd (a regular file opened read-write) instead of memory: the file is
         * truncated (and its offset reset) when the transfer starts, so that after a retry it holds the last
         * answer only; max_response still applies (-E2BIG), a failed write aborts with its errno (-ENOSPC, …).
         * Any other status keeps its first HTTP_RESPONSE_MAX_DEFAULT body bytes in memory as usual (error
         * documents, e.g. InvalidContainerConfiguration), so failure handling is the same in both modes. */
        bool body_to_fd;
        int body_fd;
} HttpRequest;

typedef struct HttpResponse {
        long status;
        char **headers;   /* selected headers as "name: value" (name lower-cased): etag, content-type,
                                 * content-length, retry-after, x-ms-* */
        char *body;       /* always NUL-terminated (an empty body is ""); "" when body_in_fd */
        size_t body_size; /* bytes in body, or written to the request's body_fd when body_in_fd */
        bool body_in_fd;
} HttpResponse;

typedef struct HttpClient HttpClient;
typedef struct HttpCall HttpCall;

/*
 * Called once when a transfer finished. error < 0 is a transport error and response is NULL; otherwise the
 * callback receives ownership of response (free it with http_response_free()). The HttpCall is freed after
 * the callback returns: drop any pointer to it there.
 */
typedef void (*HttpCallback)(HttpCall *call, int error, HttpResponse *response, void *userdata);

const char *http_method_to_string(HttpMethod m);

HttpResponse *http_response_free(HttpResponse *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpResponse *, http_response_free);
#define _cleanup_http_response_ _cleanup_(http_response_freep)
/* Case-insensitive lookup among the kept headers; NULL if absent. */
const char *http_response_header(const HttpResponse *r, const char *name);
static inline bool http_status_ok(long status) {
        return status >= 200 && status <= 299;
}
/* Maps a final HTTP status to the errno the protocol clients return: 2xx → 0, 400 → -EINVAL,
 * 401/403 → -EACCES, 404 → -ENOENT, 410 → -ESTALE (goal state changed: refresh), 429 → -EBUSY,
 * 5xx → -EREMOTEIO, anything else → -EPROTO. */
int http_status_to_errno(long status);
/* A failed request in words, for logs and failure reasons: "HTTP 500" when error is 0, else the transport error
 * ("connection reset", "timed out", "response truncated …", "response larger than allowed", …). Returns buf. */
const char *http_failure_string(int error, long status, char *buf, size_t size);

/* e may be NULL: the default event loop of the thread is used. */
int http_client_new(sd_event *e, HttpClient **ret);
HttpClient *http_client_free(HttpClient *c); /* cancels pending calls without calling their callbacks */
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpClient *, http_client_free);
#define _cleanup_http_client_ _cleanup_(http_client_freep)
sd_event *http_client_get_event(HttpClient *c);

/* Starts a transfer. ret (optional) receives a borrowed handle, valid until the callback ran or it was
 * cancelled. */
int http_client_start(HttpClient *c, const HttpRequest *req, HttpCallback cb, void *userdata,
                      HttpCall **ret);
/* Aborts a pending transfer; its callback is not called. Returns NULL. */
HttpCall *http_call_cancel(HttpCall *call);

/* Runs one request on a private event loop until it finishes (for the oneshot provisioning verb). An HTTP
 * error status is not an error: check (*ret)->status. */
int http_request_sync(const HttpRequest *req, HttpResponse **ret);

/* Returns scheme://host[:port]/path of url (query and credentials stripped) for log messages. */
int http_url_for_log(const char *url, char **ret);
