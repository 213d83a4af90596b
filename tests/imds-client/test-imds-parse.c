/* SPDX-License-Identifier: MIT */
/*
 * imds_parse_instance() against our own instance documents (tests/data/imds/: a full one and one with UTF-8
 * values and a vmId that is not a UUID) and against broken documents, which must fail naming the field. The
 * interop group parses WALinuxAgent's imds/valid.json and imds/unicode.json to the values its test_imds.py
 * derives.
 */
#include <string.h>

#include "imds.h"
#include "tests.h"

/* tests/data/imds/instance.json: a current document with osProfile, keys, zone and a network section. */
static void test_instance_document(void **state) {
        _cleanup_free_ char *buf = NULL;
        ImdsInstance i = {};
        JsonError err = {};
        size_t size;
        struct json_object *ifaces;

        buf = test_data_read("imds/instance.json", &size);
        assert_int_equal(imds_parse_instance(buf, size, &i, &err), 0);
        assert_string_equal(i.vm_id, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
        assert_string_equal(i.name, "azl-test-vm");
        assert_string_equal(i.location, "northeurope");
        assert_string_equal(i.os_type, "Linux");
        assert_string_equal(i.resource_group_name, "azl-test-rg");
        assert_string_equal(i.subscription_id, "3f2e1d0c-9b8a-4765-8432-10fedcba9876");
        assert_string_equal(i.vm_size, "Standard_D4s_v5");
        assert_string_equal(i.tags, "owner:azl;purpose:test");
        assert_string_equal(i.zone, "2");
        assert_string_equal(i.admin_username, "azltest");
        assert_string_equal(i.computer_name, "azl-test-host");
        assert_true(i.disable_password_authentication);
        assert_string_equal(i.user_data, "");
        assert_int_equal(i.n_public_keys, 1);
        assert_true(startswith(i.public_keys[0].key_data,
                               "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6akTzHzdf12dzv"));
        assert_string_equal(i.public_keys[0].path, "/home/azltest/.ssh/authorized_keys");
        assert_int_equal(i.pps_type, IMDS_PPS_NONE);
        /* network is kept for the networking module */
        assert_non_null(i.network);
        assert_true(json_object_object_get_ex(i.network, "interface", &ifaces));
        assert_int_equal(json_object_array_length(ifaces), 1);
        assert_string_equal(json_object_get_string(json_object_object_get(
                                    json_object_array_get_idx(ifaces, 0), "macAddress")),
                            "000D3A5C6D7E");
        imds_instance_done(&i);
}

/* Replaces the value of "vmId" in buf (in place; the new value is not longer than the old one). */
static void replace_vm_id(char *buf, const char *vm_id) {
        char *vm = strstr(buf, "\"vmId\": \""), *end;

        assert_non_null(vm);
        vm += strlen("\"vmId\": \"");
        end = strchr(vm, '"');
        assert_non_null(end);
        assert_true(strlen(vm_id) <= (size_t) (end - vm));
        memmove(vm + strlen(vm_id), end, strlen(end) + 1);
        memcpy(vm, vm_id, strlen(vm_id));
}

/* tests/data/imds/instance-unicode.json: UTF-8 in names, tags and location; a vmId that is not a UUID. */
static void test_unicode_document(void **state) {
        _cleanup_free_ char *buf = NULL;
        ImdsInstance i = {};
        JsonError err = {};
        size_t size;

        buf = test_data_read("imds/instance-unicode.json", &size);
        /* waagent accepts anything as vmId; we compare it with the SMBIOS UUID, so it must be a UUID. */
        assert_int_equal(imds_parse_instance(buf, size, &i, &err), -EBADMSG);
        assert_string_equal(err.field, "compute.vmId");

        /* With a real vmId every other UTF-8 value must survive byte for byte. */
        replace_vm_id(buf, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
        assert_int_equal(imds_parse_instance(buf, strlen(buf), &i, &err), 0);
        assert_string_equal(i.vm_id, "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f");
        assert_string_equal(i.name, "vm-\xc3\xa9t\xc3\xa9");
        assert_string_equal(i.location, "nordeurop\xc3\xa9");
        assert_string_equal(i.resource_group_name, "groupe-d-essai-\xc3\xa0-\xc3\xa9");
        assert_string_equal(i.tags, "propri\xc3\xa9taire:\xc3\x85sa;\xe6\x97\xa5\xe6\x9c\xac:"
                                    "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
        assert_null(i.admin_username);
        imds_instance_done(&i);
}

static void interop_valid(void **state) {
        _cleanup_free_ char *buf = NULL;
        ImdsInstance i = {};
        JsonError err = {};
        size_t size;
        struct json_object *ifaces;

        buf = fixture_read("imds/valid.json", &size);
        assert_int_equal(imds_parse_instance(buf, size, &i, &err), 0);
        assert_string_equal(i.vm_id, "e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e");
        assert_string_equal(i.name, "health");
        assert_string_equal(i.location, "westus");
        assert_string_equal(i.os_type, "Linux");
        assert_string_equal(i.resource_group_name, "tests");
        assert_string_equal(i.subscription_id, "21b2dc34-bce6-4e63-9449-d2a8d1c2339e");
        assert_string_equal(i.vm_size, "Standard_D2_V2");
        assert_string_equal(i.tags, "");
        assert_string_equal(i.zone, "");
        assert_null(i.admin_username); /* no osProfile in this (2018) document */
        assert_null(i.user_data);
        assert_int_equal(i.n_public_keys, 0);
        assert_int_equal(i.pps_type, IMDS_PPS_NONE);
        /* network is kept for the networking module */
        assert_non_null(i.network);
        assert_true(json_object_object_get_ex(i.network, "interface", &ifaces));
        assert_int_equal(json_object_array_length(ifaces), 1);
        assert_string_equal(json_object_get_string(json_object_object_get(
                                    json_object_array_get_idx(ifaces, 0), "macAddress")),
                            "000D3A3382E8");
        imds_instance_done(&i);
}

static void interop_unicode(void **state) {
        _cleanup_free_ char *buf = NULL;
        ImdsInstance i = {};
        JsonError err = {};
        size_t size;
        char *vm;

        buf = fixture_read("imds/unicode.json", &size);
        /* waagent accepts anything as vmId; we compare it with the SMBIOS UUID, so it must be a UUID. */
        assert_int_equal(imds_parse_instance(buf, size, &i, &err), -EBADMSG);
        assert_string_equal(err.field, "compute.vmId");

        /* With a real vmId every other UTF-8 value must survive byte for byte. */
        vm = strstr(buf, "\"vmId\": \"");
        assert_non_null(vm);
        vm += strlen("\"vmId\": \"");
        {
                const char *fixed = "e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e";
                char *end = strchr(vm, '"');

                assert_non_null(end);
                memmove(vm + strlen(fixed), end, strlen(end) + 1);
                memcpy(vm, fixed, strlen(fixed));
        }
        size = strlen(buf);
        assert_int_equal(imds_parse_instance(buf, size, &i, &err), 0);
        assert_string_equal(i.vm_id, "e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e");
        assert_string_equal(i.location, "w\xc3\xa9stus");
        assert_string_equal(i.name, "h\xc3\xa9"
                                    "alth");
        assert_string_equal(i.resource_group_name, "t\xc3\xa9sts");
        assert_string_equal(i.subscription_id, "21b2dc34-bc\xc3\xa9"
                                               "6-4\xc3\xa9"
                                               "63-9449-d2a8d1c2339\xc3\xa9");
        imds_instance_done(&i);
}

/* A 2023 document with everything the provisioning uses. */
static const char full_doc[] =
        "{\"compute\": {\"vmId\": \"E7FDBFC4-2DEB-4A4E-8615-EA6AAF50162E\", \"name\": \"vm1\","
        " \"osProfile\": {\"adminUsername\": \"azureuser\", \"computerName\": \"myhost\","
        "   \"disablePasswordAuthentication\": \"true\", \"futureField\": 7},"
        " \"publicKeys\": [{\"keyData\": \"ssh-ed25519 AAAA user@x\", \"path\": "
        "\"/home/azureuser/.ssh/authorized_keys\"},"
        "                 {\"keyData\": \"ssh-rsa BBBB\"}],"
        " \"userData\": \"I2Nsb3VkLWNvbmZpZw==\", \"location\": \"eastus\", \"vmSize\": \"Standard_B1s\","
        " \"zone\": \"1\", \"osType\": \"Linux\", \"tagsList\": [], \"unknown\": {\"deep\": [1, 2]}},"
        " \"network\": {\"interface\": []},"
        " \"extended\": {\"compute\": {\"ppsType\": \"Savable\", \"hasCustomData\": false}}}";

static void test_full_document(void **state) {
        ImdsInstance i = {};
        JsonError err = {};

        assert_int_equal(imds_parse_instance(full_doc, strlen(full_doc), &i, &err), 0);
        assert_string_equal(i.vm_id, "e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e"); /* normalized */
        assert_string_equal(i.admin_username, "azureuser");
        assert_string_equal(i.computer_name, "myhost");
        assert_true(i.disable_password_authentication);
        assert_int_equal(i.n_public_keys, 2);
        assert_string_equal(i.public_keys[0].key_data, "ssh-ed25519 AAAA user@x");
        assert_string_equal(i.public_keys[0].path, "/home/azureuser/.ssh/authorized_keys");
        assert_string_equal(i.public_keys[1].key_data, "ssh-rsa BBBB");
        assert_null(i.public_keys[1].path);
        assert_string_equal(i.user_data, "I2Nsb3VkLWNvbmZpZw==");
        assert_string_equal(i.zone, "1");
        assert_int_equal(i.pps_type, IMDS_PPS_SAVABLE);
        imds_instance_done(&i);
}

static void test_bool_forms(void **state) {
        static const struct {
                const char *value;
                int expected; /* 1/0, or -1 = error */
        } cases
                [] =
                        {
                                {"\"false\"", 0}, {"\"True\"", 1}, {"true", 1},
                                {"false", 0},     {"\"yes\"", -1}, {"1", -1},
                                {"\"\"", -1},     {"null", 0}, /* json_dispatch: null on an optional field = absent */
                        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *doc = NULL;
                ImdsInstance i = {};
                JsonError err = {};
                int r;

                assert_true(asprintf(&doc,
                                     "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                                     " \"osProfile\": {\"disablePasswordAuthentication\": %s}}}",
                                     cases[k].value) > 0);
                r = imds_parse_instance(doc, strlen(doc), &i, &err);
                if (cases[k].expected < 0) {
                        assert_int_equal(r, -EBADMSG);
                        assert_string_equal(err.field, "compute.osProfile.disablePasswordAuthentication");
                        continue;
                }
                assert_int_equal(r, 0);
                assert_int_equal(i.disable_password_authentication, cases[k].expected);
                imds_instance_done(&i);
        }
}

/* compute.securityProfile (docs/security.md "Confidential VMs"): informational, never a parse failure. */
static void test_security_profile(void **state) {
        static const struct {
                const char *profile;
                const char *type;
                int secure_boot, vtpm, host_encryption;
        } cases[] = {
                {"{\"secureBootEnabled\": \"true\", \"virtualTpmEnabled\": \"true\", \"encryptionAtHost\": "
                 "\"false\","
                 " \"securityType\": \"ConfidentialVM\"}",
                 "ConfidentialVM", 1, 1, 0},
                {"{\"secureBootEnabled\": \"false\", \"virtualTpmEnabled\": \"false\"}", NULL, 0, 0, -1},
                /* IMDS sends "" for what does not apply; other words and types stay unknown too */
                {"{\"secureBootEnabled\": \"\", \"virtualTpmEnabled\": 7, \"encryptionAtHost\": \"maybe\","
                 " \"securityType\": \"\"}",
                 "", -1, -1, -1},
                {"{\"securityType\": 12, \"secureBootEnabled\": true}", NULL, 1, -1, -1},
                {"{\"securityType\": "
                 "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
                 NULL, -1, -1, -1},
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_free_ char *doc = NULL;
                ImdsInstance i = {};
                JsonError err = {};

                assert_true(asprintf(&doc,
                                     "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                                     " \"securityProfile\": %s}}",
                                     cases[k].profile) > 0);
                assert_int_equal(imds_parse_instance(doc, strlen(doc), &i, &err), 0);
                assert_true(i.security.present);
                if (cases[k].type)
                        assert_string_equal(i.security.security_type, cases[k].type);
                else
                        assert_null(i.security.security_type);
                assert_int_equal(i.security.secure_boot, cases[k].secure_boot);
                assert_int_equal(i.security.virtual_tpm, cases[k].vtpm);
                assert_int_equal(i.security.encryption_at_host, cases[k].host_encryption);
                imds_instance_done(&i);
        }

        /* Absent, or not an object (ignored): not present, everything unknown. */
        for (size_t k = 0; k < 2; k++) {
                const char *doc =
                        k == 0 ? "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\"}}"
                               : "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                                 " \"securityProfile\": \"ConfidentialVM\"}}";
                ImdsInstance i = {};

                assert_int_equal(imds_parse_instance(doc, strlen(doc), &i, NULL), 0);
                assert_false(i.security.present);
                assert_null(i.security.security_type);
                assert_int_equal(i.security.secure_boot, -1);
                assert_int_equal(i.security.encryption_at_host, -1);
                imds_instance_done(&i);
        }
}

static void expect_error(const char *doc, int error, const char *field) {
        ImdsInstance i = {.name = NULL};
        JsonError err = {};

        assert_int_equal(imds_parse_instance(doc, strlen(doc), &i, &err), error);
        if (field)
                assert_string_equal(err.field, field);
        assert_null(i.name); /* ret untouched on failure */
        assert_null(i.network);
}

static void test_wrong_types(void **state) {
        expect_error("{\"compute\": {\"vmId\": 5}}", -EBADMSG, "compute.vmId");
        expect_error("{\"compute\": {\"name\": \"x\"}}", -EBADMSG, "compute.vmId");
        expect_error("{\"compute\": {\"vmId\": \"not-a-uuid\"}}", -EBADMSG, "compute.vmId");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\", \"name\": []}}",
                     -EBADMSG, "compute.name");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                     " \"osProfile\": {\"adminUsername\": 42}}}",
                     -EBADMSG, "compute.osProfile.adminUsername");
        expect_error(
                "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\", \"osProfile\": \"x\"}}",
                -EBADMSG, "compute.osProfile");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                     " \"publicKeys\": [{\"keyData\": \"ssh-rsa A\"}, {\"path\": \"/x\"}]}}",
                     -EBADMSG, "compute.publicKeys[1].keyData");
        expect_error(
                "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\", \"publicKeys\": {}}}",
                -EBADMSG, "compute.publicKeys");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\"}, \"network\": []}",
                     -EBADMSG, "network");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\"},"
                     " \"extended\": {\"compute\": {\"ppsType\": \"Sleepy\"}}}",
                     -EBADMSG, "extended.compute.ppsType");
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\"},"
                     " \"extended\": {\"compute\": {\"ppsType\": 1}}}",
                     -EBADMSG, "extended.compute.ppsType");
        expect_error("{\"compute\": []}", -EBADMSG, "compute");
        expect_error("[]", -EBADMSG, NULL);
}

static void test_garbage(void **state) {
        _cleanup_free_ char *buf = NULL;
        size_t size;

        expect_error("", -EBADMSG, NULL);
        expect_error("<html>502 Bad Gateway</html>", -EBADMSG, NULL);
        expect_error("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\"}} trailing",
                     -EBADMSG, NULL);
        /* truncated document */
        buf = test_data_read("imds/instance.json", &size);
        for (size_t cut = 1; cut < size; cut += 37) {
                ImdsInstance i = {};
                JsonError err = {};

                assert_int_equal(imds_parse_instance(buf, cut, &i, &err), -EBADMSG);
                assert_false(isempty(err.message));
        }
}

static void test_oversized(void **state) {
        _cleanup_free_ char *big = NULL, *doc = NULL;
        ImdsInstance i = {};
        JsonError err = {};

        /* whole document above the response bound */
        big = malloc(IMDS_RESPONSE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', IMDS_RESPONSE_MAX + 1);
        big[IMDS_RESPONSE_MAX + 1] = 0;
        assert_int_equal(imds_parse_instance(big, IMDS_RESPONSE_MAX + 1, &i, &err), -E2BIG);

        /* one string above IMDS_STRING_MAX */
        memset(big, 'a', IMDS_STRING_MAX + 1);
        big[IMDS_STRING_MAX + 1] = 0;
        assert_true(asprintf(&doc,
                             "{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\","
                             " \"osProfile\": {\"computerName\": \"%s\"}}}",
                             big) > 0);
        assert_int_equal(imds_parse_instance(doc, strlen(doc), &i, &err), -EBADMSG);
        assert_string_equal(err.field, "compute.osProfile.computerName");
}

static void test_too_many_keys(void **state) {
        _cleanup_free_ char *doc = NULL;
        size_t len = 0;
        FILE *f;
        ImdsInstance i = {};
        JsonError err = {};

        f = open_memstream(&doc, &len);
        assert_non_null(f);
        fputs("{\"compute\": {\"vmId\": \"e7fdbfc4-2deb-4a4e-8615-ea6aaf50162e\", \"publicKeys\": [", f);
        for (unsigned k = 0; k <= IMDS_PUBLIC_KEYS_MAX; k++)
                fprintf(f, "%s{\"keyData\": \"ssh-rsa K%u\"}", k ? "," : "", k);
        fputs("]}}", f);
        fclose(f);
        assert_int_equal(imds_parse_instance(doc, len, &i, &err), -EBADMSG);
        assert_string_equal(err.field, "compute.publicKeys");
}

static void test_urls(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;
        _cleanup_strv_free_ char **h = NULL;
        char id[37];

        assert_int_equal(imds_instance_url("http://169.254.169.254/", "2023-07-01", &a), 0);
        assert_string_equal(a,
                            "http://169.254.169.254/metadata/instance?api-version=2023-07-01&extended=true");
        assert_int_equal(imds_instance_url("http://127.0.0.1:8080", "2019-06-01", &b), 0);
        assert_string_equal(b, "http://127.0.0.1:8080/metadata/instance?api-version=2019-06-01");
        assert_int_equal(imds_instance_url("http://x", "2021-08-01&evil=1", &c), -EINVAL);
        assert_int_equal(imds_request_headers(&h), 0);
        assert_string_equal(h[0], "Metadata: true");
        assert_true(startswith(h[1], "x-ms-client-request-id: "));
        assert_int_equal(uuid_normalize(h[1] + strlen("x-ms-client-request-id: "), id), 0);
        assert_null(h[2]);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_valid),
                cmocka_unit_test(interop_unicode),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_instance_document), cmocka_unit_test(test_unicode_document),
                cmocka_unit_test(test_full_document),     cmocka_unit_test(test_bool_forms),
                cmocka_unit_test(test_security_profile),  cmocka_unit_test(test_wrong_types),
                cmocka_unit_test(test_garbage),           cmocka_unit_test(test_oversized),
                cmocka_unit_test(test_too_many_keys),     cmocka_unit_test(test_urls),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
