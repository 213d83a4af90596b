/* SPDX-License-Identifier: MIT */
/*
 * Azure's HCL report: what the paravisor (HCL) of a confidential VM writes to the vTPM's NV index 0x01400001
 * (tpm2.h). All integers little-endian (Azure "Guest attestation for confidential VMs", attestation report
 * format; the same layout azure-cvm-tooling's az-cvm-vtpm parses):
 *
 *   offset   0  attestation header, 32 bytes: signature "HCLA", version, report size, request type, status,
 *               3 reserved words
 *   offset  32  the hardware report, 1184 bytes: an AMD SEV-SNP ATTESTATION_REPORT (1184 bytes) or an Intel TDX
 *               TDREPORT (1024 bytes, zero-padded)
 *   offset 1216  IGVM request data: data size, version, report type (2 = SEV-SNP, 4 = TDX), hash type of the
 *               runtime data (1 = SHA-256, 2 = SHA-384, 3 = SHA-512), runtime data size — 20 bytes
 *   offset 1236  the runtime data: JSON runtime claims ({"keys": [… "kid": "HCLAkPub" …], "vm-configuration":
 *               {"vmUniqueId": …, "secure-boot": …, "tpm-enabled": …}, "user-data": …})
 *
 * The hardware report's REPORT_DATA (SEV-SNP: offset 0x50; TDX REPORTMACSTRUCT: offset 128; 64 bytes) begins
 * with the hash of the runtime data: hcl_report_parse() checks that binding, which ties the vTPM's attestation
 * key in the claims to the hardware report. It does NOT verify the hardware report's signature (AMD VCEK / Intel
 * PCK chains, TCB levels): that is an attestation service's job, to which `azl-agent attest --evidence` hands the
 * report.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HCL_REPORT_MAX             (16U * 1024U)
#define HCL_HEADER_SIZE            32U
#define HCL_HW_REPORT_OFFSET       32U
#define HCL_HW_REPORT_SPACE        1184U
#define HCL_SNP_REPORT_SIZE        1184U
#define HCL_TDX_REPORT_SIZE        1024U
#define HCL_REQUEST_DATA_OFFSET    (HCL_HW_REPORT_OFFSET + HCL_HW_REPORT_SPACE) /* 1216 */
#define HCL_REQUEST_DATA_SIZE      20U
#define HCL_RUNTIME_DATA_OFFSET    (HCL_REQUEST_DATA_OFFSET + HCL_REQUEST_DATA_SIZE) /* 1236 */
#define HCL_SNP_REPORT_DATA_OFFSET 0x50U
#define HCL_TDX_REPORT_DATA_OFFSET 128U
#define HCL_REPORT_TYPE_SNP        2U
#define HCL_REPORT_TYPE_TDX        4U

typedef struct HclReport {
        uint32_t version;
        uint32_t report_size; /* as the header says */
        uint32_t request_type;
        uint32_t status;
        uint32_t report_type; /* HCL_REPORT_TYPE_* */
        uint32_t hash_type;
        const uint8_t *hw_report; /* pointers into the parsed buffer */
        size_t hw_report_size;
        const uint8_t *runtime_data;
        size_t runtime_data_size;
        bool runtime_data_bound; /* the hardware report's REPORT_DATA starts with the runtime data's hash */
        char vm_unique_id[37];   /* runtime claims vm-configuration.vmUniqueId, normalized; "" if absent */
} HclReport;

/* "sev-snp", "tdx", or NULL for another type. */
const char *hcl_report_type_to_string(uint32_t type);

/* Parses buf (pure, bounded). -EBADMSG with a reason for anything that is not an HCL report of a known type. */
int hcl_report_parse(const void *buf, size_t len, HclReport *ret, char **ret_error);
