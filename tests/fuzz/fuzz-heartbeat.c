/* SPDX-License-Identifier: MIT */
/*
 * heartbeat.log written by an extension (extensions/status-blob.c heartbeat_parse, wire protocol §4.8).
 */
#include "fuzz.h"
#include "status-blob.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Heartbeat h = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (heartbeat_parse((const char *) data, size, &h, &error) >= 0) {
                fuzz_check(h.status && (streq(h.status, "Ready") || streq(h.status, "NotReady") ||
                                        streq(h.status, "Installing") || streq(h.status, "Unresponsive")));
                fuzz_check(fuzz_string_ok(h.message, EXT_STATUS_FILE_MAX_SIZE));
                heartbeat_done(&h);
        }
        free(error);
        return 0;
}
