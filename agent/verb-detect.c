/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent detect`: what platform this is and why; whether the agent may contact Azure endpoints.
 * Exit status: 0 when the agent may talk to Azure endpoints (Azure detected, or endpoints configured
 * explicitly), EXIT_NOT_APPLICABLE (4) otherwise — the ExecCondition= of azl-agent.service and azl-userdata.service.
 * Also the confidential-VM view (common/confidential.h): what the guest sees, what IMDS said when the provisioning
 * run asked (confidential.json), whether they agree, and whether the confidential-VM defaults apply.
 */
#include <stdio.h>

#include "agent.h"
#include "macro.h"

static const char *tristate(int v) {
        return v < 0 ? "unknown" : v ? "yes" : "no";
}

static void print_confidential(const Context *c) {
        const ConfidentialState *s = &c->confidential;
        char ts[64] = "";

        printf("confidential-guest: %s (%s)\n", confidential_tech_to_string(c->platform.confidential),
               c->platform.confidential_evidence);
        if (!s->hcl_report && !s->hcl_detail)
                printf("confidential-hcl-report: not recorded (`azl-agent provision` reads the vTPM)\n");
        else
                printf("confidential-hcl-report: %s (%s)\n", s->hcl_report ?: "none",
                       strempty(s->hcl_detail));
        if (s->imds_known) {
                if (s->recorded_at > 0)
                        (void) format_timestamp_iso(s->recorded_at, ts, sizeof ts);
                printf("confidential-imds: securityType '%s', secure boot %s, vTPM %s, encryption at host "
                       "%s "
                       "(recorded %s)\n",
                       strempty(s->security_type), tristate(s->secure_boot), tristate(s->virtual_tpm),
                       tristate(s->encryption_at_host), ts[0] ? ts : "at an unknown time");
        } else
                printf("confidential-imds: not recorded (`azl-agent provision` asks IMDS)\n");
        printf("confidential-agreement: %s\n", strna(s->agreement));
        printf("confidential: %s (%s)\n", s->active ? "yes" : "no", strna(s->reason));
}

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
        printf("azure-endpoints: %s (%s)\n", r >= 0 ? "allowed" : "refused", error_reason(&endpoints));
        print_confidential(c);

        return r >= 0 ? 0 : EXIT_NOT_APPLICABLE;
}
