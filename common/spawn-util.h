/* SPDX-License-Identifier: MIT */
/*
 * Running external programs (useradd, visudo, ssh-keygen, mkfs, mkswap, ntfs-3g…): an argv, never a shell, with
 * a fixed minimal environment (nothing of ours, no secrets, leaks into it), no signal blocked, stdin from
 * /dev/null (or from a memfd holding the caller's input: a secret travels on stdin, never in argv), and
 * stdout+stderr captured into a bounded buffer for the error message — or sent to /dev/null when nobody wants
 * it (a daemonizing child such as ntfs-3g would otherwise hold the pipe open).
 *
 * With SpawnOptions.root_fd the program runs chrooted into that directory (fchdir + chroot("."), so the
 * directory is the one the fd refers to, not whatever its path names now) and is looked up inside it: the
 * target's own tool, resolving the target's absolute symlinks inside the target. Without such a tool the call
 * fails with -ENOENT; the host's program is never run on the target's files.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SPAWN_OUTPUT_MAX 4096U
#define SPAWN_INPUT_MAX  (1024U * 1024U)

typedef struct SpawnOptions {
        int root_fd;       /* ≥ 0: chroot into this directory; the program is found inside it */
        int pass_fd;       /* ≥ 0: becomes the child's fd 3 */
        const void *input; /* the child's stdin (at most SPAWN_INPUT_MAX bytes); NULL: /dev/null */
        size_t input_size;
} SpawnOptions;

#define SPAWN_OPTIONS_INIT                                                                                  \
        { .root_fd = -EBADF, .pass_fd = -EBADF }

/* Finds name in /usr/sbin, /usr/bin, /sbin, /bin (an absolute name is checked as is). -ENOENT if absent. */
int find_program(const char *name, char **ret);

/* Same, below root_fd (symlinks resolved inside it): a regular file with an execute bit. *ret is the path
 * inside the root ("/usr/sbin/useradd"). -ENOENT if absent, -EACCES if not executable. */
int find_program_in_root(int root_fd, const char *name, char **ret);

/*
 * Runs argv (argv[0] is looked up with find_program) and waits for it. Returns its exit status (0..255),
 * -EPROTO when it was killed by a signal, or -errno when it could not be started. ret_output (may be NULL)
 * receives the first SPAWN_OUTPUT_MAX bytes of its combined stdout/stderr, whitespace-trimmed.
 */
int spawn_and_wait(char *const *argv, char **ret_output);

/* Same, and pass_fd (if ≥ 0) becomes the child's fd 3 (e.g. mkswap /proc/self/fd/3 on an O_PATH-safe fd).
 * With ret_output NULL the child's output goes to /dev/null. */
int spawn_and_wait_full(char *const *argv, int pass_fd, char **ret_output);

/* The general form: o may be NULL (SPAWN_OPTIONS_INIT). With o->root_fd, argv[0] is looked up with
 * find_program_in_root() (-ENOENT when the root has no such program). */
int spawn_and_wait_opts(char *const *argv, const SpawnOptions *o, char **ret_output);

/* Starts argv (looked up with find_program) without waiting, output to /dev/null: work that runs beside ours
 * (ssh-keygen for the slow host key types). With root_fd ≥ 0 it runs chrooted into that root, found inside it.
 * The child is killed (SIGKILL) when the calling process dies: a killed run leaves no writer behind for its
 * rerun to race. Returns 0 and the pid, or -errno; reap it with spawn_wait(). */
int spawn_background(char *const *argv, int root_fd, pid_t *ret_pid);

/* Waits for a child of spawn_background(): its exit status (0..255), -EPROTO when a signal killed it. */
int spawn_wait(pid_t pid);

/* A pidfd (close-on-exec) for a child of ours not yet reaped, to watch it on an event loop. Should that fail, the
 * child could not be watched: it is killed and reaped (the pid is still ours while it is not reaped), -errno. */
int pidfd_open_child(pid_t pid);
