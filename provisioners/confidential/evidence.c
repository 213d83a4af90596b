/* SPDX-License-Identifier: MIT */
/*
 * Reading the HCL report (see evidence.h): one TPM session, the reasons a user can act on.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evidence.h"
#include "macro.h"
#include "strutil.h"
#include "tpm2.h"

static int set_reason(char **ret_reason, int error, const char *fmt, ...) _printf_(3, 4);
static int set_reason(char **ret_reason, int error, const char *fmt, ...) {
        va_list ap;

        if (ret_reason) {
                va_start(ap, fmt);
                if (strprintfv(ret_reason, fmt, ap) < 0)
                        error = -ENOMEM;
                va_end(ap);
        }
        return error;
}

int evidence_read_hcl_report(int root_fd, const char *tpm_device, void **ret_data, size_t *ret_size,
                             HclReport *ret, char **ret_reason) {
        _cleanup_(tpm2_closep) Tpm2 *tpm = NULL;
        _cleanup_free_ char *why = NULL;
        _cleanup_free_ void *data = NULL;
        HclReport h;
        uint32_t rc = 0;
        char rc_text[96];
        size_t size = 0;
        int r;

        r = tpm2_open(root_fd, tpm_device, &tpm);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_reason(ret_reason, r, "no TPM at %s (%s)", tpm_device,
                                  r == -ENOTTY ? "neither a character device nor a socket" : strerror(-r));
        r = tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc);
        switch (r) {
        case 0:
                break;
        case -ENOMEM:
                return r;
        case -ENOENT:
                return set_reason(ret_reason, r,
                                  "the TPM at %s has no NV index 0x%08x: no HCL report (not an Azure "
                                  "confidential VM)",
                                  tpm_device, TPM2_NV_INDEX_HCL_REPORT);
        case -ENODATA:
                return set_reason(ret_reason, r, "NV index 0x%08x in the TPM at %s was never written",
                                  TPM2_NV_INDEX_HCL_REPORT, tpm_device);
        case -EACCES:
                return set_reason(ret_reason, r,
                                  "NV index 0x%08x in the TPM at %s is not readable with the empty owner "
                                  "or index password%s%s",
                                  TPM2_NV_INDEX_HCL_REPORT, tpm_device, rc ? ": " : "",
                                  rc ? tpm2_rc_to_string(rc, rc_text, sizeof rc_text) : "");
        case -EPROTO:
                return set_reason(ret_reason, r, "the TPM at %s refused to read NV index 0x%08x: %s",
                                  tpm_device, TPM2_NV_INDEX_HCL_REPORT,
                                  tpm2_rc_to_string(rc, rc_text, sizeof rc_text));
        default:
                return set_reason(ret_reason, r, "reading NV index 0x%08x from the TPM at %s failed: %s",
                                  TPM2_NV_INDEX_HCL_REPORT, tpm_device,
                                  r == -EBADMSG ? "malformed TPM response" : strerror(-r));
        }
        r = hcl_report_parse(data, size, &h, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return set_reason(ret_reason, r, "NV index 0x%08x holds no HCL report: %s",
                                  TPM2_NV_INDEX_HCL_REPORT, strna(why));
        *ret = h;
        *ret_size = size;
        *ret_data = TAKE_PTR(data);
        return 0;
}
