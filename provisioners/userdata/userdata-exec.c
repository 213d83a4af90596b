/* SPDX-License-Identifier: MIT */
/*
 * userdata-exec.h: fork + exec (chroot for an alternate root; systemd-run for a transient unit), one pipe for
 * stdout and stderr, read until EOF and copied to the journal stream, the capped log file and a tail buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "spawn-util.h"
#include "strutil.h"
#include "userdata-exec.h"
#include "userdata-status.h"
#include "userdata.h"

#define EXEC_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void ud_exec_result_done(UdExecResult *r) {
        free(r->tail);
        *r = (UdExecResult){.exit_status = -1};
}

bool userdata_have_systemd(const Context *c) {
        _cleanup_free_ char *p = NULL;

        if (c->root && !streq(c->root, "/"))
                return false;
        if (access("/run/systemd/system", F_OK) < 0)
                return false;
        return find_program("systemd-run", &p) >= 0;
}

void userdata_log_open(Context *c, UdLog *log) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir = -EBADF;
        struct stat st;
        int fd;

        *log = (UdLog){.fd = -EBADF};
        dir = open_parent_in_root(c->root_fd, USERDATA_LOG_FILE, true, &name);
        if (dir < 0)
                return;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISREG(st.st_mode) &&
            (uint64_t) st.st_size >= USERDATA_LOG_MAX) {
                _cleanup_free_ char *old = NULL;

                if (asprintf(&old, "%s.1", name) >= 0)
                        (void) renameat(dir, name, dir, old);
        }
        fd = openat(dir, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
        if (fd < 0)
                return;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return;
        }
        (void) fchmod(fd, 0600);
        (void) fchown(fd, 0, 0);
        log->fd = fd;
        log->size = (uint64_t) st.st_size;
}

void userdata_log_close(UdLog *log) {
        closep(&log->fd);
        log->fd = -EBADF;
}

static void log_write(UdLog *log, const char *buf, size_t n) {
        if (!log || log->fd < 0 || log->capped)
                return;
        if (log->size + n > USERDATA_LOG_MAX) {
                static const char note[] = "\n[azl-agent] log file capped; the rest is in the journal\n";

                (void) write(log->fd, note, strlen(note));
                log->capped = true;
                return;
        }
        while (n > 0) {
                ssize_t k = write(log->fd, buf, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                log->size += (uint64_t) k;
                buf += k;
                n -= (size_t) k;
        }
}

void userdata_log_line(UdLog *log, const char *fmt, ...) {
        _cleanup_free_ char *m = NULL, *line = NULL;
        char ts[64] = "";
        va_list ap;

        if (!log || log->fd < 0)
                return;
        va_start(ap, fmt);
        if (vasprintf(&m, fmt, ap) < 0)
                m = NULL;
        va_end(ap);
        (void) format_timestamp_iso(now_usec(CLOCK_REALTIME), ts, sizeof ts);
        if (m && asprintf(&line, "[azl-agent %s] %s\n", ts, m) >= 0)
                log_write(log, line, strlen(line));
}

char *userdata_unit_name(const char *prefix, const char *name) {
        char *u;

        if (asprintf(&u, "%s-%s.service", prefix, name) < 0)
                return NULL;
        for (char *c = u + strlen(prefix) + 1; *c && !streq(c, ".service"); c++)
                if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                      *c == '_' || *c == '-' || *c == '.'))
                        *c = '_';
        return u;
}

/* The last USERDATA_TAIL_LINES lines of what was kept, valid UTF-8. */
static int make_tail(const char *buf, size_t n, char **ret) {
        size_t start = n, lines = 0;

        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
                n--;
        start = n;
        while (start > 0) {
                if (buf[start - 1] == '\n' && ++lines >= USERDATA_TAIL_LINES)
                        break;
                start--;
        }
        return utf8_make_valid(buf + start, n - start, ret);
}

static int build_argv(Context *c, char *const *argv, const char *unit, char *const *env, char ***ret) {
        _cleanup_strv_free_ char **a = NULL;
        _cleanup_free_ char *desc = NULL, *unit_arg = NULL;

        if (!unit || !userdata_have_systemd(c)) {
                for (char *const *p = argv; *p; p++)
                        if (strv_extend(&a, *p) < 0)
                                return -ENOMEM;
                *ret = TAKE_PTR(a);
                return 0;
        }
        if (asprintf(&unit_arg, "--unit=%s", unit) < 0 ||
            asprintf(&desc, "--description=azl-agent user data: %s", argv[0]) < 0)
                return -ENOMEM;
        if (strv_extend(&a, "/usr/bin/systemd-run") < 0 || strv_extend(&a, unit_arg) < 0 ||
            strv_extend(&a, desc) < 0 || strv_extend(&a, "--service-type=exec") < 0 ||
            strv_extend(&a, "--wait") < 0 || strv_extend(&a, "--pipe") < 0 ||
            strv_extend(&a, "--collect") < 0 || strv_extend(&a, "--quiet") < 0 ||
            strv_extend(&a, "--property=After=network-online.target") < 0)
                return -ENOMEM;
        for (char *const *e = env; e && *e; e++) {
                _cleanup_free_ char *s = NULL;

                if (asprintf(&s, "--setenv=%s", *e) < 0 || strv_extend(&a, s) < 0)
                        return -ENOMEM;
        }
        if (strv_extend(&a, "--") < 0)
                return -ENOMEM;
        for (char *const *p = argv; *p; p++)
                if (strv_extend(&a, *p) < 0)
                        return -ENOMEM;
        if (access(a[0], X_OK) < 0) {
                _cleanup_free_ char *p = NULL;

                if (find_program("systemd-run", &p) < 0)
                        return -ENOENT;
                free(a[0]);
                a[0] = TAKE_PTR(p);
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int build_env(char *const *extra, char ***ret) {
        _cleanup_strv_free_ char **e = NULL;

        if (strv_extend(&e, EXEC_PATH) < 0 || strv_extend(&e, "HOME=/root") < 0 ||
            strv_extend(&e, "LANG=C.UTF-8") < 0)
                return -ENOMEM;
        for (char *const *p = extra; p && *p; p++)
                if (strv_extend(&e, *p) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(e);
        return 0;
}

int userdata_exec(Context *c, char *const *argv, const char *unit, char *const *env, const char *ident,
                  UdLog *log, UdExecResult *ret) {
        _cleanup_strv_free_ char **args = NULL, **envp = NULL;
        _cleanup_close_ int journal = -EBADF, devnull = -EBADF;
        _cleanup_free_ char *kept = NULL, *exe = NULL;
        int pipefd[2], status, r;
        bool chrooted = c->root && !streq(c->root, "/");
        size_t nkept = 0;
        pid_t pid;

        *ret = (UdExecResult){.exit_status = -1};
        if (!argv || !argv[0])
                return -EINVAL;
        r = build_argv(c, argv, unit, env, &args);
        if (r < 0)
                return r;
        r = build_env(env, &envp);
        if (r < 0)
                return r;
        kept = malloc(USERDATA_OUTPUT_TAIL_MAX);
        if (!kept)
                return -ENOMEM;
        devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0)
                return negative_errno();
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return negative_errno();
        if (!chrooted && access("/run/systemd/journal/stdout", F_OK) >= 0)
                journal = sd_journal_stream_fd(ident, LOG_INFO, 0);
        exe = strdup(args[0]);
        if (!exe) {
                close(pipefd[0]);
                close(pipefd[1]);
                return -ENOMEM;
        }

        pid = fork();
        if (pid < 0) {
                r = negative_errno();
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                /* child: stdin /dev/null, stdout+stderr the pipe, default signal handling */
                sigset_t all;

                sigemptyset(&all);
                (void) sigprocmask(SIG_SETMASK, &all, NULL);
                for (int s = 1; s < _NSIG; s++)
                        (void) signal(s, SIG_DFL);
                if (dup2(devnull, STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0 ||
                    dup2(pipefd[1], STDERR_FILENO) < 0)
                        _exit(127);
                if (chrooted && (chroot(c->root) < 0 || chdir("/") < 0)) {
                        dprintf(STDERR_FILENO, "azl-agent: cannot chroot into %s: %m\n", c->root);
                        _exit(127);
                }
                if (!chrooted && chdir("/") < 0)
                        _exit(127);
                (void) umask(0022);
                execve(exe, args, envp);
                dprintf(STDERR_FILENO, "azl-agent: cannot execute %s: %m\n", exe);
                _exit(errno == ENOENT ? 127 : 126);
        }
        close(pipefd[1]);
        for (;;) {
                char buf[4096];
                ssize_t n = read(pipefd[0], buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                log_write(log, buf, (size_t) n);
                if (journal >= 0 && write(journal, buf, (size_t) n) < 0)
                        closep(&journal);
                /* keep the last USERDATA_OUTPUT_TAIL_MAX bytes */
                if ((size_t) n >= USERDATA_OUTPUT_TAIL_MAX) {
                        memcpy(kept, buf + n - USERDATA_OUTPUT_TAIL_MAX, USERDATA_OUTPUT_TAIL_MAX);
                        nkept = USERDATA_OUTPUT_TAIL_MAX;
                } else {
                        size_t drop = nkept + (size_t) n > USERDATA_OUTPUT_TAIL_MAX
                                              ? nkept + (size_t) n - USERDATA_OUTPUT_TAIL_MAX
                                              : 0;

                        memmove(kept, kept + drop, nkept - drop);
                        nkept -= drop;
                        memcpy(kept + nkept, buf, (size_t) n);
                        nkept += (size_t) n;
                }
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return negative_errno();
        if (WIFEXITED(status))
                ret->exit_status = WEXITSTATUS(status);
        else if (WIFSIGNALED(status))
                ret->signal = WTERMSIG(status);
        r = make_tail(kept, nkept, &ret->tail);
        if (r < 0)
                return r;
        return 0;
}
