/* SPDX-License-Identifier: MIT */
/* `azl-agent provision [--force]`: the first-boot job (agent/provision.c). Exit 0 when Ready, 1 on failure, 4
 * when this is not a VM we provision (not Azure and no endpoints configured, or WSL). --force runs the
 * provisioning steps even when the VM is already provisioned for its VM id (the daemon's Reprovision()). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "log.h"
#include "provision.h"

int verb_provision(Context *c, int argc, char **argv) {
        static const struct option options[] = {
                {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {}};
        bool force = false;
        int opt;

        optind = 0; /* GNU: full re-initialisation after main()'s getopt */
        while ((opt = getopt_long(argc, argv, "fh", options, NULL)) >= 0)
                switch (opt) {
                case 'f':
                        force = true;
                        break;
                case 'h':
                        printf("azl-agent provision [--force]\n");
                        return EXIT_SUCCESS;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        return provision_run(c, force);
}
