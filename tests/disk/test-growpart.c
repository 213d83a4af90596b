/* SPDX-License-Identifier: MIT */
/*
 * growpart on image files (no root needed): real GPT and MBR tables written by sfdisk, grown with
 * disk_grow_partition(), read back with `sfdisk --json` and checked with `sgdisk -v`; refusal of corrupt
 * tables leaves every byte as it was. Also the pure helpers: mountinfo parsing and the UEFI CRC32.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "disk-internal.h"
#include "disk-test-util.h"
#include "disk.h"
#include "macro.h"
#include "tests.h"

#define MiB (UINT64_C(1024) * 1024)

typedef struct Fixture {
        char *dir;
        char *img;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->dir = tmpdir_new();
        assert_true(asprintf(&f->img, "%s/disk.img", f->dir) > 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        tmpdir_remove(f->dir);
        free(f->img);
        free(f);
        return 0;
}

static void grow_file(const char *path, uint64_t size) {
        assert_int_equal(truncate(path, (off_t) size), 0);
}

static void test_crc32(void **state) {
        /* CRC-32/ISO-HDLC check value */
        assert_int_equal(disk_crc32("123456789", 9), 0xCBF43926U);
        assert_int_equal(disk_crc32("", 0), 0);
}

static void test_mountinfo(void **state) {
        _cleanup_(mount_info_done) MountInfo m = {};
        const char *text =
                "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
                "98 22 7:1 / /mnt/with\\040space rw shared:5 master:2 - xfs /dev/loop1p2 rw,attr2\n"
                "99 22 0:52 /@ /srv rw - btrfs /dev/loop2p1 rw,space_cache=v2\n";

        assert_int_equal(mount_info_parse_line("garbage", &m), -EINVAL);
        assert_int_equal(mount_info_find(text, 98, 0, &m), 0);
        assert_string_equal(m.mount_point, "/mnt/with space");
        assert_string_equal(m.fstype, "xfs");
        assert_string_equal(m.source, "/dev/loop1p2");
        assert_true(m.devnum == makedev(7, 1));
        mount_info_done(&m);
        assert_int_equal(mount_info_find(text, -1, makedev(0, 52), &m), 0);
        assert_string_equal(m.root, "/@");
        assert_string_equal(m.fstype, "btrfs");
        mount_info_done(&m);
        assert_int_equal(mount_info_find(text, 1234, 0, &m), -ENOENT);
}

static void require_tools(void) {
        if (!have_program("sfdisk"))
                skip();
}

/* 64 MiB disk, 1 MiB gap, 30 MiB partition; image grown to 128 MiB. */
static void test_gpt_grow(void **state) {
        Fixture *f = *state;
        _cleanup_(grow_part_result_done) GrowPartResult r = {}, r2 = {};
        _cleanup_free_ char *verify = NULL;
        SfdiskTable t = {};

        require_tools();
        image_create(f->img, 64 * MiB, "label: gpt\\nstart=2048, size=61440, type=L, name=root\\n");
        grow_file(f->img, 128 * MiB);

        assert_int_equal(disk_grow_partition(f->img, 1, &r), 1);
        assert_true(r.table_changed);
        assert_false(r.kernel_updated); /* an image file has no kernel partition */
        assert_false(r.refused);
        assert_int_equal(r.old_size, 30 * MiB);
        assert_true(sfdisk_read(f->img, &t));
        assert_string_equal(t.label, "gpt");
        assert_int_equal(t.n, 1);
        /* fills the disk up to the last 1 MiB boundary below LastUsableLBA (128 MiB − 33 sectors) */
        assert_int_equal(t.lastlba, 128 * MiB / 512 - 34);
        assert_int_equal(t.parts[0].start, 2048);
        assert_int_equal(t.parts[0].start + t.parts[0].size, 127 * MiB / 512);
        assert_int_equal(r.new_size, t.parts[0].size * 512);
        assert_string_equal(t.parts[0].name, "root");
        sfdisk_table_done(&t);
        /* the backup header moved to the end and both headers are valid */
        if (have_program("sgdisk")) {
                verify = run_capture("sgdisk -v '%s'", f->img);
                assert_non_null(verify);
                assert_non_null(strstr(verify, "No problems found"));
        }

        /* second run: nothing to do */
        assert_int_equal(disk_grow_partition(f->img, 1, &r2), 0);
        assert_false(r2.table_changed);
        assert_non_null(strstr(r2.summary, "already fills"));
}

static void test_mbr_grow(void **state) {
        Fixture *f = *state;
        _cleanup_(grow_part_result_done) GrowPartResult r = {}, r2 = {};
        SfdiskTable t = {};

        require_tools();
        image_create(f->img, 64 * MiB,
                     "label: dos\\nstart=2048, size=20480, type=83\\nstart=22528, type=83\\n");
        grow_file(f->img, 200 * MiB);

        /* partition 1 is followed by partition 2: skipped with a reason, nothing written */
        assert_int_equal(disk_grow_partition(f->img, 1, &r), 0);
        assert_false(r.table_changed);
        assert_false(r.refused);
        assert_non_null(strstr(r.summary, "followed by partition 2"));

        assert_int_equal(disk_grow_partition(f->img, 2, &r2), 1);
        assert_true(sfdisk_read(f->img, &t));
        assert_string_equal(t.label, "dos");
        assert_int_equal(t.n, 2);
        assert_int_equal(t.parts[1].start, 22528);
        /* MBR has no backup: the last partition may end on the very last 1 MiB boundary */
        assert_int_equal(t.parts[1].start + t.parts[1].size, 200 * MiB / 512);
        assert_int_equal(t.parts[0].size, 20480);
        sfdisk_table_done(&t);
        grow_part_result_done(&r2);
        assert_int_equal(disk_grow_partition(f->img, 2, &r2), 0);
}

static void test_gpt_free_space_between(void **state) {
        Fixture *f = *state;
        _cleanup_(grow_part_result_done) GrowPartResult r = {};
        SfdiskTable t = {};

        require_tools();
        /* partition 1 (10 MiB) then 20 MiB of free space then partition 2: partition 1 grows up to 2 */
        image_create(f->img, 64 * MiB,
                     "label: gpt\\nstart=2048, size=20480, type=L\\nstart=63488, size=20480, type=L\\n");
        assert_int_equal(disk_grow_partition(f->img, 1, &r), 1);
        assert_true(sfdisk_read(f->img, &t));
        assert_int_equal(t.parts[0].start + t.parts[0].size, 63488);
        assert_int_equal(t.parts[1].start, 63488);
        assert_int_equal(t.parts[1].size, 20480);
        sfdisk_table_done(&t);
}

static void assert_refused_unchanged(Fixture *f, unsigned partno, const char *expect) {
        _cleanup_(grow_part_result_done) GrowPartResult r = {};
        _cleanup_free_ void *before = NULL, *after = NULL;
        size_t nb, na;

        before = file_slurp(f->img, &nb);
        assert_int_equal(disk_grow_partition(f->img, partno, &r), 0);
        assert_true(r.refused);
        assert_false(r.table_changed);
        fprintf(stderr, "summary: %s\n", r.summary);
        assert_non_null(strstr(r.summary, expect));
        after = file_slurp(f->img, &na);
        assert_int_equal(na, nb);
        assert_memory_equal(before, after, nb);
}

static void corrupt_byte(const char *path, uint64_t offset) {
        _cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
        unsigned char c;

        assert_true(fd >= 0);
        assert_int_equal(pread(fd, &c, 1, (off_t) offset), 1);
        c ^= 0xFF;
        assert_int_equal(pwrite(fd, &c, 1, (off_t) offset), 1);
}

static void test_gpt_corrupt_primary(void **state) {
        Fixture *f = *state;

        require_tools();
        image_create(f->img, 32 * MiB, "label: gpt\\nstart=2048, size=20480, type=L\\n");
        grow_file(f->img, 64 * MiB);
        /* a byte inside the primary partition entry array (LBA 2): libfdisk would silently use the backup */
        corrupt_byte(f->img, 2 * 512 + 40);
        /* libfdisk finds no usable GPT at all and falls back to reading the protective MBR */
        assert_refused_unchanged(f, 1, "protective MBR");
}

static void test_gpt_corrupt_primary_not_grown(void **state) {
        Fixture *f = *state;

        require_tools();
        image_create(f->img, 32 * MiB, "label: gpt\\nstart=2048, size=20480, type=L\\n");
        /* libfdisk finds the intact backup at the last LBA and would write it over the primary */
        corrupt_byte(f->img, 2 * 512 + 40);
        assert_refused_unchanged(f, 1, "CRC32");
}

static void test_gpt_corrupt_backup(void **state) {
        Fixture *f = *state;

        require_tools();
        image_create(f->img, 32 * MiB, "label: gpt\\nstart=2048, size=20480, type=L\\n");
        /* the backup header's signature (last LBA) */
        corrupt_byte(f->img, 32 * MiB - 512);
        assert_refused_unchanged(f, 1, "backup");
}

static void test_mbr_overlap(void **state) {
        Fixture *f = *state;
        _cleanup_close_ int fd = -EBADF;
        /* partition entry 2 (offset 0x1CE): type 0x83, LBA 4096, 8192 sectors — inside partition 1 */
        unsigned char e[16] = {0, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x10, 0, 0, 0x00, 0x20, 0, 0};

        require_tools();
        image_create(f->img, 32 * MiB, "label: dos\\nstart=2048, size=20480, type=83\\n");
        fd = open(f->img, O_RDWR | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, e, sizeof e, 0x1CE), (ssize_t) sizeof e);
        closep(&fd);
        fd = -EBADF;
        grow_file(f->img, 64 * MiB);
        assert_refused_unchanged(f, 2, "inconsistent");
}

static void test_no_table(void **state) {
        Fixture *f = *state;

        image_create(f->img, 8 * MiB, NULL);
        assert_refused_unchanged(f, 1, "no partition table");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_crc32),
                cmocka_unit_test(test_mountinfo),
                cmocka_unit_test_setup_teardown(test_gpt_grow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mbr_grow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gpt_free_space_between, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gpt_corrupt_primary, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gpt_corrupt_primary_not_grown, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gpt_corrupt_backup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mbr_overlap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_table, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
