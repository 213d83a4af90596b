/* SPDX-License-Identifier: MIT */
/*
 * Beneath-resolution below a handler directory; see ext-beneath.h. Library code: no logging.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ext-beneath.h"
#include "fileio.h"
#include "macro.h"
#include "strutil.h"

#define BENEATH_SYMLINKS_MAX 40U /* the kernel's MAXSYMLINKS */
#define BENEATH_TODO_MAX     (4U * PATH_MAX)

static bool force_fallback;

void open_beneath_force_fallback(bool b) {
        force_fallback = b;
}

/* Next component of todo from *pos into *ret (NULL at the end); *ret_last: only slashes follow it. */
static int next_component(const char *todo, size_t *pos, char **ret, bool *ret_last) {
        const char *p = todo + *pos;
        size_t len;

        p += strspn(p, "/");
        len = strcspn(p, "/");
        *ret = NULL;
        if (len == 0)
                return 0;
        *ret = strndup(p, len);
        if (!*ret)
                return -ENOMEM;
        *pos = (size_t) (p - todo) + len;
        *ret_last = todo[*pos + strspn(todo + *pos, "/")] == 0;
        return 0;
}

/* The symlink at done (relative to dir_fd) spliced in front of the rest of todo. */
static int splice_symlink(int dir_fd, const char *link, const char *rest, char **todo) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dir_fd, link, target, sizeof target);
        char *t;

        if (n < 0)
                return negative_errno();
        if ((size_t) n >= sizeof target)
                return -ENAMETOOLONG;
        if (n == 0)
                return -ENOENT;
        if (target[0] == '/')
                return -EXDEV; /* absolute: outside by definition */
        if ((size_t) n + strlen(rest) + 1 >= BENEATH_TODO_MAX)
                return -ENAMETOOLONG;
        if (asprintf(&t, "%.*s/%s", (int) n, target, rest) < 0)
                return -ENOMEM;
        free(*todo);
        *todo = t;
        return 0;
}

int resolve_beneath(int dir_fd, const char *path, bool follow_last, char **ret) {
        _cleanup_free_ char *todo = NULL, *done = NULL;
        unsigned hops = 0;
        bool missing = false; /* a component did not exist: the rest is taken as written */
        size_t pos = 0;

        if (!path)
                return -EINVAL;
        if (path[0] == '/')
                return -EXDEV;
        if (strlen(path) >= BENEATH_TODO_MAX)
                return -ENAMETOOLONG;
        todo = strdup(path);
        done = strdup("");
        if (!todo || !done)
                return -ENOMEM;
        for (;;) {
                _cleanup_free_ char *name = NULL, *candidate = NULL;
                bool last = false;
                struct stat st;
                int r;

                r = next_component(todo, &pos, &name, &last);
                if (r < 0)
                        return r;
                if (!name)
                        break;
                if (streq(name, "."))
                        continue;
                if (streq(name, "..")) {
                        char *slash = strrchr(done, '/');

                        if (isempty(done))
                                return -EXDEV;
                        if (slash)
                                *slash = 0;
                        else
                                done[0] = 0;
                        continue;
                }
                if (asprintf(&candidate, "%s%s%s", done, isempty(done) ? "" : "/", name) < 0)
                        return -ENOMEM;
                if (!missing) {
                        if (fstatat(dir_fd, candidate, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                                if (errno != ENOENT)
                                        return negative_errno();
                                missing = true;
                        } else if (S_ISLNK(st.st_mode) && (!last || follow_last)) {
                                _cleanup_free_ char *rest = strdup(todo + pos);

                                if (++hops > BENEATH_SYMLINKS_MAX)
                                        return -ELOOP;
                                if (!rest)
                                        return -ENOMEM;
                                /* The target is relative to the link's directory: done, unchanged. */
                                r = splice_symlink(dir_fd, candidate, rest, &todo);
                                if (r < 0)
                                        return r;
                                pos = 0;
                                continue;
                        } else if (!last && !S_ISDIR(st.st_mode))
                                return -ENOTDIR;
                }
                free(done);
                done = TAKE_PTR(candidate);
        }
        if (isempty(done) && free_and_strdup(&done, ".") < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(done);
        return 0;
}

/* A symlink met where no symlink may be followed: ELOOP, as openat2(RESOLVE_NO_SYMLINKS) says. */
static int nofollow_error(int dir_fd, const char *name, int error) {
        struct stat st;

        if ((error == ENOTDIR || error == ELOOP) && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 &&
            S_ISLNK(st.st_mode))
                return -ELOOP;
        return -error;
}

/* One component at a time, never following a symlink; ".." is refused (paths are normalized first). */
static int open_walk_nofollow(int dir_fd, const char *path, int flags, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path);
        _cleanup_close_ int cur = -EBADF;
        int at = dir_fd, fd; /* at: where the next component is opened, dir_fd or cur */
        char *p, *slash;

        if (!copy)
                return -ENOMEM;
        p = copy;
        while ((slash = strchr(p, '/'))) {
                *slash = 0;
                if (streq(p, ".."))
                        return -EXDEV;
                if (!isempty(p) && !streq(p, ".")) {
                        fd = openat(at, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return nofollow_error(at, p, errno);
                        closep(&cur);
                        at = cur = fd;
                }
                p = slash + 1;
        }
        if (streq(p, ".."))
                return -EXDEV;
        fd = openat(at, isempty(p) ? "." : p, flags | O_CLOEXEC | O_NOFOLLOW,
                    (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0);
        return fd < 0 ? nofollow_error(at, p, errno) : fd;
}

static long openat2_beneath(int dir_fd, const char *path, int flags, mode_t mode, uint64_t resolve) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? mode : 0,
                .resolve = resolve,
        };

        return syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
}

/* openat2() with resolve, or -EOPNOTSUPP when it is missing or refused (the caller resolves in userspace). */
static int try_openat2(int dir_fd, const char *path, int flags, mode_t mode, uint64_t resolve) {
        long fd;
        int r;

        if (force_fallback || openat2_known_unavailable())
                return -EOPNOTSUPP;
        fd = openat2_beneath(dir_fd, path, flags, mode, resolve);
        if (fd >= 0)
                return (int) fd;
        r = negative_errno();
        return openat2_unavailable(r, dir_fd) ? -EOPNOTSUPP : r;
}

int open_beneath(int dir_fd, const char *path, int flags, mode_t mode) {
        _cleanup_free_ char *resolved = NULL;
        bool follow_last;
        int r;

        if (!path)
                return -EINVAL;
        r = try_openat2(dir_fd, path, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
        if (r != -EOPNOTSUPP)
                return r;
        /* As open(): the last symlink is followed, except with O_NOFOLLOW or O_CREAT|O_EXCL. */
        follow_last = !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
        r = resolve_beneath(dir_fd, path, follow_last, &resolved);
        if (r < 0)
                return r;
        return open_walk_nofollow(dir_fd, resolved, flags, mode);
}

int open_nofollow_beneath(int dir_fd, const char *path, int flags, mode_t mode) {
        int r = try_openat2(dir_fd, path, flags | O_NOFOLLOW, mode,
                            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);

        return r != -EOPNOTSUPP ? r : open_walk_nofollow(dir_fd, path, flags, mode);
}

/* Splits "a/b/c" into "a/b" (or ".") and "c"; "", ".", ".." as the last component are refused. */
static int split_last(const char *path, char **ret_dir, char **ret_name) {
        _cleanup_free_ char *copy = strdup(path);
        char *slash, *name;
        size_t len;

        if (!copy)
                return -ENOMEM;
        if (copy[0] == '/')
                return -EXDEV;
        len = strlen(copy);
        while (len > 0 && copy[len - 1] == '/')
                copy[--len] = 0;
        slash = strrchr(copy, '/');
        name = slash ? slash + 1 : copy;
        if (isempty(name) || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        if (!(*ret_name = strdup(name)))
                return -ENOMEM;
        if (slash)
                *slash = 0;
        if (!(*ret_dir = strdup(slash && !isempty(copy) ? copy : "."))) {
                free(*ret_name);
                *ret_name = NULL;
                return -ENOMEM;
        }
        return 0;
}

int mkdir_p_beneath(int dir_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *copy = strdup(path), *prefix = strdup("");

        if (!copy || !prefix)
                return -ENOMEM;
        for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                _cleanup_close_ int parent = -EBADF;
                char *next;

                if (streq(c, "."))
                        continue;
                if (streq(c, ".."))
                        return -EINVAL;
                parent = open_beneath(dir_fd, isempty(prefix) ? "." : prefix, O_PATH | O_DIRECTORY, 0);
                if (parent < 0)
                        return parent;
                if (mkdirat(parent, c, mode) < 0 && errno != EEXIST)
                        return negative_errno();
                if (asprintf(&next, "%s%s%s", prefix, isempty(prefix) ? "" : "/", c) < 0)
                        return -ENOMEM;
                free(prefix);
                prefix = next;
        }
        /* What exists under that name must be a directory below dir_fd (it may be an in-tree symlink). */
        _cleanup_close_ int fd =
                open_beneath(dir_fd, isempty(prefix) ? "." : prefix, O_PATH | O_DIRECTORY, 0);
        return fd < 0 ? fd : 0;
}

int write_file_atomic_beneath(WriteBatch *batch, int dir_fd, const char *path, const void *data, size_t size,
                              mode_t mode, bool mkdir_parents) {
        _cleanup_(write_batch_done) WriteBatch own = {};
        _cleanup_free_ char *dir = NULL, *name = NULL;
        _cleanup_close_ int parent = -EBADF;
        int r;

        r = split_last(path, &dir, &name);
        if (r < 0)
                return r;
        if (mkdir_parents && !streq(dir, ".")) {
                r = mkdir_p_beneath(dir_fd, dir, 0755);
                if (r < 0)
                        return r;
        }
        parent = open_beneath(dir_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        if (parent < 0)
                return parent;
        /* The temporary file is created O_EXCL|O_NOFOLLOW in parent, and renameat() replaces the name itself,
         * never what a symlink of that name points to. */
        r = write_batch_add_at(batch ?: &own, parent, name, data, size, mode);
        if (r < 0 || batch)
                return r;
        return write_batch_commit(&own);
}

int read_file_beneath(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = open_beneath(dir_fd, path, O_RDONLY, 0);

        if (fd < 0)
                return fd;
        return read_full_fd(fd, max, ret, ret_size);
}
