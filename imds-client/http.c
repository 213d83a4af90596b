/* SPDX-License-Identifier: MIT */
/*
 * libcurl multi ↔ sd-event glue and the transfer bookkeeping behind http.h.
 *
 * The glue follows systemd's src/import/curl-util.c: CURLMOPT_SOCKETFUNCTION adds/updates/removes one sd-event
 * io source per socket (kept as curl's per-socket pointer via curl_multi_assign), CURLMOPT_TIMERFUNCTION arms
 * one relative time source. Both event handlers call curl_multi_socket_action() and then collect finished
 * transfers with curl_multi_info_read(); user callbacks therefore never run inside a curl callback and may
 * start or cancel transfers freely. The client must not be freed from inside a callback.
 *
 * The body's destination is chosen at its first byte, when the status is known: the request's body_fd for a
 * 2xx answer when it asked for one, memory otherwise.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "string-table.h"
#include "version.h"

#define HTTP_USER_AGENT "azl-agent/" PACKAGE_VERSION

typedef enum BodySink {
        BODY_SINK_UNDECIDED,
        BODY_SINK_MEMORY,
        BODY_SINK_FD,
} BodySink;

struct HttpClient {
        sd_event *event;
        CURLM *multi;
        sd_event_source *timer;
        HttpCall *calls;
};

struct HttpCall {
        HttpClient *client;
        HttpCall *prev, *next;
        CURL *easy;
        struct curl_slist *headers;
        HttpCallback callback;
        void *userdata;

        char *body;
        size_t body_size, body_allocated, max_response;
        size_t memory_max; /* body bytes kept in memory (the rest of a non-2xx body for body_fd is dropped) */
        size_t received;   /* body bytes received, wherever they went */
        int body_fd;       /* the request's body_fd, or -EBADF */
        BodySink sink;
        char **resp_headers;
        size_t n_resp_headers;
        int error; /* set by our curl callbacks to explain an abort (-E2BIG, -ENOMEM, a write error) */
};

static const char *const http_method_table[_HTTP_METHOD_MAX] = {
        [HTTP_METHOD_GET] = "GET",
        [HTTP_METHOD_POST] = "POST",
        [HTTP_METHOD_PUT] = "PUT",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(http_method, HttpMethod);

HttpResponse *http_response_free(HttpResponse *r) {
        if (!r)
                return NULL;
        strv_free(r->headers);
        free(r->body);
        free(r);
        return NULL;
}

const char *http_response_header(const HttpResponse *r, const char *name) {
        size_t n;

        if (!r || !name)
                return NULL;
        n = strlen(name);
        for (char **h = r->headers; h && *h; h++)
                if (strncasecmp(*h, name, n) == 0 && (*h)[n] == ':')
                        return *h + n + 1 + ((*h)[n + 1] == ' ');
        return NULL;
}

int http_status_to_errno(long status) {
        if (http_status_ok(status))
                return 0;
        if (status == 400)
                return -EINVAL;
        if (status == 401 || status == 403)
                return -EACCES;
        if (status == 404)
                return -ENOENT;
        if (status == 410)
                return -ESTALE;
        if (status == 429)
                return -EBUSY;
        if (status >= 500 && status <= 599)
                return -EREMOTEIO;
        return -EPROTO;
}

const char *http_failure_string(int error, long status, char *buf, size_t size) {
        static const struct {
                int error;
                const char *text;
        } table[] = {
                {-ETIMEDOUT, "timed out"},
                {-ECONNREFUSED, "connection refused"},
                {-ECONNRESET, "connection reset"},
                {-EPIPE, "response truncated (connection closed before the end of the body)"},
                {-EHOSTUNREACH, "host unreachable"},
                {-E2BIG, "response larger than allowed"},
                {-EPROTO, "malformed HTTP response"},
                {-EBADMSG, "invalid response body"},
        };

        if (error >= 0) {
                (void) snprintf(buf, size, "HTTP %ld", status);
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].error == error) {
                        (void) snprintf(buf, size, "%s", table[i].text);
                        return buf;
                }
        (void) snprintf(buf, size, "%s", strerror(-error));
        return buf;
}

/* Response headers we keep: what the protocol clients look at (vmSettings ETag, x-ms-* request ids). */
static bool header_is_kept(const char *name) {
        return strcasecmp(name, "etag") == 0 || strcasecmp(name, "content-type") == 0 ||
               strcasecmp(name, "content-length") == 0 || strcasecmp(name, "retry-after") == 0 ||
               strncasecmp(name, "x-ms-", 5) == 0;
}

static void call_reset_response(HttpCall *call) {
        call->resp_headers = strv_free(call->resp_headers);
        call->n_resp_headers = 0;
}

/* Called by curl for every response header line (also the status line of interim 1xx responses). */
static size_t header_cb(char *buf, size_t size, size_t nitems, void *userdata) {
        HttpCall *call = userdata;
        size_t n = size * nitems, name_len;
        _cleanup_free_ char *line = NULL;
        char *colon, *value;

        if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
                /* A new status line: headers of an earlier interim response are dropped. */
                call_reset_response(call);
                return n;
        }
        if (n > HTTP_HEADER_LINE_MAX || call->n_resp_headers >= HTTP_RESPONSE_HEADERS_MAX)
                return n; /* ignored, not fatal */
        line = strndup(buf, n);
        if (!line) {
                call->error = -ENOMEM;
                return 0;
        }
        colon = strchr(line, ':');
        if (!colon)
                return n;
        *colon = 0;
        name_len = strlen(line);
        if (name_len == 0 || !header_is_kept(line))
                return n;
        value = strstrip(colon + 1);
        if (strcasecmp(line, "content-length") == 0) {
                uint64_t cl;

                /* Refuse before the first body byte when the server announces too much. */
                if (safe_atou64(value, &cl) >= 0 && cl > call->max_response) {
                        call->error = -E2BIG;
                        return 0;
                }
        }
        for (size_t i = 0; i < name_len; i++)
                line[i] = (char) tolower((unsigned char) line[i]);
        {
                char *kept = NULL;

                if (asprintf(&kept, "%s: %s", line, value) < 0) {
                        call->error = -ENOMEM;
                        return 0;
                }
                if (strv_push(&call->resp_headers, kept) < 0) {
                        free(kept);
                        call->error = -ENOMEM;
                        return 0;
                }
        }
        call->n_resp_headers++;
        return n;
}

static int body_append(HttpCall *call, const char *ptr, size_t n) {
        if (call->body_size + n + 1 > call->body_allocated) {
                size_t a = MAX(call->body_allocated * 2, call->body_size + n + 1);
                char *b;

                a = MIN(a, call->memory_max + 1);
                b = realloc(call->body, a);
                if (!b)
                        return -ENOMEM;
                call->body = b;
                call->body_allocated = a;
        }
        memcpy(call->body + call->body_size, ptr, n);
        call->body_size += n;
        call->body[call->body_size] = 0;
        return 0;
}

static int body_write_fd(int fd, const char *ptr, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, ptr, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                ptr += k;
                n -= (size_t) k;
        }
        return 0;
}

static void call_decide_sink(HttpCall *call) {
        long status = 0;

        if (call->sink != BODY_SINK_UNDECIDED)
                return;
        (void) curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        call->sink = call->body_fd >= 0 && http_status_ok(status) ? BODY_SINK_FD : BODY_SINK_MEMORY;
}

/* Called by curl with body bytes; aborts the transfer as soon as the response exceeds max_response. */
static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpCall *call = userdata;
        size_t n = size * nmemb;
        int r;

        if (n > call->max_response - call->received) {
                call->error = -E2BIG;
                return 0; /* CURLE_WRITE_ERROR */
        }
        call->received += n;
        call_decide_sink(call); /* at the first body byte: the status is known */
        if (call->sink == BODY_SINK_FD)
                r = body_write_fd(call->body_fd, ptr, n);
        else
                r = body_append(call, ptr, MIN(n, call->memory_max - call->body_size));
        if (r < 0) {
                call->error = r;
                return 0;
        }
        return n;
}

/* Called by curl to create a socket: ours are close-on-exec (extension handlers are forked from us). */
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *a) {
        int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);

        return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int errno_from_curl(CURLcode code, long os_errno, int call_error) {
        if (code == CURLE_OK)
                return 0;
        if (call_error < 0)
                return call_error;
        if (code == CURLE_OPERATION_TIMEDOUT)
                return -ETIMEDOUT;
        if (code == CURLE_COULDNT_RESOLVE_HOST || code == CURLE_COULDNT_RESOLVE_PROXY)
                return -EHOSTUNREACH;
        if (code == CURLE_COULDNT_CONNECT) {
                if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
                        return -EHOSTUNREACH;
                if (os_errno == ETIMEDOUT)
                        return -ETIMEDOUT;
                return -ECONNREFUSED;
        }
        if (code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING)
                return -ECONNRESET;
        if (code == CURLE_PARTIAL_FILE)
                return -EPIPE;
        if (code == CURLE_WRITE_ERROR || code == CURLE_FILESIZE_EXCEEDED)
                return -E2BIG;
        if (code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL)
                return -EINVAL;
        if (code == CURLE_OUT_OF_MEMORY)
                return -ENOMEM;
        if (code == CURLE_WEIRD_SERVER_REPLY)
                return -EPROTO;
        return -EIO;
}

static void call_detach(HttpCall *call) {
        HttpClient *c = call->client;

        if (!c)
                return;
        if (call->easy)
                (void) curl_multi_remove_handle(c->multi, call->easy);
        if (call->prev)
                call->prev->next = call->next;
        else
                c->calls = call->next;
        if (call->next)
                call->next->prev = call->prev;
        call->prev = call->next = NULL;
        call->client = NULL;
}

static HttpCall *call_free(HttpCall *call) {
        if (!call)
                return NULL;
        call_detach(call);
        if (call->easy)
                curl_easy_cleanup(call->easy);
        curl_slist_free_all(call->headers);
        free(call->body);
        strv_free(call->resp_headers);
        free(call);
        return NULL;
}

HttpCall *http_call_cancel(HttpCall *call) {
        return call_free(call);
}

static int call_take_response(HttpCall *call, HttpResponse **ret) {
        HttpResponse *r;
        long status = 0;

        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        (void) curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
        r->status = status;
        r->headers = TAKE_PTR(call->resp_headers);
        r->body = TAKE_PTR(call->body);
        call_decide_sink(call); /* an empty body */
        r->body_in_fd = call->sink == BODY_SINK_FD;
        r->body_size = r->body_in_fd ? call->received : call->body_size;
        if (!r->body) {
                r->body = strdup("");
                if (!r->body)
                        return http_response_free(r), -ENOMEM;
        }
        *ret = r;
        return 0;
}

static void call_finish(HttpCall *call, CURLcode code) {
        HttpResponse *response = NULL;
        long os_errno = 0;
        int r;

        (void) curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &os_errno);
        r = errno_from_curl(code, os_errno, call->error);
        if (r >= 0)
                r = call_take_response(call, &response);
        call_detach(call);
        if (call->callback)
                call->callback(call, r, response, call->userdata);
        else
                http_response_free(response);
        call_free(call);
}

static void multi_close_if_idle(HttpClient *c);

static void client_process(HttpClient *c) {
        CURLMsg *msg;
        int left;

        while ((msg = curl_multi_info_read(c->multi, &left))) {
                HttpCall *call = NULL;
                CURLcode code;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                code = msg->data.result;
                if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &call) != CURLE_OK ||
                    !call)
                        continue;
                call_finish(call, code); /* invalidates msg */
        }
        multi_close_if_idle(c);
}

/* Called by sd-event when a socket curl asked us to watch is ready. */
static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        HttpClient *c = userdata;
        int action = 0, running;

        if (revents & (EPOLLIN | EPOLLHUP))
                action |= CURL_CSELECT_IN;
        if (revents & EPOLLOUT)
                action |= CURL_CSELECT_OUT;
        if (revents & EPOLLERR)
                action |= CURL_CSELECT_ERR;
        if (!c->multi)
                return 0; /* freed after the last transfer (multi_close_if_idle()) */
        (void) curl_multi_socket_action(c->multi, fd, action, &running);
        client_process(c);
        return 0;
}

/* Called by sd-event when curl's timer expires. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpClient *c = userdata;
        int running;

        if (!c->multi)
                return 0;
        (void) curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        client_process(c);
        return 0;
}

/* Called by curl to (un)register interest in a socket. */
static int curl_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        HttpClient *c = userp;
        sd_event_source *io = socketp;
        uint32_t events;
        int r;

        if (what == CURL_POLL_REMOVE) {
                if (io) {
                        (void) curl_multi_assign(c->multi, fd, NULL);
                        sd_event_source_disable_unref(io);
                }
                return 0;
        }
        events = what == CURL_POLL_IN ? EPOLLIN : what == CURL_POLL_OUT ? EPOLLOUT : EPOLLIN | EPOLLOUT;
        if (io) {
                r = sd_event_source_set_io_events(io, events);
                if (r >= 0)
                        r = sd_event_source_set_enabled(io, SD_EVENT_ON);
                return r < 0 ? -1 : 0;
        }
        r = sd_event_add_io(c->event, &io, fd, events, on_io, c);
        if (r < 0)
                return -1;
        (void) sd_event_source_set_description(io, "curl-io");
        if (curl_multi_assign(c->multi, fd, io) != CURLM_OK) {
                sd_event_source_disable_unref(io);
                return -1;
        }
        return 0;
}

/* Called by curl to (re)arm or disarm its single timeout. */
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
        HttpClient *c = userp;
        usec_t usec;
        int r;

        if (timeout_ms < 0) {
                if (c->timer)
                        (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
                return 0;
        }
        usec = (usec_t) timeout_ms * USEC_PER_MSEC + 1;
        if (c->timer) {
                r = sd_event_source_set_time_relative(c->timer, usec);
                if (r >= 0)
                        r = sd_event_source_set_enabled(c->timer, SD_EVENT_ONESHOT);
                return r < 0 ? -1 : 0;
        }
        r = sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, usec, 1, on_timer, c);
        if (r < 0)
                return -1;
        (void) sd_event_source_set_description(c->timer, "curl-timer");
        return 0;
}

static int curl_global_once(void) {
        static bool initialized = false;

        if (initialized)
                return 0;
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                return -EIO;
        initialized = true;
        return 0;
}

/* The multi handle exists while transfers do: created for the first, freed after the last one finished
 * (client_process()). An idle daemon then holds none of curl's per-multi state (≈ 35 kB of heap: its
 * connection cache, the closure handle and their buffers). */
static int multi_open(HttpClient *c) {
        if (c->multi)
                return 0;
        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, curl_socket_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb) != CURLM_OK ||
            curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK) {
                curl_multi_cleanup(c->multi);
                c->multi = NULL;
                return -EIO;
        }
        return 0;
}

static void multi_close_if_idle(HttpClient *c) {
        if (c->calls || !c->multi)
                return;
        curl_multi_cleanup(c->multi);
        c->multi = NULL;
        if (c->timer)
                (void) sd_event_source_set_enabled(c->timer, SD_EVENT_OFF);
        /* What the transfers freed goes back to the kernel now rather than when the heap top happens to be free
         * (a status upload ends after the daemon's pass, whose end trims too). Microseconds. */
        (void) malloc_trim(0);
}

int http_client_new(sd_event *e, HttpClient **ret) {
        _cleanup_http_client_ HttpClient *c = NULL;
        int r;

        r = curl_global_once();
        if (r < 0)
                return r;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (e)
                c->event = sd_event_ref(e);
        else {
                r = sd_event_default(&c->event);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

HttpClient *http_client_free(HttpClient *c) {
        if (!c)
                return NULL;
        while (c->calls)
                call_free(c->calls);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        sd_event_source_disable_unref(c->timer);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

sd_event *http_client_get_event(HttpClient *c) {
        return c ? c->event : NULL;
}

static int build_headers(const HttpRequest *req, struct curl_slist **ret) {
        struct curl_slist *l = NULL, *n;
        size_t count = 0;

        /* One TCP connection per request (protocol §1.2), and no "Expect: 100-continue" round trip on POST/PUT. */
        static const char *const fixed[] = {"Connection: close", "Expect:"};

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                n = curl_slist_append(l, fixed[i]);
                if (!n)
                        goto oom;
                l = n;
        }
        for (char *const *h = req->headers; h && *h; h++) {
                if (++count > HTTP_REQUEST_HEADERS_MAX || strlen(*h) > HTTP_HEADER_LINE_MAX ||
                    strpbrk(*h, "\r\n") || !strchr(*h, ':')) {
                        curl_slist_free_all(l);
                        return -EINVAL; /* header injection or nonsense */
                }
                n = curl_slist_append(l, *h);
                if (!n)
                        goto oom;
                l = n;
        }
        *ret = l;
        return 0;
oom:
        curl_slist_free_all(l);
        return -ENOMEM;
}

static int call_setup(HttpCall *call, const HttpRequest *req) {
        CURL *e = call->easy;
        usec_t timeout = req->timeout ?: HTTP_TIMEOUT_DEFAULT;
        long timeout_ms = (long) MAX(timeout / USEC_PER_MSEC, (usec_t) 1);
        bool ok = true;
        int r;

        r = build_headers(req, &call->headers);
        if (r < 0)
                return r;

#define SETOPT(opt, val) ok = ok && curl_easy_setopt(e, opt, val) == CURLE_OK
        SETOPT(CURLOPT_URL, req->url);
        SETOPT(CURLOPT_PRIVATE, call);
        SETOPT(CURLOPT_HTTPHEADER, call->headers);
        SETOPT(CURLOPT_USERAGENT, HTTP_USER_AGENT);
        SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
        SETOPT(CURLOPT_WRITEDATA, call);
        SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
        SETOPT(CURLOPT_HEADERDATA, call);
        SETOPT(CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
        SETOPT(CURLOPT_NOSIGNAL, 1L);
        SETOPT(CURLOPT_TIMEOUT_MS, timeout_ms);
        SETOPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        if (req->low_speed_time > 0) {
                SETOPT(CURLOPT_LOW_SPEED_LIMIT, HTTP_LOW_SPEED_LIMIT);
                SETOPT(CURLOPT_LOW_SPEED_TIME, (long) MAX(req->low_speed_time / USEC_PER_SEC, (usec_t) 1));
        }
        SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) call->max_response);
        SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
        SETOPT(CURLOPT_FORBID_REUSE, 1L);
        SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
        /* The fabric endpoints are never reached through a proxy, whatever the environment says (protocol §1.2). */
        if (!req->use_proxy)
                SETOPT(CURLOPT_NOPROXY, "*");
        switch (req->method) {
        case HTTP_METHOD_GET:
                SETOPT(CURLOPT_HTTPGET, 1L);
                break;
        case HTTP_METHOD_POST:
        case HTTP_METHOD_PUT:
                SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size);
                SETOPT(CURLOPT_COPYPOSTFIELDS, req->body ?: "");
                if (req->method == HTTP_METHOD_PUT)
                        SETOPT(CURLOPT_CUSTOMREQUEST, "PUT");
                break;
        case _HTTP_METHOD_MAX:
        case _HTTP_METHOD_INVALID:
                return -EINVAL;
        }
#undef SETOPT
        return ok ? 0 : -EINVAL;
}

int http_client_start(HttpClient *c, const HttpRequest *req, HttpCallback cb, void *userdata,
                      HttpCall **ret) {
        HttpCall *call;
        int r;

        if (!c || !req || !req->url || !cb)
                return -EINVAL;
        if (strlen(req->url) > HTTP_URL_MAX || (req->max_response > HTTP_RESPONSE_MAX_LIMIT))
                return -EINVAL;
        if (req->method < 0 || req->method >= _HTTP_METHOD_MAX)
                return -EINVAL;
        if (req->body_to_fd) {
                /* Only this attempt's answer in the file, written from its start. */
                if (req->body_fd < 0)
                        return -EBADF;
                if (ftruncate(req->body_fd, 0) < 0 || lseek(req->body_fd, 0, SEEK_SET) < 0)
                        return -errno;
        }

        call = calloc(1, sizeof *call);
        if (!call)
                return -ENOMEM;
        call->callback = cb;
        call->userdata = userdata;
        call->max_response = req->max_response ?: HTTP_RESPONSE_MAX_DEFAULT;
        call->body_fd = req->body_to_fd ? req->body_fd : -EBADF;
        call->memory_max = req->body_to_fd ? MIN(call->max_response, (size_t) HTTP_RESPONSE_MAX_DEFAULT)
                                           : call->max_response;
        call->easy = curl_easy_init();
        if (!call->easy) {
                call_free(call);
                return -ENOMEM;
        }
        r = call_setup(call, req);
        if (r < 0) {
                call_free(call);
                return r;
        }
        r = multi_open(c);
        if (r < 0) {
                call_free(call);
                return r;
        }
        if (curl_multi_add_handle(c->multi, call->easy) != CURLM_OK) {
                call_free(call);
                return -EIO;
        }
        call->client = c;
        call->next = c->calls;
        if (c->calls)
                c->calls->prev = call;
        c->calls = call;
        if (ret)
                *ret = call;
        return 0;
}

typedef struct SyncState {
        sd_event *event;
        bool done;
        int error;
        HttpResponse *response;
} SyncState;

/* Called when the single transfer of http_request_sync() finished. */
static void sync_done(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        SyncState *s = userdata;

        s->done = true;
        s->error = error;
        s->response = response;
        (void) sd_event_exit(s->event, 0);
}

int http_request_sync(const HttpRequest *req, HttpResponse **ret) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_http_client_ HttpClient *c = NULL;
        SyncState s = {};
        int r;

        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = http_client_new(e, &c);
        if (r < 0)
                return r;
        s.event = e;
        r = http_client_start(c, req, sync_done, &s, NULL);
        if (r < 0)
                return r;
        r = sd_event_loop(e);
        if (r < 0)
                return r;
        if (!s.done)
                return -EIO;
        if (s.error < 0)
                return s.error;
        *ret = s.response;
        return 0;
}

int http_url_for_log(const char *url, char **ret) {
        const char *start, *scheme_end, *at, *end;
        _cleanup_free_ char *scheme = NULL;
        char *s;

        if (!url)
                return -EINVAL;
        scheme_end = strstr(url, "://");
        start = scheme_end ? scheme_end + 3 : url;
        end = start + strcspn(start, "?#");
        /* Drop user:password@ in the authority part. */
        at = memchr(start, '@', (size_t) (start + strcspn(start, "/?#") - start));
        if (scheme_end) {
                scheme = strndup(url, (size_t) (scheme_end - url + 3));
                if (!scheme)
                        return -ENOMEM;
        }
        if (at)
                start = at + 1;
        if (asprintf(&s, "%s%.*s", strempty(scheme), (int) (end - start), start) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}
