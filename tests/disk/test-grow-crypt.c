/* SPDX-License-Identifier: MIT */
/*
 * An encrypted root grown on loop devices (crypt-grow.c; root and dm-crypt only, exit 77 otherwise — this test
 * also runs inside the VM rig's guest, whose kernel has dm-crypt: tests/vm/test-vm-crypt.py). A GPT disk image
 * with one 96 MiB partition at its end, LUKS-formatted with libcryptsetup (PBKDF2, few iterations), opened,
 * ext4 on the mapping, mounted; then the image grows to 256 MiB and the loop device is told. disk_grow_filesystem_at()
 * on the mount must grow the partition, the mapping and the filesystem, each seen from outside: sfdisk, the
 * mapping's sysfs size, statvfs(). The cases:
 *
 *   LUKS1 and LUKS2 with the key in the dm table      no secret needed; the second run changes nothing
 *   LUKS2, key in the kernel keyring, nothing else     the partition grows, the mapping keeps its size with the
 *                                                      reason; the filesystem stays mounted, written and fsck-clean
 *   ... with /cc_growpart_keydata for keyslot 5        all three grow; the file is gone, keyslot 5 destroyed, 0 kept
 *   ... with a key file whose key is wrong             file gone, keyslot 5 kept, mapping unchanged, reason
 *   ... with the key file for the only keyslot         grows; the keyslot stays (the volume's last)
 *   ... with the passphrase cached in the keyring      grows (add_key "user" "cryptsetup" in our session keyring)
 */
#include <fcntl.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libcryptsetup.h>

#include "disk-test-util.h"
#include "disk.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

#define MiB         (UINT64_C(1024) * 1024)
#define PASS        "main passphrase (TEST ONLY)"
#define ONETIME     "one-time growpart key (TEST ONLY)"
#define ONETIME_B64 "b25lLXRpbWUgZ3Jvd3BhcnQga2V5IChURVNUIE9OTFkp"

typedef struct Fixture {
        char *dir, *img, *mnt, *loop, *name, *mapper;
        char *data_sum; /* sha256sum of the file written before the growth */
        bool mounted, opened;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->dir = tmpdir_new();
        assert_true(asprintf(&f->img, "%s/disk.img", f->dir) > 0);
        assert_true(asprintf(&f->mnt, "%s/root", f->dir) > 0);
        assert_true(asprintf(&f->name, "azl-test-crypt-%d", getpid()) > 0);
        assert_true(asprintf(&f->mapper, "/dev/mapper/%s", f->name) > 0);
        assert_int_equal(mkdir(f->mnt, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (f->mounted && umount2(f->mnt, 0) < 0)
                (void) umount2(f->mnt, MNT_DETACH);
        if (f->opened)
                (void) crypt_deactivate(NULL, f->name);
        loop_detach(f->loop);
        tmpdir_remove(f->dir);
        free(f->img);
        free(f->mnt);
        free(f->loop);
        free(f->name);
        free(f->mapper);
        free(f->data_sum);
        free(f);
        return 0;
}

typedef struct Luks {
        const char *type;  /* CRYPT_LUKS1 / CRYPT_LUKS2 */
        bool keyring;      /* LUKS2: the volume key in the kernel keyring (the default) */
        bool main_slot;    /* keyslot 0 with PASS */
        bool onetime_slot; /* keyslot 5 with ONETIME */
} Luks;

/* The image, its partition LUKS-formatted and opened, ext4 on it, mounted with a file; then the image grows. */
static void prepare(Fixture *f, const Luks *l) {
        struct crypt_pbkdf_type pbkdf = {.type = CRYPT_KDF_PBKDF2,
                                         .hash = "sha256",
                                         .iterations = 1000,
                                         .flags = CRYPT_PBKDF_NO_BENCHMARK};
        struct crypt_device *cd = NULL;
        _cleanup_free_ char *part = NULL;
        int r;

        /* 1 MiB + 96 MiB partition + 1 MiB for the backup GPT */
        image_create(f->img, 98 * MiB, "label: gpt\\nstart=2048, size=196608, type=L, name=root\\n");
        f->loop = loop_attach(f->img);
        assert_non_null(f->loop);
        part = loop_partition(f->loop, 1);
        assert_int_equal(crypt_init(&cd, part), 0);
        assert_int_equal(crypt_set_pbkdf_type(cd, &pbkdf), 0);
        assert_int_equal(crypt_format(cd, l->type, "aes", "xts-plain64", NULL, NULL, 64, NULL), 0);
        if (l->main_slot)
                assert_int_equal(crypt_keyslot_add_by_volume_key(cd, 0, NULL, 0, PASS, strlen(PASS)), 0);
        if (l->onetime_slot)
                assert_int_equal(crypt_keyslot_add_by_volume_key(cd, 5, NULL, 0, ONETIME, strlen(ONETIME)),
                                 5);
        if (streq(l->type, CRYPT_LUKS2))
                assert_int_equal(crypt_volume_key_keyring(cd, l->keyring), 0);
        r = l->main_slot ? crypt_activate_by_passphrase(cd, f->name, 0, PASS, strlen(PASS), 0)
                         : crypt_activate_by_passphrase(cd, f->name, 5, ONETIME, strlen(ONETIME), 0);
        assert_true(r >= 0);
        f->opened = true;
        crypt_free(cd);
        assert_int_equal(run("mkfs.ext4 -q -F '%s' >&2", f->mapper), 0);
        assert_int_equal(run("mount -t ext4 '%s' '%s'", f->mapper, f->mnt), 0);
        f->mounted = true;
        assert_int_equal(run("dd if=/dev/urandom of='%s/data' bs=1M count=4 status=none && sync", f->mnt),
                         0);
        f->data_sum = run_capture("sha256sum < '%s/data'", f->mnt);
        assert_non_null(f->data_sum);
        assert_int_equal(truncate(f->img, (off_t) (256 * MiB)), 0);
        loop_set_capacity(f->loop);
}

static uint64_t statvfs_size(const char *path) {
        struct statvfs sv;

        assert_int_equal(statvfs(path, &sv), 0);
        return (uint64_t) sv.f_blocks * sv.f_frsize;
}

static uint64_t mapping_size(const Fixture *f) {
        _cleanup_free_ char *v = run_capture("blockdev --getsize64 '%s'", f->mapper);
        unsigned long long n;

        assert_non_null(v);
        assert_int_equal(sscanf(v, "%llu", &n), 1);
        return n;
}

static int grow(Fixture *f, DiskGrowResult *ret) {
        _cleanup_close_ int fd = open(f->mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int r;

        assert_true(fd >= 0);
        r = disk_grow_filesystem_at(fd, ret);
        if (r >= 0)
                fprintf(stderr, "disk_grow_filesystem_at: %d: %s\n", r, ret->summary);
        return r;
}

static void write_keydata(Fixture *f, const char *key_b64, int slot) {
        _cleanup_free_ char *path = NULL;
        FILE *k;

        assert_true(asprintf(&path, "%s" CRYPT_KEYDATA_FILE, f->mnt) > 0);
        k = fopen(path, "we");
        assert_non_null(k);
        fprintf(k, "{\"key\": \"%s\", \"slot\": %d}\n", key_b64, slot);
        assert_int_equal(fclose(k), 0);
}

static bool keydata_exists(Fixture *f) {
        _cleanup_free_ char *path = NULL;

        assert_true(asprintf(&path, "%s" CRYPT_KEYDATA_FILE, f->mnt) > 0);
        return access(path, F_OK) == 0;
}

static crypt_keyslot_info slot_status(Fixture *f, int slot) {
        _cleanup_free_ char *part = loop_partition(f->loop, 1);
        struct crypt_device *cd = NULL;
        crypt_keyslot_info ki;

        assert_int_equal(crypt_init(&cd, part), 0);
        assert_int_equal(crypt_load(cd, NULL, NULL), 0);
        ki = crypt_keyslot_status(cd, slot);
        crypt_free(cd);
        return ki;
}

/* The file written before the growth reads back the same, through the page cache dropped. */
static void assert_data_intact(Fixture *f) {
        _cleanup_free_ char *sum = NULL;

        (void) run("sync; echo 3 > /proc/sys/vm/drop_caches");
        sum = run_capture("sha256sum < '%s/data'", f->mnt);
        assert_non_null(sum);
        assert_string_equal(sum, f->data_sum);
}

/* Partition, mapping and filesystem all fill the grown disk. */
static void assert_all_grown(Fixture *f, const DiskGrowResult *res, uint64_t fs_before) {
        SfdiskTable t = {};

        assert_true(res->partition_grown);
        assert_true(res->crypt_grown);
        assert_true(res->filesystem_grown);
        assert_string_equal(res->crypt_name, f->name);
        assert_int_equal(res->partno, 1);
        assert_true(sfdisk_read(f->loop, &t));
        assert_int_equal(t.parts[0].start + t.parts[0].size, 256 * MiB / 512 - 2048);
        sfdisk_table_done(&t);
        assert_int_equal(mapping_size(f), res->crypt_new_size);
        assert_true(res->crypt_new_size > 200 * MiB);
        assert_true(statvfs_size(f->mnt) > fs_before + 100 * MiB);
        assert_data_intact(f);
}

/* The filesystem is consistent: unmounted, e2fsck finds nothing; mounted again. */
static void assert_fsck_clean(Fixture *f) {
        assert_int_equal(umount2(f->mnt, 0), 0);
        f->mounted = false;
        assert_int_equal(run("e2fsck -fn '%s' >&2", f->mapper), 0);
        assert_int_equal(run("mount -t ext4 '%s' '%s'", f->mapper, f->mnt), 0);
        f->mounted = true;
        assert_data_intact(f);
}

static void grow_key_in_table(Fixture *f, const char *type) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {}, res2 = {};
        Luks l = {.type = type, .keyring = false, .main_slot = true};
        uint64_t before;

        prepare(f, &l);
        before = statvfs_size(f->mnt);
        assert_int_equal(grow(f, &res), 1);
        assert_all_grown(f, &res, before);
        assert_non_null(strstr(res.summary, "(volume key from the dm table)"));
        assert_int_equal(grow(f, &res2), 0);
        assert_false(res2.partition_grown || res2.crypt_grown || res2.filesystem_grown);
        assert_non_null(strstr(res2.summary, "already fills its partition"));
        assert_fsck_clean(f);
}

static void test_luks2_key_in_table(void **state) {
        grow_key_in_table(*state, CRYPT_LUKS2);
}

static void test_luks1(void **state) {
        grow_key_in_table(*state, CRYPT_LUKS1);
}

static void test_keyring_no_key(void **state) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        Luks l = {.type = CRYPT_LUKS2, .keyring = true, .main_slot = true};
        Fixture *f = *state;
        uint64_t before, map_before;

        prepare(f, &l);
        before = statvfs_size(f->mnt);
        map_before = mapping_size(f);
        assert_int_equal(grow(f, &res), 1); /* the partition grew */
        assert_true(res.partition_grown);
        assert_false(res.crypt_grown);
        assert_false(res.filesystem_grown);
        assert_non_null(strstr(res.summary, "keeps its size: its volume key is in the kernel keyring"));
        assert_non_null(strstr(res.summary, "no " CRYPT_KEYDATA_FILE));
        assert_non_null(strstr(res.summary, "`cryptsetup resize "));
        assert_int_equal(mapping_size(f), map_before);
        assert_int_equal(statvfs_size(f->mnt), before);
        /* still mounted and writable, and clean */
        assert_int_equal(run("dd if=/dev/zero of='%s/more' bs=1M count=1 status=none && sync", f->mnt), 0);
        assert_fsck_clean(f);
}

static void test_keyring_keydata(void **state) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        Luks l = {.type = CRYPT_LUKS2, .keyring = true, .main_slot = true, .onetime_slot = true};
        Fixture *f = *state;
        uint64_t before;

        prepare(f, &l);
        write_keydata(f, ONETIME_B64, 5);
        before = statvfs_size(f->mnt);
        assert_int_equal(grow(f, &res), 1);
        assert_all_grown(f, &res, before);
        assert_non_null(strstr(res.summary, "(volume key from the one-time key in " CRYPT_KEYDATA_FILE ")"));
        assert_false(keydata_exists(f));
        assert_int_equal(slot_status(f, 5), CRYPT_SLOT_INACTIVE);
        assert_true(slot_status(f, 0) == CRYPT_SLOT_ACTIVE || slot_status(f, 0) == CRYPT_SLOT_ACTIVE_LAST);
        assert_fsck_clean(f);
}

static void test_keyring_keydata_wrong(void **state) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        Luks l = {.type = CRYPT_LUKS2, .keyring = true, .main_slot = true, .onetime_slot = true};
        Fixture *f = *state;
        uint64_t map_before;

        prepare(f, &l);
        write_keydata(f, "d3Jvbmcga2V5", 5); /* "wrong key" */
        map_before = mapping_size(f);
        assert_int_equal(grow(f, &res), 1);
        assert_true(res.partition_grown);
        assert_false(res.crypt_grown);
        assert_non_null(strstr(
                res.summary, "does not open keyslot 5 (wrong key; the file was removed, the keyslot kept)"));
        assert_false(keydata_exists(f));
        assert_int_equal(mapping_size(f), map_before);
        assert_true(slot_status(f, 5) == CRYPT_SLOT_ACTIVE);
        assert_fsck_clean(f);
}

static void test_keyring_keydata_last_slot(void **state) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        Luks l = {.type = CRYPT_LUKS2, .keyring = true, .onetime_slot = true};
        Fixture *f = *state;
        uint64_t before;

        prepare(f, &l);
        write_keydata(f, ONETIME_B64, 5);
        before = statvfs_size(f->mnt);
        assert_int_equal(grow(f, &res), 1);
        assert_all_grown(f, &res, before);
        assert_false(keydata_exists(f));
        assert_true(slot_status(f, 5) == CRYPT_SLOT_ACTIVE_LAST); /* never the volume's last keyslot */
}

static void test_keyring_cached_passphrase(void **state) {
        _cleanup_(disk_grow_result_done) DiskGrowResult res = {};
        Luks l = {.type = CRYPT_LUKS2, .keyring = true, .main_slot = true};
        Fixture *f = *state;
        long key;
        uint64_t before;

        prepare(f, &l);
        key = syscall(SYS_add_key, "user", "cryptsetup", PASS, strlen(PASS), KEY_SPEC_PROCESS_KEYRING);
        if (key < 0) {
                fprintf(stderr, "skipping: add_key: %m\n");
                skip();
        }
        before = statvfs_size(f->mnt);
        assert_int_equal(grow(f, &res), 1);
        (void) syscall(SYS_keyctl, KEYCTL_INVALIDATE, key);
        assert_all_grown(f, &res, before);
        assert_non_null(strstr(res.summary, "passphrase cached in the kernel keyring"));
}

/* dm-crypt must be there: /dev/mapper/control and the crypt target (loaded on demand by the kernel). */
static void require_dm_crypt_or_skip(void) {
        _cleanup_close_ int fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);

        if (fd < 0) {
                fprintf(stderr, "skipped: no device-mapper here (/dev/mapper/control: %m)\n");
                exit(EXIT_TEST_SKIP);
        }
        (void) run("modprobe dm_crypt 2>/dev/null");
        if (!have_program("mkfs.ext4") || !have_program("e2fsck") || !have_program("blockdev")) {
                fprintf(stderr, "skipped: mkfs.ext4/e2fsck/blockdev missing\n");
                exit(EXIT_TEST_SKIP);
        }
        if (run("grep -qw crypt /proc/crypto 2>/dev/null || dmsetup targets 2>/dev/null | grep -qw crypt") !=
                    0 &&
            run("dmsetup targets >/dev/null 2>&1") != 0) {
                fprintf(stderr, "skipped: the kernel has no dm-crypt target\n");
                exit(EXIT_TEST_SKIP);
        }
        (void) mkdir("/run/cryptsetup", 0700); /* libcryptsetup's lock directory */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_luks2_key_in_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_luks1, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_no_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_keydata, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_keydata_wrong, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_keydata_last_slot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keyring_cached_passphrase, setup, teardown),
        };

        require_loop_or_skip();
        require_dm_crypt_or_skip();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
