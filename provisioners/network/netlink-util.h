/* SPDX-License-Identifier: MIT */
/*
 * The libnl seam (house style rule 21). This header exposes plain structs and -errno functions; only
 * netlink-util.c includes libnl, so the library can be replaced (sd-netlink, raw rtnetlink) without touching
 * the network provisioner. Everything operates on the calling thread's current network namespace, which is
 * what lets the tests run the real code inside a namespace they created.
 *
 * Listing functions are bounded (NETLINK_LINKS_MAX, NETLINK_ADDRESSES_MAX, NETLINK_ROUTES_MAX) and fail with
 * -E2BIG beyond; mutating functions report whether they changed anything only through their return value
 * (0 done, -EEXIST/-ESRCH/-EADDRNOTAVAIL when the kernel says there was nothing to do).
 */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define NETLINK_LINKS_MAX     4096U
#define NETLINK_ADDRESSES_MAX 16384U
#define NETLINK_ROUTES_MAX    65536U

typedef struct NlLink {
        int ifindex;
        char name[IF_NAMESIZE];
        uint8_t mac[6];
        bool has_mac;   /* a 6-byte link-layer address was reported */
        unsigned flags; /* IFF_* */
        unsigned mtu;
        int master;       /* ifindex of the master (bond/bridge/netvsc for an enslaved VF), 0 if none */
        unsigned arptype; /* ARPHRD_* */
        int promote_secondaries; /* net.ipv4.conf.<if>.promote_secondaries: 0/1, -1 unknown */
} NlLink;

typedef struct NlAddress {
        int family; /* AF_INET, AF_INET6 */
        int ifindex;
        uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
        unsigned char prefixlen;
        unsigned flags; /* IFA_F_* */
        unsigned char scope;
} NlAddress;

typedef struct NlRoute {
        int family;
        int oif; /* output interface of the (single) next hop */
        uint8_t dst[16];
        unsigned char dst_len;
        uint8_t gateway[16];
        bool has_gateway;
        uint32_t metric; /* RTA_PRIORITY */
        uint32_t table;
        uint8_t protocol; /* RTPROT_* */
} NlRoute;

/* A set of ifindexes (unsorted, at most NETLINK_LINKS_MAX): which links a watcher has seen, so that it can tell
 * a new link from a state change of a known one. */
typedef struct IfindexSet {
        int *items;
        size_t n;
} IfindexSet;

bool ifindex_set_contains(const IfindexSet *s, int ifindex);
/* 1 when added, 0 when already there, -E2BIG/-ENOMEM. */
int ifindex_set_add(IfindexSet *s, int ifindex);
/* true when it was there. */
bool ifindex_set_remove(IfindexSet *s, int ifindex);
void ifindex_set_done(IfindexSet *s);
/* Removes one member that is not among links (a link that went away while notifications were lost):
 * 1 and its ifindex in *ret, or 0 when every member is still there. */
int ifindex_set_pop_missing(IfindexSet *s, const NlLink *links, size_t n, int *ret);

typedef struct NetlinkContext NetlinkContext;

int netlink_context_new(NetlinkContext **ret);
NetlinkContext *netlink_context_free(NetlinkContext *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetlinkContext *, netlink_context_free);

/* Dumps. ret arrays are malloc'ed (free()), possibly NULL when *ret_n is 0. ifindex 0 = every link. */
int netlink_link_list(NetlinkContext *nl, NlLink **ret, size_t *ret_n);
int netlink_address_list(NetlinkContext *nl, int ifindex, NlAddress **ret, size_t *ret_n);
/* Unicast routes of family in table (RT_TABLE_MAIN usually), any interface. */
int netlink_route_list(NetlinkContext *nl, int family, uint32_t table, NlRoute **ret, size_t *ret_n);

int netlink_link_set_up(NetlinkContext *nl, int ifindex);
int netlink_link_set_mtu(NetlinkContext *nl, int ifindex, unsigned mtu);
/* Sets IPv4 promote_secondaries (IFLA_AF_SPEC/IFLA_INET_CONF), so that deleting an address does not take
 * the other addresses of its subnet with it. */
int netlink_link_set_promote_secondaries(NetlinkContext *nl, int ifindex);

/* Adds an address; -EEXIST when it is already there (then nothing changed). */
int netlink_address_add(NetlinkContext *nl, const NlAddress *a);
/* Removes an address; -EADDRNOTAVAIL/-ENOENT when it was not there. */
int netlink_address_del(NetlinkContext *nl, const NlAddress *a);
/* Adds (NLM_F_EXCL) or deletes a unicast route with one next hop. */
int netlink_route_add(NetlinkContext *nl, const NlRoute *r);
int netlink_route_del(NetlinkContext *nl, const NlRoute *r);

/* Link notifications (RTNLGRP_LINK). The callback gets every RTM_NEWLINK (removed=false) and RTM_DELLINK
 * (removed=true) in arrival order. */
typedef void (*NetlinkLinkFunc)(bool removed, const NlLink *link, void *userdata);
typedef struct NetlinkMonitor NetlinkMonitor;

/* Opens a non-blocking, close-on-exec socket subscribed to RTNLGRP_LINK. */
int netlink_monitor_new(NetlinkLinkFunc func, void *userdata, NetlinkMonitor **ret);
NetlinkMonitor *netlink_monitor_free(NetlinkMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetlinkMonitor *, netlink_monitor_free);
int netlink_monitor_fd(NetlinkMonitor *m);
/* Reads and dispatches everything queued, returns 0 once the socket would block. -ENOBUFS means the
 * kernel dropped notifications (receive queue overrun): the caller must resynchronise with a dump. */
int netlink_monitor_receive(NetlinkMonitor *m);

/* Helpers over the plain structs. */
bool nl_address_equal(const NlAddress *a, const NlAddress *b); /* family, ifindex, address, prefix */
bool nl_route_equal(const NlRoute *a, const NlRoute *b);       /* family, oif, dst, gateway, metric, table */
size_t nl_family_addr_size(int family);                        /* 4, 16, or 0 */
