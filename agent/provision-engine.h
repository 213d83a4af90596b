/* SPDX-License-Identifier: MIT */
/*
 * The provisioning engine: runs tables of steps and produces everything a run reports. A step is one row,
 *
 *   { "media", step_media, PROVISION_STEP_REQUIRED, "Failed to read the provisioning media" }
 *     name     function    flags                    failure reason when the step gives none
 *
 * and the engine, for every row: hits the crash point provision:<name>:start (PROVISION_STEP_CRASH_START),
 * calls the function, times it, records the outcome in state.json (saved at once, so that `status` and a
 * crash see it), logs it and hits provision:<name>:recorded. A failing optional step is recorded with its
 * reason as the summary and the table goes on; a failing required step makes its reason the run's
 * (p->error) and ends the table — only PROVISION_STEP_ALWAYS rows still run (the goal state, without which
 * no failure can be reported). A PROVISION_STEP_REQUIRED_CONFIDENTIAL row is required on a confidential VM (the
 * verdict as the rows before it left it) and optional elsewhere. The engine also makes the run's reports: the health reports to the
 * WireServer (NotReady/Provisioning, Ready, NotReady/ProvisioningFailed with the reason) and the KVP
 * PROVISIONING_REPORT.
 *
 * The tables themselves are in provision.c (the run) and provision-pps.c (pre-provisioned pools); each ends
 * with an empty row. Adding a step is a row and its function.
 */
#pragma once

#include <stdbool.h>

#include "context.h"
#include "error-util.h"
#include "imds.h"
#include "macro.h"
#include "ovf-env.h"
#include "provision-state.h"
#include "provisioner.h"
#include "wireserver.h"

typedef struct PpsRun PpsRun; /* provision-pps.c, while a pool VM waits */

/* One provisioning run: what the steps found so far, and the run's state and failure. */
typedef struct ProvisionRun {
        Context *c;
        ProvisionState state; /* state.json */
        Error error;          /* why the run failed: what the fabric and the user see */
        OvfEnv ovf;
        bool have_ovf;
        ImdsInstance imds;
        bool have_imds;
        char *wire_endpoint;
        WireOptions wire;
        HttpFailure wire_failure; /* last WireServer attempt, for failure reasons */
        GoalState goal_state;
        bool have_goal_state;
        bool handed_over; /* a pool VM was handed to its owner: IMDS must describe the owner's VM now */
        PpsRun *pps;
        ProvisionData data;
        bool proxy_agent_active; /* Azure's Guest Proxy Agent guards the WireServer (provision-firewall.c) */
        pid_t firewall_warm_up_pid; /* provision_firewall_warm_up()'s child, until the firewall step */
        char proxy_agent_detail[256];
        usec_t network_reloaded_at; /* CLOCK_MONOTONIC of a networkd reload not yet waited for, or 0 */
} ProvisionRun;

/*
 * Before the first fabric request after a networkd reload (step "network"): networkd reconfigures the links
 * our files match and re-acquires their DHCP leases, and a request made meanwhile fails into a retry. Waits
 * for the links, bounded, and records it as step "network-wait"; the local steps in between overlap the DHCP
 * exchange. Nothing to do without a pending reload. provision.c, beside the network step.
 */
void provision_network_settle(ProvisionRun *p);

void provision_run_done(ProvisionRun *p);

typedef enum ProvisionStepFlags {
        PROVISION_STEP_REQUIRED = 1 << 0,    /* a failure fails the run (else: recorded, the run goes on) */
        PROVISION_STEP_ALWAYS = 1 << 1,      /* runs even after a required step failed */
        PROVISION_STEP_CRASH_START = 1 << 2, /* crash point provision:<name>:start before it runs */
        PROVISION_STEP_FAILURE_SUMMARY = 1 << 3, /* a required step's reason is its summary too (an optional
                                                  * step's always is: it is recorded nowhere else) */
        PROVISION_STEP_REQUIRED_INPUT = 1 << 4,  /* an optional step whose invalid input (-EBADMSG, -E2BIG)
                                                  * fails the run: what is left of it would leave the VM
                                                  * unusable (the IMDS network without a primary NIC) */
        PROVISION_STEP_REQUIRED_CONFIDENTIAL = 1 << 5, /* required when the confidential-VM defaults apply
                                                        * (common/confidential.h), else optional */
} ProvisionStepFlags;

typedef struct ProvisionStepDef ProvisionStepDef;

/*
 * A step: returns STEP_CHANGED, STEP_UNCHANGED or STEP_SKIPPED (recorded with *ret_summary, which may stay
 * NULL), PROVISION_STEP_UNRECORDED (nothing to record), or -errno with the reason in *error; without one
 * the reason is "<failure>: <strerror>", or "Step <name> failed: <strerror>" when the row has no failure.
 */
typedef int (*ProvisionStepFunc)(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                                 Error *error);

#define PROVISION_STEP_UNRECORDED _STEP_RESULT_MAX

struct ProvisionStepDef {
        const char *name; /* in state.json, the journal and the crash points */
        ProvisionStepFunc run;
        ProvisionStepFlags flags;
        const char *failure;  /* reason prefix when the step fails without a reason of its own */
        const void *userdata; /* for the function, e.g. the Provisioner of a provisioner row */
};

/* Sets up state.json's run ("running", the platform, the start time). */
int provision_engine_begin(ProvisionRun *p);

/*
 * Runs the rows of steps (up to the empty row) in order. Returns 0, or the first required step's error
 * (p->error then explains the failure; a later PROVISION_STEP_ALWAYS row that fails too replaces the
 * reason).
 */
int provision_engine_run(ProvisionRun *p, const ProvisionStepDef *steps);

/* For step functions: sets *ret_summary to the formatted text and returns result (or -ENOMEM). */
int provision_engine_summaryf(char **ret_summary, StepResult result, const char *format, ...) _printf_(3, 4);

/* Records a step in state.json (saved at once) and in the timeline (provision-report.h), logs it and hits
 * provision:<name>:recorded. */
int provision_engine_record(ProvisionRun *p, const char *name, StepResult result, usec_t start,
                            const char *summary);

/* Reports health with the current goal state (refreshed once on 410, protocol §1.2). -ENOTCONN without one. */
int provision_engine_report_health(ProvisionRun *p, HealthState state, const char *substatus,
                                   const char *description);

/* NotReady/Provisioning "Starting" before the steps that change the VM; a failure is only logged. */
void provision_engine_report_provisioning(ProvisionRun *p);

/* A step: reports Ready to the WireServer (the last row of a table that ends in a Ready VM). */
int provision_engine_report_ready(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary,
                                  Error *error);

/*
 * Ends the run. r < 0 (the tables' result): state "failed" with the reason, NotReady/ProvisioningFailed
 * with the description of protocol §1.5, the KVP report; returns r. Otherwise state "ready", the KVP report,
 * the journal's "<what> VM <id> is Ready."; returns 0 (or a failure to save state.json).
 */
int provision_engine_finish(ProvisionRun *p, int r, const char *what);
