/* SPDX-License-Identifier: MIT */
/*
 * Networking from IMDS (network.interface[]): multi-NIC by MAC, secondary IPs, Accelerated Networking VFs.
 *
 * The IMDS document is turned into a NetworkConfig (desired state per interface) by a pure parser; the
 * config is then applied by one of two backends:
 *
 *   networkd  persistent: .network files in <root>/run/systemd/network/ (DHCP on every NIC, secondary IPs as
 *             static Address=, route metrics 100 + 100*index, DNS only from the primary) plus Unmanaged=yes
 *             files and a udev rule for the VFs; then org.freedesktop.network1.Manager.Reload over the system
 *             bus when running on the real root.
 *   netlink   live: link up, MTU, every IMDS address with its subnet prefix, an IPv4 default route via the
 *             subnet gateway with the same metrics. Idempotent (delta against the kernel); only addresses and
 *             routes the agent added (recorded in <state_dir>/network.json) are ever removed.
 *
 * Kernel links are matched to IMDS interfaces BY MAC only, never by order or name. The primary interface is
 * IMDS index 0: that is the NIC carrying the default route (and thus the route to IMDS/WireServer) on a real
 * VM. With Accelerated Networking a VF (mlx4, mlx5, MANA) shares the MAC of its hv_netvsc synthetic NIC and is
 * enslaved to it; the VF must never be configured. Drivers are read from <root>/sys/class/net/<if>/device/
 * driver, so tests mark a test link as a VF with a fake sysfs tree under the root fd.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "context.h"
#include "json-util.h"
#include "netlink-util.h"

/* Bounds on what IMDS may ask for. Azure allows 8 NICs per VM and 256 IP configurations per NIC. */
#define NETWORK_INTERFACES_MAX 32U
#define NETWORK_ADDRESSES_MAX  256U /* per interface and family */
#define NETWORK_SUBNETS_MAX    16U  /* per interface and family */
#define NETWORK_STATE_MAX      (1024U * 1024U)

/* Base route metric of the primary NIC; interface i gets NETWORK_METRIC_BASE + NETWORK_METRIC_STEP * i. */
#define NETWORK_METRIC_BASE 100U
#define NETWORK_METRIC_STEP 100U

/* Drivers of Accelerated Networking VFs: sysfs PCI driver names and the ethtool names networkd matches. */
#define NETWORK_SYNTHETIC_DRIVER "hv_netvsc"
#define NETWORK_VF_DRIVERS       "mlx4_core", "mlx4_en", "mlx5_core", "mana"

typedef struct NetworkAddress {
        int family;              /* AF_INET, AF_INET6 */
        uint8_t addr[16];        /* network byte order */
        unsigned char prefixlen; /* from the IMDS subnet that contains the address */
} NetworkAddress;

typedef struct NetworkInterface {
        unsigned index; /* position in IMDS network.interface[] */
        uint8_t mac[6];
        bool primary;         /* index == 0 */
        unsigned mtu;         /* 0 when IMDS gives none */
        NetworkAddress *ipv4; /* ipv4[0] is the primary IP configuration (DHCP-assigned on Azure) */
        size_t n_ipv4;
        NetworkAddress *ipv6;
        size_t n_ipv6;
} NetworkInterface;

/* An IMDS entry left out because it is bad (network-parse.c says which entries can be). */
typedef struct NetworkSkip {
        char *item;   /* JSON path of what was left out, e.g. "network.interface[1]" */
        char *reason; /* why, starting with the offending field's path; no control characters */
} NetworkSkip;

#define NETWORK_SKIPPED_MAX     64U /* skipped entries recorded; more are only counted */
#define NETWORK_SKIP_REASON_MAX 512U

typedef struct NetworkConfig {
        NetworkInterface *interfaces; /* the usable ones, in IMDS order; interfaces[0] is the primary */
        size_t n_interfaces;
        NetworkSkip *skipped;
        size_t n_skipped;
        size_t n_skipped_total; /* ≥ n_skipped */
} NetworkConfig;

void network_config_done(NetworkConfig *c);

/*
 * network is the IMDS "network" object ({"interface": [...]}). On success *ret is filled (release with
 * network_config_done()): the usable interfaces and addresses, and in ret->skipped each bad entry that was
 * left out (a secondary NIC with a duplicate MAC, an address outside its subnet…). The document fails only
 * when the primary interface (interface[0]) is unusable or the list itself is malformed: -EBADMSG, err naming
 * the field, e.g. "network.interface[0].macAddress"; more than NETWORK_INTERFACES_MAX interfaces: -E2BIG.
 */
int network_parse_imds(struct json_object *network, NetworkConfig *ret, JsonError *err);
/* Accepts the whole instance document ({"compute":…, "network":…}) or the network object itself. */
int network_parse_imds_buffer(const char *buf, size_t len, NetworkConfig *ret, JsonError *err);

/* "00:0d:3a:33:82:e8" (buf ≥ 18) and "000d3a3382e8" (buf ≥ 13). */
void network_mac_format(const uint8_t mac[static 6], bool colons, char *buf, size_t size);
/* "10.0.1.4/24" */
int network_address_format(const NetworkAddress *a, bool with_prefix, char *buf, size_t size);
/* The Azure default gateway of the subnet of ipv4[0]: the first host address (Azure reserves x.x.x.1 for it).
 * -ENOENT when the interface has no IPv4 address or the prefix leaves no room (/31, /32). */
int network_interface_gateway4(const NetworkInterface *i, NetworkAddress *ret);
unsigned network_interface_metric(const NetworkInterface *i);

/* ---- Links: classification by MAC and driver ---- */

typedef enum NetworkLinkRole {
        NETWORK_LINK_CONFIGURE, /* the synthetic link of an IMDS interface */
        NETWORK_LINK_VF,        /* shares the MAC but is the VF (or another twin): never touched */
        _NETWORK_LINK_ROLE_MAX,
        _NETWORK_LINK_ROLE_INVALID = -EINVAL,
} NetworkLinkRole;

typedef struct NetworkLink {
        NlLink link;
        char *driver; /* basename of /sys/class/net/<if>/device/driver; NULL: no device */
} NetworkLink;

/* Reads the driver of ifname under root_fd: -ENOENT when the link has no device (veth, bridge, …). */
int network_link_driver(int root_fd, const char *ifname, char **ret);
bool network_driver_is_vf(const char *driver);

/*
 * Picks the link to configure for one IMDS interface among links (pure). Rules:
 *   - candidates are links with that MAC (non-loopback);
 *   - if one candidate is hv_netvsc it is chosen and every other candidate is a VF twin;
 *   - else candidates with a VF driver are VFs, and exactly one remaining candidate is chosen.
 * Returns 0 and the index in *ret_index; -ENODEV when there is nothing to configure (no link yet, or only
 * the VF); -ENOTUNIQ when several links qualify. *ret_n_vfs (if not NULL) always gets the VF count.
 */
int network_link_pick(const NetworkInterface *iface, const NetworkLink *links, size_t n_links,
                      size_t *ret_index, unsigned *ret_n_vfs);

/* Lists the links of the current network namespace and their drivers (read under root_fd). */
int network_links_load(NetlinkContext *nl, int root_fd, NetworkLink **ret, size_t *ret_n);
void network_links_free(NetworkLink *links, size_t n);

/* ---- networkd rendering (pure) ---- */

typedef struct NetworkFile {
        char *path; /* absolute inside the root, e.g. /run/systemd/network/10-azl-….network */
        char *contents;
} NetworkFile;

#define NETWORKD_DIR       "/run/systemd/network"
#define NETWORK_UDEV_RULES "/run/udev/rules.d/10-azl-unmanaged-vf.rules"

int network_render_networkd(const NetworkConfig *c, NetworkFile **ret, size_t *ret_n);
void network_files_free(NetworkFile *files, size_t n);

/* ---- Applying ---- */

typedef enum NetworkReload {
        NETWORK_RELOAD_NOT_NEEDED, /* nothing changed, or netlink backend */
        NETWORK_RELOAD_DONE,
        NETWORK_RELOAD_SKIPPED_ROOT,   /* --root is not "/": files are for an image, not this system */
        NETWORK_RELOAD_SKIPPED_NO_BUS, /* no system bus */
        NETWORK_RELOAD_FAILED,         /* reload_error holds the errno */
        _NETWORK_RELOAD_MAX,
        _NETWORK_RELOAD_INVALID = -EINVAL,
} NetworkReload;

typedef struct NetworkApplyResult {
        NetworkBackend backend; /* the backend used (auto resolved) */
        unsigned
                n_changes; /* netlink: kernel requests that changed state; networkd: files written or removed */
        unsigned
                n_configured; /* IMDS interfaces configured (netlink: matched to a link; networkd: rendered) */
        unsigned n_missing;   /* netlink: IMDS interfaces without a link to configure (yet) */
        unsigned n_vfs;       /* netlink: VF twins recognised and left alone */
        NetworkReload reload;
        int reload_error;
} NetworkApplyResult;

const char *network_reload_to_string(NetworkReload r);

/* AUTO → networkd when --root is an alternate root or systemd-networkd is installed, netlink otherwise. */
NetworkBackend network_backend_resolve(const Context *c, NetworkBackend b);

/* <0 error, 0 nothing changed, 1 changed. *ret (optional) is set on success only. A failing networkd reload
 * is not an error (the files are in place for networkd's next start); it is reported in *ret. */
int network_apply(Context *c, const NetworkConfig *config, NetworkBackend backend, NetworkApplyResult *ret);
int network_apply_networkd(Context *c, const NetworkConfig *config, NetworkApplyResult *ret);

/*
 * IMDS network object → parse → network_apply(): the provisioning step "network" and the daemon's hot-plug
 * re-apply share this. *summary always receives one line for the state file and the log (unless -ENOMEM),
 * e.g. "netlink: 2 interface(s), 4 change(s), reload not-needed, 1 IMDS entry skipped" or why nothing was
 * applied. Returns like network_apply(); -EBADMSG/-E2BIG when the IMDS data has no usable primary interface
 * (then nothing was touched). ret_config (optional) receives the parsed configuration, with its skipped
 * entries, whenever parsing succeeded — also when applying then failed; ret (optional) the result on success.
 */
int network_apply_imds(Context *c, struct json_object *network, NetworkBackend backend,
                       NetworkConfig *ret_config, NetworkApplyResult *ret, char **summary);
int network_apply_netlink(Context *c, const NetworkConfig *config, NetworkApplyResult *ret);

/* ---- Hot-plug ---- */

typedef struct sd_event sd_event;
typedef struct NetworkWatch NetworkWatch;

typedef enum NetworkLinkEvent {
        NETWORK_LINK_ADDED,
        NETWORK_LINK_REMOVED,
        _NETWORK_LINK_EVENT_MAX,
        _NETWORK_LINK_EVENT_INVALID = -EINVAL,
} NetworkLinkEvent;

/* Called once per link that appears or disappears (not for flag/state changes of known links). */
typedef void (*NetworkLinkHandler)(NetworkWatch *w, NetworkLinkEvent event, const NlLink *link,
                                   void *userdata);

/* Subscribes to RTNLGRP_LINK on event (an io source on the netlink socket). Links present at creation are
 * known and not reported. A kernel overrun (ENOBUFS) is recovered by re-listing the links and reporting the
 * difference. */
int network_watch_new(sd_event *event, NetworkLinkHandler handler, void *userdata, NetworkWatch **ret);
NetworkWatch *network_watch_free(NetworkWatch *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetworkWatch *, network_watch_free);
const char *network_link_event_to_string(NetworkLinkEvent e);

/* ---- Waiting (network-wait.c): blocking, for the provisioning run, not the daemon's event loop ---- */

/* The IPv4 literal host of an http(s) URL ("http://169.254.169.254", "http://127.0.0.1:8080/x"); -EINVAL for a
 * name or anything else (then there is no route to wait for). */
int url_ipv4_host(const char *url, struct in_addr *ret);

/* Until the kernel has a route to address and a source address for it (connect(2) of a UDP socket: the routing
 * decision, no packet sent; a route from 0.0.0.0 does not count), at most timeout: 0 (ret_waited: how long),
 * -ETIMEDOUT. azl-provision.service starts once the system is up, not after network-online.target: the media
 * step needs no network and runs while the DHCP client is at work, and the first request (IMDS) waits here
 * instead of failing with ENETUNREACH into a retry backoff (1, 2, 4 s …). */
int network_wait_route(struct in_addr address, usec_t timeout, usec_t *ret_waited);

/* After a networkd reload that changed our files: networkd reconfigures the links they match, dropping and
 * re-acquiring the DHCP lease — a request made meanwhile fails and waits out a retry. Waits until at least one
 * link is configured with one of our files and each of those has a routable IPv4 address again or is done
 * configuring (networkd's state files in /run/systemd/netif/links); 0, -ETIMEDOUT after timeout. */
int network_wait_networkd_configured(usec_t timeout, usec_t *ret_waited);
