/* SPDX-License-Identifier: MIT */
/*
 * The command line of azl-agent and azl-agent-daemon (agent/cli.c): both parse the same global options and run
 * one of their verbs.
 */
#pragma once

#include <stddef.h>

#include "agent.h"

/* Global options, configuration, platform detection, then the verb named by argv: the process exit status. */
int cli_main(int argc, char **argv, const Verb *verbs, size_t n_verbs);

/* The program `name` next to this executable (the build tree), else `installed`: -errno when neither is
 * executable. */
int cli_program_path(const char *name, const char *installed, char **ret);

/* Replaces this process with that program, given cli_main()'s argv unchanged. Returns only on failure. */
int cli_exec(const char *name, const char *installed);
