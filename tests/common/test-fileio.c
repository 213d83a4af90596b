/* SPDX-License-Identifier: MIT */
#include <dirent.h>
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
        assert_int_equal(
                write_string_file_atomic_in_root(root, "/etc/azl/a.conf", "hello\n", 0644, WRITE_MKDIR), 0);
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

/* A tree with every kind of hazard: absolute, relative, climbing, looping and dangling symlinks. */
static char *hazard_tree(char **ret_outside) {
        char *dir = tmpdir_new(), *outside = tmpdir_new();
        static const char *const links[][2] = {
                {"abs", "/victim"},
                {"rel-up", "../../../../victim"},
                {"etc", "/../.."},
                {"a/b/up", "../.."},
                {"a/b/abs-dir", "/a"},
                {"loop1", "loop2"},
                {"loop2", "loop1"},
                {"self", "self"},
                {"dangling", "/created-by-link"},
                {"proc-fd", "/proc/self/fd/0"},
                {"empty-dir-link", "a/b/"},
        };

        write_test_file(outside, "victim", "outside\n");
        write_test_file(dir, "victim", "inside\n");
        write_test_file(dir, "a/b/c", "c\n");
        for (size_t i = 0; i < ELEMENTSOF(links); i++) {
                _cleanup_free_ char *p = NULL;

                assert_true(asprintf(&p, "%s/%s", dir, links[i][0]) > 0);
                assert_int_equal(symlink(links[i][1], p), 0);
        }
        *ret_outside = outside;
        return dir;
}

/* Same file (or same error) from the kernel's RESOLVE_IN_ROOT and from the userspace fallback. */
static void test_fallback_matches_openat2(void **state) {
        static const struct {
                const char *path;
                int flags;
        } cases[] = {
                {"/victim", O_RDONLY},
                {"/abs", O_RDONLY},
                {"rel-up", O_RDONLY},
                {"/../../../../victim", O_RDONLY},
                {"etc/victim", O_RDONLY},
                {"etc/etc/etc/a/b/c", O_RDONLY},
                {"a/b/up/victim", O_RDONLY},
                {"a/b/up/a/b/../b/./c", O_RDONLY},
                {"a/b/abs-dir/b/c", O_RDONLY},
                {"a/b/c/", O_RDONLY},
                {"a/b/c/..", O_RDONLY},
                {"a/b/", O_RDONLY | O_DIRECTORY},
                {"empty-dir-link", O_RDONLY | O_DIRECTORY},
                {"/", O_PATH | O_DIRECTORY},
                {"", O_PATH | O_DIRECTORY},
                {"a/../..", O_PATH | O_DIRECTORY},
                {"loop1", O_RDONLY},
                {"self/x", O_RDONLY},
                {"abs", O_RDONLY | O_NOFOLLOW},
                {"abs", O_PATH | O_NOFOLLOW},
                {"missing/x", O_RDONLY},
                {"victim/x", O_RDONLY},
                {"proc-fd", O_RDONLY},
                {"a/b/c", O_RDONLY | O_DIRECTORY},
        };
        char *outside = NULL, *dir = hazard_tree(&outside);
        _cleanup_close_ int root = -EBADF;

        assert_int_equal(root_open(dir, &root), 0);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_close_ int a = -EBADF, b = -EBADF;
                struct stat sa, sb;

                open_in_root_force_fallback(false);
                a = open_in_root(root, cases[i].path, cases[i].flags, 0);
                open_in_root_force_fallback(true);
                b = open_in_root(root, cases[i].path, cases[i].flags, 0);
                open_in_root_force_fallback(false);
                print_message("%-24s openat2 %d fallback %d\n", cases[i].path, a < 0 ? a : 0, b < 0 ? b : 0);
                if (a < 0) {
                        assert_int_equal(b, a);
                        continue;
                }
                assert_true(b >= 0);
                assert_int_equal(fstat(a, &sa), 0);
                assert_int_equal(fstat(b, &sb), 0);
                assert_true(sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino);
        }
        tmpdir_remove(dir);
        tmpdir_remove(outside);
}

/* Creating through a dangling symlink lands inside the root; O_CREAT|O_EXCL does not follow it. */
static void test_fallback_create(void **state) {
        char *outside = NULL, *dir = hazard_tree(&outside), *data = NULL;
        _cleanup_close_ int root = -EBADF, fd = -EBADF;

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(open_in_root(root, "dangling", O_WRONLY | O_CREAT | O_EXCL, 0600), -EEXIST);
        fd = open_in_root(root, "dangling", O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "x", 1), 1);
        assert_int_equal(read_file_in_root(root, "/created-by-link", 10, &data, NULL), 0);
        assert_string_equal(data, "x");
        free(data);
        assert_int_equal(open_in_root(root, "loop1", O_WRONLY | O_CREAT, 0600), -ELOOP);
        assert_int_equal(write_string_file_atomic_in_root(root, "/a/b/up/etc/new", "n", 0644, WRITE_MKDIR),
                         0);
        assert_int_equal(read_file_in_root(root, "/new", 10, &data, NULL), 0);
        assert_string_equal(data, "n");
        free(data);
        tmpdir_remove(dir);
        tmpdir_remove(outside);
}

static int setup_fallback(void **state) {
        open_in_root_force_fallback(true);
        return 0;
}

static int teardown_fallback(void **state) {
        open_in_root_force_fallback(false);
        return 0;
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

/* Symlinked parents resolve from the root: /var/run -> ../run (Azure Linux) and an absolute one. */
static void test_mkdir_p_through_symlinks(void **state) {
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ char *p = NULL;
        char *dir = tmpdir_new(), *data = NULL;
        struct stat st;

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(mkdir_p_in_root(root, "/run", 0755), 0);
        assert_int_equal(mkdir_p_in_root(root, "/var", 0755), 0);
        assert_true(asprintf(&p, "%s/var/run", dir) > 0);
        assert_int_equal(symlink("../run", p), 0);
        free(p);
        assert_true(asprintf(&p, "%s/var/abs", dir) > 0);
        assert_int_equal(symlink("/run", p), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/var/run/azl/a/x", "1", 0644, WRITE_MKDIR),
                         0);
        assert_int_equal(mkdir_p_in_root(root, "/var/abs/azl/b", 0755), 0);
        assert_int_equal(read_file_in_root(root, "/run/azl/a/x", 10, &data, NULL), 0);
        assert_string_equal(data, "1");
        free(data);
        assert_int_equal(access_in_root(root, "/run/azl/b"), 0);
        free(p);
        assert_true(asprintf(&p, "%s/var/run", dir) > 0);
        assert_int_equal(lstat(p, &st), 0);
        assert_true(S_ISLNK(st.st_mode)); /* still the link, nothing created beside it */
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

/* Entries of dir whose names start with ".#": the temporary files of atomic writes. */
static unsigned temporaries_in(int dir_fd) {
        DIR *d = fdopendir(fcntl(dir_fd, F_DUPFD_CLOEXEC, 3));
        unsigned n = 0;

        assert_non_null(d);
        rewinddir(d); /* the duplicate shares the offset a previous listing left at the end */
        for (struct dirent *de; (de = readdir(d));)
                n += strncmp(de->d_name, ".#", 2) == 0;
        closedir(d);
        return n;
}

static void assert_file_in(int root, const char *path, const char *bytes, mode_t mode) {
        _cleanup_close_ int fd = open_in_root(root, path, O_RDONLY, 0);
        char *data = NULL;
        struct stat st;
        size_t size;

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, mode);
        assert_int_equal(read_full_fd(fd, 100, &data, &size), 0);
        assert_string_equal(data, bytes);
        free(data);
}

static void test_write_batch(void **state) {
        _cleanup_close_ int root = -EBADF, d1 = -EBADF, d2 = -EBADF;
        _cleanup_(write_batch_done) WriteBatch b = {};
        char *dir = tmpdir_new();

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/one/a", "old-a", 0644, WRITE_MKDIR), 0);
        assert_int_equal(write_string_file_atomic_in_root(root, "/two/b", "old-b", 0644, WRITE_MKDIR), 0);
        assert_int_equal(mkdir_p_in_root(root, "/one/x/sub", 0755), 0);
        d1 = open_in_root(root, "/one", O_RDONLY | O_DIRECTORY, 0);
        d2 = open_in_root(root, "/two", O_RDONLY | O_DIRECTORY, 0);
        assert_true(d1 >= 0 && d2 >= 0);

        /* Added: complete temporary files beside the targets, which keep their old bytes until the commit. */
        assert_int_equal(write_batch_add_at(&b, d1, "a", "new-a", 5, 0600), 0);
        assert_int_equal(write_batch_add_at(&b, d2, "b", "new-b", 5, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d1, "c", "c1", 2, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d1, "c", "c2", 2, 0640), 0); /* the same name: replaced */
        assert_int_equal(write_batch_add_at(&b, d1, "../a", "x", 1, 0644), -EINVAL);
        assert_int_equal(b.n, 3);
        assert_int_equal(temporaries_in(d1), 2);
        assert_int_equal(temporaries_in(d2), 1);
        assert_file_in(root, "/one/a", "old-a", 0644);
        assert_file_in(root, "/two/b", "old-b", 0644);
        assert_int_equal(access_in_root(root, "/one/c"), -ENOENT);

        assert_int_equal(write_batch_commit(&b), 0);
        assert_int_equal(b.n, 0);
        assert_file_in(root, "/one/a", "new-a", 0600);
        assert_file_in(root, "/two/b", "new-b", 0644);
        assert_file_in(root, "/one/c", "c2", 0640);
        assert_int_equal(temporaries_in(d1), 0);
        assert_int_equal(temporaries_in(d2), 0);

        /* Not committed: nothing changes, nothing is left. */
        assert_int_equal(write_batch_add_at(&b, d2, "b", "lost", 4, 0644), 0);
        write_batch_done(&b);
        assert_file_in(root, "/two/b", "new-b", 0644);
        assert_int_equal(temporaries_in(d2), 0);

        /* Truncated: what was added after the first item is unlinked, the first one still commits. */
        assert_int_equal(write_batch_add_at(&b, d2, "b", "kept", 4, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d1, "a", "dropped", 7, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d1, "d", "dropped", 7, 0644), 0);
        write_batch_truncate(&b, 1);
        assert_int_equal(b.n, 1);
        assert_int_equal(temporaries_in(d1), 0);
        assert_int_equal(temporaries_in(d2), 1);
        assert_int_equal(write_batch_commit(&b), 0);
        assert_file_in(root, "/two/b", "kept", 0644);
        assert_file_in(root, "/one/a", "new-a", 0600);
        assert_int_equal(access_in_root(root, "/one/d"), -ENOENT);

        /* A rename that fails (x is a non-empty directory): the error, the files before it replaced, the
         * ones after it untouched, no temporary file left. */
        assert_int_equal(write_batch_add_at(&b, d1, "a", "a3", 2, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d1, "x", "x", 1, 0644), 0);
        assert_int_equal(write_batch_add_at(&b, d2, "b", "b3", 2, 0644), 0);
        assert_true(write_batch_commit(&b) < 0);
        assert_file_in(root, "/one/a", "a3", 0644);
        assert_file_in(root, "/two/b", "kept", 0644);
        assert_int_equal(temporaries_in(d1), 0);
        assert_int_equal(temporaries_in(d2), 0);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_atomic_write_mode_and_bytes),
                cmocka_unit_test(test_read_limit),
                cmocka_unit_test(test_symlink_cannot_escape_root),
                cmocka_unit_test(test_mkdir_p_and_unlink),
                cmocka_unit_test(test_mkdir_p_through_symlinks),
                cmocka_unit_test(test_path_join_root),
                cmocka_unit_test(test_fallback_matches_openat2),
                cmocka_unit_test(test_fallback_create),
                cmocka_unit_test(test_write_batch),
                /* The same tests with openat2() reported missing: the userspace resolution. */
                cmocka_unit_test_setup_teardown(test_atomic_write_mode_and_bytes, setup_fallback,
                                                teardown_fallback),
                cmocka_unit_test_setup_teardown(test_read_limit, setup_fallback, teardown_fallback),
                cmocka_unit_test_setup_teardown(test_symlink_cannot_escape_root, setup_fallback,
                                                teardown_fallback),
                cmocka_unit_test_setup_teardown(test_mkdir_p_and_unlink, setup_fallback, teardown_fallback),
                cmocka_unit_test_setup_teardown(test_mkdir_p_through_symlinks, setup_fallback,
                                                teardown_fallback),
                cmocka_unit_test_setup_teardown(test_fallback_create, setup_fallback, teardown_fallback),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
