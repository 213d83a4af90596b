/* SPDX-License-Identifier: MIT */
/*
 * Who is asking over D-Bus (issue #17 §3, docs/security.md "D-Bus callers"): the daemon trusts only an effective
 * uid the bus itself vouched for. Credentials sd-bus filled in from /proc/<pid> ("augmented") are refused even
 * when they say uid 0 — this test runs as root, so a check that merely read the euid (what the daemon did with
 * SD_BUS_CREDS_AUGMENT) would call these callers root — and so are credentials without a uid.
 */
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "daemon-internal.h"
#include "macro.h"
#include "tests.h"

static void test_augmented_euid_refused(void **state) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        uid_t euid = 4711;

        /* Everything in these credentials comes from /proc/self: exactly what augmenting does. */
        assert_int_equal(sd_bus_creds_new_from_pid(&c, 0, SD_BUS_CREDS_EUID), 0);
        assert_true(sd_bus_creds_get_augmented_mask(c) & SD_BUS_CREDS_EUID);
        /* The old check: the euid is there, and it is ours. */
        assert_int_equal(sd_bus_creds_get_euid(c, &euid), 0);
        assert_int_equal(euid, geteuid());
        /* The new one does not take it. */
        assert_int_equal(bus_creds_vouched_euid(c, &euid), -EPERM);
        assert_false(bus_creds_is_root(c));
}

static void test_missing_euid_refused(void **state) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *c = NULL;
        uid_t euid = 4711;

        assert_int_equal(sd_bus_creds_new_from_pid(&c, 0, SD_BUS_CREDS_PID), 0);
        assert_false(sd_bus_creds_get_mask(c) & SD_BUS_CREDS_EUID);
        assert_true(bus_creds_vouched_euid(c, &euid) < 0);
        assert_int_equal(euid, 4711); /* ret_ untouched on failure */
        assert_false(bus_creds_is_root(c));
        assert_int_equal(bus_creds_vouched_euid(NULL, &euid), -ENODATA);
        assert_false(bus_creds_is_root(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_augmented_euid_refused),
                cmocka_unit_test(test_missing_euid_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
