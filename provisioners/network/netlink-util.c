/* SPDX-License-Identifier: MIT */
/*
 * libnl-route glue: the only file of the project that includes libnl. It converts between libnl objects and
 * the plain NlLink/NlAddress/NlRoute structs of netlink-util.h, maps libnl's NLE_* codes back to errno, and
 * wraps every libnl object in a cleanup helper so that no error path leaks. libnl's own caches are used only
 * for one-shot dumps; no state is kept between calls.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ip.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <netlink/socket.h>

#include "netlink-util.h"

/* nl-util: cleanup helpers for the libnl types used here. */
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_sock *, nl_socket_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_addr *, nl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_link *, rtnl_link_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_addr *, rtnl_addr_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_route *, rtnl_route_put);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_nexthop *, rtnl_route_nh_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cb *, nl_cb_put);

struct NetlinkContext {
        struct nl_sock *sk;
};

struct NetlinkMonitor {
        struct nl_sock *sk;
        NetlinkLinkFunc func;
        void *userdata;
        bool removed; /* type of the message being parsed */
};

/* libnl folds kernel errno values into its own NLE_* space (nl_syserr2nlerr); map them back. Lossy by
 * nature: e.g. ENOENT and ESRCH both become NLE_OBJ_NOTFOUND → -ENOENT. */
static int nlerr_to_errno(int r) {
        if (r >= 0)
                return r;
        switch (-r) {
        case NLE_INTR:
                return -EINTR;
        case NLE_BAD_SOCK:
                return -EBADF;
        case NLE_AGAIN:
                return -EAGAIN;
        case NLE_NOMEM:
                return -ENOMEM;
        case NLE_EXIST:
                return -EEXIST;
        case NLE_INVAL:
        case NLE_MISSING_ATTR:
        case NLE_AF_MISMATCH:
                return -EINVAL;
        case NLE_RANGE:
                return -ERANGE;
        case NLE_MSGSIZE:
                return -EMSGSIZE;
        case NLE_OPNOTSUPP:
        case NLE_MSGTYPE_NOSUPPORT:
                return -EOPNOTSUPP;
        case NLE_AF_NOSUPPORT:
                return -EAFNOSUPPORT;
        case NLE_OBJ_NOTFOUND:
                return -ENOENT;
        case NLE_NOADDR:
                return -EADDRNOTAVAIL;
        case NLE_BUSY:
                return -EBUSY;
        case NLE_NOACCESS:
                return -EACCES;
        case NLE_PERM:
                return -EPERM;
        case NLE_NODEV:
                return -ENODEV;
        case NLE_DUMP_INTR:
                return -EAGAIN;
        case NLE_MSG_TRUNC:
        case NLE_MSG_OVERFLOW:
                return -ENOBUFS;
        default:
                return -EIO;
        }
}

size_t nl_family_addr_size(int family) {
        return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

bool nl_address_equal(const NlAddress *a, const NlAddress *b) {
        size_t sz = nl_family_addr_size(a->family);

        return a->family == b->family && a->ifindex == b->ifindex && a->prefixlen == b->prefixlen &&
               sz > 0 && memcmp(a->addr, b->addr, sz) == 0;
}

bool nl_route_equal(const NlRoute *a, const NlRoute *b) {
        size_t sz = nl_family_addr_size(a->family);

        return a->family == b->family && a->oif == b->oif && a->dst_len == b->dst_len &&
               a->metric == b->metric && a->table == b->table && a->has_gateway == b->has_gateway &&
               sz > 0 && memcmp(a->dst, b->dst, sz) == 0 &&
               (!a->has_gateway || memcmp(a->gateway, b->gateway, sz) == 0);
}

/* libnl (≥ 3.2.x) opens its sockets with SOCK_CLOEXEC; make sure of it anyway (house style rule 10). */
static ssize_t ifindex_set_find(const IfindexSet *s, int ifindex) {
        for (size_t i = 0; i < s->n; i++)
                if (s->items[i] == ifindex)
                        return (ssize_t) i;
        return -1;
}

bool ifindex_set_contains(const IfindexSet *s, int ifindex) {
        return ifindex_set_find(s, ifindex) >= 0;
}

int ifindex_set_add(IfindexSet *s, int ifindex) {
        int *n;

        if (ifindex_set_contains(s, ifindex))
                return 0;
        if (s->n >= NETLINK_LINKS_MAX)
                return -E2BIG;
        n = reallocarray(s->items, s->n + 1, sizeof *n);
        if (!n)
                return -ENOMEM;
        s->items = n;
        s->items[s->n++] = ifindex;
        return 1;
}

bool ifindex_set_remove(IfindexSet *s, int ifindex) {
        ssize_t i = ifindex_set_find(s, ifindex);

        if (i < 0)
                return false;
        s->items[i] = s->items[--s->n];
        return true;
}

int ifindex_set_pop_missing(IfindexSet *s, const NlLink *links, size_t n, int *ret) {
        for (size_t i = 0; i < s->n; i++) {
                bool present = false;

                for (size_t j = 0; j < n && !present; j++)
                        present = links[j].ifindex == s->items[i];
                if (!present) {
                        *ret = s->items[i];
                        s->items[i] = s->items[--s->n];
                        return 1;
                }
        }
        return 0;
}

void ifindex_set_done(IfindexSet *s) {
        free(s->items);
        *s = (IfindexSet){};
}

static int ensure_cloexec(struct nl_sock *sk) {
        int fd = nl_socket_get_fd(sk), flags;

        if (fd < 0)
                return -EBADF;
        flags = fcntl(fd, F_GETFD);
        if (flags < 0)
                return -errno;
        if (flags & FD_CLOEXEC)
                return 0;
        return RET_NERRNO(fcntl(fd, F_SETFD, flags | FD_CLOEXEC));
}

int netlink_context_new(NetlinkContext **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        NetlinkContext *nl;
        int r;

        sk = nl_socket_alloc();
        if (!sk)
                return -ENOMEM;
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return nlerr_to_errno(r);
        r = ensure_cloexec(sk);
        if (r < 0)
                return r;
        nl = calloc(1, sizeof *nl);
        if (!nl)
                return -ENOMEM;
        nl->sk = TAKE_PTR(sk);
        *ret = nl;
        return 0;
}

NetlinkContext *netlink_context_free(NetlinkContext *nl) {
        if (!nl)
                return NULL;
        nl_socket_free(nl->sk);
        free(nl);
        return NULL;
}

static void link_from_rtnl(struct rtnl_link *l, NlLink *ret) {
        struct nl_addr *mac = rtnl_link_get_addr(l);
        const char *name = rtnl_link_get_name(l);
        uint32_t promote = 0;

        *ret = (NlLink){
                .ifindex = rtnl_link_get_ifindex(l),
                .flags = rtnl_link_get_flags(l),
                .mtu = rtnl_link_get_mtu(l),
                .master = rtnl_link_get_master(l),
                .arptype = rtnl_link_get_arptype(l),
        };
        ret->promote_secondaries = rtnl_link_inet_get_conf(l, IPV4_DEVCONF_PROMOTE_SECONDARIES, &promote) < 0
                                           ? -1
                                           : promote != 0;
        if (name)
                snprintf(ret->name, sizeof ret->name, "%s", name);
        if (mac && nl_addr_get_len(mac) == 6) {
                memcpy(ret->mac, nl_addr_get_binary_addr(mac), 6);
                ret->has_mac = true;
        }
}

int netlink_link_list(NetlinkContext *nl, NlLink **ret, size_t *ret_n) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NlLink *links = NULL;
        size_t n = 0;
        int r, count;

        r = rtnl_link_alloc_cache(nl->sk, AF_UNSPEC, &cache);
        if (r < 0)
                return nlerr_to_errno(r);
        count = nl_cache_nitems(cache);
        if (count < 0 || (unsigned) count > NETLINK_LINKS_MAX)
                return -E2BIG;
        links = calloc((size_t) count + 1, sizeof *links);
        if (!links)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < (size_t) count;
             o = nl_cache_get_next(o))
                link_from_rtnl((struct rtnl_link *) o, &links[n++]);
        *ret = TAKE_PTR(links);
        *ret_n = n;
        return 0;
}

static void copy_nl_addr(struct nl_addr *a, int family, uint8_t dest[static 16]) {
        size_t sz = nl_family_addr_size(family);

        memset(dest, 0, 16);
        if (a && sz > 0 && nl_addr_get_len(a) == sz)
                memcpy(dest, nl_addr_get_binary_addr(a), sz);
}

int netlink_address_list(NetlinkContext *nl, int ifindex, NlAddress **ret, size_t *ret_n) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NlAddress *addrs = NULL;
        size_t n = 0;
        int r, count;

        r = rtnl_addr_alloc_cache(nl->sk, &cache);
        if (r < 0)
                return nlerr_to_errno(r);
        count = nl_cache_nitems(cache);
        if (count < 0 || (unsigned) count > NETLINK_ADDRESSES_MAX)
                return -E2BIG;
        addrs = calloc((size_t) count + 1, sizeof *addrs);
        if (!addrs)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < (size_t) count;
             o = nl_cache_get_next(o)) {
                struct rtnl_addr *a = (struct rtnl_addr *) o;
                int family = rtnl_addr_get_family(a);

                if (nl_family_addr_size(family) == 0)
                        continue;
                if (ifindex > 0 && rtnl_addr_get_ifindex(a) != ifindex)
                        continue;
                addrs[n] = (NlAddress){
                        .family = family,
                        .ifindex = rtnl_addr_get_ifindex(a),
                        .prefixlen = (unsigned char) rtnl_addr_get_prefixlen(a),
                        .flags = rtnl_addr_get_flags(a),
                        .scope = (unsigned char) rtnl_addr_get_scope(a),
                };
                copy_nl_addr(rtnl_addr_get_local(a), family, addrs[n].addr);
                n++;
        }
        *ret = TAKE_PTR(addrs);
        *ret_n = n;
        return 0;
}

int netlink_route_list(NetlinkContext *nl, int family, uint32_t table, NlRoute **ret, size_t *ret_n) {
        _cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
        _cleanup_free_ NlRoute *routes = NULL;
        size_t n = 0;
        int r, count;

        if (nl_family_addr_size(family) == 0)
                return -EAFNOSUPPORT;
        r = rtnl_route_alloc_cache(nl->sk, family, 0, &cache);
        if (r < 0)
                return nlerr_to_errno(r);
        count = nl_cache_nitems(cache);
        if (count < 0 || (unsigned) count > NETLINK_ROUTES_MAX)
                return -E2BIG;
        routes = calloc((size_t) count + 1, sizeof *routes);
        if (!routes)
                return -ENOMEM;
        for (struct nl_object *o = nl_cache_get_first(cache); o && n < (size_t) count;
             o = nl_cache_get_next(o)) {
                struct rtnl_route *rt = (struct rtnl_route *) o;
                struct rtnl_nexthop *nh;
                struct nl_addr *dst, *gw;

                if (rtnl_route_get_table(rt) != table || rtnl_route_get_type(rt) != RTN_UNICAST ||
                    rtnl_route_get_nnexthops(rt) != 1)
                        continue;
                nh = rtnl_route_nexthop_n(rt, 0);
                if (!nh)
                        continue;
                dst = rtnl_route_get_dst(rt);
                gw = rtnl_route_nh_get_gateway(nh);
                routes[n] = (NlRoute){
                        .family = family,
                        .oif = rtnl_route_nh_get_ifindex(nh),
                        .dst_len = dst ? (unsigned char) nl_addr_get_prefixlen(dst) : 0,
                        .has_gateway = gw && nl_addr_get_len(gw) == nl_family_addr_size(family),
                        .metric = rtnl_route_get_priority(rt),
                        .table = table,
                        .protocol = rtnl_route_get_protocol(rt),
                };
                copy_nl_addr(dst, family, routes[n].dst);
                copy_nl_addr(gw, family, routes[n].gateway);
                n++;
        }
        *ret = TAKE_PTR(routes);
        *ret_n = n;
        return 0;
}

static int link_change(NetlinkContext *nl, int ifindex, unsigned set_flags, unsigned mtu) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL, *change = NULL;

        if (ifindex <= 0)
                return -EINVAL;
        orig = rtnl_link_alloc();
        change = rtnl_link_alloc();
        if (!orig || !change)
                return -ENOMEM;
        rtnl_link_set_ifindex(orig, ifindex);
        if (set_flags)
                rtnl_link_set_flags(change, set_flags);
        if (mtu > 0)
                rtnl_link_set_mtu(change, mtu);
        return nlerr_to_errno(rtnl_link_change(nl->sk, orig, change, 0));
}

int netlink_link_set_up(NetlinkContext *nl, int ifindex) {
        return link_change(nl, ifindex, IFF_UP, 0);
}

int netlink_link_set_promote_secondaries(NetlinkContext *nl, int ifindex) {
        _cleanup_(rtnl_link_putp) struct rtnl_link *orig = NULL, *change = NULL;
        int r;

        if (ifindex <= 0)
                return -EINVAL;
        orig = rtnl_link_alloc();
        change = rtnl_link_alloc();
        if (!orig || !change)
                return -ENOMEM;
        rtnl_link_set_ifindex(orig, ifindex);
        r = rtnl_link_inet_set_conf(change, IPV4_DEVCONF_PROMOTE_SECONDARIES, 1);
        if (r < 0)
                return nlerr_to_errno(r);
        return nlerr_to_errno(rtnl_link_change(nl->sk, orig, change, 0));
}

int netlink_link_set_mtu(NetlinkContext *nl, int ifindex, unsigned mtu) {
        if (mtu == 0)
                return -EINVAL;
        return link_change(nl, ifindex, 0, mtu);
}

static int build_nl_addr(int family, const uint8_t *bytes, unsigned char prefixlen, struct nl_addr **ret) {
        size_t sz = nl_family_addr_size(family);
        struct nl_addr *a;

        if (sz == 0)
                return -EAFNOSUPPORT;
        if (prefixlen > sz * 8)
                return -EINVAL;
        a = nl_addr_build(family, bytes, sz);
        if (!a)
                return -ENOMEM;
        nl_addr_set_prefixlen(a, prefixlen);
        *ret = a;
        return 0;
}

static int build_rtnl_addr(const NlAddress *a, struct rtnl_addr **ret) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *local = NULL;
        int r;

        if (a->ifindex <= 0)
                return -EINVAL;
        r = build_nl_addr(a->family, a->addr, a->prefixlen, &local);
        if (r < 0)
                return r;
        ra = rtnl_addr_alloc();
        if (!ra)
                return -ENOMEM;
        rtnl_addr_set_ifindex(ra, a->ifindex);
        rtnl_addr_set_family(ra, a->family);
        r = rtnl_addr_set_local(ra, local);
        if (r < 0)
                return nlerr_to_errno(r);
        rtnl_addr_set_prefixlen(ra, a->prefixlen);
        if (a->flags)
                rtnl_addr_set_flags(ra, a->flags);
        *ret = TAKE_PTR(ra);
        return 0;
}

int netlink_address_add(NetlinkContext *nl, const NlAddress *a) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
        int r;

        r = build_rtnl_addr(a, &ra);
        if (r < 0)
                return r;
        return nlerr_to_errno(rtnl_addr_add(nl->sk, ra, NLM_F_EXCL));
}

int netlink_address_del(NetlinkContext *nl, const NlAddress *a) {
        _cleanup_(rtnl_addr_putp) struct rtnl_addr *ra = NULL;
        int r;

        r = build_rtnl_addr(a, &ra);
        if (r < 0)
                return r;
        r = nlerr_to_errno(rtnl_addr_delete(nl->sk, ra, 0));
        return r == -ENOENT ? -EADDRNOTAVAIL : r;
}

static int build_rtnl_route(const NlRoute *r, struct rtnl_route **ret) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
        _cleanup_(rtnl_route_nh_freep) struct rtnl_nexthop *nh = NULL;
        _cleanup_(nl_addr_putp) struct nl_addr *dst = NULL, *gw = NULL;
        int k;

        if (r->oif <= 0)
                return -EINVAL;
        k = build_nl_addr(r->family, r->dst, r->dst_len, &dst);
        if (k < 0)
                return k;
        if (r->has_gateway) {
                k = build_nl_addr(r->family, r->gateway,
                                  (unsigned char) (nl_family_addr_size(r->family) * 8), &gw);
                if (k < 0)
                        return k;
        }
        rt = rtnl_route_alloc();
        nh = rtnl_route_nh_alloc();
        if (!rt || !nh)
                return -ENOMEM;
        k = rtnl_route_set_family(rt, (uint8_t) r->family);
        if (k < 0)
                return nlerr_to_errno(k);
        rtnl_route_set_table(rt, r->table);
        rtnl_route_set_protocol(rt, r->protocol);
        rtnl_route_set_priority(rt, r->metric);
        k = rtnl_route_set_type(rt, RTN_UNICAST);
        if (k < 0)
                return nlerr_to_errno(k);
        rtnl_route_set_scope(rt, r->has_gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
        k = rtnl_route_set_dst(rt, dst);
        if (k < 0)
                return nlerr_to_errno(k);
        rtnl_route_nh_set_ifindex(nh, r->oif);
        if (gw)
                rtnl_route_nh_set_gateway(nh, gw);
        rtnl_route_add_nexthop(rt, TAKE_PTR(nh));
        *ret = TAKE_PTR(rt);
        return 0;
}

int netlink_route_add(NetlinkContext *nl, const NlRoute *r) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
        int k;

        k = build_rtnl_route(r, &rt);
        if (k < 0)
                return k;
        return nlerr_to_errno(rtnl_route_add(nl->sk, rt, NLM_F_EXCL));
}

int netlink_route_del(NetlinkContext *nl, const NlRoute *r) {
        _cleanup_(rtnl_route_putp) struct rtnl_route *rt = NULL;
        int k;

        k = build_rtnl_route(r, &rt);
        if (k < 0)
                return k;
        k = nlerr_to_errno(rtnl_route_delete(nl->sk, rt, 0));
        return k == -ENOENT ? -ESRCH : k;
}

/* Called by nl_msg_parse() with the link object parsed from a notification. */
static void monitor_on_object(struct nl_object *o, void *userdata) {
        NetlinkMonitor *m = userdata;
        NlLink link;

        link_from_rtnl((struct rtnl_link *) o, &link);
        m->func(m->removed, &link, m->userdata);
}

/* Called by libnl for every valid message received on the monitor socket. */
static int monitor_on_msg(struct nl_msg *msg, void *userdata) {
        NetlinkMonitor *m = userdata;
        struct nlmsghdr *h = nlmsg_hdr(msg);

        if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK)
                return NL_SKIP;
        m->removed = h->nlmsg_type == RTM_DELLINK;
        (void) nl_msg_parse(msg, monitor_on_object, m);
        return NL_OK;
}

int netlink_monitor_new(NetlinkLinkFunc func, void *userdata, NetlinkMonitor **ret) {
        _cleanup_(nl_socket_freep) struct nl_sock *sk = NULL;
        _cleanup_free_ NetlinkMonitor *m = NULL;
        int r;

        if (!func)
                return -EINVAL;
        m = calloc(1, sizeof *m);
        sk = nl_socket_alloc();
        if (!m || !sk)
                return -ENOMEM;
        *m = (NetlinkMonitor){.func = func, .userdata = userdata};
        /* Notifications carry sequence number 0: no sequence checking on this socket. */
        nl_socket_disable_seq_check(sk);
        r = nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, monitor_on_msg, m);
        if (r < 0)
                return nlerr_to_errno(r);
        r = nl_connect(sk, NETLINK_ROUTE);
        if (r < 0)
                return nlerr_to_errno(r);
        r = ensure_cloexec(sk);
        if (r < 0)
                return r;
        r = nl_socket_add_membership(sk, RTNLGRP_LINK);
        if (r < 0)
                return nlerr_to_errno(r);
        r = nl_socket_set_nonblocking(sk);
        if (r < 0)
                return nlerr_to_errno(r);
        m->sk = TAKE_PTR(sk);
        *ret = TAKE_PTR(m);
        return 0;
}

NetlinkMonitor *netlink_monitor_free(NetlinkMonitor *m) {
        if (!m)
                return NULL;
        nl_socket_free(m->sk);
        free(m);
        return NULL;
}

int netlink_monitor_fd(NetlinkMonitor *m) {
        return nl_socket_get_fd(m->sk);
}

int netlink_monitor_receive(NetlinkMonitor *m) {
        _cleanup_(nl_cb_putp) struct nl_cb *cb = nl_socket_get_cb(m->sk);

        if (!cb)
                return -ENOMEM;
        /* Bounded: a burst larger than this is left for the next wakeup of the (level-triggered) source. */
        for (unsigned i = 0; i < 1024; i++) {
                int r = nl_recvmsgs_report(m->sk, cb);

                if (r == 0 || r == -NLE_AGAIN)
                        return 0;
                if (r == -NLE_NOMEM)
                        /* libnl reports a socket overrun (ENOBUFS) as NLE_NOMEM: treat it as lost events. */
                        return -ENOBUFS;
                if (r < 0)
                        return nlerr_to_errno(r);
        }
        return 0;
}
