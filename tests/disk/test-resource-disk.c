/* SPDX-License-Identifier: MIT */
/*
 * resource_disk_setup_full() on loop devices (root only; exit 77 otherwise). An image shaped like Azure's
 * fresh resource disk (MBR, one NTFS partition labelled "Temporary Storage" holding only
 * DATALOSS_WARNING_README.txt, made with mkntfs + ntfs-3g) is reformatted (GPT + ext4), mounted under a
 * scratch root with the warning file and a swap file; the second run changes nothing. An ext4 holding a
 * user file, and an NTFS placeholder with an extra user file, are left alone byte for byte.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/swap.h>
#include <unistd.h>

#include "disk-test-util.h"
#include "disk.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

#define MiB (UINT64_C(1024) * 1024)

typedef struct Fixture {
        char *dir, *img, *root, *mnt, *loop, *swapfile;
        int root_fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->dir = tmpdir_new();
        assert_true(asprintf(&f->img, "%s/resource.img", f->dir) > 0);
        assert_true(asprintf(&f->root, "%s/root", f->dir) > 0);
        assert_true(asprintf(&f->mnt, "%s/root/mnt", f->dir) > 0);
        assert_true(asprintf(&f->swapfile, "%s/root/mnt/%s", f->dir, RESOURCE_DISK_SWAP_FILE) > 0);
        assert_int_equal(mkdir(f->root, 0755), 0);
        assert_int_equal(root_open(f->root, &f->root_fd), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        (void) swapoff(f->swapfile);
        (void) umount2(f->mnt, 0);
        (void) run("umount '%s'/ntfs 2>/dev/null; true", f->dir);
        loop_detach(f->loop);
        closep(&f->root_fd);
        tmpdir_remove(f->dir);
        free(f->img);
        free(f->root);
        free(f->mnt);
        free(f->swapfile);
        free(f->loop);
        free(f);
        return 0;
}

static void require(const char *prog) {
        if (!have_program(prog)) {
                fprintf(stderr, "skipping: %s missing\n", prog);
                skip();
        }
}

/* Azure's placeholder: MBR, one type-7 partition, NTFS "Temporary Storage", optional extra file. */
static void make_ntfs_placeholder(Fixture *f, const char *extra_file) {
        _cleanup_free_ char *part = NULL;

        require("mkntfs");
        require("ntfs-3g");
        image_create(f->img, 128 * MiB, "label: dos\\nstart=2048, type=7\\n");
        f->loop = loop_attach(f->img);
        assert_non_null(f->loop);
        part = loop_partition(f->loop, 1);
        assert_int_equal(run("mkntfs -Q -F -q -L '%s' '%s' >/dev/null 2>&1", RESOURCE_DISK_NTFS_LABEL, part),
                         0);
        assert_int_equal(run("mkdir -p '%s/ntfs' && ntfs-3g '%s' '%s/ntfs'", f->dir, part, f->dir), 0);
        assert_int_equal(
                run("printf 'placeholder\\r\\n' > '%s/ntfs/%s'", f->dir, RESOURCE_DISK_WARNING_FILE), 0);
        if (extra_file)
                assert_int_equal(run("echo precious > '%s/ntfs/%s'", f->dir, extra_file), 0);
        assert_int_equal(run("umount '%s/ntfs'", f->dir), 0);
}

static int setup_disk(Fixture *f, uint64_t swap_mib, ResourceDiskResult *ret) {
        ResourceDiskOptions o = {
                .filesystem = "ext4",
                .mount_point = "/mnt",
                .swap_size_mib = swap_mib,
                .scratch_dir = f->dir,
        };
        int r = resource_disk_setup_full(f->root_fd, f->loop, &o, ret);

        if (r >= 0)
                fprintf(stderr, "resource_disk_setup: %d: %s\n", r, ret->summary);
        return r;
}

static void assert_swap_active(const char *path) {
        _cleanup_free_ char *swaps = run_capture("cat /proc/swaps");

        assert_non_null(swaps);
        assert_non_null(strstr(swaps, path));
}

static void test_placeholder_reformatted(void **state) {
        Fixture *f = *state;
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {}, res2 = {};
        _cleanup_free_ char *warning = NULL, *fstype = NULL, *blkid = NULL;
        SfdiskTable t = {};
        struct statvfs sv;
        struct stat st;
        size_t size;

        make_ntfs_placeholder(f, NULL);
        assert_int_equal(setup_disk(f, 16, &res), 1);
        assert_true(res.formatted);
        assert_true(res.mounted);
        assert_true(res.swap_enabled);
        assert_string_equal(res.filesystem, "ext4");
        assert_non_null(strstr(res.summary, "placeholder"));

        /* a fresh GPT with one partition named azl-resource spanning the disk */
        assert_true(sfdisk_read(f->loop, &t));
        assert_string_equal(t.label, "gpt");
        assert_int_equal(t.n, 1);
        assert_string_equal(t.parts[0].name, RESOURCE_DISK_LABEL);
        assert_true(t.parts[0].size * 512 > 120 * MiB);
        sfdisk_table_done(&t);
        /* ext4 labelled azl-resource, mounted on <root>/mnt */
        blkid = run_capture("blkid -p -o value -s TYPE -s LABEL '%sp1'", f->loop);
        assert_non_null(blkid);
        assert_non_null(strstr(blkid, "ext4"));
        assert_non_null(strstr(blkid, RESOURCE_DISK_LABEL));
        fstype = run_capture("findmnt -n -o FSTYPE --mountpoint '%s'", f->mnt);
        assert_non_null(fstype);
        assert_string_equal(fstype, "ext4\n");
        assert_int_equal(statvfs(f->mnt, &sv), 0);
        assert_true((uint64_t) sv.f_blocks * sv.f_frsize > 100 * MiB);
        /* waagent's warning text, and a 0600 swap file of the configured size that is in use */
        assert_int_equal(
                read_file_in_root(f->root_fd, "/mnt/" RESOURCE_DISK_WARNING_FILE, 4096, &warning, &size), 0);
        assert_string_equal(warning, resource_disk_warning_text);
        assert_int_equal(stat(f->swapfile, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_size, 16 * MiB);
        assert_swap_active(f->swapfile);

        /* every later boot: nothing to do */
        assert_int_equal(setup_disk(f, 16, &res2), 0);
        assert_false(res2.formatted);
        assert_false(res2.mounted);
        assert_false(res2.swap_enabled);
}

/* Reboot: our formatted disk is mounted again, not reformatted; data on it survives. */
static void test_ours_remounted(void **state) {
        Fixture *f = *state;
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {}, res2 = {};
        _cleanup_free_ char *data = NULL;
        size_t size;

        make_ntfs_placeholder(f, NULL);
        assert_int_equal(setup_disk(f, 0, &res), 1);
        assert_int_equal(write_string_file_atomic_in_root(f->root_fd, "/mnt/scratch.txt", "kept\n", 0644, 0),
                         0);
        assert_int_equal(umount2(f->mnt, 0), 0);

        assert_int_equal(setup_disk(f, 0, &res2), 1);
        assert_false(res2.formatted);
        assert_true(res2.mounted);
        assert_int_equal(read_file_in_root(f->root_fd, "/mnt/scratch.txt", 100, &data, &size), 0);
        assert_string_equal(data, "kept\n");
}

static void assert_left_alone(Fixture *f, const char *expect) {
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};
        _cleanup_free_ void *before = NULL, *after = NULL;
        _cleanup_free_ char *mounts = NULL;
        size_t nb, na;

        before = file_slurp(f->img, &nb);
        assert_int_equal(setup_disk(f, 16, &res), 0);
        assert_false(res.formatted);
        assert_false(res.mounted);
        assert_false(res.swap_enabled);
        assert_non_null(strstr(res.summary, "left alone"));
        assert_non_null(strstr(res.summary, expect));
        after = file_slurp(f->img, &na);
        assert_int_equal(na, nb);
        assert_memory_equal(before, after, nb);
        mounts = run_capture("cat /proc/self/mountinfo");
        assert_null(strstr(mounts, f->mnt));
}

static void test_ext4_with_user_file_left_alone(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *part = NULL, *content = NULL;

        image_create(f->img, 64 * MiB, "label: gpt\\nstart=2048, type=L\\n");
        f->loop = loop_attach(f->img);
        assert_non_null(f->loop);
        part = loop_partition(f->loop, 1);
        assert_int_equal(run("mkfs.ext4 -q -F -L data '%s'", part), 0);
        assert_int_equal(run("mkdir -p '%s/m' && mount '%s' '%s/m' && echo precious > '%s/m/user.txt' && "
                             "umount '%s/m'",
                             f->dir, part, f->dir, f->dir, f->dir),
                         0);

        assert_left_alone(f, "'ext4' filesystem labelled 'data'");
        /* the user's file is still there */
        assert_int_equal(run("mount -o ro '%s' '%s/m'", part, f->dir), 0);
        content = run_capture("cat '%s/m/user.txt'", f->dir);
        (void) run("umount '%s/m'", f->dir);
        assert_non_null(content);
        assert_string_equal(content, "precious\n");
}

static void test_ntfs_with_user_file_left_alone(void **state) {
        Fixture *f = *state;

        make_ntfs_placeholder(f, "my-data.bin");
        assert_left_alone(f, "my-data.bin");
}

static void test_blank_disk_formatted(void **state) {
        Fixture *f = *state;
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};

        image_create(f->img, 64 * MiB, NULL);
        f->loop = loop_attach(f->img);
        assert_non_null(f->loop);
        assert_int_equal(setup_disk(f, 0, &res), 1);
        assert_true(res.formatted && res.mounted);
        assert_non_null(strstr(res.summary, "blank"));
}

static void test_missing_default_device(void **state) {
        Fixture *f = *state;
        _cleanup_(resource_disk_result_done) ResourceDiskResult res = {};
        ResourceDiskOptions o = {.filesystem = "ext4", .mount_point = "/mnt"};

        if (access(RESOURCE_DISK_DEFAULT_DEVICE, F_OK) == 0)
                skip();
        assert_int_equal(resource_disk_setup_full(f->root_fd, NULL, &o, &res), 0);
        assert_non_null(strstr(res.summary, "no resource disk"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_placeholder_reformatted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ours_remounted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ext4_with_user_file_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ntfs_with_user_file_left_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blank_disk_formatted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_default_device, setup, teardown),
        };

        require_loop_or_skip();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
