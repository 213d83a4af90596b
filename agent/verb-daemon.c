/* SPDX-License-Identifier: MIT */
/* `azl-agent daemon`: the long-running guest agent. Implemented by the daemon work (issue #7). */
#include "agent.h"
#include "log.h"

int verb_daemon(Context *c, int argc, char **argv) {
        log_error("'daemon' is not implemented yet.");
        return EXIT_NOT_IMPLEMENTED;
}
