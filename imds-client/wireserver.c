/* SPDX-License-Identifier: MIT */
/*
 * WireServer requests and endpoint discovery: lease-file scanning under the root fd, the version check, the
 * goal state (with waagent's "RoleInstance missing → refetch up to 6 times, 0.5 s apart" rule expressed as a
 * validate() hook of the retry engine, so no sleeping), HostingEnvironmentConfig, and HostGAPlugin /versions.
 *
 * The requests are the Azure client's (azure-client.h). The synchronous functions the oneshot provisioning
 * calls start the same request on a client with a private event loop and run that loop until it is answered
 * (sync_run()), so both verbs share URLs, headers, the retry policy and the parsers.
 */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <time.h>

#include "azure-client-internal.h"
#include "fileio.h"
#include "log.h"
#include "wireserver.h"

/* ---- endpoint discovery (protocol §1.1) ---- */

typedef struct LeaseDir {
        const char *dir;
        const char *pattern;
        WireEndpointSource source;
} LeaseDir;

/* networkd's runtime leases describe the current boot, so they are looked at first. */
static const LeaseDir lease_dirs[] = {
        {"/run/systemd/netif/leases", "*", WIRE_ENDPOINT_NETWORKD_LEASE},
        {"/var/lib/dhcp", "dhclient*.leases", WIRE_ENDPOINT_DHCLIENT_LEASE},
        {"/var/lib/dhclient", "*.lease*", WIRE_ENDPOINT_DHCLIENT_LEASE},
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Regular files in dir (under root_fd) matching pattern, sorted; an absent directory is an empty list. */
static int list_lease_files(int root_fd, const char *dir, const char *pattern, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        size_t n = 0;

        fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd == -ENOENT || fd == -ENOTDIR) {
                *ret = NULL;
                return 0;
        }
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        TAKE_FD(fd);
        for (struct dirent *de; (de = readdir(d));) {
                if (de->d_name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
                        continue;
                if (fnmatch(pattern, de->d_name, 0) != 0)
                        continue;
                if (++n > WIRE_LEASE_FILES_MAX)
                        break;
                if (strv_extend(&names, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        if (names)
                qsort(names, strv_length(names), sizeof(char *), cmp_str);
        *ret = TAKE_PTR(names);
        return 0;
}

static int endpoint_from_dir(int root_fd, const LeaseDir *ld, usec_t now_realtime, char **ret) {
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *found = NULL;
        int r;

        r = list_lease_files(root_fd, ld->dir, ld->pattern, &names);
        if (r < 0)
                return r;
        /* Last valid lease wins across files too (waagent keeps overwriting its result). */
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *path = NULL, *buf = NULL, *ep = NULL;
                size_t size = 0;

                if (asprintf(&path, "%s/%s", ld->dir, *n) < 0)
                        return -ENOMEM;
                r = read_file_in_root(root_fd, path, WIRE_LEASE_FILE_MAX, &buf, &size);
                if (r < 0) {
                        log_debug_errno(r, "Failed to read lease file %s, ignoring: %m", path);
                        continue;
                }
                if (ld->source == WIRE_ENDPOINT_NETWORKD_LEASE)
                        r = wire_lease_parse_networkd(buf, size, &ep);
                else
                        r = wire_lease_parse_dhclient(buf, size, now_realtime, &ep);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                free(found);
                found = TAKE_PTR(ep);
        }
        if (!found)
                return -ENOENT;
        *ret = TAKE_PTR(found);
        return 0;
}

int wire_endpoint_from_leases(int root_fd, usec_t now_realtime, char **ret, WireEndpointSource *ret_source) {
        int r;

        for (size_t i = 0; i < ELEMENTSOF(lease_dirs); i++) {
                _cleanup_free_ char *ep = NULL;

                /* The two dhclient locations are one source: the later directory only counts when the
                 * earlier one had nothing (distributions use one or the other). */
                r = endpoint_from_dir(root_fd, &lease_dirs[i], now_realtime, &ep);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                if (ret_source)
                        *ret_source = lease_dirs[i].source;
                *ret = TAKE_PTR(ep);
                return 0;
        }
        return -ENOENT;
}

int wire_endpoint_discover(const Config *c, int root_fd, char **ret, WireEndpointSource *ret_source) {
        WireEndpointSource source = WIRE_ENDPOINT_DEFAULT;
        _cleanup_free_ char *ep = NULL;
        int r;

        if (c && !isempty(c->wireserver)) {
                ep = strdup(c->wireserver);
                source = WIRE_ENDPOINT_CONFIG;
        } else {
                r = wire_endpoint_from_leases(root_fd, now_usec(CLOCK_REALTIME), &ep, &source);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        log_debug_errno(r, "No WireServer address in DHCP leases, using %s: %m",
                                        WIRESERVER_DEFAULT_ENDPOINT);
                        ep = strdup(WIRESERVER_DEFAULT_ENDPOINT);
                        source = WIRE_ENDPOINT_DEFAULT;
                }
        }
        if (!ep)
                return -ENOMEM;
        if (ret_source)
                *ret_source = source;
        *ret = TAKE_PTR(ep);
        return 0;
}

/* ---- requests ---- */

void wire_retry_policy(usec_t deadline, RetryPolicy *ret) {
        *ret = (RetryPolicy){
                .deadline = deadline,
                .max_attempts = deadline > 0 ? 0 : 6, /* waagent DEFAULT_RETRIES */
                .backoff = RETRY_BACKOFF_FIBONACCI,   /* 2, 3, 5, 8, 13 s … */
                .base = 1 * USEC_PER_SEC,
                .cap = 60 * USEC_PER_SEC,
                .retry_status = {205, 206, 500, 501, 502, 504, 507},
                .throttle_status = {403, 429, 503},
                .throttle_delay = 1 * USEC_PER_SEC, /* THROTTLE_DELAY_IN_SECONDS */
                .throttle_min_attempts = 25,        /* THROTTLE_RETRIES */
                .retry_transport_errors = true,
        };
}

void wire_options_init(const Config *c, const char *endpoint, WireOptions *ret) {
        *ret = (WireOptions){
                .endpoint = endpoint,
                .hgap_port = c ? c->hostgaplugin_port : HGAP_DEFAULT_PORT,
                .http_timeout = c ? c->http_timeout : HTTP_TIMEOUT_DEFAULT,
        };
        wire_retry_policy(0, &ret->policy);
}

static bool endpoint_is_valid(const char *endpoint) {
        return !isempty(endpoint) && strlen(endpoint) <= 255 && !strpbrk(endpoint, "/?#@ \t\r\n");
}

int wire_url(const char *endpoint, const char *path, char **ret) {
        char *u;

        if (!endpoint_is_valid(endpoint) || !path || path[0] != '/')
                return -EINVAL;
        if (asprintf(&u, "http://%s%s", endpoint, path) < 0)
                return -ENOMEM;
        *ret = u;
        return 0;
}

int wire_request_headers(char *const *extra, char ***ret) {
        _cleanup_strv_free_ char **h = NULL;

        if (strv_extend(&h, "x-ms-agent-name: " WIRE_AGENT_NAME) < 0 ||
            strv_extend(&h, "x-ms-version: " WIRE_PROTOCOL_VERSION) < 0)
                return -ENOMEM;
        for (char *const *e = extra; e && *e; e++)
                if (strv_extend(&h, *e) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(h);
        return 0;
}

int wire_status_to_errno(const HttpResponse *resp) {
        /* protocol §1.2: 410 Gone and 400 "InvalidContainerConfiguration" both mean the goal state (container id)
         * changed: the caller refreshes it and tries again. */
        if (resp->status == 400 && strstr(resp->body, "InvalidContainerConfiguration"))
                return -ESTALE;
        return http_status_to_errno(resp->status);
}

/* ---- the same requests for the oneshot provisioning: on a private loop (azure-client.h) ---- */

typedef struct SyncCall {
        bool done;
        int error;
        HttpResponse *response;
} SyncCall;

static void sync_call_done(HttpRetry *retry, int error, HttpResponse *response, void *userdata) {
        SyncCall *s = userdata;

        s->done = true;
        s->error = error;
        s->response = response;
}

typedef int (*SyncStartFunc)(AzureClient *c, const WireOptions *o, const void *args, SyncCall *s);

/* Runs one request of the Azure client to completion on a private event loop; the final response (any
 * status) in *ret. */
static int sync_run(const WireOptions *o, SyncStartFunc start, const void *args, HttpResponse **ret) {
        _cleanup_azure_client_ AzureClient *c = NULL;
        SyncCall s = {};
        int r;

        if (!o)
                return -EINVAL;
        r = azure_client_new(NULL, o, &c);
        if (r < 0)
                return r;
        r = start(c, o, args, &s);
        if (r < 0)
                return r;
        r = azure_client_run(c, &s.done);
        if (r < 0) {
                http_response_free(s.response);
                return r;
        }
        if (s.error < 0)
                return s.error;
        *ret = s.response;
        return 0;
}

/* Runs it and keeps only a 2xx answer. */
static int sync_run_ok(const WireOptions *o, SyncStartFunc start, const void *args, HttpResponse **ret) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        int r;

        r = sync_run(o, start, args, &resp);
        if (r < 0)
                return r;
        r = wire_response_errno(0, resp);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(resp);
        return 0;
}

static int start_versions(AzureClient *c, const WireOptions *o, const void *args, SyncCall *s) {
        _cleanup_free_ char *url = NULL;
        int r;

        r = wire_url(o->endpoint, "/?comp=versions", &url);
        if (r < 0)
                return r;
        /* protocol §1.3: no x-ms headers on this request */
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .timeout = o->http_timeout,
                .max_response = WIRE_RESPONSE_MAX,
        };
        return http_retry_start(azure_client_get_http(c), &req, &o->policy, sync_call_done, s, NULL);
}

int wire_check_version(const WireOptions *o, WireVersions *ret_versions) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_(wire_versions_done) WireVersions v = {};
        int r;

        r = sync_run_ok(o, start_versions, NULL, &resp);
        if (r < 0)
                return r;
        r = wire_versions_parse(resp->body, resp->body_size, &v);
        if (r < 0)
                return r;
        if (!wire_versions_supports(&v, WIRE_PROTOCOL_VERSION))
                return -EPROTONOSUPPORT;
        if (ret_versions) {
                *ret_versions = v;
                v = (WireVersions){};
        }
        return 0;
}

/* Called on a 2xx goal state: ask for a refetch while the RoleInstance is missing (protocol §1.4). */
static int validate_goal_state(const HttpResponse *response, void *userdata) {
        _cleanup_(goal_state_done) GoalState g = {};

        return goal_state_parse(response->body, response->body_size, &g) == -ENODATA ? 1 : 0;
}

int wire_goal_state_start(AzureClient *c, const RetryPolicy *p, bool retry_gone, HttpRetryCallback cb,
                          void *userdata, HttpRetry **ret) {
        _cleanup_free_ char *url = NULL;
        RetryPolicy policy = p ? *p : c->policy;
        int r;

        r = wire_url(c->endpoint, "/machine/?comp=goalstate", &url);
        if (r < 0)
                return r;
        /* 410 on the goal state itself: it changed while we asked (protocol §1.2); asking again is the refresh. */
        for (size_t i = 0; retry_gone && i < RETRY_STATUS_MAX - 1; i++)
                if (policy.retry_status[i] == 0 || policy.retry_status[i] == 410) {
                        policy.retry_status[i] = 410;
                        break;
                }
        policy.validate = validate_goal_state;
        policy.validate_delay = WIRE_GOAL_STATE_DELAY;
        policy.validate_max_attempts = WIRE_GOAL_STATE_ATTEMPTS;
        if (policy.max_attempts > 0)
                policy.max_attempts += WIRE_GOAL_STATE_ATTEMPTS;
        return wire_request_start(c, HTTP_METHOD_GET, url, NULL, NULL, 0, WIRE_RESPONSE_MAX, &policy, cb,
                                  userdata, ret);
}

static int start_goal_state(AzureClient *c, const WireOptions *o, const void *args, SyncCall *s) {
        return wire_goal_state_start(c, &o->policy, /* retry_gone= */ true, sync_call_done, s, NULL);
}

int wire_fetch_goal_state(const WireOptions *o, GoalState *ret) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        int r;

        if (!ret)
                return -EINVAL;
        r = sync_run_ok(o, start_goal_state, NULL, &resp);
        if (r < 0)
                return r;
        return goal_state_parse(resp->body, resp->body_size, ret);
}

static int start_document(AzureClient *c, const WireOptions *o, const void *args, SyncCall *s) {
        return wire_request_start(c, HTTP_METHOD_GET, args, NULL, NULL, 0, WIRE_RESPONSE_MAX, &o->policy,
                                  sync_call_done, s, NULL);
}

int wire_fetch_document(const WireOptions *o, const char *url, char **ret, size_t *ret_size) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        int r;

        if (!url || !ret)
                return -EINVAL;
        r = sync_run_ok(o, start_document, url, &resp);
        if (r < 0)
                return r;
        if (ret_size)
                *ret_size = resp->body_size;
        *ret = TAKE_PTR(resp->body);
        return 0;
}

int wire_fetch_hosting_env(const WireOptions *o, const GoalState *g, HostingEnvironment *ret) {
        _cleanup_free_ char *body = NULL;
        size_t size = 0;
        int r;

        if (!g || !ret)
                return -EINVAL;
        if (!g->hosting_env_url)
                return -ENOENT;
        r = wire_fetch_document(o, g->hosting_env_url, &body, &size);
        if (r < 0)
                return r;
        return hosting_env_parse(body, size, ret);
}

/* ---- HostGAPlugin (protocol §2) ---- */

int hgap_request_headers(const char *container_id, const char *config_name, char ***ret) {
        _cleanup_strv_free_ char **h = NULL;
        char *line = NULL;

        if (isempty(container_id) || strlen(container_id) > WIRE_FIELD_MAX ||
            (config_name && strlen(config_name) > WIRE_FIELD_MAX))
                return -EINVAL;
        if (strv_extend(&h, "x-ms-version: " HGAP_API_VERSION) < 0)
                return -ENOMEM;
        if (asprintf(&line, "x-ms-containerid: %s", container_id) < 0)
                return -ENOMEM;
        if (strv_push(&h, line) < 0)
                return free(line), -ENOMEM;
        if (config_name) {
                if (asprintf(&line, "x-ms-host-config-name: %s", config_name) < 0)
                        return -ENOMEM;
                if (strv_push(&h, line) < 0)
                        return free(line), -ENOMEM;
        }
        *ret = TAKE_PTR(h);
        return 0;
}

static int start_hgap_versions(AzureClient *c, const WireOptions *o, const void *args, SyncCall *s) {
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL, *line = NULL;

        if (asprintf(&url, "%s/versions", azure_client_hgap_base(c)) < 0)
                return -ENOMEM;
        /* waagent sends only x-ms-containerid here (waagent-request-trace.txt) */
        if (asprintf(&line, "x-ms-containerid: %s", (const char *) args) < 0)
                return -ENOMEM;
        if (strv_push(&headers, line) < 0)
                return -ENOMEM;
        line = NULL;
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .headers = headers,
                .timeout = o->http_timeout,
                .max_response = WIRE_RESPONSE_MAX,
        };
        return http_retry_start(azure_client_get_http(c), &req, &o->policy, sync_call_done, s, NULL);
}

int hgap_check_versions(const WireOptions *o, const char *container_id) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        int r;

        if (!o || isempty(container_id) || strlen(container_id) > WIRE_FIELD_MAX)
                return -EINVAL;
        r = sync_run_ok(o, start_hgap_versions, container_id, &resp);
        if (r < 0)
                return r;
        return hgap_versions_parse(resp->body, resp->body_size);
}
