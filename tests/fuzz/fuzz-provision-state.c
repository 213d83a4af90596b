/* SPDX-License-Identifier: MIT */
/*
 * <StateDirectory>/state.json (agent/provision-state.c provision_state_from_json), read by `azl-agent
 * status` and on resume. A parsed state serializes with provision_state_to_json(), and that text parses
 * back to a state that serializes identically.
 */
#include "fuzz.h"
#include "provision-state.h"

static void check_state(const ProvisionState *s) {
        fuzz_check(s->state);
        fuzz_check(s->n_steps <= PROVISION_STEPS_MAX);
        for (size_t i = 0; i < s->n_steps; i++) {
                fuzz_check(fuzz_string_ok(s->steps[i].name, FUZZ_INPUT_MAX));
                fuzz_check(fuzz_string_ok(s->steps[i].summary, FUZZ_INPUT_MAX));
                fuzz_check(step_result_to_string(s->steps[i].result));
        }
        fuzz_check(s->n_skipped <= PROVISION_SKIPPED_MAX);
        for (size_t i = 0; i < s->n_skipped; i++)
                fuzz_check(s->skipped[i].step && s->skipped[i].item && s->skipped[i].reason);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(provision_state_done) ProvisionState s = {}, back = {};
        _cleanup_free_ char *json = NULL, *json_again = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (provision_state_from_json((const char *) data, size, &s) < 0)
                return 0;
        check_state(&s);

        fuzz_check(provision_state_to_json(&s, &json) >= 0);
        fuzz_check(provision_state_from_json(json, strlen(json), &back) >= 0);
        check_state(&back);
        fuzz_check(provision_state_to_json(&back, &json_again) >= 0);
        fuzz_check(streq(json, json_again));
        return 0;
}
