/* SPDX-License-Identifier: MIT */
/*
 * Retry engine for HTTP requests, driven by sd-event timers (no sleeping): one HttpRetry repeats a request
 * according to a RetryPolicy until it gets a final answer, the attempts run out, or the deadline passes.
 *
 *  - retryable statuses and transport errors are retried after a backoff: capped exponential with ±jitter
 *    (IMDS; cloud-init/azure-init retry IMDS for 300 s) or Fibonacci multiples of the base delay
 *    (WireServer: waagent's restutil sleeps retry_delay × 2, 3, 5, 8, 13 … between its attempts, protocol §1.2);
 *  - throttle statuses (WireServer 403/429/503, protocol §1.2) are retried after a fixed throttle_delay and get at
 *    least throttle_min_attempts attempts (waagent THROTTLE_RETRIES = 25);
 *  - any other status is final and delivered to the caller, who interprets it (e.g. 410 → refresh goal state,
 *    400 from IMDS → try an older api-version);
 *  - an optional validate() hook inspects a 2xx response and may ask for a fixed-delay retry (-EAGAIN), e.g. a
 *    goal state without RoleInstance (waagent: up to 6 GETs 0.5 s apart, protocol §1.4).
 *
 * The deadline is absolute from the start; each attempt's timeout is clipped to what is left, and no retry is
 * scheduled that could not start before the deadline, so a call never outlives it (-ETIMEDOUT).
 */
#pragma once

#include "http.h"

#define RETRY_STATUS_MAX 16

typedef enum RetryBackoff {
        RETRY_BACKOFF_EXPONENTIAL, /* base × 2^(n-1), capped, ± jitter */
        RETRY_BACKOFF_FIBONACCI,   /* base × 2, 3, 5, 8, 13 … (waagent restutil), capped, ± jitter */
        _RETRY_BACKOFF_MAX,
        _RETRY_BACKOFF_INVALID = -EINVAL,
} RetryBackoff;

/* The outcome of the last attempt of a retry loop, so that a failure reason can say what went wrong ("HTTP 500
 * after 3 attempts") although the call itself returns -ETIMEDOUT when the deadline ended it. */
typedef struct HttpFailure {
        unsigned attempts; /* attempts made */
        int error;         /* transport error of the last attempt (< 0; -EBADMSG: rejected by validate()),
                                 * or 0 */
        long status;       /* its HTTP status when error is 0 (2xx: the last attempt did not fail) */
} HttpFailure;

/* "HTTP 500 after 3 attempts", "timed out after 2 attempts", …; NULL when the last attempt did not fail (the
 * caller's error then comes from elsewhere, e.g. parsing the answer). */
const char *http_failure_describe(const HttpFailure *f, char *buf, size_t size);

/* Inspects a 2xx response: 0 accepts it, -EAGAIN asks for a retry after validate_delay, other <0 is final. */
typedef int (*RetryValidate)(const HttpResponse *response, void *userdata);

typedef struct RetryPolicy {
        usec_t deadline;       /* overall budget from the first attempt; 0 = none */
        unsigned max_attempts; /* 0 = unlimited (then a deadline is required) */
        RetryBackoff backoff;
        usec_t base;
        usec_t cap;                            /* 0 = no cap */
        unsigned jitter_percent;               /* each delay is scaled by a random factor in ±jitter % */
        int retry_status[RETRY_STATUS_MAX];    /* 0-terminated */
        int throttle_status[RETRY_STATUS_MAX]; /* 0-terminated; fixed throttle_delay */
        usec_t throttle_delay;
        unsigned throttle_min_attempts; /* throttling raises max_attempts to at least this */
        bool retry_transport_errors;    /* refused/reset/timeout/unreachable */
        RetryValidate validate;
        void *validate_userdata;
        usec_t validate_delay;
        unsigned validate_max_attempts; /* attempts rejected by validate() before its error is final */
        HttpFailure *failure;           /* optional: zeroed at the start, updated after every attempt
                                                 * (copies of the policy share it) */
} RetryPolicy;

typedef struct HttpRetry HttpRetry;

/*
 * Final outcome. error < 0: transport error of the last attempt, -ETIMEDOUT when the deadline passed, or the
 * validate() error; response is NULL. Otherwise the callback owns response, whose status may be any final
 * status or, when the attempts ran out, the last retryable one. The HttpRetry is freed after the callback.
 */
typedef void (*HttpRetryCallback)(HttpRetry *retry, int error, HttpResponse *response, void *userdata);

bool retry_policy_status_in(const int *set, long status);
bool retry_error_is_transient(int error);

/* Delay before attempt number `attempt` (2 = the first retry); pure: random is the jitter source (any
 * uint64_t; ignored when jitter_percent is 0). */
usec_t retry_policy_delay(const RetryPolicy *p, unsigned attempt, uint64_t random);

/* Deep-copies req (url, headers, body) so the caller's buffers may go away; a body_fd is borrowed (keep it open
 * until the callback) and truncated before every attempt. */
int http_retry_start(HttpClient *c, const HttpRequest *req, const RetryPolicy *p, HttpRetryCallback cb,
                     void *userdata, HttpRetry **ret);
HttpRetry *http_retry_cancel(HttpRetry *r); /* callback not called; returns NULL */
unsigned http_retry_attempts(const HttpRetry *r);

/* Runs the retry loop on a private event loop. ret_attempts (optional) gets the number of attempts made. */
int http_request_retry_sync(const HttpRequest *req, const RetryPolicy *p, HttpResponse **ret,
                            unsigned *ret_attempts);
