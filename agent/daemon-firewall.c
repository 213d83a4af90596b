/* SPDX-License-Identifier: MIT */
/*
 * The daemon keeps the WireServer guard (provisioners/firewall.h, docs/security.md) in place: at the start of
 * every goal state pass — the daemon's first request included — the table is checked and installed again when it
 * is missing or was changed, so a flushed or deleted table is back within one GoalStatePeriodSec=; that is logged
 * once per occurrence. Azure's Guest Proxy Agent is asked (`azure-proxy-agent --status`, no wait) at the first
 * pass and then every PROXY_AGENT_RECHECK: while it reports healthy our table is removed (it guards the
 * WireServer), and it comes back when the Proxy Agent goes away. The outcome is DaemonFirewall's status, served
 * as the FirewallState/FirewallDetail D-Bus properties and saved to <StateDirectory>/firewall.json on change.
 */
#include <string.h>

#include "daemon-internal.h"
#include "log.h"
#include "macro.h"
#include "proxy-agent.h"

#define PROXY_AGENT_RECHECK (60U * USEC_PER_SEC)

static void proxy_agent_check(Daemon *d) {
        _cleanup_(proxy_agent_status_done) ProxyAgentStatus st = {};
        _cleanup_free_ char *what = NULL;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        bool active;
        int r;

        if (d->proxy_agent_checked_at > 0 && now < d->proxy_agent_checked_at + PROXY_AGENT_RECHECK)
                return;
        d->proxy_agent_checked_at = now;
        r = proxy_agent_query(d->context->root_fd, d->context->root, 0, &st);
        if (r < 0) {
                log_debug_errno(r, "Cannot run " PROXY_AGENT_PROGRAM ", treating it as absent: %m");
                active = false;
        } else
                active = st.installed && st.exit_status == 0;
        if (r >= 0 && proxy_agent_describe(&st, &what) >= 0)
                (void) snprintf(d->proxy_agent_detail, sizeof d->proxy_agent_detail, "%s", what);
        if (active != d->proxy_agent_active)
                log_info("%s: %s.", d->proxy_agent_detail,
                         active ? "it guards the WireServer, ours steps aside"
                                : "guarding the WireServer ourselves");
        d->proxy_agent_active = active;
}

/* Removes our table (Enable=no, or the Proxy Agent is active); logs when there was one. */
static void remove_table(Daemon *d, const char *why) {
        _cleanup_free_ char *error = NULL;
        int r;

        r = firewall_remove(d->firewall, &error);
        if (r > 0)
                log_info("Removed the WireServer guard (table " FIREWALL_FAMILY " " FIREWALL_TABLE "): %s.",
                         why);
        else if (r < 0)
                log_debug("Cannot remove table " FIREWALL_FAMILY " " FIREWALL_TABLE ": %s",
                          error ?: strerror(-r));
}

static int firewall_pass(Daemon *d, FirewallStatus *st) {
        _cleanup_free_ char *summary = NULL, *error = NULL;
        const Config *cfg = &d->context->config;
        struct in_addr address;
        int r;

        if (!cfg->firewall) {
                if (!d->firewall_status.detail) /* once: the table of an earlier configuration */
                        remove_table(d, "[Firewall] Enable=no");
                return firewall_status_set(st, FIREWALL_DISABLED, "[Firewall] Enable=no");
        }
        r = firewall_address_from_endpoint(azure_client_wire_endpoint(d->client), &address);
        if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT)
                return firewall_status_set(
                        st, FIREWALL_SKIPPED, "WireServer %s is %s", azure_client_wire_endpoint(d->client),
                        r == -EADDRNOTAVAIL ? "a loopback address (test fabric)" : "not an IPv4 address");
        if (r < 0)
                return r;
        proxy_agent_check(d);
        if (d->proxy_agent_active) {
                remove_table(d, "Azure's Guest Proxy Agent guards the WireServer");
                return firewall_status_set(st, FIREWALL_PROXY_AGENT,
                                           "%s; it guards the WireServer, ours is not "
                                           "installed",
                                           d->proxy_agent_detail);
        }
        r = firewall_reconcile(d->firewall, address, cfg->firewall_allow_units, &summary, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (d->firewall_status.state != FIREWALL_FAILED ||
                    !streq_ptr(d->firewall_status.detail, error))
                        log_warning("Cannot guard the WireServer (table " FIREWALL_FAMILY " " FIREWALL_TABLE
                                    "): "
                                    "%s. Every local user can reach it.",
                                    error ?: strerror(-r));
                return firewall_status_set(st, FIREWALL_FAILED, "%s", error ?: strerror(-r));
        }
        switch ((FirewallChange) r) {
        case FIREWALL_RESTORED:
                d->n_firewall_restored++;
                log_warning("The WireServer guard (table " FIREWALL_FAMILY " " FIREWALL_TABLE
                            ") was flushed, "
                            "deleted or changed; restored it (%u time(s) since the start).",
                            d->n_firewall_restored);
                break;
        case FIREWALL_INSTALLED:
                log_info("Installed the WireServer guard: %s.", summary);
                break;
        case FIREWALL_UPDATED:
                log_info("Updated the WireServer guard for the allowed units now running: %s.", summary);
                break;
        case FIREWALL_UNCHANGED:
                break;
        }
        return firewall_status_set(st, FIREWALL_ACTIVE, "%s", summary);
}

void daemon_firewall_reconcile(Daemon *d) {
        _cleanup_(firewall_status_done) FirewallStatus st = {};
        int r;

        if (!d->firewall) {
                r = firewall_new(&d->firewall);
                if (r < 0)
                        return (void) log_oom();
        }
        r = firewall_pass(d, &st);
        if (r < 0)
                return (void) log_oom();
        if (st.state == d->firewall_status.state && streq_ptr(st.detail, d->firewall_status.detail))
                return;
        firewall_status_done(&d->firewall_status);
        d->firewall_status = st;
        st = (FirewallStatus){};
        r = firewall_status_save(d->context->root_fd, d->context->config.state_dir, &d->firewall_status);
        if (r < 0)
                log_warning_errno(r, "Failed to write %s/" FIREWALL_STATUS_FILE ", ignoring: %m",
                                  d->context->config.state_dir);
}
