/* SPDX-License-Identifier: MIT */
/*
 * Helpers of the user-data tests that run things: a scratch root that can execute scripts (the host's /bin/sh
 * and the tools the test scripts use, with their shared libraries, copied in: scripts run chrooted into an
 * alternate root), and small file checks.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "scratch-root.h"
#include "spawn-util.h"

/* Copies host file path (following symlinks) to the same path below root, keeping its mode. */
static inline void ud_copy_in(const char *root, const char *path) {
        _cleanup_close_ int root_fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t size;
        int fd;

        assert_int_equal(root_open(root, &root_fd), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                fail_msg("cannot open %s: %s", path, strerror(errno));
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(read_full_fd(fd, 64U * 1024U * 1024U, &buf, &size), 0);
        close(fd);
        assert_int_equal(
                write_file_atomic_in_root(root_fd, path, buf, size, st.st_mode & 07777, 0, 0, WRITE_MKDIR),
                0);
}

/* Copies program (an absolute host path) and the libraries ldd names for it. */
static inline void ud_install_program(const char *root, const char *program) {
        _cleanup_free_ char *cmd = NULL;
        char line[1024];
        FILE *p;

        ud_copy_in(root, program);
        assert_true(asprintf(&cmd, "ldd %s", program) > 0);
        p = popen(cmd, "r");
        assert_non_null(p);
        while (fgets(line, sizeof line, p)) {
                char *slash = strchr(line, '/'), *end;

                if (!slash)
                        continue;
                end = slash + strcspn(slash, " \t\n(");
                *end = 0;
                ud_copy_in(root, slash);
        }
        pclose(p);
}

/* A root where "#!/bin/sh" scripts run: /bin/sh (the host's, wherever /bin points) and a few tools. */
static inline void ud_install_shell(const char *root) {
        static const char *const tools[] = {"/bin/sh", "/usr/bin/touch", "/usr/bin/id", "/usr/bin/cat"};
        _cleanup_close_ int root_fd = -EBADF;

        assert_int_equal(root_open(root, &root_fd), 0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/var/tmp", 01777), 0);
        for (size_t i = 0; i < ELEMENTSOF(tools); i++) {
                char real[PATH_MAX];

                if (!realpath(tools[i], real))
                        fail_msg("no %s on this host", tools[i]);
                ud_install_program(root, real);
                if (!streq(real, tools[i])) {
                        _cleanup_free_ char *link = NULL;

                        assert_true(asprintf(&link, "%s%s", root, tools[i]) > 0);
                        (void) mkdir_p_in_root(root_fd, "/bin", 0755);
                        (void) mkdir_p_in_root(root_fd, "/usr/bin", 0755);
                        (void) unlink(link);
                        assert_int_equal(symlink(real, link), 0);
                }
        }
}

static inline mode_t ud_mode(const char *root, const char *rel) {
        struct stat st;

        scratch_stat(root, rel, &st);
        return st.st_mode & 07777;
}
