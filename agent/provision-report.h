/* SPDX-License-Identifier: MIT */
/*
 * What a provisioning run reports besides its steps' state.json entries (provision-report.c): the timeline of
 * every step for `azl-agent analyze`, and each input item that was left out while the rest was provisioned.
 */
#pragma once

#include "provision-engine.h"

/* Appends a finished step (start: CLOCK_MONOTONIC) to the timeline for `analyze`; a failure is only logged
 * (at debug level). provision_engine_record() calls it for every step. */
void provision_report_timeline(ProvisionRun *p, const char *name, StepResult result, usec_t start,
                               usec_t duration, const char *summary);

/* Reports an input item that was left out while the rest is provisioned: journal, state.json "skipped",
 * KVP. -ENOMEM only. */
int provision_report_skipped(ProvisionRun *p, const char *step, const char *item, const char *reason);
