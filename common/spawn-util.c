/* SPDX-License-Identifier: MIT */
/*
 * posix_spawn wrapper, see spawn-util.h. When the caller wants the output, the child gets a pipe for stdout and
 * stderr; the parent drains it completely (so the child never blocks on a full pipe) but keeps only the first
 * SPAWN_OUTPUT_MAX bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "macro.h"
#include "spawn-util.h"
#include "strutil.h"

static char *const spawn_env[] = {
        (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        (char *) "LC_ALL=C",
        NULL,
};

int find_program(const char *name, char **ret) {
        static const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin", "/bin" };

        if (isempty(name))
                return -EINVAL;
        if (name[0] == '/') {
                if (access(name, X_OK) < 0)
                        return negative_errno();
                return (*ret = strdup(name)) ? 0 : -ENOMEM;
        }
        if (strchr(name, '/'))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dirs[i], name) < 0)
                        return -ENOMEM;
                if (access(p, X_OK) == 0) {
                        *ret = TAKE_PTR(p);
                        return 0;
                }
        }
        return -ENOENT;
}

static void posix_spawn_file_actions_destroyp(posix_spawn_file_actions_t **a) {
        if (*a)
                (void) posix_spawn_file_actions_destroy(*a);
}

/* out_fd < 0: output to /dev/null. dup2 in the child clears FD_CLOEXEC on the target, so only 0-2 (and 3
 * when pass_fd is given) are inherited. */
static int spawn_child(const char *path, char *const *argv, int out_fd, int pass_fd, pid_t *ret_pid) {
        _cleanup_(posix_spawn_file_actions_destroyp) posix_spawn_file_actions_t *fa = NULL;
        posix_spawn_file_actions_t actions;
        int r;

        r = -posix_spawn_file_actions_init(&actions);
        if (r < 0)
                return r;
        fa = &actions;
        r = -posix_spawn_file_actions_addopen(fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = out_fd >= 0 ? -posix_spawn_file_actions_adddup2(fa, out_fd, STDOUT_FILENO) :
                                  -posix_spawn_file_actions_addopen(fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        if (r == 0)
                r = -posix_spawn_file_actions_adddup2(fa, STDOUT_FILENO, STDERR_FILENO);
        if (r == 0 && pass_fd >= 0)
                r = -posix_spawn_file_actions_adddup2(fa, pass_fd, 3);
        if (r < 0)
                return r;
        return -posix_spawn(ret_pid, path, fa, NULL, argv, spawn_env);
}

/* Reads the pipe to EOF, keeping at most SPAWN_OUTPUT_MAX bytes. */
static int drain_output(int fd, char **ret) {
        _cleanup_free_ char *buf = malloc(SPAWN_OUTPUT_MAX + 1);
        size_t size = 0;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                char scratch[1024];
                size_t room = SPAWN_OUTPUT_MAX - size;
                ssize_t n = read(fd, room > 0 ? buf + size : scratch, room > 0 ? room : sizeof scratch);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                if (room > 0)
                        size += (size_t) n;
        }
        buf[size] = 0;
        {
                char *t = strstrip(buf);

                memmove(buf, t, strlen(t) + 1);
        }
        *ret = TAKE_PTR(buf);
        return 0;
}

static int wait_child(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -EPROTO;
}

int spawn_and_wait_full(char *const *argv, int pass_fd, char **ret_output) {
        _cleanup_free_ char *path = NULL, *output = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        int fds[2], r;
        pid_t pid;

        if (!argv || !argv[0])
                return -EINVAL;
        r = find_program(argv[0], &path);
        if (r < 0)
                return r;
        if (ret_output) {
                if (pipe2(fds, O_CLOEXEC) < 0)
                        return negative_errno();
                rfd = fds[0];
                wfd = fds[1];
        }
        r = spawn_child(path, argv, wfd, pass_fd, &pid);
        if (r < 0)
                return r;
        closep(&wfd);
        wfd = -EBADF;
        r = rfd >= 0 ? drain_output(rfd, &output) : 0;
        if (r < 0) {
                (void) wait_child(pid);
                return r;
        }
        r = wait_child(pid);
        if (r >= 0 && ret_output)
                *ret_output = TAKE_PTR(output);
        return r;
}

int spawn_and_wait(char *const *argv, char **ret_output) {
        return spawn_and_wait_full(argv, -EBADF, ret_output);
}

int spawn_background(char *const *argv, pid_t *ret_pid) {
        _cleanup_free_ char *path = NULL;
        pid_t pid;
        int r;

        if (!argv || !argv[0])
                return -EINVAL;
        r = find_program(argv[0], &path);
        if (r < 0)
                return r;
        r = spawn_child(path, argv, -EBADF, -EBADF, &pid);
        if (r < 0)
                return r;
        *ret_pid = pid;
        return 0;
}

int spawn_wait(pid_t pid) {
        if (pid <= 0)
                return -EINVAL;
        return wait_child(pid);
}
