/* SPDX-License-Identifier: MIT */
/*
 * Two provisioning steps of the WireServer guard (issue #17 §1, docs/security.md):
 *
 *   "proxy-agent"  right after the media: when ovf-env.xml says ProvisionGuestProxyAgent=true the platform expects
 *                  Azure's Guest Proxy Agent, so we wait for `azure-proxy-agent --status --wait 120` (bounded) and
 *                  fail provisioning with cloud-init's reasons when it is missing ("azure-proxy-agent not found") or
 *                  unhealthy ("azure-proxy-agent status failure …"), before IMDS is asked anything. Without that
 *                  element a Proxy Agent that happens to be installed is asked once, without waiting.
 *   "firewall"     before the first WireServer request: our nftables table (provisioners/firewall.h), unless
 *                  [Firewall] Enable=no, the Proxy Agent is active (it guards the WireServer; we step aside) or the
 *                  endpoint is a loopback test fabric. A table that cannot be installed does not fail provisioning:
 *                  the step is recorded failed and `azl-agent status` shows "firewall: failed (<reason>)" — except on
 *                  a confidential VM (common/confidential.h), where the guard is required: provisioning fails.
 *
 * Either way the outcome is written to <StateDirectory>/firewall.json for `status`; the daemon keeps it current.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "firewall.h"
#include "log.h"
#include "macro.h"
#include "provision-firewall.h"
#include "proxy-agent.h"
#include "spawn-util.h"

int step_proxy_agent(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        _cleanup_(proxy_agent_status_done) ProxyAgentStatus st = {};
        bool expected = p->have_ovf && p->ovf.provision_guest_proxy_agent;
        _cleanup_free_ char *what = NULL;
        int r;

        r = proxy_agent_query(p->c->root_fd, p->c->root, expected ? PROXY_AGENT_WAIT_SEC : 0, &st);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (asprintf(&what, PROXY_AGENT_PROGRAM " could not be run: %s", strerror(-r)) < 0)
                        return -ENOMEM;
        } else if (proxy_agent_describe(&st, &what) < 0)
                return -ENOMEM;
        if (!expected && r >= 0 && !st.installed)
                return PROVISION_STEP_UNRECORDED; /* neither requested nor installed: nothing to say */
        if (expected && (r < 0 || !st.installed || st.exit_status != 0)) {
                if (r >= 0 && st.installed)
                        log_error("%s; its output: %s", what, strna(st.output));
                return error_setf(error,
                                  r < 0           ? r
                                  : !st.installed ? -ENOENT
                                                  : -EPROTO,
                                  "ProvisionGuestProxyAgent=true: %s", what);
        }
        p->proxy_agent_active = r >= 0 && st.exit_status == 0;
        (void) snprintf(p->proxy_agent_detail, sizeof p->proxy_agent_detail, "%s", what);
        *ret_summary = TAKE_PTR(what);
        return STEP_UNCHANGED;
}

static int firewall_install(ProvisionRun *p, FirewallStatus *st, StepResult *ret_result) {
        _cleanup_(firewall_freep) Firewall *f = NULL;
        _cleanup_free_ char *endpoint = NULL, *summary = NULL, *error = NULL;
        const Config *cfg = &p->c->config;
        WireEndpointSource source;
        struct in_addr address;
        int r;

        *ret_result = STEP_SKIPPED;
        if (!cfg->firewall) {
                /* The image manages the WireServer's protection itself: a table of ours from an earlier run
                 * would only get in its way. */
                r = firewall_new(&f);
                if (r >= 0)
                        r = firewall_remove(f, NULL);
                if (r > 0)
                        log_info("Removed the WireServer guard (table " FIREWALL_FAMILY " " FIREWALL_TABLE
                                 "): [Firewall] Enable=no.");
                return firewall_status_set(st, FIREWALL_DISABLED, "[Firewall] Enable=no");
        }
        r = wire_endpoint_discover(cfg, p->c->root_fd, &endpoint, &source);
        if (r < 0)
                return firewall_status_set(st, FIREWALL_FAILED, "cannot find the WireServer endpoint: %s",
                                           strerror(-r));
        r = firewall_address_from_endpoint(endpoint, &address);
        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT)
                return firewall_status_set(st, FIREWALL_SKIPPED, "WireServer %s is %s", endpoint,
                                           r == -EADDRNOTAVAIL ? "a loopback address (test fabric)"
                                                               : "not an IPv4 address");
        if (r < 0)
                return r;
        if (p->proxy_agent_active) {
                r = firewall_new(&f);
                if (r >= 0)
                        r = firewall_remove(f, NULL);
                if (r > 0)
                        log_info("Removed the WireServer guard: Azure's Guest Proxy Agent guards the "
                                 "WireServer.");
                return firewall_status_set(st, FIREWALL_PROXY_AGENT,
                                           "%s; it guards the WireServer, ours is not "
                                           "installed",
                                           p->proxy_agent_detail);
        }
        r = firewall_new(&f);
        if (r < 0)
                return r;
        r = firewall_reconcile(f, address, cfg->firewall_allow_units, &summary, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                *ret_result = STEP_FAILED;
                log_warning("Cannot guard the WireServer (table " FIREWALL_FAMILY " " FIREWALL_TABLE
                            "): %s. "
                            "Every local user can reach it.",
                            error ?: strerror(-r));
                return firewall_status_set(st, FIREWALL_FAILED, "%s", error ?: strerror(-r));
        }
        *ret_result = r == FIREWALL_UNCHANGED ? STEP_UNCHANGED : STEP_CHANGED;
        return firewall_status_set(st, FIREWALL_ACTIVE, "%s", summary);
}

/* An optional row, required on a confidential VM (PROVISION_STEP_REQUIRED_CONFIDENTIAL): elsewhere a table that
 * cannot be installed is recorded failed and the run goes on without the guard; status says why. */
void provision_firewall_warm_up(ProvisionRun *p) {
        struct in_addr address;
        pid_t pid;

        if (p->c->root || !p->c->config.firewall ||
            firewall_address_from_endpoint(FIREWALL_WARM_UP_ADDRESS, &address) < 0)
                return;
        (void) fflush(NULL);
        pid = fork();
        if (pid < 0)
                return (void) log_debug_errno(errno, "Cannot start the firewall warm-up: %m");
        if (pid == 0) {
                (void) prctl(PR_SET_NAME, "azl-nft-warm-up");
                _exit(firewall_warm_up(address) < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
        }
        p->firewall_warm_up_pid = pid;
}

/* The warm-up is done (or never started) before the table goes in: it only loads modules either way. */
static void warm_up_join(ProvisionRun *p) {
        if (p->firewall_warm_up_pid <= 0)
                return;
        (void) spawn_wait(p->firewall_warm_up_pid);
        p->firewall_warm_up_pid = 0;
}

int step_firewall(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        _cleanup_(firewall_status_done) FirewallStatus st = {};
        StepResult result;
        int r;

        warm_up_join(p);
        r = firewall_install(p, &st, &result);
        if (r < 0)
                return r;
        r = firewall_status_save(p->c->root_fd, p->c->config.state_dir, &st);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/" FIREWALL_STATUS_FILE ", ignoring: %m",
                                  p->c->config.state_dir);
        if (result == STEP_FAILED && p->c->confidential.firewall_required)
                return error_setf(error, -EPERM,
                                  "Confidential VM: the WireServer guard is required but could "
                                  "not be installed: %s",
                                  strempty(st.detail));
        if (result == STEP_FAILED)
                return error_setf(error, -ENOPROTOOPT, "%s: %s", firewall_state_to_string(st.state),
                                  strempty(st.detail));
        return provision_engine_summaryf(ret_summary, result, "%s: %s", firewall_state_to_string(st.state),
                                         strempty(st.detail));
}
