/* SPDX-License-Identifier: MIT */
/*
 * WireServer requests and endpoint discovery: lease-file scanning under the root fd, the version check, the
 * goal state (with waagent's "RoleInstance missing → refetch up to 6 times, 0.5 s apart" rule expressed as a
 * validate() hook of the retry engine, so no sleeping), HostingEnvironmentConfig, and HostGAPlugin /versions.
 */
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "wireserver.h"

/* ---- endpoint discovery (ref §1.1) ---- */

typedef struct LeaseDir {
        const char *dir;
        const char *pattern;
        WireEndpointSource source;
} LeaseDir;

/* networkd's runtime leases describe the current boot, so they are looked at first. */
static const LeaseDir lease_dirs[] = {
        { "/run/systemd/netif/leases", "*", WIRE_ENDPOINT_NETWORKD_LEASE },
        { "/var/lib/dhcp", "dhclient*.leases", WIRE_ENDPOINT_DHCLIENT_LEASE },
        { "/var/lib/dhclient", "*.lease*", WIRE_ENDPOINT_DHCLIENT_LEASE },
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
        *ret = (RetryPolicy) {
                .deadline = deadline,
                .max_attempts = deadline > 0 ? 0 : 6,   /* waagent DEFAULT_RETRIES */
                .backoff = RETRY_BACKOFF_FIBONACCI,      /* 2, 3, 5, 8, 13 s … */
                .base = 1 * USEC_PER_SEC,
                .cap = 60 * USEC_PER_SEC,
                .retry_status = { 205, 206, 500, 501, 502, 504, 507 },
                .throttle_status = { 403, 429, 503 },
                .throttle_delay = 1 * USEC_PER_SEC,       /* THROTTLE_DELAY_IN_SECONDS */
                .throttle_min_attempts = 25,              /* THROTTLE_RETRIES */
                .retry_transport_errors = true,
        };
}

void wire_options_init(const Config *c, const char *endpoint, WireOptions *ret) {
        *ret = (WireOptions) {
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
        /* ref §1.2: 410 Gone and 400 "InvalidContainerConfiguration" both mean the goal state (container id)
         * changed: the caller refreshes it and tries again. */
        if (resp->status == 400 && strstr(resp->body, "InvalidContainerConfiguration"))
                return -ESTALE;
        return http_status_to_errno(resp->status);
}

/* One GET with retries; returns the final response only when it is 2xx. */
static int wire_get(const WireOptions *o, const char *url, char *const *headers, const RetryPolicy *policy,
                    HttpResponse **ret) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .headers = headers,
                .timeout = o->http_timeout,
                .max_response = WIRE_RESPONSE_MAX,
                .use_proxy = false, /* never for the WireServer, ref §1.2 */
        };
        int r;

        r = http_request_retry_sync(&req, policy ?: &o->policy, &resp, NULL);
        if (r < 0)
                return r;
        if (!http_status_ok(resp->status))
                return wire_status_to_errno(resp);
        *ret = TAKE_PTR(resp);
        return 0;
}

int wire_check_version(const WireOptions *o, WireVersions *ret_versions) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_(wire_versions_done) WireVersions v = {};
        _cleanup_free_ char *url = NULL;
        int r;

        if (!o)
                return -EINVAL;
        r = wire_url(o->endpoint, "/?comp=versions", &url);
        if (r < 0)
                return r;
        /* ref §1.3: no x-ms headers on this request */
        r = wire_get(o, url, NULL, NULL, &resp);
        if (r < 0)
                return r;
        r = wire_versions_parse(resp->body, resp->body_size, &v);
        if (r < 0)
                return r;
        if (!wire_versions_supports(&v, WIRE_PROTOCOL_VERSION))
                return -EPROTONOSUPPORT;
        if (ret_versions) {
                *ret_versions = v;
                v = (WireVersions) {};
        }
        return 0;
}

/* Called on a 2xx goal state: ask for a refetch while the RoleInstance is missing (ref §1.4). */
static int validate_goal_state(const HttpResponse *response, void *userdata) {
        _cleanup_(goal_state_done) GoalState g = {};

        return goal_state_parse(response->body, response->body_size, &g) == -ENODATA ? 1 : 0;
}

int wire_fetch_goal_state(const WireOptions *o, GoalState *ret) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *url = NULL;
        RetryPolicy p;
        int r;

        if (!o || !ret)
                return -EINVAL;
        r = wire_url(o->endpoint, "/machine/?comp=goalstate", &url);
        if (r < 0)
                return r;
        r = wire_request_headers(NULL, &headers);
        if (r < 0)
                return r;
        p = o->policy;
        /* 410 on the goal state itself: it changed while we asked (ref §1.2); asking again is the refresh. */
        for (size_t i = 0; i < RETRY_STATUS_MAX - 1; i++)
                if (p.retry_status[i] == 0 || p.retry_status[i] == 410) {
                        p.retry_status[i] = 410;
                        break;
                }
        p.validate = validate_goal_state;
        p.validate_delay = WIRE_GOAL_STATE_DELAY;
        p.validate_max_attempts = WIRE_GOAL_STATE_ATTEMPTS;
        if (p.max_attempts > 0)
                p.max_attempts += WIRE_GOAL_STATE_ATTEMPTS;
        r = wire_get(o, url, headers, &p, &resp);
        if (r < 0)
                return r;
        return goal_state_parse(resp->body, resp->body_size, ret);
}

int wire_fetch_document(const WireOptions *o, const char *url, char **ret, size_t *ret_size) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_strv_free_ char **headers = NULL;
        int r;

        if (!o || !url || !ret)
                return -EINVAL;
        r = wire_request_headers(NULL, &headers);
        if (r < 0)
                return r;
        r = wire_get(o, url, headers, NULL, &resp);
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

/* ---- HostGAPlugin (ref §2) ---- */

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

/* "host[:port]" or "[v6]:port" → the host part with the HostGAPlugin port. */
static int hgap_endpoint(const WireOptions *o, char **ret) {
        const char *ep = o->endpoint;
        size_t n;
        char *s;

        if (!endpoint_is_valid(ep) || o->hgap_port == 0 || o->hgap_port > 65535)
                return -EINVAL;
        if (ep[0] == '[') {
                const char *end = strchr(ep, ']');

                if (!end)
                        return -EINVAL;
                n = (size_t) (end - ep + 1);
        } else
                n = strcspn(ep, ":");
        if (asprintf(&s, "%.*s:%u", (int) n, ep, o->hgap_port) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int hgap_check_versions(const WireOptions *o, const char *container_id) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_strv_free_ char **headers = NULL;
        _cleanup_free_ char *host = NULL, *url = NULL, *line = NULL;
        int r;

        if (!o || isempty(container_id))
                return -EINVAL;
        r = hgap_endpoint(o, &host);
        if (r < 0)
                return r;
        r = wire_url(host, "/versions", &url);
        if (r < 0)
                return r;
        /* waagent sends only x-ms-containerid here (waagent-request-trace.txt) */
        if (asprintf(&line, "x-ms-containerid: %s", container_id) < 0)
                return -ENOMEM;
        if (strv_push(&headers, line) < 0)
                return -ENOMEM;
        line = NULL;
        r = wire_get(o, url, headers, NULL, &resp);
        if (r < 0)
                return r;
        return hgap_versions_parse(resp->body, resp->body_size);
}
