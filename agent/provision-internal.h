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
        char *failed_step;
        bool proxy_agent_active;        /* Azure's Guest Proxy Agent guards the WireServer (provision-firewall.c) */
        char proxy_agent_detail[256];
} ProvisionRun;

/* Records a step in state.json (saved at once) and logs it. */
int record_step(ProvisionRun *p, const char *name, StepResult result, usec_t start, const char *summary);
/* Sets the run's failure reason (what the fabric and the user see) and the failed step; returns error (<0).
 */
int fail(ProvisionRun *p, const char *step, int error, const char *fmt, ...) _printf_(4, 5);
/* Reports health with the current goal state (refreshed once on 410). */
int report_health(ProvisionRun *p, HealthState state, const char *substatus, const char *description);

/* Steps that a sub-flow may run again (they fill p->imds, p->goal_state / p->wire, the network). */
int step_imds(ProvisionRun *p);
int step_wireserver(ProvisionRun *p);
int step_network(ProvisionRun *p);

/* provision-firewall.c: the Guest Proxy Agent check (after the media) and the WireServer guard (before the first
 * WireServer request). */
int step_proxy_agent(ProvisionRun *p);
int step_firewall(ProvisionRun *p);

/* provision-confidential.c: records IMDS' securityProfile and the vTPM's HCL report (confidential.json) and applies
 * the confidential-VM verdict (common/confidential.h), right after IMDS. -ENOMEM only. */
int step_confidential(ProvisionRun *p);
