/* SPDX-License-Identifier: MIT */
/*
 * The AzureClient object (azure-client.h): endpoints derived once from the WireServer address, one HttpClient
 * on the caller's sd-event loop (or a private one for the synchronous path), the goal state whose ids go into
 * HostGAPlugin requests, and the request helpers every module builds on: WireServer requests carry
 * x-ms-agent-name/x-ms-version and never use a proxy (protocol §1.2, §1.4); HostGAPlugin requests carry
 * x-ms-version 2015-09-01, x-ms-containerid and x-ms-host-config-name (protocol §2).
 */
#include <string.h>

#include "azure-client-internal.h"
#include "log.h"

/* "host[:port]" or "[v6]:port" → the host part. */
static int endpoint_host(const char *endpoint, char **ret) {
        size_t n;
        char *s;

        if (endpoint[0] == '[') {
                const char *end = strchr(endpoint, ']');

                if (!end)
                        return -EINVAL;
                n = (size_t) (end - endpoint + 1);
        } else
                n = strcspn(endpoint, ":");
        if (n == 0)
                return -EINVAL;
        s = strndup(endpoint, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int azure_client_new(sd_event *e, const WireOptions *o, AzureClient **ret) {
        _cleanup_azure_client_ AzureClient *c = NULL;
        _cleanup_free_ char *probe = NULL;
        int r;

        if (!o || !ret)
                return -EINVAL;
        r = wire_url(o->endpoint, "/", &probe); /* validates the endpoint */
        if (r < 0)
                return r;
        if (o->hgap_port == 0 || o->hgap_port > 65535)
                return -EINVAL;
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        c->root_fd = -EBADF;
        c->http_timeout = o->http_timeout;
        c->policy = o->policy;
        c->hgap_port = o->hgap_port;
        if (e)
                c->event = sd_event_ref(e);
        else {
                r = sd_event_new(&c->event);
                if (r < 0)
                        return r;
                c->private_event = true;
        }
        r = http_client_new(c->event, &c->http);
        if (r < 0)
                return r;
        c->endpoint = strdup(o->endpoint);
        if (!c->endpoint)
                return -ENOMEM;
        r = endpoint_host(c->endpoint, &c->wire_host);
        if (r < 0)
                return r;
        if (asprintf(&c->hgap_base, "http://%s:%u", c->wire_host, o->hgap_port) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

AzureClient *azure_client_free(AzureClient *c) {
        if (!c)
                return NULL;
        c->poller = wire_poller_free(c->poller);
        c->upload = status_upload_free(c->upload);
        package_fetches_free(c);
        wire_certificates_done(c);
        c->http = http_client_free(c->http);
        sd_event_unref(c->event);
        free(c->endpoint);
        free(c->wire_host);
        free(c->hgap_base);
        goal_state_done(&c->goal_state);
        free(c);
        return NULL;
}

sd_event *azure_client_get_event(AzureClient *c) {
        return c->event;
}

HttpClient *azure_client_get_http(AzureClient *c) {
        return c->http;
}

const char *azure_client_wire_endpoint(const AzureClient *c) {
        return c->endpoint;
}

const char *azure_client_wire_host(const AzureClient *c) {
        return c->wire_host;
}

const char *azure_client_hgap_base(const AzureClient *c) {
        return c->hgap_base;
}

void azure_client_set_storage(AzureClient *c, int root_fd, const char *lib_dir) {
        c->root_fd = root_fd;
        c->lib_dir = lib_dir;
}

void azure_client_set_secrets_dir(AzureClient *c, const char *secrets_dir) {
        c->secrets_dir = secrets_dir;
}

int azure_client_run(AzureClient *c, const bool *done) {
        int r;

        while (!*done) {
                r = sd_event_run(c->event, UINT64_MAX);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- requests ---- */

int wire_response_errno(int error, const HttpResponse *response) {
        if (error < 0)
                return error;
        if (!response)
                return -EIO;
        if (http_status_ok(response->status))
                return 0;
        return wire_status_to_errno(response);
}

bool wire_status_is_throttle(long status) {
        RetryPolicy p;

        wire_retry_policy(0, &p);
        return retry_policy_status_in(p.throttle_status, status);
}

void wire_single_attempt_policy(RetryPolicy *ret) {
        *ret = (RetryPolicy){
                .max_attempts = 1,
        };
}

int wire_request_start(AzureClient *c, HttpMethod method, const char *url, char *const *extra,
                       const void *body, size_t body_size, size_t max_response, const RetryPolicy *p,
                       HttpRetryCallback cb, void *userdata, HttpRetry **ret) {
        _cleanup_strv_free_ char **headers = NULL;
        int r;

        r = wire_request_headers(extra, &headers);
        if (r < 0)
                return r;
        HttpRequest req = {
                .method = method,
                .url = url,
                .headers = headers,
                .body = body,
                .body_size = body_size,
                .timeout = c->http_timeout,
                .max_response = max_response ?: WIRE_RESPONSE_MAX,
                .use_proxy = false, /* never for the WireServer, protocol §1.2 */
        };
        return http_retry_start(c->http, &req, p ?: &c->policy, cb, userdata, ret);
}

int hgap_headers(AzureClient *c, char *const *extra, size_t n_extra, char ***ret) {
        _cleanup_strv_free_ char **h = NULL;
        int r;

        if (!c->have_goal_state || !c->goal_state.container_id)
                return -ESTALE;
        r = hgap_request_headers(c->goal_state.container_id, c->goal_state.config_name, &h);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_extra; i++)
                if (extra[i] && strv_extend(&h, extra[i]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

int hgap_request_start(AzureClient *c, HttpMethod method, const char *path, char *const *extra,
                       size_t n_extra, const void *body, size_t body_size, size_t max_response,
                       const RetryPolicy *p, HttpRetryCallback cb, void *userdata, HttpRetry **ret) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL;
        int r;

        r = hgap_headers(c, extra, n_extra, &headers);
        if (r < 0)
                return r;
        if (asprintf(&url, "%s%s", c->hgap_base, path) < 0)
                return -ENOMEM;
        HttpRequest req = {
                .method = method,
                .url = url,
                .headers = headers,
                .body = body,
                .body_size = body_size,
                .timeout = c->http_timeout,
                .max_response = max_response,
                .use_proxy = false,
        };
        return http_retry_start(c->http, &req, p ?: &c->policy, cb, userdata, ret);
}
