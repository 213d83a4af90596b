/* SPDX-License-Identifier: MIT */
/*
 * crash-point.c: the environment is read once per process, so every case runs in a forked child that sets it,
 * reaches a few points and exits 0; the parent checks how the child ended and what it traced.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash-point.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

/* Runs the points a, b, a, "x y@z", a in a child with AZL_CRASH_POINT=target; returns its wait status and
 * (when trace is set) the trace's text. */
static int run_child(const char *target, char **ret_trace) {
        char *dir = tmpdir_new(), *path = NULL;
        int status = 0;
        pid_t pid;

        assert_true(asprintf(&path, "%s/trace", dir) > 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (target)
                        setenv("AZL_CRASH_POINT", target, 1);
                else
                        unsetenv("AZL_CRASH_POINT");
                setenv("AZL_CRASH_POINT_TRACE", path, 1);
                crash_point("a");
                crash_point("b");
                crash_pointf("%s", "a");
                crash_point("x y@z");
                crash_point("a");
                _exit(0);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (ret_trace) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                size_t size;

                *ret_trace = NULL;
                if (fd >= 0) {
                        assert_int_equal(read_full_fd(fd, 4096, ret_trace, &size), 0);
                        close(fd);
                }
        }
        free(path);
        tmpdir_remove(dir);
        return status;
}

static void test_trace_counts(void **state) {
        char *trace = NULL;
        int status = run_child(NULL, &trace);

        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_non_null(trace);
        /* Per-name hit counts; '@' and the space are replaced so that "NAME@N" stays unambiguous. */
        assert_string_equal(trace, "a@1\nb@1\na@2\nx_y_z@1\na@3\n");
        free(trace);
}

static void test_kill_at_nth_hit(void **state) {
        char *trace = NULL;
        int status = run_child("a@2", &trace);

        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        /* Traced before dying: the last line is where it died. */
        assert_string_equal(trace, "a@1\nb@1\na@2\n");
        free(trace);

        status = run_child("b", &trace); /* no count: the first hit */
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        assert_string_equal(trace, "a@1\nb@1\n");
        free(trace);

        status = run_child("x_y_z", NULL); /* the sanitized name is the one to ask for */
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_no_match(void **state) {
        /* Never reached, a count too high, malformed counts: the child runs to the end. */
        const char *const targets[] = {"c", "a@4", "a@0", "a@", "a@1x", "", "@1"};

        for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
                int status = run_child(targets[i], NULL);

                assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_trace_counts),
                cmocka_unit_test(test_kill_at_nth_hit),
                cmocka_unit_test(test_no_match),
        };

        if (!crash_points_supported()) {
                printf("SKIP: built with -Dcrash_points=false\n");
                return EXIT_TEST_SKIP;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
