/* SPDX-License-Identifier: MIT */
/*
 * Crash injection for the crash-consistency tests (tests/crash/, docs/robustness.md). A crash point is a
 * named place in the code where `kill -9` is interesting: between a temporary file's write and its rename,
 * between two shadow tool calls, before and after each provisioning step and extension operation.
 *
 * Inert unless both hold: the binary was built with -Dcrash_points=true (the default for development
 * builds; azl-agent.spec builds with false, so packaged binaries ignore the variables) and the environment
 * asks for it:
 *
 *   AZL_CRASH_POINT=NAME[@N]     SIGKILL ourselves at the N-th (default first) time NAME is reached
 *   AZL_CRASH_POINT_TRACE=FILE   append "NAME@N" for every point reached (the test's enumeration)
 *
 * Names are "<area>:<what>:<phase>", e.g. "provision:user:start", "write:state.json:tmp-written",
 * "user:account-done", "ext:install:exited". Non-printable bytes and '@' are replaced by '_'.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"

#define CRASH_POINT_NAME_MAX 128U

/* True when this build honours the environment variables above. */
bool crash_points_supported(void);

void crash_point(const char *name);
/* In a worker child that does part of its parent's work (e.g. imds-client's certificate worker): a crash point
 * reached here kills the parent too, as the same crash would have in one process. */
void crash_points_in_worker(pid_t parent);
void crash_pointf(const char *format, ...) _printf_(1, 2);
