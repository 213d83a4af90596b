/* SPDX-License-Identifier: MIT */
/* Hyper-V KVP pool records: layout, chunking, the pool file on a scratch root (no privileges needed). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "kvp.h"
#include "macro.h"
#include "scratch-root.h"

static bool all_zero(const char *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static void test_layout(void **state) {
        _cleanup_free_ char *buf = NULL;
        size_t size;

        assert_int_equal(kvp_encode("PROVISIONING_REPORT", "result=success", &buf, &size), 0);
        assert_int_equal(size, 2560);
        assert_memory_equal(buf, "PROVISIONING_REPORT", 19);
        assert_true(all_zero(buf + 19, 512 - 19));
        assert_memory_equal(buf + 512, "result=success", 14);
        assert_true(all_zero(buf + 512 + 14, 2048 - 14));
}

static void test_chunking(void **state) {
        _cleanup_free_ char *value = malloc(2501), *buf = NULL;
        size_t size;

        memset(value, 'x', 2500);
        value[2500] = 0;
        assert_int_equal(kvp_encode("key", value, &buf, &size), 0);
        assert_int_equal(size, 3 * 2560);
        for (size_t i = 0; i < 3; i++) {
                const char *rec = buf + i * 2560;
                size_t expect = i < 2 ? 1022 : 2500 - 2 * 1022;

                assert_string_equal(rec, "key");
                assert_int_equal(strnlen(rec + 512, 2048), expect);
                assert_true(all_zero(rec + 512 + expect, 2048 - expect));
        }
}

static void test_chunk_utf8(void **state) {
        _cleanup_free_ char *value = malloc(1024), *buf = NULL;
        size_t size;

        /* 1021 × 'a' then "é" (2 bytes): the cut at 1022 would split it, so the first chunk has 1021. */
        memset(value, 'a', 1021);
        memcpy(value + 1021, "\xc3\xa9", 3);
        assert_int_equal(kvp_encode("k", value, &buf, &size), 0);
        assert_int_equal(size, 2 * 2560);
        assert_int_equal(strnlen(buf + 512, 2048), 1021);
        assert_string_equal(buf + 2560 + 512, "\xc3\xa9");
}

static void test_limits(void **state) {
        char key[300];
        char *buf = NULL;
        size_t size;

        memset(key, 'k', sizeof key - 1);
        key[sizeof key - 1] = 0;
        assert_int_equal(kvp_encode(key, "v", &buf, &size), -E2BIG);
        key[254] = 0;
        assert_int_equal(kvp_encode(key, "v", &buf, &size), 0);
        free(buf);
        assert_int_equal(kvp_encode("", "v", &buf, &size), -EINVAL);
}

static void test_parse(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *pool = NULL;
        size_t na, nb, n;
        KvpRecord *r = NULL;

        assert_int_equal(kvp_encode("one", "1", &a, &na), 0);
        assert_int_equal(kvp_encode("two", "", &b, &nb), 0);
        pool = malloc(na + nb);
        memcpy(pool, a, na);
        memcpy(pool + na, b, nb);
        assert_int_equal(kvp_parse_pool(pool, na + nb, &r, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(r[0].key, "one");
        assert_string_equal(r[0].value, "1");
        assert_string_equal(r[1].key, "two");
        assert_string_equal(r[1].value, "");
        kvp_records_free(r, n);
        assert_int_equal(kvp_parse_pool(pool, na + 1, &r, &n), -EBADMSG);
}

static void test_event_key(void **state) {
        _cleanup_free_ char *k = NULL;

        assert_int_equal(kvp_event_key("provisioning-start", 1700000000123456ULL, &k), 0);
        assert_string_equal(k, "azl-agent|provisioning-start|2023-11-14T22:13:20.123456Z");
        assert_int_equal(kvp_event_key("a|b", 0, &k), -EINVAL);
}

static KvpRecord *read_pool(const char *root, size_t *n) {
        _cleanup_close_ int root_fd = -EBADF;
        _cleanup_free_ char *buf = NULL;
        KvpRecord *r = NULL;
        size_t size;

        assert_int_equal(root_open(root, &root_fd), 0);
        assert_int_equal(read_file_in_root(root_fd, KVP_POOL_PATH, 16U << 20, &buf, &size), 0);
        assert_int_equal(kvp_parse_pool(buf, size, &r, n), 0);
        return r;
}

static void test_report(void **state) {
        char *root = tmpdir_new();
        _cleanup_free_ char *pool = NULL, *value = malloc(1501);
        KvpRecord *r;
        struct stat st;
        size_t n;
        Context c;

        scratch_context(&c, root);
        /* No /var/lib/hyperv: off, and the directory is not created. */
        assert_int_equal(kvp_report(&c, "k", "v"), 0);
        assert_false(scratch_exists(root, "/var/lib/hyperv"));

        write_test_file(root, "proc/stat", "cpu  1 2 3\nbtime 1000\nprocesses 5\n");
        assert_int_equal(mkdir_p_in_root(c.root_fd, "/var/lib/hyperv", 0755), 0);
        memset(value, 'v', 1500);
        value[1500] = 0;
        assert_int_equal(kvp_report(&c, KVP_KEY_PROVISIONING_REPORT, "result=success|agent=azl-agent"), 1);
        assert_int_equal(kvp_report_event(&c, "ssh-keys", 1700000000000000ULL, value), 1);
        scratch_stat(root, KVP_POOL_PATH, &st);
        assert_int_equal(st.st_size, 3 * 2560);
        assert_int_equal(st.st_mode & 07777, 0644);
        r = read_pool(root, &n);
        assert_int_equal(n, 3);
        assert_string_equal(r[0].key, "PROVISIONING_REPORT");
        assert_string_equal(r[0].value, "result=success|agent=azl-agent");
        assert_string_equal(r[1].key, "azl-agent|ssh-keys|2023-11-14T22:13:20.000000Z");
        assert_int_equal(strlen(r[1].value), 1022);
        assert_string_equal(r[2].key, r[1].key);
        assert_int_equal(strlen(r[2].value), 1500 - 1022);
        kvp_records_free(r, n);

        /* Disabled by configuration or on WSL. */
        c.config.kvp = false;
        assert_int_equal(kvp_report(&c, "k", "v"), 0);
        c.config.kvp = true;
        c.platform.platform = PLATFORM_WSL;
        assert_int_equal(kvp_report(&c, "k", "v"), 0);
        c.platform.platform = PLATFORM_NONE;
        scratch_stat(root, KVP_POOL_PATH, &st);
        assert_int_equal(st.st_size, 3 * 2560);

        /* A pool from before the boot (mtime < btime) is truncated first. */
        assert_true(asprintf(&pool, "%s%s", root, KVP_POOL_PATH) > 0);
        assert_int_equal(utimensat(AT_FDCWD, pool, (struct timespec[]){{500, 0}, {500, 0}}, 0), 0);
        assert_int_equal(kvp_report(&c, "fresh", "boot"), 1);
        r = read_pool(root, &n);
        assert_int_equal(n, 1);
        assert_string_equal(r[0].key, "fresh");
        assert_string_equal(r[0].value, "boot");
        kvp_records_free(r, n);

        context_done(&c);
        tmpdir_remove(root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout),     cmocka_unit_test(test_chunking),
                cmocka_unit_test(test_chunk_utf8), cmocka_unit_test(test_limits),
                cmocka_unit_test(test_parse),      cmocka_unit_test(test_event_key),
                cmocka_unit_test(test_report),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
