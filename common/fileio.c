/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "crash-point.h"
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

/*
 * Userspace RESOLVE_IN_ROOT, for kernels without openat2() (< 5.6), seccomp profiles that refuse it and
 * valgrind (which does not know the syscall): systemd's chase() with CHASE_PREFIX_ROOT semantics. The path
 * is walked one component at a time, each opened O_PATH|O_NOFOLLOW relative to its parent; a symlink is read
 * (readlinkat) and its text spliced in front of the rest of the path, an absolute one restarting at the
 * root; ".." goes back to the directory the walk came from and is a no-op at the root, so the walk never
 * holds an fd above the root. Magic links (/proc/self/fd/N) are resolved by their text, inside the root,
 * never followed (RESOLVE_NO_MAGICLINKS). The last component is opened with the caller's flags plus
 * O_NOFOLLOW after a symlink check: if it is swapped for a symlink in between, the open fails with ELOOP
 * instead of following it.
 */
#define CHASE_SYMLINKS_MAX 40   /* the kernel's MAXSYMLINKS */
#define CHASE_DEPTH_MAX    256U /* directories held open at once */
#define CHASE_TODO_MAX     (4U * PATH_MAX)

typedef struct ChaseStack {
        int fds[CHASE_DEPTH_MAX];
        size_t n;
} ChaseStack;

static void chase_stack_done(ChaseStack *s) {
        while (s->n > 0)
                closep(&s->fds[--s->n]);
}

static int chase_follow(ChaseStack *s, int dir_fd, const char *name, const char *rest, unsigned *hops,
                        char **todo) {
        char target[PATH_MAX];
        ssize_t n;
        char *t;

        if (++*hops > CHASE_SYMLINKS_MAX)
                return -ELOOP;
        n = readlinkat(dir_fd, name, target, sizeof target);
        if (n < 0)
                return negative_errno();
        if ((size_t) n >= sizeof target)
                return -ENAMETOOLONG;
        if (n == 0)
                return -ENOENT;
        if ((size_t) n + strlen(rest) >= CHASE_TODO_MAX)
                return -ENAMETOOLONG;
        if (asprintf(&t, "%.*s%s", (int) n, target, rest) < 0)
                return -ENOMEM;
        if (target[0] == '/')
                chase_stack_done(s); /* absolute: from the root again */
        free(*todo);
        *todo = t;
        return 0;
}

static int open_in_root_chase(int root_fd, const char *path, int flags, mode_t mode) {
        _cleanup_(chase_stack_done) ChaseStack s = {.n = 0};
        _cleanup_free_ char *todo = strdup(path);
        unsigned hops = 0;
        size_t pos = 0;

        if (!todo)
                return -ENOMEM;
        if (strlen(todo) >= CHASE_TODO_MAX)
                return -ENAMETOOLONG;
        for (;;) {
                int cur = s.n > 0 ? s.fds[s.n - 1] : root_fd, fd, r;
                _cleanup_free_ char *name = NULL;
                const char *p = todo + pos;
                struct stat st;
                size_t len;

                p += strspn(p, "/");
                len = strcspn(p, "/");
                if (len == 0) /* end of the path, or a trailing slash: the directory reached */
                        return RET_NERRNO(openat(cur, ".", flags | O_CLOEXEC, mode));
                name = strndup(p, len);
                if (!name)
                        return -ENOMEM;
                pos = (size_t) (p - todo) + len;

                if (streq(name, ".") || streq(name, "..")) {
                        if (streq(name, "..") && s.n > 0)
                                closep(&s.fds[--s.n]);
                        continue;
                }

                if (todo[pos] == 0) {
                        /* The last component: followed unless O_NOFOLLOW, or O_CREAT|O_EXCL (like open()). */
                        if (fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISLNK(st.st_mode) &&
                            !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL)) {
                                r = chase_follow(&s, cur, name, "", &hops, &todo);
                                if (r < 0)
                                        return r;
                                pos = 0;
                                continue;
                        }
                        return RET_NERRNO(openat(cur, name, flags | O_NOFOLLOW | O_CLOEXEC, mode));
                }

                fd = openat(cur, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return negative_errno();
                if (fstat(fd, &st) < 0) {
                        r = negative_errno();
                        closep(&fd);
                        return r;
                }
                if (S_ISLNK(st.st_mode)) {
                        _cleanup_free_ char *rest = strdup(todo + pos);

                        /* readlinkat() on the O_PATH fd itself: the link that was checked. */
                        r = rest ? chase_follow(&s, fd, "", rest, &hops, &todo) : -ENOMEM;
                        closep(&fd);
                        if (r < 0)
                                return r;
                        pos = 0;
                        continue;
                }
                if (!S_ISDIR(st.st_mode) || s.n >= CHASE_DEPTH_MAX) {
                        closep(&fd);
                        return S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
                }
                s.fds[s.n++] = fd;
        }
}

/* Whether openat2() is usable: 0 not known yet, 1 yes, -1 no (ENOSYS, or refused by seccomp). */
static int openat2_usable = 0;

void open_in_root_force_fallback(bool b) {
        openat2_usable = b ? -1 : 0;
}

static long openat2_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_CLOEXEC),
                .mode = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE
                                ? mode
                                : 0, /* O_TMPFILE has O_DIRECTORY's bit */
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };

        return syscall(SYS_openat2, root_fd, path, &how, sizeof how);
}

bool openat2_known_unavailable(void) {
        return openat2_usable < 0;
}

bool openat2_unavailable(int error, int dir_fd) {
        /*
         * ENOSYS: no openat2 (kernel < 5.6, valgrind, seccomp profiles answering ENOSYS for unknown
         * syscalls). EPERM is ambiguous: older container profiles refuse unknown syscalls with it, but open()
         * itself reports EPERM too (O_NOATIME, immutable or sealed files). So EPERM counts only when
         * openat2() also refuses the harmless O_PATH open of dir_fd itself; a genuine EPERM is returned.
         */
        if (error == -EPERM && openat2_usable == 0) {
                _cleanup_close_ int probe = (int) openat2_in_root(dir_fd, ".", O_PATH | O_DIRECTORY, 0);

                if (probe >= 0 || errno != EPERM)
                        openat2_usable = 1;
        }
        if (error != -ENOSYS && (error != -EPERM || openat2_usable > 0))
                return false;
        openat2_usable = -1;
        return true;
}

int open_in_root(int root_fd, const char *path, int flags, mode_t mode) {
        long fd;

        if (!path)
                return -EINVAL;
        path = skip_slashes(path);
        if (openat2_known_unavailable())
                return open_in_root_chase(root_fd, path, flags, mode);

        fd = openat2_in_root(root_fd, path, flags, mode);
        if (fd >= 0) {
                openat2_usable = 1;
                return (int) fd;
        }
        int r = negative_errno();
        if (!openat2_unavailable(r, root_fd))
                return r;
        return open_in_root_chase(root_fd, path, flags, mode);
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
        _cleanup_free_ char *copy = strdup(skip_slashes(path)), *done = strdup(copy ?: "");
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0;

        if (!copy || !done)
                return -ENOMEM;
        /*
         * Walk component by component. Each prefix is resolved from the root (not from its parent's fd, which
         * would resolve a symlink such as /var/run -> /run or ../run against /var).
         */
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
                n += (size_t) sprintf(done + n, "%s%s", n > 0 ? "/" : "", c); /* never longer than path */
                next = open_in_root(root_fd, done, O_PATH | O_DIRECTORY, 0);
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

struct WriteBatchItem {
        int dir_fd; /* a duplicate, for renameat() and the directory's fsync */
        int fd;     /* the temporary file, open until the commit fsyncs it */
        char *tmp;  /* NULL once renamed */
        char *name;
        dev_t dev; /* the directory's identity: one item per name, one fsync per directory */
        ino_t ino;
};

static void batch_item_drop(WriteBatchItem *i) {
        if (i->tmp && i->dir_fd >= 0)
                (void) unlinkat(i->dir_fd, i->tmp, 0);
        closep(&i->fd);
        closep(&i->dir_fd);
        free(i->tmp);
        free(i->name);
        *i = (WriteBatchItem){.dir_fd = -EBADF, .fd = -EBADF};
}

/* The complete temporary file of one atomic write: mode and owner before content, then the bytes, then its
 * writeback started (a hint, so that one fsync of a group finds the others' data under way; the commit's fsyncs
 * are what make it durable). */
static int batch_item_create(int dir_fd, const char *name, const void *data, size_t size, mode_t mode,
                             uid_t uid, gid_t gid, WriteBatchItem *ret) {
        _cleanup_(batch_item_drop) WriteBatchItem i = {.dir_fd = -EBADF, .fd = -EBADF};
        struct stat st;
        int r;

        if (!name || !*name || strchr(name, '/') || streq(name, ".") || streq(name, ".."))
                return -EINVAL;
        if (fstat(dir_fd, &st) < 0)
                return negative_errno();
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        i.dev = st.st_dev;
        i.ino = st.st_ino;
        i.name = strdup(name);
        if (!i.name)
                return -ENOMEM;
        i.dir_fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        if (i.dir_fd < 0)
                return negative_errno();
        i.fd = open_tmpfile_in(i.dir_fd, name, mode, &i.tmp);
        if (i.fd < 0)
                return i.fd;

        /* Mode and owner before content: umask must not widen or narrow what the caller asked for. */
        r = RET_NERRNO(fchmod(i.fd, mode & 07777));
        if (r >= 0 && (uid != (uid_t) -1 || gid != (gid_t) -1))
                r = RET_NERRNO(fchown(i.fd, uid, gid));
        if (r >= 0 && (uid != (uid_t) -1 || gid != (gid_t) -1) && (mode & 06000))
                r = RET_NERRNO(fchmod(i.fd, mode & 07777)); /* chown clears setuid/setgid */
        if (r >= 0)
                r = write_all(i.fd, data, size);
        if (r < 0)
                return r;
        (void) sync_file_range(i.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
        *ret = i;
        i = (WriteBatchItem){.dir_fd = -EBADF, .fd = -EBADF};
        return 0;
}

static int batch_add(WriteBatch *b, int dir_fd, const char *name, const void *data, size_t size, mode_t mode,
                     uid_t uid, gid_t gid) {
        _cleanup_(batch_item_drop) WriteBatchItem i = {.dir_fd = -EBADF, .fd = -EBADF};
        WriteBatchItem *items;
        int r;

        r = batch_item_create(dir_fd, name, data, size, mode, uid, gid, &i);
        if (r < 0)
                return r;
        for (size_t k = 0; k < b->n; k++)
                if (b->items[k].dev == i.dev && b->items[k].ino == i.ino && streq(b->items[k].name, name)) {
                        batch_item_drop(&b->items[k]);
                        b->items[k] = i;
                        i = (WriteBatchItem){.dir_fd = -EBADF, .fd = -EBADF};
                        return 0;
                }
        items = reallocarray(b->items, b->n + 1, sizeof *items);
        if (!items)
                return -ENOMEM;
        b->items = items;
        b->items[b->n++] = i;
        i = (WriteBatchItem){.dir_fd = -EBADF, .fd = -EBADF};
        return 0;
}

int write_batch_add_at(WriteBatch *b, int dir_fd, const char *name, const void *data, size_t size,
                       mode_t mode) {
        return batch_add(b, dir_fd, name, data, size, mode, (uid_t) -1, (gid_t) -1);
}

int write_batch_commit(WriteBatch *b) {
        int r = 0;

        for (size_t k = 0; k < b->n && r >= 0; k++)
                r = RET_NERRNO(fsync(b->items[k].fd));
        for (size_t k = 0; k < b->n && r >= 0; k++) /* complete temporary files, targets untouched */
                crash_pointf("write:%s:tmp-written", b->items[k].name);
        for (size_t k = 0; k < b->n && r >= 0; k++) {
                WriteBatchItem *i = &b->items[k];

                r = RET_NERRNO(renameat(i->dir_fd, i->tmp, i->dir_fd, i->name));
                if (r >= 0) {
                        free(i->tmp);
                        i->tmp = NULL;
                }
        }
        /* Each directory that received a rename, once; also after a failed rename, for those before it. */
        for (size_t k = 0; k < b->n; k++) {
                bool synced = false;
                int q;

                if (b->items[k].tmp)
                        continue;
                for (size_t j = 0; j < k; j++)
                        synced = synced || (!b->items[j].tmp && b->items[j].dev == b->items[k].dev &&
                                            b->items[j].ino == b->items[k].ino);
                if (synced)
                        continue;
                q = RET_NERRNO(fsync(b->items[k].dir_fd));
                if (r >= 0)
                        r = q;
        }
        write_batch_done(b);
        return r;
}

void write_batch_truncate(WriteBatch *b, size_t n) {
        for (size_t k = n; k < b->n; k++)
                batch_item_drop(&b->items[k]);
        b->n = MIN(b->n, n);
}

void write_batch_done(WriteBatch *b) {
        write_batch_truncate(b, 0);
        free(b->items);
        *b = (WriteBatch){};
}

int write_file_atomic_in_root(int root_fd, const char *path, const void *data, size_t size, mode_t mode,
                              uid_t uid, gid_t gid, WriteFlags flags) {
        _cleanup_(write_batch_done) WriteBatch b = {};
        _cleanup_free_ char *name = NULL;
        _cleanup_close_ int dir_fd = -EBADF;
        int r;

        dir_fd = open_parent_in_root(root_fd, path, flags & WRITE_MKDIR, &name);
        if (dir_fd < 0)
                return dir_fd;
        r = batch_add(&b, dir_fd, name, data, size, mode, uid, gid);
        if (r < 0)
                return r;
        return write_batch_commit(&b);
}

int write_string_file_atomic_in_root(int root_fd, const char *path, const char *s, mode_t mode,
                                     WriteFlags flags) {
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

char *proc_fd_path(char buf[static PROC_FD_PATH_MAX], int fd) {
        (void) snprintf(buf, PROC_FD_PATH_MAX, "/proc/self/fd/%d", fd);
        return buf;
}
