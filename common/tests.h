/* SPDX-License-Identifier: MIT */
/*
 * Test helpers shared by every module's cmocka tests: scratch directories, fixture paths, skipping.
 * Exit code 77 tells meson a test was skipped (a needed privilege or kernel feature is missing).
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define EXIT_TEST_SKIP 77

/* Creates a fresh directory under $TMPDIR (or /tmp); removed with its contents by tmpdir_remove(). */
char *tmpdir_new(void);
void tmpdir_remove(char *dir);

/* Absolute path of a WALinuxAgent fixture ($AZL_FIXTURES/<rel>); NULL when not configured. */
char *fixture_path(const char *rel);
/* Reads a fixture fully; fails the test if it cannot. */
char *fixture_read(const char *rel, size_t *ret_size);

/* Writes a file below dir (creating parents), failing the test on error. */
void write_test_file(const char *dir, const char *rel, const char *content);

/* Exits 77 with a message unless running as root. */
void require_root_or_skip(const char *why);
