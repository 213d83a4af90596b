/* SPDX-License-Identifier: MIT */
/*
 * The WireServer guard (issue #17 §1, docs/security.md "WireServer guard"). Any local process that can open a TCP
 * connection to the WireServer can fetch the goal state, ask for the tenant certificates with a transport
 * certificate of its own and decrypt every extension's protectedSettings. waagent prevents this with firewall
 * rules; we install one nftables table of our own, through libnftables (never the nft binary):
 *
 *   table ip azl_agent {
 *           chain output {
 *                   type filter hook output priority filter; policy accept;
 *                   ip daddr <W> tcp dport 53 accept                       DNS stays open to everyone
 *                   ip daddr <W> meta skuid 0 accept                       root (the agent, extensions)
 *                   ip daddr <W> socket cgroupv2 level N "<path>" accept    each [Firewall] AllowUnits= unit
 *                   ip daddr <W> meta l4proto tcp ct state invalid,new reject with tcp reset
 *           }
 *   }
 *
 * <W> is the WireServer address the agent uses (config, DHCP option 245 or 168.63.129.16); IPv4 only, as the
 * WireServer is. The table is replaced atomically in one transaction ("add table; delete table; table {…}"), so
 * there is no moment without it once it was installed, and no other table is ever listed, flushed or touched.
 * Reconciling compares the table as listed now with the listing taken right after we installed it (and the
 * allowed units' cgroups as they exist now with those we resolved then): a flushed, deleted or edited table, or
 * an allowed unit (re)started with a new cgroup id, makes us install it again.
 *
 * nftables resolves a "socket cgroupv2" path to the cgroup's inode number when the rule is loaded, so a rule can
 * name only a cgroup that exists: allowed units that are not running are left out and show up as such in the
 * summary; the next reconcile adds them once they run.
 *
 * Library code: nothing is logged above debug; the callers (agent/provision-firewall.c, the daemon) log.
 */
#pragma once

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "strutil.h"

#define FIREWALL_FAMILY      "ip"
#define FIREWALL_TABLE       "azl_agent"
#define FIREWALL_UNITS_MAX   32U
#define FIREWALL_STATUS_FILE "firewall.json" /* in [Agent] StateDirectory=, for `azl-agent status` */
#define FIREWALL_DETAIL_MAX  1024U

typedef enum FirewallState {
        FIREWALL_ACTIVE,      /* our table guards the WireServer */
        FIREWALL_DISABLED,    /* [Firewall] Enable=no */
        FIREWALL_PROXY_AGENT, /* Azure's Guest Proxy Agent guards it; ours is not installed */
        FIREWALL_SKIPPED,     /* nothing to guard: a loopback (test) endpoint or not an IPv4 address */
        FIREWALL_FAILED,      /* the table could not be installed (no nf_tables, not permitted, …) */
        _FIREWALL_STATE_MAX,
        _FIREWALL_STATE_INVALID = -EINVAL,
} FirewallState;

const char *firewall_state_to_string(FirewallState s);
FirewallState firewall_state_from_string(const char *s);

/* What `azl-agent status` shows: "<state> (<detail>)". No timestamp: the file is rewritten only when this
 * changes, and the same outcome gives the same bytes (crash consistency compares them). */
typedef struct FirewallStatus {
        FirewallState state;
        char *detail;
} FirewallStatus;

void firewall_status_done(FirewallStatus *s);
int firewall_status_set(FirewallStatus *s, FirewallState state, const char *fmt, ...) _printf_(3, 4);
/* <state_dir>/firewall.json beneath root_fd, written atomically (0644; it holds no secret). */
int firewall_status_save(int root_fd, const char *state_dir, const FirewallStatus *s);
int firewall_status_load(int root_fd, const char *state_dir, FirewallStatus *ret);
int firewall_status_to_json(const FirewallStatus *s, char **ret);
int firewall_status_from_json(const char *buf, size_t len, FirewallStatus *ret);

/*
 * The WireServer address to guard, from the endpoint "host[:port]" the agent uses. -EADDRNOTAVAIL for a loopback
 * address (a test or development fabric: guarding it would lock users out of unrelated local services),
 * -EAFNOSUPPORT when it is not a literal IPv4 address.
 */
int firewall_address_from_endpoint(const char *endpoint, struct in_addr *ret);

typedef struct Firewall Firewall;

int firewall_new(Firewall **ret);
Firewall *firewall_free(Firewall *f);
static inline void firewall_freep(Firewall **f) {
        firewall_free(*f);
}

typedef enum FirewallChange {
        FIREWALL_UNCHANGED, /* the table was there and intact */
        FIREWALL_INSTALLED, /* it was not there: installed */
        FIREWALL_RESTORED,  /* it was flushed, deleted or edited since we installed it: installed again */
        FIREWALL_UPDATED, /* an allowed unit started, stopped or was restarted: installed with its cgroup */
} FirewallChange;

/*
 * Makes our table guard address, with the allowed units (unit names or cgroup paths, validated by the config
 * parser and again here). Returns a FirewallChange, ret_summary describes the table ("168.63.129.16: root, 1 of 2
 * allowed unit(s) running"). On failure returns -errno and ret_error says why (libnftables' message).
 */
int firewall_reconcile(Firewall *f, struct in_addr address, char *const *allow_units, char **ret_summary,
                       char **ret_error);

/* Our table's transaction, checked by the kernel but not committed (libnftables' dry run): the kernel modules it
 * needs (nf_tables, conntrack, reject) are loaded by then — a second or two at boot under emulation, which the
 * provisioning run spends in a child while it reads the media and asks IMDS (provision-firewall.c). */
int firewall_warm_up(struct in_addr address);

/* Deletes our table if it exists (Enable=no, or the Guest Proxy Agent took over): 1 if it was there, 0 if not. */
int firewall_remove(Firewall *f, char **ret_error);

/*
 * The cgroup of an AllowUnits= entry, relative to the cgroup2 root: a path is taken as is (a leading '/' is
 * dropped), a unit name is searched for beneath the slices (systemd puts units in slices only). -ENOENT when it
 * does not exist (the unit is not running). cgroup2_root may be NULL for the system's mount.
 */
int firewall_resolve_unit(const char *cgroup2_root, const char *unit, char **ret_path);
