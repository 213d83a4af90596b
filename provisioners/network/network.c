/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the network provisioner: picks the backend and dispatches. "auto" means networkd whenever
 * the files can take effect or are meant for an image (systemd-networkd installed under the root, or an
 * alternate --root, where touching the running kernel would configure the wrong system), and the netlink
 * backend on a real root without networkd. "none" leaves networking entirely to the image.
 */
#include <errno.h>

#include "fileio.h"
#include "macro.h"
#include "network.h"

NetworkBackend network_backend_resolve(const Context *c, NetworkBackend b) {
        if (b != NETWORK_BACKEND_AUTO)
                return b;
        if (!isempty(c->root) && !streq(c->root, "/"))
                return NETWORK_BACKEND_NETWORKD;
        if (access_in_root(c->root_fd, "/usr/lib/systemd/systemd-networkd") >= 0 ||
            access_in_root(c->root_fd, "/lib/systemd/systemd-networkd") >= 0)
                return NETWORK_BACKEND_NETWORKD;
        return NETWORK_BACKEND_NETLINK;
}

int network_apply(Context *c, const NetworkConfig *config, NetworkBackend backend, NetworkApplyResult *ret) {
        if (!c || !config)
                return -EINVAL;
        switch (network_backend_resolve(c, backend)) {
        case NETWORK_BACKEND_NETWORKD:
                return network_apply_networkd(c, config, ret);
        case NETWORK_BACKEND_NETLINK:
                return network_apply_netlink(c, config, ret);
        case NETWORK_BACKEND_NONE:
                if (ret)
                        *ret = (NetworkApplyResult) { .backend = NETWORK_BACKEND_NONE };
                return 0;
        case NETWORK_BACKEND_AUTO:
        case _NETWORK_BACKEND_MAX:
        case _NETWORK_BACKEND_INVALID:
                break;
        }
        return -EINVAL;
}
