/* SPDX-License-Identifier: MIT */
/*
 * Disk provisioning: grow the root partition and filesystem online after the OS disk was resized in the
 * portal (what cloud-init's cc_growpart + cc_resizefs do by shelling out to growpart/resize2fs/xfs_growfs),
 * and set up the Azure resource (ephemeral) disk and an optional swap file on it (waagent's
 * daemon/resourcedisk). Partition tables are edited in-process with libfdisk and the running kernel is told
 * with BLKPG; filesystems are grown with their online-resize ioctls; mkfs/mkswap run via posix_spawn with an
 * argv, never a shell.
 *
 * Every entry point runs on first boot and on every later boot and is idempotent: it returns <0 on error,
 * 0 when nothing had to change (including "skipped", with the reason in the summary), 1 when it changed
 * something. Result structs are filled only on success and released with their *_done() function.
 * Nothing here logs above debug level; the caller logs the summary.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct Context Context;

/* Outcome of growing one partition in its table (and in the running kernel). Sizes in bytes. */
typedef struct GrowPartResult {
        unsigned partno; /* 1-based, as the kernel counts */
        uint64_t old_size;
        uint64_t new_size;   /* == old_size when unchanged */
        bool table_changed;  /* partition table rewritten */
        bool kernel_updated; /* BLKPG_RESIZE_PARTITION issued */
        bool refused;        /* the table is inconsistent or unsupported: nothing was touched */
        char *summary;       /* what was done, or why nothing was (why it was refused) */
} GrowPartResult;

/* Outcome of an online filesystem grow. Sizes are statvfs(f_blocks × f_frsize), in bytes. */
typedef struct FsResizeResult {
        char *fstype;
        uint64_t old_size;
        uint64_t new_size;
        char *summary;
} FsResizeResult;

typedef struct DiskGrowResult {
        char *device;    /* block device holding the root filesystem, e.g. /dev/sda1 */
        char *disk;      /* its parent disk, e.g. /dev/sda; NULL when root is a whole disk */
        unsigned partno; /* 0 when root is a whole disk */
        char *fstype;
        uint64_t part_old_size, part_new_size;
        uint64_t fs_old_size, fs_new_size;
        bool partition_grown;
        bool filesystem_grown;
        bool refused;     /* see GrowPartResult.refused; the caller should warn */
        char *crypt_name; /* dm-crypt (LUKS) root: the mapping's name (crypt-grow.c), else NULL */
        uint64_t crypt_old_size, crypt_new_size;
        bool crypt_grown;
        char *summary; /* one human-readable line: what changed, or why nothing did */
} DiskGrowResult;

/* cloud-init cc_growpart's one-time key for an encrypted root: {"key": "<base64>", "slot": N} (crypt-grow.c) */
#define CRYPT_KEYDATA_FILE "/cc_growpart_keydata"

void grow_part_result_done(GrowPartResult *r);
void fs_resize_result_done(FsResizeResult *r);
void disk_grow_result_done(DiskGrowResult *r);

/*
 * Grows the partition and filesystem holding the root (c->root_fd) to fill its disk. Honours
 * [Disks] GrowRootPartition= and /etc/growroot-disabled (cloud-init's opt-out file). A LUKS (dm-crypt) root on one
 * partition grows in three steps: partition, mapping, filesystem (crypt-grow.c). Skips, with a reason,
 * LVM, other device-mapper devices, md RAID, non-block roots, logical MBR partitions, partitions followed by another
 * partition, and refuses tables that libfdisk (or the GPT header/CRC check) reports as inconsistent.
 */
int disk_grow_root(Context *c, DiskGrowResult *ret);

/* Same, for the filesystem that fs_fd (any fd on it, typically its mount point) lives on. */
int disk_grow_filesystem_at(int fs_fd, DiskGrowResult *ret);

/*
 * Grows partition partno (1-based) of the table on disk (a block device, or an image file) to the end of
 * the free space that follows it, end aligned to the table's grain (1 MiB). Moves the GPT backup header
 * to the end of a grown disk in the same write. On a block device also resizes the kernel's partition.
 */
int disk_grow_partition(const char *disk, unsigned partno, GrowPartResult *ret);

/*
 * Grows the mounted filesystem fs_fd lives on to fill its block device (device_size bytes): ext4 via
 * EXT4_IOC_RESIZE_FS, xfs via XFS_IOC_FSGROWFSDATA, btrfs via BTRFS_IOC_RESIZE "max".
 * Returns -EOPNOTSUPP for other filesystem types.
 */
int disk_resize_filesystem(int fs_fd, const char *fstype, uint64_t device_size, FsResizeResult *ret);

/* ---- Resource (ephemeral) disk ---- */

#define RESOURCE_DISK_DEFAULT_DEVICE "/dev/disk/azure/resource"
/* GPT partition name and filesystem label that mark a resource disk formatted by us (xfs labels ≤ 12 chars). */
#define RESOURCE_DISK_LABEL "azl-resource"
/* The label Azure gives the NTFS placeholder it puts on a fresh resource disk. */
#define RESOURCE_DISK_NTFS_LABEL   "Temporary Storage"
#define RESOURCE_DISK_WARNING_FILE "DATALOSS_WARNING_README.txt"
#define RESOURCE_DISK_SWAP_FILE    "swapfile"

typedef struct ResourceDiskOptions {
        const char *filesystem;  /* mkfs type: ext4 (default), xfs, btrfs */
        const char *mount_point; /* below root_fd; default /mnt */
        uint64_t swap_size_mib;  /* 0 = no swap file */
        const char *scratch_dir; /* host directory for temporary NTFS inspection mounts; default /run */
} ResourceDiskOptions;

typedef struct ResourceDiskResult {
        char *device;    /* resolved whole-disk node */
        char *partition; /* node of the data partition, when there is one */
        char *filesystem;
        char *mount_point;
        bool formatted;
        bool mounted;      /* mounted by this call */
        bool swap_enabled; /* swapon issued by this call */
        char *summary;
} ResourceDiskResult;

void resource_disk_result_done(ResourceDiskResult *r);

/*
 * Formats (only if it holds nothing or just Azure's NTFS placeholder), mounts and adds swap to the resource
 * disk. device NULL means RESOURCE_DISK_DEFAULT_DEVICE; a missing device is "nothing to do" (0). Honours
 * [Disks] ResourceDiskFormat=, ResourceDiskFilesystem=, ResourceDiskMountPoint=, SwapSizeMiB=.
 */
int resource_disk_setup(Context *c, const char *device, ResourceDiskResult *ret);

/* Same with explicit options; the mount point is resolved below root_fd. */
int resource_disk_setup_full(int root_fd, const char *device, const ResourceDiskOptions *o,
                             ResourceDiskResult *ret);

/* The text waagent writes to DATALOSS_WARNING_README.txt (daemon/resourcedisk/default.py). */
extern const char resource_disk_warning_text[];
