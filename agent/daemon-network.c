/* SPDX-License-Identifier: MIT */
/*
 * Hot-plugged NICs (issue #5). Azure attaches and detaches NICs while a VM runs, and a pre-provisioned VM
 * (PPS Savable) gets its real NICs attached when it is handed to the customer. The provisioning run applied
 * the IMDS network configuration at boot; the daemon keeps it applied:
 *
 *   link added/removed (network_watch_new(): RTNLGRP_LINK, an io source on the daemon's loop)
 *     ─► debounce DAEMON_NETWORK_DEBOUNCE: a NIC and its VF, or any burst of events, give one re-apply
 *     ─► GET IMDS instance on the loop (imds_fetch_instance_start(): provisioning's retry policy, deadline
 *        [Timeouts] IMDSDeadlineSec and api-version fallback)
 *     ─► network_apply_imds(), the function of the provisioning step "network" ─► log what changed
 *     ─► a NIC that IMDS does not list yet (IMDS lags a hot-attach), or a failed fetch: fetch again after
 *        1, 2, 4, 8, 16 s, then give up until the next link event.
 *
 * Which link events count: links whose MAC is one of the IMDS interfaces of the last fetch, links without a
 * MAC in the event (a resync after a netlink overrun), and added links that have a device (a NIC:
 * /sys/class/net/<if>/device/driver under --root, like the backend reads drivers). Links made by software
 * (containers' veths, bridges, tunnels) are ignored, so an AKS node starting pods does not query IMDS. One
 * re-apply at start closes the window between the provisioning run and the watch, and learns the MACs.
 *
 * [Network] Backend=none disables all of this, as it disables the provisioning step. Only the apply itself is
 * synchronous: netlink requests to the kernel, or a few files and networkd's Reload call.
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "daemon-internal.h"
#include "imds.h"
#include "log.h"
#include "macro.h"
#include "network.h"

#define DAEMON_NETWORK_DEBOUNCE   (1500U * USEC_PER_MSEC)
#define DAEMON_NETWORK_EVENTS_MAX 16U /* remembered for the log; further ones are counted */

/* Delays before the bounded re-fetches (a NIC IMDS does not list yet, or a failed fetch). */
static const usec_t retry_delays[] = {
        1 * USEC_PER_SEC, 2 * USEC_PER_SEC, 4 * USEC_PER_SEC, 8 * USEC_PER_SEC, 16 * USEC_PER_SEC,
};

typedef struct LinkChange {
        NetworkLinkEvent event;
        char name[IF_NAMESIZE];
} LinkChange;

struct DaemonNetwork {
        Daemon *daemon;
        NetworkWatch *watch;
        sd_event_source *timer; /* debounce and retries */
        bool timer_armed, timer_is_retry;
        ImdsFetch *fetch; /* in flight */
        bool again;       /* a link event arrived while the fetch ran */

        NetworkConfig known; /* the IMDS interfaces of the last successful fetch */
        bool have_known;

        int awaited[NETWORK_INTERFACES_MAX]; /* ifindexes of added NICs IMDS did not list yet */
        size_t n_awaited;
        unsigned n_retries; /* re-fetches since the last link event */

        LinkChange changes[DAEMON_NETWORK_EVENTS_MAX]; /* since the last apply, for the log */
        size_t n_changes, n_dropped;                   /* kept, and not kept for lack of room */
        size_t fetch_changes, fetch_dropped;           /* those the fetch in flight answers */
        uint64_t n_applies;
};

static bool config_lists(const NetworkConfig *c, const uint8_t mac[static 6], const NetworkInterface **ret) {
        for (size_t i = 0; i < c->n_interfaces; i++)
                if (memcmp(c->interfaces[i].mac, mac, 6) == 0) {
                        if (ret)
                                *ret = &c->interfaces[i];
                        return true;
                }
        return false;
}

static ssize_t awaited_find(const DaemonNetwork *n, int ifindex) {
        for (size_t i = 0; i < n->n_awaited; i++)
                if (n->awaited[i] == ifindex)
                        return (ssize_t) i;
        return -1;
}

static void awaited_remove(DaemonNetwork *n, size_t i) {
        n->awaited[i] = n->awaited[--n->n_awaited];
}

/* Appends item to *s, after sep unless *s is empty. */
static int append(char **s, const char *sep, const char *item) {
        char *t;

        if (asprintf(&t, "%s%s%s", strempty(*s), *s ? sep : "", item) < 0)
                return -ENOMEM;
        free(*s);
        *s = t;
        return 0;
}

/* What the fetch in flight answers, for the log: "eth1 added, vf1 added (+2 more)". */
static char *changes_describe(const DaemonNetwork *n) {
        _cleanup_free_ char *s = NULL;

        if (n->fetch_changes + n->fetch_dropped == 0)
                return strdup("daemon start");
        for (size_t i = 0; i < n->fetch_changes; i++) {
                char item[IF_NAMESIZE + 16];

                (void) snprintf(item, sizeof item, "%s %s",
                                n->changes[i].name[0] ? n->changes[i].name : "a link",
                                network_link_event_to_string(n->changes[i].event));
                if (append(&s, ", ", item) < 0)
                        return NULL;
        }
        if (n->fetch_dropped > 0) {
                char more[32];

                (void) snprintf(more, sizeof more, "(+%zu more)", n->fetch_dropped);
                if (append(&s, " ", more) < 0)
                        return NULL;
        }
        return TAKE_PTR(s);
}

/* Forgets the changes the last fetch answered; those that came during it stay. */
static void changes_consume(DaemonNetwork *n) {
        n->n_changes -= n->fetch_changes;
        memmove(n->changes, n->changes + n->fetch_changes, n->n_changes * sizeof n->changes[0]);
        n->n_dropped -= n->fetch_dropped;
        n->fetch_changes = n->fetch_dropped = 0;
}

static void schedule(DaemonNetwork *n, usec_t delay, bool is_retry);

/* Called by sd-event when the debounce or retry delay is over. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

static void fetch_start(DaemonNetwork *n);

/* After a failed fetch or a NIC IMDS does not list: fetch again later, a bounded number of times. */
static void retry_or_give_up(DaemonNetwork *n, const char *why) {
        char delay[32] = "";

        if (n->n_retries < ELEMENTSOF(retry_delays)) {
                usec_t d = retry_delays[n->n_retries++];

                (void) format_timespan(d, delay, sizeof delay);
                log_info("Network: %s; asking IMDS again in %s (%u/%zu).", why, delay, n->n_retries,
                         ELEMENTSOF(retry_delays));
                schedule(n, d, true);
                return;
        }
        log_notice(
                "Network: %s after %zu attempts; leaving the links as they are until the next link change.",
                why, ELEMENTSOF(retry_delays) + 1);
        n->n_awaited = 0;
        n->n_retries = 0;
        changes_consume(n);
}

/*
 * Keeps the awaited NICs that are still there and whose MAC IMDS does not list. The MAC is read now, not
 * taken from the event: a link may get its address after it appeared. *ret_macs: "eth1 00:0d:3a:…, …".
 */
static int awaited_update(DaemonNetwork *n, char **ret_macs) {
        _cleanup_(netlink_context_freep) NetlinkContext *nl = NULL;
        _cleanup_free_ NlLink *links = NULL;
        _cleanup_free_ char *s = NULL;
        size_t n_links = 0;
        int r;

        r = netlink_context_new(&nl);
        if (r >= 0)
                r = netlink_link_list(nl, &links, &n_links);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n->n_awaited;) {
                const NlLink *l = NULL;
                char item[IF_NAMESIZE + 20];

                for (size_t j = 0; j < n_links && !l; j++)
                        if (links[j].ifindex == n->awaited[i])
                                l = &links[j];
                if (!l || !l->has_mac || config_lists(&n->known, l->mac, NULL)) {
                        awaited_remove(n, i);
                        continue;
                }
                i++;
                (void) snprintf(item, sizeof item, "%s ", l->name);
                network_mac_format(l->mac, true, item + strlen(item), sizeof item - strlen(item));
                if (append(&s, ", ", item) < 0)
                        return -ENOMEM;
        }
        *ret_macs = TAKE_PTR(s);
        return 0;
}

/* "10.0.1.5/24 10.0.1.6/24" */
static char *addresses_describe(const NetworkInterface *i) {
        _cleanup_free_ char *s = NULL;

        for (size_t j = 0; j < i->n_ipv4 + i->n_ipv6; j++) {
                const NetworkAddress *a = j < i->n_ipv4 ? &i->ipv4[j] : &i->ipv6[j - i->n_ipv4];
                char buf[64];

                if (network_address_format(a, true, buf, sizeof buf) < 0)
                        continue;
                if (append(&s, " ", buf) < 0)
                        return NULL;
        }
        return s ? TAKE_PTR(s) : strdup("no addresses");
}

/* Logs the interfaces IMDS added or dropped since the last fetch. */
static void log_imds_diff(const NetworkConfig *old, const NetworkConfig *new) {
        char mac[18];

        for (size_t i = 0; i < new->n_interfaces; i++) {
                const NetworkInterface *x = &new->interfaces[i];
                _cleanup_free_ char *addrs = NULL;

                if (config_lists(old, x->mac, NULL))
                        continue;
                network_mac_format(x->mac, true, mac, sizeof mac);
                addrs = addresses_describe(x);
                log_info("Network: IMDS lists NIC %s (interface %u): %s.", mac, x->index, strna(addrs));
        }
        for (size_t i = 0; i < old->n_interfaces; i++)
                if (!config_lists(new, old->interfaces[i].mac, NULL)) {
                        network_mac_format(old->interfaces[i].mac, true, mac, sizeof mac);
                        log_info("Network: IMDS no longer lists NIC %s.", mac);
                }
}

/* Parses the instance document and applies its network object; logs the outcome. */
static int apply(DaemonNetwork *n, const char *body, size_t size, const char *cause) {
        _cleanup_(imds_instance_done) ImdsInstance instance = {};
        _cleanup_(network_config_done) NetworkConfig cfg = {};
        Context *c = n->daemon->context;
        _cleanup_free_ char *summary = NULL;
        NetworkApplyResult res = {};
        JsonError err = {};
        int r;

        r = imds_parse_instance(body, size, &instance, &err);
        if (r < 0)
                return log_warning_errno(
                        r, "Network: IMDS instance metadata is invalid, links left as they are: %s",
                        err.message[0] ? err.message : "malformed document");
        if (!instance.network) {
                log_warning("Network: IMDS has no network data, links left as they are.");
                return -ENODATA;
        }
        r = network_apply_imds(c, instance.network, c->config.network_backend, &cfg, &res, &summary);
        if (r == -ENOMEM)
                return log_oom();
        if (r < 0) {
                log_warning("Network re-apply after %s: %s", cause, summary);
                return r;
        }
        n->n_applies++;
        log_imds_diff(&n->known, &cfg);
        log_full(r > 0 || n->n_applies == 1 ? LOG_INFO : LOG_DEBUG,
                 "Network %s after %s: %s; %u IMDS interface(s) without a link, %u VF(s) left alone.",
                 r > 0 ? "re-applied" : "unchanged", cause, summary, res.n_missing, res.n_vfs);
        network_config_done(&n->known);
        n->known = cfg;
        cfg = (NetworkConfig){};
        n->have_known = true;
        return 0;
}

/* Called once with the instance document (or the error) of the fetch started by fetch_start(). */
static void on_imds(ImdsFetch *f, int error, char *body, size_t size, void *userdata) {
        _cleanup_free_ char *buf = body, *cause = NULL, *why = NULL;
        DaemonNetwork *n = userdata;
        int r;

        n->fetch = NULL;
        cause = changes_describe(n);
        if (error < 0) {
                log_warning_errno(error, "Network: IMDS did not answer after %s: %m", strna(cause));
                if (asprintf(&why, "IMDS did not answer (%s)", strerror(-error)) < 0)
                        return (void) log_oom();
                retry_or_give_up(n, why);
        } else if (apply(n, buf, size, strna(cause)) < 0)
                retry_or_give_up(n, "the network could not be applied");
        else {
                /* NICs now listed are configured; those still missing are asked for again, a few times. */
                _cleanup_free_ char *macs = NULL;

                r = awaited_update(n, &macs);
                if (r < 0) {
                        log_warning_errno(r, "Network: failed to list the links: %m");
                        n->n_awaited = 0;
                }
                if (n->n_awaited > 0) {
                        r = asprintf(&why, "IMDS does not list %s yet", strna(macs));
                        if (r < 0)
                                return (void) log_oom();
                        retry_or_give_up(n, why);
                } else {
                        n->n_retries = 0;
                        changes_consume(n);
                }
        }
        /* Links changed while IMDS was asked: a new round (it replaces a pending retry, which it covers). */
        if (n->again && (!n->timer_armed || n->timer_is_retry))
                schedule(n, DAEMON_NETWORK_DEBOUNCE, false);
        n->again = false;
}

static void fetch_start(DaemonNetwork *n) {
        Daemon *d = n->daemon;
        ImdsOptions o;
        int r;

        imds_options_from_config(&d->context->config, &o);
        n->again = false;
        n->fetch_changes = n->n_changes;
        n->fetch_dropped = n->n_dropped;
        r = imds_fetch_instance_start(azure_client_get_http(d->client), &o, on_imds, n, &n->fetch);
        if (r < 0) {
                log_warning_errno(r, "Network: failed to ask IMDS: %m");
                retry_or_give_up(n, "IMDS could not be asked");
        }
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        DaemonNetwork *n = userdata;

        n->timer_armed = false;
        if (n->fetch)
                n->again = true; /* one fetch at a time: the next starts when this one ended */
        else
                fetch_start(n);
        return 0;
}

static void schedule(DaemonNetwork *n, usec_t delay, bool is_retry) {
        int r;

        if (!n->timer) {
                r = sd_event_add_time_relative(n->daemon->event, &n->timer, CLOCK_MONOTONIC, delay,
                                               50 * USEC_PER_MSEC, on_timer, n);
                if (r >= 0)
                        (void) sd_event_source_set_description(n->timer, "network-reapply");
        } else {
                r = sd_event_source_set_time_relative(n->timer, delay);
                if (r >= 0)
                        r = sd_event_source_set_enabled(n->timer, SD_EVENT_ONESHOT);
        }
        if (r < 0) {
                log_warning_errno(r,
                                  "Network: failed to arm the re-apply timer, hot-plug re-apply stops: %m");
                return;
        }
        n->timer_armed = true;
        n->timer_is_retry = is_retry;
}

/* Called by the watch for every link that appears or disappears. */
static void on_link(NetworkWatch *w, NetworkLinkEvent event, const NlLink *link, void *userdata) {
        DaemonNetwork *n = userdata;
        bool listed, nic = false;
        char mac[18] = "";

        if (link->flags & IFF_LOOPBACK)
                return;
        if (link->has_mac)
                network_mac_format(link->mac, true, mac, sizeof mac);
        listed = link->has_mac && config_lists(&n->known, link->mac, NULL);
        if (event == NETWORK_LINK_ADDED && link->has_mac && !listed) {
                _cleanup_free_ char *driver = NULL;

                nic = network_link_driver(n->daemon->context->root_fd, link->name, &driver) >= 0;
        }
        if (!listed && !nic && link->has_mac) {
                log_debug("Network: link %s (%s) %s: not a NIC of this VM, ignored.", link->name, mac,
                          network_link_event_to_string(event));
                return;
        }
        log_info("Network: link %s (%s) %s; re-applying the IMDS configuration.",
                 link->name[0] ? link->name : "?", mac[0] ? mac : "no MAC",
                 network_link_event_to_string(event));

        ssize_t i = awaited_find(n, link->ifindex);

        if (event == NETWORK_LINK_REMOVED && i >= 0)
                awaited_remove(n, i);
        else if (nic && i < 0 && n->n_awaited < ELEMENTSOF(n->awaited))
                n->awaited[n->n_awaited++] = link->ifindex;
        n->n_retries = 0; /* a new event gets the full retry budget */
        if (n->n_changes < ELEMENTSOF(n->changes)) {
                LinkChange *ch = &n->changes[n->n_changes++];

                *ch = (LinkChange){.event = event};
                memcpy(ch->name, link->name, sizeof ch->name);
                ch->name[sizeof ch->name - 1] = '\0';
        } else
                n->n_dropped++;

        if (n->fetch)
                n->again = true;
        else if (!n->timer_armed || n->timer_is_retry)
                /* Debounced from the first event of a burst; a pending retry is brought forward. */
                schedule(n, DAEMON_NETWORK_DEBOUNCE, false);
}

int daemon_network_start(Daemon *d) {
        DaemonNetwork *n;
        int r;

        if (d->context->config.network_backend == NETWORK_BACKEND_NONE) {
                log_debug("Network: [Network] Backend=none, not watching links.");
                return 0;
        }
        n = calloc(1, sizeof *n);
        if (!n)
                return log_oom();
        n->daemon = d;
        r = network_watch_new(d->event, on_link, n, &n->watch);
        if (r < 0) {
                free(n);
                if (r == -ENOMEM)
                        return log_oom();
                log_warning_errno(
                        r, "Network: cannot watch links, hot-plugged NICs will not be configured: %m");
                return 0;
        }
        d->network = n;
        schedule(n, DAEMON_NETWORK_DEBOUNCE, false); /* catches up with what changed since provisioning */
        return 0;
}

DaemonNetwork *daemon_network_free(DaemonNetwork *n) {
        if (!n)
                return NULL;
        imds_fetch_cancel(n->fetch);
        sd_event_source_disable_unref(n->timer);
        network_watch_free(n->watch);
        network_config_done(&n->known);
        free(n);
        return NULL;
}
