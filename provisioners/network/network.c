/* SPDX-License-Identifier: MIT */
/*
 * Entry point of the network provisioner: picks the backend and dispatches. "auto" means networkd whenever
 * the files can take effect or are meant for an image (systemd-networkd installed under the root, or an
 * alternate --root, where touching the running kernel would configure the wrong system), and the netlink
 * backend on a real root without networkd. "none" leaves networking entirely to the image.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
                        *ret = (NetworkApplyResult){.backend = NETWORK_BACKEND_NONE};
                return 0;
        case NETWORK_BACKEND_AUTO:
        case _NETWORK_BACKEND_MAX:
        case _NETWORK_BACKEND_INVALID:
                break;
        }
        return -EINVAL;
}

int network_apply_imds(Context *c, struct json_object *network, NetworkBackend backend,
                       NetworkConfig *ret_config, NetworkApplyResult *ret, char **summary) {
        _cleanup_(network_config_done) NetworkConfig cfg = {};
        NetworkApplyResult res = {};
        JsonError err = {};
        char skipped[64] = "";
        bool parsed;
        int r, k;

        if (!c || !network || !summary)
                return -EINVAL;
        r = network_parse_imds(network, &cfg, &err);
        parsed = r >= 0;
        if (parsed && cfg.n_skipped_total > 0)
                (void) snprintf(skipped, sizeof skipped, ", %zu IMDS entr%s skipped", cfg.n_skipped_total,
                                cfg.n_skipped_total == 1 ? "y" : "ies");
        if (r < 0)
                k = asprintf(summary, "IMDS network data is invalid, links left as they are: %s",
                             err.message[0] ? err.message : strerror(-r));
        else {
                r = network_apply(c, &cfg, backend, &res);
                if (r < 0)
                        k = asprintf(summary, "Failed to configure the network: %s%s", strerror(-r),
                                     skipped);
                else
                        k = asprintf(summary, "%s: %u interface(s), %u change(s), reload %s%s",
                                     network_backend_to_string(res.backend), res.n_configured, res.n_changes,
                                     network_reload_to_string(res.reload), skipped);
        }
        if (k < 0) {
                *summary = NULL;
                return -ENOMEM;
        }
        /* The skipped entries are worth reporting even when applying failed. */
        if (ret_config && parsed) {
                *ret_config = cfg;
                cfg = (NetworkConfig){};
        }
        if (r < 0)
                return r;
        if (ret)
                *ret = res;
        return r;
}
