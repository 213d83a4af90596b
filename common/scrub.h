/* SPDX-License-Identifier: MIT */
/*
 * Secrets at rest (docs/security.md, "Passwords and secrets at rest"): a file that held a secret is replaced
 * or removed so that the secret is gone from the file system, not merely unlinked. The new content goes in
 * first, atomically (write_file_atomic_in_root()); then the old inode, still open, is overwritten with zeros,
 * synced and truncated, so its blocks no longer hold the secret once freed. This is best effort below the file
 * system (a copy-on-write file system or an SSD's flash translation may keep old blocks); what it guarantees is
 * that no file, not even an unlinked inode someone still holds open, keeps the bytes.
 *
 * Only a regular file with one link is zeroed (never the target of a symlink, nor an inode also linked
 * elsewhere, which would destroy another file's content); such a path is still replaced or removed.
 *
 * For every copy of a secret the agent keeps: the seed copy of ovf-env.xml once its password is applied
 * (media_seed_scrub_password()), and the same policy for custom data copies once they have been consumed.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Replaces path (below root_fd, resolved in it) with data (mode, owned by us), then zeroes the old inode. */
int scrub_file_replace_in_root(int root_fd, const char *path, const void *data, size_t size, mode_t mode);

/* Zeroes path's inode, then unlinks it. 0 also when it did not exist. */
int scrub_file_remove_in_root(int root_fd, const char *path);

/* Overwrites fd's content (a regular file with one link) with zeros, syncs and truncates it. */
int scrub_fd(int fd);
