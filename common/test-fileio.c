/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "tests.h"

static void test_atomic_write_mode_and_bytes(void **state) {
        _cleanup_close_ int root = -EBADF;
        char *dir = tmpdir_new(), *data = NULL, *p = NULL;
        struct stat st;
        size_t size;
        mode_t old = umask(077);

        assert_int_equal(root_open(dir, &root), 0);
        /* A public file written under a strict umask still gets exactly 0644, a secret exactly 0600. */
        assert_int_equal(write_string_file_atomic_in_root(root, "/etc/azl/a.conf", "hello\n", 0644, WRITE_MKDIR), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/etc/azl/secret", "s3cret", 0600, 0), 0);
        umask(old);

        assert_true(asprintf(&p, "%s/etc/azl/a.conf", dir) > 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        free(p);
        assert_true(asprintf(&p, "%s/etc/azl/secret", dir) > 0);
        assert_int_equal(stat(p, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        free(p);

        assert_int_equal(read_file_in_root(root, "etc/azl/a.conf", 100, &data, &size), 0);
        assert_int_equal(size, 6);
        assert_string_equal(data, "hello\n");
        free(data);

        /* Replace: the old content is gone, no temporary file is left behind. */
        assert_int_equal(write_string_file_atomic_in_root(root, "/etc/azl/a.conf", "bye", 0644, 0), 0);
        assert_int_equal(read_file_in_root(root, "/etc/azl/a.conf", 100, &data, &size), 0);
        assert_string_equal(data, "bye");
        free(data);
        assert_true(asprintf(&p, "ls -A %s/etc/azl | grep -c '^\\.#' >/dev/null", dir) > 0);
        assert_int_not_equal(system(p), 0);
        free(p);
        tmpdir_remove(dir);
}

static void test_read_limit(void **state) {
        _cleanup_close_ int root = -EBADF;
        char *dir = tmpdir_new(), *data = (char *) 0x1;

        assert_int_equal(root_open(dir, &root), 0);
        write_test_file(dir, "f", "0123456789");
        assert_int_equal(read_file_in_root(root, "f", 9, &data, NULL), -E2BIG);
        assert_ptr_equal(data, (char *) 0x1); /* ret untouched on failure */
        assert_int_equal(read_file_in_root(root, "f", 10, &data, NULL), 0);
        assert_string_equal(data, "0123456789");
        free(data);
        assert_int_equal(read_file_in_root(root, "missing", 10, &data, NULL), -ENOENT);
        tmpdir_remove(dir);
}

static void test_symlink_cannot_escape_root(void **state) {
        _cleanup_close_ int root = -EBADF;
        char *dir = tmpdir_new(), *outside = tmpdir_new(), *link = NULL, *target = NULL, *data = NULL;

        write_test_file(outside, "victim", "outside\n");
        write_test_file(dir, "victim", "inside\n");
        assert_int_equal(root_open(dir, &root), 0);

        /* An absolute symlink inside the root resolves against the root, not the host. */
        assert_true(asprintf(&link, "%s/abs", dir) > 0);
        assert_true(asprintf(&target, "%s/victim", outside) > 0);
        assert_int_equal(symlink("/victim", link), 0);
        assert_int_equal(read_file_in_root(root, "/abs", 100, &data, NULL), 0);
        assert_string_equal(data, "inside\n");
        free(data);
        free(link);

        /* ".." cannot climb above the root either. */
        assert_int_equal(read_file_in_root(root, "/../../../../victim", 100, &data, NULL), 0);
        assert_string_equal(data, "inside\n");
        free(data);

        /* Writing through a symlinked directory stays inside. */
        assert_true(asprintf(&link, "%s/etc", dir) > 0);
        assert_int_equal(symlink("/../..", link), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/etc/victim", "written\n", 0644, 0), 0);
        assert_int_equal(read_file_in_root(root, "/victim", 100, &data, NULL), 0);
        assert_string_equal(data, "written\n");
        free(data);
        {
                _cleanup_close_ int host = -EBADF;
                assert_int_equal(root_open(outside, &host), 0);
                assert_int_equal(read_file_in_root(host, "victim", 100, &data, NULL), 0);
                assert_string_equal(data, "outside\n");
                free(data);
        }
        free(link);
        free(target);
        tmpdir_remove(dir);
        tmpdir_remove(outside);
}

static void test_mkdir_p_and_unlink(void **state) {
        _cleanup_close_ int root = -EBADF;
        char *dir = tmpdir_new();

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(mkdir_p_in_root(root, "/var/lib/azl-agent", 0700), 0);
        assert_int_equal(mkdir_p_in_root(root, "/var/lib/azl-agent", 0700), 0);
        assert_int_equal(access_in_root(root, "/var/lib/azl-agent"), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/var/lib/azl-agent/x", "1", 0600, 0), 0);
        assert_int_equal(unlink_in_root(root, "/var/lib/azl-agent/x"), 0);
        assert_int_equal(access_in_root(root, "/var/lib/azl-agent/x"), -ENOENT);
        assert_int_equal(mkdir_p_in_root(root, "/a/../b", 0755), -EINVAL);
        tmpdir_remove(dir);
}

static void test_path_join_root(void **state) {
        char *s;

        assert_int_equal(path_join_root(NULL, "/etc/passwd", &s), 0);
        assert_string_equal(s, "/etc/passwd");
        free(s);
        assert_int_equal(path_join_root("/srv/root", "/etc/passwd", &s), 0);
        assert_string_equal(s, "/srv/root/etc/passwd");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_atomic_write_mode_and_bytes),
                cmocka_unit_test(test_read_limit),
                cmocka_unit_test(test_symlink_cannot_escape_root),
                cmocka_unit_test(test_mkdir_p_and_unlink),
                cmocka_unit_test(test_path_join_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
