/* SPDX-License-Identifier: MIT */
/*
 * The provisioning run's part in the confidential-VM verdict (common/confidential.h, docs/security.md
 * "Confidential VMs"): right after IMDS answered, record what it says (compute.securityProfile) and whether the
 * vTPM holds an HCL report (confidential/evidence.h) in <StateDirectory>/confidential.json, then evaluate again, so
 * that the steps after it — the WireServer guard first — run with the confidential-VM defaults when they apply.
 * Recorded every boot (the VM may have been redeployed as another type). A row of the boot table that runs even
 * after IMDS failed (the guest's own view still counts) and records no step of its own: `status` shows the verdict in
 * its "confidential" section. Never fails the run (only -ENOMEM).
 */
#include <stdlib.h>

#include "confidential.h"
#include "evidence.h"
#include "log.h"
#include "macro.h"
#include "provision-confidential.h"

static int record_hcl_report(ProvisionRun *p, ConfidentialState *s) {
        _cleanup_free_ char *reason = NULL;
        _cleanup_free_ void *data = NULL;
        HclReport h;
        size_t size;
        int r;

        r = evidence_read_hcl_report(p->c->root_fd, p->c->config.tpm_device, &data, &size, &h, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return free_and_strdup(&s->hcl_detail, reason);
        if (free_and_strdup(&s->hcl_report, hcl_report_type_to_string(h.report_type)) < 0)
                return -ENOMEM;
        return asprintf(&s->hcl_detail,
                        "HCL report in NV index 0x01400001 of %s: %s, %zu bytes, runtime data %s",
                        p->c->config.tpm_device, s->hcl_report, size,
                        h.runtime_data_bound ? "bound" : "NOT bound") < 0
                       ? -ENOMEM
                       : 0;
}

int step_confidential(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        ConfidentialState *s = &p->c->confidential;
        bool was_active = s->active;
        int r;

        free(s->security_type);
        free(s->hcl_report);
        free(s->hcl_detail);
        s->security_type = s->hcl_report = s->hcl_detail = NULL;
        s->imds_known = p->have_imds;
        s->secure_boot = s->virtual_tpm = s->encryption_at_host = -1;
        if (p->have_imds) {
                const ImdsSecurityProfile *sp = &p->imds.security;

                if (free_and_strdup(&s->security_type, strempty(sp->security_type)) < 0)
                        return -ENOMEM;
                s->secure_boot = sp->secure_boot;
                s->virtual_tpm = sp->virtual_tpm;
                s->encryption_at_host = sp->encryption_at_host;
        }
        r = record_hcl_report(p, s);
        if (r < 0)
                return r;
        s->recorded_at = now_usec(CLOCK_REALTIME);
        r = confidential_state_save(p->c->root_fd, p->c->config.state_dir, s);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/" CONFIDENTIAL_STATE_FILE ", ignoring: %m",
                                  p->c->config.state_dir);
        r = confidential_evaluate(s, &p->c->platform, &p->c->config);
        if (r < 0)
                return r;
        if (s->active)
                log_info("Confidential VM (%s; IMDS and guest: %s): the confidential-VM defaults apply.",
                         s->reason, s->agreement);
        else if (was_active)
                log_info("Not a confidential VM any more (%s).", s->reason);
        else
                log_debug("Not a confidential VM: %s (%s).", s->reason, s->agreement);
        return PROVISION_STEP_UNRECORDED;
}
