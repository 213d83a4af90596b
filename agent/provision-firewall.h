/* SPDX-License-Identifier: MIT */
/* provision-firewall.c: the Guest Proxy Agent check (after the media) and the WireServer guard (before the first
 * WireServer request), rows of provision.c's boot table. */
#pragma once

#include "provision-engine.h"

int step_proxy_agent(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error);
int step_firewall(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error);

/* At the start of a run on the live system with [Firewall] Enable=yes: a child process checks our table's
 * transaction with the kernel without committing it (firewall_warm_up()), so that the kernel modules are loaded
 * while the media and IMDS steps run; the "firewall" step waits for it before it installs the table. The
 * address does not matter for that: the WireServer's default. */
#define FIREWALL_WARM_UP_ADDRESS "168.63.129.16"
void provision_firewall_warm_up(ProvisionRun *p);
