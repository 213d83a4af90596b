/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "macro.h"
#include "strutil.h"
#include "tests.h"

static void test_base64(void **state) {
        /* RFC 4648 §10 test vectors */
        static const char *const vec[][2] = {{"", ""},
                                             {"f", "Zg=="},
                                             {"fo", "Zm8="},
                                             {"foo", "Zm9v"},
                                             {"foob", "Zm9vYg=="},
                                             {"fooba", "Zm9vYmE="},
                                             {"foobar", "Zm9vYmFy"}};
        for (size_t i = 0; i < ELEMENTSOF(vec); i++) {
                char *enc;
                void *dec;
                size_t n;

                assert_int_equal(base64_encode(vec[i][0], strlen(vec[i][0]), &enc), 0);
                assert_string_equal(enc, vec[i][1]);
                assert_int_equal(base64_decode(enc, strlen(enc), &dec, &n), 0);
                assert_int_equal(n, strlen(vec[i][0]));
                assert_memory_equal(dec, vec[i][0], n);
                free(enc);
                free(dec);
        }
        void *dec = (void *) 0x1;
        size_t n;
        /* Line-wrapped input (PEM, XML <Data>) decodes; junk does not. */
        assert_int_equal(base64_decode("Zm9v\nYmFy\r\n", 11, &dec, &n), 0);
        assert_int_equal(n, 6);
        free(dec);
        dec = (void *) 0x1;
        assert_int_equal(base64_decode("Zm9v!", 5, &dec, &n), -EINVAL);
        assert_int_equal(base64_decode("Zm9", 3, &dec, &n), -EINVAL);
        assert_int_equal(base64_decode("Zg==Zg==", 8, &dec, &n), -EINVAL);
        assert_ptr_equal(dec, (void *) 0x1);
}

static void test_hex(void **state) {
        char *s;
        void *d;
        size_t n;

        assert_int_equal(hex_encode("\x01\xab\xff", 3, true, &s), 0);
        assert_string_equal(s, "01ABFF");
        free(s);
        assert_int_equal(hex_encode("\x01\xab\xff", 3, false, &s), 0);
        assert_string_equal(s, "01abff");
        assert_int_equal(hex_decode(s, strlen(s), &d, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(d, "\x01\xab\xff", 3);
        free(s);
        free(d);
        assert_int_equal(hex_decode("abc", 3, &d, &n), -EINVAL);
        assert_int_equal(hex_decode("zz", 2, &d, &n), -EINVAL);
}

static void test_uuid(void **state) {
        char u[37];

        assert_int_equal(uuid_normalize("C6D5526C-5AC2-4200-B6E2-56F2B70C5AB2", u), 0);
        assert_string_equal(u, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        assert_int_equal(uuid_normalize("c6d5526c5ac24200b6e256f2b70c5ab2", u), 0);
        assert_string_equal(u, "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2");
        assert_true(uuid_normalize("not-a-uuid", u) < 0);
        assert_int_equal(uuid_random(u), 0);
        assert_int_equal(strlen(u), 36);
        assert_int_equal(u[14], '4'); /* version 4 */
}

static void test_time(void **state) {
        char buf[64];
        usec_t t;

        assert_int_equal(format_timestamp_iso(1700000000ULL * USEC_PER_SEC + 999, buf, sizeof buf), 0);
        assert_string_equal(buf, "2023-11-14T22:13:20Z");
        assert_int_equal(format_timestamp_iso_usec(1700000000ULL * USEC_PER_SEC + 999, buf, sizeof buf), 0);
        assert_string_equal(buf, "2023-11-14T22:13:20.000999Z");
        assert_int_equal(format_timestamp_iso_usec(1700000000ULL * USEC_PER_SEC, buf, 20), -ENOBUFS);
        assert_int_equal(parse_timestamp_iso("2023-11-14T22:13:20.000999Z", &t), 0);
        assert_true(t == 1700000000ULL * USEC_PER_SEC + 999);
        assert_int_equal(parse_timestamp_iso("2023-11-14T22:13:20Z", &t), 0);
        assert_true(t == 1700000000ULL * USEC_PER_SEC);
        assert_int_equal(parse_timestamp_iso("2023-11-14T22:13:20.5Z", &t), 0);
        assert_true(t == 1700000000ULL * USEC_PER_SEC + 500000);
        assert_int_equal(parse_timestamp_iso("2023-11-14T22:13:20.123456789Z", &t), 0); /* ns: truncated */
        assert_true(t == 1700000000ULL * USEC_PER_SEC + 123456);
        static const char *const bad[] = {"2023-11-14T22:13:20.Z",      "2023-11-14T22:13:20.1234567890Z",
                                          "2023-11-14T22:13:20",        "2023-11-14T22:13:20Z ",
                                          "2023-11-14 22:13:20Z",       "",
                                          "2023-11-14T22:13:20.5+01:00"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_timestamp_iso(bad[i], &t), -EINVAL);
        assert_int_equal(format_timespan(1234 * USEC_PER_MSEC, buf, sizeof buf), 0);
        assert_string_equal(buf, "1.234s");
        assert_int_equal(format_timespan(850 * USEC_PER_MSEC, buf, sizeof buf), 0);
        assert_string_equal(buf, "850ms");
        assert_true(now_usec(CLOCK_BOOTTIME) > 0);
}

static void test_numbers(void **state) {
        unsigned u = 7;
        int i;
        uint64_t v;

        assert_int_equal(safe_atou("42", &u), 0);
        assert_int_equal(u, 42);
        assert_int_equal(safe_atou("-1", &u), -EINVAL);
        assert_int_equal(safe_atou("4294967296", &u), -ERANGE);
        assert_int_equal(safe_atou("12x", &u), -EINVAL);
        assert_int_equal(safe_atou("", &u), -EINVAL);
        assert_int_equal(u, 42);
        assert_int_equal(safe_atoi("-12", &i), 0);
        assert_int_equal(i, -12);
        assert_int_equal(safe_atou64("18446744073709551615", &v), 0);
        assert_int_equal(safe_atou64("18446744073709551616", &v), -ERANGE);
        assert_int_equal(parse_boolean("Yes"), 1);
        assert_int_equal(parse_boolean("off"), 0);
        assert_int_equal(parse_boolean("maybe"), -EINVAL);
}

static void test_strv(void **state) {
        char **l = NULL;

        assert_int_equal(strv_split(" wheel, adm ,,docker ", ", ", &l), 0);
        assert_int_equal(strv_length(l), 3);
        assert_string_equal(l[0], "wheel");
        assert_string_equal(l[2], "docker");
        assert_true(strv_contains(l, "adm"));
        assert_false(strv_contains(l, "root"));
        strv_free(l);
}

static void test_xml_escape_and_truncate(void **state) {
        char *s;

        assert_int_equal(xml_escape("a<b>&\"c'", &s), 0);
        assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&apos;");
        free(s);
        /* "é" is two bytes; truncating in its middle drops it whole. */
        assert_int_equal(utf8_truncate("abé", 3, &s), 0);
        assert_string_equal(s, "ab");
        free(s);
        assert_int_equal(utf8_truncate("abc", 10, &s), 0);
        assert_string_equal(s, "abc");
        free(s);
}

static void test_utf8_make_valid(void **state) {
        static const struct {
                const char *in;
                size_t n;
                const char *out;
        } cases[] = {
                /* Valid text is copied as it is, up to n bytes or the NUL. */
                {"h\xC3\xA9llo \xF0\x9F\x98\x80", SIZE_MAX, "h\xC3\xA9llo \xF0\x9F\x98\x80"},
                {"abcdef", 3, "abc"},
                /* Each byte that starts no valid sequence becomes U+FFFD: stray bytes, an overlong '/', a
                 * surrogate, a sequence cut by n. */
                {"a\xFF\xFE"
                 "b",
                 SIZE_MAX,
                 "a\xEF\xBF\xBD\xEF\xBF\xBD"
                 "b"},
                {"\xC0\xAF", SIZE_MAX, "\xEF\xBF\xBD\xEF\xBF\xBD"},
                {"\xED\xA0\x80", SIZE_MAX, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
                {"x\xC3\xA9", 2, "x\xEF\xBF\xBD"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = NULL;

                assert_int_equal(utf8_make_valid(cases[i].in, cases[i].n, &s), 0);
                assert_string_equal(s, cases[i].out);
        }
        assert_int_equal(utf8_sequence_len((const unsigned char *) "\xE2\x82\xAC", 3), 3U);
        assert_int_equal(utf8_sequence_len((const unsigned char *) "\xE2\x82", 2), 0U);
}

static int fmt_into(char **p, const char *fmt, ...) _printf_(2, 3);
static int fmt_into(char **p, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strprintfv(p, fmt, ap);
        va_end(ap);
        return r;
}

static void test_strprintfv(void **state) {
        char *s = NULL;

        assert_int_equal(fmt_into(&s, "%s %d", "disk", 3), 0);
        assert_string_equal(s, "disk 3");
        assert_int_equal(fmt_into(&s, "replaced"), 0); /* the old string is freed (ASan/LSan would tell) */
        assert_string_equal(s, "replaced");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_base64),
                cmocka_unit_test(test_hex),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_time),
                cmocka_unit_test(test_numbers),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_xml_escape_and_truncate),
                cmocka_unit_test(test_utf8_make_valid),
                cmocka_unit_test(test_strprintfv),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
