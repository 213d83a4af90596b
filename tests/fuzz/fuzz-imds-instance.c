/* SPDX-License-Identifier: MIT */
/*
 * The IMDS instance document (imds-client/imds-parse.c imds_parse_instance). Invariants of a successful
 * parse: vmId is a normalized lower-case UUID, every string respects IMDS_STRING_MAX / IMDS_KEY_DATA_MAX,
 * at most IMDS_PUBLIC_KEYS_MAX keys each with key data, a valid ppsType; the JsonError stays terminated.
 */
#include <ctype.h>

#include "fuzz.h"
#include "imds.h"

static void check_instance(const ImdsInstance *i) {
        fuzz_check(strnlen(i->vm_id, sizeof i->vm_id) == 36);
        for (size_t k = 0; k < 36; k++)
                fuzz_check((k == 8 || k == 13 || k == 18 || k == 23)
                                   ? i->vm_id[k] == '-'
                                   : isxdigit((unsigned char) i->vm_id[k]) &&
                                             !isupper((unsigned char) i->vm_id[k]));
        fuzz_check(fuzz_string_ok(i->name, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->computer_name, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->admin_username, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->location, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->vm_size, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->zone, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->subscription_id, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->resource_group_name, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->os_type, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->tags, IMDS_STRING_MAX));
        fuzz_check(fuzz_string_ok(i->user_data, IMDS_USER_DATA_MAX / 3 * 4 + 8));
        fuzz_check(i->n_public_keys <= IMDS_PUBLIC_KEYS_MAX);
        fuzz_check(i->n_public_keys == 0 || i->public_keys);
        for (size_t k = 0; k < i->n_public_keys; k++) {
                fuzz_check(i->public_keys[k].key_data);
                fuzz_check(fuzz_string_ok(i->public_keys[k].key_data, IMDS_KEY_DATA_MAX));
                fuzz_check(fuzz_string_ok(i->public_keys[k].path, IMDS_STRING_MAX));
        }
        fuzz_check(imds_pps_type_to_string(i->pps_type));
        /* compute.securityProfile: never a parse failure, bounded type, booleans unknown (-1), 0 or 1 */
        fuzz_check(fuzz_string_ok(i->security.security_type, 64));
        fuzz_check(i->security.present || !i->security.security_type);
        fuzz_check(i->security.secure_boot >= -1 && i->security.secure_boot <= 1);
        fuzz_check(i->security.virtual_tpm >= -1 && i->security.virtual_tpm <= 1);
        fuzz_check(i->security.encryption_at_host >= -1 && i->security.encryption_at_host <= 1);
        fuzz_check(!i->network || json_object_is_type(i->network, json_type_object));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ImdsInstance i = {};
        JsonError err = {};

        if (!fuzz_setup(size))
                return 0;

        if (imds_parse_instance((const char *) data, size, &i, &err) >= 0) {
                check_instance(&i);
                imds_instance_done(&i);
        }
        fuzz_check(fuzz_array_terminated(err.field));
        fuzz_check(fuzz_array_terminated(err.message));
        return 0;
}
