/* SPDX-License-Identifier: MIT */
/* `azl-agent provision`: the first-boot job. Implemented by the provisioning work (issue #4). */
#include "agent.h"
#include "log.h"

int verb_provision(Context *c, int argc, char **argv) {
        log_error("'provision' is not implemented yet.");
        return EXIT_NOT_IMPLEMENTED;
}
