/* SPDX-License-Identifier: MIT */
/*
 * Hot-plug watching for the daemon: Azure adds and removes NICs (and Accelerated Networking VFs, e.g. during
 * host servicing) at runtime. The netlink monitor socket is an io source on the daemon's sd-event loop (no
 * thread, no polling). RTM_NEWLINK is also sent for every flag or state change of a link, so the watch keeps
 * the set of known ifindexes and reports only appearances and disappearances.
 *
 * Subscribe first, then dump: a link created between the two is seen by both and reported once. When the
 * kernel drops notifications (ENOBUFS), the links are listed again and the difference is reported.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-event.h>

#include "macro.h"
#include "network.h"
#include "string-table.h"

struct NetworkWatch {
        sd_event_source *source;
        NetlinkMonitor *monitor;
        NetworkLinkHandler handler;
        void *userdata;
        IfindexSet known;
};

static const char *const network_link_event_table[_NETWORK_LINK_EVENT_MAX] = {
        [NETWORK_LINK_ADDED] = "added",
        [NETWORK_LINK_REMOVED] = "removed",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(network_link_event, NetworkLinkEvent);

/* Called for every link notification read from the monitor socket. */
static void on_link(bool removed, const NlLink *link, void *userdata) {
        NetworkWatch *w = userdata;

        if (link->ifindex <= 0)
                return;
        if (removed) {
                if (ifindex_set_remove(&w->known, link->ifindex))
                        w->handler(w, NETWORK_LINK_REMOVED, link, w->userdata);
        } else if (ifindex_set_add(&w->known, link->ifindex) > 0)
                w->handler(w, NETWORK_LINK_ADDED, link, w->userdata);
}

/* Lists the links and reports the difference to the known set (initial seeding passes report=false). */
static int resync(NetworkWatch *w, bool report) {
        _cleanup_(netlink_context_freep) NetlinkContext *nl = NULL;
        _cleanup_free_ NlLink *links = NULL;
        size_t n = 0;
        int r;

        r = netlink_context_new(&nl);
        if (r < 0)
                return r;
        r = netlink_link_list(nl, &links, &n);
        if (r < 0)
                return r;
        for (int gone; ifindex_set_pop_missing(&w->known, links, n, &gone) > 0;)
                if (report)
                        w->handler(w, NETWORK_LINK_REMOVED, &(NlLink){.ifindex = gone}, w->userdata);
        for (size_t j = 0; j < n; j++) {
                r = ifindex_set_add(&w->known, links[j].ifindex);
                if (r < 0)
                        return r;
                if (r > 0 && report)
                        w->handler(w, NETWORK_LINK_ADDED, &links[j], w->userdata);
        }
        return 0;
}

/* Called by sd-event when the netlink monitor socket is readable. */
static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NetworkWatch *w = userdata;
        int r;

        /* Errors are not fatal for the loop: the next notification or resync catches up. */
        r = netlink_monitor_receive(w->monitor);
        if (r == -ENOBUFS)
                (void) resync(w, true);
        return 0;
}

int network_watch_new(sd_event *event, NetworkLinkHandler handler, void *userdata, NetworkWatch **ret) {
        _cleanup_(network_watch_freep) NetworkWatch *w = NULL;
        int r;

        if (!event || !handler)
                return -EINVAL;
        w = calloc(1, sizeof *w);
        if (!w)
                return -ENOMEM;
        w->handler = handler;
        w->userdata = userdata;
        r = netlink_monitor_new(on_link, w, &w->monitor);
        if (r < 0)
                return r;
        r = resync(w, false);
        if (r < 0)
                return r;
        r = sd_event_add_io(event, &w->source, netlink_monitor_fd(w->monitor), EPOLLIN, on_io, w);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(w->source, "network-link-watch");
        *ret = TAKE_PTR(w);
        return 0;
}

NetworkWatch *network_watch_free(NetworkWatch *w) {
        if (!w)
                return NULL;
        sd_event_source_disable_unref(w->source);
        netlink_monitor_free(w->monitor);
        ifindex_set_done(&w->known);
        free(w);
        return NULL;
}
