/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake-server.h"
#include "http.h"
#include "json-util.h"
#include "macro.h"
#include "tests.h"

static char *replace_all(const char *s, const char *what, const char *with) {
        size_t n = 0, wl = strlen(what), tl = strlen(with);
        char *out, *p;

        for (const char *c = strstr(s, what); c; c = strstr(c + wl, what))
                n++;
        out = malloc(strlen(s) + n * tl + 1);
        assert_non_null(out);
        p = out;
        for (const char *c = s, *m;; c = m + wl) {
                m = strstr(c, what);
                if (!m) {
                        strcpy(p, c);
                        break;
                }
                memcpy(p, c, (size_t) (m - c));
                p += m - c;
                memcpy(p, with, tl);
                p += tl;
        }
        return out;
}

void fake_server_start(FakeServer *s, const char *scenario) {
        const char *src = getenv("AZL_SOURCE_ROOT");
        _cleanup_free_ char *script = NULL, *scenario_path = NULL, *text = NULL, *data = NULL;
        char line[32] = {};
        int pipefd[2];
        ssize_t n;

        if (!src || asprintf(&script, "%s/tests/imds-client/fake-server.py", src) < 0 ||
            access(script, R_OK) < 0) {
                fprintf(stderr, "skipped: fake-server.py not found\n");
                exit(EXIT_TEST_SKIP);
        }
        *s = (FakeServer){.pid = -1};
        s->dir = tmpdir_new();
        assert_true(asprintf(&data, "%s/tests/data", src) > 0);
        text = replace_all(scenario, "@DATA@", data);
        write_test_file(s->dir, "scenario.json", text);
        assert_true(asprintf(&scenario_path, "%s/scenario.json", s->dir) > 0);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0) {
                /* The server dies with the test, even when a failed assertion skipped fake_server_stop(). */
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                (void) dup2(pipefd[1], STDOUT_FILENO);
                execlp("python3", "python3", script, scenario_path, (char *) NULL);
                _exit(EXIT_TEST_SKIP);
        }
        close(pipefd[1]);
        /* Blocking read of the whole port line: the server prints it once it listens. Closing the pipe
         * before the newline arrived would kill the server with EPIPE. */
        for (size_t have = 0; !memchr(line, '\n', have);) {
                n = read(pipefd[0], line + have, sizeof line - 1 - have);
                if (n <= 0 || (have += (size_t) n) >= sizeof line - 1) {
                        int status = 0;

                        /* No python3 (the exec failed) is a missing tool; a server that dies or says
                         * something else is a failure of the rig, and a rig failure fails (issue #17 §8). */
                        if (n <= 0 && waitpid(s->pid, &status, 0) == s->pid && WIFEXITED(status) &&
                            WEXITSTATUS(status) == EXIT_TEST_SKIP) {
                                fprintf(stderr, "skipped: python3 cannot be run\n");
                                exit(EXIT_TEST_SKIP);
                        }
                        fail_msg("the fake server did not start (wait status 0x%x)", (unsigned) status);
                }
        }
        close(pipefd[0]);
        line[strcspn(line, "\n")] = 0;
        if (!startswith(line, "PORT ") || safe_atou(strstrip(line + 5), &s->port) < 0)
                fail_msg("unexpected fake server greeting '%s'", line);
        snprintf(s->base, sizeof s->base, "http://127.0.0.1:%u", s->port);
        snprintf(s->hostport, sizeof s->hostport, "127.0.0.1:%u", s->port);
}

void fake_server_stop(FakeServer *s) {
        if (s->pid > 0) {
                (void) kill(s->pid, SIGTERM);
                (void) waitpid(s->pid, NULL, 0);
        }
        s->pid = -1;
        tmpdir_remove(s->dir);
        s->dir = NULL;
}

struct json_object *fake_server_requests(FakeServer *s) {
        _cleanup_http_response_ HttpResponse *resp = NULL;
        _cleanup_free_ char *url = NULL;
        struct json_object *o = NULL;
        HttpRequest req = {.method = HTTP_METHOD_GET, .timeout = 5 * USEC_PER_SEC};

        assert_true(asprintf(&url, "%s/_control/requests", s->base) > 0);
        req.url = url;
        assert_int_equal(http_request_sync(&req, &resp), 0);
        assert_int_equal(resp->status, 200);
        assert_int_equal(json_parse_buffer(resp->body, resp->body_size, &o, NULL), 0);
        return o;
}

size_t fake_server_count(FakeServer *s, const char *path) {
        _cleanup_(json_object_putp) struct json_object *l = fake_server_requests(s);
        size_t n = 0;

        for (size_t i = 0; i < json_object_array_length(l); i++) {
                struct json_object *p = json_get(json_object_array_get_idx(l, i), "path", false);

                if (p && streq(json_object_get_string(p), path))
                        n++;
        }
        return n;
}
