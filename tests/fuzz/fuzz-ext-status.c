/* SPDX-License-Identifier: MIT */
/*
 * status/<seq>.status written by an extension (extensions/status-blob.c ext_status_parse, wire protocol
 * §4.7). Extensions are third-party code: the file is untrusted. The status is always one of the four values
 * the aggregate blob may carry, at most EXT_STATUS_SUBSTATUS_MAX substatus entries.
 */
#include "fuzz.h"
#include "status-blob.h"

static bool status_value_ok(const char *s) {
        return s && (streq(s, "transitioning") || streq(s, "warning") || streq(s, "error") ||
                     streq(s, "success"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ExtensionStatus s = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (ext_status_parse((const char *) data, size, &s, &error) >= 0) {
                fuzz_check(status_value_ok(s.status));
                fuzz_check(fuzz_string_ok(s.name, FUZZ_INPUT_MAX));
                fuzz_check(fuzz_string_ok(s.configuration_applied_time, FUZZ_INPUT_MAX));
                fuzz_check(fuzz_string_ok(s.operation, FUZZ_INPUT_MAX));
                fuzz_check(fuzz_string_ok(s.message, FUZZ_INPUT_MAX));
                fuzz_check(s.n_substatus <= EXT_STATUS_SUBSTATUS_MAX);
                fuzz_check(s.n_substatus == 0 || s.substatus);
                for (size_t i = 0; i < s.n_substatus; i++) {
                        fuzz_check(status_value_ok(s.substatus[i].status));
                        fuzz_check(fuzz_string_ok(s.substatus[i].name, FUZZ_INPUT_MAX));
                        fuzz_check(fuzz_string_ok(s.substatus[i].message, FUZZ_INPUT_MAX));
                }
                fuzz_check(s.truncated == (size > EXT_STATUS_FILE_MAX_SIZE));
                ext_status_done(&s);
        }
        free(error);
        return 0;
}
