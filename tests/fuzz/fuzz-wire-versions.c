/* SPDX-License-Identifier: MIT */
/*
 * The WireServer ?comp=versions document (imds-client/wire-parse.c wire_versions_parse, protocol §1.3): at most
 * WIRE_VERSIONS_MAX supported versions, and wire_versions_supports() agrees with what was parsed.
 */
#include "fuzz.h"
#include "wireserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        WireVersions v = {};

        if (!fuzz_setup(size))
                return 0;

        if (wire_versions_parse((const char *) data, size, &v) < 0)
                return 0;

        fuzz_check(fuzz_string_ok(v.preferred, WIRE_RESPONSE_MAX));
        fuzz_check(fuzz_strv_ok(v.supported, WIRE_VERSIONS_MAX, WIRE_RESPONSE_MAX));
        if (v.preferred)
                fuzz_check(wire_versions_supports(&v, v.preferred));
        for (char **p = v.supported; p && *p; p++)
                fuzz_check(wire_versions_supports(&v, *p));
        (void) wire_versions_supports(&v, WIRE_PROTOCOL_VERSION);
        wire_versions_done(&v);
        return 0;
}
