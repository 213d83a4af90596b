/* SPDX-License-Identifier: MIT */
/*
 * Grow the root: find the block device under the root filesystem (the mount root_fd lives on, from
 * /proc/self/mountinfo; then sysfs through libudev for its parent disk and partition number), grow that
 * partition (growpart.c) and then the filesystem (resizefs.c). A LUKS (dm-crypt) root grows its partition, then
 * its mapping, then the filesystem (crypt-grow.c), as cloud-init's growpart does for encrypted roots. Other
 * stacked devices are skipped, as cloud-init does for non-LUKS mapped devices: LVM, other device-mapper targets,
 * md RAID.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "context.h"
#include "disk-internal.h"
#include "disk.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"

/* cloud-init cc_growpart: the presence of this file disables growing the root */
#define GROWROOT_DISABLED_FILE "/etc/growroot-disabled"

void disk_grow_result_done(DiskGrowResult *r) {
        if (!r)
                return;
        free(r->device);
        free(r->disk);
        free(r->fstype);
        free(r->crypt_name);
        free(r->summary);
        *r = (DiskGrowResult){};
}

static int set_summary(DiskGrowResult *r, const char *fmt, ...) _printf_(2, 3);
static int set_summary(DiskGrowResult *r, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = strprintfv(&r->summary, fmt, ap);
        va_end(ap);
        return k;
}

static bool fstype_growable(const char *fstype) {
        return streq(fstype, "ext4") || streq(fstype, "xfs") || streq(fstype, "btrfs");
}

/* The block device behind a mount: its st_dev, or for btrfs (anonymous st_dev) the source's st_rdev. */
static int mount_devnum(const MountInfo *m, dev_t *ret) {
        struct stat st;

        if (major(m->devnum) != 0) {
                *ret = m->devnum;
                return 0;
        }
        if (!startswith(m->source, "/dev/") || stat(m->source, &st) < 0 || !S_ISBLK(st.st_mode))
                return -ENOTBLK;
        *ret = st.st_rdev;
        return 0;
}

/* A LUKS mapping (libcryptsetup names them CRYPT-LUKS1-… / CRYPT-LUKS2-…): crypt-grow.c grows it. */
static bool is_luks_mapping(const BlockDevice *bd) {
        return bd->dm_uuid &&
               (startswith(bd->dm_uuid, "CRYPT-LUKS1-") || startswith(bd->dm_uuid, "CRYPT-LUKS2-"));
}

/* Returns a reason (static string) when the device is stacked and must not be grown, else NULL. */
static const char *stacked_reason(const BlockDevice *bd) {
        if (bd->dm_uuid) {
                if (startswith(bd->dm_uuid, "LVM-"))
                        return "it is an LVM logical volume (grow the PV/LV with LVM tools)";
                if (startswith(bd->dm_uuid, "CRYPT-"))
                        return "it is a dm-crypt mapping that is not LUKS (plain, TCRYPT, BitLocker)";
                return "it is a device-mapper device";
        }
        if (bd->is_md)
                return "it is an md RAID device";
        return NULL;
}

static int device_size(const char *node, uint64_t *ret) {
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return fd_get_size(fd, ret);
}

/* Grows the partition under the root, filling res; returns <0, 0 or 1 like disk_grow_partition(). */
static int grow_root_partition(const BlockDevice *bd, DiskGrowResult *res) {
        _cleanup_(grow_part_result_done) GrowPartResult gp = {};
        int r;

        r = disk_grow_partition(bd->disk_node, bd->partno, &gp);
        if (r < 0)
                return r;
        res->part_old_size = gp.old_size;
        res->part_new_size = gp.new_size;
        res->partition_grown = r > 0;
        res->refused = gp.refused;
        r = set_summary(res, "%s", gp.summary);
        return r < 0 ? r : res->partition_grown;
}

static int grow_block_device(int fs_fd, const MountInfo *m, DiskGrowResult *res) {
        _cleanup_(block_device_done) BlockDevice bd = {};
        _cleanup_(fs_resize_result_done) FsResizeResult fr = {};
        _cleanup_free_ char *part_summary = NULL;
        const char *why;
        uint64_t size;
        dev_t devnum;
        int r, changed = 0;

        r = mount_devnum(m, &devnum);
        if (r < 0)
                return set_summary(res, "root filesystem source '%s' is not a block device; nothing to grow",
                                   m->source);
        r = block_device_from_devnum(devnum, &bd);
        if (r < 0)
                return r;
        if (free_and_strdup(&res->device, bd.node) < 0 || free_and_strdup(&res->disk, bd.disk_node) < 0)
                return -ENOMEM;
        res->partno = bd.partno;
        if (is_luks_mapping(&bd)) {
                r = disk_grow_crypt(fs_fd, &bd, res);
                if (r < 0 || res->refused)
                        return r < 0 ? r : 0;
                changed |= r;
                part_summary = TAKE_PTR(res->summary);
        } else if ((why = stacked_reason(&bd)))
                return set_summary(res, "not growing root on %s: %s", bd.node, why);
        else if (bd.partno > 0) {
                r = grow_root_partition(&bd, res);
                if (r < 0 || res->refused)
                        return r < 0 ? r : 0;
                changed |= r;
                part_summary = TAKE_PTR(res->summary);
        }
        r = device_size(bd.node, &size);
        if (r < 0)
                return r;
        r = disk_resize_filesystem(fs_fd, m->fstype, size, &fr);
        if (r < 0)
                return r;
        res->fs_old_size = fr.old_size;
        res->fs_new_size = fr.new_size;
        res->filesystem_grown = r > 0;
        changed |= r;
        r = set_summary(res, "%s%s%s", strempty(part_summary), part_summary ? "; " : "", fr.summary);
        return r < 0 ? r : changed;
}

int disk_grow_filesystem_at(int fs_fd, DiskGrowResult *ret) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        _cleanup_(mount_info_done) MountInfo m = {};
        int r;

        if (!ret)
                return -EINVAL;
        r = mount_info_for_fd(fs_fd, &m);
        if (r < 0)
                return r;
        res.fstype = strdup(m.fstype);
        if (!res.fstype)
                return -ENOMEM;
        if (!fstype_growable(m.fstype))
                r = set_summary(&res, "root filesystem type '%s' cannot be grown online; nothing to do",
                                m.fstype);
        else
                r = grow_block_device(fs_fd, &m, &res);
        if (r < 0)
                return r;
        *ret = res;
        res = (DiskGrowResult){};
        return r;
}

int disk_grow_root(Context *c, DiskGrowResult *ret) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        int r;

        if (!c || !ret)
                return -EINVAL;
        if (!c->config.grow_root)
                r = set_summary(&res,
                                "growing the root partition is disabled ([Disks] GrowRootPartition=no)");
        else if (access_in_root(c->root_fd, GROWROOT_DISABLED_FILE) == 0)
                r = set_summary(&res, "growing the root partition is disabled by %s",
                                GROWROOT_DISABLED_FILE);
        else
                return disk_grow_filesystem_at(c->root_fd, ret);
        if (r < 0)
                return r;
        *ret = res;
        res = (DiskGrowResult){};
        return 0;
}
