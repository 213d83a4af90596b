/* SPDX-License-Identifier: MIT */
/*
 * The WireServer goal state (imds-client/wire-parse.c goal_state_parse, protocol §1.4). A successful parse has
 * the mandatory Incarnation and ContainerId, and every value within WIRE_FIELD_MAX.
 */
#include "fuzz.h"
#include "wireserver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        GoalState g = {};

        if (!fuzz_setup(size))
                return 0;

        if (goal_state_parse((const char *) data, size, &g) < 0)
                return 0;

        fuzz_check(g.incarnation && fuzz_string_ok(g.incarnation, WIRE_FIELD_MAX));
        fuzz_check(g.container_id && fuzz_string_ok(g.container_id, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.instance_id, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.config_name, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.extensions_config_url, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.hosting_env_url, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.shared_config_url, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.certificates_url, WIRE_FIELD_MAX));
        fuzz_check(fuzz_string_ok(g.remote_access_url, WIRE_FIELD_MAX));
        goal_state_done(&g);
        return 0;
}
