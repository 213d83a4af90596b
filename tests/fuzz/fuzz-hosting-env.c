/* SPDX-License-Identifier: MIT */
/*
 * HostingEnvironmentConfig (imds-client/wire-parse.c hosting_env_parse): three attributes, each bounded, and
 * the StoredCertificates thumbprints (40 upper-case hex digits each, at most WIRE_STORED_CERTIFICATES_MAX).
 */
#include "fuzz.h"
#include "wireserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        HostingEnvironment h = {};

        if (!fuzz_setup(size))
                return 0;

        if (hosting_env_parse((const char *) data, size, &h) < 0)
                return 0;

        fuzz_check(fuzz_string_ok(h.vm_name, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(h.role_name, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(h.deployment_name, WIRE_FIELD_MAX));
        fuzz_check(fuzz_strv_ok(h.stored_certificates, WIRE_STORED_CERTIFICATES_MAX, 40));
        for (char **t = h.stored_certificates; t && *t; t++)
                fuzz_check(strlen(*t) == 40 && strspn(*t, "0123456789ABCDEF") == 40);
        hosting_env_done(&h);
        return 0;
}
