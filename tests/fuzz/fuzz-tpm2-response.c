/* SPDX-License-Identifier: MIT */
/*
 * TPM 2.0 responses (provisioners/confidential/tpm2.c): the header check and the three response parsers on the same input. A
 * successful NV_Read parse points inside the input; a successful NV_ReadPublic parse consumed the input exactly.
 */
#include "fuzz.h"
#include "tpm2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Tpm2NvPublic pub;
        const uint8_t *p;
        size_t n = 0;
        uint32_t rc = 0, v = 0, auth = 0;

        if (!fuzz_setup(size))
                return 0;

        if (tpm2_parse_header(data, size, &rc) >= 0)
                fuzz_check(rc == 0 && size >= 10);
        (void) tpm2_parse_nv_buffer_max(data, size, &v);
        if (tpm2_parse_nv_read_public(data, size, &pub) >= 0)
                (void) tpm2_nv_read_auth(&pub, &auth);
        if (tpm2_parse_nv_read(data, size, &p, &n) >= 0)
                fuzz_check(p >= data && n <= size && p + n <= data + size);
        return 0;
}
