/* SPDX-License-Identifier: MIT */
/*
 * What the provisioning run (provision.c) shares with its sub-flows in other files (provision-pps.c, the
 * pre-provisioned VM pools): the run's state and the step helpers, so that a sub-flow records its steps,
 * fails with a reason and reports health exactly as the main flow does.
 */
#pragma once

#include "context.h"
#include "imds.h"
#include "ovf-env.h"
#include "provision-state.h"
#include "provisioner.h"
#include "wireserver.h"

typedef struct ProvisionRun {
        Context *c;
        ProvisionState state;
        OvfEnv ovf;
        bool have_ovf;
        ImdsInstance imds;
        bool have_imds;
        char *wire_endpoint;
        WireOptions wire;
        HttpFailure wire_failure; /* last WireServer attempt, for failure reasons */
        GoalState goal_state;
        bool have_goal_state;
        ProvisionData data;
        Error error; /* why the run failed: what the fabric and the user see */
} ProvisionRun;

/* Records a step in state.json (saved at once) and logs it. */
int record_step(ProvisionRun *p, const char *name, StepResult result, usec_t start, const char *summary);
/* Sets the run's failure (p->error) with a formatted reason; returns error (<0; 0 becomes -EINVAL). */
int fail(ProvisionRun *p, const char *step, int error, const char *fmt, ...) _printf_(4, 5);
/* Reports health with the current goal state (refreshed once on 410). */
int report_health(ProvisionRun *p, HealthState state, const char *substatus, const char *description);

/* Steps that a sub-flow may run again (they fill p->imds, p->goal_state / p->wire, the network). */
int step_imds(ProvisionRun *p);
int step_wireserver(ProvisionRun *p);
int step_network(ProvisionRun *p);
