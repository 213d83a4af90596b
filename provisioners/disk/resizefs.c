/* SPDX-License-Identifier: MIT */
/*
 * Online filesystem growth through the kernel's own resize ioctls, instead of resize2fs / xfs_growfs /
 * `btrfs filesystem resize` (what cloud-init's cc_resizefs runs):
 *   ext4   EXT4_IOC_RESIZE_FS (fs/ext4/ioctl.c), argument: new block count
 *   xfs    XFS_IOC_FSGROWFSDATA (fs/xfs/xfs_fsops.c), argument: new data block count + imaxpct
 *   btrfs  BTRFS_IOC_RESIZE (fs/btrfs/ioctl.c), argument: "<devid>:max"
 * All three only grow, run on the mounted filesystem and are no-ops when there is nothing to add, so the
 * step is idempotent. Sizes reported are statvfs() f_blocks × f_frsize before and after.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btrfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "disk-internal.h"
#include "disk.h"
#include "log.h"

/* fs/ext4/ext4.h (not exported as uapi) */
#define EXT4_IOC_RESIZE_FS _IOW('f', 16, uint64_t)

/* xfsprogs/kernel fs/xfs/libxfs/xfs_fs.h; defined here so that xfslibs-dev is not a build dependency */
struct xfs_fsop_geom_v1 {
        uint32_t blocksize;
        uint32_t rtextsize;
        uint32_t agblocks;
        uint32_t agcount;
        uint32_t logblocks;
        uint32_t sectsize;
        uint32_t inodesize;
        uint32_t imaxpct;
        uint64_t datablocks;
        uint64_t rtblocks;
        uint64_t rtextents;
        uint64_t logstart;
        unsigned char uuid[16];
        uint32_t sunit;
        uint32_t swidth;
        int32_t version;
        uint32_t flags;
        uint32_t logsectsize;
        uint32_t rtsectsize;
        uint32_t dirblocksize;
};
struct xfs_growfs_data {
        uint64_t newblocks;
        uint32_t imaxpct;
};
#define XFS_IOC_FSGEOMETRY_V1 _IOR('X', 100, struct xfs_fsop_geom_v1)
#define XFS_IOC_FSGROWFSDATA  _IOW('X', 110, struct xfs_growfs_data)

/* Don't bother growing a btrfs device by less than this. */
#define BTRFS_GROW_MIN_BYTES (1024U * 1024U)

void fs_resize_result_done(FsResizeResult *r) {
        if (!r)
                return;
        free(r->fstype);
        free(r->summary);
        *r = (FsResizeResult){};
}

static int fs_size(int fd, uint64_t *ret, unsigned long *ret_bsize) {
        struct statvfs sv;

        if (fstatvfs(fd, &sv) < 0)
                return negative_errno();
        *ret = (uint64_t) sv.f_blocks * sv.f_frsize;
        if (ret_bsize)
                *ret_bsize = sv.f_bsize;
        return 0;
}

/* Returns 1 if a resize was requested, 0 if the filesystem already fills the device. */
static int grow_ext4(int fd, uint64_t device_size) {
        unsigned long bsize;
        uint64_t size, blocks;
        int r;

        /* ext4_statfs() reports the filesystem block size as f_bsize */
        r = fs_size(fd, &size, &bsize);
        if (r < 0)
                return r;
        if (bsize < 1024)
                return -EINVAL;
        blocks = device_size / bsize;
        /* ext4_resize_fs(): equal block count is a no-op, fewer is -EINVAL (no online shrink) */
        if (ioctl(fd, EXT4_IOC_RESIZE_FS, &blocks) < 0)
                return negative_errno();
        return 1;
}

static int grow_xfs(int fd, uint64_t device_size) {
        struct xfs_fsop_geom_v1 g = {};
        struct xfs_growfs_data d = {};

        if (ioctl(fd, XFS_IOC_FSGEOMETRY_V1, &g) < 0)
                return negative_errno();
        if (g.blocksize == 0)
                return -EINVAL;
        d.newblocks = device_size / g.blocksize;
        if (d.newblocks <= g.datablocks)
                return 0;
        /* keep the inode space limit, as xfs_growfs does unless -m is given */
        d.imaxpct = g.imaxpct;
        if (ioctl(fd, XFS_IOC_FSGROWFSDATA, &d) < 0)
                return negative_errno();
        return 1;
}

static int grow_btrfs(int fd, uint64_t device_size) {
        struct btrfs_ioctl_fs_info_args fi = {};
        struct btrfs_ioctl_dev_info_args di = {};
        struct btrfs_ioctl_vol_args va = {};

        if (ioctl(fd, BTRFS_IOC_FS_INFO, &fi) < 0)
                return negative_errno();
        if (fi.num_devices != 1)
                return -EOPNOTSUPP; /* multi-device filesystems: which device grew is not ours to guess */
        /* the single device's id is not necessarily 1 (after a replace); scan up to max_id */
        for (uint64_t id = 1; id <= fi.max_id; id++) {
                di = (struct btrfs_ioctl_dev_info_args){.devid = id};
                if (ioctl(fd, BTRFS_IOC_DEV_INFO, &di) == 0)
                        break;
                if (errno != ENODEV)
                        return negative_errno();
                di.devid = 0;
        }
        if (di.devid == 0)
                return -ENODEV;
        if (device_size <= di.total_bytes || device_size - di.total_bytes < BTRFS_GROW_MIN_BYTES)
                return 0;
        snprintf(va.name, sizeof va.name, "%" PRIu64 ":max", (uint64_t) di.devid);
        if (ioctl(fd, BTRFS_IOC_RESIZE, &va) < 0)
                return negative_errno();
        return 1;
}

int disk_resize_filesystem(int fs_fd, const char *fstype, uint64_t device_size, FsResizeResult *ret) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(fs_resize_result_done) FsResizeResult res = {};
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        int r;

        if (!fstype || !ret)
                return -EINVAL;
        /* ioctls need a real fd; fs_fd may be an O_PATH root fd */
        fd = openat(fs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        res.fstype = strdup(fstype);
        if (!res.fstype)
                return -ENOMEM;
        r = fs_size(fd, &res.old_size, NULL);
        if (r < 0)
                return r;
        if (streq(fstype, "ext4"))
                r = grow_ext4(fd, device_size);
        else if (streq(fstype, "xfs"))
                r = grow_xfs(fd, device_size);
        else if (streq(fstype, "btrfs"))
                r = grow_btrfs(fd, device_size);
        else
                return -EOPNOTSUPP;
        if (r < 0)
                return r;
        r = fs_size(fd, &res.new_size, NULL);
        if (r < 0)
                return r;
        if (res.new_size > res.old_size)
                r = asprintf(&res.summary, "%s grown online from %s to %s", fstype,
                             format_bytes(res.old_size, a, sizeof a),
                             format_bytes(res.new_size, b, sizeof b));
        else
                r = asprintf(&res.summary, "%s already fills its device (%s)", fstype,
                             format_bytes(res.old_size, a, sizeof a));
        if (r < 0) {
                res.summary = NULL;
                return -ENOMEM;
        }
        r = res.new_size > res.old_size;
        *ret = res;
        res = (FsResizeResult){};
        return r;
}
