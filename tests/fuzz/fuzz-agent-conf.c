/* SPDX-License-Identifier: MIT */
/*
 * agent.conf (common/config.c config_parse_buffer) on a fresh config_init()ed Config. Administrators write
 * it, but drop-ins come from images and packages. What config_dump() writes for the result must parse again
 * without an error and dump to the same text (the `azl-agent config` output is a valid agent.conf).
 */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_done) Config c = {}, again = {};
        _cleanup_free_ char *dump = NULL, *dump_again = NULL;

        if (!fuzz_setup(size))
                return 0;

        fuzz_check(config_init(&c) >= 0);
        (void) config_parse_buffer(&c, "fuzz.conf", (const char *) data, size);

        fuzz_check(config_dump(&c, &dump) >= 0);
        fuzz_check(config_init(&again) >= 0);
        fuzz_check(config_parse_buffer(&again, "dump.conf", dump, strlen(dump)) >= 0);
        fuzz_check(config_dump(&again, &dump_again) >= 0);
        fuzz_check(streq(dump, dump_again));
        return 0;
}
