/* SPDX-License-Identifier: MIT */
/*
 * A cmocka binary with tests.h, for test-skip-reporting.py: argv[1] picks which cases it runs — "skip-only"
 * (one case, which skips), "mixed" (a pass and a skip), "fail-skip" (a failure and a skip), "pass". Not a test
 * itself: its exit status is what is tested.
 */
#include <stdlib.h>
#include <string.h>

#include "tests.h"

static void case_pass(void **state) {
        assert_int_equal(1 + 1, 2);
}

static void case_skip(void **state) {
        skip(); /* as test_cpu_throttled does without a cpu controller */
}

static void case_fail(void **state) {
        fail_msg("this case fails on purpose");
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest skip_only[] = {cmocka_unit_test(case_skip)};
        const struct CMUnitTest mixed[] = {cmocka_unit_test(case_pass), cmocka_unit_test(case_skip)};
        const struct CMUnitTest fail_skip[] = {cmocka_unit_test(case_fail), cmocka_unit_test(case_skip)};
        const struct CMUnitTest pass[] = {cmocka_unit_test(case_pass)};
        const char *mode = argc > 1 ? argv[1] : "";

        if (strcmp(mode, "skip-only") == 0)
                return cmocka_run_group_tests(skip_only, NULL, NULL);
        if (strcmp(mode, "mixed") == 0)
                return cmocka_run_group_tests(mixed, NULL, NULL);
        if (strcmp(mode, "fail-skip") == 0)
                return cmocka_run_group_tests(fail_skip, NULL, NULL);
        if (strcmp(mode, "pass") == 0)
                return cmocka_run_group_tests(pass, NULL, NULL);
        return 2;
}
