/* SPDX-License-Identifier: MIT */
/*
 * The Azure resource (ephemeral, "temporary") disk: waagent's daemon/resourcedisk and cloud-init's
 * can_dev_be_reformatted() in one careful step. The platform hands a fresh VM a disk with one NTFS partition
 * labelled "Temporary Storage" that holds only DATALOSS_WARNING_README.txt; NVMe local disks come blank.
 * Only those two states are reformatted: a new GPT with one partition named "azl-resource", mkfs (ext4 by
 * default) labelled "azl-resource", mounted at the configured point (default /mnt), the data-loss warning
 * written. A disk we formatted earlier (same name and label) is just mounted again. Anything else — another
 * filesystem, more partitions, an NTFS with user files, an NTFS we cannot inspect — is left alone, not even
 * mounted, so its bytes stay as they are.
 *
 * Mounts use the new mount API (fsopen/fsmount/move_mount, Linux 5.2) so that the target is the directory
 * fd resolved below the root with RESOLVE_IN_ROOT, and the NTFS inspection mount is a detached, read-only
 * mount that is never attached to the tree (ntfs-3g via FUSE, when the kernel has no ntfs3, is the one
 * exception and is mounted on a private scratch directory).
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "context.h"
#include "disk-internal.h"
#include "disk.h"
#include "fileio.h"
#include "log.h"
#include "strutil.h"

/* WALinuxAgent azurelinuxagent/daemon/resourcedisk/default.py DATA_LOSS_WARNING */
const char resource_disk_warning_text[] =
        "WARNING: THIS IS A TEMPORARY DISK.\n"
        "\n"
        "Any data stored on this drive is SUBJECT TO LOSS and THERE IS NO WAY TO RECOVER IT.\n"
        "\n"
        "Please do not use this disk for storing any personal or application data.\n"
        "\n"
        "For additional details to please refer to the MSDN documentation at :\n"
        "http://msdn.microsoft.com/en-us/library/windowsazure/jj672979.aspx\n";

/* Discoverable Partitions Specification / UEFI: "Linux filesystem data" */
#define GPT_TYPE_LINUX_DATA "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
#define BLANK_CHECK_BYTES   (1024U * 1024U)
#define MIB                 (UINT64_C(1024) * 1024)
#define BTRFS_SUPER_MAGIC_  0x9123683E

typedef enum DiskContent {
        CONTENT_BLANK,            /* no table, no signature, first MiB zero */
        CONTENT_NTFS_PLACEHOLDER, /* Azure's "Temporary Storage" NTFS with only the warning file */
        CONTENT_OURS,             /* formatted by us earlier */
        CONTENT_OTHER,            /* anything else: never touched */
} DiskContent;

typedef struct Classification {
        DiskContent content;
        unsigned partno;
        char *fstype;
        char *reason;
} Classification;

static void classification_done(Classification *c) {
        free(c->fstype);
        free(c->reason);
        *c = (Classification){};
}

void resource_disk_result_done(ResourceDiskResult *r) {
        if (!r)
                return;
        free(r->device);
        free(r->partition);
        free(r->filesystem);
        free(r->mount_point);
        free(r->summary);
        *r = (ResourceDiskResult){};
}

static int classify_as(Classification *c, DiskContent content, const char *fmt, ...) _printf_(3, 4);
static int classify_as(Classification *c, DiskContent content, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strprintfv(&c->reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        c->content = content;
        return 0;
}

/* ---- probing ---- */

/* Probes superblocks in [offset, offset+size) of fd. Returns 1 with TYPE (and LABEL) if found, 0 if none. */
static int probe_fs(int fd, uint64_t offset, uint64_t size, char **ret_type, char **ret_label) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();
        const char *v = NULL;
        int r;

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
        r = blkid_do_safeprobe(pr);
        if (r == 1)
                return 0;
        if (r == -2) {
                *ret_type = strdup("ambivalent"); /* several signatures: certainly not blank */
                *ret_label = NULL;
                return *ret_type ? 1 : -ENOMEM;
        }
        if (r < 0)
                return -EIO;
        if (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) < 0 &&
            blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) < 0)
                v = "unknown";
        *ret_type = strdup(v);
        v = NULL;
        (void) blkid_probe_lookup_value(pr, "LABEL", &v, NULL);
        *ret_label = v ? strdup(v) : NULL;
        if (!*ret_type || (v && !*ret_label)) {
                free(*ret_type);
                return -ENOMEM;
        }
        return 1;
}

static int first_bytes_blank(int fd, size_t n) {
        _cleanup_free_ uint8_t *buf = malloc(n);
        ssize_t k;

        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, n, 0);
        if (k < 0)
                return negative_errno();
        for (ssize_t i = 0; i < k; i++)
                if (buf[i] != 0)
                        return 0;
        return 1;
}

/* Is name one of the files Azure puts on (or Windows adds to) the placeholder? (cloud-init's allowlist) */
static bool placeholder_entry(const char *name) {
        return streq(name, ".") || streq(name, "..") || strcasecmp(name, RESOURCE_DISK_WARNING_FILE) == 0 ||
               strcasecmp(name, "System Volume Information") == 0;
}

/* Lists dir_fd; returns 1 if it holds only placeholder entries, 0 otherwise (first other name in *ret). */
static int only_placeholder_files(int dir_fd, char **ret_other) {
        DIR *d = fdopendir(dir_fd);
        int r = 1;

        if (!d) {
                r = negative_errno();
                close(dir_fd);
                return r;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (!placeholder_entry(de->d_name)) {
                        *ret_other = strdup(de->d_name);
                        r = *ret_other ? 0 : -ENOMEM;
                        break;
                }
        closedir(d);
        return r;
}

/* Kernel NTFS (ntfs3, Linux 5.15): a detached read-only mount, gone when its fd is closed. */
static int inspect_ntfs_kernel(const char *node, char **ret_other) {
        _cleanup_close_ int fs = -EBADF, mnt = -EBADF;
        int dfd;

        fs = fsopen("ntfs3", FSOPEN_CLOEXEC);
        if (fs < 0)
                return negative_errno();
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", node, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return negative_errno();
        mnt = fsmount(fs, FSMOUNT_CLOEXEC,
                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return negative_errno();
        dfd = openat(mnt, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        return only_placeholder_files(dfd, ret_other);
}

/* ntfs-3g (FUSE) needs a mount point: a private directory below scratch, removed afterwards. */
static int inspect_ntfs_3g(const char *node, const char *scratch, char **ret_other) {
        _cleanup_free_ char *dir = NULL;
        int r, dfd;

        if (asprintf(&dir, "%s/azl-agent-ntfs-XXXXXX", scratch) < 0)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return negative_errno();
        /* -o ro: ntfs-3g never writes (no journal replay, no dirty bit) in read-only mode */
        r = disk_spawn((char *const[]){(char *) "ntfs-3g", (char *) "-o", (char *) "ro,nosuid,nodev,noexec",
                                       (char *) node, dir, NULL},
                       -EBADF, NULL);
        if (r < 0) {
                (void) rmdir(dir);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r = dfd < 0 ? negative_errno() : only_placeholder_files(dfd, ret_other);
        (void) umount2(dir, UMOUNT_NOFOLLOW);
        (void) rmdir(dir);
        return r;
}

static int inspect_ntfs(const char *node, const char *scratch, Classification *c) {
        _cleanup_free_ char *other = NULL;
        int r;

        r = inspect_ntfs_kernel(node, &other);
        if (r == -ENODEV || r == -ENOENT)
                r = inspect_ntfs_3g(node, scratch, &other);
        if (r < 0)
                return classify_as(
                        c, CONTENT_OTHER,
                        "NTFS placeholder contents cannot be inspected (no ntfs3 driver or ntfs-3g: %s); "
                        "not reformatting",
                        strerror(-r));
        if (r == 0)
                return classify_as(c, CONTENT_OTHER, "NTFS partition holds '%s'; not reformatting", other);
        return classify_as(c, CONTENT_NTFS_PLACEHOLDER, "holds only Azure's NTFS placeholder");
}

/* Finds the device node of kernel partition partno of disk. */
static int partition_node(dev_t disk, unsigned partno, char **ret, dev_t *ret_devnum) {
        _cleanup_free_ KernelPartition *parts = NULL;
        size_t n = 0;
        int r;

        r = block_device_partitions(disk, &parts, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(block_device_done) BlockDevice bd = {};

                if (parts[i].partno != partno)
                        continue;
                r = block_device_from_devnum(parts[i].devnum, &bd);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(bd.node);
                if (ret_devnum)
                        *ret_devnum = parts[i].devnum;
                return 0;
        }
        return -ENXIO;
}

static int classify_unpartitioned(int fd, Classification *c) {
        _cleanup_free_ char *type = NULL, *label = NULL;
        int r;

        r = probe_fs(fd, 0, 0, &type, &label);
        if (r < 0)
                return r;
        if (r > 0)
                return classify_as(c, CONTENT_OTHER, "holds a '%s' signature on the whole disk", type);
        r = first_bytes_blank(fd, BLANK_CHECK_BYTES);
        if (r < 0)
                return r;
        if (r == 0)
                return classify_as(c, CONTENT_OTHER, "has no signature but its first MiB is not blank");
        return classify_as(c, CONTENT_BLANK, "is blank");
}

/* The disk's only partition, or an OTHER classification. Returns 1 with the partition, 0 when classified. */
static int single_partition(struct fdisk_context *cxt, Classification *c, struct fdisk_partition **ret) {
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        _cleanup_error_ Error problem = ERROR_NULL;
        size_t n;
        int r;

        r = fdisk_verify(cxt, false, &problem);
        if (r == -EUCLEAN)
                return classify_as(c, CONTENT_OTHER, "has an inconsistent partition table (%s)",
                                   error_reason(&problem));
        if (r < 0)
                return r;
        r = fdisk_get_partitions(cxt, &tb);
        if (r < 0)
                return r;
        n = fdisk_table_get_nents(tb);
        if (n != 1)
                return classify_as(c, CONTENT_OTHER, "has %zu partitions", n);
        *ret = fdisk_table_get_partition(tb, 0);
        fdisk_ref_partition(*ret);
        return 1;
}

static int classify_partition(int fd, dev_t disk, struct fdisk_context *cxt, struct fdisk_partition *pa,
                              const char *scratch, Classification *c) {
        _cleanup_free_ char *type = NULL, *label = NULL, *node = NULL;
        unsigned long ss = fdisk_get_sector_size(cxt);
        const char *name = fdisk_partition_get_name(pa);
        int r;

        c->partno = (unsigned) fdisk_partition_get_partno(pa) + 1;
        r = probe_fs(fd, fdisk_partition_get_start(pa) * ss, fdisk_partition_get_size(pa) * ss, &type,
                     &label);
        if (r < 0)
                return r;
        if (r == 0)
                return classify_as(c, CONTENT_OTHER, "partition %u has no filesystem signature (raw data?)",
                                   c->partno);
        if (fdisk_is_label(cxt, GPT) && streq_ptr(name, RESOURCE_DISK_LABEL) &&
            streq_ptr(label, RESOURCE_DISK_LABEL)) {
                c->fstype = TAKE_PTR(type);
                return classify_as(c, CONTENT_OURS, "was formatted by azl-agent (%s)", c->fstype);
        }
        if (!streq(type, "ntfs") || !streq_ptr(label, RESOURCE_DISK_NTFS_LABEL))
                return classify_as(c, CONTENT_OTHER, "partition %u holds a '%s' filesystem labelled '%s'",
                                   c->partno, type, strempty(label));
        r = partition_node(disk, c->partno, &node, NULL);
        if (r < 0)
                return classify_as(c, CONTENT_OTHER,
                                   "NTFS partition %u has no device node (%s); not reformatting", c->partno,
                                   strerror(-r));
        return inspect_ntfs(node, scratch, c);
}

/* Decides what the disk holds. Opens read-only and never writes. */
static int classify(const char *device, dev_t disk, const char *scratch, Classification *ret) {
        _cleanup_(classification_done) Classification c = {};
        _cleanup_close_ int fd = -EBADF;
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
        int r;

        fd = open(device, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        r = fdisk_open_fd(fd, true, &cxt);
        if (r < 0)
                return r;
        if (!fdisk_has_label(cxt))
                r = classify_unpartitioned(fd, &c);
        else {
                r = single_partition(cxt, &c, &pa);
                if (r > 0)
                        r = classify_partition(fd, disk, cxt, pa, scratch, &c);
        }
        if (r < 0)
                return r;
        *ret = c;
        c = (Classification){};
        return 0;
}

/* ---- formatting ---- */

/* wipefs -a: erase every partition-table and filesystem signature libblkid finds in the range. */
static int wipe_signatures(int fd, uint64_t offset, uint64_t size) {
        _cleanup_(blkid_free_probep) blkid_probe pr = blkid_new_probe();

        if (!pr)
                return -ENOMEM;
        if (blkid_probe_set_device(pr, fd, (blkid_loff_t) offset, (blkid_loff_t) size) < 0)
                return -EIO;
        blkid_probe_enable_superblocks(pr, 1);
        blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_MAGIC | BLKID_SUBLKS_BADCSUM);
        blkid_probe_enable_partitions(pr, 1);
        blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC | BLKID_PARTS_FORCE_GPT);
        while (blkid_do_probe(pr) == 0)
                if (blkid_do_wipe(pr, 0) < 0)
                        return -EIO;
        return fsync(fd) < 0 ? negative_errno() : 0;
}

/* Writes a fresh GPT with one Linux data partition spanning the disk; returns its start/size in bytes. */
static int write_table(int fd, uint64_t *ret_start, uint64_t *ret_size) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL, *got = NULL;
        struct fdisk_parttype *t;
        size_t partno = 0;
        int r;

        r = fdisk_open_fd(fd, false, &cxt);
        if (r < 0)
                return r;
        r = fdisk_create_disklabel(cxt, "gpt");
        if (r < 0)
                return r;
        pa = fdisk_new_partition();
        if (!pa)
                return -ENOMEM;
        t = fdisk_label_get_parttype_from_string(fdisk_get_label(cxt, NULL), GPT_TYPE_LINUX_DATA);
        if (!t)
                return -ENOMEM;
        r = fdisk_partition_set_type(pa, t);
        fdisk_unref_parttype(t);
        if (r < 0 || (r = fdisk_partition_set_partno(pa, 0)) < 0 ||
            (r = fdisk_partition_start_follow_default(pa, 1)) < 0 ||
            (r = fdisk_partition_end_follow_default(pa, 1)) < 0 ||
            (r = fdisk_partition_set_name(pa, RESOURCE_DISK_LABEL)) < 0)
                return r;
        r = fdisk_add_partition(cxt, pa, &partno);
        if (r < 0)
                return r;
        r = fdisk_write_disklabel(cxt);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return negative_errno();
        r = fdisk_get_partition(cxt, partno, &got);
        if (r < 0)
                return r;
        *ret_start = fdisk_partition_get_start(got) * fdisk_get_sector_size(cxt);
        *ret_size = fdisk_partition_get_size(got) * fdisk_get_sector_size(cxt);
        return 0;
}

/* Replaces the kernel's partitions of the disk with our single one (BLKPG; the disk is ours, O_EXCL). */
static int kernel_set_partition(int fd, dev_t disk, uint64_t start, uint64_t size) {
        _cleanup_free_ KernelPartition *parts = NULL;
        size_t n = 0;
        int r;

        r = block_device_partitions(disk, &parts, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = blkpg_del_partition(fd, parts[i].partno);
                if (r < 0)
                        return r;
        }
        return blkpg_add_partition(fd, 1, start, size);
}

static int run_mkfs(const char *fstype, const char *node, char **ret_output) {
        char *const ext4[] = {(char *) "mkfs.ext4",         (char *) "-F", (char *) "-q", (char *) "-L",
                              (char *) RESOURCE_DISK_LABEL, (char *) node, NULL};
        char *const xfs[] = {(char *) "mkfs.xfs",          (char *) "-f", (char *) "-q", (char *) "-L",
                             (char *) RESOURCE_DISK_LABEL, (char *) node, NULL};
        char *const btrfs[] = {(char *) "mkfs.btrfs",        (char *) "-f", (char *) "-q", (char *) "-L",
                               (char *) RESOURCE_DISK_LABEL, (char *) node, NULL};

        if (streq(fstype, "ext4"))
                return disk_spawn(ext4, -EBADF, ret_output);
        if (streq(fstype, "xfs"))
                return disk_spawn(xfs, -EBADF, ret_output);
        if (streq(fstype, "btrfs"))
                return disk_spawn(btrfs, -EBADF, ret_output);
        return -EOPNOTSUPP;
}

/* Partitions and formats the (blank or placeholder) disk. Returns the new partition's node. */
static int format_disk(const char *device, dev_t disk, const char *fstype, char **ret_node) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *node = NULL, *out = NULL;
        uint64_t start = 0, size = 0;
        int r;

        /* O_EXCL on a block device fails with EBUSY while anything has it (or a partition) mounted/claimed */
        fd = open(device, O_RDWR | O_EXCL | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        r = wipe_signatures(fd, 0, 0);
        if (r < 0)
                return r;
        r = write_table(fd, &start, &size);
        if (r < 0)
                return r;
        /* the placeholder's NTFS boot sector (and its backup at the end) would survive inside the partition */
        r = wipe_signatures(fd, start, size);
        if (r < 0)
                return r;
        r = kernel_set_partition(fd, disk, start, size);
        if (r < 0)
                return r;
        closep(&fd);
        fd = -EBADF;
        r = partition_node(disk, 1, &node, NULL);
        if (r < 0)
                return r;
        r = run_mkfs(fstype, node, &out);
        if (r < 0)
                return log_debug_errno(r, "mkfs.%s %s failed: %s", fstype, node, strempty(out));
        *ret_node = TAKE_PTR(node);
        return 0;
}

/* ---- mounting ---- */

/* Mounts node (fstype) on the directory target_fd with the new mount API. */
static int mount_on(const char *node, const char *fstype, int target_fd) {
        _cleanup_close_ int fs = -EBADF, mnt = -EBADF;

        fs = fsopen(fstype, FSOPEN_CLOEXEC);
        if (fs < 0)
                return negative_errno();
        if (fsconfig(fs, FSCONFIG_SET_STRING, "source", node, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return negative_errno();
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return negative_errno();
        if (move_mount(mnt, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return negative_errno();
        return 0;
}

/* Is the partition already mounted on the target directory? */
static int mounted_on_target(int target_fd, dev_t part, const char *node) {
        _cleanup_(mount_info_done) MountInfo m = {};
        int r;

        r = mount_info_for_fd(target_fd, &m);
        if (r < 0)
                return r;
        return m.devnum == part || streq_ptr(m.source, node);
}

/* ---- swap ---- */

static int swap_active(int fd) {
        _cleanup_free_ char *self = NULL, *proc = NULL, *swaps = NULL;
        _cleanup_close_ int sfd = -EBADF;
        char buf[4096];
        ssize_t n;
        int r;

        if (asprintf(&self, "/proc/self/fd/%d", fd) < 0)
                return -ENOMEM;
        n = readlink(self, buf, sizeof buf - 1);
        if (n < 0)
                return negative_errno();
        buf[n] = 0;
        sfd = open("/proc/swaps", O_RDONLY | O_CLOEXEC);
        if (sfd < 0)
                return negative_errno();
        r = read_full_fd(sfd, 1024 * 1024, &swaps, NULL);
        if (r < 0)
                return r;
        /* /proc/swaps: "Filename Type Size Used Priority", names mangled like mountinfo (octal escapes) */
        for (char *line = swaps, *eol; line && *line; line = eol ? eol + 1 : NULL) {
                char *sp;

                eol = strchr(line, '\n');
                if (eol)
                        *eol = 0;
                sp = strpbrk(line, " \t");
                if (sp && (size_t) (sp - line) == (size_t) n && memcmp(line, buf, (size_t) n) == 0)
                        return 1;
        }
        return 0;
}

static int has_swap_signature(int fd) {
        long ps = sysconf(_SC_PAGESIZE);
        char sig[10];

        /* include/linux/swap.h union swap_header: "SWAPSPACE2" in the last 10 bytes of the first page */
        if (ps < 4096 || pread(fd, sig, sizeof sig, ps - (long) sizeof sig) != (ssize_t) sizeof sig)
                return 0;
        return memcmp(sig, "SWAPSPACE2", sizeof sig) == 0;
}

static int create_swap_file(int dir_fd, const char *name, uint64_t size, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct statfs sfs;
        int r;

        if (unlinkat(dir_fd, name, 0) < 0 && errno != ENOENT)
                return negative_errno();
        fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        if (fchmod(fd, 0600) < 0)
                return negative_errno();
        /* btrfs swap files must be NOCOW, set while the file is still empty (btrfs(5) SWAPFILE SUPPORT) */
        if (fstatfs(fd, &sfs) == 0 && (uint32_t) sfs.f_type == BTRFS_SUPER_MAGIC_) {
                int attr = FS_NOCOW_FL;

                if (ioctl(fd, FS_IOC_SETFLAGS, &attr) < 0)
                        return negative_errno();
        }
        /* swapon(2) rejects files with holes; fallocate(2) gives real extents */
        if (fallocate(fd, 0, 0, (off_t) size) < 0)
                return negative_errno();
        r = disk_spawn((char *const[]){(char *) "mkswap", (char *) "/proc/self/fd/3", NULL}, fd, NULL);
        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Ensures <mount_point>/swapfile of size MiB exists and is active. Returns 1 if swapon was issued. */
static int setup_swap(int root_fd, const char *mount_point, uint64_t size_mib) {
        _cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
        _cleanup_free_ char *self = NULL;
        uint64_t size = size_mib * MIB;
        struct stat st;
        int r;

        dir_fd = open_in_root(root_fd, mount_point, O_RDONLY | O_DIRECTORY, 0);
        if (dir_fd < 0)
                return dir_fd;
        fd = openat(dir_fd, RESOURCE_DISK_SWAP_FILE, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                r = swap_active(fd);
                if (r != 0)
                        return r < 0 ? r : 0;
                if (fstat(fd, &st) < 0)
                        return negative_errno();
                if (!S_ISREG(st.st_mode) || (uint64_t) st.st_size != size || !has_swap_signature(fd))
                        closep(&fd), fd = -EBADF;
        } else if (errno != ENOENT)
                return negative_errno();
        if (fd < 0) {
                r = create_swap_file(dir_fd, RESOURCE_DISK_SWAP_FILE, size, &fd);
                if (r < 0)
                        return r;
        }
        if (asprintf(&self, "/proc/self/fd/%d", fd) < 0)
                return -ENOMEM;
        if (swapon(self, 0) < 0)
                return negative_errno();
        return 1;
}

/* ---- the step ---- */

static int resolve_device(const char *device, char **ret_node, dev_t *ret_devnum) {
        _cleanup_(block_device_done) BlockDevice bd = {};
        _cleanup_free_ char *path = realpath(device, NULL);
        struct stat st;
        int r;

        if (!path)
                return negative_errno();
        if (stat(path, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        r = block_device_from_devnum(st.st_rdev, &bd);
        if (r < 0)
                return r;
        if (bd.partno > 0)
                return -EINVAL; /* we want the whole disk */
        *ret_node = TAKE_PTR(path);
        *ret_devnum = st.st_rdev;
        return 0;
}

static int set_summary(ResourceDiskResult *r, const char *fmt, ...) _printf_(2, 3);
static int set_summary(ResourceDiskResult *r, const char *fmt, ...) {
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = strprintfv(&r->summary, fmt, ap);
        va_end(ap);
        return k;
}

/* Mounts the (now ours) partition on the target unless already there. Returns 1 if it mounted. */
static int ensure_mounted(int root_fd, const ResourceDiskOptions *o, dev_t disk, const char *fstype,
                          ResourceDiskResult *res) {
        _cleanup_close_ int target = -EBADF;
        _cleanup_free_ char *elsewhere = NULL;
        dev_t part = 0;
        int r;

        r = partition_node(disk, 1, &res->partition, &part);
        if (r < 0)
                return r;
        r = mkdir_p_in_root(root_fd, o->mount_point, 0755);
        if (r < 0)
                return r;
        target = open_in_root(root_fd, o->mount_point, O_PATH | O_DIRECTORY, 0);
        if (target < 0)
                return target;
        r = mounted_on_target(target, part, res->partition);
        if (r != 0)
                return r < 0 ? r : 0;
        r = block_device_mount_point(part, res->partition, &elsewhere);
        if (r < 0)
                return r;
        if (r > 0)
                return -EBUSY;
        r = mount_on(res->partition, fstype, target);
        return r < 0 ? r : 1;
}

/*
 * Is the disk or one of its partitions mounted anywhere but on our target? Returns 1 with the mount point.
 * (Our partition on our target is the normal state of every boot after the first.)
 */
static int mounted_elsewhere(int root_fd, const ResourceDiskOptions *o, dev_t disk, const char *node,
                             char **ret_where) {
        _cleanup_free_ KernelPartition *parts = NULL;
        _cleanup_close_ int target = -EBADF;
        size_t n = 0;
        int r;

        r = block_device_mount_point(disk, node, ret_where);
        if (r != 0)
                return r;
        r = block_device_partitions(disk, &parts, &n);
        if (r < 0)
                return r;
        target = open_in_root(root_fd, o->mount_point, O_PATH | O_DIRECTORY, 0);
        for (size_t i = 0; i < n; i++) {
                _cleanup_(block_device_done) BlockDevice bd = {};

                r = block_device_from_devnum(parts[i].devnum, &bd);
                if (r < 0)
                        return r;
                if (target >= 0 && mounted_on_target(target, parts[i].devnum, bd.node) > 0)
                        continue;
                r = block_device_mount_point(parts[i].devnum, bd.node, ret_where);
                if (r != 0)
                        return r;
        }
        return 0;
}

static int resource_disk_apply(int root_fd, const char *node, dev_t disk, const ResourceDiskOptions *o,
                               const Classification *cl, ResourceDiskResult *res) {
        const char *fstype = cl->content == CONTENT_OURS ? cl->fstype : o->filesystem;
        _cleanup_free_ char *warning = NULL;
        int r, changed = 0;

        if (cl->content != CONTENT_OURS) {
                r = format_disk(node, disk, o->filesystem, &res->partition);
                if (r < 0)
                        return r;
                res->formatted = true;
                changed = 1;
                free(res->partition);
                res->partition = NULL;
        }
        if (free_and_strdup(&res->filesystem, fstype) < 0)
                return -ENOMEM;
        r = ensure_mounted(root_fd, o, disk, fstype, res);
        if (r < 0)
                return r;
        res->mounted = r > 0;
        changed |= r;
        if (res->formatted) {
                if (asprintf(&warning, "%s/%s", o->mount_point, RESOURCE_DISK_WARNING_FILE) < 0)
                        return -ENOMEM;
                r = write_string_file_atomic_in_root(root_fd, warning, resource_disk_warning_text, 0644,
                                                     WRITE_SYNC);
                if (r < 0)
                        return r;
        }
        if (o->swap_size_mib > 0) {
                r = setup_swap(root_fd, o->mount_point, o->swap_size_mib);
                if (r < 0)
                        return r;
                res->swap_enabled = r > 0;
                changed |= r;
        }
        return set_summary(res, "resource disk %s %s: %s%s%s%s", node, cl->reason,
                           res->formatted ? "formatted " : "", res->formatted ? fstype : "",
                           res->mounted ? (res->formatted ? ", mounted" : "mounted")
                                        : (res->formatted ? ", already mounted" : "already mounted"),
                           res->swap_enabled ? ", swap enabled" : "") < 0
                       ? -ENOMEM
                       : changed;
}

int resource_disk_setup_full(int root_fd, const char *device, const ResourceDiskOptions *o,
                             ResourceDiskResult *ret) {
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};
        _cleanup_(classification_done) Classification cl = {};
        _cleanup_free_ char *node = NULL, *mp = NULL;
        dev_t disk;
        int r;

        if (!o || isempty(o->filesystem) || isempty(o->mount_point) || !ret)
                return -EINVAL;
        r = resolve_device(device ?: RESOURCE_DISK_DEFAULT_DEVICE, &node, &disk);
        if (r == -ENOENT && !device)
                r = set_summary(&res, "no resource disk (%s does not exist)", RESOURCE_DISK_DEFAULT_DEVICE);
        else if (r < 0)
                return r;
        else if (free_and_strdup(&res.device, node) < 0 ||
                 free_and_strdup(&res.mount_point, o->mount_point) < 0)
                return -ENOMEM;
        else if ((r = mounted_elsewhere(root_fd, o, disk, node, &mp)) != 0)
                r = r < 0 ? r
                          : set_summary(&res, "resource disk %s is in use (mounted at '%s'); left alone",
                                        node, mp);
        else {
                r = classify(node, disk, o->scratch_dir ?: "/run", &cl);
                if (r < 0)
                        return r;
                if (cl.content == CONTENT_OTHER)
                        r = set_summary(&res, "resource disk %s %s; left alone", node, cl.reason);
                else
                        r = resource_disk_apply(root_fd, node, disk, o, &cl, &res);
        }
        if (r < 0)
                return r;
        *ret = res;
        res = (ResourceDiskResult){};
        return r;
}

int resource_disk_setup(Context *c, const char *device, ResourceDiskResult *ret) {
        ResourceDiskOptions o;

        if (!c || !ret)
                return -EINVAL;
        if (!c->config.resource_disk_format) {
                _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};

                res.summary = strdup("resource disk handling is disabled ([Disks] ResourceDiskFormat=no)");
                if (!res.summary)
                        return -ENOMEM;
                *ret = res;
                res = (ResourceDiskResult){};
                return 0;
        }
        o = (ResourceDiskOptions){
                .filesystem = c->config.resource_disk_filesystem ?: "ext4",
                .mount_point = c->config.resource_disk_mount_point ?: "/mnt",
                .swap_size_mib = c->config.swap_size_mib,
        };
        return resource_disk_setup_full(c->root_fd, device, &o, ret);
}
