/* SPDX-License-Identifier: MIT */
/*
 * File access under an alternate root. Every filesystem access of the agent goes through a root directory fd
 * (`--root DIR`, "/" by default) and openat2(RESOLVE_IN_ROOT), so that symlinks and ".." inside a scratch root
 * (a tests' fake tree, an image being prepared, a container host) can never escape it. Without openat2()
 * (old kernels, seccomp, valgrind) the same resolution is done in userspace, one component at a time.
 *
 * Writes are atomic and durable: a temporary file in the target directory, mode and owner set before any
 * content (secrets are never world-readable, not even for a moment), write, fsync, renameat, fsync(dir).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define READ_FILE_MAX_DEFAULT (4U * 1024U * 1024U)

typedef enum WriteFlags {
        WRITE_MKDIR = 1 << 0, /* create missing parent directories (0755) */
        WRITE_SYNC = 1 << 1,  /* fsync file and directory (on by default for write_file_atomic) */
} WriteFlags;

/* Opens DIR (or "/" when NULL) as a root directory fd (O_PATH|O_DIRECTORY|O_CLOEXEC). */
int root_open(const char *dir, int *ret_fd);

/*
 * openat2() relative to root_fd with RESOLVE_IN_ROOT; path may be absolute (taken relative to the root). Where
 * openat2() is missing (ENOSYS) or refused by seccomp (EPERM), the same resolution is done in userspace.
 */
int open_in_root(int root_fd, const char *path, int flags, mode_t mode);

/* Whether openat2() is known to be missing or refused (then the userspace resolvers are used). */
bool openat2_known_unavailable(void);
/* After an openat2() relative to dir_fd failed with error (negative errno): true when that means openat2()
 * is missing (ENOSYS) or refused by a seccomp filter (EPERM, told from a genuine EPERM by a probe of dir_fd);
 * remembered for the process. */
bool openat2_unavailable(int error, int dir_fd);
/* Tests: makes open_in_root() act as if openat2() returned ENOSYS (true), or probe it again (false). */
void open_in_root_force_fallback(bool b);

/* Opens the parent directory of path (O_DIRECTORY) and returns the last component in *ret_filename. */
int open_parent_in_root(int root_fd, const char *path, bool mkdir_parents, char **ret_filename);

/* mkdir -p under the root; existing directories are left as they are. */
int mkdir_p_in_root(int root_fd, const char *path, mode_t mode);

/* Reads a whole fd; fails with -E2BIG when it holds more than max bytes. The buffer is NUL-terminated. */
int read_full_fd(int fd, size_t max, char **ret, size_t *ret_size);
int read_file_in_root(int root_fd, const char *path, size_t max, char **ret, size_t *ret_size);

/* Reads the first line (without the newline), bounded by max bytes; for sysfs/procfs attributes. */
int read_one_line_in_root(int root_fd, const char *path, size_t max, char **ret);

/*
 * Atomically replaces path with data. uid/gid of (uid_t) -1 / (gid_t) -1 keep the creator's. The temporary file
 * is created with mode (umask does not apply), so a secret is 0600 before its first byte is written.
 */
int write_file_atomic_in_root(int root_fd, const char *path, const void *data, size_t size, mode_t mode,
                              uid_t uid, gid_t gid, WriteFlags flags);

/* Same, for NUL-terminated text. */
int write_string_file_atomic_in_root(int root_fd, const char *path, const char *s, mode_t mode,
                                     WriteFlags flags);

/*
 * Group commit: atomic writes made durable together (docs/robustness.md "Group commit"). Each
 * write_batch_add_at() writes a complete temporary file beside its target (mode set before any byte, as above)
 * and starts its writeback; write_batch_commit() fsyncs every temporary file, renames each over its target, then
 * fsyncs each directory once. Every file keeps the guarantee of write_file_atomic_in_root() — old or new bytes,
 * never torn — but a journaling filesystem commits the group about twice instead of twice per file. The
 * renames come after all the fsyncs: until then no target has changed. Adding a name the batch already holds
 * (same directory) replaces the earlier bytes. write_batch_done() unlinks what was not committed.
 */
typedef struct WriteBatchItem WriteBatchItem;
typedef struct WriteBatch {
        WriteBatchItem *items;
        size_t n;
} WriteBatch;

/* dir_fd: the target's directory, opened for reading (it is duplicated); name: one path component. */
int write_batch_add_at(WriteBatch *b, int dir_fd, const char *name, const void *data, size_t size,
                       mode_t mode);
/* Makes the batch durable; on failure the files not yet renamed keep their old bytes. Empties the batch. */
int write_batch_commit(WriteBatch *b);
/* Unlinks what the batch holds beyond its first n items (what a failed step added; an earlier item it replaced
 * keeps the new bytes). */
void write_batch_truncate(WriteBatch *b, size_t n);
void write_batch_done(WriteBatch *b);

int unlink_in_root(int root_fd, const char *path);
int access_in_root(int root_fd, const char *path); /* 0 if it exists, -ENOENT otherwise */

/* Joins the textual root path and path. Only for text shown to people or handed to a process that sees the
 * same tree: any access through it follows the root's absolute symlinks out to the host. */
int path_join_root(const char *root, const char *path, char **ret);

/* "/proc/self/fd/<fd>", a path naming exactly the file fd refers to (resolved like the fd was, beneath the
 * root), for interfaces that take only a path (inotify_add_watch(), sd_event_add_inotify()). */
#define PROC_FD_PATH_MAX (sizeof("/proc/self/fd/") + 3 * sizeof(int))
char *proc_fd_path(char buf[static PROC_FD_PATH_MAX], int fd);
