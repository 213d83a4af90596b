/* SPDX-License-Identifier: MIT */
/* `azl-agent daemon`: the long-running guest agent (agent/daemon.c). Exit 0 on SIGTERM/SIGINT, 1 on failure,
 * 4 when this is not a VM whose fabric we may talk to (not Azure and no endpoints configured, or WSL). */
#include "agent.h"
#include "daemon.h"
#include "log.h"

int verb_daemon(Context *c, int argc, char **argv) {
        if (argc > 1) {
                log_error("'daemon' takes no arguments.");
                return -EINVAL;
        }
        return daemon_run(c);
}
