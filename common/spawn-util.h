/* SPDX-License-Identifier: MIT */
/*
 * Running external programs (useradd, visudo, ssh-keygen, mkfs, mkswap, ntfs-3g…): posix_spawn with an argv,
 * never a shell, with a fixed minimal environment (nothing of ours, no secrets, leaks into it), stdin from
 * /dev/null and stdout+stderr captured into a bounded buffer for the error message — or sent to /dev/null
 * when nobody wants it (a daemonizing child such as ntfs-3g would otherwise hold the pipe open).
 */
#pragma once

#include <sys/types.h>

#define SPAWN_OUTPUT_MAX 4096U

/* Finds name in /usr/sbin, /usr/bin, /sbin, /bin (an absolute name is checked as is). -ENOENT if absent. */
int find_program(const char *name, char **ret);

/*
 * Runs argv (argv[0] is looked up with find_program) and waits for it. Returns its exit status (0..255),
 * -EPROTO when it was killed by a signal, or -errno when it could not be started. ret_output (may be NULL)
 * receives the first SPAWN_OUTPUT_MAX bytes of its combined stdout/stderr, whitespace-trimmed.
 */
int spawn_and_wait(char *const *argv, char **ret_output);

/* Same, and pass_fd (if ≥ 0) becomes the child's fd 3 (e.g. mkswap /proc/self/fd/3 on an O_PATH-safe fd).
 * With ret_output NULL the child's output goes to /dev/null. */
int spawn_and_wait_full(char *const *argv, int pass_fd, char **ret_output);

/* Starts argv (looked up with find_program) without waiting, output to /dev/null: work that runs beside ours
 * (ssh-keygen for the slow host key types). Returns 0 and the pid, or -errno; reap it with spawn_wait(). */
int spawn_background(char *const *argv, pid_t *ret_pid);

/* Waits for a child of spawn_background(): its exit status (0..255), -EPROTO when a signal killed it. */
int spawn_wait(pid_t pid);
