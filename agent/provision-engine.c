/* SPDX-License-Identifier: MIT */
/*
 * The provisioning engine (provision-engine.h): runs step tables, records every step, and makes the run's
 * health and KVP reports. It knows no step: the tables are in provision.c and provision-pps.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "crash-point.h"
#include "kvp.h"
#include "log.h"
#include "provision-engine.h"
#include "provision-report.h"
#include "spawn-util.h"
#include "version.h"

void provision_run_done(ProvisionRun *p) {
        provision_state_done(&p->state);
        error_clear(&p->error);
        if (p->have_ovf)
                ovf_env_done(&p->ovf);
        if (p->have_imds)
                imds_instance_done(&p->imds);
        if (p->have_goal_state)
                goal_state_done(&p->goal_state);
        free(p->wire_endpoint);
        provision_data_done(&p->data);
        if (p->firewall_warm_up_pid > 0) /* a run that ended before its firewall step */
                (void) spawn_wait(p->firewall_warm_up_pid);
}

int provision_engine_begin(ProvisionRun *p) {
        if (free_and_strdup(&p->state.state, "running") < 0 ||
            free_and_strdup(&p->state.platform, platform_to_string(p->c->platform.platform)) < 0)
                return -ENOMEM;
        p->state.started_at = now_usec(CLOCK_REALTIME);
        return 0;
}

int provision_engine_record(ProvisionRun *p, const char *name, StepResult result, usec_t start,
                            const char *summary) {
        usec_t duration = now_usec(CLOCK_MONOTONIC) - start;
        char dur[32] = "";
        int r;

        r = provision_state_add_step(&p->state, name, result, duration, summary);
        if (r < 0)
                return r;
        /* the start as time since the kernel started (status --long, the benchmarks): CLOCK_BOOTTIME differs
         * from CLOCK_MONOTONIC only by time suspended, which a step does not span */
        p->state.steps[p->state.n_steps - 1].start = now_usec(CLOCK_BOOTTIME) - duration;
        provision_report_timeline(p, name, result, start, duration, summary);
        (void) format_timespan(duration, dur, sizeof dur);
        log_full_errno_id(result == STEP_FAILED ? LOG_ERR : LOG_INFO, 0, MESSAGE_ID_PROVISIONING_STEP,
                          "Step %s: %s in %s%s%s", name, step_result_to_string(result), dur,
                          summary ? ": " : "", strempty(summary));
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                log_warning_errno(r, "Failed to save the provisioning state, ignoring: %m");
        crash_pointf("provision:%s:recorded", name); /* every step's end (tests/crash) */
        return 0;
}

/* A failed step's reason: its own, else the row's failure prefix (or "Step <name> failed") and strerror. */
static int provision_engine_explain(const ProvisionStepDef *s, int r, Error *error) {
        if (error->error >= 0)
                error->error = r;
        if (error->reason)
                return error->error;
        if (s->failure)
                return error_setf(error, error->error, "%s: %s", s->failure, strerror(-error->error));
        return error_setf(error, error->error, "Step %s failed: %s", s->name, strerror(-error->error));
}

/* Runs one row. Returns 0 when the run may go on (an optional step may have failed), else -errno. */
static int provision_engine_step(ProvisionRun *p, const ProvisionStepDef *s) {
        _cleanup_error_ Error error = ERROR_NULL;
        _cleanup_free_ char *summary = NULL;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        bool required, bad_input;
        int r;

        if (s->flags & PROVISION_STEP_CRASH_START)
                crash_pointf("provision:%s:start", s->name);
        r = s->run(p, s, &summary, &error);
        if (r == PROVISION_STEP_UNRECORDED)
                return 0;
        if (r >= 0)
                return provision_engine_record(p, s->name, r, start, summary);

        r = provision_engine_explain(s, r, &error);
        /* Out of memory is fatal anywhere: nothing after it would go better. */
        bad_input = (s->flags & PROVISION_STEP_REQUIRED_INPUT) && (r == -EBADMSG || r == -E2BIG);
        required = (s->flags & PROVISION_STEP_REQUIRED) || r == -ENOMEM || bad_input ||
                   ((s->flags & PROVISION_STEP_REQUIRED_CONFIDENTIAL) && p->c->confidential.active);
        /* A row optional by itself keeps its reason as the summary even where it is required. */
        (void) provision_engine_record(p, s->name, STEP_FAILED, start,
                                       !(s->flags & PROVISION_STEP_REQUIRED) ||
                                                       (s->flags & PROVISION_STEP_FAILURE_SUMMARY)
                                               ? error.reason
                                               : NULL);
        if (!required)
                return 0;
        return error_move(&p->error, &error);
}

int provision_engine_run(ProvisionRun *p, const ProvisionStepDef *steps) {
        int failed = 0;

        for (const ProvisionStepDef *s = steps; s->name; s++) {
                int r;

                if (failed < 0 && !(s->flags & PROVISION_STEP_ALWAYS))
                        continue;
                r = provision_engine_step(p, s);
                if (r < 0 && failed == 0)
                        failed = r;
        }
        return failed;
}

int provision_engine_summaryf(char **ret_summary, StepResult result, const char *format, ...) {
        char *summary;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&summary, format, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        *ret_summary = summary;
        return result;
}

int provision_engine_report_health(ProvisionRun *p, HealthState state, const char *substatus,
                                   const char *description) {
        usec_t deadline = p->c->config.health_deadline;
        int r;

        if (!p->have_goal_state)
                return -ENOTCONN;
        provision_network_settle(p);
        r = health_report_send(&p->wire, &p->goal_state, state, substatus, description, deadline);
        if (r == -ESTALE) {
                /* 410: the container moved; refresh the goal state and report once more (protocol §1.2). */
                goal_state_done(&p->goal_state);
                p->have_goal_state = false;
                r = wire_fetch_goal_state(&p->wire, &p->goal_state);
                if (r < 0)
                        return r;
                p->have_goal_state = true;
                r = health_report_send(&p->wire, &p->goal_state, state, substatus, description, deadline);
        }
        if (r < 0)
                return r;
        (void) free_and_strdup(&p->state.health_reported, health_state_to_string(state));
        (void) free_and_strdup(&p->state.health_substatus, substatus);
        p->state.health_at = now_usec(CLOCK_REALTIME);
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_HEALTH_REPORTED, "Reported %s%s%s to the WireServer.",
                          health_state_to_string(state), substatus ? "/" : "", strempty(substatus));
        return 0;
}

void provision_engine_report_provisioning(ProvisionRun *p) {
        int r;

        r = provision_engine_report_health(p, HEALTH_STATE_NOT_READY, "Provisioning", "Starting");
        if (r < 0)
                log_warning_errno(r, "Failed to report NotReady/Provisioning, continuing: %m");
}

int provision_engine_report_ready(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                                  Error *error) {
        char failure[HTTP_FAILURE_STRING_MAX + 32];
        int r;

        r = provision_engine_report_health(p, HEALTH_STATE_READY, NULL, NULL);
        if (r < 0)
                return error_setf(error, r, "Failed to report Ready to the WireServer: %s",
                                  http_failure_describe(&p->wire_failure, failure, sizeof failure)
                                          ?: strerror(-r));
        return STEP_CHANGED;
}

static void provision_engine_report_kvp(ProvisionRun *p, bool success) {
        _cleanup_free_ char *value = NULL;
        char ts[64] = "";
        int r;

        (void) format_timestamp_iso(now_usec(CLOCK_REALTIME), ts, sizeof ts);
        if (success)
                r = asprintf(&value, "result=success|agent=azl-agent/%s|pps_type=%s|vm_id=%s|timestamp=%s",
                             PACKAGE_VERSION,
                             p->have_imds ? imds_pps_type_to_string(p->imds.pps_type) : "None",
                             strna(p->state.vm_id), ts) < 0
                            ? -ENOMEM
                            : 0;
        else
                r = provisioning_failure_description(error_reason(&p->error), NULL, p->state.vm_id,
                                                     now_usec(CLOCK_REALTIME), &value);
        if (r >= 0)
                r = kvp_report(p->c, KVP_KEY_PROVISIONING_REPORT, value);
        if (r < 0)
                log_warning_errno(r, "Failed to write the KVP provisioning report, ignoring: %m");
}

static int provision_engine_failed(ProvisionRun *p, int error) {
        _cleanup_free_ char *description = NULL;
        int r;

        if (!p->error.reason)
                (void) error_set(&p->error, error, strerror(-error));
        (void) free_and_strdup(&p->state.state, "failed");
        (void) free_and_strdup(&p->state.reason, p->error.reason);
        p->state.finished_at = now_usec(CLOCK_REALTIME);
        log_full_errno_id(LOG_ERR, error, MESSAGE_ID_PROVISIONING_FAILED, "Provisioning failed: %s",
                          error_reason(&p->error));

        r = provisioning_failure_description(error_reason(&p->error), NULL, p->state.vm_id,
                                             now_usec(CLOCK_REALTIME), &description);
        if (r >= 0)
                r = provision_engine_report_health(p, HEALTH_STATE_NOT_READY, "ProvisioningFailed",
                                                   description);
        if (r < 0)
                log_warning_errno(r, "Could not report ProvisioningFailed to the WireServer: %m");
        provision_engine_report_kvp(p, false);
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                log_warning_errno(r, "Failed to save the provisioning state: %m");
        return error;
}

static int provision_engine_ready(ProvisionRun *p, const char *what) {
        int r;

        (void) free_and_strdup(&p->state.state, "ready");
        free(p->state.reason);
        p->state.reason = NULL;
        p->state.finished_at = now_usec(CLOCK_REALTIME);
        provision_engine_report_kvp(p, true);
        r = provision_state_save(p->c, &p->state);
        if (r < 0)
                return log_error_errno(r, "Failed to save the provisioning state: %m");
        log_full_errno_id(LOG_INFO, 0, MESSAGE_ID_PROVISIONING_FINISHED, "%s VM %s is Ready.", what,
                          p->state.vm_id);
        return 0;
}

int provision_engine_finish(ProvisionRun *p, int r, const char *what) {
        return r < 0 ? provision_engine_failed(p, r) : provision_engine_ready(p, what);
}
