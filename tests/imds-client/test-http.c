/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of the HTTP client, the retry engine and the IMDS/WireServer/HostGAPlugin clients against
 * a real HTTP server on 127.0.0.1 (tests/imds-client/fake-server.py, scripted per test). Nothing leaves the
 * loopback interface: every URL below is 127.0.0.1.
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fake-server.h"
#include "http-retry.h"
#include "imds.h"
#include "json-util.h"
#include "tests.h"
#include "wireserver.h"

static usec_t now_mono(void) {
        return now_usec(CLOCK_MONOTONIC);
}

/* A loopback port nobody listens on. */
static unsigned closed_port(void) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htobe32(INADDR_LOOPBACK)};
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd);
        return be16toh(a.sin_port);
}

static char *url_of(FakeServer *s, const char *path) {
        char *u = NULL;

        assert_true(asprintf(&u, "%s%s", s->base, path) > 0);
        return u;
}

/* i-th logged request (JSON object; borrowed from log). */
static struct json_object *req_at(struct json_object *log, size_t i) {
        assert_true(i < json_object_array_length(log));
        return json_object_array_get_idx(log, i);
}

static const char *req_header(struct json_object *req, const char *name) {
        struct json_object *h = json_get(json_get(req, "headers", false), name, false);

        return h ? json_object_get_string(h) : NULL;
}

static const char *req_field(struct json_object *req, const char *name) {
        return json_object_get_string(json_get(req, name, false));
}

static RetryPolicy fast_policy(void) {
        return (RetryPolicy){
                .max_attempts = 10,
                .backoff = RETRY_BACKOFF_EXPONENTIAL,
                .base = 50 * USEC_PER_MSEC,
                .cap = 200 * USEC_PER_MSEC,
                .retry_status = {500, 503},
                .throttle_status = {429},
                .throttle_delay = 20 * USEC_PER_MSEC,
                .retry_transport_errors = true,
        };
}

/* ---- HttpClient ---- */

static void test_http_basic(void **state) {
        FakeServer s;
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        char *const headers[] = {(char *) "X-Test: 1", NULL};

        fake_server_start(
                &s,
                "{\"routes\": [{\"path\": \"/doc\", \"responses\": [{\"status\": 200, \"body\": \"hello\","
                " \"headers\": {\"ETag\": \"\\\"abc\\\"\", \"x-ms-request-id\": \"r1\", \"X-Other\": "
                "\"no\"}}]}]}");
        url = url_of(&s, "/doc?q=1");
        HttpRequest req = {.method = HTTP_METHOD_GET, .url = url, .headers = headers};
        assert_int_equal(http_request_sync(&req, &resp), 0);
        assert_int_equal(resp->status, 200);
        assert_string_equal(resp->body, "hello");
        assert_int_equal(resp->body_size, 5);
        assert_string_equal(http_response_header(resp, "ETag"), "\"abc\"");
        assert_string_equal(http_response_header(resp, "X-MS-Request-Id"), "r1");
        assert_null(http_response_header(resp, "X-Other"));

        log = fake_server_requests(&s);
        assert_int_equal(json_object_array_length(log), 1);
        assert_string_equal(req_header(req_at(log, 0), "connection"), "close");
        assert_string_equal(req_header(req_at(log, 0), "x-test"), "1");
        assert_true(startswith(req_header(req_at(log, 0), "user-agent"), "azl-agent/"));
        assert_string_equal(req_field(req_at(log, 0), "query"), "q=1");
        fake_server_stop(&s);
}

static void test_http_post_body(void **state) {
        FakeServer s;
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        static const char body[] = "<x>payload</x>";

        fake_server_start(&s, "{\"routes\": [{\"path\": \"/p\", \"method\": \"PUT\", \"responses\": "
                              "[{\"status\": 201}]}]}");
        url = url_of(&s, "/p");
        HttpRequest req = {.method = HTTP_METHOD_PUT, .url = url, .body = body, .body_size = strlen(body)};
        assert_int_equal(http_request_sync(&req, &resp), 0);
        assert_int_equal(resp->status, 201);
        assert_string_equal(resp->body, "");
        log = fake_server_requests(&s);
        assert_string_equal(req_field(req_at(log, 0), "method"), "PUT");
        assert_string_equal(req_field(req_at(log, 0), "body"), body);
        assert_null(req_header(req_at(log, 0), "expect"));
        fake_server_stop(&s);
}

/* 2,000,000 bytes, with and without Content-Length */
#define ROUTES_OVERSIZED                                                                                    \
        "{\"path\": \"/big\", \"responses\": [{\"body_size\": 2000000}]},"                                  \
        "{\"path\": \"/bignolen\", \"responses\": [{\"body_size\": 2000000, \"no_length\": true}]},"

static void test_http_errors(void **state) {
        FakeServer s;
        _cleanup_free_ char *big = NULL, *big_nolen = NULL, *reset = NULL, *slow = NULL, *refused = NULL;
        HttpResponse *resp = NULL;
        usec_t t0;

        fake_server_start(&s,
                          "{\"routes\": [" ROUTES_OVERSIZED
                          "{\"path\": \"/reset\", \"responses\": [{\"reset\": true}]},"
                          "{\"path\": \"/slow\", \"responses\": [{\"delay\": 3, \"body\": \"late\"}]}]}");
        big = url_of(&s, "/big");
        big_nolen = url_of(&s, "/bignolen");
        reset = url_of(&s, "/reset");
        slow = url_of(&s, "/slow");
        assert_true(asprintf(&refused, "http://127.0.0.1:%u/", closed_port()) > 0);

        /* over the limit: announced by Content-Length, and counted in the write callback */
        HttpRequest r1 = {.url = big, .max_response = 1024 * 1024};
        assert_int_equal(http_request_sync(&r1, &resp), -E2BIG);
        HttpRequest r2 = {.url = big_nolen, .max_response = 1024 * 1024};
        assert_int_equal(http_request_sync(&r2, &resp), -E2BIG);
        /* exactly at the limit is fine */
        HttpRequest r2b = {.url = big_nolen, .max_response = 2000000};
        assert_int_equal(http_request_sync(&r2b, &resp), 0);
        assert_int_equal(resp->body_size, 2000000);
        resp = http_response_free(resp);

        HttpRequest r3 = {.url = reset};
        assert_int_equal(http_request_sync(&r3, &resp), -ECONNRESET);
        HttpRequest r4 = {.url = refused};
        assert_int_equal(http_request_sync(&r4, &resp), -ECONNREFUSED);

        t0 = now_mono();
        HttpRequest r5 = {.url = slow, .timeout = 300 * USEC_PER_MSEC};
        assert_int_equal(http_request_sync(&r5, &resp), -ETIMEDOUT);
        assert_true(now_mono() - t0 < 1500 * USEC_PER_MSEC);

        HttpRequest r6 = {.url = "ftp://127.0.0.1/x"};
        assert_int_equal(http_request_sync(&r6, &resp), -EINVAL);
        char *const inject[] = {(char *) "X-A: 1\r\nX-B: 2", NULL};
        HttpRequest r7 = {.url = slow, .headers = inject};
        assert_int_equal(http_request_sync(&r7, &resp), -EINVAL);
        assert_null(resp);
        fake_server_stop(&s);
}

static size_t fd_size(int fd) {
        struct stat st;

        assert_int_equal(fstat(fd, &st), 0);
        return (size_t) st.st_size;
}

/* The whole content of fd (from offset 0), NUL-terminated. */
static char *fd_content(int fd) {
        size_t size = fd_size(fd);
        char *buf = calloc(1, size + 1);

        assert_non_null(buf);
        assert_int_equal(pread(fd, buf, size, 0), (ssize_t) size);
        return buf;
}

/* body_to_fd: a 2xx body goes to the file (stale content truncated first), bounded by max_response; any other
 * status keeps its body in memory and leaves the file empty. */
static void test_http_body_fd(void **state) {
        FakeServer s;
        HttpResponse *resp = NULL;
        _cleanup_free_ char *doc = NULL, *big = NULL, *big_nolen = NULL, *err = NULL, *big_err = NULL,
                            *hello = NULL, *xs = NULL;
        _cleanup_close_ int fd = memfd_create("body", MFD_CLOEXEC);

        assert_true(fd >= 0);
        fake_server_start(
                &s, "{\"routes\": ["
                    "{\"path\": \"/doc\", \"responses\": [{\"body\": \"hello\", \"headers\": {\"ETag\": "
                    "\"e1\"}}]}," ROUTES_OVERSIZED "{\"path\": \"/err\", \"responses\": [{\"status\": 400, "
                    "\"body\": \"InvalidContainerConfiguration\"}]},"
                    "{\"path\": \"/bigerr\", \"responses\": [{\"status\": 500, \"body_size\": 2000000}]}]}");
        doc = url_of(&s, "/doc");
        big = url_of(&s, "/big");
        big_nolen = url_of(&s, "/bignolen");
        err = url_of(&s, "/err");
        big_err = url_of(&s, "/bigerr");

        assert_int_equal(write(fd, "stale content, longer than the body", 35), 35);
        HttpRequest r1 = {.url = doc, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r1, &resp), 0);
        assert_int_equal(resp->status, 200);
        assert_true(resp->body_in_fd);
        assert_string_equal(resp->body, "");
        assert_int_equal(resp->body_size, 5);
        assert_string_equal(http_response_header(resp, "etag"), "e1");
        resp = http_response_free(resp);
        assert_int_equal(fd_size(fd), 5);
        hello = fd_content(fd);
        assert_string_equal(hello, "hello");

        /* over the limit, announced or counted: -E2BIG as in memory, never more than the limit on disk */
        HttpRequest r2 = {.url = big, .max_response = 1024 * 1024, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r2, &resp), -E2BIG);
        HttpRequest r3 = {.url = big_nolen, .max_response = 1024 * 1024, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r3, &resp), -E2BIG);
        assert_null(resp);
        assert_true(fd_size(fd) > 0 && fd_size(fd) <= 1024 * 1024);
        HttpRequest r4 = {.url = big_nolen, .max_response = 2000000, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r4, &resp), 0);
        assert_int_equal(resp->body_size, 2000000);
        resp = http_response_free(resp);
        assert_int_equal(fd_size(fd), 2000000);
        xs = fd_content(fd);
        assert_true(xs[0] == 'x' && xs[2000000 - 1] == 'x');

        /* an error answer: in memory (wire_status_to_errno() reads it), the file left empty */
        HttpRequest r5 = {.url = err, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r5, &resp), 0);
        assert_int_equal(resp->status, 400);
        assert_false(resp->body_in_fd);
        assert_string_equal(resp->body, "InvalidContainerConfiguration");
        assert_int_equal(wire_status_to_errno(resp), -ESTALE);
        resp = http_response_free(resp);
        assert_int_equal(fd_size(fd), 0);
        /* … of which only the first HTTP_RESPONSE_MAX_DEFAULT bytes are kept */
        HttpRequest r6 = {
                .url = big_err, .max_response = 4 * 1024 * 1024, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_sync(&r6, &resp), 0);
        assert_int_equal(resp->status, 500);
        assert_int_equal(resp->body_size, HTTP_RESPONSE_MAX_DEFAULT);
        assert_int_equal(strlen(resp->body), HTTP_RESPONSE_MAX_DEFAULT);
        resp = http_response_free(resp);

        HttpRequest r7 = {.url = doc, .body_to_fd = true, .body_fd = -EBADF};
        assert_int_equal(http_request_sync(&r7, &resp), -EBADF);
        fake_server_stop(&s);
}

/* A retried body_to_fd request: the first answer is cut after 3000 of its 5000 bytes (-EPIPE, retried), the
 * second is short; the file holds the final body only. */
static void test_retry_body_fd(void **state) {
        FakeServer s;
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL, *content = NULL;
        _cleanup_close_ int fd = memfd_create("body", MFD_CLOEXEC);
        RetryPolicy p = fast_policy();
        HttpFailure f = {};
        unsigned attempts = 0;

        assert_true(fd >= 0);
        fake_server_start(
                &s,
                "{\"routes\": [{\"path\": \"/r\", \"responses\": ["
                "{\"body_size\": 3000, \"no_length\": true, \"headers\": {\"Content-Length\": \"5000\"}},"
                "{\"body\": \"final\"}]}]}");
        url = url_of(&s, "/r");
        p.failure = &f;
        HttpRequest req = {.url = url, .body_to_fd = true, .body_fd = fd};
        assert_int_equal(http_request_retry_sync(&req, &p, &resp, &attempts), 0);
        assert_int_equal(attempts, 2);
        assert_int_equal(fake_server_count(&s, "/r"), 2);
        assert_int_equal(resp->status, 200);
        assert_true(resp->body_in_fd);
        assert_int_equal(resp->body_size, 5);
        assert_int_equal(fd_size(fd), 5);
        content = fd_content(fd);
        assert_string_equal(content, "final");
        fake_server_stop(&s);
}

typedef struct Parallel {
        sd_event *event;
        unsigned done;
        int errors[2];
        long status[2];
} Parallel;

/* Called for each of the two parallel transfers. */
static void parallel_done(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        Parallel *p = userdata;

        p->errors[p->done] = error;
        p->status[p->done] = response ? response->status : 0;
        http_response_free(response);
        if (++p->done == 2)
                (void) sd_event_exit(p->event, 0);
}

/* Called for a transfer that was cancelled: must never run. */
static void never_called(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        fail_msg("callback of a cancelled call ran");
}

/* Called by the watchdog timer that ends the loop of the cancel test. */
static int on_quit(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void test_http_async(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_http_client_ HttpClient *c = NULL;
        _cleanup_free_ char *url = NULL;
        HttpCall *call = NULL;
        Parallel p = {};
        FakeServer s;
        usec_t t0;

        fake_server_start(
                &s,
                "{\"routes\": [{\"path\": \"/slow\", \"responses\": [{\"delay\": 0.6, \"body\": \"x\"}]}]}");
        url = url_of(&s, "/slow");
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_client_new(e, &c), 0);
        p.event = e;

        /* two slow transfers at once on one loop: together they take one delay, not two */
        HttpRequest req = {.url = url, .timeout = 5 * USEC_PER_SEC};
        t0 = now_mono();
        assert_int_equal(http_client_start(c, &req, parallel_done, &p, NULL), 0);
        assert_int_equal(http_client_start(c, &req, parallel_done, &p, NULL), 0);
        assert_int_equal(sd_event_loop(e), 0);
        assert_int_equal(p.done, 2);
        assert_int_equal(p.errors[0], 0);
        assert_int_equal(p.errors[1], 0);
        assert_int_equal(p.status[0], 200);
        assert_true(now_mono() - t0 < 1100 * USEC_PER_MSEC);

        /* cancel: the callback never runs, the loop ends by the watchdog (a loop that exited cannot run
         * again: a new one) */
        c = http_client_free(c);
        e = sd_event_unref(e);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_client_new(e, &c), 0);
        assert_int_equal(http_client_start(c, &req, never_called, NULL, &call), 0);
        assert_null(http_call_cancel(call));
        assert_int_equal(
                sd_event_add_time_relative(e, NULL, CLOCK_MONOTONIC, 800 * USEC_PER_MSEC, 0, on_quit, NULL),
                0);
        assert_int_equal(sd_event_loop(e), 0);

        /* a pending call is cancelled by freeing the client */
        c = http_client_free(c);
        e = sd_event_unref(e);
        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_client_new(e, &c), 0);
        assert_int_equal(http_client_start(c, &req, never_called, NULL, NULL), 0);
        c = http_client_free(c);
        fake_server_stop(&s);
}

/* ---- retry engine ---- */

static void test_retry_then_success(void **state) {
        FakeServer s;
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        RetryPolicy p = fast_policy();
        unsigned attempts = 0;

        fake_server_start(
                &s, "{\"routes\": [{\"path\": \"/r\", \"responses\": [{\"status\": 500}, {\"status\": 500},"
                    " {\"status\": 500}, {\"status\": 200, \"body\": \"ok\"}]}]}");
        url = url_of(&s, "/r");
        HttpRequest req = {.url = url};
        assert_int_equal(http_request_retry_sync(&req, &p, &resp, &attempts), 0);
        assert_int_equal(resp->status, 200);
        assert_string_equal(resp->body, "ok");
        assert_int_equal(attempts, 4);
        assert_int_equal(fake_server_count(&s, "/r"), 4);
        fake_server_stop(&s);
}

static void test_retry_exhausted_and_final(void **state) {
        FakeServer s;
        HttpResponse *resp = NULL;
        _cleanup_free_ char *always = NULL, *gone = NULL, *thr = NULL;
        RetryPolicy p = fast_policy();
        unsigned attempts = 0;

        fake_server_start(&s,
                          "{\"routes\": ["
                          "{\"path\": \"/always\", \"responses\": [{\"status\": 503}]},"
                          "{\"path\": \"/gone\", \"responses\": [{\"status\": 410}]},"
                          "{\"path\": \"/throttle\", \"responses\": [{\"status\": 429}, {\"status\": 429},"
                          " {\"status\": 429}, {\"status\": 429}, {\"status\": 202}]}]}");
        always = url_of(&s, "/always");
        gone = url_of(&s, "/gone");
        thr = url_of(&s, "/throttle");

        /* attempts run out: the last retryable answer is delivered */
        p.max_attempts = 3;
        HttpRequest r1 = {.url = always};
        assert_int_equal(http_request_retry_sync(&r1, &p, &resp, &attempts), 0);
        assert_int_equal(resp->status, 503);
        assert_int_equal(attempts, 3);
        resp = http_response_free(resp);

        /* a final status is delivered at once */
        HttpRequest r2 = {.url = gone};
        assert_int_equal(http_request_retry_sync(&r2, &p, &resp, &attempts), 0);
        assert_int_equal(resp->status, 410);
        assert_int_equal(attempts, 1);
        resp = http_response_free(resp);

        /* throttling raises the attempt budget to throttle_min_attempts */
        p.max_attempts = 2;
        p.throttle_min_attempts = 6;
        HttpRequest r3 = {.url = thr};
        assert_int_equal(http_request_retry_sync(&r3, &p, &resp, &attempts), 0);
        assert_int_equal(resp->status, 202);
        assert_int_equal(attempts, 5);
        resp = http_response_free(resp);

        /* transport errors are retried, then reported */
        _cleanup_free_ char *refused = NULL;
        assert_true(asprintf(&refused, "http://127.0.0.1:%u/", closed_port()) > 0);
        HttpRequest r4 = {.url = refused};
        p.max_attempts = 3;
        assert_int_equal(http_request_retry_sync(&r4, &p, &resp, &attempts), -ECONNREFUSED);
        p.retry_transport_errors = false;
        assert_int_equal(http_request_retry_sync(&r4, &p, &resp, &attempts), -ECONNREFUSED);
        fake_server_stop(&s);
}

static void test_retry_deadline(void **state) {
        FakeServer s;
        HttpResponse *resp = NULL;
        _cleanup_free_ char *always = NULL, *slow = NULL;
        RetryPolicy p = fast_policy();
        usec_t t0, dt;

        fake_server_start(&s, "{\"routes\": [{\"path\": \"/always\", \"responses\": [{\"status\": 503}]},"
                              "{\"path\": \"/slow\", \"responses\": [{\"delay\": 10}]}]}");
        always = url_of(&s, "/always");
        slow = url_of(&s, "/slow");

        p.max_attempts = 0;
        p.deadline = 3 * USEC_PER_SEC;
        p.cap = 1 * USEC_PER_SEC;
        HttpRequest r1 = {.url = always};
        t0 = now_mono();
        assert_int_equal(http_request_retry_sync(&r1, &p, &resp, NULL), -ETIMEDOUT);
        dt = now_mono() - t0;
        assert_true(dt <= 3 * USEC_PER_SEC + 200 * USEC_PER_MSEC);
        assert_true(dt >= 1 * USEC_PER_SEC);
        assert_true(fake_server_count(&s, "/always") >= 4);

        /* a hanging server: the attempt's own timeout is clipped to the deadline */
        HttpRequest r2 = {.url = slow, .timeout = 60 * USEC_PER_SEC};
        t0 = now_mono();
        assert_int_equal(http_request_retry_sync(&r2, &p, &resp, NULL), -ETIMEDOUT);
        assert_true(now_mono() - t0 <= 3 * USEC_PER_SEC + 200 * USEC_PER_MSEC);
        assert_null(resp);
        fake_server_stop(&s);
}

/* The last attempt's outcome, for failure reasons ("HTTP 503 after 4 attempts", "connection reset …"). */
static void test_retry_failure_report(void **state) {
        FakeServer s;
        HttpResponse *resp = NULL;
        _cleanup_free_ char *always = NULL, *reset = NULL, *flaky = NULL;
        HttpFailure f = {.attempts = 99, .status = 42};
        RetryPolicy p = fast_policy();
        char buf[HTTP_FAILURE_STRING_MAX + 32];

        fake_server_start(
                &s, "{\"routes\": [{\"path\": \"/always\", \"responses\": [{\"status\": 503}]},"
                    "{\"path\": \"/reset\", \"responses\": [{\"reset\": true}]},"
                    "{\"path\": \"/flaky\", \"responses\": [{\"status\": 500}, {\"body\": \"ok\"}]}]}");
        always = url_of(&s, "/always");
        reset = url_of(&s, "/reset");
        flaky = url_of(&s, "/flaky");
        p.failure = &f;

        p.max_attempts = 0;
        p.deadline = 1 * USEC_PER_SEC;
        HttpRequest r1 = {.url = always};
        assert_int_equal(http_request_retry_sync(&r1, &p, &resp, NULL), -ETIMEDOUT);
        assert_int_equal(f.error, 0);
        assert_int_equal(f.status, 503);
        assert_int_equal(f.attempts, (unsigned) fake_server_count(&s, "/always"));
        assert_non_null(http_failure_describe(&f, buf, sizeof buf));
        assert_true(strncmp(buf, "HTTP 503 after ", 15) == 0);

        p.max_attempts = 2;
        p.deadline = 0;
        HttpRequest r2 = {.url = reset};
        assert_int_equal(http_request_retry_sync(&r2, &p, &resp, NULL), -ECONNRESET);
        assert_int_equal(f.attempts, 2);
        assert_string_equal(http_failure_describe(&f, buf, sizeof buf), "connection reset after 2 attempts");

        /* success after a failure: the last attempt did not fail, nothing to describe */
        HttpRequest r3 = {.url = flaky};
        assert_int_equal(http_request_retry_sync(&r3, &p, &resp, NULL), 0);
        resp = http_response_free(resp);
        assert_int_equal(f.attempts, 2);
        assert_null(http_failure_describe(&f, buf, sizeof buf));

        assert_string_equal(http_failure_string(0, 404, buf, sizeof buf), "HTTP 404");
        assert_string_equal(http_failure_string(-EPIPE, 0, buf, sizeof buf),
                            "response truncated (connection closed before the end of the body)");
        assert_string_equal(http_failure_string(-E2BIG, 0, buf, sizeof buf), "response larger than allowed");
        fake_server_stop(&s);
}

/* ---- IMDS ---- */

static void imds_test_options(FakeServer *s, ImdsOptions *o, usec_t deadline) {
        imds_retry_policy(deadline, &o->policy);
        o->url = s->base;
        o->api_version = "2023-07-01";
        o->http_timeout = 2 * USEC_PER_SEC;
        o->policy.base = 50 * USEC_PER_MSEC;
        o->policy.cap = 300 * USEC_PER_MSEC;
}

static void test_imds_fetch_no_proxy(void **state) {
        FakeServer s;
        ImdsOptions o = {};
        ImdsInstance i = {};
        JsonError err = {};
        _cleanup_free_ char *proxy = NULL;
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        char id[37];

        fake_server_start(
                &s, "{\"routes\": [{\"path\": \"/metadata/instance\", \"query\": \"api-version=2023-07-01\","
                    " \"responses\": [{\"require_header\": [\"Metadata\", \"true\"],"
                    " \"body_file\": \"@DATA@/imds/instance.json\"}]}]}");
        imds_test_options(&s, &o, 5 * USEC_PER_SEC);
        /* A proxy nobody listens on: any use of it would fail with -ECONNREFUSED. */
        assert_true(asprintf(&proxy, "http://127.0.0.1:%u", closed_port()) > 0);
        assert_int_equal(setenv("http_proxy", proxy, 1), 0);
        assert_int_equal(setenv("ALL_PROXY", proxy, 1), 0);

        assert_int_equal(imds_fetch_instance(&o, &i, &err), 0);
        assert_string_equal(i.vm_id, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
        assert_string_equal(i.vm_size, "Standard_D4s_v5");
        imds_instance_done(&i);

        log = fake_server_requests(&s);
        assert_int_equal(json_object_array_length(log), 1);
        assert_string_equal(req_header(req_at(log, 0), "metadata"), "true");
        assert_int_equal(uuid_normalize(req_header(req_at(log, 0), "x-ms-client-request-id"), id), 0);
        assert_string_equal(req_field(req_at(log, 0), "query"), "api-version=2023-07-01&extended=true");

        /* control: the same request through the proxy fails, so the environment really names one */
        {
                _cleanup_free_ char *url = NULL;
                HttpResponse *resp = NULL;

                assert_int_equal(imds_instance_url(s.base, "2023-07-01", &url), 0);
                HttpRequest req = {.url = url, .use_proxy = true};
                assert_int_equal(http_request_sync(&req, &resp), -ECONNREFUSED);
        }
        assert_int_equal(unsetenv("http_proxy"), 0);
        assert_int_equal(unsetenv("ALL_PROXY"), 0);
        fake_server_stop(&s);
}

static void test_imds_api_fallback(void **state) {
        FakeServer s;
        ImdsOptions o = {};
        _cleanup_free_ char *body = NULL, *version = NULL;
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        size_t size = 0;

        fake_server_start(
                &s, "{\"routes\": ["
                    "{\"path\": \"/metadata/instance\", \"query\": \"api-version=2019-06-01\","
                    " \"responses\": [{\"body_file\": \"@DATA@/imds/instance.json\"}]},"
                    "{\"path\": \"/metadata/instance\", \"responses\": [{\"status\": 400,"
                    " \"body\": \"{\\\"error\\\": \\\"Bad request. api-version is invalid\\\"}\"}]}]}");
        imds_test_options(&s, &o, 5 * USEC_PER_SEC);
        assert_int_equal(imds_fetch_instance_raw(&o, &body, &size, &version), 0);
        assert_string_equal(version, "2019-06-01");
        assert_non_null(strstr(body, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"));
        log = fake_server_requests(&s);
        assert_int_equal(json_object_array_length(log), 3);
        assert_string_equal(req_field(req_at(log, 0), "query"), "api-version=2023-07-01&extended=true");
        assert_string_equal(req_field(req_at(log, 1), "query"), "api-version=2021-08-01&extended=true");
        assert_string_equal(req_field(req_at(log, 2), "query"), "api-version=2019-06-01");
        fake_server_stop(&s);
}

static void test_imds_retry_and_deadline(void **state) {
        FakeServer s, s2;
        ImdsOptions o = {};
        ImdsInstance i = {};
        JsonError err = {};
        usec_t t0, dt;

        fake_server_start(&s, "{\"routes\": [{\"path\": \"/metadata/instance\", \"responses\": ["
                              "{\"status\": 500}, {\"status\": 500}, {\"status\": 500}, {\"status\": 404}, "
                              "{\"status\": 429},"
                              "{\"body\": \"{not json\"},"
                              "{\"body_file\": \"@DATA@/imds/instance.json\"}]}]}");
        imds_test_options(&s, &o, 10 * USEC_PER_SEC);
        assert_int_equal(imds_fetch_instance(&o, &i, &err), 0);
        assert_string_equal(i.location, "northeurope");
        imds_instance_done(&i);
        assert_int_equal(fake_server_count(&s, "/metadata/instance"), 7);
        fake_server_stop(&s);

        fake_server_start(
                &s2,
                "{\"routes\": [{\"path\": \"/metadata/instance\", \"responses\": [{\"status\": 503}]}]}");
        imds_test_options(&s2, &o, 3 * USEC_PER_SEC);
        t0 = now_mono();
        assert_int_equal(imds_fetch_instance(&o, &i, &err), -ETIMEDOUT);
        dt = now_mono() - t0;
        assert_true(dt <= 3 * USEC_PER_SEC + 200 * USEC_PER_MSEC);
        assert_true(dt >= 2 * USEC_PER_SEC);
        fake_server_stop(&s2);
}

static void test_imds_limits_and_errors(void **state) {
        FakeServer s;
        ImdsOptions o = {};
        ImdsInstance i = {};
        JsonError err = {};

        fake_server_start(&s, "{\"routes\": [{\"path\": \"/metadata/instance\", \"responses\": ["
                              "{\"body_size\": 1048577}, {\"status\": 403}, {\"body\": \"{\\\"compute\\\": "
                              "{\\\"vmId\\\": 1}}\"}]}]}");
        imds_test_options(&s, &o, 5 * USEC_PER_SEC);
        assert_int_equal(imds_fetch_instance(&o, &i, &err), -E2BIG);
        assert_int_equal(imds_fetch_instance(&o, &i, &err), -EACCES); /* not retryable */
        assert_int_equal(imds_fetch_instance(&o, &i, &err), -EBADMSG);
        assert_string_equal(err.field, "compute.vmId");
        fake_server_stop(&s);
}

static void test_imds_user_data_and_reprovision(void **state) {
        FakeServer s;
        ImdsOptions o = {};
        _cleanup_free_ void *ud = NULL;
        _cleanup_free_ char *ovf = NULL, *expected = NULL;
        size_t size = 0, esize = 0;
        void *none = NULL;

        fake_server_start(&s,
                          "{\"routes\": ["
                          "{\"path\": \"/metadata/instance/compute/userData\","
                          " \"query\": \"api-version=2021-01-01&format=text\","
                          " \"responses\": [{\"body\": \"I2Nsb3VkLWNvbmZpZwo=\"}, {\"body\": \"\"}]},"
                          "{\"path\": \"/metadata/reprovisiondata\", \"query\": \"api-version=2019-06-01\","
                          " \"responses\": [{\"status\": 404}, {\"status\": 404},"
                          " {\"body_file\": \"@DATA@/media/ovf-env.xml\"}]}]}");
        imds_test_options(&s, &o, 5 * USEC_PER_SEC);
        assert_int_equal(imds_fetch_user_data(&o, &ud, &size), 0);
        assert_int_equal(size, 14);
        assert_memory_equal(ud, "#cloud-config\n", 14);
        assert_int_equal(imds_fetch_user_data(&o, &none, &size), -ENODATA);
        assert_null(none);

        assert_int_equal(imds_fetch_reprovision_data(&o, &ovf, &size), 0);
        expected = test_data_read("media/ovf-env.xml", &esize);
        assert_int_equal(size, esize);
        assert_memory_equal(ovf, expected, esize);
        assert_int_equal(fake_server_count(&s, "/metadata/reprovisiondata"), 3);
        fake_server_stop(&s);
}

/* ---- WireServer / HostGAPlugin ---- */

static void wire_test_options(FakeServer *s, WireOptions *o) {
        wire_options_init(NULL, s->hostport, o);
        o->hgap_port = s->port;
        o->http_timeout = 2 * USEC_PER_SEC;
        o->policy.base = 20 * USEC_PER_MSEC;
        o->policy.throttle_delay = 20 * USEC_PER_MSEC;
}

static void test_wire_goal_state(void **state) {
        FakeServer s;
        WireOptions o;
        _cleanup_(goal_state_done) GoalState g = {};
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        WireVersions v = {};
        usec_t t0;

        /* the goal state's URLs point at 168.63.129.16: rewrite the HostingEnvironmentConfig one below */
        fake_server_start(
                &s, "{\"routes\": ["
                    "{\"path\": \"/\", \"query\": \"comp=versions\", \"responses\": [{\"status\": 503},"
                    " {\"body_file\": \"@DATA@/wire/versions.xml\"}]},"
                    "{\"path\": \"/machine/\", \"query\": \"comp=goalstate\", \"responses\": ["
                    " {\"status\": 500}, {\"body_file\": \"@DATA@/wire/goal-state-no-role-instance.xml\"},"
                    " {\"body_file\": \"@DATA@/wire/goal-state-no-role-instance.xml\"},"
                    " {\"body_file\": \"@DATA@/wire/goal-state.xml\"}]},"
                    "{\"path\": \"/hosting\", \"responses\": [{\"body_file\": "
                    "\"@DATA@/wire/hosting-environment.xml\"}]}]}");
        wire_test_options(&s, &o);

        assert_int_equal(wire_check_version(&o, &v), 0);
        assert_string_equal(v.preferred, "2015-04-05");
        wire_versions_done(&v);

        t0 = now_mono();
        assert_int_equal(wire_fetch_goal_state(&o, &g), 0);
        /* two RoleInstance-less answers → two 0.5 s pauses (protocol §1.4) */
        assert_true(now_mono() - t0 >= 1 * USEC_PER_SEC);
        assert_string_equal(g.container_id, "4d0f1c7e-2b8a-4c3d-9e6f-a1b2c3d4e5f6");
        assert_int_equal(fake_server_count(&s, "/machine/"), 4);

        log = fake_server_requests(&s);
        /* versions: no x-ms headers; goal state: agent name + protocol version */
        assert_null(req_header(req_at(log, 0), "x-ms-version"));
        assert_string_equal(req_header(req_at(log, 2), "x-ms-version"), "2012-11-30");
        assert_string_equal(req_header(req_at(log, 2), "x-ms-agent-name"), "azl-agent");
        assert_string_equal(req_header(req_at(log, 2), "connection"), "close");

        free(g.hosting_env_url);
        assert_true(asprintf(&g.hosting_env_url, "%s/hosting?comp=config&type=hostingEnvironmentConfig",
                             s.base) > 0);
        assert_int_equal(wire_fetch_hosting_env(&o, &g, &h), 0);
        assert_string_equal(h.vm_name, "azl-test-vm_IN_0");
        fake_server_stop(&s);
}

static void test_wire_version_unsupported(void **state) {
        FakeServer s;
        WireOptions o;
        GoalState g = {};

        fake_server_start(
                &s,
                "{\"routes\": [{\"path\": \"/\", \"query\": \"comp=versions\", \"responses\": [{\"body\":"
                " \"<Versions><Preferred><Version>2010-12-15</Version></Preferred></Versions>\"}]},"
                "{\"path\": \"/machine/\", \"responses\": [{\"body_file\": "
                "\"@DATA@/wire/goal-state-no-role-instance.xml\"}]}]}");
        wire_test_options(&s, &o);
        assert_int_equal(wire_check_version(&o, NULL), -EPROTONOSUPPORT);
        /* never a RoleInstance: 6 attempts, then -ENODATA */
        assert_int_equal(wire_fetch_goal_state(&o, &g), -ENODATA);
        assert_int_equal(fake_server_count(&s, "/machine/"), WIRE_GOAL_STATE_ATTEMPTS);
        fake_server_stop(&s);
}

static void test_health_send(void **state) {
        FakeServer s;
        WireOptions o;
        _cleanup_(goal_state_done) GoalState g = {};
        _cleanup_free_ char *gs = NULL, *expected = NULL;
        _cleanup_(json_object_putp) struct json_object *log = NULL;
        size_t size;

        fake_server_start(
                &s,
                "{\"routes\": [{\"path\": \"/machine\", \"query\": \"comp=health\", \"method\": \"POST\","
                " \"responses\": [{\"status\": 503}, {\"status\": 500}, {\"status\": 200},"
                " {\"status\": 410}, {\"status\": 400, \"body\": \"InvalidContainerConfiguration\"}, "
                "{\"status\": 400}]}]}");
        wire_test_options(&s, &o);
        gs = test_data_read("wire/goal-state.xml", &size);
        assert_int_equal(goal_state_parse(gs, size, &g), 0);

        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_NOT_READY, "Provisioning", "Starting",
                                            10 * USEC_PER_SEC),
                         0);
        assert_int_equal(fake_server_count(&s, "/machine"), 3);
        log = fake_server_requests(&s);
        assert_int_equal(health_report_build(g.incarnation, g.container_id, g.instance_id,
                                             HEALTH_STATE_NOT_READY, "Provisioning", "Starting", &expected),
                         0);
        assert_string_equal(req_field(req_at(log, 2), "body"), expected);
        assert_string_equal(req_header(req_at(log, 2), "content-type"), "text/xml;charset=utf-8");
        assert_string_equal(req_header(req_at(log, 2), "x-ms-version"), "2012-11-30");
        assert_string_equal(req_header(req_at(log, 2), "x-ms-agent-name"), "azl-agent");

        /* 410: the goal state changed; not retried */
        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_READY, NULL, NULL, 10 * USEC_PER_SEC),
                         -ESTALE);
        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_READY, NULL, NULL, 10 * USEC_PER_SEC),
                         -ESTALE);
        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_READY, NULL, NULL, 10 * USEC_PER_SEC),
                         -EINVAL);
        assert_int_equal(fake_server_count(&s, "/machine"), 6);
        fake_server_stop(&s);
}

static void test_hgap_versions(void **state) {
        FakeServer s;
        WireOptions o;
        _cleanup_(json_object_putp) struct json_object *log = NULL;

        fake_server_start(&s, "{\"routes\": [{\"path\": \"/versions\", \"responses\": [{\"body\": "
                              "\"[\\\"2015-09-01\\\"]\"},"
                              " {\"body\": \"[\\\"2012-01-01\\\"]\"}]}]}");
        wire_test_options(&s, &o);
        /* the WireServer endpoint names another port: the HostGAPlugin port must replace it */
        o.endpoint = "127.0.0.1:1";
        assert_int_equal(hgap_check_versions(&o, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2"), 1);
        assert_int_equal(hgap_check_versions(&o, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2"), 0);
        log = fake_server_requests(&s);
        assert_string_equal(req_header(req_at(log, 0), "x-ms-containerid"),
                            "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        fake_server_stop(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_http_basic),
                cmocka_unit_test(test_http_post_body),
                cmocka_unit_test(test_http_errors),
                cmocka_unit_test(test_http_async),
                cmocka_unit_test(test_http_body_fd),
                cmocka_unit_test(test_retry_body_fd),
                cmocka_unit_test(test_retry_then_success),
                cmocka_unit_test(test_retry_exhausted_and_final),
                cmocka_unit_test(test_retry_deadline),
                cmocka_unit_test(test_retry_failure_report),
                cmocka_unit_test(test_imds_fetch_no_proxy),
                cmocka_unit_test(test_imds_api_fallback),
                cmocka_unit_test(test_imds_retry_and_deadline),
                cmocka_unit_test(test_imds_limits_and_errors),
                cmocka_unit_test(test_imds_user_data_and_reprovision),
                cmocka_unit_test(test_wire_goal_state),
                cmocka_unit_test(test_wire_version_unsupported),
                cmocka_unit_test(test_health_send),
                cmocka_unit_test(test_hgap_versions),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
