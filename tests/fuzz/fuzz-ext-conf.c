/* SPDX-License-Identifier: MIT */
/*
 * ExtensionsConfig XML (extensions/ext-conf.c ext_conf_parse, wire protocol §3.1), with the incarnation
 * taken from the document, and the handler plan computed from it (fuzz-goal-state-check.h); plus the
 * InVMArtifactsProfile JSON parser (artifacts_profile_parse) on the same bytes: both documents are fetched
 * from URLs named in the goal state.
 */
#include "fuzz-goal-state-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ExtensionsGoalState gs = {};
        char *error = NULL;
        bool on_hold = false;
        int r;

        if (!fuzz_setup(size))
                return 0;

        r = ext_conf_parse((const char *) data, size, NULL, &gs, &error);
        if (r >= 0) {
                fuzz_check(gs.channel == GOAL_STATE_CHANNEL_WIRESERVER);
                fuzz_check(gs.incarnation);
                fuzz_check_plan(&gs);
                fuzz_check_goal_state(&gs, "incarnation_");
                extensions_goal_state_done(&gs);
        }
        free(error);
        error = NULL;

        r = artifacts_profile_parse((const char *) data, size, &on_hold, &error);
        fuzz_check(r >= 0 || !error || fuzz_string_ok(error, 2 * FUZZ_INPUT_MAX));
        free(error);
        return 0;
}
