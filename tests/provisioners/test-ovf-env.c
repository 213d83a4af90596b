/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml parser: every WALinuxAgent fixture parses to the values waagent derives from it
 * (azurelinuxagent/common/protocol/ovfenv.py, azure-wire-protocol.md §5.3), plus the edge cases.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ovf-env.h"
#include "tests.h"

static void *memdup(const void *p, size_t n) {
        void *c = malloc(n);

        assert_non_null(c);
        return memcpy(c, p, n);
}

typedef struct Expected {
        const char *fixture;
        bool provision_guest_agent;
        const char *provision_guest_agent_raw;
} Expected;

/* The four fixtures differ only in ProvisionGuestAgent: waagent disables the agent only for "false". */
static const Expected fixtures[] = {
        { "ovf-env.xml", false, "false" },
        { "ovf-env-2.xml", true, "true" },
        { "ovf-env-3.xml", true, "" },
        { "ovf-env-4.xml", true, "bad data" },
};

static void check_common(const OvfEnv *e) {
        assert_string_equal(e->version, "1.0");
        assert_string_equal(e->hostname, "HostName");
        assert_string_equal(e->username, "UserName");
        assert_non_null(e->password);
        assert_string_equal(e->password, "UserPassword");
        assert_false(e->disable_ssh_password_auth);
        assert_int_equal(e->n_public_keys, 1);
        assert_string_equal(e->public_keys[0].fingerprint, "EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62");
        assert_string_equal(e->public_keys[0].path, "$HOME/UserName/.ssh/authorized_keys");
        assert_string_equal(e->public_keys[0].value, "ssh-rsa AAAANOTAREALKEY== foo@bar.local");
        assert_int_equal(e->n_key_pairs, 1);
        assert_string_equal(e->key_pairs[0].fingerprint, "EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62");
        assert_string_equal(e->key_pairs[0].path, "$HOME/UserName/.ssh/id_rsa");
        /* "CustomData" is not base64 (10 characters): kept raw, as waagent saves it undecoded. */
        assert_string_equal(e->custom_data_raw, "CustomData");
        assert_null(e->custom_data);
        assert_false(e->preprovisioned_vm);
        assert_null(e->preprovisioned_vm_type);
        assert_false(e->provision_guest_proxy_agent);
}

static void test_fixtures(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_error_ Error error = ERROR_NULL;
                _cleanup_free_ char *buf = NULL;
                OvfEnv e = {};
                size_t size;

                buf = fixture_read(fixtures[i].fixture, &size);
                assert_int_equal(ovf_env_parse(buf, size, &e, &error), 0);
                assert_false(error_is_set(&error));
                check_common(&e);
                assert_int_equal(e.provision_guest_agent, fixtures[i].provision_guest_agent);
                assert_string_equal(e.provision_guest_agent_raw, fixtures[i].provision_guest_agent_raw);
                ovf_env_done(&e);
        }
}

/* A minimal document in the same shape; %s slots: conf set contents, platform settings contents. */
static char *make_doc(const char *conf, const char *platform) {
        char *s = NULL;

        assert_true(asprintf(&s,
                             "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                             "<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" "
                             "xmlns:wa=\"http://schemas.microsoft.com/windowsazure\">"
                             "<wa:ProvisioningSection><wa:Version>1.0</wa:Version>"
                             "<LinuxProvisioningConfigurationSet xmlns=\"http://schemas.microsoft.com/windowsazure\">"
                             "%s</LinuxProvisioningConfigurationSet></wa:ProvisioningSection>"
                             "<wa:PlatformSettingsSection><wa:Version>1.0</wa:Version><wa:PlatformSettings>%s"
                             "</wa:PlatformSettings></wa:PlatformSettingsSection></Environment>",
                             conf, platform) > 0);
        return s;
}

static int parse(const char *doc, OvfEnv *e, Error *error) {
        return ovf_env_parse(doc, strlen(doc), e, error);
}

static void test_values(void **state) {
        _cleanup_free_ char *doc = make_doc(
                "<HostName>vm1.example.com</HostName><UserName>azureuser</UserName>"
                "<UserPassword> p@ss w0rd </UserPassword>"
                "<DisableSshPasswordAuthentication>TRUE</DisableSshPasswordAuthentication>"
                "<CustomData>IyEvYmluL3NoCmVjaG8gaGkK</CustomData>",
                "<wa:ProvisionGuestAgent>FALSE</wa:ProvisionGuestAgent>"
                "<wa:PreprovisionedVm>true</wa:PreprovisionedVm>"
                "<wa:PreprovisionedVMType>Savable</wa:PreprovisionedVMType>"
                "<wa:ProvisionGuestProxyAgent>True</wa:ProvisionGuestProxyAgent>");
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, NULL), 0);
        assert_string_equal(e.hostname, "vm1.example.com");
        assert_string_equal(e.username, "azureuser");
        assert_string_equal(e.password, " p@ss w0rd "); /* verbatim, not trimmed */
        assert_true(e.disable_ssh_password_auth);
        assert_string_equal(e.custom_data, "#!/bin/sh\necho hi\n");
        assert_int_equal(e.custom_data_size, 18);
        assert_false(e.provision_guest_agent);
        assert_true(e.preprovisioned_vm);
        assert_string_equal(e.preprovisioned_vm_type, "Savable");
        assert_true(e.provision_guest_proxy_agent);
        assert_int_equal(e.n_public_keys, 0);
        assert_null(e.public_keys);
        ovf_env_done(&e);
}

static void test_optional_absent(void **state) {
        _cleanup_free_ char *doc = make_doc("<HostName>h</HostName><UserName>u</UserName>",
                                            "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>");
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, NULL), 0);
        assert_null(e.password);
        assert_false(e.disable_ssh_password_auth); /* absent ⇒ false */
        assert_null(e.custom_data_raw);
        assert_null(e.custom_data);
        assert_true(e.provision_guest_agent);
        ovf_env_done(&e);
}

static void expect_error(const char *conf, const char *platform, const char *message) {
        _cleanup_free_ char *doc = make_doc(conf, platform);
        _cleanup_error_ Error error = ERROR_NULL;
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, &error), -EBADMSG);
        assert_non_null(error.reason);
        assert_string_equal(error.reason, message);
        assert_null(e.hostname); /* untouched on failure */
}

static void test_required(void **state) {
        const char *pga = "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>";

        expect_error("<UserName>u</UserName>", pga, "HostName not found");
        expect_error("<HostName>h</HostName>", pga, "UserName not found");
        expect_error("<HostName>h</HostName><UserName>u</UserName>", "", "ProvisionGuestAgent not found");
        /* An element of another namespace does not count. */
        expect_error("<x:HostName xmlns:x=\"urn:other\">h</x:HostName><UserName>u</UserName>", pga,
                     "HostName not found");
}

static void test_malformed(void **state) {
        static const char *const docs[] = {
                "",
                "<Environment",
                "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><Environment/>",
                "<Other xmlns=\"http://schemas.dmtf.org/ovf/environment/1\"/>",
                "<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\"/>",
        };

        for (size_t i = 0; i < ELEMENTSOF(docs); i++) {
                _cleanup_error_ Error error = ERROR_NULL;
                OvfEnv e = {};

                assert_int_equal(ovf_env_parse(docs[i], strlen(docs[i]), &e, &error), -EBADMSG);
                assert_non_null(error.reason);
        }
}

static void test_password_too_long(void **state) {
        _cleanup_free_ char *doc = make_doc(
                "<HostName>h</HostName><UserName>u</UserName><UserPassword>"
                "0123456789012345678901234567890123456789012345678901234567890123456789012"
                "</UserPassword>",
                "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>");
        _cleanup_error_ Error error = ERROR_NULL;
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, &error), -EBADMSG);
        assert_string_equal(error.reason, "UserPassword is longer than 72 bytes");
}

static void test_redact(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(fixtures); i++) {
                _cleanup_free_ char *buf = NULL, *red = NULL;
                size_t size, rsize;
                OvfEnv e = {};

                buf = fixture_read(fixtures[i].fixture, &size);
                assert_non_null(strstr(buf, ">UserPassword<"));
                assert_int_equal(ovf_env_redact(buf, size, &red, &rsize), 0);
                assert_int_equal(strlen(red), rsize);
                assert_null(strstr(red, ">UserPassword<"));
                /* Still a valid ovf-env with everything else intact, and an empty password. */
                assert_int_equal(ovf_env_parse(red, rsize, &e, NULL), 0);
                assert_string_equal(e.password, "");
                assert_string_equal(e.username, "UserName");
                assert_string_equal(e.public_keys[0].value, "ssh-rsa AAAANOTAREALKEY== foo@bar.local");
                assert_int_equal(e.provision_guest_agent, fixtures[i].provision_guest_agent);
                ovf_env_done(&e);
        }
}

/* A field's value is its own text: a UserPassword nested in CustomData is not part of it (fuzz-ovf-env). */
static void test_nested_password(void **state) {
        _cleanup_free_ char *buf = NULL, *red = NULL;
        char *at, *doc = NULL;
        size_t size, rsize;
        OvfEnv e = {}, r = {};

        buf = fixture_read("ovf-env.xml", &size);
        at = strstr(buf, "</HostName>");
        assert_non_null(at);
        assert_true(asprintf(&doc, "%.*s<UserPassword>nested</UserPassword>%s", (int) (at - buf), buf, at) > 0);
        assert_int_equal(ovf_env_parse(doc, strlen(doc), &e, NULL), 0);
        assert_string_equal(e.hostname, "HostName");
        assert_int_equal(ovf_env_redact(doc, strlen(doc), &red, &rsize), 0);
        assert_null(strstr(red, "nested"));
        assert_int_equal(ovf_env_parse(red, rsize, &r, NULL), 0);
        assert_string_equal(r.hostname, e.hostname);
        ovf_env_done(&e);
        ovf_env_done(&r);
        free(doc);
}

/* Every single-byte corruption of a fixture either parses or fails cleanly (run under ASan in CI). */
static void test_corruptions(void **state) {
        static const char bytes[] = { 0, '<', '>', '/', '"', '&', 'x', (char) 0xff };
        _cleanup_free_ char *orig = NULL;
        size_t size;

        orig = fixture_read("ovf-env.xml", &size);
        for (size_t pos = 0; pos < size; pos++)
                for (size_t b = 0; b < ELEMENTSOF(bytes); b++) {
                        _cleanup_free_ char *copy = memdup(orig, size), *red = NULL;
                        _cleanup_error_ Error error = ERROR_NULL;
                        OvfEnv e = {};
                        int r;

                        copy[pos] = bytes[b];
                        r = ovf_env_parse(copy, size, &e, &error);
                        if (r >= 0) {
                                assert_non_null(e.hostname);
                                assert_non_null(e.username);
                                assert_false(error_is_set(&error));
                                ovf_env_done(&e);
                        } else
                                assert_true(r == -EBADMSG || r == -E2BIG);
                        if (ovf_env_redact(copy, size, &red, NULL) >= 0)
                                assert_null(strstr(red, ">UserPassword<"));
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_optional_absent),
                cmocka_unit_test(test_required),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_password_too_long),
                cmocka_unit_test(test_redact),
                cmocka_unit_test(test_nested_password),
                cmocka_unit_test(test_corruptions),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
