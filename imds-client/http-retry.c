/* SPDX-License-Identifier: MIT */
/*
 * The retry state machine behind http-retry.h: attempt → (response | error) → classify → either deliver or
 * arm a one-shot sd-event timer for the next attempt. All times are CLOCK_MONOTONIC.
 */
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "http-retry.h"
#include "log.h"

struct HttpRetry {
        HttpClient *client;
        char *url;
        char **headers;
        void *body;
        HttpRequest req;
        RetryPolicy policy;
        HttpRetryCallback callback;
        void *userdata;

        usec_t deadline_at;
        unsigned attempts;
        unsigned validate_rejections;
        bool throttled;
        HttpCall *call;
        sd_event_source *timer;
};

bool retry_policy_status_in(const int *set, long status) {
        for (size_t i = 0; i < RETRY_STATUS_MAX && set[i] != 0; i++)
                if (set[i] == status)
                        return true;
        return false;
}

bool retry_error_is_transient(int error) {
        static const int transient[] = {-ETIMEDOUT,    -ECONNREFUSED, -ECONNRESET, -EPIPE,
                                        -EHOSTUNREACH, -ENETUNREACH,  -EPROTO,     -EIO};

        for (size_t i = 0; i < ELEMENTSOF(transient); i++)
                if (error == transient[i])
                        return true;
        return false;
}

usec_t retry_policy_delay(const RetryPolicy *p, unsigned attempt, uint64_t random) {
        unsigned n = attempt > 1 ? attempt - 1 : 1; /* failures so far */
        usec_t d = p->base, limit = p->cap ?: USEC_INFINITY;

        switch (p->backoff) {
        case RETRY_BACKOFF_EXPONENTIAL:
                for (unsigned i = 1; i < n && d < limit; i++)
                        d = d > limit / 2 ? limit : d * 2;
                break;
        case RETRY_BACKOFF_FIBONACCI: {
                /* waagent restutil: delay = retry_delay × fib, fib = 2, 3, 5, 8, 13, … (protocol §1.2) */
                usec_t a = 1, b = 2;

                for (unsigned i = 1; i < n && b < USEC_INFINITY / 2; i++) {
                        usec_t t = a + b;

                        a = b;
                        b = t;
                }
                d = p->base != 0 && b > limit / p->base ? limit : p->base * b;
                break;
        }
        case _RETRY_BACKOFF_MAX:
        case _RETRY_BACKOFF_INVALID:
                break;
        }
        d = MIN(d, limit);
        if (p->jitter_percent > 0 && d > 0) {
                usec_t span = d / 100 * MIN(p->jitter_percent, 100U);

                if (span > 0)
                        d = d - span + random % (2 * span + 1);
        }
        return d;
}

static uint64_t random_u64(void) {
        uint64_t v = 0;

        if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
                v = (uint64_t) now_usec(CLOCK_MONOTONIC); /* jitter only: any value will do */
        return v;
}

static HttpRetry *retry_free(HttpRetry *r) {
        if (!r)
                return NULL;
        http_call_cancel(r->call);
        sd_event_source_disable_unref(r->timer);
        free(r->url);
        strv_free(r->headers);
        free(r->body);
        free(r);
        return NULL;
}

HttpRetry *http_retry_cancel(HttpRetry *r) {
        return retry_free(r);
}

unsigned http_retry_attempts(const HttpRetry *r) {
        return r ? r->attempts : 0;
}

static void retry_finish(HttpRetry *r, int error, HttpResponse *response) {
        if (r->callback)
                r->callback(r, error, response, r->userdata);
        else
                http_response_free(response);
        retry_free(r);
}

static int retry_attempt(HttpRetry *r);

/* Called when the backoff timer expires: start the next attempt. */
static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        HttpRetry *r = userdata;
        int k;

        k = retry_attempt(r);
        if (k < 0)
                retry_finish(r, k, NULL);
        return 0;
}

static bool retry_exhausted(const HttpRetry *r) {
        unsigned max = r->policy.max_attempts;

        if (max == 0)
                return false;
        if (r->throttled)
                max = MAX(max, r->policy.throttle_min_attempts);
        return r->attempts >= max;
}

/* Schedules the next attempt after delay, or delivers the last outcome when no attempt is left. */
static void retry_schedule(HttpRetry *r, usec_t delay, int error, HttpResponse *response) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int k;

        if (retry_exhausted(r))
                return retry_finish(r, error, response);
        if (r->deadline_at != USEC_INFINITY && (now >= r->deadline_at || delay >= r->deadline_at - now)) {
                http_response_free(response);
                return retry_finish(r, -ETIMEDOUT, NULL);
        }
        http_response_free(response);
        if (r->timer) {
                k = sd_event_source_set_time_relative(r->timer, MAX(delay, (usec_t) 1));
                if (k >= 0)
                        k = sd_event_source_set_enabled(r->timer, SD_EVENT_ONESHOT);
        } else
                k = sd_event_add_time_relative(http_client_get_event(r->client), &r->timer, CLOCK_MONOTONIC,
                                               MAX(delay, (usec_t) 1), USEC_PER_MSEC, on_retry_timer, r);
        if (k < 0)
                retry_finish(r, k, NULL);
}

const char *http_failure_describe(const HttpFailure *f, char *buf, size_t size) {
        char what[HTTP_FAILURE_STRING_MAX];

        if (!f || f->attempts == 0 || (f->error == 0 && http_status_ok(f->status)))
                return NULL;
        (void) snprintf(buf, size, "%s after %u attempt%s",
                        http_failure_string(f->error, f->status, what, sizeof what), f->attempts,
                        f->attempts == 1 ? "" : "s");
        return buf;
}

static void retry_note_failure(HttpRetry *r, int error, long status) {
        if (r->policy.failure)
                *r->policy.failure =
                        (HttpFailure){.attempts = r->attempts, .error = error, .status = status};
}

/* Called when one attempt finished: classify and deliver or retry. */
static void on_attempt_done(HttpCall *call, int error, HttpResponse *response, void *userdata) {
        HttpRetry *r = userdata;
        const RetryPolicy *p = &r->policy;
        usec_t backoff = retry_policy_delay(p, r->attempts + 1, random_u64());
        int v;

        r->call = NULL;
        retry_note_failure(r, error, error < 0 ? 0 : response->status);
        if (error < 0) {
                if (p->retry_transport_errors && retry_error_is_transient(error))
                        return retry_schedule(r, backoff, error, NULL);
                return retry_finish(r, error, NULL);
        }
        if (retry_policy_status_in(p->throttle_status, response->status)) {
                r->throttled = true;
                return retry_schedule(r, p->throttle_delay, 0, response);
        }
        if (retry_policy_status_in(p->retry_status, response->status))
                return retry_schedule(r, backoff, 0, response);
        if (http_status_ok(response->status) && p->validate) {
                v = p->validate(response, p->validate_userdata);
                if (v != 0)
                        retry_note_failure(r, v < 0 ? v : -EBADMSG, 0);
                if (v < 0) {
                        http_response_free(response);
                        return retry_finish(r, v, NULL);
                }
                if (v > 0 && ++r->validate_rejections < p->validate_max_attempts)
                        return retry_schedule(r, p->validate_delay, 0, response);
        }
        retry_finish(r, 0, response);
}

static int retry_attempt(HttpRetry *r) {
        usec_t now = now_usec(CLOCK_MONOTONIC), timeout = r->req.timeout ?: HTTP_TIMEOUT_DEFAULT;
        HttpRequest req = r->req;

        if (r->deadline_at != USEC_INFINITY) {
                if (now >= r->deadline_at)
                        return -ETIMEDOUT;
                timeout = MIN(timeout, r->deadline_at - now);
        }
        req.timeout = timeout;
        r->attempts++;
        return http_client_start(r->client, &req, on_attempt_done, r, &r->call);
}

int http_retry_start(HttpClient *c, const HttpRequest *req, const RetryPolicy *p, HttpRetryCallback cb,
                     void *userdata, HttpRetry **ret) {
        HttpRetry *r;
        int k;

        if (!c || !req || !req->url || !p || !cb)
                return -EINVAL;
        if (p->max_attempts == 0 && p->deadline == 0)
                return -EINVAL; /* unbounded */
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->client = c;
        r->policy = *p;
        r->callback = cb;
        r->userdata = userdata;
        r->req = *req;
        r->url = strdup(req->url);
        if (!r->url)
                goto oom;
        r->req.url = r->url;
        for (char *const *h = req->headers; h && *h; h++)
                if (strv_extend(&r->headers, *h) < 0)
                        goto oom;
        r->req.headers = r->headers;
        if (req->body && req->body_size > 0) {
                r->body = malloc(req->body_size);
                if (!r->body)
                        goto oom;
                memcpy(r->body, req->body, req->body_size);
                r->req.body = r->body;
        }
        r->deadline_at = p->deadline > 0 ? now_usec(CLOCK_MONOTONIC) + p->deadline : USEC_INFINITY;
        if (p->failure)
                *p->failure = (HttpFailure){};
        k = retry_attempt(r);
        if (k < 0) {
                retry_free(r);
                return k;
        }
        if (ret)
                *ret = r;
        return 0;
oom:
        retry_free(r);
        return -ENOMEM;
}

typedef struct RetrySync {
        sd_event *event;
        bool done;
        int error;
        unsigned attempts;
        HttpResponse *response;
} RetrySync;

/* Called with the final outcome of http_request_retry_sync(). */
static void retry_sync_done(HttpRetry *retry, int error, HttpResponse *response, void *userdata) {
        RetrySync *s = userdata;

        s->done = true;
        s->error = error;
        s->response = response;
        s->attempts = retry->attempts;
        (void) sd_event_exit(s->event, 0);
}

int http_request_retry_sync(const HttpRequest *req, const RetryPolicy *p, HttpResponse **ret,
                            unsigned *ret_attempts) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_http_client_ HttpClient *c = NULL;
        RetrySync s = {};
        int k;

        k = sd_event_new(&e);
        if (k < 0)
                return k;
        k = http_client_new(e, &c);
        if (k < 0)
                return k;
        s.event = e;
        k = http_retry_start(c, req, p, retry_sync_done, &s, NULL);
        if (k < 0)
                return k;
        k = sd_event_loop(e);
        if (k < 0)
                return k;
        if (!s.done)
                return -EIO;
        if (s.error < 0)
                return s.error;
        if (ret_attempts)
                *ret_attempts = s.attempts;
        *ret = s.response;
        return 0;
}
