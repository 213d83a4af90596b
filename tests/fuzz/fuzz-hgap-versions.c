/* SPDX-License-Identifier: MIT */
/*
 * The HostGAPlugin /versions JSON array (imds-client/wire-parse.c hgap_versions_parse, protocol §2): 1, 0 or a
 * negative errno, nothing else.
 */
#include <errno.h>

#include "fuzz.h"
#include "wireserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        int r;

        if (!fuzz_setup(size))
                return 0;

        r = hgap_versions_parse((const char *) data, size);
        fuzz_check(r == 0 || r == 1 || r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
        return 0;
}
