/* SPDX-License-Identifier: MIT */
/*
 * The zip end-of-central-directory scan (extensions/ext-package.c ext_zip_declared_entries, APPNOTE 4.3.14–
 * 4.3.16) that bounds the entry count of a downloaded extension package before libarchive sees it.
 */
#include "ext-package.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint64_t n = 0;

        if (!fuzz_setup(size))
                return 0;

        if (ext_zip_declared_entries(data, size, &n) >= 0)
                fuzz_check(size >= 22);
        return 0;
}
