/* SPDX-License-Identifier: MIT */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "strutil.h"
#include "tests.h"

unsigned tests_skipped = 0;

int tests_run_group(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                    CMFixtureFunction teardown) {
        int r = _cmocka_run_group_tests(name, tests, n, setup, teardown);

        if (r != 0)
                return 1; /* never 77 by accident: a failure is a failure */
        if (tests_skipped > 0) {
                fprintf(stderr,
                        "SKIP: %u of %zu test case(s) skipped (listed above); exiting %d so that this "
                        "binary is not counted as a pass\n",
                        tests_skipped, n, EXIT_TEST_SKIP);
                return EXIT_TEST_SKIP;
        }
        return 0;
}

char *tmpdir_new(void) {
        const char *base = getenv("TMPDIR") ?: "/tmp";
        char *t = NULL;

        assert_true(asprintf(&t, "%s/azl-test-XXXXXX", base) > 0);
        assert_non_null(mkdtemp(t));
        return t;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

void tmpdir_remove(char *dir) {
        if (!dir)
                return;
        (void) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
}

static char *read_or_fail(const char *what, const char *p, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        char *data = NULL;

        assert_non_null(p);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("cannot open %s %s: %s", what, p, strerror(errno));
        assert_int_equal(read_full_fd(fd, 64U * 1024U * 1024U, &data, ret_size), 0);
        return data;
}

char *test_source_path(const char *rel) {
        const char *base = getenv("AZL_SOURCE_ROOT");
        char *p = NULL;

        if (!base)
                fail_msg("AZL_SOURCE_ROOT is not set (run the tests with meson test)");
        assert_true(asprintf(&p, "%s/%s", base, rel) > 0);
        return p;
}

char *test_source_read(const char *rel, size_t *ret_size) {
        _cleanup_free_ char *p = test_source_path(rel);

        return read_or_fail("source file", p, ret_size);
}

char *test_data_path(const char *rel) {
        _cleanup_free_ char *r = NULL;

        assert_true(asprintf(&r, "tests/data/%s", rel) > 0);
        return test_source_path(r);
}

char *test_data_read(const char *rel, size_t *ret_size) {
        _cleanup_free_ char *p = test_data_path(rel);

        return read_or_fail("test data", p, ret_size);
}

/* Set once main() entered the interop group: only then may peer fixtures be read. */
static bool interop_mode = false;

bool test_interop_mode(int argc, char *argv[]) {
        const char *dir = getenv("AZL_FIXTURES");
        struct stat st;

        if (argc < 2)
                return false;
        if (argc > 2 || !streq(argv[1], "interop")) {
                fprintf(stderr, "usage: %s [interop]\n", argv[0]);
                exit(2);
        }
        if (isempty(dir)) {
                printf("%s\n", INTEROP_SKIP_LINE);
                exit(EXIT_TEST_SKIP);
        }
        /* Asked for and not there is a mistake, not a skip. */
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "interop: the fixtures directory %s does not exist\n", dir);
                exit(EXIT_FAILURE);
        }
        interop_mode = true;
        return true;
}

char *fixture_path(const char *rel) {
        const char *base = getenv("AZL_FIXTURES");
        char *p = NULL;

        if (!base)
                return NULL;
        if (asprintf(&p, "%s/%s", base, rel) < 0)
                return NULL;
        return p;
}

char *fixture_read(const char *rel, size_t *ret_size) {
        _cleanup_free_ char *p = NULL;

        if (!interop_mode)
                fail_msg("peer fixture %s read outside the interop group", rel);
        p = fixture_path(rel);
        return read_or_fail("peer fixture", p, ret_size);
}

void write_test_file(const char *dir, const char *rel, const char *content) {
        _cleanup_close_ int root = -EBADF;

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, rel, content, 0644, WRITE_MKDIR), 0);
}

void require_root_or_skip(const char *why) {
        if (geteuid() != 0) {
                fprintf(stderr, "skipped: needs root (%s)\n", why);
                exit(EXIT_TEST_SKIP);
        }
}
