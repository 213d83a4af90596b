/* SPDX-License-Identifier: MIT */
/*
 * Base64 and hex decoding (common/strutil.c): CustomData, userData, Certificates <Data>, protected settings
 * and DHCP options all pass through them. Whatever decodes re-encodes to text that decodes to the same bytes.
 */
#include "fuzz.h"
#include "strutil.h"

static void round_trip(int (*decode)(const char *, size_t, void **, size_t *), const uint8_t *data,
                       size_t size, bool hex) {
        _cleanup_free_ void *bytes = NULL, *back = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n = 0, back_n = 0;

        if (decode((const char *) data, size, &bytes, &n) < 0)
                return;
        fuzz_check(bytes || n == 0);
        fuzz_check(n <= size);
        if (hex)
                fuzz_check(hex_encode(bytes, n, false, &text) >= 0);
        else
                fuzz_check(base64_encode(bytes, n, &text) >= 0);
        fuzz_check(decode(text, strlen(text), &back, &back_n) >= 0);
        fuzz_check(back_n == n);
        fuzz_check(n == 0 || memcmp(bytes, back, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (!fuzz_setup(size))
                return 0;

        round_trip(base64_decode, data, size, false);
        round_trip(hex_decode, data, size, true);
        return 0;
}
