/* SPDX-License-Identifier: MIT */
/*
 * The Hyper-V KVP pool file (provisioners/kvp.c kvp_parse_pool): fixed 2560-byte records. Every record read
 * back is re-encoded with kvp_encode(), which chunks the value on UTF-8 boundaries; parsing the encoding must
 * give the same key on every record and the same value once the chunks are joined.
 */
#include <errno.h>

#include "fuzz.h"
#include "kvp.h"

static void check_round_trip(const KvpRecord *rec) {
        _cleanup_free_ char *encoded = NULL, *joined = NULL;
        KvpRecord *back = NULL;
        size_t encoded_size = 0, n = 0, off = 0;
        int r;

        r = kvp_encode(rec->key, rec->value, &encoded, &encoded_size);
        if (r == -EINVAL || r == -E2BIG) {
                fuzz_check(isempty(rec->key) || strlen(rec->key) > KVP_KEY_MAX);
                return;
        }
        fuzz_check(r >= 0);
        fuzz_check(encoded_size > 0 && encoded_size % KVP_RECORD_SIZE == 0);
        fuzz_check(kvp_parse_pool(encoded, encoded_size, &back, &n) >= 0);
        fuzz_check(n == encoded_size / KVP_RECORD_SIZE);

        joined = calloc(1, strlen(rec->value) + 1);
        fuzz_check(joined);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(back[i].value);

                fuzz_check(streq(back[i].key, rec->key));
                fuzz_check(l <= KVP_VALUE_CHUNK);
                fuzz_check(off + l <= strlen(rec->value));
                memcpy(joined + off, back[i].value, l);
                off += l;
        }
        fuzz_check(streq(joined, rec->value));
        kvp_records_free(back, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        KvpRecord *records = NULL;
        size_t n = 0;

        if (!fuzz_setup(size))
                return 0;

        if (kvp_parse_pool((const char *) data, size, &records, &n) < 0) {
                fuzz_check(size % KVP_RECORD_SIZE != 0);
                return 0;
        }
        fuzz_check(n == size / KVP_RECORD_SIZE);
        for (size_t i = 0; i < n; i++) {
                fuzz_check(fuzz_string_ok(records[i].key, KVP_KEY_SIZE));
                fuzz_check(fuzz_string_ok(records[i].value, KVP_VALUE_SIZE));
                check_round_trip(&records[i]);
        }
        kvp_records_free(records, n);
        return 0;
}
