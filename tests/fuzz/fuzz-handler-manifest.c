/* SPDX-License-Identifier: MIT */
/*
 * HandlerManifest.json from an extension package (extensions/handler-manifest.c handler_manifest_parse,
 * wire protocol §4.2). The package comes from a blob URL: untrusted.
 */
#include "fuzz.h"
#include "handler-manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HandlerManifest m = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (handler_manifest_parse((const char *) data, size, &m, &error) >= 0) {
                fuzz_check(fuzz_string_ok(m.name, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.version, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.install_command, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.uninstall_command, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.update_command, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.enable_command, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.disable_command, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.signing_type, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.signing_publisher, HANDLER_MANIFEST_MAX));
                fuzz_check(fuzz_string_ok(m.signing_version, HANDLER_MANIFEST_MAX));
                fuzz_check(m.update_mode >= 0 && m.update_mode < _HANDLER_UPDATE_MODE_MAX);
                handler_manifest_done(&m);
        }
        free(error);
        return 0;
}
