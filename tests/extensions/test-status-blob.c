/* SPDX-License-Identifier: MIT */
/*
 * Status documents: the aggregate status blob compared byte for byte (key order included) with
 * tests/data/status/status-blob.json (written from docs/protocol/status-blob.md, re-serialized with json.dumps'
 * rules) for the same inputs; extension status files (tests/data/ext/status-*.json: valid, invalid JSON,
 * missing status/status key, empty key; the >128 KB truncation on documents built here), heartbeat, and
 * HandlerManifest.json (tests/data/ext/handler-manifest-*.json and the sample handler's). The interop group
 * compares with the blob the real waagent produced for the same inputs (tests/interop/data/
 * waagent-status-blob.json) and parses WALinuxAgent's ext/ status files and handler manifests.
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

/* Parses a pretty-printed expected blob and prints it back with json.dumps' rules. */
static char *expected_blob(TestReadFn read, const char *rel) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ struct json_object *obj = NULL;
        char *dump = NULL;
        size_t size;

        text = read(rel, &size);
        assert_int_equal(json_parse_buffer(text, size, &obj, NULL), 0);
        assert_int_equal(json_dumps_python(obj, &dump), 0);
        return dump;
}

/* 2026-03-14T09:26:53Z */
#define OWN_TIMESTAMP ((usec_t) 1773480413 * USEC_PER_SEC)

static void test_status_blob_bytes(void **state) {
        _cleanup_free_ char *expected = NULL, *blob = NULL;
        _cleanup_json_ struct json_object *blob_obj = NULL;
        char *features[] = {(char *) "MultipleExtensionsPerHandler", (char *) "FastTrack", NULL};
        SubStatus sub = {
                .name = (char *) "ProtectedSettings",
                .status = (char *) "success",
                .message = (char *) "decrypted with certificate E488489693D19133A637CCF4E1B5BFFFB1ABDF3D: "
                                    "2 key(s): count, secret"};
        ExtensionStatus es = {.name = (char *) "AzlAgent.SampleHandler",
                              .operation = (char *) "Enable",
                              .status = (char *) "success",
                              .message = (char *) "hello from the tests",
                              .substatus = &sub,
                              .n_substatus = 1};
        HandlerStatusReport h[] = {
                {.name = "AzlAgent.SampleHandler",
                 .version = "1.0.0",
                 .status = "Ready",
                 .message = "AzlAgent.SampleHandler enabled with settings 0",
                 .extension_status = &es},
                {.name = "AzlTest.Failing",
                 .version = "2.1.0",
                 .status = "NotReady",
                 .code = 1009,
                 .message = "Non-zero exit code: 7, /var/lib/waagent/AzlTest.Failing-2.1.0/enable.sh"},
        };
        VmStatusReport r = {
                .timestamp = OWN_TIMESTAMP,
                .agent_version = "0.1.0",
                .agent_status = "Ready",
                .agent_message = "Guest Agent is running",
                .handlers = h,
                .n_handlers = ELEMENTSOF(h),
                .has_goal_state_status = true,
                .goal_state_status = "Success",
                .goal_state_message = "GoalState executed successfully",
                .in_svd_seq_no = "3",
                .computer_name = "azl-test-host",
                .os_name = "azurelinux",
                .os_version = "4.0",
                .supported_features = features,
        };

        expected = expected_blob(test_data_read, "status/status-blob.json");
        assert_int_equal(status_blob_build(&r, &blob), 0);
        assert_string_equal(blob, expected);
        /* json.dumps' separators and Python's float 1.0, literally */
        assert_true(startswith(blob, "{\"version\": \"1.1\", \"timestampUTC\": \"2026-03-14T09:26:53Z\", "
                                     "\"aggregateStatus\": {\"guestAgentStatus\": {\"version\": \"0.1.0\""));
        assert_non_null(strstr(blob, "\"version\": 1.0, \"timestampUTC\""));
        assert_int_equal(json_parse_buffer(blob, strlen(blob), &blob_obj, NULL), 0);
}

/* The blob the real waagent produced against its own mock fabric, for these inputs. */
static void interop_status_blob_matches_waagent(void **state) {
        _cleanup_free_ char *ref_dump = NULL, *blob = NULL;
        struct tm tm = {.tm_year = 2026 - 1900,
                        .tm_mon = 10,
                        .tm_mday = 21,
                        .tm_hour = 19,
                        .tm_min = 2,
                        .tm_sec = 32};
        char *features[] = {(char *) "MultipleExtensionsPerHandler", (char *) "VersioningGovernance", NULL};
        ExtensionStatus es = {.name = (char *) "OSTCExtensions.ExampleHandlerLinux",
                              .status = (char *) "success"};
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

        ref_dump = expected_blob(test_source_read, "tests/interop/data/waagent-status-blob.json");
        assert_int_equal(status_blob_build(&r, &blob), 0);
        assert_string_equal(blob, ref_dump);
}

static void test_status_blob_multi_config(void **state) {
        _cleanup_free_ char *blob = NULL;
        SubStatus sub = {.name = (char *) "s\xc3\xa9",
                         .status = (char *) "error",
                         .code = 3,
                         .message = (char *) "a\"b\n"};
        ExtensionStatus es = {.name = (char *) "x",
                              .operation = (char *) "Enable",
                              .status = (char *) "error",
                              .code = 1,
                              .message = (char *) "m",
                              .substatus = &sub,
                              .n_substatus = 1};
        HandlerStatusReport h[] = {
                {.name = "A.B",
                 .version = "1.2",
                 .status = "NotReady",
                 .code = 1009,
                 .message = "failed",
                 .extension_status = &es,
                 .sequence_number = 4,
                 .extension_name = "firstExtension"},
                {.name = "C.D", .version = "2.0", .status = "Ready", .message = "Plugin enabled"},
        };
        VmStatusReport r = {.timestamp = 0,
                            .agent_version = "1",
                            .agent_status = "Ready",
                            .agent_message = "ok",
                            .handlers = h,
                            .n_handlers = 2};

        assert_int_equal(status_blob_build(&r, &blob), 0);
        assert_non_null(strstr(blob, "\"sequenceNumber\": 4, \"extensionName\": \"firstExtension\"}"));
        assert_non_null(
                strstr(blob, "\"substatus\": [{\"name\": \"s\\u00e9\", \"status\": \"error\", \"code\": 3, "
                             "\"formattedMessage\": {\"lang\": \"en-US\", \"message\": \"a\\\"b\\n\"}}]"));
        /* A handler without status has no runtimeSettingsStatus; no goal-state status → no vmArtifacts… */
        assert_non_null(strstr(blob,
                               "\"handlerName\": \"C.D\", \"status\": \"Ready\", \"code\": 0, "
                               "\"useExactVersion\": true, \"formattedMessage\": {\"lang\": \"en-US\", "
                               "\"message\": \"Plugin enabled\"}}]"));
        assert_null(strstr(blob, "vmArtifactsAggregateStatus"));
        assert_non_null(strstr(blob, "\"supportedFeatures\": []"));
}

static void test_ext_status_valid(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(ext_status_done) ExtensionStatus s = {};
        size_t size;

        buf = test_data_read("ext/status-valid.json", &size);
        assert_int_equal(ext_status_parse(buf, size, &s, NULL), 0);
        assert_string_equal(s.status, "success");
        assert_int_equal(s.code, 2);
        assert_string_equal(s.name, "AzlTest.Backup");
        assert_string_equal(s.operation, "Enable");
        assert_string_equal(s.configuration_applied_time, "2026-03-14T09:26:50Z");
        assert_string_equal(s.message, "Snapshot of 3 disks taken in 4.2 s; consistency: application.");
        assert_int_equal(s.n_substatus, 2);
        assert_string_equal(s.substatus[0].name, "DiskSnapshots");
        assert_string_equal(s.substatus[0].status, "success");
        assert_int_equal(s.substatus[0].code, 0); /* "code": "0" */
        assert_null(s.substatus[0].message);      /* "formattedMessage": null */
        assert_string_equal(s.substatus[1].status, "warning");
        assert_int_equal(s.substatus[1].code, 17);
        assert_string_equal(s.substatus[1].message, "one retry");
        assert_false(s.truncated);
}

static void interop_ext_status_valid(void **state) {
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
        assert_string_equal(s.message,
                            "Aenean semper nunc nisl, vitae sollicitudin felis consequat at. In lobortis "
                            "elementum sapien, non commodo odio semper ac.");
        assert_int_equal(s.n_substatus, 1);
        assert_string_equal(s.substatus[0].status, "success");
        assert_int_equal(s.substatus[0].code, 0); /* "code": "0" */
        assert_null(s.substatus[0].message);      /* "formattedMessage": null */
        assert_true(startswith(s.substatus[0].name, "[{\"status\": {\"status\": \"success\""));
        assert_false(s.truncated);
}

static void check_ext_status_invalid(TestReadFn read, const char *const *files, size_t n) {
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *buf = NULL, *error = NULL;
                ExtensionStatus s = {.code = 77};
                size_t size;

                buf = read(files[i], &size);
                /* → status "error", code 1012 (PluginSettingsStatusInvalid) in the blob */
                assert_int_equal(ext_status_parse(buf, size, &s, &error), -EBADMSG);
                assert_non_null(error);
                print_message("%s: %s\n", files[i], error);
                assert_int_equal(s.code, 77);
        }
}

static void test_ext_status_invalid(void **state) {
        static const char *const files[] = {
                "ext/status-invalid-json.json",
                "ext/status-empty-key.json",
                "ext/status-bare-key.json",
                "ext/status-no-status-key.json",
        };

        check_ext_status_invalid(test_data_read, files, ELEMENTSOF(files));
}

static void interop_ext_status_invalid(void **state) {
        static const char *const files[] = {
                "ext/sample-status-invalid-json-format.json",
                "ext/sample-status-invalid-format-emptykey-line7.json",
                "ext/sample-status-invalid-status-no-status-status-key.json",
        };

        check_ext_status_invalid(fixture_read, files, ELEMENTSOF(files));
}

static void test_ext_status_shapes(void **state) {
        static const char unknown[] = "[{\"status\": {\"status\": \"weird\", \"substatus\": null}}]";
        static const char bad_sub[] =
                "[{\"status\": {\"status\": \"success\", \"substatus\": [{\"status\": \"bad\"}]}}]";
        static const char no_lang[] =
                "[{\"status\": {\"status\": \"success\", \"formattedMessage\": {\"message\": \"x\"}}}]";
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

/* Status files above 128 KB, built here: one long message; many substatuses with long names and messages. */
static char *very_large_status(bool many_substatus, size_t *ret_size) {
        char *doc = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&doc, &size);

        assert_non_null(f);
        fputs("[{\"version\": 1.0, \"timestampUTC\": \"2026-03-14T09:26:53Z\", \"status\": {\"name\": "
              "\"AzlTest.Big\", "
              "\"operation\": \"Enable\", \"status\": \"success\", \"code\": 0, "
              "\"formattedMessage\": {\"lang\": \"en-US\", \"message\": \"",
              f);
        for (size_t i = 0; i < (many_substatus ? 100 : 140000); i++)
                fputc('m', f);
        fputs("\"}, \"substatus\": [", f);
        for (size_t k = 0; many_substatus && k < 8; k++) {
                fprintf(f, "%s{\"name\": \"", k ? ", " : "");
                for (size_t i = 0; i < 12000; i++)
                        fputc('n', f);
                fputs("\", \"status\": \"success\", \"code\": 0, \"formattedMessage\": {\"lang\": "
                      "\"en-US\", \"message\": \"",
                      f);
                for (size_t i = 0; i < 12000; i++)
                        fputc('s', f);
                fputs("\"}}", f);
        }
        fputs("]}}]", f);
        assert_int_equal(fclose(f), 0);
        *ret_size = size;
        return doc;
}

static void check_very_large(const char *what, char *buf, size_t size) {
        _cleanup_(ext_status_done) ExtensionStatus s = {};

        assert_true(size > EXT_STATUS_FILE_MAX_SIZE);
        assert_int_equal(ext_status_parse(buf, size, &s, NULL), 0);
        assert_true(s.truncated);
        assert_true(s.message == NULL || strlen(s.message) <= EXT_STATUS_MESSAGE_TRUNCATED_LEN +
                                                                      strlen(EXT_STATUS_TRUNCATED_SUFFIX));
        for (size_t j = 0; j < s.n_substatus; j++) {
                size_t max = EXT_SUBSTATUS_FIELD_TRUNCATED_LEN + strlen(EXT_STATUS_TRUNCATED_SUFFIX);

                assert_true(!s.substatus[j].name || strlen(s.substatus[j].name) <= max);
                assert_true(!s.substatus[j].message || strlen(s.substatus[j].message) <= max);
        }
        print_message("%s: %zu bytes, %zu substatus, message %zu bytes\n", what, size, s.n_substatus,
                      s.message ? strlen(s.message) : 0);
}

static void test_ext_status_very_large(void **state) {
        for (int many = 0; many <= 1; many++) {
                _cleanup_free_ char *buf = NULL;
                size_t size;

                buf = very_large_status(many, &size);
                check_very_large(many ? "8 large substatus" : "one large message", buf, size);
        }
}

static void interop_ext_status_very_large(void **state) {
        static const char *const files[] = {
                "ext/sample-status-very-large.json",
                "ext/sample-status-very-large-multiple-substatuses.json",
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *buf = NULL;
                size_t size;

                buf = fixture_read(files[i], &size);
                check_very_large(files[i], buf, size);
        }
}

static void test_heartbeat(void **state) {
        static const char ok[] =
                "[{\"version\": 1.0, \"heartbeat\": {\"status\": \"NotReady\", \"code\": 0, "
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

/* One set of handler manifests: their name, and the commands as <prefix><operation><suffix>. */
typedef struct ManifestData {
        TestReadFn read;
        const char *name, *prefix, *suffix;
} ManifestData;

static const ManifestData own_manifests = {test_data_read, "AzlTestHandler", "bin/handler ", ""};
static const ManifestData peer_manifests = {fixture_read, "ExampleHandlerLinux", "", "_cmd"};

static void check_command(const ManifestData *d, const char *command, const char *op) {
        _cleanup_free_ char *expected = NULL;

        assert_true(asprintf(&expected, "%s%s%s", d->prefix, op, d->suffix) > 0);
        assert_string_equal(command, expected);
}

static void check_manifest(const ManifestData *d, const char *rel, bool heartbeat, bool cont, bool multi) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        size_t size;

        buf = d->read(rel, &size);
        if (handler_manifest_parse(buf, size, &m, &error) < 0)
                fail_msg("%s: %s", rel, error);
        assert_string_equal(m.name, d->name);
        assert_string_equal(m.version, "1.0");
        check_command(d, m.install_command, "install");
        check_command(d, m.uninstall_command, "uninstall");
        check_command(d, m.update_command, "update");
        check_command(d, m.enable_command, "enable");
        check_command(d, m.disable_command, "disable");
        assert_int_equal(m.report_heartbeat, heartbeat);
        assert_int_equal(m.continue_on_update_failure, cont);
        assert_int_equal(m.supports_multiple_extensions, multi);
        assert_int_equal(m.update_mode, HANDLER_UPDATE_WITH_INSTALL);
        assert_int_equal(m.cpu_quota_percentage, -1);
}

static void test_handler_manifests(void **state) {
        const ManifestData *d = &own_manifests;

        check_manifest(d, "ext/handler-manifest-all-true.json", true, true, true);
        check_manifest(d, "ext/handler-manifest-no-optional.json", false, false, false);
        /* "True", "TRUE", "true": case-insensitive strings count as true */
        check_manifest(d, "ext/handler-manifest-boolean-strings.json", true, true, true);
        check_manifest(d, "ext/handler-manifest-boolean-false.json", false, false, false);
        /* "yes", 1 and [] are not booleans: false (waagent only sends a telemetry event). */
        check_manifest(d, "ext/handler-manifest-boolean-invalid.json", false, false, false);
}

static void interop_handler_manifests(void **state) {
        const ManifestData *d = &peer_manifests;

        check_manifest(d, "ext/handler_manifest/valid_manifest.json", true, true, true);
        check_manifest(d, "ext/handler_manifest/manifest_no_optional_fields.json", false, false, false);
        check_manifest(d, "ext/handler_manifest/manifest_boolean_fields_strings.json", true, true, true);
        check_manifest(d, "ext/handler_manifest/manifest_boolean_fields_false.json", false, false, false);
        /* "invalid" and 1 are not booleans: false (waagent only sends a telemetry event). */
        check_manifest(d, "ext/handler_manifest/manifest_boolean_fields_invalid.json", false, false, false);
}

static void interop_handler_manifest_sample_ext(void **state) {
        _cleanup_(handler_manifest_done) HandlerManifest m = {};
        _cleanup_free_ char *buf = NULL;
        size_t size;

        buf = fixture_read("ext/sample_ext-1.3.0/HandlerManifest.json", &size);
        assert_int_equal(handler_manifest_parse(buf, size, &m, NULL), 0);
        assert_string_equal(m.enable_command, "sample.py -enable");
}

static void test_handler_manifest_sample_handler(void **state) {
        static const char with_limits[] = "\xEF\xBB\xBF[{\"name\": \"X\", \"version\": \"1.7.0\", "
                                          "\"handlerManifest\": {\"enableCommand\": \"e\", "
                                          "\"updateMode\": \"UpdateWithoutInstall\"}, \"resourceLimits\": "
                                          "{\"cpuQuotaPercentage\": 50}, "
                                          "\"signingInfo\": {\"type\": \"VMAccessForLinux\", \"publisher\": "
                                          "\"Microsoft.OSTCExtensions.Edp\", "
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

        /* the default scenario's extension (tests/fabric/ext/sample-handler) */
        buf = test_source_read("tests/fabric/ext/sample-handler/HandlerManifest.json", &size);
        assert_int_equal(handler_manifest_parse(buf, size, &m, NULL), 0);
        assert_string_equal(m.name, "SampleHandler");
        assert_string_equal(m.enable_command, "sample-handler.py enable");
        assert_string_equal(m.update_command, "sample-handler.py update");
        assert_true(m.report_heartbeat);
        assert_true(m.supports_multiple_extensions);
        assert_false(m.continue_on_update_failure);
        assert_int_equal(m.update_mode, HANDLER_UPDATE_WITH_INSTALL);

        assert_int_equal(handler_manifest_parse("[{\"name\": \"x\"}]", 15, &t, &error), -EBADMSG);
        assert_string_equal(error, "Malformed manifest file.");
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_status_blob_matches_waagent),
                cmocka_unit_test(interop_ext_status_valid),
                cmocka_unit_test(interop_ext_status_invalid),
                cmocka_unit_test(interop_ext_status_very_large),
                cmocka_unit_test(interop_handler_manifests),
                cmocka_unit_test(interop_handler_manifest_sample_ext),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status_blob_bytes),
                cmocka_unit_test(test_status_blob_multi_config),
                cmocka_unit_test(test_ext_status_valid),
                cmocka_unit_test(test_ext_status_invalid),
                cmocka_unit_test(test_ext_status_shapes),
                cmocka_unit_test(test_ext_status_very_large),
                cmocka_unit_test(test_heartbeat),
                cmocka_unit_test(test_handler_manifests),
                cmocka_unit_test(test_handler_manifest_sample_handler),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
