/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent detect`: what platform this is and why; whether the agent may contact Azure endpoints.
 * Exit status: 0 when the agent may talk to Azure endpoints (Azure detected, or endpoints configured
 * explicitly), EXIT_NOT_APPLICABLE (4) otherwise — azl-provision.service's ExecCondition uses it.
 */
#include <stdio.h>

#include "agent.h"
#include "macro.h"

int verb_detect(Context *c, int argc, char **argv) {
        _cleanup_error_ Error endpoints = ERROR_NULL;
        const PlatformInfo *p = &c->platform;
        int r;

        r = context_endpoints_allowed(c, &endpoints);
        if (r == -ENOMEM)
                return r;

        printf("platform: %s\n", platform_to_string(p->platform));
        printf("reason: %s\n", p->reason);
        if (p->platform == PLATFORM_AZURE) {
                printf("vm-id: %s\n", isempty(p->vm_id) ? "unknown" : p->vm_id);
                printf("generation: %d\n", p->generation2 ? 2 : 1);
        }
        printf("container-host: %s%s%s%s\n", p->container_host ? "yes" : "no", p->container_host ? " (" : "",
               p->container_host ? p->container_reason : "", p->container_host ? ")" : "");
        printf("azure-endpoints: %s (%s)\n", r >= 0 ? "allowed" : "refused",
               error_reason(&endpoints));

        return r >= 0 ? 0 : EXIT_NOT_APPLICABLE;
}
