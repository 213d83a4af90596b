/* SPDX-License-Identifier: MIT */
/*
 * `azure-proxy-agent --status --wait S`, see proxy-agent.h. Run with posix_spawn in a process group of its own,
 * stdout+stderr into a pipe we drain (keeping the first PROXY_AGENT_OUTPUT_MAX bytes), bounded by S plus a grace
 * period: past it the group is killed, so a hung program cannot stall provisioning or the daemon.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "proxy-agent.h"

static char *const proxy_env[] = {
        (char *) "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        (char *) "LC_ALL=C",
        NULL,
};

void proxy_agent_status_done(ProxyAgentStatus *s) {
        free(s->output);
        *s = (ProxyAgentStatus){};
}

/* The program's path beneath the root: a regular file with an execute bit. */
static int find_in_root(int root_fd, char **ret) {
        static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};

        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                if (asprintf(&p, "%s/" PROXY_AGENT_PROGRAM, dirs[i]) < 0)
                        return -ENOMEM;
                fd = open_in_root(root_fd, p, O_PATH | O_CLOEXEC, 0);
                if (fd < 0)
                        continue;
                if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                        continue;
                *ret = TAKE_PTR(p);
                return 0;
        }
        return -ENOENT;
}

static int spawn_group(const char *path, char *const *argv, int out_fd, pid_t *ret) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return -r;
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDERR_FILENO);
        /* Its own process group (killed as one at the deadline), default signals, nothing blocked (the daemon
         * blocks SIGCHLD for sd-event). */
        if (r == 0)
                r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                            POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn(ret, path, &fa, &attr, argv, proxy_env);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
        return -r;
}

static usec_t remaining(usec_t deadline) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        return now >= deadline ? 0 : deadline - now;
}

/* Drains fd into buf until EOF or the deadline, then reaps pid (killing its group at the deadline). Returns the
 * exit status, -ETIME when it was killed at the deadline, -EPROTO when a signal ended it. */
static int collect(pid_t pid, int fd, usec_t deadline, char *buf, size_t size) {
        size_t n = 0;
        int status;

        for (bool eof = false; !eof;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                usec_t left = remaining(deadline);
                char scratch[512];
                ssize_t k;

                if (left == 0)
                        break;
                if (poll(&p, 1, (int) MIN(left / USEC_PER_MSEC + 1, (usec_t) 1000)) < 0 && errno != EINTR)
                        break;
                if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                k = read(fd, n + 1 < size ? buf + n : scratch, n + 1 < size ? size - n - 1 : sizeof scratch);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        eof = true;
                else if (n + 1 < size)
                        n += (size_t) k;
        }
        buf[n] = 0;
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR)
                        return negative_errno();
                if (remaining(deadline) == 0) {
                        (void) kill(-pid, SIGKILL);
                        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                                ;
                        return -ETIME;
                }
                (void) usleep(10 * 1000);
        }
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return -EPROTO;
}

int proxy_agent_query(int root_fd, const char *root, unsigned wait_sec, ProxyAgentStatus *ret) {
        _cleanup_free_ char *rel = NULL, *path = NULL, *out = NULL;
        _cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
        char wait[16];
        int fds[2], r;
        pid_t pid;

        r = find_in_root(root_fd, &rel);
        if (r == -ENOENT) {
                *ret = (ProxyAgentStatus){.installed = false};
                return 0;
        }
        if (r < 0)
                return r;
        r = path_join_root(root, rel, &path);
        if (r < 0)
                return r;
        (void) snprintf(wait, sizeof wait, "%u", wait_sec);
        char *const argv[] = {(char *) PROXY_AGENT_PROGRAM, (char *) "--status", (char *) "--wait", wait,
                              NULL};

        if (pipe2(fds, O_CLOEXEC) < 0)
                return negative_errno();
        rfd = fds[0];
        wfd = fds[1];
        r = spawn_group(path, argv, wfd, &pid);
        if (r < 0)
                return r;
        closep(&wfd);
        wfd = -EBADF;
        out = malloc(PROXY_AGENT_OUTPUT_MAX + 1);
        if (!out) {
                (void) kill(-pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                return -ENOMEM;
        }
        r = collect(pid, rfd, now_usec(CLOCK_MONOTONIC) + wait_sec * USEC_PER_SEC + PROXY_AGENT_GRACE, out,
                    PROXY_AGENT_OUTPUT_MAX + 1);
        if (r < 0 && r != -ETIME && r != -EPROTO)
                return r;
        {
                char *t = strstrip(out);

                memmove(out, t, strlen(t) + 1);
        }
        *ret = (ProxyAgentStatus){.installed = true, .exit_status = r, .output = TAKE_PTR(out)};
        return 0;
}

int proxy_agent_describe(const ProxyAgentStatus *s, char **ret) {
        const char *out = strempty(s->output);
        int n = (int) MIN(strcspn(out, "\n"), (size_t) 200);
        int r;

        if (!s->installed)
                r = asprintf(ret, PROXY_AGENT_PROGRAM " not found");
        else if (s->exit_status == 0)
                r = asprintf(ret, PROXY_AGENT_PROGRAM " reports healthy");
        else if (s->exit_status == -ETIME)
                r = asprintf(ret, PROXY_AGENT_PROGRAM " --status did not finish in time (killed)");
        else if (s->exit_status < 0)
                r = asprintf(ret, PROXY_AGENT_PROGRAM " --status was killed by a signal");
        else
                r = asprintf(ret, PROXY_AGENT_PROGRAM " status failure (exit code %d%s)%s%.*s",
                             s->exit_status, s->exit_status == 1 ? ": provisioning not finished" : "",
                             n > 0 ? ": " : "", n, out);
        return r < 0 ? -ENOMEM : 0;
}
