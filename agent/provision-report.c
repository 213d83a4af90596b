/* SPDX-License-Identifier: MIT */
/*
 * What a provisioning run reports besides its steps' state.json entries (provision-report.h).
 *
 * The timeline: every step also goes into <StateDirectory>/timeline.jsonl (timeline.h) with its start time,
 * for `azl-agent analyze`; state.json only holds the last run, the timeline every run of every boot.
 *
 * What provisioning left out. Partial input is not total failure: a malformed SSH key among good
 * ones, a secondary NIC repeating another's MAC, an address outside its subnet are skipped and the rest is
 * provisioned (cloud-init does the same). Each skipped item is reported in the three places an operator or
 * the platform looks: the journal (a warning with MESSAGE_ID_INPUT_SKIPPED), state.json's "skipped" list
 * (so `azl-agent status`, its JSON and the D-Bus API show it) and a KVP event record for the host.
 */
#include <stdio.h>
#include <string.h>

#include "kvp.h"
#include "log.h"
#include "macro.h"
#include "provision-report.h"
#include "timeline.h"

void provision_report_timeline(ProvisionRun *p, const char *name, StepResult result, usec_t start,
                               usec_t duration, const char *summary) {
        char run[64] = "";
        int r;

        (void) format_timestamp_iso_usec(p->state.started_at, run, sizeof run);
        r = timeline_append(p->c,
                            &(TimelineRecord){
                                    .source = (char *) "provision",
                                    .run = run,
                                    .name = (char *) name,
                                    /* start is CLOCK_MONOTONIC; the record wants wall-clock time */
                                    .start = now_usec(CLOCK_REALTIME) - (now_usec(CLOCK_MONOTONIC) - start),
                                    .duration = duration,
                                    .result = (char *) step_result_to_string(result),
                                    .summary = (char *) summary,
                            });
        if (r < 0)
                log_debug_errno(r, "Failed to append step %s to the timeline, ignoring: %m", name);
}

/* KVP values are '|'-separated key=value pairs (as the PROVISIONING_REPORT): keep the separator out. */
static void kvp_escape(char *s) {
        for (; s && *s; s++)
                if (*s == '|')
                        *s = '/';
}

int provision_report_skipped(ProvisionRun *p, const char *step, const char *item, const char *reason) {
        _cleanup_free_ char *value = NULL, *i = strdup(item), *why = strdup(reason);
        int r;

        if (!i || !why)
                return -ENOMEM;

        log_full_errno_id(LOG_WARNING, 0, MESSAGE_ID_INPUT_SKIPPED, "Step %s: skipped %s: %s", step, item,
                          reason);
        r = provision_state_add_skipped(&p->state, step, item, reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_debug_errno(r, "Skipped-item list full, %s only in the journal: %m", item);
        kvp_escape(i);
        kvp_escape(why);
        if (asprintf(&value, "step=%s|item=%s|reason=%s", step, i, why) < 0)
                return -ENOMEM;
        r = kvp_report_event(p->c, "skipped", now_usec(CLOCK_REALTIME), value);
        if (r < 0)
                log_debug_errno(r, "Failed to write the KVP record for the skipped %s, ignoring: %m", item);
        return 0;
}
