/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml from the provisioning media (provisioners/ovf-env.c, protocol §5.3): the parser
 * and the redaction that produces the copy kept on disk. Invariants: a parsed document has its mandatory
 * fields (ProvisionGuestAgent may be absent, then true), a password of at most OVF_PASSWORD_MAX bytes and at most OVF_KEYS_MAX keys; CustomData decodes to
 * exactly custom_data_size bytes plus a NUL. Whenever the input parses, its redaction parses too, without a
 * password and with the same identity and CustomData.
 */
#include "fuzz.h"
#include "ovf-env.h"

static void check_env(const OvfEnv *e) {
        fuzz_check(e->version && e->hostname && e->username);
        fuzz_check(e->provision_guest_agent || e->provision_guest_agent_raw);
        fuzz_check(fuzz_string_ok(e->password, OVF_PASSWORD_MAX));
        fuzz_check(e->n_public_keys <= OVF_KEYS_MAX && e->n_key_pairs <= OVF_KEYS_MAX);
        fuzz_check(e->n_public_keys == 0 || e->public_keys);
        fuzz_check(e->n_key_pairs == 0 || e->key_pairs);
        for (size_t i = 0; i < e->n_public_keys; i++) {
                fuzz_check(fuzz_string_ok(e->public_keys[i].fingerprint, OVF_ENV_MAX));
                fuzz_check(fuzz_string_ok(e->public_keys[i].path, OVF_ENV_MAX));
                fuzz_check(fuzz_string_ok(e->public_keys[i].value, OVF_ENV_MAX));
        }
        for (size_t i = 0; i < e->n_key_pairs; i++) {
                fuzz_check(fuzz_string_ok(e->key_pairs[i].fingerprint, OVF_ENV_MAX));
                fuzz_check(fuzz_string_ok(e->key_pairs[i].path, OVF_ENV_MAX));
        }
        fuzz_check(!e->custom_data || e->custom_data_raw);
        if (e->custom_data) {
                fuzz_check(e->custom_data_size <= strlen(e->custom_data_raw));
                fuzz_check(e->custom_data[e->custom_data_size] == 0);
        }
        fuzz_check(fuzz_string_ok(e->preprovisioned_vm_type, OVF_ENV_MAX));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(ovf_env_done) OvfEnv e = {}, redacted_env = {};
        _cleanup_error_ Error error = ERROR_NULL, error2 = ERROR_NULL;
        _cleanup_free_ char *redacted = NULL;
        size_t redacted_size = 0;
        int parsed, r;

        if (!fuzz_setup(size))
                return 0;

        parsed = ovf_env_parse((const char *) data, size, &e, &error);
        if (parsed >= 0)
                check_env(&e);

        r = ovf_env_redact((const char *) data, size, &redacted, &redacted_size);
        if (parsed >= 0)
                fuzz_check(r >= 0);
        if (r < 0)
                return 0;
        fuzz_check(strlen(redacted) == redacted_size);
        if (parsed < 0)
                return 0;

        r = ovf_env_parse(redacted, redacted_size, &redacted_env, &error2);
        fuzz_check(r >= 0);
        fuzz_check(isempty(redacted_env.password));
        fuzz_check(streq(e.hostname, redacted_env.hostname));
        fuzz_check(streq(e.username, redacted_env.username));
        fuzz_check(streq_ptr(e.custom_data_raw, redacted_env.custom_data_raw));
        fuzz_check(e.n_public_keys == redacted_env.n_public_keys);
        fuzz_check(e.provision_guest_agent == redacted_env.provision_guest_agent);
        return 0;
}
