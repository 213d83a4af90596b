/* SPDX-License-Identifier: MIT */
/*
 * Azure's HCL report (provisioners/confidential/hcl-report.h): reports built here byte by byte — SEV-SNP and TDX, the
 * runtime-data binding with each hash type, and every way the sizes can lie.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hcl-report.h"
#include "macro.h"
#include "tests.h"

static void le32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
        p[2] = (uint8_t) (v >> 16);
        p[3] = (uint8_t) (v >> 24);
}

/* A report of type (2 SNP, 4 TDX) with runtime claims, bound with hash_type (1..3) unless bind is false. */
static size_t make_report(uint8_t *buf, size_t max, uint32_t type, uint32_t hash_type, const char *claims,
                          size_t padding, bool bind) {
        size_t n = strlen(claims), total = HCL_RUNTIME_DATA_OFFSET + n + padding;
        const EVP_MD *md = hash_type == 1 ? EVP_sha256() : hash_type == 2 ? EVP_sha384() : EVP_sha512();
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned dn = 0;

        assert_true(total <= max);
        memset(buf, 0, total);
        memcpy(buf, "HCLA", 4);
        le32(buf + 4, 2);
        le32(buf + 8, (uint32_t) total);
        le32(buf + 12, 1);
        le32(buf + HCL_REQUEST_DATA_OFFSET, (uint32_t) (HCL_REQUEST_DATA_SIZE + n + padding));
        le32(buf + HCL_REQUEST_DATA_OFFSET + 4, 1);
        le32(buf + HCL_REQUEST_DATA_OFFSET + 8, type);
        le32(buf + HCL_REQUEST_DATA_OFFSET + 12, hash_type);
        le32(buf + HCL_REQUEST_DATA_OFFSET + 16, (uint32_t) (n + padding));
        memcpy(buf + HCL_RUNTIME_DATA_OFFSET, claims, n);
        /* hardware report filler, then REPORT_DATA = H(runtime data) */
        for (size_t i = 0; i < (type == 2 ? HCL_SNP_REPORT_SIZE : HCL_TDX_REPORT_SIZE); i++)
                buf[HCL_HW_REPORT_OFFSET + i] = (uint8_t) (0x30 + i % 7);
        assert_int_equal(EVP_Digest(buf + HCL_RUNTIME_DATA_OFFSET, n + padding, digest, &dn, md, NULL), 1);
        if (!bind)
                digest[0] ^= 0xFF;
        memset(buf + HCL_HW_REPORT_OFFSET +
                       (type == 2 ? HCL_SNP_REPORT_DATA_OFFSET : HCL_TDX_REPORT_DATA_OFFSET),
               0, 64);
        memcpy(buf + HCL_HW_REPORT_OFFSET +
                       (type == 2 ? HCL_SNP_REPORT_DATA_OFFSET : HCL_TDX_REPORT_DATA_OFFSET),
               digest, dn);
        return total;
}

#define CLAIMS                                                                                              \
        "{\"keys\": [{\"kid\": \"HCLAkPub\", \"kty\": \"RSA\", \"e\": \"AQAB\", \"n\": \"sa1\"}], "         \
        "\"vm-configuration\": {\"console-enabled\": true, \"secure-boot\": true, \"tpm-enabled\": true, "  \
        "\"vmUniqueId\": \"5C0E6B4E-6A2F-4D8E-9A51-3F1D2A7C9B10\"}, \"user-data\": \"00\"}"

static void test_snp_tdx(void **state) {
        static uint8_t buf[4096];
        HclReport h;
        size_t n;

        for (uint32_t hash = 1; hash <= 3; hash++) {
                n = make_report(buf, sizeof buf, HCL_REPORT_TYPE_SNP, hash, CLAIMS, 0, true);
                assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
                assert_int_equal(h.report_type, HCL_REPORT_TYPE_SNP);
                assert_string_equal(hcl_report_type_to_string(h.report_type), "sev-snp");
                assert_int_equal(h.hw_report_size, 1184);
                assert_ptr_equal(h.hw_report, buf + 32);
                assert_int_equal(h.runtime_data_size, strlen(CLAIMS));
                assert_true(h.runtime_data_bound);
                assert_string_equal(h.vm_unique_id, "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10");
                assert_int_equal(h.hash_type, hash);
        }

        /* TDX, claims padded with NULs (hashed with the padding), no vmUniqueId */
        n = make_report(buf, sizeof buf, HCL_REPORT_TYPE_TDX, 1, "{\"keys\": []}", 16, true);
        assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
        assert_string_equal(hcl_report_type_to_string(h.report_type), "tdx");
        assert_int_equal(h.hw_report_size, 1024);
        assert_true(h.runtime_data_bound);
        assert_string_equal(h.vm_unique_id, "");

        /* REPORT_DATA that does not match: parsed, but not bound */
        n = make_report(buf, sizeof buf, HCL_REPORT_TYPE_SNP, 1, CLAIMS, 0, false);
        assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
        assert_false(h.runtime_data_bound);
        /* an unknown hash type: cannot be bound */
        le32(buf + HCL_REQUEST_DATA_OFFSET + 12, 9);
        assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
        assert_false(h.runtime_data_bound);
        /* claims that are not JSON: no vmUniqueId, still a report */
        n = make_report(buf, sizeof buf, HCL_REPORT_TYPE_SNP, 1, "not json at all", 0, true);
        assert_int_equal(hcl_report_parse(buf, n, &h, NULL), 0);
        assert_true(h.runtime_data_bound);
        assert_string_equal(h.vm_unique_id, "");
}

static void expect_bad(const uint8_t *buf, size_t n, const char *needle) {
        _cleanup_free_ char *error = NULL;
        HclReport h = {.report_type = 77};

        assert_int_equal(hcl_report_parse(buf, n, &h, &error), -EBADMSG);
        assert_non_null(error);
        if (!strstr(error, needle))
                fail_msg("'%s' does not say '%s'", error, needle);
        assert_int_equal(h.report_type, 77); /* untouched */
}

static void test_malformed(void **state) {
        static uint8_t buf[4096], copy[4096];
        size_t n = make_report(buf, sizeof buf, HCL_REPORT_TYPE_SNP, 1, CLAIMS, 0, true);

        for (size_t k = 0; k < HCL_RUNTIME_DATA_OFFSET; k += 97)
                expect_bad(buf, k, "shorter than its fixed part");
        expect_bad(buf, n - 1, "runs past its end");
        memcpy(copy, buf, n);
        memcpy(copy, "HCLB", 4);
        expect_bad(copy, n, "no HCL report signature");
        memcpy(copy, buf, n);
        le32(copy + HCL_REQUEST_DATA_OFFSET + 8, 3);
        expect_bad(copy, n, "hardware report type is 3");
        memcpy(copy, buf, n);
        le32(copy + HCL_REQUEST_DATA_OFFSET + 16, 0xFFFFFFF0U);
        expect_bad(copy, n, "runs past its end");
        memcpy(copy, buf, n);
        le32(copy + HCL_REQUEST_DATA_OFFSET, 19);
        expect_bad(copy, n, "does not hold its runtime data");
        memcpy(copy, buf, n);
        le32(copy + HCL_REQUEST_DATA_OFFSET, 30);
        expect_bad(copy, n, "does not hold its runtime data");
        expect_bad(buf, HCL_REPORT_MAX + 1, "more than");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snp_tdx),
                cmocka_unit_test(test_malformed),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
