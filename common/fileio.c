/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int root_open(const char *dir, int *ret_fd) {
        int fd = open(dir ?: "/", O_PATH | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        *ret_fd = fd;
        return 0;
}

static const char *skip_slashes(const char *path) {
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

int open_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        long fd;

        if (!path)
                return -EINVAL;
        fd = syscall(SYS_openat2, root_fd, skip_slashes(path), &how, sizeof how);
        if (fd < 0)
                return negative_errno();
        return (int) fd;
}

/* Splits "a/b/c" into "a/b" and "c"; rejects empty names, "." and "..". */
static int split_path(const char *path, char **ret_dir, char **ret_name) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        const char *p = skip_slashes(path), *slash;
        size_t len = strlen(p);

        while (len > 0 && p[len - 1] == '/')
                len--;
        if (len == 0)
                return -EINVAL;
        slash = memrchr(p, '/', len);
        name = strndup(slash ? slash + 1 : p, len - (size_t) (slash ? slash + 1 - p : 0));
        dir = slash ? strndup(p, (size_t) (slash - p)) : strdup(".");
        if (!name || !dir)
                return -ENOMEM;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        *ret_dir = TAKE_PTR(dir);
        *ret_name = TAKE_PTR(name);
        return 0;
}

int mkdir_p_in_root(int root_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(skip_slashes(path));
        _cleanup_close_ int fd = -EBADF;

        if (!copy)
                return -ENOMEM;
        /* Walk component by component, each opened with RESOLVE_IN_ROOT relative to its parent. */
        fd = open_in_root(root_fd, "/", O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                int next;

                if (streq(c, "."))
                        continue;
                if (streq(c, ".."))
                        return -EINVAL;
                if (mkdirat(fd, c, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                next = open_in_root(fd, c, O_PATH | O_DIRECTORY, 0);
                if (next < 0)
                        return next;
                closep(&fd);
                fd = next;
        }
        return 0;
}

int open_parent_in_root(int root_fd, const char *path, bool mkdir_parents, char **ret_filename) {
        _cleanup_free_ char *dir = NULL, *name = NULL;
        int r, fd;

        r = split_path(path, &dir, &name);
        if (r < 0)
                return r;
        if (mkdir_parents) {
                r = mkdir_p_in_root(root_fd, dir, 0755);
                if (r < 0)
                        return r;
        }
        fd = open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
                return fd;
        *ret_filename = TAKE_PTR(name);
        return fd;
}

int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        for (;;) {
                ssize_t n;

                if (alloc - size < 4096) {
                        size_t na = alloc ? alloc * 2 : 8192;
                        char *nb;

                        if (na > max + 2)
                                na = max + 2;
                        if (na <= size + 1)
                                return -E2BIG;
                        nb = realloc(buf, na);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        alloc = na;
                }
                n = read(fd, buf + size, alloc - size - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                size += (size_t) n;
                if (size > max)
                        return -E2BIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[size] = 0;
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

int read_file_in_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_RDONLY | O_NOCTTY, 0);

        if (fd < 0)
                return fd;
        return read_full_fd(fd, max, ret, ret_size);
}

int read_one_line_in_root(int root_fd, const char *path, size_t max, char **ret) {
        _cleanup_free_ char *buf = NULL;
        int r;

        r = read_file_in_root(root_fd, path, max, &buf, NULL);
        if (r < 0)
                return r;
        buf[strcspn(buf, "\n")] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int write_all(int fd, const void *data, size_t size) {
        const char *p = data;

        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/* Creates ".#<name><random>" exclusively in dir_fd with exactly mode. */
static int open_tmpfile_in(int dir_fd, const char *name, mode_t mode, char **ret_tmpname) {
        for (unsigned attempt = 0; attempt < 16; attempt++) {
                _cleanup_free_ char *tmp = NULL;
                uint64_t rnd;
                int fd;

                if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
                        rnd = (uint64_t) getpid() * 0x9e3779b97f4a7c15ULL + attempt;
                if (asprintf(&tmp, ".#%s%016llx", name, (unsigned long long) rnd) < 0)
                        return -ENOMEM;
                fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 07777);
                if (fd < 0) {
                        if (errno == EEXIST)
                                continue;
                        return negative_errno();
                }
                *ret_tmpname = TAKE_PTR(tmp);
                return fd;
        }
        return -EEXIST;
}

int write_file_atomic_in_root(int root_fd, const char *path, const void *data, size_t size, mode_t mode,
                              uid_t uid, gid_t gid, WriteFlags flags) {
        _cleanup_free_ char *name = NULL, *tmp = NULL;
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
        int r;

        dir_fd = open_parent_in_root(root_fd, path, flags & WRITE_MKDIR, &name);
        if (dir_fd < 0)
                return dir_fd;
        fd = open_tmpfile_in(dir_fd, name, mode, &tmp);
        if (fd < 0)
                return fd;

        /* Mode and owner before content: umask must not widen or narrow what the caller asked for. */
        r = RET_NERRNO(fchmod(fd, mode & 07777));
        if (r >= 0 && (uid != (uid_t) -1 || gid != (gid_t) -1))
                r = RET_NERRNO(fchown(fd, uid, gid));
        if (r >= 0 && (uid != (uid_t) -1 || gid != (gid_t) -1) && (mode & 06000))
                r = RET_NERRNO(fchmod(fd, mode & 07777)); /* chown clears setuid/setgid */
        if (r >= 0)
                r = write_all(fd, data, size);
        if (r >= 0)
                r = RET_NERRNO(fsync(fd));
        if (r >= 0)
                r = RET_NERRNO(renameat(dir_fd, tmp, dir_fd, name));
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return RET_NERRNO(fsync(dir_fd));
}

int write_string_file_atomic_in_root(int root_fd, const char *path, const char *s, mode_t mode, WriteFlags flags) {
        return write_file_atomic_in_root(root_fd, path, s, strlen(s), mode, (uid_t) -1, (gid_t) -1, flags);
}

int unlink_in_root(int root_fd, const char *path) {
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = open_parent_in_root(root_fd, path, false, &name);

        if (dir_fd < 0)
                return dir_fd;
        return RET_NERRNO(unlinkat(dir_fd, name, 0));
}

int access_in_root(int root_fd, const char *path) {
        _cleanup_close_ int fd = open_in_root(root_fd, path, O_PATH, 0);

        return fd < 0 ? fd : 0;
}

int path_join_root(const char *root, const char *path, char **ret) {
        char *s;

        if (isempty(root) || streq(root, "/"))
                s = strdup(path);
        else if (asprintf(&s, "%s/%s", root, skip_slashes(path)) < 0)
                s = NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
