/* SPDX-License-Identifier: MIT */
/*
 * Invariants of a parsed ExtensionsGoalState, shared by fuzz-ext-conf.c and fuzz-vm-settings.c: the
 * EXT_*_MAX bounds hold, every string is terminated, enums are in range, every handler can be found by its
 * name. Then the handler lifecycle plan (extensions/ext-plan.c) is computed from the goal state against a
 * fixed set of installed handlers (one of them an older version of the document's first handler, enabled
 * with a multi-config instance, so that update, disable and removal paths run too) and formatted.
 */
#pragma once

#include "ext-plan.h"
#include "extensions-goal-state.h"
#include "fuzz.h"

static inline void fuzz_check_goal_state(const ExtensionsGoalState *gs, const char *id_prefix) {
        char ts[64];

        fuzz_check(gs->id && strncmp(gs->id, id_prefix, strlen(id_prefix)) == 0);
        fuzz_check(goal_state_channel_to_string(gs->channel));
        fuzz_check(goal_state_source_to_string(gs->source));
        fuzz_check(status_blob_type_to_string(gs->status_upload_blob_type));
        fuzz_check(fuzz_string_ok(gs->incarnation, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->etag, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->host_ga_plugin_version, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->activity_id, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->correlation_id, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->in_svd_seq_no, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->status_upload_blob, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(fuzz_string_ok(gs->artifacts_profile_blob, EXT_GOAL_STATE_DOCUMENT_MAX));
        fuzz_check(
                fuzz_strv_ok(gs->required_features, EXT_REQUIRED_FEATURES_MAX, EXT_GOAL_STATE_DOCUMENT_MAX));

        fuzz_check(gs->n_agent_families <= EXT_AGENT_FAMILIES_MAX);
        fuzz_check(gs->n_agent_families == 0 || gs->agent_families);
        for (size_t i = 0; i < gs->n_agent_families; i++) {
                const AgentFamily *f = &gs->agent_families[i];

                fuzz_check(fuzz_string_ok(f->name, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_string_ok(f->version, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_strv_ok(f->uris, EXT_GOAL_STATE_DOCUMENT_MAX, EXT_GOAL_STATE_DOCUMENT_MAX));
        }

        fuzz_check(gs->n_handlers <= EXT_HANDLERS_MAX);
        fuzz_check(gs->n_handlers == 0 || gs->handlers);
        for (size_t i = 0; i < gs->n_handlers; i++) {
                const ExtensionHandler *h = &gs->handlers[i];

                fuzz_check(h->name && fuzz_string_ok(h->name, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(extensions_goal_state_find_handler(gs, h->name));
                fuzz_check(fuzz_string_ok(h->version, EXT_GOAL_STATE_DOCUMENT_MAX));
                /* A handler-level config error keeps the handler, with the reason, for the status report. */
                fuzz_check(h->invalid_reason || extension_state_to_string(h->state));
                fuzz_check(fuzz_string_ok(h->location, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_string_ok(h->failover_location, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_strv_ok(h->additional_locations, EXT_LOCATIONS_MAX,
                                        EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_string_ok(h->encoded_signature, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(fuzz_string_ok(h->invalid_reason, EXT_GOAL_STATE_DOCUMENT_MAX));
                fuzz_check(h->n_settings <= EXT_SETTINGS_PER_HANDLER_MAX);
                fuzz_check(h->n_settings == 0 || h->settings);
                for (size_t j = 0; j < h->n_settings; j++) {
                        const ExtensionSettings *s = &h->settings[j];

                        fuzz_check(fuzz_string_ok(s->name, EXT_GOAL_STATE_DOCUMENT_MAX));
                        fuzz_check(extension_state_to_string(s->state));
                        fuzz_check(fuzz_string_ok(s->public_settings, EXT_SETTINGS_TEXT_MAX));
                        fuzz_check(fuzz_string_ok(s->protected_settings, EXT_SETTINGS_TEXT_MAX));
                        fuzz_check(fuzz_string_ok(s->protected_settings_cert_thumbprint,
                                                  EXT_GOAL_STATE_DOCUMENT_MAX));
                }
        }

        /* A new ExtensionsConfig goal state always wins over none; the ticks format whatever their value. */
        fuzz_check(goal_state_choose(NULL, gs, NULL) == gs);
        fuzz_check(goal_state_choose(gs, NULL, NULL) == gs);
        if (ticks_format_timestamp(gs->created_on_ticks, ts, sizeof ts) >= 0)
                fuzz_check(fuzz_array_terminated(ts));
}

static inline void fuzz_check_plan(const ExtensionsGoalState *gs) {
        char *enabled[] = {(char *) "instance", NULL};
        InstalledHandler installed[] = {
                {.name = (char *) "OSTCExtensions.ExampleHandlerLinux",
                 .version = (char *) "1.0.0",
                 .state = HANDLER_STATE_ENABLED},
                {.name = (char *) "Microsoft.Azure.Extensions.CustomScript",
                 .version = (char *) "2.0.1",
                 .state = HANDLER_STATE_FAILED_UPGRADE},
                {.name = gs->n_handlers > 0 && gs->handlers[0].name ? gs->handlers[0].name : (char *) "A",
                 .version = (char *) "0.0.1",
                 .state = HANDLER_STATE_ENABLED,
                 .enabled_extensions = enabled},
        };
        _cleanup_(ext_plan_done) ExtPlan plan = {};
        _cleanup_free_ char *text = NULL;

        if (ext_plan_compute(installed, ELEMENTSOF(installed), gs, &plan) < 0)
                return;
        fuzz_check(ext_plan_format(&plan, &text) >= 0);
}
