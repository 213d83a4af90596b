/* SPDX-License-Identifier: MIT */
/*
 * The hardware evidence of an Azure confidential VM: the HCL report in the vTPM's NV index 0x01400001 (tpm2.h),
 * read and parsed (hcl-report.h). Used by `azl-agent attest --evidence` (which hands it on, base64, for an
 * attestation service to appraise) and by the provisioning run (which records whether the guest has one).
 */
#pragma once

#include <stddef.h>

#include "hcl-report.h"

/*
 * Reads the index through tpm_device beneath root_fd and parses it. On success *ret_data holds the report's bytes
 * (ret points into them). On failure -errno and a reason for the user: -ENOENT no TPM or no such index (not a
 * confidential VM), -ENODATA never written, -EACCES not readable with empty owner/index authorization, -EBADMSG
 * not an HCL report, others from the device.
 */
int evidence_read_hcl_report(int root_fd, const char *tpm_device, void **ret_data, size_t *ret_size,
                             HclReport *ret, char **ret_reason);
