/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml parser: our own documents (tests/data/media/ovf-env*.xml) parse to the values waagent's rules
 * give (azurelinuxagent/common/protocol/ovfenv.py, protocol §5.3), plus the edge cases. The
 * interop group does the same for every ovf-env fixture of WALinuxAgent.
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
        const char *file;
        bool provision_guest_agent;
        const char *provision_guest_agent_raw;
} Expected;

/* A set of documents that differ only in ProvisionGuestAgent, and the values they all share. */
typedef struct OvfData {
        TestReadFn read;
        Expected files[4];
        const char *hostname, *username, *password;
        const char *key_fingerprint, *key_path, *key_value, *pair_fingerprint, *pair_path;
        const char *custom_data_raw, *custom_data;
} OvfData;

/* waagent disables the agent only for a literal "false". */
static const OvfData own_data = {
        .read = test_data_read,
        .files =
                {
                        {"media/ovf-env.xml", false, "false"},
                        {"media/ovf-env-agent-true.xml", true, "true"},
                        {"media/ovf-env-agent-empty.xml", true, ""},
                        {"media/ovf-env-agent-garbage.xml", true, "not a boolean"},
                },
        .hostname = "azl-media-host",
        .username = "azlmedia",
        .password = "Med1a-Pa55word!",
        .key_fingerprint = "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D",
        .key_path = "$HOME/azlmedia/.ssh/authorized_keys",
        .key_value = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIADZLOS4WZn6UHzr0sBft+0X38fFhdVu7Op0LW1YUbUn "
                     "azlmedia@azl-media-host (TEST KEY)",
        .pair_fingerprint = "15EBEC74C36C0B59812AF3A3D7B2FE7DC0D2A6EF",
        .pair_path = "$HOME/azlmedia/.ssh/id_rsa",
        .custom_data_raw = "I2Nsb3VkLWNvbmZpZwpydW5jbWQ6CiAgLSBlY2hvIGZyb20gdGhlIG1lZGlhCg==",
        .custom_data = "#cloud-config\nruncmd:\n  - echo from the media\n",
};

static const OvfData peer_data = {
        .read = fixture_read,
        .files =
                {
                        {"ovf-env.xml", false, "false"},
                        {"ovf-env-2.xml", true, "true"},
                        {"ovf-env-3.xml", true, ""},
                        {"ovf-env-4.xml", true, "bad data"},
                },
        .hostname = "HostName",
        .username = "UserName",
        .password = "UserPassword",
        .key_fingerprint = "EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62",
        .key_path = "$HOME/UserName/.ssh/authorized_keys",
        .key_value = "ssh-rsa AAAANOTAREALKEY== foo@bar.local",
        .pair_fingerprint = "EB0C0AB4B2D5FC35F2F0658D19F44C8283E2DD62",
        .pair_path = "$HOME/UserName/.ssh/id_rsa",
        /* "CustomData" is not base64 (10 characters): kept raw, as waagent saves it undecoded. */
        .custom_data_raw = "CustomData",
        .custom_data = NULL,
};

static void check_common(const OvfData *d, const OvfEnv *e) {
        assert_string_equal(e->version, "1.0");
        assert_string_equal(e->hostname, d->hostname);
        assert_string_equal(e->username, d->username);
        assert_non_null(e->password);
        assert_string_equal(e->password, d->password);
        assert_false(e->disable_ssh_password_auth);
        assert_int_equal(e->n_public_keys, 1);
        assert_string_equal(e->public_keys[0].fingerprint, d->key_fingerprint);
        assert_string_equal(e->public_keys[0].path, d->key_path);
        assert_string_equal(e->public_keys[0].value, d->key_value);
        assert_int_equal(e->n_key_pairs, 1);
        assert_string_equal(e->key_pairs[0].fingerprint, d->pair_fingerprint);
        assert_string_equal(e->key_pairs[0].path, d->pair_path);
        assert_string_equal(e->custom_data_raw, d->custom_data_raw);
        if (d->custom_data) {
                assert_int_equal(e->custom_data_size, strlen(d->custom_data));
                assert_memory_equal(e->custom_data, d->custom_data, e->custom_data_size);
        } else
                assert_null(e->custom_data);
        assert_false(e->preprovisioned_vm);
        assert_null(e->preprovisioned_vm_type);
        assert_false(e->provision_guest_proxy_agent);
}

static void check_documents(const OvfData *d) {
        for (size_t i = 0; i < ELEMENTSOF(d->files); i++) {
                _cleanup_error_ Error error = ERROR_NULL;
                _cleanup_free_ char *buf = NULL;
                OvfEnv e = {};
                size_t size;

                buf = d->read(d->files[i].file, &size);
                assert_int_equal(ovf_env_parse(buf, size, &e, &error), 0);
                assert_false(error_is_set(&error));
                check_common(d, &e);
                assert_int_equal(e.provision_guest_agent, d->files[i].provision_guest_agent);
                assert_string_equal(e.provision_guest_agent_raw, d->files[i].provision_guest_agent_raw);
                ovf_env_done(&e);
        }
}

/* ">password<", which must be gone after redaction */
static char *password_element_text(const OvfData *d) {
        char *s = NULL;

        assert_true(asprintf(&s, ">%s<", d->password) > 0);
        return s;
}

/* A minimal document in the same shape; %s slots: conf set contents, platform settings contents. */
static char *make_doc(const char *conf, const char *platform) {
        char *s = NULL;

        assert_true(
                asprintf(&s,
                         "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                         "<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" "
                         "xmlns:wa=\"http://schemas.microsoft.com/windowsazure\">"
                         "<wa:ProvisioningSection><wa:Version>1.0</wa:Version>"
                         "<LinuxProvisioningConfigurationSet "
                         "xmlns=\"http://schemas.microsoft.com/windowsazure\">"
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
        _cleanup_free_ char *doc =
                make_doc("<HostName>vm1.example.com</HostName><UserName>azureuser</UserName>"
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
        /* An element of another namespace does not count. */
        expect_error("<x:HostName xmlns:x=\"urn:other\">h</x:HostName><UserName>u</UserName>", pga,
                     "HostName not found");
}

/* ProvisionGuestAgent is optional (cloud-init): absent means the guest agent is provisioned. */
static void test_provision_guest_agent_absent(void **state) {
        _cleanup_free_ char *doc = make_doc("<HostName>h</HostName><UserName>u</UserName>", "");
        _cleanup_error_ Error error = ERROR_NULL;
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, &error), 0);
        assert_false(error_is_set(&error));
        assert_true(e.provision_guest_agent);
        assert_null(e.provision_guest_agent_raw);
        assert_string_equal(e.hostname, "h");
        ovf_env_done(&e);
}

/* The whole document with its sections spelled out, for duplicating a section. */
static char *make_sections(const char *provisioning, const char *platform) {
        char *s = NULL;

        assert_true(asprintf(&s,
                             "<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" "
                             "xmlns:wa=\"http://schemas.microsoft.com/windowsazure\">%s%s</Environment>",
                             provisioning, platform) > 0);
        return s;
}

#define PROV_SECTION(user)                                                                                  \
        "<wa:ProvisioningSection><wa:Version>1.0</wa:Version><wa:LinuxProvisioningConfigurationSet>"        \
        "<wa:HostName>h</wa:HostName><wa:UserName>" user "</wa:UserName>"                                   \
        "</wa:LinuxProvisioningConfigurationSet></wa:ProvisioningSection>"
#define PLAT_SECTION                                                                                        \
        "<wa:PlatformSettingsSection><wa:PlatformSettings><wa:ProvisionGuestAgent>true"                     \
        "</wa:ProvisionGuestAgent></wa:PlatformSettings></wa:PlatformSettingsSection>"

/* An element that may appear once but appears twice makes the document ambiguous: rejected, as cloud-init
 * does, with the element and its parent named — never first-wins. */
static void test_duplicates(void **state) {
        const char *pga = "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>";
        static const char *const key =
                "<SSH><PublicKeys><PublicKey><Path>/home/u/.ssh/authorized_keys</Path>"
                "<Value>ssh-ed25519 AAAA</Value><Value>ssh-ed25519 "
                "BBBB</Value></PublicKey></PublicKeys></SSH>";

        expect_error(
                "<HostName>a</HostName><UserName>u</UserName><HostName>b</HostName>", pga,
                "HostName appears 2 times in LinuxProvisioningConfigurationSet (at most once is allowed)");
        expect_error(
                "<HostName>h</HostName><UserName>u</UserName><UserName>evil</UserName>", pga,
                "UserName appears 2 times in LinuxProvisioningConfigurationSet (at most once is allowed)");
        /* Also when the copies are identical, and across the two namespace spellings. */
        expect_error(
                "<HostName>h</HostName><UserName>u</UserName>"
                "<wa:UserName xmlns:wa=\"http://schemas.microsoft.com/windowsazure\">u</wa:UserName>",
                pga,
                "UserName appears 2 times in LinuxProvisioningConfigurationSet (at most once is allowed)");
        expect_error("<HostName>h</HostName><UserName>u</UserName><UserPassword>a1b2c3d4</UserPassword>"
                     "<UserPassword>e5f6g7h8</UserPassword>",
                     pga,
                     "UserPassword appears 2 times in LinuxProvisioningConfigurationSet (at most once is "
                     "allowed)");
        expect_error(
                "<HostName>h</HostName><UserName>u</UserName><CustomData>YQ==</CustomData>"
                "<CustomData>Yg==</CustomData>",
                pga,
                "CustomData appears 2 times in LinuxProvisioningConfigurationSet (at most once is allowed)");
        expect_error("<HostName>h</HostName><UserName>u</UserName>"
                     "<DisableSshPasswordAuthentication>true</DisableSshPasswordAuthentication>"
                     "<DisableSshPasswordAuthentication>false</DisableSshPasswordAuthentication>",
                     pga,
                     "DisableSshPasswordAuthentication appears 2 times in LinuxProvisioningConfigurationSet "
                     "(at most once is allowed)");
        {
                _cleanup_free_ char *conf = NULL;

                assert_true(asprintf(&conf, "<HostName>h</HostName><UserName>u</UserName>%s", key) > 0);
                expect_error(conf, pga, "Value appears 2 times in PublicKey (at most once is allowed)");
        }
        expect_error("<HostName>h</HostName><UserName>u</UserName><SSH/><SSH/>", pga,
                     "SSH appears 2 times in LinuxProvisioningConfigurationSet (at most once is allowed)");
        expect_error("<HostName>h</HostName><UserName>u</UserName>",
                     "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>"
                     "<wa:ProvisionGuestAgent>false</wa:ProvisionGuestAgent>",
                     "ProvisionGuestAgent appears 2 times in PlatformSettings (at most once is allowed)");
        expect_error("<HostName>h</HostName><UserName>u</UserName>",
                     "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>"
                     "<wa:PreprovisionedVMType>Savable</wa:PreprovisionedVMType>"
                     "<wa:PreprovisionedVmType>Running</wa:PreprovisionedVmType>",
                     "PreprovisionedVMType and PreprovisionedVmType disagree");

        /* Whole sections twice. */
        {
                static const struct {
                        const char *prov, *plat, *error;
                } cases[] = {
                        {PROV_SECTION("u") PROV_SECTION("evil"), PLAT_SECTION,
                         "ProvisioningSection appears 2 times in Environment (at most once is allowed)"},
                        {PROV_SECTION("u"), PLAT_SECTION PLAT_SECTION,
                         "PlatformSettingsSection appears 2 times in Environment (at most once is allowed)"},
                        {"<wa:ProvisioningSection><wa:Version>1.0</wa:Version><wa:Version>2.0</wa:Version>"
                         "<wa:LinuxProvisioningConfigurationSet><wa:HostName>h</wa:HostName>"
                         "<wa:UserName>u</wa:UserName></wa:LinuxProvisioningConfigurationSet>"
                         "</wa:ProvisioningSection>",
                         PLAT_SECTION,
                         "Version appears 2 times in ProvisioningSection (at most once is allowed)"},
                };

                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        _cleanup_free_ char *doc = make_sections(cases[i].prov, cases[i].plat);
                        _cleanup_error_ Error error = ERROR_NULL;
                        OvfEnv e = {};

                        assert_int_equal(parse(doc, &e, &error), -EBADMSG);
                        assert_string_equal(error.reason, cases[i].error);
                }
        }

        /* Lists stay lists; one element of another namespace is not a duplicate; agreeing spellings pass. */
        {
                _cleanup_free_ char *doc =
                        make_doc("<HostName>h</HostName><UserName>u</UserName><x:UserName "
                                 "xmlns:x=\"urn:other\">v</x:UserName>"
                                 "<SSH><PublicKeys><PublicKey><Value>ssh-ed25519 AAAA</Value></PublicKey>"
                                 "<PublicKey><Value>ssh-ed25519 BBBB</Value></PublicKey></PublicKeys></SSH>",
                                 "<wa:PreprovisionedVMType>Savable</wa:PreprovisionedVMType>"
                                 "<wa:PreprovisionedVmType>Savable</wa:PreprovisionedVmType>");
                OvfEnv e = {};

                assert_int_equal(parse(doc, &e, NULL), 0);
                assert_string_equal(e.username, "u");
                assert_int_equal(e.n_public_keys, 2);
                assert_string_equal(e.preprovisioned_vm_type, "Savable");
                ovf_env_done(&e);
        }
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
        _cleanup_free_ char *doc =
                make_doc("<HostName>h</HostName><UserName>u</UserName><UserPassword>"
                         "0123456789012345678901234567890123456789012345678901234567890123456789012"
                         "</UserPassword>",
                         "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>");
        _cleanup_error_ Error error = ERROR_NULL;
        OvfEnv e = {};

        assert_int_equal(parse(doc, &e, &error), -EBADMSG);
        assert_string_equal(error.reason, "UserPassword is longer than 72 bytes");
}

/* An empty UserPassword is no password (waagent), never an empty one; our scrubbed marker says it was one. */
static void test_password_empty_and_scrubbed(void **state) {
        static const struct {
                const char *element;
                bool scrubbed;
        } cases[] = {
                {"<UserPassword></UserPassword>", false},
                {"<UserPassword/>", false},
                {"<UserPassword " OVF_SCRUBBED_ATTR "=\"" OVF_SCRUBBED_VALUE "\"/>", true},
                {"<UserPassword " OVF_SCRUBBED_ATTR "=\"someone-else\"/>", false},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *body = NULL, *doc = NULL, *red = NULL;
                OvfEnv e = {};

                assert_true(asprintf(&body, "<HostName>h</HostName><UserName>u</UserName>%s",
                                     cases[i].element) > 0);
                doc = make_doc(body, "<wa:ProvisionGuestAgent>true</wa:ProvisionGuestAgent>");
                assert_int_equal(parse(doc, &e, NULL), 0);
                assert_null(e.password);
                assert_int_equal(e.password_scrubbed, cases[i].scrubbed);
                ovf_env_done(&e);
                /* Nothing to redact: 0, and no marker added to an element that held no password. */
                assert_int_equal(ovf_env_redact(doc, strlen(doc), &red, NULL), 0);
                assert_int_equal(parse(red, &e, NULL), 0);
                assert_int_equal(e.password_scrubbed, cases[i].scrubbed);
                ovf_env_done(&e);
        }
}

static void check_redact(const OvfData *d) {
        _cleanup_free_ char *pw = password_element_text(d);

        for (size_t i = 0; i < ELEMENTSOF(d->files); i++) {
                _cleanup_free_ char *buf = NULL, *red = NULL;
                size_t size, rsize;
                OvfEnv e = {};

                buf = d->read(d->files[i].file, &size);
                assert_non_null(strstr(buf, pw));
                assert_int_equal(ovf_env_redact(buf, size, &red, &rsize), 1);
                assert_int_equal(strlen(red), rsize);
                assert_null(strstr(red, pw));
                /* Still a valid ovf-env with everything else intact, no password, marked as scrubbed. */
                assert_int_equal(ovf_env_parse(red, rsize, &e, NULL), 0);
                assert_null(e.password);
                assert_true(e.password_scrubbed);
                assert_string_equal(e.username, d->username);
                assert_string_equal(e.public_keys[0].value, d->key_value);
                assert_int_equal(e.provision_guest_agent, d->files[i].provision_guest_agent);
                ovf_env_done(&e);
        }
}

/* A field's value is its own text: a UserPassword nested in CustomData is not part of it (fuzz-ovf-env). */
static void check_nested_password(const OvfData *d) {
        _cleanup_free_ char *buf = NULL, *red = NULL;
        char *at, *doc = NULL;
        size_t size, rsize;
        OvfEnv e = {}, r = {};

        buf = d->read(d->files[0].file, &size);
        at = strstr(buf, "</HostName>");
        assert_non_null(at);
        assert_true(asprintf(&doc, "%.*s<UserPassword>nested</UserPassword>%s", (int) (at - buf), buf, at) >
                    0);
        assert_int_equal(ovf_env_parse(doc, strlen(doc), &e, NULL), 0);
        assert_string_equal(e.hostname, d->hostname);
        assert_int_equal(ovf_env_redact(doc, strlen(doc), &red, &rsize), 1);
        assert_null(strstr(red, "nested"));
        assert_int_equal(ovf_env_parse(red, rsize, &r, NULL), 0);
        assert_string_equal(r.hostname, e.hostname);
        ovf_env_done(&e);
        ovf_env_done(&r);
        free(doc);
}

/* Every single-byte corruption of a document either parses or fails cleanly (run under ASan in CI). */
static void check_corruptions(const OvfData *d) {
        static const char bytes[] = {0, '<', '>', '/', '"', '&', 'x', (char) 0xff};
        _cleanup_free_ char *orig = NULL, *pw = password_element_text(d);
        size_t size;

        orig = d->read(d->files[0].file, &size);
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
                                assert_null(strstr(red, pw));
                }
}

#define DATA_TESTS(prefix, data)                                                                            \
        static void prefix##_documents(void **state) {                                                      \
                check_documents(&data);                                                                     \
        }                                                                                                   \
        static void prefix##_redact(void **state) {                                                         \
                check_redact(&data);                                                                        \
        }                                                                                                   \
        static void prefix##_nested_password(void **state) {                                                \
                check_nested_password(&data);                                                               \
        }                                                                                                   \
        static void prefix##_corruptions(void **state) {                                                    \
                check_corruptions(&data);                                                                   \
        }

DATA_TESTS(test, own_data)
DATA_TESTS(interop, peer_data)

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_documents),
                cmocka_unit_test(interop_redact),
                cmocka_unit_test(interop_nested_password),
                cmocka_unit_test(interop_corruptions),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_documents),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_optional_absent),
                cmocka_unit_test(test_required),
                cmocka_unit_test(test_provision_guest_agent_absent),
                cmocka_unit_test(test_duplicates),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_password_too_long),
                cmocka_unit_test(test_password_empty_and_scrubbed),
                cmocka_unit_test(test_redact),
                cmocka_unit_test(test_nested_password),
                cmocka_unit_test(test_corruptions),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
