/* SPDX-License-Identifier: MIT */
/*
 * Waiting for the network (network.h "Waiting"): a condition re-checked on every notification of a file
 * descriptor — rtnetlink route, address and link changes (rtnetlink(7) multicast groups) for a route, inotify on
 * networkd's state files for its links — and every WAIT_RECHECK_MSEC in case one was missed, until it holds or the
 * timeout passes. Blocking: for the provisioning run, not the daemon's event loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "network-internal.h"
#include "network.h"
#include "strutil.h"

#define WAIT_RECHECK_MSEC 100U
#define NETIF_LINKS_DIR   "/run/systemd/netif/links"
#define LINK_STATE_MAX    (64U * 1024U)

/* check() ≠ 0 (1: done, <0: error) or the timeout: 0, -ETIMEDOUT, or check()'s error. notify_fd may be -EBADF. */
static int wait_until(int notify_fd, int (*check)(void *userdata), void *userdata, usec_t timeout,
                      usec_t *ret_waited) {
        usec_t start = now_usec(CLOCK_MONOTONIC), end = start + timeout;
        int r;

        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                struct pollfd pfd = {.fd = notify_fd, .events = POLLIN};
                char buf[8192];

                r = check(userdata);
                if (r != 0)
                        break;
                if (now >= end) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (poll(&pfd, 1, (int) MIN((end - now + 999) / 1000, (usec_t) WAIT_RECHECK_MSEC)) < 0 &&
                    errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                while (notify_fd >= 0 && read(notify_fd, buf, sizeof buf) > 0)
                        ;
        }
        if (ret_waited)
                *ret_waited = now_usec(CLOCK_MONOTONIC) - start;
        return r < 0 ? r : 0;
}

/* ---- a route ---- */

int url_ipv4_host(const char *url, struct in_addr *ret) {
        char host[INET_ADDRSTRLEN];
        const char *p;
        size_t n;

        if (!url)
                return -EINVAL;
        p = startswith(url, "http://") ? url + 7 : startswith(url, "https://") ? url + 8 : NULL;
        if (!p)
                return -EINVAL;
        n = strcspn(p, ":/?#");
        if (n == 0 || n >= sizeof host)
                return -EINVAL;
        memcpy(host, p, n);
        host[n] = 0;
        return inet_pton(AF_INET, host, ret) == 1 ? 0 : -EINVAL;
}

/* 1 when the kernel routes to the address and has a source address to send from (connect(2) of a datagram socket
 * only picks both: no packet), 0 when it does not (yet), <0 on other errors. A route alone is not enough: a
 * static or on-link route to IMDS can be up before DHCP gave the link its address, and then the kernel routes
 * from 0.0.0.0 — a TCP connection made then keeps that source and never completes (a lost attempt: its whole
 * timeout, ≈ 11 s in the VM rig's first boots, issue #21). */
static int have_route(void *userdata) {
        const struct in_addr *address = userdata;
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = *address},
                           src = {};
        socklen_t len = sizeof src;
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0)
                return errno == ENETUNREACH || errno == EHOSTUNREACH || errno == EADDRNOTAVAIL ||
                                       errno == ENETDOWN
                               ? 0
                               : negative_errno();
        if (getsockname(fd, (struct sockaddr *) &src, &len) < 0)
                return negative_errno();
        return src.sin_addr.s_addr != htonl(INADDR_ANY);
}

static int rtnl_listen(void) {
        struct sockaddr_nl sa = {
                .nl_family = AF_NETLINK,
                .nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE,
        };
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int r = negative_errno();

                (void) close(fd);
                return r;
        }
        return fd;
}

int network_wait_route(struct in_addr address, usec_t timeout, usec_t *ret_waited) {
        _cleanup_close_ int nl = -EBADF;

        if (have_route(&address) > 0) {
                if (ret_waited)
                        *ret_waited = 0;
                return 0;
        }
        nl = rtnl_listen(); /* without it: the periodic re-check alone */
        return wait_until(nl, have_route, &address, timeout, ret_waited);
}

/* ---- networkd's links ---- */

/* networkd's state of a link (/run/systemd/netif/links/<ifindex>, KEY=value lines: what networkctl and
 * sd-network read): its .network file, ADMIN_STATE (pending, initialized, configuring, configured, unmanaged,
 * failed, linger) and IPV4_ADDRESS_STATE (off, degraded, routable). */

typedef struct LinkState {
        char *network_file, *admin, *ipv4;
} LinkState;

static void link_state_done(LinkState *s) {
        free(s->network_file);
        free(s->admin);
        free(s->ipv4);
}

static int link_state_read(unsigned ifindex, LinkState *ret) {
        _cleanup_free_ char *path = NULL, *data = NULL;
        _cleanup_close_ int fd = -EBADF;
        char *line, *save = NULL;
        int r;

        if (asprintf(&path, NETIF_LINKS_DIR "/%u", ifindex) < 0)
                return -ENOMEM;
        /* the running system's runtime state, not a file of the (possibly alternate) root */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        r = read_full_fd(fd, LINK_STATE_MAX, &data, NULL);
        if (r < 0)
                return r;
        for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char **dst = startswith(line, "NETWORK_FILE=")         ? &ret->network_file
                             : startswith(line, "ADMIN_STATE=")        ? &ret->admin
                             : startswith(line, "IPV4_ADDRESS_STATE=") ? &ret->ipv4
                                                                       : NULL;

                if (dst && !*dst && !(*dst = strdup(strchr(line, '=') + 1)))
                        return -ENOMEM;
        }
        return 0;
}

/* 1 when at least one link is configured with one of our files and each of those either has a routable IPv4
 * address again (the WireServer and IMDS are IPv4; IPv6 link-local and router advertisements may take seconds
 * more) or is done configuring (configured, failed, unmanaged); 0 otherwise. */
static int our_links_configured(void *userdata) {
        struct if_nameindex *links = if_nameindex();
        unsigned ours = 0, pending = 0;

        if (!links)
                return negative_errno();
        for (struct if_nameindex *i = links; i->if_index != 0; i++) {
                _cleanup_(link_state_done) LinkState st = {};
                const char *name;

                if (link_state_read(i->if_index, &st) < 0 || !st.network_file ||
                    !startswith(st.network_file, NETWORKD_DIR "/"))
                        continue;
                name = strrchr(st.network_file, '/') + 1;
                if (!networkd_file_is_ours(name))
                        continue;
                ours++;
                if (!streq_ptr(st.ipv4, "routable") &&
                    !(streq_ptr(st.admin, "configured") || streq_ptr(st.admin, "failed") ||
                      streq_ptr(st.admin, "unmanaged") || streq_ptr(st.admin, "linger")))
                        pending++;
        }
        if_freenameindex(links);
        return ours > 0 && pending == 0;
}

int network_wait_networkd_configured(usec_t timeout, usec_t *ret_waited) {
        _cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

        /* networkd replaces the files (rename): IN_MOVED_TO */
        if (fd >= 0 && inotify_add_watch(fd, NETIF_LINKS_DIR, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
                (void) close(fd);
                fd = -EBADF;
        }
        return wait_until(fd, our_links_configured, NULL, timeout, ret_waited);
}
