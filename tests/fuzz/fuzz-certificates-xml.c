/* SPDX-License-Identifier: MIT */
/*
 * The Certificates document (extensions/certificates.c certificates_xml_parse, wire protocol §1.6): data
 * only when the format is supported, never more than CERTIFICATES_DATA_MAX.
 */
#include "certificates.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CertificatesXml c = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (certificates_xml_parse((const char *) data, size, &c, &error) >= 0) {
                fuzz_check(fuzz_string_ok(c.format, FUZZ_INPUT_MAX));
                fuzz_check(c.format_supported || !c.data);
                fuzz_check(!c.data || c.data_size <= CERTIFICATES_DATA_MAX);
                fuzz_check(c.data || c.data_size == 0);
                certificates_xml_done(&c);
        }
        free(error);
        return 0;
}
