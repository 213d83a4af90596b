/* SPDX-License-Identifier: MIT */
/*
 * The netlink backend: brings the kernel to the IMDS state without any network manager, for images that
 * have none. Per IMDS interface, on the link picked by MAC (network-link.c):
 *   - MTU when IMDS gives one, IPv4 promote_secondaries (see configure_link()), then IFF_UP;
 *   - every IPv4 and IPv6 address with the prefix of its subnet (IPv6 with IFA_F_NODAD: Azure's fabric
 *     guarantees uniqueness, and a tentative address would not be usable right away);
 *   - an IPv4 default route via the subnet gateway (first host: Azure reserves it for the gateway) with
 *     metric 100 + 100*index, so the primary NIC (index 0) carries the traffic to IMDS and WireServer.
 *     IPv6 default routes come from router advertisements on Azure and are not added here.
 * Idempotent: the kernel's addresses and routes are dumped first and only the delta is requested; each
 * successful request counts as one change. Addresses and routes the agent finds already present are not
 * claimed; those it adds are recorded in <state_dir>/network.json, and only recorded ones are ever removed
 * (when IMDS drops them, or the interface disappears from IMDS).
 */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "network-internal.h"
#include "network.h"

typedef struct Kernel {
        NetlinkContext *nl;
        NetworkLink *links;
        size_t n_links;
        NlAddress *addrs;
        size_t n_addrs;
        NlRoute *routes;
        size_t n_routes;
        unsigned n_changes;
} Kernel;

static void kernel_done(Kernel *k) {
        netlink_context_free(k->nl);
        network_links_free(k->links, k->n_links);
        free(k->addrs);
        free(k->routes);
}

static NlAddress to_nl_address(const NetworkAddress *a, int ifindex) {
        NlAddress n = {
                .family = a->family,
                .ifindex = ifindex,
                .prefixlen = a->prefixlen,
                .flags = a->family == AF_INET6 ? IFA_F_NODAD : 0,
        };

        memcpy(n.addr, a->addr, 16);
        return n;
}

static NlRoute to_nl_route(const NetworkOwned *e, int ifindex) {
        NlRoute r = {
                .family = e->address.family,
                .oif = ifindex,
                .dst_len = e->address.prefixlen,
                .has_gateway = e->gateway.family != 0,
                .metric = e->metric,
                .table = RT_TABLE_MAIN,
                .protocol = RTPROT_STATIC,
        };

        memcpy(r.dst, e->address.addr, 16);
        memcpy(r.gateway, e->gateway.addr, 16);
        return r;
}

static bool kernel_has_address(const Kernel *k, const NlAddress *a) {
        for (size_t i = 0; i < k->n_addrs; i++)
                if (nl_address_equal(&k->addrs[i], a))
                        return true;
        return false;
}

static bool kernel_has_route(const Kernel *k, const NlRoute *r) {
        for (size_t i = 0; i < k->n_routes; i++)
                if (nl_route_equal(&k->routes[i], r))
                        return true;
        return false;
}

static int kernel_load(Kernel *k, int root_fd) {
        int r;

        r = netlink_context_new(&k->nl);
        if (r < 0)
                return r;
        r = network_links_load(k->nl, root_fd, &k->links, &k->n_links);
        if (r < 0)
                return r;
        r = netlink_address_list(k->nl, 0, &k->addrs, &k->n_addrs);
        if (r < 0)
                return r;
        return netlink_route_list(k->nl, AF_INET, RT_TABLE_MAIN, &k->routes, &k->n_routes);
}

/* Desired addresses and routes of one interface, as state entries. */
static int desired_entries(const NetworkInterface *i, NetworkState *ret) {
        _cleanup_(network_state_done) NetworkState d = {};
        NetworkOwned e = {};
        NetworkAddress gw;
        int r;

        memcpy(e.mac, i->mac, 6);
        for (size_t j = 0; j < i->n_ipv4 + i->n_ipv6; j++) {
                e.address = j < i->n_ipv4 ? i->ipv4[j] : i->ipv6[j - i->n_ipv4];
                r = network_state_add(&d, &e);
                if (r < 0)
                        return r;
        }
        if (network_interface_gateway4(i, &gw) >= 0) {
                e = (NetworkOwned){
                        .is_route = true,
                        .address = {.family = AF_INET, .prefixlen = 0},
                        .gateway = gw,
                        .metric = network_interface_metric(i),
                };
                memcpy(e.mac, i->mac, 6);
                r = network_state_add(&d, &e);
                if (r < 0)
                        return r;
        }
        *ret = d;
        d = (NetworkState){};
        return 0;
}

/* Removes what we added earlier on this link but IMDS no longer wants (routes first, then addresses). */
static int remove_unwanted(Kernel *k, const uint8_t mac[static 6], int ifindex, const NetworkState *old,
                           const NetworkState *desired) {
        int ret = 0;

        for (int pass = 0; pass < 2; pass++)
                for (size_t j = 0; j < old->n; j++) {
                        const NetworkOwned *e = &old->entries[j];
                        int r;

                        if (e->is_route != (pass == 0) || memcmp(e->mac, mac, 6) != 0 ||
                            (desired && network_state_contains(desired, e)))
                                continue;
                        if (e->is_route) {
                                NlRoute rt = to_nl_route(e, ifindex);

                                if (!kernel_has_route(k, &rt))
                                        continue;
                                r = netlink_route_del(k->nl, &rt);
                        } else {
                                NlAddress a = to_nl_address(&e->address, ifindex);

                                if (!kernel_has_address(k, &a))
                                        continue;
                                r = netlink_address_del(k->nl, &a);
                        }
                        if (r >= 0)
                                k->n_changes++;
                        else if (r != -ESRCH && r != -EADDRNOTAVAIL && ret == 0)
                                ret = r;
                }
        return ret;
}

/* Adds what is missing; records in new_state what we added now or had added before and is still there. */
static int add_missing(Kernel *k, int ifindex, const NetworkState *old, const NetworkState *desired,
                       NetworkState *new_state) {
        int ret = 0;

        /* Addresses first: the gateway of a route must be on-link when the route is added. */
        for (int pass = 0; pass < 2; pass++)
                for (size_t j = 0; j < desired->n; j++) {
                        const NetworkOwned *e = &desired->entries[j];
                        bool present, added = false;
                        int r = 0;

                        if (e->is_route != (pass == 1))
                                continue;
                        if (e->is_route) {
                                NlRoute rt = to_nl_route(e, ifindex);

                                present = kernel_has_route(k, &rt);
                                if (!present)
                                        r = netlink_route_add(k->nl, &rt);
                        } else {
                                NlAddress a = to_nl_address(&e->address, ifindex);

                                present = kernel_has_address(k, &a);
                                if (!present)
                                        r = netlink_address_add(k->nl, &a);
                        }
                        if (!present && r >= 0) {
                                k->n_changes++;
                                added = true;
                        } else if (!present && r != -EEXIST && ret == 0)
                                ret = r;
                        if (added || (present && network_state_contains(old, e))) {
                                r = network_state_add(new_state, e);
                                if (r < 0)
                                        return r;
                        }
                }
        return ret;
}

static int configure_link(Kernel *k, const NetworkInterface *i, const NlLink *link, const NetworkState *old,
                          NetworkState *new_state) {
        _cleanup_(network_state_done) NetworkState desired = {};
        int r, ret = 0;

        if (i->mtu > 0 && link->mtu != i->mtu) {
                r = netlink_link_set_mtu(k->nl, link->ifindex, i->mtu);
                if (r < 0)
                        return r;
                k->n_changes++;
        }
        /* Without promote_secondaries, deleting the first IPv4 address of a subnet deletes every other address
         * of that subnet too, someone else's included. systemd-networkd sets it for the same reason. */
        if (link->promote_secondaries == 0) {
                r = netlink_link_set_promote_secondaries(k->nl, link->ifindex);
                if (r < 0)
                        return r;
                k->n_changes++;
        }
        if (!(link->flags & IFF_UP)) {
                r = netlink_link_set_up(k->nl, link->ifindex);
                if (r < 0)
                        return r;
                k->n_changes++;
        }
        r = desired_entries(i, &desired);
        if (r < 0)
                return r;
        r = remove_unwanted(k, i->mac, link->ifindex, old, &desired);
        if (r < 0)
                ret = r;
        r = add_missing(k, link->ifindex, old, &desired, new_state);
        if (r < 0 && ret == 0)
                ret = r;
        return ret;
}

/* Keeps the records of an interface whose link is absent right now and that IMDS still wants. */
static int carry_over(const NetworkInterface *i, const NetworkState *old, NetworkState *new_state) {
        _cleanup_(network_state_done) NetworkState desired = {};
        int r;

        r = desired_entries(i, &desired);
        if (r < 0)
                return r;
        for (size_t j = 0; j < old->n; j++)
                if (network_state_contains(&desired, &old->entries[j])) {
                        r = network_state_add(new_state, &old->entries[j]);
                        if (r < 0)
                                return r;
                }
        return 0;
}

static bool config_has_mac(const NetworkConfig *c, const uint8_t mac[static 6]) {
        for (size_t i = 0; i < c->n_interfaces; i++)
                if (memcmp(c->interfaces[i].mac, mac, 6) == 0)
                        return true;
        return false;
}

/* Cleans up after interfaces that IMDS no longer lists but whose link is still here. */
static int forget_removed_interfaces(Kernel *k, const NetworkConfig *c, const NetworkState *old) {
        int ret = 0;

        for (size_t j = 0; j < old->n; j++) {
                NetworkInterface gone = {};
                size_t idx;
                int r;

                if (config_has_mac(c, old->entries[j].mac))
                        continue;
                /* Once per MAC: only at its first entry. */
                bool first = true;
                for (size_t x = 0; x < j && first; x++)
                        if (memcmp(old->entries[x].mac, old->entries[j].mac, 6) == 0)
                                first = false;
                if (!first)
                        continue;
                memcpy(gone.mac, old->entries[j].mac, 6);
                if (network_link_pick(&gone, k->links, k->n_links, &idx, NULL) < 0)
                        continue;
                if (k->links[idx].link.promote_secondaries == 0) {
                        r = netlink_link_set_promote_secondaries(k->nl, k->links[idx].link.ifindex);
                        if (r < 0) {
                                if (ret == 0)
                                        ret = r;
                                continue;
                        }
                        k->n_changes++;
                }
                r = remove_unwanted(k, gone.mac, k->links[idx].link.ifindex, old, NULL);
                if (r < 0 && ret == 0)
                        ret = r;
        }
        return ret;
}

int network_apply_netlink(Context *c, const NetworkConfig *config, NetworkApplyResult *ret) {
        NetworkApplyResult result = {.backend = NETWORK_BACKEND_NETLINK,
                                     .reload = NETWORK_RELOAD_NOT_NEEDED};
        _cleanup_(kernel_done) Kernel k = {};
        _cleanup_(network_state_done) NetworkState old = {}, new_state = {};
        int r, first_error = 0;

        r = kernel_load(&k, c->root_fd);
        if (r < 0)
                return r;
        r = network_state_load(c->root_fd, c->config.state_dir, &old);
        if (r == -EBADMSG)
                /* A corrupt record only means we cannot prove ownership: then we remove nothing. */
                old = (NetworkState){};
        else if (r < 0)
                return r;

        for (size_t j = 0; j < config->n_interfaces; j++) {
                const NetworkInterface *i = &config->interfaces[j];
                unsigned n_vfs = 0;
                size_t idx;

                r = network_link_pick(i, k.links, k.n_links, &idx, &n_vfs);
                result.n_vfs += n_vfs;
                if (r == -ENODEV) {
                        result.n_missing++;
                        r = carry_over(i, &old, &new_state);
                } else if (r >= 0) {
                        result.n_configured++;
                        r = configure_link(&k, i, &k.links[idx].link, &old, &new_state);
                }
                if (r < 0 && first_error == 0)
                        first_error = r;
        }
        r = forget_removed_interfaces(&k, config, &old);
        if (r < 0 && first_error == 0)
                first_error = r;

        /* Recorded even after a partial failure, so that what was added stays ours. */
        r = network_state_save(c->root_fd, c->config.state_dir, &new_state);
        if (r < 0 && first_error == 0)
                first_error = r;
        if (first_error < 0)
                return first_error;
        result.n_changes = k.n_changes;
        if (ret)
                *ret = result;
        return result.n_changes > 0;
}
