/* SPDX-License-Identifier: MIT */
/*
 * Secrets on tmpfs behind their contract paths (see secret-file.h). Everything is resolved beneath the root fd;
 * the symlink's target is the absolute path of the secret inside that root, so it resolves the same for the agent
 * (RESOLVE_IN_ROOT) and for a handler on the running system.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "secret-file.h"
#include "strutil.h"

int dir_is_tmpfs(int root_fd, const char *dir) {
        _cleanup_close_ int fd = -EBADF;
        struct statfs sfs;

        fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

/* A regular file at dir_fd/name that held a secret: its bytes overwritten with zeros and synced. */
static int wipe_regular_file(int dir_fd, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        static const char zeros[4096];
        struct stat st;

        fd = openat(dir_fd, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT || errno == ELOOP ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        for (off_t off = 0; off < st.st_size;) {
                ssize_t k = pwrite(fd, zeros, (size_t) MIN((off_t) sizeof zeros, st.st_size - off), off);

                if (k < 0)
                        return -errno;
                off += k;
        }
        return fsync(fd) < 0 ? -errno : 0;
}

/* path becomes a symlink to target, atomically (symlink at a temporary name, renamed over path). */
static int link_contract_path(int root_fd, const char *path, const char *target) {
        _cleanup_free_ char *name = NULL, *tmp = NULL, *current = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        dir_fd = open_parent_in_root(root_fd, path, true, &name);
        if (dir_fd < 0)
                return dir_fd;
        current = calloc(1, PATH_MAX);
        if (!current)
                return -ENOMEM;
        r = (int) readlinkat(dir_fd, name, current, PATH_MAX - 1);
        if (r >= 0 && streq(current, target))
                return 0; /* already in place */
        r = wipe_regular_file(dir_fd, name);
        if (r < 0)
                return r;
        if (asprintf(&tmp, ".#%s.%08x", name, (unsigned) random()) < 0)
                return -ENOMEM;
        if (symlinkat(target, dir_fd, tmp) < 0)
                return -errno;
        if (renameat(dir_fd, tmp, dir_fd, name) < 0) {
                r = -errno;
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return fsync(dir_fd) < 0 ? -errno : 0;
}

int secret_file_write(int root_fd, const char *path, const char *secrets_dir, const void *data,
                      size_t size) {
        _cleanup_free_ char *target = NULL;
        const char *name;
        int r;

        if (isempty(path) || !data)
                return -EINVAL;
        if (!secrets_dir)
                return write_file_atomic_in_root(root_fd, path, data, size, 0600, (uid_t) -1, (gid_t) -1,
                                                 WRITE_SYNC);

        name = strrchr(path, '/');
        name = name ? name + 1 : path;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        r = mkdir_p_in_root(root_fd, secrets_dir, 0700);
        if (r < 0)
                return r;
        r = dir_is_tmpfs(root_fd, secrets_dir);
        if (r < 0)
                return r;
        if (r == 0)
                return -EMEDIUMTYPE;
        if (asprintf(&target, "%s/%s", secrets_dir, name) < 0)
                return -ENOMEM;
        r = write_file_atomic_in_root(root_fd, target, data, size, 0600, (uid_t) -1, (gid_t) -1, 0);
        if (r < 0)
                return r;
        return link_contract_path(root_fd, path, target);
}

int secret_file_discard(int root_fd, const char *path) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        struct stat st;
        int r;

        dir_fd = open_parent_in_root(root_fd, path, false, &name);
        if (dir_fd < 0)
                return dir_fd == -ENOENT ? 0 : dir_fd;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (!S_ISREG(st.st_mode))
                return 0;
        r = wipe_regular_file(dir_fd, name);
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, name, 0) < 0)
                return -errno;
        return fsync(dir_fd) < 0 ? -errno : 1;
}

int secret_file_is_linked(int root_fd, const char *path, const char *secrets_dir) {
        _cleanup_free_ char *name = NULL, *target = NULL, *current = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        ssize_t n;

        dir_fd = open_parent_in_root(root_fd, path, false, &name);
        if (dir_fd < 0)
                return dir_fd == -ENOENT ? 0 : dir_fd;
        if (asprintf(&target, "%s/%s", secrets_dir, name) < 0)
                return -ENOMEM;
        current = calloc(1, PATH_MAX);
        if (!current)
                return -ENOMEM;
        n = readlinkat(dir_fd, name, current, PATH_MAX - 1);
        if (n < 0)
                return errno == ENOENT || errno == EINVAL ? 0 : -errno;
        return streq(current, target);
}
