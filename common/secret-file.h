/* SPDX-License-Identifier: MIT */
/*
 * Where a decrypted secret the agent writes lives (docs/security.md "Confidential VMs"). The tenant certificates'
 * private keys (<THUMBPRINT>.prv) and the transport key (TransportPrivate.pem) have fixed paths in
 * /var/lib/waagent that extension handlers open (the waagent contract). On a confidential VM their bytes must
 * not reach a disk: they go to a directory on tmpfs (or ramfs), and the contract path becomes a symlink to the
 * file there, so every handler that opens the path reads the key from memory. After a reboot the symlinks
 * dangle until the daemon fetches the certificates again (it does on its first goal state).
 *
 *   secret_file_write(root, "/var/lib/waagent/ABC.prv", NULL, …)        a 0600 file, atomically (the default)
 *   secret_file_write(root, "/var/lib/waagent/ABC.prv", "/run/azl-agent/secrets", …)
 *       → /run/azl-agent/secrets/ABC.prv (0600, directory 0700, on tmpfs or -EMEDIUMTYPE)
 *       → /var/lib/waagent/ABC.prv -> /run/azl-agent/secrets/ABC.prv (replaced atomically; a regular file that
 *         held the key before is overwritten with zeros and synced first)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Whether the directory (beneath root_fd) is on tmpfs or ramfs: 1/0, or -errno. */
int dir_is_tmpfs(int root_fd, const char *dir);

int secret_file_write(int root_fd, const char *path, const char *secrets_dir, const void *data, size_t size);

/* A secret left at path as a regular file (by a run without a secrets directory): its bytes overwritten with zeros
 * and synced, then the file removed. A symlink or nothing there: nothing to do. 1 when a file was removed, 0, or
 * -errno. */
int secret_file_discard(int root_fd, const char *path);

/* Whether path is already what secret_file_write() makes of it: a symlink to <secrets_dir>/<name>. 1/0 or -errno. */
int secret_file_is_linked(int root_fd, const char *path, const char *secrets_dir);
