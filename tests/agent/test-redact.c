/* SPDX-License-Identifier: MIT */
/* The structural secret removal of collect-logs (redact.h): each rule on the documents it is for. */
#include <string.h>

#include "macro.h"
#include "redact.h"
#include "tests.h"

static void check(const char *in, const char *want, unsigned n_want) {
        _cleanup_free_ char *out = NULL, *again = NULL;
        unsigned n = 0;

        assert_int_equal(redact_text(in, &out, &n), 0);
        if (!streq(out, want))
                fail_msg("redact(%s)\n got: %s\nwant: %s", in, out, want);
        assert_int_equal(n, n_want);
        /* A fixed point. */
        assert_int_equal(redact_text(out, &again, NULL), 0);
        assert_string_equal(again, out);
}

static void test_json_members(void **state) {
        check("{\"protectedSettingsCertThumbprint\": \"AB12\", \"protectedSettings\": \"MIIB+/=\", \"x\": "
              "1}",
              "{\"protectedSettingsCertThumbprint\": \"AB12\", \"protectedSettings\": \"(removed)\", \"x\": "
              "1}",
              1);
        /* Escaped quotes inside the value do not end it. */
        check("{\"adminPassword\":\"a\\\"b\",\"user\":\"u\"}",
              "{\"adminPassword\":\"(removed)\",\"user\":\"u\"}", 1);
        /* Any member name containing "password", any case; not the word in a value. */
        check("{\"msg\": \"the password is in the vault\", \"DB_PASSWORD\": \"hunter2\"}",
              "{\"msg\": \"the password is in the vault\", \"DB_PASSWORD\": \"(removed)\"}", 1);
        /* JSON inside a JSON string, and inside XML. */
        check("\"message\": \"{\\\"password\\\": \\\"s3cr3t\\\"}\"",
              "\"message\": \"{\\\"password\\\": \\\"(removed)\\\"}\"", 1);
        check("<RuntimeSettings>{&quot;protectedSettings&quot;: &quot;MIIB&quot;}</RuntimeSettings>",
              "<RuntimeSettings>{&quot;protectedSettings&quot;: &quot;(removed)&quot;}</RuntimeSettings>",
              1);
        /* Not a string value: left alone (nothing to blank); unterminated: the rest goes. */
        check("\"password\": null, \"b\"", "\"password\": null, \"b\"", 0);
        check("\"password\": \"abc\ndef", "\"password\": \"(removed)", 1);
}

static void test_xml_elements(void **state) {
        check("<LinuxProvisioningConfigurationSet><UserName>u</UserName><UserPassword>p@ss "
              "w0rd</UserPassword>"
              "<CustomData>I2Nsb3Vk</CustomData></LinuxProvisioningConfigurationSet>",
              "<LinuxProvisioningConfigurationSet><UserName>u</UserName><UserPassword>(removed)</"
              "UserPassword>"
              "<CustomData>(removed)</CustomData></LinuxProvisioningConfigurationSet>",
              2);
        check("<wa:UserPassword xmlns:wa=\"x\"><![CDATA[a<b]]></wa:UserPassword>",
              "<wa:UserPassword xmlns:wa=\"x\">(removed)</wa:UserPassword>", 1);
        check("<UserPassword/><UserPasswordHint>h</UserPasswordHint>",
              "<UserPassword/><UserPasswordHint>h</UserPasswordHint>", 0);
        check("<CustomData>no end tag, all of it goes", "<CustomData>(removed)", 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json_members),
                cmocka_unit_test(test_xml_elements),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
