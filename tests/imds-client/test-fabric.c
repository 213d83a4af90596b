/* SPDX-License-Identifier: MIT */
/*
 * End-to-end run of the IMDS, WireServer and HostGAPlugin clients against the simulated Azure fabric
 * (tests/fabric/azfabric.py serve, loopback mode: every service on 127.0.0.1). Skipped (77) when the fabric
 * is not available. Values are compared with what the fabric itself reports on its control API.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "fileio.h"
#include "http.h"
#include "imds.h"
#include "json-util.h"
#include "tests.h"
#include "wireserver.h"

typedef struct Fabric {
        pid_t pid;
        char *dir;
        struct json_object *ready;
} Fabric;

static Fabric fabric = {.pid = -1};

static const char *ready_str(const char *key) {
        struct json_object *v = json_get(fabric.ready, key, false);

        assert_non_null(v);
        return json_object_get_string(v);
}

static void fabric_start(void) {
        const char *src = getenv("AZL_SOURCE_ROOT");
        _cleanup_free_ char *script = NULL, *ready = NULL, *buf = NULL;
        size_t size;

        if (!src || asprintf(&script, "%s/tests/fabric/azfabric.py", src) < 0 || access(script, R_OK) < 0) {
                fprintf(stderr, "skipped: tests/fabric/azfabric.py not available\n");
                exit(EXIT_TEST_SKIP);
        }
        fabric.dir = tmpdir_new();
        assert_true(asprintf(&ready, "%s/ready.json", fabric.dir) > 0);
        fabric.pid = fork();
        assert_true(fabric.pid >= 0);
        if (fabric.pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                execlp("python3", "python3", script, "serve", "--scenario", "default", "--host", "127.0.0.1",
                       "--ready-file", ready, (char *) NULL);
                _exit(EXIT_TEST_SKIP);
        }
        /* The fabric writes the ready file atomically once it listens; poll for it (test code only). */
        for (unsigned i = 0; i < 300; i++) {
                int status;

                if (access(ready, R_OK) == 0)
                        break;
                if (waitpid(fabric.pid, &status, WNOHANG) == fabric.pid) {
                        fabric.pid = -1;
                        /* No python3 (the exec failed) is a missing tool; a fabric that dies is a failure
                         * of the rig, and a rig failure fails (issue #17 §8). */
                        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_TEST_SKIP) {
                                fprintf(stderr, "skipped: python3 cannot be run\n");
                                exit(EXIT_TEST_SKIP);
                        }
                        fail_msg("the fabric exited before it was ready (wait status 0x%x)",
                                 (unsigned) status);
                }
                (void) nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
        {
                _cleanup_close_ int fd = open(ready, O_RDONLY | O_CLOEXEC);

                assert_true(fd >= 0);
                assert_int_equal(read_full_fd(fd, 1024 * 1024, &buf, &size), 0);
        }
        assert_int_equal(json_parse_buffer(buf, size, &fabric.ready, NULL), 0);
}

static int setup(void **state) {
        fabric_start();
        return 0;
}

static int teardown(void **state) {
        if (fabric.pid > 0) {
                (void) kill(fabric.pid, SIGTERM);
                (void) waitpid(fabric.pid, NULL, 0);
        }
        json_object_put(fabric.ready);
        tmpdir_remove(fabric.dir);
        return 0;
}

/* GET/POST on the control API; returns the parsed JSON body. */
static struct json_object *control(HttpMethod method, const char *path, const char *body) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        struct json_object *o = NULL;
        char *const headers[] = {(char *) "Content-Type: application/json", NULL};

        assert_true(asprintf(&url, "%s%s", ready_str("control"), path) > 0);
        HttpRequest req = {.method = method,
                           .url = url,
                           .headers = headers,
                           .body = body,
                           .body_size = body ? strlen(body) : 0,
                           .timeout = 10 * USEC_PER_SEC,
                           .max_response = 16 * 1024 * 1024};
        assert_int_equal(http_request_sync(&req, &resp), 0);
        assert_true(http_status_ok(resp->status));
        if (resp->body_size == 0 || !strchr("[{", resp->body[0]))
                return NULL;
        assert_int_equal(json_parse_buffer(resp->body, resp->body_size, &o, NULL), 0);
        return o;
}

static const char *jpath(struct json_object *o, const char *a, const char *b) {
        struct json_object *v = json_get(o, a, false);

        if (b)
                v = json_get(v, b, false);
        assert_non_null(v);
        return json_object_get_string(v);
}

static void imds_opts(ImdsOptions *o) {
        imds_retry_policy(20 * USEC_PER_SEC, &o->policy);
        o->url = ready_str("imds");
        o->api_version = "2023-07-01";
        o->http_timeout = 5 * USEC_PER_SEC;
        o->policy.base = 50 * USEC_PER_MSEC;
}

static void test_fabric_imds(void **state) {
        _cleanup_(json_object_putp) struct json_object *sc = control(HTTP_METHOD_GET, "/scenario", NULL);
        _cleanup_(json_object_putp) struct json_object *r = NULL;
        _cleanup_free_ void *ud = NULL;
        ImdsOptions o = {};
        ImdsInstance i = {};
        JsonError err = {};
        char expected_id[37];
        size_t size = 0;

        imds_opts(&o);
        /* two failures first: the client must retry through them */
        r = control(HTTP_METHOD_POST, "/faults",
                    "[{\"endpoint\": \"imds\", \"path\": \"/metadata/instance\", \"nth\": [1, 2], "
                    "\"status\": 500}]");
        assert_int_equal(imds_fetch_instance(&o, &i, &err), 0);
        assert_int_equal(uuid_normalize(jpath(sc, "vm", "vmId"), expected_id), 0);
        assert_string_equal(i.vm_id, expected_id);
        assert_string_equal(i.computer_name, jpath(sc, "vm", "computerName"));
        assert_string_equal(i.admin_username, jpath(sc, "admin", "username"));
        assert_string_equal(i.location, jpath(sc, "vm", "location"));
        assert_true(i.disable_password_authentication);
        assert_int_equal(i.n_public_keys, 2);
        assert_true(startswith(i.public_keys[0].key_data, "ssh-ed25519 "));
        assert_non_null(i.network);
        imds_instance_done(&i);
        {
                _cleanup_(json_object_putp) struct json_object *f =
                        control(HTTP_METHOD_GET, "/faults", NULL);
                struct json_object *rules =
                        json_object_is_type(f, json_type_array) ? f : json_get(f, "rules", false);

                assert_non_null(rules);
                assert_int_equal(
                        json_object_get_int(json_get(json_object_array_get_idx(rules, 0), "fired", false)),
                        2);
        }

        assert_int_equal(imds_fetch_user_data(&o, &ud, &size), 0);
        assert_int_equal(size, strlen(jpath(sc, "userData", NULL)));
}

typedef struct AsyncResult {
        unsigned calls;
        int error;
        char *body;
        size_t size;
} AsyncResult;

/* Called by imds_fetch_instance_start() once, with the body or the error. */
static void on_async(ImdsFetch *f, int error, char *body, size_t size, void *userdata) {
        AsyncResult *a = userdata;

        a->calls++;
        a->error = error;
        a->body = body;
        a->size = size;
}

/* The daemon's fetch on an event loop: retries a 500, falls back from an api-version IMDS does not know (400)
 * to 2021-08-01, and a cancelled fetch never calls back. */
static void test_fabric_imds_async(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_http_client_ HttpClient *c = NULL;
        _cleanup_(json_object_putp) struct json_object *r = NULL;
        _cleanup_(imds_instance_done) ImdsInstance i = {};
        AsyncResult a = {}, cancelled = {};
        ImdsFetch *f = NULL;
        ImdsOptions o = {};
        JsonError err = {};

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(http_client_new(e, &c), 0);
        imds_opts(&o);
        o.api_version = "2099-01-01";
        r = control(HTTP_METHOD_POST, "/faults?mode=replace",
                    "[{\"endpoint\": \"imds\", \"path\": \"/metadata/instance\", \"nth\": [1], \"status\": "
                    "500}]");
        assert_int_equal(imds_fetch_instance_start(c, &o, on_async, &a, &f), 0);
        for (unsigned k = 0; k < 200 && a.calls == 0; k++)
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        assert_int_equal(a.calls, 1);
        assert_int_equal(a.error, 0);
        assert_int_equal(imds_parse_instance(a.body, a.size, &i, &err), 0);
        assert_non_null(i.network);
        free(a.body);

        /* 500 (retried), 400 for 2099-01-01, then 200 for 2021-08-01: the last three IMDS requests (JSONL). The
         * fabric logs a request after answering it, so the log is read again until the final 200 is in it. */
        {
                long statuses[3] = {};
                char *versions[3] = {};
                size_t m = 0;

                for (unsigned attempt = 0; attempt < 50; attempt++) {
                        _cleanup_free_ char *url = NULL;
                        _cleanup_http_response_ HttpResponse *resp = NULL;

                        for (size_t k = 0; k < 3; k++) {
                                free(versions[k]);
                                versions[k] = NULL;
                        }
                        m = 0;
                        assert_true(asprintf(&url, "%s/requests?endpoint=imds", ready_str("control")) > 0);
                        HttpRequest req = {
                                .method = HTTP_METHOD_GET, .url = url, .max_response = 16 * 1024 * 1024};
                        assert_int_equal(http_request_sync(&req, &resp), 0);
                        for (char *line = strtok(resp->body, "\n"); line; line = strtok(NULL, "\n")) {
                                _cleanup_(json_object_putp) struct json_object *o1 = NULL;

                                assert_int_equal(json_parse_buffer(line, strlen(line), &o1, NULL), 0);
                                if (!streq(jpath(o1, "path", NULL), "/metadata/instance"))
                                        continue;
                                free(versions[m % 3]);
                                versions[m % 3] = strdup(jpath(o1, "query", NULL));
                                statuses[m % 3] = json_object_get_int(json_get(o1, "status", false));
                                m++;
                        }
                        if (m >= 3 && statuses[(m - 1) % 3] == 200 &&
                            strstr(versions[(m - 1) % 3], "api-version=2021-08-01"))
                                break;
                        usleep(100 * 1000);
                }
                assert_true(m >= 3);
                assert_int_equal(statuses[(m - 3) % 3], 500);
                assert_non_null(strstr(versions[(m - 3) % 3], "api-version=2099-01-01"));
                assert_int_equal(statuses[(m - 2) % 3], 400);
                assert_non_null(strstr(versions[(m - 2) % 3], "api-version=2099-01-01"));
                assert_int_equal(statuses[(m - 1) % 3], 200);
                assert_non_null(strstr(versions[(m - 1) % 3], "api-version=2021-08-01"));
                for (size_t k = 0; k < 3; k++)
                        free(versions[k]);
        }

        /* Cancelled at once: no callback, nothing left on the loop. */
        assert_int_equal(imds_fetch_instance_start(c, &o, on_async, &cancelled, &f), 0);
        assert_null(imds_fetch_cancel(f));
        for (unsigned k = 0; k < 5; k++)
                assert_true(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        assert_int_equal(cancelled.calls, 0);
        assert_int_equal(imds_fetch_instance_start(NULL, &o, on_async, &cancelled, &f), -EINVAL);
}

static void test_fabric_wire(void **state) {
        _cleanup_(json_object_putp) struct json_object *st = control(HTTP_METHOD_GET, "/state", NULL);
        _cleanup_(json_object_putp) struct json_object *reports = NULL;
        _cleanup_(goal_state_done) GoalState g = {};
        WireOptions o;
        size_t n;

        wire_options_init(NULL, ready_str("wireserver"), &o);
        o.hgap_port = (unsigned) json_object_get_int(json_get(fabric.ready, "hgap_port", false));
        o.policy.base = 50 * USEC_PER_MSEC;
        o.policy.throttle_delay = 50 * USEC_PER_MSEC;

        assert_int_equal(wire_check_version(&o, NULL), 0);
        assert_int_equal(wire_fetch_goal_state(&o, &g), 0);
        assert_string_equal(g.container_id, json_object_get_string(json_get(st, "containerId", false)));
        assert_int_equal(hgap_check_versions(&o, g.container_id), 1);

        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_NOT_READY, "Provisioning", "Starting",
                                            20 * USEC_PER_SEC),
                         0);
        assert_int_equal(health_report_send(&o, &g, HEALTH_STATE_READY, NULL, NULL, 20 * USEC_PER_SEC), 0);

        reports = control(HTTP_METHOD_GET, "/health-reports", NULL);
        n = json_object_array_length(reports);
        assert_true(n >= 2);
        assert_true(json_object_get_boolean(
                json_get(json_object_array_get_idx(reports, n - 2), "accepted", false)));
        assert_string_equal(jpath(json_object_array_get_idx(reports, n - 1), "state", NULL), "Ready");
        assert_true(json_object_get_boolean(
                json_get(json_object_array_get_idx(reports, n - 1), "accepted", false)));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fabric_imds),
                cmocka_unit_test(test_fabric_imds_async),
                cmocka_unit_test(test_fabric_wire),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
