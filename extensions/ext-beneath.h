/* SPDX-License-Identifier: MIT */
/*
 * File access below a handler directory (wire protocol §4.1, §4.3): a package is extracted into
 * <Name>-<Version>/ and may carry symlinks, so every later write or read the agent makes there (config/,
 * status/, HandlerState, HandlerEnvironment.json, the signature markers) is resolved *beneath* the directory
 * fd: symlinks are followed only while they stay below it, and a path — or a symlink on the way, or a chain of
 * them such as a -> b/.., b -> . — that would leave it fails with -EXDEV instead of reaching a file outside.
 *
 * The kernel does it: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS). Where openat2() is missing (kernel <
 * 5.6, valgrind, a seccomp profile that refuses it; detected as in common/fileio.c) the same resolution runs in
 * userspace (resolve_beneath()), and the result is opened one component at a time without following any symlink,
 * so a component swapped for a symlink in between fails with ELOOP rather than being followed.
 *
 * resolve_beneath() is also how extraction checks a package's symlinks once every entry is on disk: each one is
 * resolved and the package is refused if any leads outside (a chain is only dangerous once all its links exist).
 * Components that do not exist are taken lexically, so a dangling link is judged by what it would name.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "fileio.h"

/* The path below dir_fd that path names, symlinks resolved (the last one only with follow_last), normalized and
 * relative ("." for dir_fd itself). -EXDEV when it leaves dir_fd (absolute path or target, ".." above it), -ELOOP
 * after 40 symlinks. */
int resolve_beneath(int dir_fd, const char *path, bool follow_last, char **ret);

/* openat() of path below dir_fd with beneath resolution; O_NOFOLLOW and O_CREAT|O_EXCL do not follow a final
 * symlink. O_CLOEXEC is always added. */
int open_beneath(int dir_fd, const char *path, int flags, mode_t mode);

/* The same without following any symlink at all (RESOLVE_NO_SYMLINKS): ELOOP on one. Extraction writes this way. */
int open_nofollow_beneath(int dir_fd, const char *path, int flags, mode_t mode);

/* mkdir -p below dir_fd; existing directories (also through in-tree symlinks) are kept as they are. */
int mkdir_p_beneath(int dir_fd, const char *path, mode_t mode);

/* Atomic replacement of path below dir_fd (temporary file with mode set before any byte, fsync, renameat,
 * fsync of the directory; common/fileio.h): added to batch, or with batch NULL made durable before it returns. */
int write_file_atomic_beneath(WriteBatch *batch, int dir_fd, const char *path, const void *data, size_t size,
                              mode_t mode, bool mkdir_parents);

/* Whole file below dir_fd, at most max bytes (-E2BIG beyond), NUL-terminated. */
int read_file_beneath(int dir_fd, const char *path, size_t max, char **ret, size_t *ret_size);

/* Tests: resolve in userspace as if openat2() were missing (true), or use it again (false). */
void open_beneath_force_fallback(bool b);
