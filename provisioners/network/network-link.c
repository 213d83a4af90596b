/* SPDX-License-Identifier: MIT */
/*
 * Which kernel link carries which IMDS interface. Matching is by MAC only: IMDS does not guarantee an order
 * (cloud-init PR #6807) and names are up to udev. With Accelerated Networking the host adds a VF (mlx4,
 * mlx5 or MANA) with the same MAC as the hv_netvsc synthetic NIC and the kernel enslaves it to the netvsc
 * link; configuring the VF instead of the synthetic NIC breaks the VM's networking (cloud-init #3450, #4768).
 * cloud-init's filter_hyperv_vf_with_synthetic_interface() and azure-vm-utils' 10-azure-unmanaged-sriov.rules
 * apply the same rule as here: a link sharing its MAC with an hv_netvsc link is the VF.
 *
 * The driver is the basename of the /sys/class/net/<if>/device/driver symlink, read under the root fd: the
 * tests declare a test link to be "hv_netvsc" or "mlx5_core" with a fake sysfs tree in their scratch root, and
 * the netlink side stays real. A link without a device (veth, bridge, dummy) has no driver.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "network.h"

static const char *const vf_drivers[] = {NETWORK_VF_DRIVERS};

bool network_driver_is_vf(const char *driver) {
        if (!driver)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(vf_drivers); i++)
                if (streq(driver, vf_drivers[i]))
                        return true;
        return false;
}

static bool ifname_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n >= IF_NAMESIZE || streq(s, ".") || streq(s, ".."))
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || *p <= ' ' || *p == ':')
                        return false;
        return true;
}

int network_link_driver(int root_fd, const char *ifname, char **ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int fd = -EBADF;
        char target[PATH_MAX];
        const char *base;
        ssize_t k;
        char *d;

        if (!ifname_valid(ifname))
                return -EINVAL;
        if (asprintf(&path, "/sys/class/net/%s/device", ifname) < 0)
                return -ENOMEM;
        fd = open_in_root(root_fd, path, O_PATH | O_DIRECTORY, 0);
        if (fd < 0)
                return fd == -ENOTDIR ? -ENOENT : fd;
        k = readlinkat(fd, "driver", target, sizeof target - 1);
        if (k < 0)
                return errno == EINVAL ? -ENOENT : -errno;
        target[k] = '\0';
        base = strrchr(target, '/');
        base = base ? base + 1 : target;
        if (isempty(base))
                return -ENOENT;
        d = strdup(base);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

static bool link_has_mac(const NetworkLink *l, const uint8_t mac[static 6]) {
        return l->link.has_mac && !(l->link.flags & IFF_LOOPBACK) && memcmp(l->link.mac, mac, 6) == 0;
}

int network_link_pick(const NetworkInterface *iface, const NetworkLink *links, size_t n_links,
                      size_t *ret_index, unsigned *ret_n_vfs) {
        size_t n_candidates = 0, n_netvsc = 0, n_other = 0, netvsc = 0, other = 0;
        unsigned n_vfs = 0;

        for (size_t i = 0; i < n_links; i++) {
                if (!link_has_mac(&links[i], iface->mac))
                        continue;
                n_candidates++;
                if (streq_ptr(links[i].driver, NETWORK_SYNTHETIC_DRIVER)) {
                        n_netvsc++;
                        netvsc = i;
                } else if (network_driver_is_vf(links[i].driver))
                        n_vfs++;
                else {
                        n_other++;
                        other = i;
                }
        }
        /* With an hv_netvsc link present, every other link with its MAC is a VF twin. */
        if (n_netvsc > 0)
                n_vfs = (unsigned) (n_candidates - n_netvsc);
        if (ret_n_vfs)
                *ret_n_vfs = n_vfs;
        if (n_netvsc > 1 || (n_netvsc == 0 && n_other > 1))
                return -ENOTUNIQ;
        if (n_netvsc == 1) {
                *ret_index = netvsc;
                return 0;
        }
        if (n_other == 1) {
                *ret_index = other;
                return 0;
        }
        return -ENODEV;
}

void network_links_free(NetworkLink *links, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(links[i].driver);
        free(links);
}

int network_links_load(NetlinkContext *nl, int root_fd, NetworkLink **ret, size_t *ret_n) {
        _cleanup_free_ NlLink *raw = NULL;
        NetworkLink *links;
        size_t n = 0;
        int r;

        r = netlink_link_list(nl, &raw, &n);
        if (r < 0)
                return r;
        links = calloc(n + 1, sizeof *links);
        if (!links)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                links[i].link = raw[i];
                r = network_link_driver(root_fd, raw[i].name, &links[i].driver);
                /* No device (virtual link) or an unreadable sysfs entry: no driver, i.e. not a VF. A link that
                 * vanished meanwhile is not an error either. */
                if (r < 0 && r != -ENOENT && r != -EINVAL && r != -ENODEV) {
                        network_links_free(links, i + 1);
                        return r;
                }
        }
        *ret = links;
        *ret_n = n;
        return 0;
}
