/* SPDX-License-Identifier: MIT */
/*
 * Provisioning media: the seed directory, and the real mount → read → unmount → eject path on a loop
 * device. Two images are used: an ISO 9660 image built with xorriso (what Azure attaches; skipped when the
 * kernel has neither udf nor iso9660, as in many containers) and an ext4 image built with mke2fs -d, which
 * exercises the very same code with another filesystem type list. Needs root and loop devices (77 without).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "media.h"
#include "scratch-root.h"
#include "spawn-util.h"
#include "strutil.h"

static char *ovf_env;
static size_t ovf_env_size;

/* Builds <dir>/src/ovf-env.xml from tests/data/media/ovf-env.xml. */
static char *make_source(const char *dir) {
        char *src = NULL;

        assert_true(asprintf(&src, "%s/src", dir) > 0);
        assert_int_equal(mkdir(src, 0755), 0);
        write_test_file(src, "ovf-env.xml", ovf_env);
        return src;
}

/* losetup --find --show --read-only image; NULL when no loop device can be had. */
static char *loop_attach(const char *image) {
        char *out = NULL;
        int r;

        r = spawn_and_wait((char *const[]){(char *) "losetup", (char *) "--find", (char *) "--show",
                                           (char *) "--read-only", (char *) image, NULL},
                           &out);
        if (r != 0 || !startswith(strempty(out), "/dev/loop")) {
                free(out);
                return NULL;
        }
        return out;
}

static void loop_detach(const char *dev) {
        assert_int_equal(
                spawn_and_wait((char *const[]){(char *) "losetup", (char *) "-d", (char *) dev, NULL}, NULL),
                0);
}

static bool is_mounted(const char *dev) {
        _cleanup_free_ char *mi = NULL;
        _cleanup_close_ int fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 16U << 20, &mi, NULL), 0);
        return strstr(mi, dev) || strstr(mi, "azl-agent-media");
}

/* Reads ovf-env.xml from image through a loop device; returns EXIT_TEST_SKIP when the environment cannot. */
static int read_image(const char *image, const char *const *fstypes) {
        _cleanup_free_ char *dev = loop_attach(image), *buf = NULL;
        size_t size;
        int r;

        if (!dev) {
                fprintf(stderr, "skipped: no loop device available\n");
                return EXIT_TEST_SKIP;
        }
        r = fstypes ? media_read_device_fstypes(dev, fstypes, &buf, &size)
                    : media_read_device(dev, &buf, &size);
        assert_false(is_mounted(dev));
        loop_detach(dev);
        if (r == -ENOMEDIUM && !fstypes) {
                fprintf(stderr, "skipped: this kernel mounts neither udf nor iso9660\n");
                return EXIT_TEST_SKIP;
        }
        assert_int_equal(r, 0);
        assert_int_equal(size, ovf_env_size);
        assert_memory_equal(buf, ovf_env, size);
        return 0;
}

/* Removes the scratch directory, then exits 77 if the test had to be skipped. */
static void finish(char *dir, int r) {
        tmpdir_remove(dir);
        if (r == EXIT_TEST_SKIP)
                exit(EXIT_TEST_SKIP);
}

static void test_seed_dir(void **state) {
        char *root = tmpdir_new();
        _cleanup_free_ char *buf = NULL, *saved = NULL;
        struct stat st;
        size_t size;
        Context c;

        scratch_context(&c, root);
        write_test_file(root, "var/lib/azl-agent/seed/ovf-env.xml", ovf_env);
        assert_int_equal(media_read_ovf_env(&c, &buf, &size), 0);
        assert_int_equal(size, ovf_env_size);
        assert_string_equal(buf, ovf_env);
        free(buf);
        buf = NULL;
        assert_int_equal(media_read_dir(c.root_fd, "/var/lib/azl-agent/seed", &buf, &size), 0);
        assert_string_equal(buf, ovf_env);

        /* The copy we keep: password gone, 0600, root-owned. */
        assert_int_equal(media_save_ovf_env(&c, buf, size), 0);
        saved = scratch_read(root, "/var/lib/azl-agent/ovf-env.xml");
        assert_non_null(saved);
        assert_null(strstr(saved, ">Med1a-Pa55word!<"));
        assert_non_null(strstr(saved, "<UserName>azlmedia</UserName>"));
        scratch_stat(root, "/var/lib/azl-agent/ovf-env.xml", &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, 0);
        context_done(&c);
        tmpdir_remove(root);
}

static void test_ext4_image(void **state) {
        static const char *const types[] = {"udf", "iso9660", "ext4", NULL};
        char *dir = tmpdir_new();
        _cleanup_free_ char *src = make_source(dir), *image = NULL;

        require_program_or_skip("mke2fs");
        assert_true(asprintf(&image, "%s/media.ext4", dir) > 0);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "mke2fs", (char *) "-q", (char *) "-F",
                                                        (char *) "-t", (char *) "ext4", (char *) "-d", src,
                                                        image, (char *) "4M", NULL},
                                        NULL),
                         0);
        finish(dir, read_image(image, types));
}

static void test_no_ovf_env(void **state) {
        static const char *const types[] = {"ext4", NULL};
        char *dir = tmpdir_new();
        _cleanup_free_ char *empty = NULL, *image = NULL, *dev = NULL;
        char *buf = NULL;
        size_t size;

        require_program_or_skip("mke2fs");
        assert_true(asprintf(&empty, "%s/empty", dir) > 0);
        assert_int_equal(mkdir(empty, 0755), 0);
        assert_true(asprintf(&image, "%s/empty.ext4", dir) > 0);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "mke2fs", (char *) "-q", (char *) "-F",
                                                        (char *) "-t", (char *) "ext4", (char *) "-d", empty,
                                                        image, (char *) "4M", NULL},
                                        NULL),
                         0);
        dev = loop_attach(image);
        if (!dev)
                finish(dir, EXIT_TEST_SKIP);
        assert_int_equal(media_read_device_fstypes(dev, types, &buf, &size), -ENOENT);
        assert_null(buf);
        assert_false(is_mounted(dev));
        loop_detach(dev);
        tmpdir_remove(dir);
}

/* Run as its own meson test ("test-media iso"): it exits 77 when the kernel lacks udf and iso9660. */
static void test_iso_image(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *src = make_source(dir), *image = NULL;

        require_program_or_skip("xorriso");
        assert_true(asprintf(&image, "%s/media.iso", dir) > 0);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "xorriso", (char *) "-as",
                                                        (char *) "mkisofs", (char *) "-quiet", (char *) "-J",
                                                        (char *) "-R", (char *) "-o", image, src, NULL},
                                        NULL),
                         0);
        finish(dir, read_image(image, NULL));
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_seed_dir),
                cmocka_unit_test(test_ext4_image),
                cmocka_unit_test(test_no_ovf_env),
        };
        const struct CMUnitTest iso_tests[] = {
                cmocka_unit_test(test_iso_image),
        };

        require_root_or_skip("mount(2) and loop devices");
        require_program_or_skip("losetup");
        ovf_env = test_data_read("media/ovf-env.xml", &ovf_env_size);
        if (argc > 1 && streq(argv[1], "iso"))
                return cmocka_run_group_tests_name("media-iso", iso_tests, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
