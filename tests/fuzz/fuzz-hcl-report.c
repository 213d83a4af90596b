/* SPDX-License-Identifier: MIT */
/*
 * Azure's HCL report (provisioners/confidential/hcl-report.c). Invariants of a successful parse: a known report type, the
 * hardware report and the runtime data inside the input, vmUniqueId empty or a normalized UUID.
 */
#include "fuzz.h"
#include "hcl-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *reason = NULL;
        HclReport h;

        if (!fuzz_setup(size))
                return 0;

        if (hcl_report_parse(data, size, &h, &reason) >= 0) {
                fuzz_check(hcl_report_type_to_string(h.report_type));
                fuzz_check(h.hw_report == data + HCL_HW_REPORT_OFFSET);
                fuzz_check(h.hw_report_size <= HCL_HW_REPORT_SPACE);
                fuzz_check(h.runtime_data == data + HCL_RUNTIME_DATA_OFFSET);
                fuzz_check(HCL_RUNTIME_DATA_OFFSET + h.runtime_data_size <= size);
                fuzz_check(h.vm_unique_id[0] == 0 || strnlen(h.vm_unique_id, sizeof h.vm_unique_id) == 36);
                fuzz_check(!reason);
        } else
                fuzz_check(size < HCL_RUNTIME_DATA_OFFSET || size > HCL_REPORT_MAX || reason);
        free(reason);
        return 0;
}
