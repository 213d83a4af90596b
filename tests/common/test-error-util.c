/* SPDX-License-Identifier: MIT */
/* error-util.c: setting, replacing, prefixing, moving and reading an Error; NULL Errors only return. */
#include <string.h>

#include "error-util.h"
#include "tests.h"

/* A parser in the house style: explains its failure in *error, returns the errno it stored. */
static int parse_thing(const char *s, Error *error) {
        if (!s)
                return error_setf(error, -EBADMSG, "%s not found", "Thing");
        return 0;
}

static void test_set_and_return(void **state) {
        _cleanup_error_ Error e = ERROR_NULL;

        assert_false(error_is_set(&e));
        assert_string_equal(error_reason(&e), "");
        assert_int_equal(parse_thing("x", &e), 0);
        assert_false(error_is_set(&e)); /* set on failure only */

        assert_int_equal(parse_thing(NULL, &e), -EBADMSG);
        assert_true(error_is_set(&e));
        assert_int_equal(e.error, -EBADMSG);
        assert_string_equal(e.reason, "Thing not found");
        assert_string_equal(error_reason(&e), "Thing not found");

        /* The newest reason wins; a positive errno is negated. */
        assert_int_equal(error_set(&e, EIO, "disk on fire"), -EIO);
        assert_string_equal(error_reason(&e), "disk on fire");

        /* Without a reason the errno speaks. */
        assert_int_equal(error_set(&e, -ENOENT, NULL), -ENOENT);
        assert_null(e.reason);
        assert_string_equal(error_reason(&e), strerror(ENOENT));

        error_clear(&e);
        assert_int_equal(e.error, 0);
        assert_null(e.reason);
        error_clear(&e); /* twice is fine */
        error_clear(NULL);
}

static void test_null_error(void **state) {
        /* The caller who wants the errno only. */
        assert_int_equal(parse_thing(NULL, NULL), -EBADMSG);
        assert_int_equal(error_set(NULL, EPERM, "x"), -EPERM);
        assert_int_equal(error_prefixf(NULL, -EIO, "p"), -EIO);
        assert_false(error_is_set(NULL));
        assert_string_equal(error_reason(NULL), "");
}

static void test_reason_without_failure(void **state) {
        _cleanup_error_ Error e = ERROR_NULL;

        /* A decision and why, not a failure. */
        assert_int_equal(error_setf(&e, 0, "Azure detected: %s", "asset tag"), 0);
        assert_true(error_is_set(&e));
        assert_int_equal(e.error, 0);
        assert_string_equal(error_reason(&e), "Azure detected: asset tag");
}

static void test_prefix(void **state) {
        _cleanup_error_ Error e = ERROR_NULL;

        assert_int_equal(parse_thing(NULL, &e), -EBADMSG);
        assert_int_equal(error_prefixf(&e, -EBADMSG, "ovf-env.xml is %s", "invalid"), -EBADMSG);
        assert_string_equal(e.reason, "ovf-env.xml is invalid: Thing not found");

        /* No reason yet: the errno's text is prefixed. */
        assert_int_equal(error_set(&e, -ETIMEDOUT, NULL), -ETIMEDOUT);
        assert_int_equal(error_prefixf(&e, -EIO, "IMDS"), -ETIMEDOUT); /* e's errno is kept */
        assert_string_equal(e.reason, "IMDS: Connection timed out");

        /* A callee that failed without explaining: the caller's errno and its text. */
        error_clear(&e);
        assert_int_equal(error_prefixf(&e, -E2BIG, "ovf-env.xml is invalid"), -E2BIG);
        assert_string_equal(e.reason, "ovf-env.xml is invalid: Argument list too long");
}

static void test_move(void **state) {
        _cleanup_error_ Error a = ERROR_NULL, b = ERROR_NULL;

        assert_int_equal(error_set(&b, -EPROTO, "old"), -EPROTO);
        assert_int_equal(error_setf(&a, -E2BIG, "%u keys", 3U), -E2BIG);
        assert_int_equal(error_move(&b, &a), -E2BIG);
        assert_false(error_is_set(&a));
        assert_int_equal(b.error, -E2BIG);
        assert_string_equal(b.reason, "3 keys");

        assert_int_equal(error_move(NULL, &b), -E2BIG); /* dropped */
        assert_false(error_is_set(&b));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_set_and_return),
                cmocka_unit_test(test_null_error),
                cmocka_unit_test(test_reason_without_failure),
                cmocka_unit_test(test_prefix),
                cmocka_unit_test(test_move),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
