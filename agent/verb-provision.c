/* SPDX-License-Identifier: MIT */
/* `azl-agent provision`: the first-boot job (agent/provision.c). Exit 0 when Ready, 1 on failure, 4 when this
 * is not a VM we provision (not Azure and no endpoints configured, or WSL). */
#include "agent.h"
#include "provision.h"

int verb_provision(Context *c, int argc, char **argv) {
        return provision_run(c);
}
