/* SPDX-License-Identifier: MIT */
/*
 * The HCL report parser (layout in hcl-report.h): fixed offsets, every size checked against the buffer before it
 * is used, the runtime claims read through a json_dispatch table (only vm-configuration.vmUniqueId), and the
 * binding of the runtime data to the hardware report recomputed with OpenSSL's digests.
 */
#include <stdarg.h>
#include <string.h>

#include <openssl/evp.h>

#include "hcl-report.h"
#include "json-util.h"
#include "macro.h"
#include "strutil.h"

#define HCL_SIGNATURE        "HCLA"
#define HCL_REPORT_DATA_SIZE 64U

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static int set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *fmt, ...) {
        va_list ap;
        int r = -EBADMSG;

        if (ret_error) {
                va_start(ap, fmt);
                if (strprintfv(ret_error, fmt, ap) < 0)
                        r = -ENOMEM;
                va_end(ap);
        }
        return r;
}

const char *hcl_report_type_to_string(uint32_t type) {
        return type == HCL_REPORT_TYPE_SNP ? "sev-snp" : type == HCL_REPORT_TYPE_TDX ? "tdx" : NULL;
}

static const EVP_MD *hash_for(uint32_t hash_type) {
        switch (hash_type) {
        case 1:
                return EVP_sha256();
        case 2:
                return EVP_sha384();
        case 3:
                return EVP_sha512();
        default:
                return NULL;
        }
}

/* Whether REPORT_DATA begins with the digest of the runtime data. */
static bool runtime_data_bound(const HclReport *h) {
        size_t offset = h->report_type == HCL_REPORT_TYPE_SNP ? HCL_SNP_REPORT_DATA_OFFSET
                                                              : HCL_TDX_REPORT_DATA_OFFSET;
        const EVP_MD *md = hash_for(h->hash_type);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!md || offset + HCL_REPORT_DATA_SIZE > h->hw_report_size)
                return false;
        if (EVP_Digest(h->runtime_data, h->runtime_data_size, digest, &n, md, NULL) != 1 ||
            n > HCL_REPORT_DATA_SIZE)
                return false;
        return memcmp(h->hw_report + offset, digest, n) == 0;
}

static int dispatch_vm_id(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (json_object_is_type(v, json_type_string))
                (void) uuid_normalize(json_object_get_string(v), dest); /* anything else stays "" */
        return 0;
}

static int dispatch_vm_configuration(const char *name, struct json_object *v, void *dest, JsonError *err) {
        static const JsonDispatch table[] = {
                {"vmUniqueId", dispatch_vm_id, 0, JSON_NULLABLE},
                {},
        };

        if (!json_object_is_type(v, json_type_object))
                return 0;
        return json_dispatch(v, table, 0, dest, err);
}

/* The runtime claims are informational here: a document we cannot read leaves vm_unique_id empty. */
static void parse_runtime_claims(HclReport *h) {
        static const JsonDispatch table[] = {
                {"vm-configuration", dispatch_vm_configuration, offsetof(HclReport, vm_unique_id),
                 JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        size_t n = h->runtime_data_size;

        /* the claims may be followed by NUL padding */
        while (n > 0 && h->runtime_data[n - 1] == 0)
                n--;
        if (n == 0 || memchr(h->runtime_data, 0, n) ||
            json_parse_buffer((const char *) h->runtime_data, n, &root, NULL) < 0 ||
            !json_object_is_type(root, json_type_object))
                return;
        (void) json_dispatch(root, table, 0, h, NULL);
}

int hcl_report_parse(const void *buf, size_t len, HclReport *ret, char **ret_error) {
        const uint8_t *p = buf;
        HclReport h = {};
        uint32_t data_size, runtime_size;

        if (!buf || !ret)
                return -EINVAL;
        if (len > HCL_REPORT_MAX)
                return set_error(ret_error, "the HCL report is %zu bytes, more than %u", len,
                                 HCL_REPORT_MAX);
        if (len < HCL_RUNTIME_DATA_OFFSET)
                return set_error(ret_error, "the HCL report is %zu bytes, shorter than its fixed part (%u)",
                                 len, HCL_RUNTIME_DATA_OFFSET);
        if (memcmp(p, HCL_SIGNATURE, 4) != 0)
                return set_error(ret_error, "no HCL report signature (\"HCLA\") at the start of the index");
        h.version = le32(p + 4);
        h.report_size = le32(p + 8);
        h.request_type = le32(p + 12);
        h.status = le32(p + 16);

        data_size = le32(p + HCL_REQUEST_DATA_OFFSET);
        h.report_type = le32(p + HCL_REQUEST_DATA_OFFSET + 8);
        h.hash_type = le32(p + HCL_REQUEST_DATA_OFFSET + 12);
        runtime_size = le32(p + HCL_REQUEST_DATA_OFFSET + 16);
        if (h.report_type == HCL_REPORT_TYPE_SNP)
                h.hw_report_size = HCL_SNP_REPORT_SIZE;
        else if (h.report_type == HCL_REPORT_TYPE_TDX)
                h.hw_report_size = HCL_TDX_REPORT_SIZE;
        else
                return set_error(ret_error,
                                 "the HCL report's hardware report type is %u (2 = SEV-SNP, 4 = TDX)",
                                 h.report_type);
        h.hw_report = p + HCL_HW_REPORT_OFFSET;
        if (runtime_size > len - HCL_RUNTIME_DATA_OFFSET)
                return set_error(ret_error,
                                 "the HCL report's runtime data (%u bytes) runs past its end (%zu bytes)",
                                 runtime_size, len);
        if (data_size < HCL_REQUEST_DATA_SIZE || data_size - HCL_REQUEST_DATA_SIZE < runtime_size)
                return set_error(ret_error,
                                 "the HCL report's request data size %u does not hold its runtime data "
                                 "(%u bytes)",
                                 data_size, runtime_size);
        h.runtime_data = p + HCL_RUNTIME_DATA_OFFSET;
        h.runtime_data_size = runtime_size;
        h.runtime_data_bound = runtime_data_bound(&h);
        parse_runtime_claims(&h);
        *ret = h;
        return 0;
}
