/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the disk provisioner's files (not part of its public interface): cleanup functions for
 * libfdisk/libudev/libblkid objects, /proc/self/mountinfo parsing, block device discovery through libudev
 * (sysfs), BLKPG partition updates, the GPT header/CRC validator, and posix_spawn of mkfs-style tools.
 */
#pragma once

#include <blkid.h>
#include <libfdisk.h>
#include <libudev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk.h"
#include "error-util.h"
#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_context *, fdisk_unref_context);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_partition *, fdisk_unref_partition);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fdisk_table *, fdisk_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev *, udev_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(blkid_probe, blkid_free_probe);

/* ---- mountinfo (proc(5): /proc/<pid>/mountinfo) ---- */

typedef struct MountInfo {
        int mount_id;
        dev_t devnum;      /* st_dev of the superblock (anonymous for btrfs) */
        char *root;        /* path inside the filesystem */
        char *mount_point; /* unescaped */
        char *fstype;
        char *source; /* unescaped; e.g. /dev/sda1 */
} MountInfo;

void mount_info_done(MountInfo *m);

/* Parses one mountinfo line (pure). -EINVAL on malformed input. */
int mount_info_parse_line(const char *line, MountInfo *ret);

/*
 * Finds the entry with mount id mount_id (when >= 0) or else the first whose st_dev is devnum, in a
 * mountinfo text (pure). -ENOENT when none matches.
 */
int mount_info_find(const char *text, int mount_id, dev_t devnum, MountInfo *ret);

/* Finds the mount that fd lives on, from /proc/self/mountinfo (statx STATX_MNT_ID, falling back to st_dev). */
int mount_info_for_fd(int fd, MountInfo *ret);

/* Is the block device devnum mounted anywhere in our mount namespace? Returns 1/0 and the mount point. */
int block_device_mount_point(dev_t devnum, const char *node, char **ret_mount_point);

/* ---- block devices (sysfs via libudev) ---- */

typedef struct BlockDevice {
        dev_t devnum;
        char *node;      /* /dev/sda1 */
        char *sysname;   /* sda1 */
        char *disk_node; /* parent disk, NULL for a whole disk */
        dev_t disk_devnum;
        unsigned partno; /* 0 for a whole disk */
        uint64_t start;  /* kernel's partition start, 512-byte sectors */
        uint64_t size;   /* kernel's size, 512-byte sectors */
        char *dm_uuid;   /* device-mapper UUID ("LVM-…", "CRYPT-…") or NULL */
        bool is_md;
} BlockDevice;

void block_device_done(BlockDevice *d);
int block_device_from_devnum(dev_t devnum, BlockDevice *ret);

/* A partition as the running kernel knows it (sysfs), 512-byte sectors. */
typedef struct KernelPartition {
        unsigned partno;
        dev_t devnum;
        uint64_t start;
        uint64_t size;
} KernelPartition;

/* Lists the partitions the kernel currently has registered for a whole disk (sysfs children). */
int block_device_partitions(dev_t disk_devnum, KernelPartition **ret, size_t *ret_n);

/* BLKPG (linux/blkpg.h) on a whole-disk fd; start/length in bytes. */
int blkpg_resize_partition(int disk_fd, unsigned partno, uint64_t start, uint64_t length);
int blkpg_add_partition(int disk_fd, unsigned partno, uint64_t start, uint64_t length);
int blkpg_del_partition(int disk_fd, unsigned partno);

/* ---- GPT header check (UEFI 2.10 §5.3) ---- */

/* Reads the primary GPT header's AlternateLBA (to tell whether the disk grew) and the size in bytes of its
 * partition entry array (which sits just before the backup header). */
int gpt_alternate_lba(int fd, unsigned sector_size, uint64_t *ret, uint64_t *ret_entries_bytes);

/*
 * Validates both GPT headers and their entry arrays on fd: signature, header CRC32, MyLBA, AlternateLBA
 * pairing, partition-entry-array CRC32. Returns 0 when consistent, -EUCLEAN explained in *error when not,
 * other negative errno on I/O errors.
 */
int gpt_check_headers(int fd, unsigned sector_size, uint64_t total_sectors, Error *error);

uint32_t disk_crc32(const void *data, size_t size);

/* ---- libfdisk ---- */

/*
 * Opens a libfdisk context on fd (read-only or not) whose messages go to the debug log; the context does
 * not own fd. fdisk_verify() runs fdisk_verify_disklabel() and counts the warnings it reports, less the
 * expected ones (see warning_is_benign()): 0 when there are none, else -EUCLEAN explained in *error as
 * "N problem(s): <the first>". gpt_relocated: the GPT backup header is not at the end of a disk that grew.
 */
int fdisk_open_fd(int fd, bool readonly, struct fdisk_context **ret);
int fdisk_verify(struct fdisk_context *cxt, bool gpt_relocated, Error *error);

/* ---- child processes ---- */

/*
 * Runs argv[0] (looked up in a fixed PATH: /usr/sbin:/usr/bin:/sbin:/bin) with argv, stdin /dev/null and
 * stdout+stderr captured (first 4 KiB) into *ret_output (may be NULL). When pass_fd >= 0 it is available to
 * the child as fd 3. Returns 0 on exit status 0, -EPROTO on another exit status or signal, -ENOENT when
 * the program does not exist.
 */
int disk_spawn(char *const argv[], int pass_fd, char **ret_output);

/* ---- dm-crypt (crypt-grow.c) ---- */

/*
 * The root is the dm-crypt (LUKS) mapping dm: grows the partition under it, then the mapping (libcryptsetup
 * crypt_resize(), the volume key as crypt-grow.c describes; root_fd: where /cc_growpart_keydata is looked for).
 * Fills res (summary included); returns <0 on errors that are not the disk's, 1 when something grew, else 0.
 */
int disk_grow_crypt(int root_fd, const BlockDevice *dm, DiskGrowResult *res);

/* ---- misc ---- */

int fd_get_size(int fd, uint64_t *ret); /* bytes: BLKGETSIZE64 or st_size */
char *format_bytes(uint64_t n, char *buf, size_t size);
#define FORMAT_BYTES_MAX 32
