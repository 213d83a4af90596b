/* SPDX-License-Identifier: MIT */
/*
 * Status documents: the aggregate status blob compared byte for byte (key order included) with the blob the
 * real waagent produced (reference sample-status-blob.json, re-serialized with json.dumps' rules) for the same
 * inputs; extension status files (ext/sample-status*.json: valid, invalid JSON, missing status/status key,
 * empty key, and the >128 KB truncation), heartbeat, and HandlerManifest.json (every file of ext/handler_manifest).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "handler-manifest.h"
#include "fileio.h"
#include "json-util.h"
#include "status-blob.h"
#include "tests.h"

static char *read_reference(const char *name, size_t *ret_size) {
        _cleanup_free_ char *path = NULL;
        const char *src = getenv("AZL_SOURCE_ROOT");
        _cleanup_close_ int fd = -EBADF;
        char *data = NULL;

        assert_non_null(src);
        assert_true(asprintf(&path, "%s/../shared/reference/%s", src, name) > 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                print_message("reference %s not available, skipping\n", path);
                skip();
        }
        assert_int_equal(read_full_fd(fd, 1024 * 1024, &data, ret_size), 0);
        return data;
}

static void test_status_blob_matches_waagent(void **state) {
        _cleanup_free_ char *ref = NULL, *ref_dump = NULL, *blob = NULL;
        _cleanup_json_ struct json_object *ref_obj = NULL, *blob_obj = NULL;
        struct tm tm = { .tm_year = 2026 - 1900, .tm_mon = 10, .tm_mday = 21, .tm_hour = 19, .tm_min = 2, .tm_sec = 32 };
        char *features[] = { (char *) "MultipleExtensionsPerHandler", (char *) "VersioningGovernance", NULL };
        ExtensionStatus es = { .name = (char *) "OSTCExtensions.ExampleHandlerLinux", .status = (char *) "success" };
        HandlerStatusReport h = {
                .name = "OSTCExtensions.ExampleHandlerLinux",
                .version = "1.0.0",
                .status = "Ready",
                .message = "Plugin enabled",
                .extension_status = &es,
                .sequence_number = 0,
        };
        VmStatusReport r = {
                .timestamp = (usec_t) timegm(&tm) * USEC_PER_SEC,
                .agent_version = "2.15.0.1",
                .agent_status = "Ready",
                .agent_message = "Guest Agent is running",
                .handlers = &h,
                .n_handlers = 1,
                .has_goal_state_status = true,
                .goal_state_status = "Success",
                .goal_state_message = "GoalState executed successfully",
                .in_svd_seq_no = "1",
                .computer_name = "vm",
                .os_name = "ubuntu",
                .os_version = "22.04",
                .supported_features = features,
        };
        size_t size;

        ref = read_reference("sample-status-blob.json", &size);
        assert_int_equal(json_parse_buffer(ref, size, &ref_obj, NULL), 0);
        assert_int_equal(json_dumps_python(ref_obj, &ref_dump), 0);

        assert_int_equal(status_blob_build(&r, &blob), 0);
        assert_string_equal(blob, ref_dump);
        assert_true(startswith(blob, "{\"version\": \"1.1\", \"timestampUTC\": \"2026-11-21T19:02:32Z\", "
                                     "\"aggregateStatus\": {\"guestAgentStatus\": {\"version\": \"2.15.0.1\""));
        assert_non_null(strstr(blob, "\"version\": 1.0, \"timestampUTC\""));
        assert_int_equal(json_parse_buffer(blob, strlen(blob), &blob_obj, NULL), 0);
}

static void test_status_blob_multi_config(void **state) {
        _cleanup_free_ char *blob = NULL;
        SubStatus sub = { .name = (char *) "s\xc3\xa9", .status = (char *) "error", .code = 3, .message = (char *) "a\"b\n" };
        ExtensionStatus es = { .name = (char *) "x", .operation = (char *) "Enable", .status = (char *) "error",
                               .code = 1, .message = (char *) "m", .substatus = &sub, .n_substatus = 1 };
        HandlerStatusReport h[] = {
                { .name = "A.B", .version = "1.2", .status = "NotReady", .code = 1009, .message = "failed",
                  .extension_status = &es, .sequence_number = 4, .extension_name = "firstExtension" },
                { .name = "C.D", .version = "2.0", .status = "Ready", .message = "Plugin enabled" },
        };
        VmStatusReport r = { .timestamp = 0, .agent_version = "1", .agent_status = "Ready", .agent_message = "ok",
                             .handlers = h, .n_handlers = 2 };

        assert_int_equal(status_blob_build(&r, &blob), 0);
        assert_non_null(strstr(blob, "\"sequenceNumber\": 4, \"extensionName\": \"firstExtension\"}"));
        assert_non_null(strstr(blob, "\"substatus\": [{\"name\": \"s\\u00e9\", \"status\": \"error\", \"code\": 3, "
                                     "\"formattedMessage\": {\"lang\": \"en-US\", \"message\": \"a\\\"b\\n\"}}]"));
        /* A handler without status has no runtimeSettingsStatus; no goal-state status → no vmArtifacts… */
        assert_non_null(strstr(blob, "\"handlerName\": \"C.D\", \"status\": \"Ready\", \"code\": 0, "
                                     "\"useExactVersion\": true, \"formattedMessage\": {\"lang\": \"en-US\", "
                                     "\"message\": \"Plugin enabled\"}}]"));
        assert_null(strstr(blob, "vmArtifactsAggregateStatus"));
        assert_non_null(strstr(blob, "\"supportedFeatures\": []"));
}

static void test_ext_status_valid(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(ext_status_done) ExtensionStatus s = {};
        size_t size;

        buf = fixture_read("ext/sample-status.json", &size);
        assert_int_equal(ext_status_parse(buf, size, &s, NULL), 0);
        assert_string_equal(s.status, "success");
        assert_int_equal(s.code, 1);
        assert_string_equal(s.name, "Microsoft.Azure.Extension.VMExtension");
        assert_string_equal(s.operation, "Enable");
        assert_null(s.configuration_applied_time);
        assert_string_equal(s.message, "Aenean semper nunc nisl, vitae sollicitudin felis consequat at. In lobortis "
                                       "elementum sapien, non commodo odio semper ac.");
        assert_int_equal(s.n_substatus, 1);
        assert_string_equal(s.substatus[0].status, "success");
        assert_int_equal(s.substatus[0].code, 0);   /* "code": "0" */
        assert_null(s.substatus[0].message);         /* "formattedMessage": null */
        assert_true(startswith(s.substatus[0].name, "[{\"status\": {\"status\": \"success\""));
        assert_false(s.truncated);
}

static void test_ext_status_invalid(void **state) {
        static const char *const files[] = {
                "ext/sample-status-invalid-json-format.json",
                "ext/sample-status-invalid-format-emptykey-line7.json",
                "ext/sample-status-invalid-status-no-status-status-key.json",
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *buf = NULL, *error = NULL;
                ExtensionStatus s = { .code = 77 };
                size_t size;

                buf = fixture_read(files[i], &size);
                /* → status "error", code 1012 (PluginSettingsStatusInvalid) in the blob */
                assert_int_equal(ext_status_parse(buf, size, &s, &error), -EBADMSG);
                assert_non_null(error);
                print_message("%s: %s\n", files[i], error);
                assert_int_equal(s.code, 77);
        }
}

static void test_ext_status_shapes(void **state) {
        static const char unknown[] = "[{\"status\": {\"status\": \"weird\", \"substatus\": null}}]";
        static const char bad_sub[] = "[{\"status\": {\"status\": \"success\", \"substatus\": [{\"status\": \"bad\"}]}}]";
        static const char no_lang[] = "[{\"status\": {\"status\": \"success\", \"formattedMessage\": {\"message\": \"x\"}}}]";
        _cleanup_(ext_status_done) ExtensionStatus s = {};
        _cleanup_free_ char *e1 = NULL, *e2 = NULL, *e3 = NULL;
        ExtensionStatus t = {};

        assert_int_equal(ext_status_parse(unknown, strlen(unknown), &s, NULL), 0);
        assert_string_equal(s.status, "error");
        assert_int_equal(s.n_substatus, 0);
        assert_int_equal(ext_status_parse("[]", 2, &t, NULL), -ENODATA);
        assert_int_equal(ext_status_parse("{}", 2, &t, &e1), -EBADMSG);
        assert_string_equal(e1, "The extension status must be an array");
        assert_int_equal(ext_status_parse(bad_sub, strlen(bad_sub), &t, &e2), -EBADMSG);
        assert_string_equal(e2, "Invalid value bad at the node substatus/status");
        assert_int_equal(ext_status_parse(no_lang, strlen(no_lang), &t, &e3), -EBADMSG);
        assert_string_equal(e3, "Missing status/formattedMessage/lang key");
}

static void test_ext_status_very_large(void **state) {
        static const char *const files[] = {
                "ext/sample-status-very-large.json",
                "ext/sample-status-very-large-multiple-substatuses.json",
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *buf = NULL;
                _cleanup_(ext_status_done) ExtensionStatus s = {};
                size_t size;

                buf = fixture_read(files[i], &size);
                assert_true(size > EXT_STATUS_FILE_MAX_SIZE);
                assert_int_equal(ext_status_parse(buf, size, &s, NULL), 0);
                assert_true(s.truncated);
                assert_true(s.message == NULL ||
                            strlen(s.message) <= EXT_STATUS_MESSAGE_TRUNCATED_LEN + strlen(EXT_STATUS_TRUNCATED_SUFFIX));
                for (size_t j = 0; j < s.n_substatus; j++) {
                        size_t max = EXT_SUBSTATUS_FIELD_TRUNCATED_LEN + strlen(EXT_STATUS_TRUNCATED_SUFFIX);

                        assert_true(!s.substatus[j].name || strlen(s.substatus[j].name) <= max);
                        assert_true(!s.substatus[j].message || strlen(s.substatus[j].message) <= max);
                }
                print_message("%s: %zu bytes, %zu substatus, message %zu bytes\n", files[i], size, s.n_substatus,
                              s.message ? strlen(s.message) : 0);
        }
}

static void test_heartbeat(void **state) {
        static const char ok[] = "[{\"version\": 1.0, \"heartbeat\": {\"status\": \"NotReady\", \"code\": 0, "
                                 "\"formattedMessage\": {\"lang\": \"en-US\", \"message\": \"warming up\"}}}]";
        static const char bad[] = "[{\"version\": 1.0, \"heartbeat\": {\"status\": \"Sleeping\"}}]";
        _cleanup_(heartbeat_done) Heartbeat h = {};
        _cleanup_free_ char *error = NULL;
        Heartbeat t = {};

        assert_int_equal(heartbeat_parse(ok, strlen(ok), &h, NULL), 0);
        assert_string_equal(h.status, "NotReady");
        assert_string_equal(h.message, "warming up");
        assert_int_equal(heartbeat_parse(bad, strlen(bad), &t, &error), -EBADMSG);
        assert_int_equal(heartbeat_parse("[]", 2, &t, NULL), -EBADMSG);
}

static void check_manifest(const char *rel, bool heartbeat, bool cont, bool multi) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        size_t size;

        buf = fixture_read(rel, &size);
        if (handler_manifest_parse(buf, size, &m, &error) < 0)
                fail_msg("%s: %s", rel, error);
        assert_string_equal(m.name, "ExampleHandlerLinux");
        assert_string_equal(m.version, "1.0");
        assert_string_equal(m.install_command, "install_cmd");
        assert_string_equal(m.uninstall_command, "uninstall_cmd");
        assert_string_equal(m.update_command, "update_cmd");
        assert_string_equal(m.enable_command, "enable_cmd");
        assert_string_equal(m.disable_command, "disable_cmd");
        assert_int_equal(m.report_heartbeat, heartbeat);
        assert_int_equal(m.continue_on_update_failure, cont);
        assert_int_equal(m.supports_multiple_extensions, multi);
        assert_int_equal(m.update_mode, HANDLER_UPDATE_WITH_INSTALL);
        assert_int_equal(m.cpu_quota_percentage, -1);
}

static void test_handler_manifests(void **state) {
        check_manifest("ext/handler_manifest/valid_manifest.json", true, true, true);
        check_manifest("ext/handler_manifest/manifest_no_optional_fields.json", false, false, false);
        check_manifest("ext/handler_manifest/manifest_boolean_fields_strings.json", true, true, true);
        check_manifest("ext/handler_manifest/manifest_boolean_fields_false.json", false, false, false);
        /* "invalid" and 1 are not booleans: false (waagent only sends a telemetry event). */
        check_manifest("ext/handler_manifest/manifest_boolean_fields_invalid.json", false, false, false);
}

static void test_handler_manifest_sample_ext(void **state) {
        static const char with_limits[] =
                "\xEF\xBB\xBF[{\"name\": \"X\", \"version\": \"1.7.0\", \"handlerManifest\": {\"enableCommand\": \"e\", "
                "\"updateMode\": \"UpdateWithoutInstall\"}, \"resourceLimits\": {\"cpuQuotaPercentage\": 50}, "
                "\"signingInfo\": {\"type\": \"VMAccessForLinux\", \"publisher\": \"Microsoft.OSTCExtensions.Edp\", "
                "\"version\": \"1.7.0\"}}]";
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        _cleanup_free_ char *buf = NULL, *error = NULL;
        HandlerManifest t = {};
        size_t size;

        assert_int_equal(handler_manifest_parse(with_limits, strlen(with_limits), &m, NULL), 0);
        assert_int_equal(m.update_mode, HANDLER_UPDATE_WITHOUT_INSTALL);
        assert_int_equal(m.cpu_quota_percentage, 50);
        assert_string_equal(m.signing_publisher, "Microsoft.OSTCExtensions.Edp");
        handler_manifest_done(&m);

        buf = fixture_read("ext/sample_ext-1.3.0/HandlerManifest.json", &size);
        assert_int_equal(handler_manifest_parse(buf, size, &m, NULL), 0);
        assert_non_null(m.enable_command);

        assert_int_equal(handler_manifest_parse("[{\"name\": \"x\"}]", 15, &t, &error), -EBADMSG);
        assert_string_equal(error, "Malformed manifest file.");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_blob_matches_waagent),
                cmocka_unit_test(test_status_blob_multi_config),
                cmocka_unit_test(test_ext_status_valid),
                cmocka_unit_test(test_ext_status_invalid),
                cmocka_unit_test(test_ext_status_shapes),
                cmocka_unit_test(test_ext_status_very_large),
                cmocka_unit_test(test_heartbeat),
                cmocka_unit_test(test_handler_manifests),
                cmocka_unit_test(test_handler_manifest_sample_ext),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
