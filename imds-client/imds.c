/* SPDX-License-Identifier: MIT */
/*
 * IMDS requests: URL and header construction, the retry policy, api-version fallback, the synchronous
 * fetch helpers used by the oneshot provisioning verb, and the instance fetch on an event loop for the daemon
 * (imds_fetch_instance_start()); imds_fetch_instance_raw() runs that same fetch on a private loop, so the
 * api-version fallback exists once.
 */
#include <string.h>

#include "imds.h"
#include "log.h"

/* cloud-init falls back from its preferred version to 2019-06-01 on HTTP 400 (protocol §6.3);
 * 2021-08-01 is the version cloud-init prefers, so it is tried in between. */
static const char *const imds_fallback_versions[] = {"2021-08-01", "2019-06-01"};

/* "extended=true" (ppsType) exists from api-version 2021-03-01 (IMDS docs, "extended" section). */
#define IMDS_EXTENDED_MIN_VERSION "2021-03-01"

void imds_retry_policy(usec_t deadline, RetryPolicy *ret) {
        *ret = (RetryPolicy){
                .deadline = deadline,
                .backoff = RETRY_BACKOFF_EXPONENTIAL,
                .base = 1 * USEC_PER_SEC,
                .cap = 10 * USEC_PER_SEC,
                .jitter_percent = 20,
                /* azure-init RETRY_CODES minus 400 (ours means "api-version unknown": fall back instead),
                 * cloud-init retries 404/410/429/500 (protocol §6.3) */
                .retry_status = {404, 410, 429, 500, 503},
                .retry_transport_errors = true,
        };
}

void imds_options_from_config(const Config *c, ImdsOptions *ret) {
        *ret = (ImdsOptions){
                .url = c->imds_url,
                .api_version = c->imds_api_version,
                .http_timeout = c->http_timeout,
        };
        imds_retry_policy(c->imds_deadline, &ret->policy);
}

static int imds_url(const char *base, const char *path, char **ret) {
        size_t n;
        char *u;

        if (isempty(base) || strlen(base) > HTTP_URL_MAX / 2)
                return -EINVAL;
        n = strlen(base);
        while (n > 0 && base[n - 1] == '/')
                n--;
        if (asprintf(&u, "%.*s%s", (int) n, base, path) < 0)
                return -ENOMEM;
        *ret = u;
        return 0;
}

int imds_instance_url(const char *base, const char *api_version, char **ret) {
        _cleanup_free_ char *path = NULL;

        if (isempty(api_version) || strpbrk(api_version, "&?#/ "))
                return -EINVAL;
        if (asprintf(&path, "/metadata/instance?api-version=%s%s", api_version,
                     strcmp(api_version, IMDS_EXTENDED_MIN_VERSION) >= 0 ? "&extended=true" : "") < 0)
                return -ENOMEM;
        return imds_url(base, path, ret);
}

int imds_request_headers(char ***ret) {
        _cleanup_strv_free_ char **h = NULL;
        char id[37], *line;
        int r;

        r = uuid_random(id);
        if (r < 0)
                return r;
        if (asprintf(&line, "x-ms-client-request-id: %s", id) < 0)
                return -ENOMEM;
        if (strv_extend(&h, "Metadata: true") < 0 || strv_push(&h, line) < 0) {
                free(line);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

/* Remaining budget of an absolute deadline (CLOCK_MONOTONIC); 0 when it passed. */
static usec_t remaining(usec_t deadline_at) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        return now >= deadline_at ? 0 : deadline_at - now;
}

/* A GET of url with the IMDS headers and policy; the policy's deadline is replaced by what is left of
 * deadline_at. The request points to url and *ret_headers. */
static int imds_get_prepare(const ImdsOptions *o, const char *url, usec_t deadline_at,
                            RetryValidate validate, HttpRequest *ret_req, RetryPolicy *ret_policy,
                            char ***ret_headers) {
        RetryPolicy p = o->policy;
        int r;

        if (deadline_at != USEC_INFINITY) {
                p.deadline = remaining(deadline_at);
                if (p.deadline == 0)
                        return -ETIMEDOUT;
        }
        if (validate) {
                p.validate = validate;
                p.validate_delay = p.base;
                p.validate_max_attempts = 3;
        }
        r = imds_request_headers(ret_headers);
        if (r < 0)
                return r;
        *ret_req = (HttpRequest){
                .method = HTTP_METHOD_GET,
                .url = url,
                .headers = *ret_headers,
                .timeout = o->http_timeout,
                .max_response = IMDS_RESPONSE_MAX,
                .use_proxy = false, /* IMDS is link-local; a proxy would answer for it */
        };
        *ret_policy = p;
        return 0;
}

/* One GET (see imds_get_prepare()). Returns the final response (any status). */
static int imds_get(const ImdsOptions *o, const char *url, usec_t deadline_at, RetryValidate validate,
                    HttpResponse **ret) {
        _cleanup_strv_free_ char **headers = NULL;
        HttpRequest req;
        RetryPolicy p;
        int r;

        r = imds_get_prepare(o, url, deadline_at, validate, &req, &p, &headers);
        if (r < 0)
                return r;
        return http_request_retry_sync(&req, &p, ret, NULL);
}

static usec_t deadline_from(const ImdsOptions *o) {
        return o->policy.deadline > 0 ? now_usec(CLOCK_MONOTONIC) + o->policy.deadline : USEC_INFINITY;
}

/* Called on 2xx answers: a body that is not JSON is re-queried (azure-init does the same). */
static int validate_json(const HttpResponse *response, void *userdata) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;

        return json_parse_buffer(response->body, response->body_size, &o, NULL) < 0 ? 1 : 0;
}

#define INSTANCE_VERSIONS_MAX (1 + ELEMENTSOF(imds_fallback_versions))

/* The api-versions to ask in turn: the preferred one, then each older fallback. Returns how many. */
static size_t instance_versions(const char *preferred, const char *versions[static INSTANCE_VERSIONS_MAX]) {
        size_t n = 0;

        versions[n++] = preferred;
        for (size_t i = 0; i < ELEMENTSOF(imds_fallback_versions); i++)
                if (strcmp(imds_fallback_versions[i], preferred) < 0)
                        versions[n++] = imds_fallback_versions[i];
        return n;
}

int imds_fetch_instance(const ImdsOptions *o, ImdsInstance *ret, JsonError *err) {
        _cleanup_free_ char *body = NULL;
        size_t size = 0;
        int r;

        r = imds_fetch_instance_raw(o, &body, &size, NULL);
        if (r < 0)
                return r;
        return imds_parse_instance(body, size, ret, err);
}

static int imds_fetch_simple(const ImdsOptions *o, const char *path, HttpResponse **ret) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        int r;

        if (!o)
                return -EINVAL;
        r = imds_url(o->url, path, &url);
        if (r < 0)
                return r;
        r = imds_get(o, url, deadline_from(o), NULL, &resp);
        if (r < 0)
                return r;
        if (!http_status_ok(resp->status))
                return http_status_to_errno(resp->status);
        *ret = TAKE_PTR(resp);
        return 0;
}

int imds_fetch_user_data(const ImdsOptions *o, void **ret, size_t *ret_size) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ void *data = NULL;
        size_t size = 0;
        int r;

        r = imds_fetch_simple(o,
                              "/metadata/instance/compute/userData?api-version=" IMDS_USER_DATA_API_VERSION
                              "&format=text",
                              &resp);
        if (r < 0)
                return r;
        if (isempty(strstrip(resp->body)))
                return -ENODATA;
        r = base64_decode(resp->body, strlen(resp->body), &data, &size);
        if (r < 0)
                return -EBADMSG;
        if (size > IMDS_USER_DATA_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(data);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int imds_fetch_reprovision_data(const ImdsOptions *o, char **ret, size_t *ret_size) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        int r;

        r = imds_fetch_simple(o, "/metadata/reprovisiondata?api-version=" IMDS_REPROVISION_API_VERSION,
                              &resp);
        if (r < 0)
                return r;
        if (resp->body_size == 0)
                return -ENODATA;
        if (ret_size)
                *ret_size = resp->body_size;
        *ret = TAKE_PTR(resp->body);
        return 0;
}

int imds_fetch_attested(const ImdsOptions *o, const char *nonce, char **ret_body, size_t *ret_size) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *path = NULL;
        size_t n = nonce ? strlen(nonce) : 0;
        int r;

        if (n == 0 || n > IMDS_ATTESTED_NONCE_MAX || strspn(nonce, "0123456789") != n || !ret_body)
                return -EINVAL;
        if (asprintf(&path, "/metadata/attested/document?api-version=" IMDS_ATTESTED_API_VERSION "&nonce=%s",
                     nonce) < 0)
                return -ENOMEM;
        r = imds_fetch_simple(o, path, &resp);
        if (r < 0)
                return r;
        if (ret_size)
                *ret_size = resp->body_size;
        *ret_body = TAKE_PTR(resp->body);
        return 0;
}

/* ---- the instance document on an event loop (the daemon) ---- */

struct ImdsFetch {
        HttpClient *client;  /* borrowed: outlives the fetch */
        HttpRetry *retry;    /* the GET in flight */
        ImdsOptions options; /* url and api_version point to the copies below */
        char *url, *api_version;
        const char *versions[INSTANCE_VERSIONS_MAX];
        size_t n_versions, i;
        usec_t deadline_at;
        ImdsFetchCallback callback;
        void *userdata;
};

static void imds_fetch_free(ImdsFetch *f) {
        if (!f)
                return;
        http_retry_cancel(f->retry);
        free(f->url);
        free(f->api_version);
        free(f);
}

ImdsFetch *imds_fetch_cancel(ImdsFetch *f) {
        imds_fetch_free(f);
        return NULL;
}

static int imds_fetch_next(ImdsFetch *f);

/* Called by the retry engine with the final answer for one api-version. */
static void on_instance(HttpRetry *retry, int error, HttpResponse *response, void *userdata) {
        _cleanup_http_response_ HttpResponse *resp = response;
        ImdsFetch *f = userdata;

        f->retry = NULL;
        if (error >= 0 && resp->status == 400 && f->i + 1 < f->n_versions) {
                /* 400: this IMDS does not know the api-version; try an older one (as the sync path does). */
                f->i++;
                error = imds_fetch_next(f);
                if (error >= 0)
                        return;
        } else if (error >= 0 && !http_status_ok(resp->status))
                error = http_status_to_errno(resp->status);
        if (error < 0)
                f->callback(f, error, NULL, 0, f->userdata);
        else {
                size_t size = resp->body_size;

                f->callback(f, 0, TAKE_PTR(resp->body), size, f->userdata);
        }
        imds_fetch_free(f);
}

static int imds_fetch_next(ImdsFetch *f) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL;
        HttpRequest req;
        RetryPolicy p;
        int r;

        r = imds_instance_url(f->options.url, f->versions[f->i], &url);
        if (r < 0)
                return r;
        r = imds_get_prepare(&f->options, url, f->deadline_at, validate_json, &req, &p, &headers);
        if (r < 0)
                return r;
        return http_retry_start(f->client, &req, &p, on_instance, f, &f->retry);
}

int imds_fetch_instance_start(HttpClient *client, const ImdsOptions *o, ImdsFetchCallback cb, void *userdata,
                              ImdsFetch **ret) {
        ImdsFetch *f;
        int r;

        if (!client || !o || isempty(o->url) || isempty(o->api_version) || !cb || !ret)
                return -EINVAL;
        f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->client = client;
        f->options = *o;
        f->url = strdup(o->url);
        f->api_version = strdup(o->api_version);
        if (!f->url || !f->api_version) {
                imds_fetch_free(f);
                return -ENOMEM;
        }
        f->options.url = f->url;
        f->options.api_version = f->api_version;
        f->n_versions = instance_versions(f->api_version, f->versions);
        f->deadline_at = deadline_from(o);
        f->callback = cb;
        f->userdata = userdata;
        r = imds_fetch_next(f);
        if (r < 0) {
                imds_fetch_free(f);
                return r;
        }
        *ret = f;
        return 0;
}

/* ---- the same fetch, synchronously (the oneshot provisioning) ---- */

typedef struct ImdsSync {
        bool done;
        int error;
        char *body;
        size_t size;
        char *api_version;
} ImdsSync;

static void on_instance_sync(ImdsFetch *f, int error, char *body, size_t size, void *userdata) {
        ImdsSync *s = userdata;

        s->done = true;
        s->error = error;
        s->body = body;
        s->size = size;
        if (error >= 0 && !(s->api_version = strdup(f->versions[f->i])))
                s->error = -ENOMEM;
}

int imds_fetch_instance_raw(const ImdsOptions *o, char **ret_body, size_t *ret_size,
                            char **ret_api_version) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_http_client_ HttpClient *c = NULL;
        _cleanup_free_ char *body = NULL, *version = NULL;
        ImdsFetch *f = NULL;
        ImdsSync s = {};
        int r;

        if (!o || isempty(o->api_version) || !ret_body)
                return -EINVAL;
        /* imds_fetch_instance_start() on a private event loop: one request, policy and api-version fallback. */
        r = sd_event_new(&e);
        if (r < 0)
                return r;
        r = http_client_new(e, &c);
        if (r < 0)
                return r;
        r = imds_fetch_instance_start(c, o, on_instance_sync, &s, &f);
        if (r < 0)
                return r;
        while (!s.done) {
                r = sd_event_run(e, UINT64_MAX);
                if (r < 0) {
                        imds_fetch_cancel(f);
                        return r;
                }
        }
        body = s.body;
        version = s.api_version;
        if (s.error < 0)
                return s.error;
        if (ret_api_version)
                *ret_api_version = TAKE_PTR(version);
        if (ret_size)
                *ret_size = s.size;
        *ret_body = TAKE_PTR(body);
        return 0;
}
