/* SPDX-License-Identifier: MIT */
/* provision-firewall.c: the Guest Proxy Agent check (after the media) and the WireServer guard (before the first
 * WireServer request), rows of provision.c's boot table. */
#pragma once

#include "provision-engine.h"

int step_proxy_agent(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error);
int step_firewall(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error);
