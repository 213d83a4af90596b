/* SPDX-License-Identifier: MIT */
/* The "hostname" step on a scratch root (no root privileges needed) and RFC 1123 validation. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hostname.h"
#include "macro.h"
#include "provisioner.h"
#include "scratch-root.h"

static void test_validation(void **state) {
        static const char *const good[] = {
                "a",
                "vm1",
                "my-vm",
                "VM-01",
                "vm1.example.com",
                "0abc",
                "a.b.c",
                "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123", /* 63 */
        };
        static const char *const bad[] = {
                "",
                "-vm",
                "vm-",
                "vm_1",
                "vm 1",
                "vm..x",
                ".vm",
                "vm.",
                "vm.-x",
                "vm!",
                "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234", /* 64 */
                "ünicode",
        };
        char long_name[300];

        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(hostname_is_valid_rfc1123(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(hostname_is_valid_rfc1123(bad[i]));
        /* 254 characters in 2-char labels: every label fine, total too long. */
        memset(long_name, 0, sizeof long_name);
        for (size_t i = 0; i < 254; i++)
                long_name[i] = i % 3 == 2 ? '.' : 'a';
        assert_false(hostname_is_valid_rfc1123(long_name));
        long_name[253] = 0;
        long_name[252] = 'a';
        assert_true(hostname_is_valid_rfc1123(long_name));
}

static void test_static_name(void **state) {
        char *n = NULL;

        assert_int_equal(hostname_static_name("vm1.example.com", &n), 0);
        assert_string_equal(n, "vm1");
        free(n);
        n = NULL;
        assert_int_equal(hostname_static_name("bad_name", &n), -EINVAL);
        assert_null(n);
}

static void test_apply_file(void **state) {
        char *root = tmpdir_new();
        ProvisionData d = {.hostname = strdup("myvm.internal.cloudapp.net")};
        _cleanup_free_ char *summary = NULL, *content = NULL;
        struct stat st1, st2;
        Context c;

        scratch_context(&c, root);
        assert_int_equal(provisioner_hostname.apply(&c, &d, &summary), 1);
        assert_non_null(summary);
        content = scratch_read(root, "/etc/hostname");
        assert_string_equal(content, "myvm\n");
        scratch_stat(root, "/etc/hostname", &st1);
        assert_int_equal(st1.st_mode & 07777, 0644);

        /* Second run: unchanged, file untouched. */
        free(summary);
        summary = NULL;
        assert_int_equal(provisioner_hostname.apply(&c, &d, &summary), 0);
        scratch_stat(root, "/etc/hostname", &st2);
        assert_int_equal(st1.st_ino, st2.st_ino);
        assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
        assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);

        /* An invalid name changes nothing. */
        free(d.hostname);
        d.hostname = strdup("bad_host");
        assert_int_equal(provisioner_hostname.apply(&c, &d, NULL), -EINVAL);
        free(content);
        content = scratch_read(root, "/etc/hostname");
        assert_string_equal(content, "myvm\n");

        provision_data_done(&d);
        context_done(&c);
        tmpdir_remove(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_validation),
                cmocka_unit_test(test_static_name),
                cmocka_unit_test(test_apply_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
