/* SPDX-License-Identifier: MIT */
/*
 * What a provisioning run did, for `azl-agent status` and for resuming: <StateDirectory>/state.json (0644,
 * written atomically after every step so that a crash leaves the last completed step on disk) and the marker
 * <StateDirectory>/provisioned holding the VM id once the VM is provisioned.
 *
 * state.json (read by `azl-agent status`, docs/status.md; times RFC 3339 UTC with microseconds, so that the
 * D-Bus µs timestamps tell two runs apart that started within one second; the form without a fraction, from
 * older agents, still loads):
 *   { "version": 1, "state": "running"|"ready"|"failed", "vm_id": "…", "platform": "azure",
 *     "started_at": "…T20:36:48.123456Z", "finished_at": "…Z", "reason": "…",
 *     "health": { "reported": "Ready"|"NotReady", "substatus": "…", "at": "…Z" },
 *     "admin_user": "azureuser",
 *     "steps": [ { "name": "imds", "result": "changed"|"unchanged"|"skipped"|"failed",
 *                  "duration_usec": 1234, "start_usec": 14301234, "summary": "…" } ],
 *     "skipped": [ { "step": "network", "item": "network.interface[1]", "reason": "…" } ] }
 *
 * "skipped" lists the bad items of otherwise good input that were left out (a malformed SSH key, a NIC
 * repeating another's MAC, an address outside its subnet): provisioning went on without them.
 */
#pragma once

#include <stdbool.h>

#include "context.h"
#include "strutil.h"

#define PROVISION_STEPS_MAX   32
#define PROVISION_SKIPPED_MAX 64

typedef enum StepResult {
        STEP_CHANGED,
        STEP_UNCHANGED,
        STEP_SKIPPED,
        STEP_FAILED,
        _STEP_RESULT_MAX,
        _STEP_RESULT_INVALID = -EINVAL,
} StepResult;

typedef struct ProvisionStep {
        char *name;
        StepResult result;
        usec_t duration;
        usec_t start; /* CLOCK_BOOTTIME when it started: time since the kernel started; 0 = unknown */
        char *summary;
} ProvisionStep;

typedef struct ProvisionSkipped {
        char *step;
        char *item;
        char *reason;
} ProvisionSkipped;

typedef struct ProvisionState {
        char *state; /* running, ready, failed */
        char *vm_id;
        char *platform;
        usec_t started_at; /* CLOCK_REALTIME */
        usec_t finished_at;
        char *reason;
        char *health_reported;
        char *health_substatus;
        usec_t health_at;
        char *admin_user; /* the account provisioned (deprovision --user removes it) */
        ProvisionStep steps[PROVISION_STEPS_MAX];
        size_t n_steps;
        ProvisionSkipped skipped[PROVISION_SKIPPED_MAX];
        size_t n_skipped;
} ProvisionState;

void provision_state_done(ProvisionState *s);
const char *step_result_to_string(StepResult r);
StepResult step_result_from_string(const char *s);

/* Appends a step (copies name and summary). -E2BIG past PROVISION_STEPS_MAX. */
int provision_state_add_step(ProvisionState *s, const char *name, StepResult result, usec_t duration,
                             const char *summary);

/* Appends a skipped item (copies). -E2BIG past PROVISION_SKIPPED_MAX. */
int provision_state_add_skipped(ProvisionState *s, const char *step, const char *item, const char *reason);

int provision_state_to_json(const ProvisionState *s, char **ret);
int provision_state_from_json(const char *buf, size_t len, ProvisionState *ret);

int provision_state_save(const Context *c, const ProvisionState *s);
int provision_state_load(const Context *c, ProvisionState *ret);

/* The marker: 1 and the VM id when present, 0 when absent. */
int provisioned_marker_read(const Context *c, char **ret_vm_id);
int provisioned_marker_write(const Context *c, const char *vm_id);
