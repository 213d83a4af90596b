/* SPDX-License-Identifier: MIT */
/* See route-wait.h. rtnetlink(7) multicast groups; connect(2) on a datagram socket only sets its peer. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "route-wait.h"

#define ROUTE_RECHECK_MSEC 250

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

/* 1 when the kernel routes to address, 0 when it does not (yet), <0 on other errors. */
static int have_route(struct in_addr address) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr = address};
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) >= 0)
                return 1;
        return errno == ENETUNREACH || errno == EHOSTUNREACH || errno == EADDRNOTAVAIL || errno == ENETDOWN
                       ? 0
                       : negative_errno();
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

int route_wait(struct in_addr address, usec_t timeout, usec_t *ret_waited) {
        usec_t start = now_usec(CLOCK_MONOTONIC), end = start + timeout;
        _cleanup_close_ int nl = -EBADF;
        int r;

        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                struct pollfd pfd;
                char buf[8192];

                r = have_route(address);
                if (r != 0)
                        break;
                if (now >= end) {
                        r = -ETIMEDOUT;
                        break;
                }
                if (nl < 0)
                        nl = rtnl_listen(); /* without it: the 250 ms re-check alone */
                pfd = (struct pollfd){.fd = nl, .events = POLLIN};
                if (poll(&pfd, 1, (int) MIN((end - now + 999) / 1000, (usec_t) ROUTE_RECHECK_MSEC)) < 0 &&
                    errno != EINTR) {
                        r = negative_errno();
                        break;
                }
                while (nl >= 0 && recv(nl, buf, sizeof buf, MSG_DONTWAIT) > 0)
                        ;
        }
        if (ret_waited)
                *ret_waited = now_usec(CLOCK_MONOTONIC) - start;
        return r < 0 ? r : 0;
}
