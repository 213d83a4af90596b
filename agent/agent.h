/* SPDX-License-Identifier: MIT */
/*
 * The azl-agent program: verbs (subcommands) and what they share. Each verb lives in its own verb-*.c and
 * receives the Context set up by main() (configuration loaded, root opened, platform detected).
 */
#pragma once

#include "context.h"

typedef struct Verb {
        const char *name;
        const char *summary;
        int (*run)(Context *c, int argc, char **argv);
} Verb;

/* Exit codes beyond 0/1, shared by verbs (documented in docs/cli.md). */
#define EXIT_DEGRADED        2 /* done, but something failed (user data scripts, like cloud-init's 2) */
#define EXIT_NOT_IMPLEMENTED 3
#define EXIT_NOT_APPLICABLE  4 /* not on a platform this verb serves */

/* The document of `status --json` from the state file (not the daemon), for collect-logs. */
int status_json(Context *c, char **ret);

int verb_detect(Context *c, int argc, char **argv);
int verb_attest(Context *c, int argc, char **argv);
int verb_config(Context *c, int argc, char **argv);
int verb_provision(Context *c, int argc, char **argv);
int verb_daemon(Context *c, int argc, char **argv);
int verb_status(Context *c, int argc, char **argv);
int verb_wsl_setup(Context *c, int argc, char **argv);
int verb_deprovision(Context *c, int argc, char **argv);
int verb_collect_logs(Context *c, int argc, char **argv);
int verb_analyze(Context *c, int argc, char **argv);
int verb_userdata(Context *c, int argc, char **argv);
