/* SPDX-License-Identifier: MIT */
/*
 * HostGAPlugin vmSettings JSON (extensions/vm-settings.c vm_settings_parse, wire protocol §3.2, Fast Track), and
 * the handler plan computed from it (fuzz-goal-state-check.h).
 */
#include "fuzz-goal-state-check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ExtensionsGoalState gs = {};
        char *error = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (vm_settings_parse((const char *) data, size, "7118726954825936225", &gs, &error) >= 0) {
                fuzz_check(gs.channel == GOAL_STATE_CHANNEL_HOSTGAPLUGIN);
                fuzz_check(gs.etag && streq(gs.etag, "7118726954825936225"));
                fuzz_check_plan(&gs);
                fuzz_check_goal_state(&gs, "etag_");
                extensions_goal_state_done(&gs);
        }
        free(error);
        return 0;
}
