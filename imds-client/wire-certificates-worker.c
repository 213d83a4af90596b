/* SPDX-License-Identifier: MIT */
/*
 * The daemon's certificate pass in a child process (azure-client.h): the child loads or makes the transport
 * key, fetches and decrypts the tenant certificates and writes them (protocol §1.6), then tells the parent what
 * it stored through a pipe and exits. The transport key, the tenant keys and what OpenSSL keeps after a key
 * generation or a PEM decode (≈ 200 kB of heap) never live in the long-running daemon.
 *
 * The answer on the pipe, at most CERT_WORKER_ANSWER_MAX bytes (less than a pipe's buffer, so the child never
 * blocks on it): "<errno>\n<reason>\n<thumbprint>\n…". The parent is woken by the pidfd, reaps the child and
 * reads the answer; a child that died without one is -EPROTO.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "azure-client-internal.h"
#include "certificates.h"
#include "crash-point.h"
#include "log.h"
#include "macro.h"
#include "spawn-util.h"
#include "strutil.h"

#define CERT_WORKER_ANSWER_MAX (32U * 1024U)
/* A child that neither answers nor exits (it is bounded by its single HTTP request's timeout) is killed. */
#define CERT_WORKER_TIMEOUT_USEC (10U * 60U * 1000000ULL)

struct WireCertificatesWorker {
        AzureClient *client;
        pid_t pid;
        int pidfd, answer_fd;
        sd_event_source *exit_source, *timeout_source;
        WireCertificatesWorkerCallback callback;
        void *userdata;
};

static void close_fd(int *fd) {
        closep(fd);
        *fd = -EBADF;
}

WireCertificatesWorker *wire_certificates_worker_cancel(WireCertificatesWorker *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->exit_source);
        sd_event_source_disable_unref(w->timeout_source);
        if (w->pidfd >= 0) {
                /* Cancelled (or timed out) while it runs: it must not write anything more. */
                (void) syscall(SYS_pidfd_send_signal, w->pidfd, SIGKILL, NULL, 0);
                (void) waitid(P_PIDFD, (id_t) w->pidfd, NULL, WEXITED);
        }
        close_fd(&w->pidfd);
        close_fd(&w->answer_fd);
        free(w);
        return NULL;
}

/* ---- the child ---- */

static void log_transport_setup(const AzureClient *c, int r, bool generated) {
        if (r == TRANSPORT_CERT_IN_MEMORY) /* the WireServer takes a new one any time */
                log_error("Confidential VM: %s is not on tmpfs, the transport key stays in memory "
                          "([Confidential] SecretsDirectory=).",
                          strna(c->secrets_dir));
        else if (r == TRANSPORT_CERT_REPLACED)
                log_info("Confidential VM: replacing the transport key on disk with one on tmpfs (%s).",
                         strna(c->secrets_dir));
        else if (generated)
                log_info("Generated the transport certificate in %s.", strna(c->lib_dir));
}

/* What the child does; returns the answer's errno and sets *ret_reason. Stored thumbprints in cc. */
static int worker_run(AzureClient *parent, const RetryPolicy *policy, AzureClient **ret_client,
                      char **ret_reason) {
        WireOptions o = {
                .endpoint = parent->endpoint,
                .hgap_port = parent->hgap_port,
                .http_timeout = parent->http_timeout,
                .policy = *policy,
        };
        _cleanup_(certificate_list_done) CertificateList list = {};
        AzureClient *cc = NULL;
        bool generated = false;
        int r;

        r = azure_client_new(NULL, &o, &cc);
        if (r < 0)
                return r;
        *ret_client = cc;
        cc->root_fd = parent->root_fd;
        cc->lib_dir = parent->lib_dir;
        cc->secrets_dir = parent->secrets_dir;
        r = azure_client_transport_cert_setup(cc, &generated);
        if (r < 0) {
                if (asprintf(ret_reason, "Failed to set up the transport certificate in %s: %s",
                             strna(cc->lib_dir), strerror(-r)) < 0)
                        *ret_reason = NULL;
                return r;
        }
        log_transport_setup(cc, r, generated);
        r = wire_certificates_run(cc, &parent->goal_state, policy, &list, ret_reason);
        if (r < 0)
                return r;
        return azure_client_certificates_store(cc, &list);
}

static _noreturn_ void worker_main(AzureClient *parent, const RetryPolicy *policy, pid_t parent_pid,
                                   int fd) {
        _cleanup_free_ char *reason = NULL, *answer = NULL;
        AzureClient *cc = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        (void) prctl(PR_SET_NAME, "azl-certs");
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent_pid)
                _exit(EXIT_FAILURE);
        crash_points_in_worker(parent_pid);

        r = worker_run(parent, policy, &cc, &reason);
        for (char *c = reason; c && *c; c++) /* one line: the answer is line-based */
                if (*c == '\n' || *c == '\r')
                        *c = ' ';
        f = open_memstream(&answer, &size);
        if (!f)
                _exit(EXIT_FAILURE);
        fprintf(f, "%d\n%s\n", r, reason ? reason : "");
        if (r >= 0 && cc)
                for (char **t = cc->thumbprints; t && *t; t++)
                        fprintf(f, "%s\n", *t);
        if (fclose(f) != 0)
                _exit(EXIT_FAILURE);
        if (size > CERT_WORKER_ANSWER_MAX) {
                free(answer);
                if (asprintf(&answer, "%d\nToo many certificates to report\n", -E2BIG) < 0)
                        _exit(EXIT_FAILURE);
                size = strlen(answer);
        }
        if (write(fd, answer, size) != (ssize_t) size)
                _exit(EXIT_FAILURE);
        /* Nothing of the parent's is freed here (its event loop, its bus): the process just ends. */
        _exit(EXIT_SUCCESS);
}

/* ---- the parent ---- */

/* "<errno>\n<reason>\n<thumb>\n…" → r, reason, thumbprints. -EPROTO when it is not that. */
static int answer_parse(char *text, int *ret_error, char **ret_reason, char ***ret_thumbprints) {
        _cleanup_strv_free_ char **thumbs = NULL;
        char *line, *save = NULL, *end;
        long e;

        line = strsep(&text, "\n");
        if (!line || !text)
                return -EPROTO;
        errno = 0;
        e = strtol(line, &end, 10);
        if (errno || *end || e > 0 || e < -4095)
                return -EPROTO;
        line = strsep(&text, "\n");
        if (!line || !text)
                return -EPROTO;
        if (*line && !(*ret_reason = strdup(line)))
                return -ENOMEM;
        for (char *t = strtok_r(text, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                if (!wire_thumbprint_is_valid(t))
                        return -EPROTO; /* what azure_client_certificates_store() records */
                if (strv_extend(&thumbs, t) < 0)
                        return -ENOMEM;
        }
        *ret_error = (int) e;
        *ret_thumbprints = TAKE_PTR(thumbs);
        return 0;
}

static void worker_finish(WireCertificatesWorker *w, int error, char **thumbprints, const char *reason) {
        w->callback(w, error, thumbprints, reason, w->userdata);
        wire_certificates_worker_cancel(w);
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        _cleanup_strv_free_ char **thumbs = NULL;
        _cleanup_free_ char *reason = NULL, *buf = NULL;
        WireCertificatesWorker *w = userdata;
        siginfo_t si = {};
        size_t n = 0;
        int error, r;

        if (waitid(P_PIDFD, (id_t) w->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
                return 0; /* not yet (a spurious wake-up) */
        close_fd(&w->pidfd);
        buf = malloc(CERT_WORKER_ANSWER_MAX + 1); /* not on the stack: its pages would stay dirty */
        if (!buf) {
                worker_finish(w, -ENOMEM, NULL, NULL);
                return 0;
        }
        while (n < CERT_WORKER_ANSWER_MAX) {
                ssize_t k = read(w->answer_fd, buf + n, CERT_WORKER_ANSWER_MAX - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                n += (size_t) k;
        }
        buf[n] = 0;
        if (si.si_code != CLD_EXITED || si.si_status != 0 || n == 0) {
                if (asprintf(&reason, "The certificate worker (pid %d) %s %d without an answer",
                             (int) w->pid,
                             si.si_code == CLD_EXITED ? "exited with status" : "was killed by signal",
                             si.si_status) < 0)
                        reason = NULL;
                worker_finish(w, -EPROTO, NULL, reason);
                return 0;
        }
        r = answer_parse(buf, &error, &reason, &thumbs);
        if (r < 0) {
                worker_finish(w, r, NULL,
                              r == -EPROTO ? "The certificate worker's answer is malformed" : NULL);
                return 0;
        }
        if (error >= 0) {
                strv_free(w->client->thumbprints);
                w->client->thumbprints = TAKE_PTR(thumbs);
        }
        worker_finish(w, error, error >= 0 ? w->client->thumbprints : NULL, reason);
        return 0;
}

static int on_worker_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        WireCertificatesWorker *w = userdata;
        char reason[96];

        (void) snprintf(reason, sizeof reason, "The certificate worker (pid %d) did not finish in %llu s",
                        (int) w->pid, (unsigned long long) (CERT_WORKER_TIMEOUT_USEC / 1000000ULL));
        worker_finish(w, -ETIMEDOUT, NULL, reason);
        return 0;
}

int wire_certificates_worker_start(AzureClient *c, const RetryPolicy *p, WireCertificatesWorkerCallback cb,
                                   void *userdata, WireCertificatesWorker **ret) {
        _cleanup_close_ int read_fd = -EBADF, write_fd = -EBADF;
        int pipefd[2];
        WireCertificatesWorker *w;
        pid_t parent = getpid(), pid;
        int r;

        if (!c || !cb)
                return -EINVAL;
        if (!c->goal_state.certificates_url)
                return -ENOENT;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        read_fd = pipefd[0];
        write_fd = pipefd[1];
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        *w = (WireCertificatesWorker){
                .client = c,
                .pidfd = -EBADF,
                .answer_fd = -EBADF,
                .callback = cb,
                .userdata = userdata,
        };
        fflush(NULL); /* nothing buffered is written twice */
        pid = fork();
        if (pid < 0) {
                r = -errno;
                free(w);
                return r;
        }
        if (pid == 0) {
                close_fd(&read_fd);
                worker_main(c, p ? p : &c->policy, parent, write_fd);
        }
        w->pid = pid;
        w->pidfd = pidfd_open_child(pid);
        if (w->pidfd < 0) {
                r = w->pidfd;
                free(w);
                return r;
        }
        w->answer_fd = TAKE_FD(read_fd);
        r = sd_event_add_io(c->event, &w->exit_source, w->pidfd, EPOLLIN, on_worker_exit, w);
        if (r >= 0)
                r = sd_event_add_time_relative(c->event, &w->timeout_source, CLOCK_MONOTONIC,
                                               CERT_WORKER_TIMEOUT_USEC, 0, on_worker_timeout, w);
        if (r < 0) {
                wire_certificates_worker_cancel(w);
                return r;
        }
        if (ret)
                *ret = w;
        return 0;
}
