/* SPDX-License-Identifier: MIT */
/*
 * scrub: a file that held a secret is replaced or removed, and the old inode — which someone may still hold
 * open — no longer has the bytes. Never zeroes what is not the file itself (a symlink's target, a hard link).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "scrub.h"
#include "tests.h"

#define SECRET "password=Scrub-Me-Pw-0815\n"

static int open_host(const char *dir, const char *rel) {
        _cleanup_free_ char *p = NULL;
        int fd;

        assert_true(asprintf(&p, "%s/%s", dir, rel) > 0);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        return fd;
}

static char *read_rel(int root, const char *rel) {
        char *data = NULL;

        assert_int_equal(read_file_in_root(root, rel, 4096, &data, NULL), 0);
        return data;
}

/* Whatever a holder of the old inode can still read. */
static void assert_inode_empty(int fd) {
        char buf[64];
        struct stat st;

        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, 0);
        assert_int_equal(pread(fd, buf, sizeof buf, 0), 0);
}

static void test_replace(void **state) {
        _cleanup_close_ int root = -EBADF, old = -EBADF;
        _cleanup_free_ char *data = NULL;
        char *dir = tmpdir_new();
        struct stat st;

        assert_int_equal(root_open(dir, &root), 0);
        write_test_file(dir, "seed/ovf-env.xml", SECRET);
        old = open_host(dir, "seed/ovf-env.xml");
        assert_int_equal(scrub_file_replace_in_root(root, "/seed/ovf-env.xml", "redacted\n", 9, 0600), 0);
        data = read_rel(root, "/seed/ovf-env.xml");
        assert_string_equal(data, "redacted\n");
        assert_int_equal(fstatat(root, "seed/ovf-env.xml", &st, 0), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_inode_empty(old);
        /* A missing file is simply written. */
        assert_int_equal(scrub_file_replace_in_root(root, "/seed/new", "x", 1, 0600), 0);
        tmpdir_remove(dir);
}

static void test_remove(void **state) {
        _cleanup_close_ int root = -EBADF, old = -EBADF;
        char *dir = tmpdir_new();

        assert_int_equal(root_open(dir, &root), 0);
        write_test_file(dir, "custom-data", SECRET);
        old = open_host(dir, "custom-data");
        assert_int_equal(scrub_file_remove_in_root(root, "/custom-data"), 0);
        assert_int_equal(access_in_root(root, "/custom-data"), -ENOENT);
        assert_inode_empty(old);
        assert_int_equal(scrub_file_remove_in_root(root, "/custom-data"), 0);
        tmpdir_remove(dir);
}

/* A hard link elsewhere and a symlink's target are other files: replaced or removed here, never zeroed. */
static void test_not_other_files(void **state) {
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *a = NULL, *b = NULL, *data = NULL, *l = NULL;
        char *dir = tmpdir_new();

        assert_int_equal(root_open(dir, &root), 0);
        write_test_file(dir, "keep", SECRET);
        assert_true(asprintf(&a, "%s/keep", dir) > 0);
        assert_true(asprintf(&b, "%s/linked", dir) > 0);
        assert_int_equal(link(a, b), 0);
        assert_int_equal(scrub_file_remove_in_root(root, "/linked"), 0);
        data = read_rel(root, "/keep");
        assert_string_equal(data, SECRET);
        free(data);

        write_test_file(dir, "target", SECRET);
        assert_true(asprintf(&l, "%s/symlink", dir) > 0);
        assert_int_equal(symlink("target", l), 0); /* relative: it resolves inside the root */
        assert_int_equal(scrub_file_replace_in_root(root, "/symlink", "new", 3, 0600), 0);
        data = read_rel(root, "/target");
        assert_string_equal(data, SECRET);
        free(data);
        data = read_rel(root, "/symlink");
        assert_string_equal(data, "new");
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_replace),
                cmocka_unit_test(test_remove),
                cmocka_unit_test(test_not_other_files),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
