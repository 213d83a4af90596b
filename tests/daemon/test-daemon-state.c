/* SPDX-License-Identifier: MIT */
/* daemon.json (agent/daemon-state.h): round trip through the file (0600, atomic), handler results with and
 * without a settings status, the timings object, and refusal of malformed documents. */
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "daemon-state.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

static void test_roundtrip(void **state) {
        _cleanup_(daemon_state_done) DaemonState s = {}, back = {};
        ExtHandlerResult r1 = {}, r2 = {};
        char *dir = tmpdir_new(), *path = NULL;
        struct stat st;
        int root_fd;

        assert_int_equal(root_open(dir, &root_fd), 0);
        s.incarnation = strdup("3");
        s.etag = strdup("1234567890");
        s.executed_id = strdup("incarnation_3");
        s.status_hash = strdup("ab12");
        s.fast_track = true;
        s.timings = json_tokener_parse("{\"goalStateId\": \"incarnation_3\", \"runUsec\": 1234}");
        assert_non_null(s.timings);
        r1.name = strdup("AzlAgent.SampleHandler");
        r1.version = strdup("1.0.0");
        r1.status = strdup("Ready");
        r1.message = strdup("Plugin enabled");
        r1.has_settings = true;
        r1.seq_no = 7;
        r1.has_extension_status = true;
        r1.extension_status.status = strdup("success");
        r1.extension_status.message = strdup("hello");
        r1.extension_status.code = 0;
        r1.extension_status.operation = strdup("Enable");
        r2.name = strdup("Other.Handler");
        r2.version = strdup("2.0");
        r2.extension = strdup("instance1");
        r2.status = strdup("NotReady");
        r2.code = 1009;
        assert_int_equal(daemon_state_add_handler(&s, &r1), 0);
        assert_int_equal(daemon_state_add_handler(&s, &r2), 0);
        ext_handler_result_done(&r1);
        ext_handler_result_done(&r2);

        assert_int_equal(daemon_state_save(root_fd, "/var/lib/azl-agent", &s), 0);
        assert_true(asprintf(&path, "%s/var/lib/azl-agent/daemon.json", dir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(daemon_state_load(root_fd, "/var/lib/azl-agent", &back), 0);
        assert_string_equal(back.incarnation, "3");
        assert_string_equal(back.etag, "1234567890");
        assert_string_equal(back.executed_id, "incarnation_3");
        assert_string_equal(back.status_hash, "ab12");
        assert_true(back.fast_track);
        assert_non_null(back.timings);
        assert_int_equal(json_object_get_int64(json_object_object_get(back.timings, "runUsec")), 1234);
        assert_int_equal(back.n_handlers, 2);
        assert_string_equal(back.handlers[0].name, "AzlAgent.SampleHandler");
        assert_int_equal(back.handlers[0].seq_no, 7);
        assert_true(back.handlers[0].has_settings);
        assert_true(back.handlers[0].has_extension_status);
        assert_string_equal(back.handlers[0].extension_status.status, "success");
        assert_string_equal(back.handlers[0].extension_status.operation, "Enable");
        assert_null(back.handlers[0].extension);
        assert_string_equal(back.handlers[1].extension, "instance1");
        assert_int_equal(back.handlers[1].code, 1009);
        assert_false(back.handlers[1].has_extension_status);

        free(path);
        close(root_fd);
        tmpdir_remove(dir);
}

static void test_missing_and_bad(void **state) {
        _cleanup_(daemon_state_done) DaemonState s = {};
        char *dir = tmpdir_new();
        int root_fd;
        static const char *const bad[] = {
                "",
                "[]",
                "{\"incarnation\": 3}",
                "{\"handlers\": {}}",
                "{\"handlers\": [{\"name\": \"x\"}]}",
                "{\"handlers\": [{\"name\": \"x\", \"version\": \"1\", \"status\": \"Ready\", "
                "\"settingsStatus\": 1}]}",
                "{\"timings\": [1]}",
        };

        assert_int_equal(root_open(dir, &root_fd), 0);
        assert_int_equal(daemon_state_load(root_fd, "/var/lib/azl-agent", &s), -ENOENT);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                DaemonState t = {};
                assert_true(daemon_state_from_json(bad[i], strlen(bad[i]), &t) < 0);
        }
        assert_int_equal(daemon_state_from_json("{}", 2, &s), 0);
        assert_null(s.incarnation);
        assert_int_equal(s.n_handlers, 0);
        close(root_fd);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_missing_and_bad),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
