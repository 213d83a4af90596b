/* SPDX-License-Identifier: MIT */
/* Scratch root helpers for the provisioners' tests, see scratch-root.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "scratch-root.h"
#include "spawn-util.h"

static void copy_from_host(int root_fd, const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size;

        if (fd < 0)
                fail_msg("cannot open host %s: %s", path, strerror(errno));
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(read_full_fd(fd, 16U * 1024U * 1024U, &buf, &size), 0);
        assert_int_equal(write_file_atomic_in_root(root_fd, path, buf, size, st.st_mode & 07777, st.st_uid,
                                                   st.st_gid, WRITE_MKDIR),
                         0);
}

char *scratch_root_new(void) {
        static const char *const files[] = {
                "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/login.defs",
        };
        _cleanup_close_ int root_fd = -EBADF;
        char *root = tmpdir_new();

        assert_int_equal(chmod(root, 0755), 0);
        assert_int_equal(root_open(root, &root_fd), 0);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                copy_from_host(root_fd, files[i]);
        assert_int_equal(mkdir_p_in_root(root_fd, "/etc/sudoers.d", 0750), 0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/etc/ssh/sshd_config.d", 0755), 0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/home", 0755), 0);
        assert_int_equal(write_string_file_atomic_in_root(root_fd, "/etc/skel/.bashrc", "# scratch skel\n",
                                                          0644, WRITE_MKDIR),
                         0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/dev", 0755), 0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/proc", 0555), 0);
        scratch_install_tools(root);
        return root;
}

void scratch_install_tools(const char *root) {
        _cleanup_free_ char *script = NULL;
        const char *src = getenv("AZL_SOURCE_ROOT");

        if (!src)
                fail_msg("AZL_SOURCE_ROOT is not set (meson test sets it)");
        assert_true(asprintf(&script, "%s/tests/integration/install-root-tools.sh", src) > 0);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "bash", script, (char *) root, NULL}, NULL),
                         0);
}

void scratch_context(Context *c, const char *root) {
        assert_int_equal(context_init(c, root, NULL), 0);
        assert_non_null(c->root);
        c->platform.platform = PLATFORM_NONE;
}

char *scratch_read(const char *root, const char *rel) {
        _cleanup_close_ int root_fd = -EBADF;
        char *buf = NULL;

        assert_int_equal(root_open(root, &root_fd), 0);
        if (read_file_in_root(root_fd, rel, 16U * 1024U * 1024U, &buf, NULL) < 0)
                return NULL;
        return buf;
}

void scratch_stat(const char *root, const char *rel, struct stat *st) {
        _cleanup_free_ char *p = NULL;

        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        if (lstat(p, st) < 0)
                fail_msg("lstat %s: %s", p, strerror(errno));
}

bool scratch_exists(const char *root, const char *rel) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        return lstat(p, &st) >= 0;
}

char *scratch_db_line(const char *root, const char *file, const char *name) {
        _cleanup_free_ char *buf = scratch_read(root, file);
        size_t n = strlen(name);

        if (!buf)
                return NULL;
        for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (strncmp(l, name, n) == 0 && l[n] == ':')
                        return strdup(l);
        return NULL;
}

void require_program_or_skip(const char *program) {
        _cleanup_free_ char *p = NULL;

        if (find_program(program, &p) < 0) {
                fprintf(stderr, "skipped: %s is not installed\n", program);
                exit(EXIT_TEST_SKIP);
        }
}
