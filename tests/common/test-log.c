/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "log.h"
#include "macro.h"
#include "tests.h"

static char last[4096];

static void capture(int level, const char *msg, void *userdata) {
        snprintf(last, sizeof last, "%s", msg);
}

static void test_errno_return_and_format(void **state) {
        log_set_capture(capture, NULL);
        assert_int_equal(log_error_errno(ENOENT, "open %s: %m", "x"), -ENOENT);
        assert_string_equal(last, "open x: No such file or directory");
        assert_int_equal(log_warning_errno(-EIO, "io: %m"), -EIO);
        assert_string_equal(last, "io: Input/output error");
        log_set_max_level(LOG_INFO);
        last[0] = 0;
        log_debug("hidden");
        assert_string_equal(last, "");
        log_set_capture(NULL, NULL);
}

static void test_secret_redaction(void **state) {
        log_set_capture(capture, NULL);
        assert_int_equal(log_add_secret("Hunter2-Password!"), 1);
        assert_int_equal(log_add_secret("abc"), 0); /* too short to mask */
        log_info("user password is Hunter2-Password! (twice: Hunter2-Password!)");
        assert_null(strstr(last, "Hunter2"));
        assert_string_equal(last, "user password is *** (twice: ***)");

        /* SAS signatures are masked without registration. */
        log_info("PUT %s done",
                 "https://acct.blob.core.windows.net/vhds/s.status?sv=2018-03-28&sr=b&sig=a%2Fb%3D&se=2030");
        assert_non_null(strstr(last, "sig=***&se=2030"));
        assert_null(strstr(last, "a%2Fb"));
        log_forget_secrets();
        log_info("Hunter2-Password!");
        assert_string_equal(last, "Hunter2-Password!");
        log_set_capture(NULL, NULL);
}

static void test_redact_only_sig_parameter(void **state) {
        char *s = log_redact("design=x&signature=y?sig=abcdef");

        assert_string_equal(s, "design=x&signature=y?sig=***");
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_errno_return_and_format),
                cmocka_unit_test(test_secret_redaction),
                cmocka_unit_test(test_redact_only_sig_parameter),
        };
        log_setup("test-log", LOG_TARGET_NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
