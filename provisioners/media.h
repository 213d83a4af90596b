/* SPDX-License-Identifier: MIT */
/*
 * The provisioning media: Azure attaches a small UDF (older: ISO 9660) CD-ROM holding ovf-env.xml
 * (protocol §5.2 step 2). We find it through udev (ID_CDROM=1 or ID_FS_TYPE udf/iso9660; plus
 * any /dev/sr[0-9] as a fallback when udev has no database yet), mount it read-only ourselves on a private
 * temporary directory (udf first, then iso9660; azure-init only looks at media that something else mounted,
 * which on a server boot is nothing), read ovf-env.xml (bounded), unmount and eject it (best effort).
 *
 * A seed directory, <state_dir>/seed/ovf-env.xml under the root, is read first: for tests, nspawn containers
 * and images prepared offline (cloud-init's seed dir does the same job).
 */
#pragma once

#include <stddef.h>

#include "context.h"

#define OVF_ENV_FILENAME "ovf-env.xml"
#define MEDIA_SEED_DIR   "seed" /* below the state dir */

/* Candidate device nodes, udev's first, then /dev/sr*; -ENOENT when there is none. */
int media_find_devices(char ***ret);

/* Mounts devnode read-only with each of fstypes in turn (NULL-terminated), reads ovf-env.xml, unmounts and
 * ejects. -ENOMEDIUM when no filesystem type could be mounted, -ENOENT when the medium has no ovf-env.xml. */
int media_read_device_fstypes(const char *devnode, const char *const *fstypes, char **ret, size_t *ret_size);
/* Same with udf, then iso9660. */
int media_read_device(const char *devnode, char **ret, size_t *ret_size);

/* Reads ovf-env.xml from a directory (an already mounted medium, a seed dir) below root_fd. */
int media_read_dir(int root_fd, const char *dir, char **ret, size_t *ret_size);

/* The seed dir, then every candidate device; -ENOMEDIUM when nothing holds an ovf-env.xml. */
int media_read_ovf_env(Context *c, char **ret, size_t *ret_size);

/* Saves buf with the password removed (ovf_env_redact) as <state_dir>/ovf-env.xml, 0600 root:root, for
 * later inspection and for the tools that read waagent's copy. */
int media_save_ovf_env(Context *c, const char *buf, size_t len);

/*
 * Once the password is applied: rewrites the seed copy (<state_dir>/seed/ovf-env.xml) with the password removed
 * and marked as scrubbed, zeroing the old bytes (scrub_file_replace_in_root()). 1 when a password was scrubbed,
 * 0 when there was no seed or no password in it.
 */
int media_seed_scrub_password(Context *c);
