/* SPDX-License-Identifier: MIT */
/*
 * spawn-util: stdin from the caller's bytes, and programs run chrooted into a root fd — the root's own
 * program (never the host's), its absolute symlinks resolved inside it, a private /dev and /proc that vanish
 * with the child; a background child that dies with its caller. The chroot cases need root (chroot(2),
 * mount(2)); they skip without it.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "spawn-util.h"
#include "tests.h"

static void test_input_on_stdin(void **state) {
        static const char secret[] = "user:$y$j9T$not-in-argv\n";
        _cleanup_free_ char *out = NULL;
        SpawnOptions o = SPAWN_OPTIONS_INIT;

        o.input = secret;
        o.input_size = strlen(secret);
        assert_int_equal(spawn_and_wait_opts((char *const[]){(char *) "cat", NULL}, &o, &out), 0);
        assert_string_equal(out, "user:$y$j9T$not-in-argv");
        /* Without input, stdin is /dev/null. */
        free(out);
        out = NULL;
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "cat", NULL}, &out), 0);
        assert_string_equal(out, "");
        o.input_size = SPAWN_INPUT_MAX + 1;
        assert_int_equal(spawn_and_wait_opts((char *const[]){(char *) "cat", NULL}, &o, NULL), -E2BIG);
}

static void test_exit_status_and_missing(void **state) {
        assert_int_equal(
                spawn_and_wait((char *const[]){(char *) "sh", (char *) "-c", (char *) "exit 3", NULL}, NULL),
                3);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "azl-no-such-program", NULL}, NULL),
                         -ENOENT);
}

/* A root with only sh (and its libraries) in it. */
static char *root_with_sh(void) {
        _cleanup_free_ char *script = NULL;
        const char *src = getenv("AZL_SOURCE_ROOT");
        char *root = tmpdir_new();

        assert_non_null(src);
        assert_int_equal(chmod(root, 0755), 0);
        assert_true(asprintf(&script, "%s/tests/integration/install-root-tools.sh", src) > 0);
        assert_int_equal(
                spawn_and_wait((char *const[]){(char *) "bash", script, root, (char *) "sh", NULL}, NULL),
                0);
        write_test_file(root, "dev/.keep", "");
        write_test_file(root, "proc/.keep", "");
        return root;
}

static int sh_in_root(int root_fd, const char *script, char **ret_output) {
        SpawnOptions o = SPAWN_OPTIONS_INIT;

        o.root_fd = root_fd;
        return spawn_and_wait_opts((char *const[]){(char *) "sh", (char *) "-c", (char *) script, NULL}, &o,
                                   ret_output);
}

static bool host_exists(const char *dir, const char *rel) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
        return lstat(p, &st) >= 0;
}

static void test_chroot(void **state) {
        _cleanup_free_ char *out = NULL, *link = NULL, *inside = NULL, *path = NULL;
        _cleanup_close_ int root_fd = -EBADF;
        char *root, *host;

        if (geteuid() != 0)
                skip();
        root = root_with_sh();
        host = tmpdir_new();
        assert_int_equal(root_open(root, &root_fd), 0);

        /* The root's sh, in the root, with a private /dev and /proc mounted on the root's own directories. */
        assert_int_equal(sh_in_root(root_fd,
                                    "echo /dev/null /dev/urandom; echo $PWD; test -e /proc/self/status "
                                    "&& echo proc; read x < /dev/null; echo ok",
                                    &out),
                         0);
        assert_string_equal(out, "/dev/null /dev/urandom\n/\nproc\nok");
        /* ... which vanish with the child: the root's directories are as empty as before. */
        assert_false(host_exists(root, "dev/null"));
        assert_false(host_exists(root, "proc/self"));

        /* A program only the host has is not found in the root: never the host's program on the root. */
        {
                SpawnOptions o = SPAWN_OPTIONS_INIT;

                o.root_fd = root_fd;
                assert_int_equal(spawn_and_wait_opts((char *const[]){(char *) "cat", NULL}, &o, NULL),
                                 -ENOENT);
                assert_int_equal(find_program_in_root(root_fd, "cat", &path), -ENOENT);
                assert_int_equal(find_program_in_root(root_fd, "sh", &path), 0);
                assert_string_equal(path, "/usr/bin/sh");
        }

        /* An absolute symlink to a host directory is resolved inside the root: a dangling link there… */
        assert_true(asprintf(&link, "%s/data", root) > 0);
        assert_int_equal(symlink(host, link), 0);
        free(out);
        out = NULL;
        assert_int_not_equal(sh_in_root(root_fd, "echo escaped > /data/file", &out), 0);
        assert_false(host_exists(host, "file"));
        /* …and, once the target exists inside the root, the write lands there, never on the host. */
        assert_true(asprintf(&inside, "%s%s", root, host) > 0);
        assert_int_equal(mkdir_p_in_root(root_fd, host, 0755), 0);
        assert_int_equal(sh_in_root(root_fd, "echo inside > /data/file", NULL), 0);
        assert_false(host_exists(host, "file"));
        assert_true(host_exists(inside, "file"));

        /* A file without an execute bit is not run. */
        write_test_file(root, "usr/bin/notexec", "#!/bin/sh\n");
        free(path);
        path = NULL;
        assert_int_equal(find_program_in_root(root_fd, "notexec", &path), -EACCES);

        tmpdir_remove(host);
        tmpdir_remove(root);
}

/* A pidfd for a live child becomes readable when it exits; a pid already reaped is ESRCH, and nothing is killed. */
static void test_pidfd_open_child(void **state) {
        struct pollfd pfd = {.events = POLLIN};
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        pfd.fd = pidfd_open_child(pid);
        assert_true(pfd.fd >= 0);
        assert_true(fcntl(pfd.fd, F_GETFD) & FD_CLOEXEC);
        assert_int_equal(poll(&pfd, 1, 0), 0); /* still running */
        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(poll(&pfd, 1, 10 * 1000), 1);
        assert_int_equal(waitpid(pid, NULL, 0), pid);
        (void) close(pfd.fd);
        assert_int_equal(pidfd_open_child(pid), -ESRCH);
}

/* A background child is reaped with its exit status; and it dies with the process that started it (a killed
 * provisioning run must not leave ssh-keygen writing host keys its rerun makes again). */
static void test_background_dies_with_caller(void **state) {
        struct pollfd pfd = {.events = POLLIN};
        int fds[2], pidfd;
        pid_t pid, caller, child = 0;

        assert_int_equal(
                spawn_background((char *const[]){(char *) "sh", (char *) "-c", (char *) "exit 3", NULL},
                                 -EBADF, &pid),
                0);
        assert_int_equal(spawn_wait(pid), 3);

        assert_int_equal(pipe(fds), 0);
        caller = fork();
        assert_true(caller >= 0);
        if (caller == 0) {
                if (spawn_background((char *const[]){(char *) "sleep", (char *) "60", NULL}, -EBADF, &pid) <
                    0)
                        _exit(1);
                (void) !write(fds[1], &pid, sizeof pid);
                pause();
                _exit(0);
        }
        (void) close(fds[1]);
        assert_int_equal(read(fds[0], &child, sizeof child), (ssize_t) sizeof child);
        (void) close(fds[0]);
        pidfd = (int) syscall(SYS_pidfd_open, child, 0);
        assert_true(pidfd >= 0);
        pfd.fd = pidfd;
        assert_int_equal(poll(&pfd, 1, 0), 0); /* sleeping */
        assert_int_equal(kill(caller, SIGKILL), 0);
        assert_int_equal(waitpid(caller, NULL, 0), caller);
        if (poll(&pfd, 1, 10 * 1000) != 1) {
                (void) kill(child, SIGKILL);
                fail_msg("the background child outlived the process that started it");
        }
        (void) close(pidfd);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_input_on_stdin),
                cmocka_unit_test(test_exit_status_and_missing),
                cmocka_unit_test(test_chroot),
                cmocka_unit_test(test_pidfd_open_child),
                cmocka_unit_test(test_background_dies_with_caller),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
