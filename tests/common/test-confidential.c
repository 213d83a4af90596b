/* SPDX-License-Identifier: MIT */
/*
 * The confidential-VM verdict, its defaults and confidential.json (common/confidential.h), and secrets on tmpfs
 * behind their contract paths (common/secret-file.h; /dev/shm is the tmpfs, skipped where it is not one).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "confidential.h"
#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "secret-file.h"
#include "tests.h"

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static void config_with(Config *c, const char *text) {
        assert_int_equal(config_init(c), 0);
        if (text)
                assert_int_equal(config_parse_buffer(c, "test.conf", text, strlen(text)), 0);
}

static ConfidentialState state_imds(const char *security_type) {
        ConfidentialState s = {.secure_boot = -1, .virtual_tpm = -1, .encryption_at_host = -1};

        if (security_type) {
                s.imds_known = true;
                s.security_type = strdup(security_type);
                assert_non_null(s.security_type);
        }
        return s;
}

static void test_config_keys(void **state) {
        Config c;

        config_with(&c, "[Confidential]\nMode=YES\n[extensions]\nsignaturevalidation=off\n"
                        "[Attestation]\nSignerDomains=Metadata.Azure.com, example.org\nClockSkewSec=5min\n"
                        "TrustAnchors=\n");
        assert_int_equal(c.confidential_mode, CONFIDENTIAL_MODE_YES);
        assert_true(config_key_is_set(&c, "Extensions", "SignatureValidation"));
        assert_true(config_key_is_set(&c, "confidential", "mode"));
        assert_false(config_key_is_set(&c, "Firewall", "Enable"));
        assert_string_equal(c.attestation_signer_domains[0], "metadata.azure.com");
        assert_string_equal(c.attestation_signer_domains[1], "example.org");
        assert_null(c.attestation_signer_domains[2]);
        assert_int_equal(c.attestation_clock_skew, 300 * USEC_PER_SEC);
        assert_null(c.attestation_trust_anchors);
        assert_string_equal(c.secrets_dir, "/run/azl-agent/secrets");
        assert_string_equal(c.tpm_device, "/dev/tpmrm0");
        config_done(&c);

        /* defaults: four signer domains, Mode=auto, nothing set */
        config_with(&c, NULL);
        assert_int_equal(c.confidential_mode, CONFIDENTIAL_MODE_AUTO);
        assert_int_equal(strv_length(c.attestation_signer_domains), 4);
        assert_null(c.keys_set);
        config_done(&c);

        static const char *const bad[] = {
                "[Confidential]\nMode=sometimes\n",
                "[Attestation]\nSignerDomains=.metadata.azure.com\n",
                "[Attestation]\nSignerDomains=metadata..azure.com\n",
                "[Attestation]\nSignerDomains=a/b\n",
                "[Attestation]\nTrustAnchors=relative.pem\n",
                "[Confidential]\nSecretsDirectory=/run/../etc\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(config_init(&c), 0);
                assert_int_equal(config_parse_buffer(&c, "bad.conf", bad[i], strlen(bad[i])), -EINVAL);
                config_done(&c);
        }
}

static void test_state_json(void **state) {
        _cleanup_(confidential_state_done) ConfidentialState s = state_imds("ConfidentialVM"), back = {};
        _cleanup_free_ char *text = NULL, *again = NULL;

        s.secure_boot = 1;
        s.virtual_tpm = 0;
        s.hcl_report = strdup("sev-snp");
        s.hcl_detail = strdup("HCL report at 0x01400001");
        s.recorded_at = 1764000000123456ULL;
        assert_int_equal(confidential_state_to_json(&s, &text), 0);
        assert_int_equal(confidential_state_from_json(text, strlen(text), &back), 0);
        assert_true(back.imds_known);
        assert_string_equal(back.security_type, "ConfidentialVM");
        assert_int_equal(back.secure_boot, 1);
        assert_int_equal(back.virtual_tpm, 0);
        assert_int_equal(back.encryption_at_host, -1);
        assert_string_equal(back.hcl_report, "sev-snp");
        assert_int_equal(back.recorded_at, s.recorded_at);
        assert_int_equal(confidential_state_to_json(&back, &again), 0);
        assert_string_equal(text, again);

        static const char *const bad[] = {
                "{\"version\": 2}",
                "{\"version\": 1, \"imds\": {}}",
                "{\"version\": 1, \"hcl_report\": {\"type\": \"sgx\"}}",
                "{\"version\": 1, \"recorded_at\": \"yesterday\"}",
                "[]",
                "{\"version\": 1, \"imds\": "
                "{\"security_type\": \"\", \"secure_boot\": \"true\"}}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ConfidentialState x = {.security_type = NULL};

                assert_true(confidential_state_from_json(bad[i], strlen(bad[i]), &x) < 0);
                assert_null(x.security_type); /* untouched */
        }
}

/* The verdict and the defaults, for each combination that matters. */
static void test_evaluate(void **state) {
        PlatformInfo none = {.confidential = CONFIDENTIAL_TECH_NONE},
                     snp = {.confidential = CONFIDENTIAL_TECH_SEV_SNP,
                            .confidential_evidence = "/dev/sev-guest"};
        _cleanup_free_ char *d = NULL;
        ConfidentialState s;
        Config c;

        /* Nothing recorded, nothing seen: inactive, defaults untouched. */
        config_with(&c, NULL);
        s = state_imds(NULL);
        assert_int_equal(confidential_evaluate(&s, &none, &c), 0);
        assert_false(s.active);
        assert_true(startswith(s.agreement, "unknown:"));
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_REPORT);
        assert_false(s.firewall_required);
        assert_int_equal(confidential_describe_signatures(&s, &c, &d), 0);
        assert_string_equal(d, "report (default)");
        d = mfree_str(d);
        confidential_state_done(&s);
        config_done(&c);

        /* IMDS says ConfidentialVM, the guest sees nothing (Azure's paravisor, no HCL report read): active, and the
         * two views disagree. */
        config_with(&c, NULL);
        s = state_imds("ConfidentialVM");
        assert_int_equal(confidential_evaluate(&s, &none, &c), 0);
        assert_true(s.active);
        assert_string_equal(s.reason, "IMDS securityType ConfidentialVM");
        assert_true(startswith(s.agreement, "disagree: IMDS says ConfidentialVM"));
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_ENFORCE);
        assert_true(s.firewall_required && s.secrets_on_tmpfs);
        assert_int_equal(confidential_describe_signatures(&s, &c, &d), 0);
        assert_string_equal(d, "enforce (confidential-VM default)");
        d = mfree_str(d);
        /* ... with the HCL report found: they agree */
        s.hcl_report = strdup("sev-snp");
        assert_int_equal(confidential_evaluate(&s, &none, &c), 0);
        assert_string_equal(s.agreement, "agree");
        assert_string_equal(s.reason,
                            "IMDS securityType ConfidentialVM; the guest sees an HCL report (sev-snp) in "
                            "the vTPM");
        confidential_state_done(&s);
        config_done(&c);

        /* The guest sees SNP, IMDS says TrustedLaunch: active all the same (a host cannot switch it off). */
        config_with(&c, NULL);
        s = state_imds("TrustedLaunch");
        assert_int_equal(confidential_evaluate(&s, &snp, &c), 0);
        assert_true(s.active);
        assert_string_equal(s.agreement,
                            "disagree: the guest sees sev-snp (/dev/sev-guest), IMDS says securityType "
                            "'TrustedLaunch'");
        confidential_state_done(&s);
        config_done(&c);

        /* What a file set wins: signatures stay as configured, Enable=no turns the guard off (said so). */
        config_with(&c, "[Extensions]\nSignatureValidation=report\n[Firewall]\nEnable=no\n");
        s = state_imds("ConfidentialVM");
        assert_int_equal(confidential_evaluate(&s, &snp, &c), 0);
        assert_true(s.active);
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_REPORT);
        assert_false(s.firewall_required);
        assert_int_equal(confidential_describe_signatures(&s, &c, &d), 0);
        assert_string_equal(d, "report ([Extensions] SignatureValidation=report set explicitly)");
        d = mfree_str(d);
        assert_int_equal(confidential_describe_firewall(&s, &c, &d), 0);
        assert_true(startswith(d, "off: [Firewall] Enable=no"));
        d = mfree_str(d);
        confidential_state_done(&s);
        config_done(&c);

        /* Mode=no: never; Mode=yes: always. A verdict that turns inactive restores the built-in default. */
        config_with(&c, "[Confidential]\nMode=no\n");
        s = state_imds("ConfidentialVM");
        assert_int_equal(confidential_evaluate(&s, &snp, &c), 0);
        assert_false(s.active);
        assert_string_equal(s.reason, "[Confidential] Mode=no");
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_REPORT);
        c.confidential_mode = CONFIDENTIAL_MODE_YES;
        assert_int_equal(confidential_evaluate(&s, &none, &c), 0);
        assert_true(s.active);
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_ENFORCE);
        c.confidential_mode = CONFIDENTIAL_MODE_NO;
        assert_int_equal(confidential_evaluate(&s, &none, &c), 0);
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_REPORT);
        assert_int_equal(confidential_describe_secrets(&s, &c, &d), 0);
        assert_string_equal(d, "/var/lib/waagent (default)");
        confidential_state_done(&s);
        config_done(&c);
}

static void test_secret_file(void **state) {
        _cleanup_free_ char *shm = NULL, *path = NULL, *secrets = NULL, *target = NULL, *back = NULL,
                            *link = NULL;
        _cleanup_close_ int root = -EBADF, old = -EBADF;
        char *dir = tmpdir_new(), buf[64] = "";
        struct stat st;

        assert_int_equal(root_open("/", &root), 0);
        if (dir_is_tmpfs(root, "/dev/shm") != 1) {
                tmpdir_remove(dir);
                skip();
        }
        assert_true(asprintf(&shm, "/dev/shm/azl-test-secret-%d", getpid()) > 0);
        assert_true(asprintf(&secrets, "%s/secrets", shm) > 0);
        assert_true(asprintf(&path, "%s/waagent/ABCDEF.prv", dir) > 0);

        /* Without a secrets directory: a 0600 file at the contract path (in a directory the caller made). */
        assert_int_equal(mkdir_p_in_root(root, path, 0700), 0);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(secret_file_write(root, path, NULL, "KEY-ONE", 7), 0);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        old = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(old >= 0);

        /* With one on tmpfs: the key is there, the contract path links to it, the old file's bytes are zeros. */
        assert_int_equal(secret_file_write(root, path, secrets, "KEY-TWO", 7), 0);
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISLNK(st.st_mode));
        assert_true(asprintf(&target, "%s/ABCDEF.prv", secrets) > 0);
        link = calloc(1, 4096);
        assert_true(readlink(path, link, 4095) > 0);
        assert_string_equal(link, target);
        assert_int_equal(read_file_in_root(root, path, 64, &back, NULL), 0);
        assert_string_equal(back, "KEY-TWO");
        assert_int_equal(stat(target, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(stat(secrets, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(pread(old, buf, sizeof buf, 0), 7);
        assert_memory_equal(buf, "\0\0\0\0\0\0\0", 7);

        /* Again (a new goal state): the link stays, the content changes. */
        assert_int_equal(secret_file_write(root, path, secrets, "KEY-3", 5), 0);
        back = mfree_str(back);
        assert_int_equal(read_file_in_root(root, path, 64, &back, NULL), 0);
        assert_string_equal(back, "KEY-3");

        /* A secrets directory that is not on tmpfs is refused before anything is written. */
        free(secrets);
        assert_true(asprintf(&secrets, "%s/not-tmpfs", dir) > 0);
        free(path);
        assert_true(asprintf(&path, "%s/waagent/OTHER.prv", dir) > 0);
        assert_int_equal(secret_file_write(root, path, secrets, "KEY", 3), -EMEDIUMTYPE);
        assert_int_equal(lstat(path, &st), -1);

        /* A key a run without a secrets directory left on the disk: zeros, then gone; a link is left alone. */
        assert_int_equal(secret_file_write(root, path, NULL, "OLD-KEY", 7), 0);
        (void) close(old);
        old = open(path, O_RDONLY | O_CLOEXEC);
        assert_true(old >= 0);
        assert_int_equal(secret_file_discard(root, path), 1);
        assert_int_equal(lstat(path, &st), -1);
        assert_int_equal(pread(old, buf, sizeof buf, 0), 7);
        assert_memory_equal(buf, "\0\0\0\0\0\0\0", 7);
        assert_int_equal(secret_file_discard(root, path), 0);
        free(target);
        assert_true(asprintf(&target, "%s/waagent/ABCDEF.prv", dir) > 0);
        assert_int_equal(secret_file_discard(root, target), 0);
        assert_int_equal(lstat(target, &st), 0);
        assert_true(S_ISLNK(st.st_mode));

        free(target);
        assert_true(asprintf(&target, "rm -rf %s", shm) > 0);
        assert_int_equal(system(target), 0);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_config_keys),
                cmocka_unit_test(test_state_json),
                cmocka_unit_test(test_evaluate),
                cmocka_unit_test(test_secret_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
