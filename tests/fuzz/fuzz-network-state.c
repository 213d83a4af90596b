/* SPDX-License-Identifier: MIT */
/*
 * <state_dir>/network.json, the record of what the netlink backend added (provisioners/network/network-state.c):
 * only these addresses and routes are ever removed, so a misread file means deleting the wrong ones. A parsed
 * state formats to JSON that parses back to the same entries.
 */
#include "fuzz.h"
#include "network-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(network_state_done) NetworkState s = {}, back = {};
        _cleanup_free_ char *json = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (network_state_parse((const char *) data, size, &s) < 0)
                return 0;
        fuzz_check(s.n <= NETWORK_STATE_ENTRIES_MAX);

        fuzz_check(network_state_format(&s, &json) >= 0);
        fuzz_check(network_state_parse(json, strlen(json), &back) >= 0);
        fuzz_check(back.n == s.n);
        for (size_t i = 0; i < s.n; i++)
                fuzz_check(network_state_contains(&back, &s.entries[i]));
        return 0;
}
