/* SPDX-License-Identifier: MIT */
/*
 * Plumbing for the disk provisioner: which mount and block device a file lives on (/proc/self/mountinfo,
 * proc(5); sysfs through libudev), telling the kernel about partition changes (BLKPG, linux/blkpg.h),
 * libfdisk contexts whose warnings are counted rather than printed, and running mkfs-style tools with
 * posix_spawn and a fixed environment (never through a shell).
 */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/blkpg.h>
#include <linux/fs.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk-internal.h"
#include "fileio.h"
#include "log.h"
#include "spawn-util.h"
#include "strutil.h"

#define MOUNTINFO_MAX (16U * 1024U * 1024U)

/* ---- mountinfo ---- */

void mount_info_done(MountInfo *m) {
        if (!m)
                return;
        free(m->root);
        free(m->mount_point);
        free(m->fstype);
        free(m->source);
        *m = (MountInfo){};
}

/* mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c: mangle()). */
static char *unescape_octal(const char *s, size_t n) {
        char *r = malloc(n + 1), *p = r;

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *p++ = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                } else
                        *p++ = s[i];
        }
        *p = 0;
        return r;
}

/* Returns the next space-separated field of *p (advancing it), or NULL at the end of the line. */
static const char *next_field(const char **p, size_t *ret_len) {
        const char *s = *p, *e;

        while (*s == ' ')
                s++;
        if (!*s || *s == '\n')
                return NULL;
        e = s;
        while (*e && *e != ' ' && *e != '\n')
                e++;
        *ret_len = (size_t) (e - s);
        *p = e;
        return s;
}

static int field_dup(const char **p, char **ret) {
        const char *f;
        size_t n;

        f = next_field(p, &n);
        if (!f)
                return -EINVAL;
        *ret = unescape_octal(f, n);
        return *ret ? 0 : -ENOMEM;
}

/* "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" (proc(5)) */
int mount_info_parse_line(const char *line, MountInfo *ret) {
        _cleanup_(mount_info_done) MountInfo m = {};
        _cleanup_free_ char *id = NULL, *parent = NULL, *majmin = NULL, *opts = NULL;
        unsigned major_, minor_;
        const char *p = line, *f;
        size_t n;
        int r;

        if (field_dup(&p, &id) < 0 || field_dup(&p, &parent) < 0 || field_dup(&p, &majmin) < 0 ||
            field_dup(&p, &m.root) < 0 || field_dup(&p, &m.mount_point) < 0 || field_dup(&p, &opts) < 0)
                return -EINVAL;
        r = safe_atoi(id, &m.mount_id);
        if (r < 0)
                return r;
        if (sscanf(majmin, "%u:%u", &major_, &minor_) != 2)
                return -EINVAL;
        m.devnum = makedev(major_, minor_);
        /* optional fields, up to the "-" separator */
        for (;;) {
                f = next_field(&p, &n);
                if (!f)
                        return -EINVAL;
                if (n == 1 && f[0] == '-')
                        break;
        }
        if (field_dup(&p, &m.fstype) < 0 || field_dup(&p, &m.source) < 0)
                return -EINVAL;
        *ret = m;
        m = (MountInfo){};
        return 0;
}

int mount_info_find(const char *text, int mount_id, dev_t devnum, MountInfo *ret) {
        for (const char *line = text; line && *line;) {
                const char *eol = strchrnul(line, '\n');
                _cleanup_free_ char *copy = strndup(line, (size_t) (eol - line));
                _cleanup_(mount_info_done) MountInfo m = {};

                if (!copy)
                        return -ENOMEM;
                line = *eol ? eol + 1 : eol;
                if (mount_info_parse_line(copy, &m) < 0)
                        continue;
                if (mount_id >= 0 ? m.mount_id != mount_id : m.devnum != devnum)
                        continue;
                *ret = m;
                m = (MountInfo){};
                return 0;
        }
        return -ENOENT;
}

static int read_mountinfo(char **ret) {
        _cleanup_close_ int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return read_full_fd(fd, MOUNTINFO_MAX, ret, NULL);
}

int mount_info_for_fd(int fd, MountInfo *ret) {
        _cleanup_free_ char *text = NULL;
        struct statx sx = {};
        struct stat st;
        int r;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        r = read_mountinfo(&text);
        if (r < 0)
                return r;
        /* The mount id (statx(2) STATX_MNT_ID, Linux 5.8) identifies the mount even for btrfs, whose st_dev
         * is a per-subvolume anonymous device; fall back to st_dev on older kernels. */
        if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &sx) == 0 && (sx.stx_mask & STATX_MNT_ID)) {
                r = mount_info_find(text, (int) sx.stx_mnt_id, 0, ret);
                if (r != -ENOENT)
                        return r;
        }
        return mount_info_find(text, -1, st.st_dev, ret);
}

int block_device_mount_point(dev_t devnum, const char *node, char **ret_mount_point) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_mountinfo(&text);
        if (r < 0)
                return r;
        for (const char *line = text; *line;) {
                const char *eol = strchrnul(line, '\n');
                _cleanup_free_ char *copy = strndup(line, (size_t) (eol - line));
                _cleanup_(mount_info_done) MountInfo m = {};

                if (!copy)
                        return -ENOMEM;
                line = *eol ? eol + 1 : eol;
                if (mount_info_parse_line(copy, &m) < 0)
                        continue;
                /* btrfs shows an anonymous st_dev; its source names the device */
                if (m.devnum != devnum && !(node && streq(m.source, node)))
                        continue;
                if (ret_mount_point)
                        *ret_mount_point = TAKE_PTR(m.mount_point);
                return 1;
        }
        return 0;
}

/* ---- block devices ---- */

void block_device_done(BlockDevice *d) {
        if (!d)
                return;
        free(d->node);
        free(d->sysname);
        free(d->disk_node);
        free(d->dm_uuid);
        *d = (BlockDevice){};
}

static int sysattr_u64(struct udev_device *d, const char *attr, uint64_t *ret) {
        const char *v = udev_device_get_sysattr_value(d, attr);
        _cleanup_free_ char *copy = NULL;

        if (!v)
                return -ENOENT;
        copy = strdup(v);
        if (!copy)
                return -ENOMEM;
        return safe_atou64(strstrip(copy), ret);
}

/* Fills the parent-disk fields of a partition (sysfs: /sys/class/block/<part>/partition, ../<disk>). */
static int block_device_fill_parent(struct udev_device *d, BlockDevice *b) {
        struct udev_device *parent; /* owned by d */
        uint64_t partno;
        int r;

        r = sysattr_u64(d, "partition", &partno);
        if (r == -ENOENT)
                return 0; /* a whole disk */
        if (r < 0)
                return r;
        if (partno == 0 || partno > UINT32_MAX)
                return -EINVAL;
        parent = udev_device_get_parent_with_subsystem_devtype(d, "block", "disk");
        if (!parent || !udev_device_get_devnode(parent))
                return -ENODEV;
        b->partno = (unsigned) partno;
        b->disk_devnum = udev_device_get_devnum(parent);
        b->disk_node = strdup(udev_device_get_devnode(parent));
        if (!b->disk_node)
                return -ENOMEM;
        r = sysattr_u64(d, "start", &b->start);
        return r < 0 ? r : 0;
}

int block_device_from_devnum(dev_t devnum, BlockDevice *ret) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *d = NULL;
        _cleanup_(block_device_done) BlockDevice b = {.devnum = devnum};
        const char *v;
        int r;

        udev = udev_new();
        if (!udev)
                return -ENOMEM;
        d = udev_device_new_from_devnum(udev, 'b', devnum);
        if (!d)
                return negative_errno();
        v = udev_device_get_devnode(d);
        if (!v)
                return -ENODEV;
        b.node = strdup(v);
        b.sysname = strdup(udev_device_get_sysname(d));
        if (!b.node || !b.sysname)
                return -ENOMEM;
        r = sysattr_u64(d, "size", &b.size);
        if (r < 0)
                return r;
        /* Documentation/ABI/testing/sysfs-block-dm: dm/uuid ("LVM-…", "CRYPT-LUKS2-…") */
        v = udev_device_get_sysattr_value(d, "dm/uuid");
        if (v) {
                b.dm_uuid = strdup(v);
                if (!b.dm_uuid)
                        return -ENOMEM;
        }
        b.is_md = startswith(b.sysname, "md");
        r = block_device_fill_parent(d, &b);
        if (r < 0)
                return r;
        *ret = b;
        b = (BlockDevice){};
        return 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_enumerate *, udev_enumerate_unref);

int block_device_partitions(dev_t disk_devnum, KernelPartition **ret, size_t *ret_n) {
        _cleanup_(udev_unrefp) struct udev *udev = NULL;
        _cleanup_(udev_device_unrefp) struct udev_device *disk = NULL;
        _cleanup_(udev_enumerate_unrefp) struct udev_enumerate *e = NULL;
        _cleanup_free_ KernelPartition *list = NULL;
        struct udev_list_entry *i;
        size_t n = 0;

        udev = udev_new();
        if (!udev)
                return -ENOMEM;
        disk = udev_device_new_from_devnum(udev, 'b', disk_devnum);
        if (!disk)
                return negative_errno();
        e = udev_enumerate_new(udev);
        if (!e)
                return -ENOMEM;
        /* Partitions are the disk's sysfs children with a "partition" attribute (sysfs-block). */
        if (udev_enumerate_add_match_parent(e, disk) < 0 ||
            udev_enumerate_add_match_subsystem(e, "block") < 0 || udev_enumerate_scan_devices(e) < 0)
                return -EIO;
        udev_list_entry_foreach(i, udev_enumerate_get_list_entry(e)) {
                _cleanup_(udev_device_unrefp) struct udev_device *d =
                        udev_device_new_from_syspath(udev, udev_list_entry_get_name(i));
                KernelPartition p = {}, *nl;
                uint64_t pn;

                if (!d || sysattr_u64(d, "partition", &pn) < 0 || pn == 0 || pn > UINT32_MAX ||
                    sysattr_u64(d, "start", &p.start) < 0 || sysattr_u64(d, "size", &p.size) < 0)
                        continue;
                p.partno = (unsigned) pn;
                p.devnum = udev_device_get_devnum(d);
                nl = reallocarray(list, n + 1, sizeof *list);
                if (!nl)
                        return -ENOMEM;
                list = nl;
                list[n++] = p;
        }
        *ret = TAKE_PTR(list);
        *ret_n = n;
        return 0;
}

static int blkpg(int disk_fd, int op, unsigned partno, uint64_t start, uint64_t length) {
        struct blkpg_partition p = {
                .start = (long long) start,
                .length = (long long) length,
                .pno = (int) partno,
        };
        struct blkpg_ioctl_arg a = {
                .op = op,
                .datalen = sizeof p,
                .data = &p,
        };

        return RET_NERRNO(ioctl(disk_fd, BLKPG, &a)) < 0 ? negative_errno() : 0;
}

/* block/ioctl.c blkpg_do_ioctl(): a resize must keep the start; works while the partition is in use. */
int blkpg_resize_partition(int disk_fd, unsigned partno, uint64_t start, uint64_t length) {
        return blkpg(disk_fd, BLKPG_RESIZE_PARTITION, partno, start, length);
}

int blkpg_add_partition(int disk_fd, unsigned partno, uint64_t start, uint64_t length) {
        return blkpg(disk_fd, BLKPG_ADD_PARTITION, partno, start, length);
}

int blkpg_del_partition(int disk_fd, unsigned partno) {
        return blkpg(disk_fd, BLKPG_DEL_PARTITION, partno, 0, 0);
}

/* ---- libfdisk ---- */

typedef struct AskState {
        char **warnings;
} AskState;

/* Called by libfdisk for every message; collects warnings instead of printing them. */
static int ask_cb(struct fdisk_context *cxt, struct fdisk_ask *ask, void *data) {
        AskState *s = data;
        const char *msg;

        switch (fdisk_ask_get_type(ask)) {
        case FDISK_ASKTYPE_WARN:
        case FDISK_ASKTYPE_WARNX:
                msg = fdisk_ask_print_get_mesg(ask);
                log_debug("libfdisk: %s", strna(msg));
                if (s && strv_extend(&s->warnings, strna(msg)) < 0)
                        return -ENOMEM;
                return 0;
        case FDISK_ASKTYPE_INFO:
                log_debug("libfdisk: %s", strna(fdisk_ask_print_get_mesg(ask)));
                return 0;
        case FDISK_ASKTYPE_NONE:
        case FDISK_ASKTYPE_NUMBER:
        case FDISK_ASKTYPE_OFFSET:
        case FDISK_ASKTYPE_YESNO:
        case FDISK_ASKTYPE_STRING:
        case FDISK_ASKTYPE_MENU:
        default:
                return -EINVAL; /* we never run interactive dialogs */
        }
}

/*
 * Warnings of gpt_verify_disklabel() that are not problems: its closing "N errors detected." tally, and,
 * on a disk that grew, the backup header not (yet) being at the last LBA — libfdisk's probe already
 * relocated it in memory ("This problem will be corrected by write") and gpt_check_headers() verified the
 * old backup where it is. Matched untranslated (we never call setlocale() for libfdisk's domain); a
 * translated message is counted as a problem, which refuses rather than writes.
 */
static bool warning_is_benign(const char *msg, bool gpt_relocated) {
        if (endswith(msg, " error detected.") || endswith(msg, " errors detected."))
                return true;
        return gpt_relocated && streq(msg, "MyLBA mismatch with real position at backup header.");
}

int fdisk_open_fd(int fd, bool readonly, struct fdisk_context **ret) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL;
        int r;

        cxt = fdisk_new_context();
        if (!cxt)
                return -ENOMEM;
        r = fdisk_set_ask(cxt, ask_cb, NULL);
        if (r < 0)
                return r;
        r = fdisk_assign_device_by_fd(cxt, fd, "disk", readonly);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(cxt);
        return 0;
}

int fdisk_verify(struct fdisk_context *cxt, bool gpt_relocated, Error *error) {
        _cleanup_strv_free_ char **warnings = NULL;
        const char *first = NULL;
        AskState s = {};
        unsigned n = 0;
        int r;

        r = fdisk_set_ask(cxt, ask_cb, &s);
        if (r < 0)
                return r;
        r = fdisk_verify_disklabel(cxt);
        (void) fdisk_set_ask(cxt, ask_cb, NULL);
        warnings = s.warnings;
        if (r < 0)
                return r;
        /* verify returns its error count and warns once per error; count the warnings so that the benign
         * ones can be discounted, and trust the return value only if no warning came through */
        for (char **w = warnings; w && *w; w++)
                if (!warning_is_benign(*w, gpt_relocated) && n++ == 0)
                        first = *w;
        if (!warnings)
                n = (unsigned) r;
        if (n == 0)
                return 0;
        return error_setf(error, -EUCLEAN, "%u problem%s%s%s", n, n == 1 ? "" : "s", first ? ": " : "",
                          strempty(first));
}

/* ---- GPT (UEFI 2.10 §5.3.2 GPT Header, §5.3.3 GPT Partition Entry Array) ---- */

uint32_t disk_crc32(const void *data, size_t size) {
        const uint8_t *p = data;
        uint32_t crc = 0xFFFFFFFFU;

        /* CRC-32/ISO-HDLC, reflected polynomial 0xEDB88320, as UEFI specifies for HeaderCRC32 */
        for (size_t i = 0; i < size; i++) {
                crc ^= p[i];
                for (unsigned k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
        }
        return ~crc;
}

typedef struct _packed_gpt_header {
        char signature[8];
        uint32_t revision;
        uint32_t header_size;
        uint32_t header_crc32;
        uint32_t reserved;
        uint64_t my_lba;
        uint64_t alternate_lba;
        uint64_t first_usable_lba;
        uint64_t last_usable_lba;
        uint8_t disk_guid[16];
        uint64_t entries_lba;
        uint32_t n_entries;
        uint32_t entry_size;
        uint32_t entries_crc32;
} __attribute__((packed)) GptHeader;

#define GPT_ENTRIES_MAX_BYTES (1024U * 1024U)

static int pread_full(int fd, void *buf, size_t size, uint64_t offset) {
        ssize_t n = pread(fd, buf, size, (off_t) offset);

        if (n < 0)
                return negative_errno();
        return (size_t) n == size ? 0 : -EIO;
}

/* Reads and checks the header at lba; on success *ret_entries_crc is the CRC of its entry array. */
static int gpt_read_header(int fd, unsigned ss, uint64_t total, uint64_t lba, const char *which,
                           GptHeader *ret, Error *error) {
        _cleanup_free_ uint8_t *sector = malloc(ss), *ents = NULL;
        GptHeader h;
        uint32_t crc;
        size_t esize;
        int r;

        if (!sector)
                return -ENOMEM;
        if (lba >= total)
                return error_setf(error, -EUCLEAN, "%s GPT header LBA %" PRIu64 " is beyond the disk", which,
                                  lba);
        r = pread_full(fd, sector, ss, lba * ss);
        if (r < 0)
                return r;
        memcpy(&h, sector, sizeof h);
        if (memcmp(h.signature, "EFI PART", 8) != 0)
                return error_setf(error, -EUCLEAN, "%s GPT header at LBA %" PRIu64 " has no signature",
                                  which, lba);
        if (le32toh(h.header_size) < sizeof h || le32toh(h.header_size) > ss)
                return error_setf(error, -EUCLEAN, "%s GPT header has a bad size", which);
        crc = le32toh(h.header_crc32);
        memset(sector + offsetof(GptHeader, header_crc32), 0, sizeof(uint32_t));
        if (disk_crc32(sector, le32toh(h.header_size)) != crc)
                return error_setf(error, -EUCLEAN, "%s GPT header CRC32 mismatch", which);
        if (le64toh(h.my_lba) != lba)
                return error_setf(error, -EUCLEAN, "%s GPT header MyLBA does not match its position", which);
        esize = (size_t) le32toh(h.n_entries) * le32toh(h.entry_size);
        if (le32toh(h.entry_size) < 128 || esize == 0 || esize > GPT_ENTRIES_MAX_BYTES ||
            le64toh(h.entries_lba) >= total)
                return error_setf(error, -EUCLEAN, "%s GPT header has a bad partition entry array", which);
        ents = malloc(esize);
        if (!ents)
                return -ENOMEM;
        r = pread_full(fd, ents, esize, le64toh(h.entries_lba) * ss);
        if (r < 0)
                return r;
        if (disk_crc32(ents, esize) != le32toh(h.entries_crc32))
                return error_setf(error, -EUCLEAN, "%s GPT partition entry array CRC32 mismatch", which);
        *ret = h;
        return 0;
}

int gpt_alternate_lba(int fd, unsigned sector_size, uint64_t *ret, uint64_t *ret_entries_bytes) {
        GptHeader h;
        int r;

        r = pread_full(fd, &h, sizeof h, sector_size);
        if (r < 0)
                return r;
        if (memcmp(h.signature, "EFI PART", 8) != 0)
                return -EUCLEAN;
        *ret = le64toh(h.alternate_lba);
        *ret_entries_bytes = (uint64_t) le32toh(h.n_entries) * le32toh(h.entry_size);
        return 0;
}

int gpt_check_headers(int fd, unsigned sector_size, uint64_t total_sectors, Error *error) {
        GptHeader p, b;
        int r;

        if (sector_size < 512)
                return -EINVAL;
        r = gpt_read_header(fd, sector_size, total_sectors, 1, "primary", &p, error);
        if (r < 0)
                return r;
        r = gpt_read_header(fd, sector_size, total_sectors, le64toh(p.alternate_lba), "backup", &b, error);
        if (r < 0)
                return r;
        if (le64toh(b.alternate_lba) != 1)
                return error_setf(error, -EUCLEAN, "backup GPT header does not point back to the primary");
        if (p.entries_crc32 != b.entries_crc32 || p.n_entries != b.n_entries ||
            p.entry_size != b.entry_size || memcmp(p.disk_guid, b.disk_guid, sizeof p.disk_guid) != 0 ||
            p.first_usable_lba != b.first_usable_lba || p.last_usable_lba != b.last_usable_lba)
                return error_setf(error, -EUCLEAN, "primary and backup GPT differ");
        return 0;
}

/* ---- child processes ---- */

/* mkfs, mkswap, ntfs-3g through the common spawn helper; 0 on exit status 0, -EPROTO otherwise (the output,
 * if asked for, is set either way for the error message), -ENOENT when the program is not installed. */
int disk_spawn(char *const argv[], int pass_fd, char **ret_output) {
        int r = spawn_and_wait_full(argv, pass_fd, ret_output);

        if (r < 0)
                return r;
        log_debug("%s exited with status %d", argv[0], r);
        return r == 0 ? 0 : -EPROTO;
}

/* ---- misc ---- */

int fd_get_size(int fd, uint64_t *ret) {
        struct stat st;
        uint64_t sz;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t) st.st_size;
                return 0;
        }
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0)
                return negative_errno();
        *ret = sz;
        return 0;
}

char *format_bytes(uint64_t n, char *buf, size_t size) {
        static const char suffix[] = "KMGTPE";
        double v = (double) n;
        unsigned i = 0;

        if (n < 1024) {
                snprintf(buf, size, "%" PRIu64 "B", n);
                return buf;
        }
        while (v >= 1024.0 && i < sizeof suffix - 1) {
                v /= 1024.0;
                i++;
        }
        snprintf(buf, size, "%.1f%ciB", v, suffix[i - 1]);
        return buf;
}
