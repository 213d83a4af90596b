/* SPDX-License-Identifier: MIT */
/*
 * Just enough TPM 2.0 to read an NV index: three commands sent raw (TCG TPM 2.0 Library, Part 3), no library.
 *
 *   TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES, TPM_PT_NV_BUFFER_MAX)  the largest NV_Read chunk (Part 2 §6.13)
 *   TPM2_NV_ReadPublic(index)                                         size and attributes (Part 3 §31.6)
 *   TPM2_NV_Read(auth, index, size, offset)                           one chunk; the password session TPM_RS_PW
 *                                                                     with an empty password (Part 1 §19.8.4)
 *
 * The authorization follows the index's attributes: AUTHREAD → the index itself, else OWNERREAD → the owner
 * hierarchy (TPM_RH_OWNER), both with the empty password; an index readable only by policy or by the platform is
 * refused. Azure's vTPM keeps the confidential VM's HCL report (hcl-report.h) at 0x01400001, owner-readable
 * (`tpm2_nvread -C o 0x01400001`).
 *
 * The device is /dev/tpmrm0 (the kernel's resource manager: one process' handles cannot clash with another's),
 * or a unix socket that speaks the same raw command stream (swtpm's `--server type=unixio`, for tests). Every
 * response is read to its header's size, bounded by TPM2_RESPONSE_MAX, within TPM2_TIMEOUT_USEC; parsers are pure
 * functions over (buf, len) that check every length against what is left, and are fuzzed.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TPM2_NV_INDEX_HCL_REPORT 0x01400001U /* Azure: the confidential VM's HCL report */
#define TPM2_RESPONSE_MAX        4096U
#define TPM2_NV_DATA_MAX         (16U * 1024U) /* the largest index read */
#define TPM2_NV_CHUNK_DEFAULT    512U          /* when TPM_PT_NV_BUFFER_MAX cannot be read */
#define TPM2_TIMEOUT_USEC        (10U * 1000U * 1000U)

/* TPMA_NV bits (Part 2 §13.4) */
#define TPMA_NV_PPREAD     (1U << 16)
#define TPMA_NV_OWNERREAD  (1U << 17)
#define TPMA_NV_AUTHREAD   (1U << 18)
#define TPMA_NV_POLICYREAD (1U << 19)
#define TPMA_NV_READLOCKED (1U << 28)
#define TPMA_NV_WRITTEN    (1U << 29)

typedef struct Tpm2 Tpm2;

/* Opens path beneath root_fd: a character device (O_RDWR) or a unix stream socket (connected). */
int tpm2_open(int root_fd, const char *path, Tpm2 **ret);
Tpm2 *tpm2_close(Tpm2 *t);
static inline void tpm2_closep(Tpm2 **t) {
        tpm2_close(*t);
}

/* Sends one command and reads its whole response (header size), bounded by max. */
int tpm2_transmit(Tpm2 *t, const uint8_t *cmd, size_t size, uint8_t *resp, size_t max, size_t *ret_size);

typedef struct Tpm2NvPublic {
        uint32_t index;
        uint16_t name_alg;
        uint32_t attributes;
        uint16_t data_size;
} Tpm2NvPublic;

/* ---- pure: command builders (return the length written) and response parsers ---- */

size_t tpm2_build_get_capability_nv_buffer_max(uint8_t buf[static 22]);
size_t tpm2_build_nv_read_public(uint8_t buf[static 14], uint32_t index);
size_t tpm2_build_nv_read(uint8_t buf[static 35], uint32_t auth, uint32_t index, uint16_t size,
                          uint16_t offset);

/* Checks the response header: tag, size equal to len, response code. Returns 0, -EBADMSG, or -EPROTO with the
 * TPM's response code in *ret_rc (when not NULL). */
int tpm2_parse_header(const uint8_t *buf, size_t len, uint32_t *ret_rc);
int tpm2_parse_nv_buffer_max(const uint8_t *buf, size_t len, uint32_t *ret);
int tpm2_parse_nv_read_public(const uint8_t *buf, size_t len, Tpm2NvPublic *ret);
/* The data of an NV_Read response: a pointer into buf. */
int tpm2_parse_nv_read(const uint8_t *buf, size_t len, const uint8_t **ret_data, size_t *ret_size);

/* Which handle authorizes reading: the index (AUTHREAD) or TPM_RH_OWNER (OWNERREAD); -EACCES otherwise. */
int tpm2_nv_read_auth(const Tpm2NvPublic *pub, uint32_t *ret);

/* ---- commands ---- */

int tpm2_nv_buffer_max(Tpm2 *t, uint32_t *ret);
/* -ENOENT when the index is not defined. */
int tpm2_nv_read_public(Tpm2 *t, uint32_t index, Tpm2NvPublic *ret);
/*
 * Reads the whole index in chunks. -ENOENT (not defined), -ENODATA (never written), -EACCES (not readable with
 * an empty owner or index password), -E2BIG (larger than TPM2_NV_DATA_MAX), -EPROTO (a TPM error; *ret_rc).
 */
int tpm2_nv_read(Tpm2 *t, uint32_t index, void **ret, size_t *ret_size, uint32_t *ret_rc);

/* "TPM_RC_HANDLE (parameter 1)"-like text for a response code. */
const char *tpm2_rc_to_string(uint32_t rc, char *buf, size_t size);
