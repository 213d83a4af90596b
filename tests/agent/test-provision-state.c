/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "provision-state.h"
#include "tests.h"

static void test_roundtrip_and_files(void **state) {
        _cleanup_(provision_state_done) ProvisionState s = {}, back = {};
        char *dir = tmpdir_new(), *vm = NULL, *path = NULL;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        Context c;

        assert_int_equal(context_init(&c, dir, NULL), 0);
        s.state = strdup("ready");
        s.vm_id = strdup("d5e2d4a6-617e-334a-9c1e-0123456789ab");
        s.started_at =
                1700000000ULL * USEC_PER_SEC + 123456; /* µs kept: two runs can start within a second */
        s.finished_at = 1700000002ULL * USEC_PER_SEC;
        s.health_reported = strdup("Ready");
        s.health_at = 1700000002ULL * USEC_PER_SEC;
        assert_int_equal(provision_state_add_step(&s, "imds", STEP_CHANGED, 1234, "IMDS answered"), 0);
        assert_int_equal(provision_state_add_step(&s, "hostname", STEP_UNCHANGED, 10, NULL), 0);
        s.steps[0].start = 14301234; /* 14.3 s after the kernel started */
        assert_int_equal(provision_state_save(&c, &s), 0);

        assert_true(asprintf(&path, "%s/var/lib/azl-agent/state.json", dir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(read_file_in_root(c.root_fd, "/var/lib/azl-agent/state.json", 65536, &text, NULL),
                         0);
        assert_non_null(strstr(text, "\"started_at\":\"2023-11-14T22:13:20.123456Z\""));
        assert_int_equal(provision_state_load(&c, &back), 0);
        assert_string_equal(back.state, "ready");
        assert_string_equal(back.vm_id, s.vm_id);
        assert_true(back.started_at == s.started_at);
        assert_true(back.finished_at == s.finished_at);
        assert_string_equal(back.health_reported, "Ready");
        assert_int_equal(back.n_steps, 2);
        assert_string_equal(back.steps[0].name, "imds");
        assert_int_equal(back.steps[0].result, STEP_CHANGED);
        assert_true(back.steps[0].duration == 1234);
        assert_string_equal(back.steps[0].summary, "IMDS answered");
        assert_true(back.steps[0].start == 14301234);
        assert_null(back.steps[1].summary);
        assert_true(back.steps[1].start == 0); /* unknown: not written, read back as 0 */
        assert_non_null(strstr(text, "\"start_usec\":14301234"));
        assert_null(
                strstr(strstr(text, "start_usec") + 1, "start_usec")); /* once: only the step that has it */

        assert_int_equal(provisioned_marker_read(&c, &vm), 0);
        assert_int_equal(provisioned_marker_write(&c, s.vm_id), 0);
        assert_int_equal(provisioned_marker_read(&c, &vm), 1);
        assert_string_equal(vm, s.vm_id);
        free(vm);
        free(path);
        context_done(&c);
        tmpdir_remove(dir);
}

static void test_rejects_bad_state(void **state) {
        static const char *const bad[] = {
                "{}",
                "{\"state\":1}",
                "{\"state\":\"ready\",\"steps\":{}}",
                "{\"state\":\"ready\",\"steps\":[{\"name\":\"x\",\"result\":\"exploded\"}]}",
                "{\"state\":\"ready\",\"started_at\":\"yesterday\"}",
                "not json",
                /* before/at the epoch: would wrap in usec_t (found by fuzz-provision-state) */
                "{\"state\":\"ready\",\"started_at\":\"1969-12-31T23:59:59Z\"}",
                "{\"state\":\"ready\",\"finished_at\":\"1970-01-01T00:00:00Z\"}",
                "{\"state\":\"ready\",\"finished_at\":\"1969-12-31T23:59:59.999999Z\"}",
                "{\"state\":\"ready\",\"started_at\":\"2023-11-14T22:13:20.Z\"}",
                "{\"state\":\"ready\",\"steps\":[{\"name\":\"x\",\"result\":\"changed\",\"start_usec\":-1}]"
                "}",
                "{\"state\":\"ready\",\"steps\":[{\"name\":\"x\",\"result\":\"changed\",\"start_usec\":"
                "\"1\"}]}",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                ProvisionState s = {};
                assert_true(provision_state_from_json(bad[i], strlen(bad[i]), &s) < 0);
                assert_null(s.state);
        }
}

/* state.json written before timestamps had microseconds still loads. */
static void test_reads_second_timestamps(void **state) {
        static const char old[] = "{\"state\":\"ready\",\"started_at\":\"2023-11-14T22:13:20Z\"}";
        _cleanup_(provision_state_done) ProvisionState s = {};

        assert_int_equal(provision_state_from_json(old, strlen(old), &s), 0);
        assert_true(s.started_at == 1700000000ULL * USEC_PER_SEC);
}

static void test_step_limit(void **state) {
        _cleanup_(provision_state_done) ProvisionState s = {};

        for (size_t i = 0; i < PROVISION_STEPS_MAX; i++)
                assert_int_equal(provision_state_add_step(&s, "x", STEP_SKIPPED, 0, NULL), 0);
        assert_int_equal(provision_state_add_step(&s, "x", STEP_SKIPPED, 0, NULL), -E2BIG);
}

/* Skipped items and the admin user survive the round trip; the list is bounded. */
static void test_skipped(void **state) {
        _cleanup_(provision_state_done) ProvisionState s = {}, back = {};
        _cleanup_free_ char *text = NULL;

        s.state = strdup("ready");
        s.admin_user = strdup("azureuser");
        assert_int_equal(provision_state_add_skipped(&s, "network", "network.interface[1]",
                                                     "network.interface[1].macAddress: also the MAC of [0]"),
                         0);
        assert_int_equal(provision_state_add_skipped(&s, "validate", "SSH public key #2", "malformed key"),
                         0);
        assert_int_equal(provision_state_add_skipped(&s, "validate", NULL, "x"), -EINVAL);
        assert_int_equal(provision_state_to_json(&s, &text), 0);
        assert_non_null(strstr(text, "\"skipped\":["));
        assert_int_equal(provision_state_from_json(text, strlen(text), &back), 0);
        assert_string_equal(back.admin_user, "azureuser");
        assert_int_equal(back.n_skipped, 2);
        assert_string_equal(back.skipped[0].step, "network");
        assert_string_equal(back.skipped[0].item, "network.interface[1]");
        assert_string_equal(back.skipped[1].reason, "malformed key");

        for (size_t i = s.n_skipped; i < PROVISION_SKIPPED_MAX; i++)
                assert_int_equal(provision_state_add_skipped(&s, "x", "y", "z"), 0);
        assert_int_equal(provision_state_add_skipped(&s, "x", "y", "z"), -E2BIG);

        /* An entry missing a member, or not a list: the file is refused. */
        {
                static const char *const bad[] = {
                        "{\"state\":\"ready\",\"skipped\":{}}",
                        "{\"state\":\"ready\",\"skipped\":[{\"step\":\"network\",\"item\":\"x\"}]}",
                        "{\"state\":\"ready\",\"skipped\":[{\"step\":1,\"item\":\"x\",\"reason\":\"y\"}]}",
                };
                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        ProvisionState b = {};

                        assert_true(provision_state_from_json(bad[i], strlen(bad[i]), &b) < 0);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip_and_files),
                cmocka_unit_test(test_rejects_bad_state),
                cmocka_unit_test(test_step_limit),
                cmocka_unit_test(test_reads_second_timestamps),
                cmocka_unit_test(test_skipped),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
