/* SPDX-License-Identifier: MIT */
/*
 * Running what the user handed us (scripts, runcmd, bootcmd, boothooks, package commands) with cloud-init's
 * treatment of its output: stdout and stderr together, to the journal and to a log file, like
 * /var/log/cloud-init-output.log; and, unlike cloud-init, each after-Ready script in a transient unit of its own
 * (`systemd-run --wait --pipe --collect`), so that `systemctl status azl-userdata-runcmd` and its cgroup show
 * what it did and left running. No shell is involved: the argv is executed (a script by its shebang).
 *
 * Where the root is not the running system (--root: an image, a test tree) the command runs chrooted into it,
 * directly (no systemd-run), with the same output handling minus the journal.
 *
 * The log file (USERDATA_LOG_FILE, 0600 root) is capped: beyond USERDATA_LOG_MAX it is rotated to ".1" at the
 * start of a run, and a run stops writing to it at the cap (the journal still gets everything).
 */
#pragma once

#include <stdbool.h>

#include "context.h"

typedef struct UdLog {
        int fd; /* -EBADF when the log file could not be opened */
        uint64_t size;
        bool capped;
} UdLog;

typedef struct UdExecResult {
        int exit_status; /* 0…255; -1 when killed by a signal or it could not start */
        int signal;      /* the killing signal, or 0 */
        char *tail;      /* the last lines of output (valid UTF-8), may be "" */
} UdExecResult;

void ud_exec_result_done(UdExecResult *r);

/* Opens (creating, rotating when over the cap) the log file under the root. Never fails: without a log
 * file log->fd is negative and output goes to the journal only. */
void userdata_log_open(Context *c, UdLog *log);
void userdata_log_close(UdLog *log);
/* Writes a line of our own ("[azl-agent] …") to the log file. */
void userdata_log_line(UdLog *log, const char *fmt, ...) __attribute__((__format__(printf, 2, 3)));

/* Is this the running system with systemd as init (transient units possible)? */
bool userdata_have_systemd(const Context *c);

/*
 * Runs argv (argv[0]: an absolute path within the root). unit: the transient unit name ("azl-userdata-runcmd")
 * or NULL to run in our own cgroup (bootcmd, boothooks during provisioning). env: extra "NAME=value" entries
 * (NULL-terminated, may be NULL). ident: the journal's SYSLOG_IDENTIFIER for the output lines. Returns 0 with
 * *ret filled when the command ran (whatever its exit status), -errno when it could not be started.
 */
int userdata_exec(Context *c, char *const *argv, const char *unit, char *const *env, const char *ident,
                  UdLog *log, UdExecResult *ret);

/* A unit-name-safe form of a script name: [A-Za-z0-9_.-], anything else as '_'. */
char *userdata_unit_name(const char *prefix, const char *name);
