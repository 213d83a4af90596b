/* SPDX-License-Identifier: MIT */
/*
 * Test helpers shared by every module's cmocka tests: scratch directories, test data, skipping.
 * Exit code 77 tells meson a test was skipped (a needed privilege or kernel feature is missing).
 *
 * Test data comes from two places. The repository's own documents (tests/data/, tests/data/README.md) feed
 * every default test. The peer fixtures (WALinuxAgent's test data, a directory given with -Dfixtures_dir= or
 * $AZL_FIXTURES) feed only the interop suite: a test binary started with the argument "interop" runs its
 * interop group, and exits 77 with INTEROP_SKIP_LINE when no such directory was given (tests/interop/README.md).
 *
 * cmocka itself counts a skip() as a pass: its run returns the number of failures only, so a binary whose
 * cases all skipped exited 0 and meson said OK. Here skip() also counts the skip, and cmocka_run_group_tests()
 * returns 77 when any case was skipped and none failed: the binary shows as SKIP in the meson summary (the
 * cases that did pass are listed in its log), never as a pass of something that did not run. A failure still
 * makes it FAIL. docs/security.md, "Tests that tell the truth".
 */
#pragma once

#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define EXIT_TEST_SKIP 77

/* Skips counted by skip() in this process. */
extern unsigned tests_skipped;

#undef skip
#define skip()                                                                                              \
        do {                                                                                                \
                tests_skipped++;                                                                            \
                _skip(__FILE__, __LINE__);                                                                  \
        } while (0)

/* cmocka's run, then: failures → 1, else skips → EXIT_TEST_SKIP (with a line saying how many), else 0. */
int tests_run_group(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                    CMFixtureFunction teardown);

#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group_tests, group_setup, group_teardown)                                    \
        tests_run_group(#group_tests, group_tests, sizeof(group_tests) / sizeof((group_tests)[0]),          \
                        group_setup, group_teardown)

/* Creates a fresh directory under $TMPDIR (or /tmp); removed with its contents by tmpdir_remove(). */
char *tmpdir_new(void);
void tmpdir_remove(char *dir);

/* A reader of test documents by relative path: test_data_read() or fixture_read(). */
typedef char *(*TestReadFn)(const char *rel, size_t *ret_size);

/* Absolute path of a document of the repository's own test data ($AZL_SOURCE_ROOT/tests/data/<rel>). */
char *test_data_path(const char *rel);
/* Reads it fully (NUL-terminated); fails the test if it cannot. */
char *test_data_read(const char *rel, size_t *ret_size);
/* The same for any file of the source tree ($AZL_SOURCE_ROOT/<rel>). */
char *test_source_path(const char *rel);
char *test_source_read(const char *rel, size_t *ret_size);

#define INTEROP_SKIP_LINE "interop: no fixtures directory given (-Dfixtures_dir= or AZL_FIXTURES); skipping"

/* true when started as "<test> interop": then exits 77 with INTEROP_SKIP_LINE when $AZL_FIXTURES is empty or
 * unset, and fails (exit 1) when it names no directory. false (own data) without arguments; any other argument
 * is a usage error (exit 2). */
bool test_interop_mode(int argc, char *argv[]);
/* Absolute path of a peer fixture ($AZL_FIXTURES/<rel>); NULL when not configured. Interop tests only. */
char *fixture_path(const char *rel);
/* Reads a peer fixture fully; fails the test if it cannot. Interop tests only. */
char *fixture_read(const char *rel, size_t *ret_size);

/* Writes a file below dir (creating parents), failing the test on error. */
void write_test_file(const char *dir, const char *rel, const char *content);

/* Exits 77 with a message unless running as root. */
void require_root_or_skip(const char *why);
