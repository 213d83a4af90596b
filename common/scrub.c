/* SPDX-License-Identifier: MIT */
/*
 * Scrubbing files that held secrets, see scrub.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "scrub.h"

int scrub_fd(int fd) {
        static const char zeros[4096];
        struct stat st;
        off_t off = 0;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode) || st.st_nlink > 1)
                return -EBADFD;
        while (off < st.st_size) {
                size_t n = (size_t) MIN((off_t) sizeof zeros, st.st_size - off);
                ssize_t k = pwrite(fd, zeros, n, off);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return k < 0 ? negative_errno() : -EIO;
                off += k;
        }
        if (fsync(fd) < 0 || ftruncate(fd, 0) < 0 || fsync(fd) < 0)
                return negative_errno();
        return 0;
}

/* The file at path for zeroing, or -EBADF when there is nothing we may zero (missing, a symlink, not ours). */
static int open_for_scrub(int root_fd, const char *path) {
        int fd = open_in_root(root_fd, path, O_RDWR | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0);

        return fd >= 0 ? fd : -EBADF;
}

int scrub_file_replace_in_root(int root_fd, const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_close_ int old = open_for_scrub(root_fd, path);
        int r;

        r = write_file_atomic_in_root(root_fd, path, data, size, mode, (uid_t) -1, (gid_t) -1, 0);
        if (r < 0)
                return r;
        if (old >= 0) {
                r = scrub_fd(old);
                if (r < 0 && r != -EBADFD)
                        return r;
        }
        return 0;
}

int scrub_file_remove_in_root(int root_fd, const char *path) {
        _cleanup_close_ int old = open_for_scrub(root_fd, path);
        int r;

        if (old >= 0) {
                r = scrub_fd(old);
                if (r < 0 && r != -EBADFD)
                        return r;
        }
        r = unlink_in_root(root_fd, path);
        return r == -ENOENT ? 0 : r;
}
