/* SPDX-License-Identifier: MIT */
/*
 * disk_grow_root() end to end on loop devices (root only; exit 77 otherwise): a disk image with a 1 GiB
 * root partition at its end, formatted and mounted, the image grown to 2 GiB and the loop device told
 * (LOOP_SET_CAPACITY, like a portal resize seen at boot). After the run: `sfdisk --json` shows the
 * partition filling the disk, `sgdisk -v` finds the GPT (backup header at the end) clean, the kernel's
 * partition size matches, and statvfs() on the mounted filesystem reports ~2 GiB. The second run changes
 * nothing. Every test unmounts and detaches in its teardown, also when an assertion fails.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "context.h"
#include "disk-test-util.h"
#include "disk.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

#define MiB (UINT64_C(1024) * 1024)
#define GiB (1024 * MiB)

typedef struct Fixture {
        char *dir, *img, *mnt, *loop;
        bool mounted;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->dir = tmpdir_new();
        assert_true(asprintf(&f->img, "%s/disk.img", f->dir) > 0);
        assert_true(asprintf(&f->mnt, "%s/root", f->dir) > 0);
        assert_int_equal(mkdir(f->mnt, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (f->mounted && umount2(f->mnt, 0) < 0)
                (void) umount2(f->mnt, MNT_DETACH);
        loop_detach(f->loop);
        tmpdir_remove(f->dir);
        free(f->img);
        free(f->mnt);
        free(f->loop);
        free(f);
        return 0;
}

/* EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE (fs/ext4/ioctl.c); some containers drop it. */
static bool have_cap_sys_resource(void) {
        _cleanup_free_ char *status = run_capture("grep '^CapEff:' /proc/self/status");
        unsigned long long caps = 0;

        return status && sscanf(status, "CapEff: %llx", &caps) == 1 && (caps & (1ULL << 24));
}

static const char *mkfs_cmd(const char *fstype) {
        if (streq(fstype, "ext4"))
                return "mkfs.ext4 -q -F";
        if (streq(fstype, "xfs"))
                return "mkfs.xfs -q -f";
        return "mkfs.btrfs -q -f";
}

/* Builds the image, formats partition rootpart, mounts it, then grows the image to new_size. */
static void prepare(Fixture *f, uint64_t size, const char *script, unsigned rootpart, const char *fstype,
                    uint64_t new_size) {
        _cleanup_free_ char *part = NULL;
        char mkfs[32];

        snprintf(mkfs, sizeof mkfs, "mkfs.%s", fstype);
        if (!have_program(mkfs)) {
                fprintf(stderr, "skipping: %s missing\n", mkfs);
                skip();
        }
        if (streq(fstype, "ext4") && !have_cap_sys_resource()) {
                fprintf(stderr, "skipping: no CAP_SYS_RESOURCE, ext4 cannot be resized online here\n");
                skip();
        }
        image_create(f->img, size, script);
        f->loop = loop_attach(f->img);
        assert_non_null(f->loop);
        part = loop_partition(f->loop, rootpart);
        assert_int_equal(access(part, F_OK), 0);
        assert_int_equal(run("%s '%s' >&2", mkfs_cmd(fstype), part), 0);
        assert_int_equal(run("mount -t %s '%s' '%s'", fstype, part, f->mnt), 0);
        f->mounted = true;
        assert_int_equal(truncate(f->img, (off_t) new_size), 0);
        loop_set_capacity(f->loop);
}

static uint64_t statvfs_size(const char *path) {
        struct statvfs sv;

        assert_int_equal(statvfs(path, &sv), 0);
        return (uint64_t) sv.f_blocks * sv.f_frsize;
}

static uint64_t kernel_part_size(const char *loop, unsigned partno) {
        _cleanup_free_ char *val =
                run_capture("cat /sys/class/block/%sp%u/size", strrchr(loop, '/') + 1, partno);
        unsigned long long v;

        assert_non_null(val);
        assert_int_equal(sscanf(val, "%llu", &v), 1);
        return v * 512;
}

static int grow_root(Fixture *f, DiskGrowResult *ret) {
        Context c;
        int r;

        assert_int_equal(context_init(&c, f->mnt, environ), 0);
        r = disk_grow_root(&c, ret);
        context_done(&c);
        if (r >= 0)
                fprintf(stderr, "disk_grow_root: %d: %s\n", r, ret->summary);
        return r;
}

/* 1 MiB + 8 MiB "esp" + 1 GiB root + 1 MiB (backup GPT), grown to 2 GiB. */
static void grow_gpt(Fixture *f, const char *fstype) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {}, res2 = {};
        _cleanup_free_ char *verify = NULL;
        SfdiskTable t = {};
        uint64_t before;

        prepare(f, 1034 * MiB,
                "label: gpt\\nstart=2048, size=16384, type=U, name=esp\\nstart=18432, size=2097152, "
                "type=L, name=root\\n",
                2, fstype, 2 * GiB);
        before = statvfs_size(f->mnt);
        assert_true(before < GiB + 10 * MiB);

        assert_int_equal(grow_root(f, &res), 1);
        assert_true(res.partition_grown);
        assert_true(res.filesystem_grown);
        assert_false(res.refused);
        assert_int_equal(res.partno, 2);
        assert_string_equal(res.disk, f->loop);
        assert_string_equal(res.fstype, fstype);
        assert_int_equal(res.part_old_size, GiB);

        assert_true(sfdisk_read(f->loop, &t));
        assert_string_equal(t.label, "gpt");
        assert_int_equal(t.n, 2);
        assert_int_equal(t.parts[1].start, 18432);
        /* ends on the last 1 MiB boundary below the relocated backup GPT */
        assert_int_equal(t.lastlba, 2 * GiB / 512 - 34);
        assert_int_equal(t.parts[1].start + t.parts[1].size, 2 * GiB / 512 - 2048);
        assert_int_equal(res.part_new_size, t.parts[1].size * 512);
        assert_int_equal(t.parts[0].size, 16384);
        sfdisk_table_done(&t);
        assert_int_equal(kernel_part_size(f->loop, 2), res.part_new_size);
        if (have_program("sgdisk")) {
                verify = run_capture("sgdisk -v '%s'", f->loop);
                assert_non_null(verify);
                assert_non_null(strstr(verify, "No problems found"));
        }
        /* statvfs of the mounted filesystem: ~2 GiB (less the filesystem's own overhead) */
        assert_true(res.fs_new_size == statvfs_size(f->mnt));
        assert_true(res.fs_new_size > 2 * GiB * 9 / 10);
        assert_true(res.fs_new_size > before + GiB * 8 / 10);

        assert_int_equal(grow_root(f, &res2), 0);
        assert_false(res2.partition_grown);
        assert_false(res2.filesystem_grown);
        assert_int_equal(res2.fs_new_size, res.fs_new_size);
}

static void test_grow_gpt_ext4(void **state) {
        grow_gpt(*state, "ext4");
}

static void test_grow_gpt_xfs(void **state) {
        grow_gpt(*state, "xfs");
}

static void test_grow_gpt_btrfs(void **state) {
        grow_gpt(*state, "btrfs");
}

static void test_grow_mbr(void **state) {
        Fixture *f = *state;
        const char *fstype = have_cap_sys_resource() ? "ext4" : "xfs";
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {}, res2 = {};
        SfdiskTable t = {};

        prepare(f, 1025 * MiB, "label: dos\\nstart=2048, size=2097152, type=83\\n", 1, fstype, 2 * GiB);
        assert_int_equal(grow_root(f, &res), 1);
        assert_true(res.partition_grown && res.filesystem_grown);
        assert_true(sfdisk_read(f->loop, &t));
        assert_string_equal(t.label, "dos");
        assert_int_equal(t.parts[0].start + t.parts[0].size, 2 * GiB / 512);
        sfdisk_table_done(&t);
        assert_int_equal(kernel_part_size(f->loop, 1), 2 * GiB - MiB);
        assert_true(statvfs_size(f->mnt) > 2 * GiB * 9 / 10);
        assert_int_equal(grow_root(f, &res2), 0);
}

/* Root is partition 1 and partition 2 follows it directly: skipped with a reason; nothing grows. */
static void test_followed_by_partition(void **state) {
        Fixture *f = *state;
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        SfdiskTable t = {};

        /* 400 MiB root (mkfs.xfs wants > 300 MB), 10 MiB partition 2 */
        prepare(f, 420 * MiB,
                "label: gpt\\nstart=2048, size=819200, type=L\\nstart=821248, size=20480, type=L\\n", 1,
                "xfs", 800 * MiB);
        assert_int_equal(grow_root(f, &res), 0);
        assert_false(res.partition_grown);
        assert_false(res.filesystem_grown);
        assert_false(res.refused);
        assert_non_null(strstr(res.summary, "followed by partition 2"));
        assert_true(sfdisk_read(f->loop, &t));
        assert_int_equal(t.parts[0].size, 819200);
        sfdisk_table_done(&t);
}

/* The GPT entry array is damaged: refused, and the disk's bytes stay as they were. */
static void test_corrupt_table_refused(void **state) {
        Fixture *f = *state;
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        _cleanup_free_ void *before = NULL, *after = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t kbefore;
        size_t nb, na;
        unsigned char c;

        prepare(f, 400 * MiB, "label: gpt\\nstart=2048, type=L\\n", 1, "xfs", 500 * MiB);
        /* damage partition entry 1's name in the primary array (kernel and mount are unaffected) */
        fd = open(f->loop, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pread(fd, &c, 1, 2 * 512 + 60), 1);
        c ^= 0x55;
        assert_int_equal(pwrite(fd, &c, 1, 2 * 512 + 60), 1);
        assert_int_equal(fsync(fd), 0);
        closep(&fd);
        fd = -EBADF;
        /* compare the table area and the end of the disk; the mounted ext4 itself may update its superblock */
        kbefore = kernel_part_size(f->loop, 1);
        before = file_slurp(f->img, &nb);
        assert_int_equal(grow_root(f, &res), 0);
        assert_true(res.refused);
        assert_false(res.partition_grown);
        assert_false(res.filesystem_grown);
        after = file_slurp(f->img, &na);
        assert_int_equal(na, nb);
        assert_memory_equal(before, after, 1024 * 1024);
        assert_memory_equal((char *) before + nb - 1024 * 1024, (char *) after + na - 1024 * 1024,
                            1024 * 1024);
        assert_int_equal(kernel_part_size(f->loop, 1), kbefore);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_grow_gpt_ext4, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grow_gpt_xfs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grow_gpt_btrfs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grow_mbr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_followed_by_partition, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_table_refused, setup, teardown),
        };

        require_loop_or_skip();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
