/* SPDX-License-Identifier: MIT */
/*
 * rusage-run REPORT PROGRAM [ARG...]: runs PROGRAM as a child of this small process and reports what the kernel
 * says about that child alone, for the fault matrix (tests/faults/fault-matrix.py).
 *
 * Why a process in between: a child's ru_maxrss (wait4, getrusage RUSAGE_CHILDREN) is the high-water mark of its
 * whole life, and exec keeps the mark of the memory it replaces (fs/exec.c, setmax_mm_hiwater_rss()). A child
 * forked (or vforked) by the Python harness starts with the harness's ~25 MiB mapped, so wait4 on it reported the
 * harness's RSS, not the agent's. Forked from this process (about 1 MiB), the child's mark is the agent's own
 * (and that of the tools it forks and reaps, which start as its copies: wait4 reports the maximum over the child
 * and its waited-for children).
 *
 * REPORT gets "pid <child>" at once (the harness samples /proc/<pid>/smaps_rollup meanwhile), then "status <wait
 * status> maxrss_kib <ru_maxrss> utime_us <…> stime_us <…>" from wait4(). SIGTERM, SIGINT and SIGHUP are passed
 * on to the child; the exit status (or the signal) of the child is this process's own.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child = 0;

static void forward(int sig) {
        if (child > 0)
                (void) kill(child, sig);
}

int main(int argc, char *argv[]) {
        static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP};
        struct sigaction sa = {.sa_handler = forward};
        struct rusage ru;
        FILE *report;
        int status;
        pid_t pid;

        if (argc < 3) {
                fprintf(stderr, "usage: rusage-run REPORT PROGRAM [ARG...]\n");
                return 2;
        }
        report = fopen(argv[1], "we");
        if (!report) {
                fprintf(stderr, "rusage-run: %s: %s\n", argv[1], strerror(errno));
                return 2;
        }
        setvbuf(report, NULL, _IONBF, 0);
        pid = fork();
        if (pid < 0) {
                fprintf(stderr, "rusage-run: fork: %s\n", strerror(errno));
                return 2;
        }
        if (pid == 0) {
                execvp(argv[2], argv + 2);
                fprintf(stderr, "rusage-run: %s: %s\n", argv[2], strerror(errno));
                _exit(127);
        }
        child = pid;
        for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++)
                (void) sigaction(forwarded[i], &sa, NULL);
        fprintf(report, "pid %d\n", (int) pid);
        while (wait4(pid, &status, 0, &ru) < 0)
                if (errno != EINTR) {
                        fprintf(stderr, "rusage-run: wait4: %s\n", strerror(errno));
                        return 2;
                }
        fprintf(report, "status %d maxrss_kib %ld utime_us %lld stime_us %lld\n", status, ru.ru_maxrss,
                (long long) ru.ru_utime.tv_sec * 1000000LL + ru.ru_utime.tv_usec,
                (long long) ru.ru_stime.tv_sec * 1000000LL + ru.ru_stime.tv_usec);
        fclose(report);
        if (WIFSIGNALED(status)) {
                signal(WTERMSIG(status), SIG_DFL);
                raise(WTERMSIG(status));
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : 2;
}
