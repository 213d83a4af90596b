/* SPDX-License-Identifier: MIT */
/* provision-confidential.c: the confidential-VM verdict, a row of provision.c's boot table right after IMDS. */
#pragma once

#include "provision-engine.h"

/*
 * Records IMDS' securityProfile and the vTPM's HCL report (confidential.json) and applies the confidential-VM
 * verdict (common/confidential.h). Unrecorded as a step (`status` shows the verdict); fails only with -ENOMEM.
 */
int step_confidential(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error);
