/* SPDX-License-Identifier: MIT */
/*
 * Pure parser of the IMDS "network" object into a NetworkConfig. Shape (IMDS api-version 2021-02-01 and
 * later, see the instance metadata docs and WALinuxAgent's fixture imds/valid.json):
 *
 *   {"interface": [{"macAddress": "000D3A3382E8",
 *                   "ipv4": {"ipAddress": [{"privateIpAddress": "10.0.1.4", "publicIpAddress": "…"}],
 *                            "subnet": [{"address": "10.0.1.0", "prefix": "24"}]},
 *                   "ipv6": {"ipAddress": [], "subnet": […]}}]}
 *
 * Every address takes its prefix from the listed subnet of its family that contains it (cloud-init uses
 * subnet[0] blindly; an address outside every listed subnet is treated as bad data instead). IPv6 addresses
 * without any ipv6.subnet get /128, cloud-init's default.
 *
 * Partial input is not total failure (cloud-init configures the valid parts too): a bad entry is skipped and
 * recorded in NetworkConfig.skipped with its path and the reason, and the rest is configured —
 *   - a secondary interface with a bad or duplicate MAC (or that is not an object): the interface;
 *   - a bad "mtu": only the MTU;
 *   - ipv4/ipv6 not an object, or more addresses/subnets than accepted: that family of the interface;
 *   - a bad subnet entry: the subnet (addresses that needed it are skipped in turn);
 *   - an address that is not usable, listed twice, on another interface too, or outside every subnet: the
 *     address; when that is ipAddress[0], the primary IP configuration (the one Azure's DHCP hands out), the
 *     secondaries of the family are skipped with it, since the renderers treat [0] as the DHCP address.
 * Only a document without a usable primary interface (interface[0]) fails, with -EBADMSG: the VM would have no
 * network. Error fields and skipped items are full paths such as "network.interface[1].ipv4.subnet[0].prefix".
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "network.h"

typedef struct ImdsSubnet {
        char *address;
        unsigned prefix;
} ImdsSubnet;

typedef struct ImdsIp {
        char *private_ip;
        char *public_ip;
} ImdsIp;

typedef struct ImdsFamily {
        struct json_object *ip_address;
        struct json_object *subnet;
} ImdsFamily;

typedef struct ImdsInterface {
        char *mac;
        struct json_object *ipv4; /* any JSON type: checked by parse_family, so that a bad one skips */
        struct json_object *ipv6; /* only that family, not the interface */
        struct json_object *mtu;  /* likewise */
} ImdsInterface;

static void imds_subnet_done(ImdsSubnet *s) {
        free(s->address);
}

static void imds_ip_done(ImdsIp *i) {
        free(i->private_ip);
        free(i->public_ip);
}

static void imds_family_done(ImdsFamily *f) {
        json_object_put(f->ip_address);
        json_object_put(f->subnet);
}

static void imds_interface_done(ImdsInterface *i) {
        free(i->mac);
        json_object_put(i->ipv4);
        json_object_put(i->ipv6);
        json_object_put(i->mtu);
}

/* Keeps a reference to a value of any type, for a later check of its own. */
static int dispatch_keep(const char *name, struct json_object *v, void *dest, JsonError *err) {
        struct json_object **p = dest;

        json_object_put(*p);
        *p = json_object_get(v);
        return 0;
}

static void network_interface_done(NetworkInterface *i) {
        free(i->ipv4);
        free(i->ipv6);
}

void network_config_done(NetworkConfig *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_interfaces; i++)
                network_interface_done(&c->interfaces[i]);
        free(c->interfaces);
        for (size_t i = 0; i < c->n_skipped; i++) {
                free(c->skipped[i].item);
                free(c->skipped[i].reason);
        }
        free(c->skipped);
        *c = (NetworkConfig){};
}

/* Prefixes the field and message of a dispatch error with the JSON path of the object being parsed. */
static void copy_truncated(char *dest, size_t size, const char *src) {
        size_t l = MIN(strlen(src), size - 1);

        memcpy(dest, src, l);
        dest[l] = '\0';
}

static int error_wrap(JsonError *err, const char *path, int r) {
        char buf[sizeof err->field + sizeof err->message + 8];

        if (r != -EBADMSG || !err)
                return r;
        snprintf(buf, sizeof buf, "%s: %s", path, err->message);
        copy_truncated(err->message, sizeof err->message, buf);
        snprintf(buf, sizeof buf, "%s%s%s", path, isempty(err->field) ? "" : ".", err->field);
        copy_truncated(err->field, sizeof err->field, buf);
        return r;
}

/* Reports a bad value: err->field is the full path, the message starts with it. Returns -EBADMSG. */
_printf_(3, 4) static int field_error(JsonError *err, const char *field, const char *fmt, ...) {
        char m[sizeof err->message];
        va_list ap;

        if (!err)
                return -EBADMSG;
        va_start(ap, fmt);
        vsnprintf(m, sizeof m, fmt, ap);
        va_end(ap);
        return json_error(err, field, "%s: %s", field, m);
}

static int dispatch_at(struct json_object *o, const JsonDispatch *table, void *dest, const char *path,
                       JsonError *err) {
        return error_wrap(err, path, json_dispatch(o, table, 0, dest, err));
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        c = (char) tolower((unsigned char) c);
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -EINVAL;
}

/* IMDS sends 12 hex digits without separators; "00:0d:3a:…" and "00-0D-3A-…" are accepted as well. */
static int parse_mac(const char *s, uint8_t ret[static 6]) {
        size_t len = strlen(s);
        uint8_t mac[6];
        char sep = 0;
        size_t step;

        if (len == 12)
                step = 2;
        else if (len == 17 && (s[2] == ':' || s[2] == '-')) {
                step = 3;
                sep = s[2];
        } else
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                const char *p = s + i * step;
                int hi = unhex(p[0]), lo = unhex(p[1]);

                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (sep && i < 5 && p[2] != sep)
                        return -EINVAL;
                mac[i] = (uint8_t) (hi << 4 | lo);
        }
        /* A NIC has a unicast, non-zero address. */
        if (mac[0] & 1)
                return -EINVAL;
        if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
                return -EINVAL;
        memcpy(ret, mac, 6);
        return 0;
}

/* Parses a host address of family; rejects unspecified, loopback, multicast and link-local addresses,
 * which IMDS cannot meaningfully assign. */
static int parse_ip(int family, const char *s, uint8_t ret[static 16]) {
        uint8_t a[16] = {};

        if (inet_pton(family, s, a) != 1)
                return -EINVAL;
        if (family == AF_INET) {
                if (a[0] == 0 || a[0] == 127 || a[0] >= 224 || (a[0] == 169 && a[1] == 254))
                        return -EINVAL;
        } else {
                static const uint8_t zero[16] = {}, loopback[16] = {[15] = 1};

                if (memcmp(a, zero, 16) == 0 || memcmp(a, loopback, 16) == 0 || a[0] == 0xff ||
                    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))
                        return -EINVAL;
        }
        memcpy(ret, a, 16);
        return 0;
}

static bool prefix_contains(int family, const uint8_t net[static 16], unsigned prefixlen,
                            const uint8_t addr[static 16]) {
        size_t bytes = prefixlen / 8, bits = prefixlen % 8;

        if (prefixlen > (family == AF_INET ? 32U : 128U))
                return false;
        if (memcmp(net, addr, bytes) != 0)
                return false;
        if (bits == 0)
                return true;
        return ((net[bytes] ^ addr[bytes]) & (uint8_t) (0xff << (8 - bits))) == 0;
}

static const char *family_key(int family) {
        return family == AF_INET ? "ipv4" : "ipv6";
}

/* Records one skipped entry (bounded: past NETWORK_SKIPPED_MAX only counted). -ENOMEM only. The reason quotes
 * IMDS text and ends up in a networkd file comment, the state file and KVP: control characters become '?'
 * (a newline would end the comment and start a directive of its own). */
static int skip_add(NetworkConfig *c, const char *item, const char *reason) {
        NetworkSkip *a;
        char *i, *r;

        c->n_skipped_total++;
        if (c->n_skipped >= NETWORK_SKIPPED_MAX)
                return 0;
        a = reallocarray(c->skipped, c->n_skipped + 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        c->skipped = a;
        i = strdup(item);
        r = strndup(reason, NETWORK_SKIP_REASON_MAX);
        if (!i || !r) {
                free(i);
                free(r);
                return -ENOMEM;
        }
        for (char *p = r; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        a[c->n_skipped++] = (NetworkSkip){.item = i, .reason = r};
        return 0;
}

_printf_(3, 4) static int skipf(NetworkConfig *c, const char *item, const char *fmt, ...) {
        _cleanup_free_ char *reason = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&reason, fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        return skip_add(c, item, reason);
}

/* The valid subnets of one family; bad entries are skipped. -E2BIG (with err) when there are too many. */
static int parse_subnets(struct json_object *array, int family, const char *path, NetworkConfig *c,
                         ImdsSubnet **ret_subnets, uint8_t (**ret_nets)[16], size_t *ret_n, JsonError *err) {
        static const JsonDispatch table[] = {
                {"address", json_dispatch_string, offsetof(ImdsSubnet, address), JSON_MANDATORY},
                {"prefix", json_dispatch_uintish, offsetof(ImdsSubnet, prefix), JSON_MANDATORY},
                {},
        };
        unsigned max_prefix = family == AF_INET ? 32 : 128;
        _cleanup_free_ ImdsSubnet *subnets = NULL;
        _cleanup_free_ uint8_t(*nets)[16] = NULL;
        size_t n = array ? json_object_array_length(array) : 0, kept = 0;
        int r = 0;

        if (n > NETWORK_SUBNETS_MAX) {
                (void) field_error(err, path, "%zu subnets, at most %u are accepted", n,
                                   NETWORK_SUBNETS_MAX);
                return -E2BIG;
        }
        subnets = calloc(n + 1, sizeof *subnets);
        nets = calloc(n + 1, sizeof *nets);
        if (!subnets || !nets)
                return -ENOMEM;
        for (size_t i = 0; i < n && r != -ENOMEM; i++) {
                ImdsSubnet *s = &subnets[kept];
                JsonError e = {};
                char p[128], f[144];

                snprintf(p, sizeof p, "%s[%zu]", path, i);
                r = dispatch_at(json_object_array_get_idx(array, i), table, s, p, &e);
                if (r >= 0 && s->prefix > max_prefix) {
                        snprintf(f, sizeof f, "%s.prefix", p);
                        r = field_error(&e, f, "%u is larger than %u", s->prefix, max_prefix);
                }
                if (r >= 0 && inet_pton(family, s->address, nets[kept]) != 1) {
                        snprintf(f, sizeof f, "%s.address", p);
                        r = field_error(&e, f, "'%s' is not an %s network address", s->address,
                                        family_key(family));
                }
                if (r >= 0) {
                        kept++;
                        continue;
                }
                imds_subnet_done(s);
                *s = (ImdsSubnet){};
                if (r != -ENOMEM)
                        r = skip_add(c, p, e.message);
        }
        if (r == -ENOMEM) {
                for (size_t i = 0; i < kept; i++)
                        imds_subnet_done(&subnets[i]);
                return r;
        }
        *ret_subnets = TAKE_PTR(subnets);
        *ret_nets = TAKE_PTR(nets);
        *ret_n = kept;
        return 0;
}

/* Is addr (of family) already assigned to one of the interfaces accepted before? Returns its index or -1. */
static ssize_t assigned_before(const NetworkConfig *c, int family, const uint8_t addr[static 16]) {
        for (size_t k = 0; k < c->n_interfaces; k++) {
                const NetworkInterface *o = &c->interfaces[k];
                const NetworkAddress *l = family == AF_INET ? o->ipv4 : o->ipv6;
                size_t n = family == AF_INET ? o->n_ipv4 : o->n_ipv6;

                for (size_t j = 0; j < n; j++)
                        if (memcmp(l[j].addr, addr, 16) == 0)
                                return (ssize_t) o->index;
        }
        return -1;
}

/* Checks entry i of a family's ipAddress[] into *a. Returns 0 when usable, -EBADMSG (reason in e) when not. */
static int parse_one_address(struct json_object *o, int family, const char *p, const NetworkConfig *c,
                             const NetworkAddress *accepted, size_t n_accepted, const ImdsSubnet *subnets,
                             uint8_t (*nets)[16], size_t n_subnets, const char *family_path,
                             NetworkAddress *a, JsonError *e) {
        static const JsonDispatch ip_table[] = {
                {"privateIpAddress", json_dispatch_string, offsetof(ImdsIp, private_ip), JSON_MANDATORY},
                {"publicIpAddress", json_dispatch_string, offsetof(ImdsIp, public_ip), JSON_NULLABLE},
                {},
        };
        _cleanup_(imds_ip_done) ImdsIp ip = {};
        char f[144];
        ssize_t other;
        int r;

        snprintf(f, sizeof f, "%s.privateIpAddress", p);
        r = dispatch_at(o, ip_table, &ip, p, e);
        if (r < 0)
                return r;
        *a = (NetworkAddress){.family = family};
        if (parse_ip(family, ip.private_ip, a->addr) < 0)
                return field_error(e, f, "'%s' is not a usable %s address", ip.private_ip,
                                   family_key(family));
        for (size_t j = 0; j < n_accepted; j++)
                if (memcmp(accepted[j].addr, a->addr, 16) == 0)
                        return field_error(e, f, "'%s' is listed twice", ip.private_ip);
        other = assigned_before(c, family, a->addr);
        if (other >= 0)
                return field_error(e, f, "'%s' is also assigned to network.interface[%zd]", ip.private_ip,
                                   other);
        if (n_subnets == 0 && family == AF_INET6) {
                a->prefixlen = 128;
                return 0;
        }
        for (size_t j = 0; j < n_subnets; j++)
                if (prefix_contains(family, nets[j], subnets[j].prefix, a->addr)) {
                        a->prefixlen = (unsigned char) subnets[j].prefix;
                        return 0;
                }
        return field_error(e, f, "'%s' is not inside any %s.subnet", ip.private_ip, family_path);
}

/* Parses ipv4 or ipv6 of one interface into addresses with prefixes, skipping (and recording) bad entries. */
static int parse_family(struct json_object *o, int family, const char *ifpath, NetworkConfig *c,
                        NetworkAddress **ret, size_t *ret_n) {
        static const JsonDispatch family_table[] = {
                {"ipAddress", json_dispatch_array, offsetof(ImdsFamily, ip_address), JSON_NULLABLE},
                {"subnet", json_dispatch_array, offsetof(ImdsFamily, subnet), JSON_NULLABLE},
                {},
        };
        _cleanup_(imds_family_done) ImdsFamily fam = {};
        _cleanup_free_ ImdsSubnet *subnets = NULL;
        _cleanup_free_ uint8_t(*nets)[16] = NULL;
        _cleanup_free_ NetworkAddress *addrs = NULL;
        size_t n_subnets = 0, n = 0, kept = 0;
        bool primary_skipped = false;
        char path[80], p[112], f[144];
        JsonError e = {};
        int r = 0;

        *ret = NULL;
        *ret_n = 0;
        snprintf(path, sizeof path, "%s.%s", ifpath, family_key(family));
        if (o && !json_object_is_type(o, json_type_object))
                return skipf(c, path, "%s: not an object", path);
        if (o) {
                r = dispatch_at(o, family_table, &fam, path, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return skip_add(c, path, e.message);
        }
        n = fam.ip_address ? json_object_array_length(fam.ip_address) : 0;
        if (n > NETWORK_ADDRESSES_MAX) {
                snprintf(f, sizeof f, "%s.ipAddress", path);
                return skipf(c, path, "%s: %zu addresses, at most %u are accepted", f, n,
                             NETWORK_ADDRESSES_MAX);
        }
        snprintf(p, sizeof p, "%s.subnet", path);
        r = parse_subnets(fam.subnet, family, p, c, &subnets, &nets, &n_subnets, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return skip_add(c, path, e.message);
        addrs = calloc(n + 1, sizeof *addrs);
        if (!addrs)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                snprintf(p, sizeof p, "%s.ipAddress[%zu]", path, i);
                if (primary_skipped) {
                        r = skipf(c, p,
                                  "not configured: %s.ipAddress[0], the primary IP configuration of the "
                                  "family, was skipped",
                                  path);
                        continue;
                }
                e = (JsonError){};
                r = parse_one_address(json_object_array_get_idx(fam.ip_address, i), family, p, c, addrs,
                                      kept, subnets, nets, n_subnets, path, &addrs[kept], &e);
                if (r >= 0) {
                        kept++;
                        continue;
                }
                if (r == -ENOMEM)
                        break;
                r = skip_add(c, p, e.message);
                primary_skipped = i == 0;
        }
        for (size_t i = 0; i < n_subnets; i++)
                imds_subnet_done(&subnets[i]);
        if (r < 0)
                return r;
        if (!primary_skipped) {
                *ret = TAKE_PTR(addrs);
                *ret_n = kept;
        }
        return 0;
}

/* Returns the index of an accepted interface with that MAC, or -1. */
static ssize_t mac_taken(const NetworkConfig *c, const uint8_t mac[static 6]) {
        for (size_t k = 0; k < c->n_interfaces; k++)
                if (memcmp(c->interfaces[k].mac, mac, 6) == 0)
                        return (ssize_t) c->interfaces[k].index;
        return -1;
}

/*
 * Parses interface index against the interfaces accepted before it (c). Returns 1 and *ret when accepted, 0
 * when skipped (recorded in c), -EBADMSG (err set) when it is the primary interface and unusable.
 */
static int parse_interface(struct json_object *o, unsigned index, NetworkConfig *c, NetworkInterface *ret,
                           JsonError *err) {
        static const JsonDispatch table[] = {
                {"macAddress", json_dispatch_string, offsetof(ImdsInterface, mac), JSON_MANDATORY},
                {"ipv4", dispatch_keep, offsetof(ImdsInterface, ipv4), JSON_NULLABLE},
                {"ipv6", dispatch_keep, offsetof(ImdsInterface, ipv6), JSON_NULLABLE},
                {"mtu", dispatch_keep, offsetof(ImdsInterface, mtu), JSON_NULLABLE},
                {},
        };
        _cleanup_(imds_interface_done) ImdsInterface imds = {};
        _cleanup_(network_interface_done) NetworkInterface i = {.index = index, .primary = index == 0};
        char path[48], f[64], mac[18];
        unsigned mtu = 0;
        JsonError e = {};
        ssize_t other;
        int r;

        snprintf(path, sizeof path, "network.interface[%u]", index);
        r = dispatch_at(o, table, &imds, path, &e);
        if (r >= 0 && parse_mac(imds.mac, i.mac) < 0) {
                snprintf(f, sizeof f, "%s.macAddress", path);
                r = field_error(&e, f, "'%s' is not a unicast MAC address (12 hex digits)", imds.mac);
        }
        if (r >= 0 && (other = mac_taken(c, i.mac)) >= 0) {
                network_mac_format(i.mac, true, mac, sizeof mac);
                snprintf(f, sizeof f, "%s.macAddress", path);
                r = field_error(&e, f, "%s is also the MAC of network.interface[%zd]", mac, other);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0 && index == 0) {
                /* No primary interface: nothing else can make up for it. */
                if (err)
                        *err = e;
                return r;
        }
        if (r < 0)
                return skip_add(c, path, e.message);

        snprintf(f, sizeof f, "%s.mtu", path);
        e = (JsonError){};
        if (imds.mtu && json_dispatch_uintish("mtu", imds.mtu, &mtu, &e) < 0)
                r = skipf(c, f, "%s: %s; the link keeps its MTU", f, e.message);
        else if (mtu != 0 && (mtu < 68 || mtu > 65535))
                r = skipf(c, f, "%s: %u is outside 68…65535; the link keeps its MTU", f, mtu);
        else
                i.mtu = mtu;
        if (r < 0)
                return r;
        r = parse_family(imds.ipv4, AF_INET, path, c, &i.ipv4, &i.n_ipv4);
        if (r >= 0)
                r = parse_family(imds.ipv6, AF_INET6, path, c, &i.ipv6, &i.n_ipv6);
        if (r < 0)
                return r;
        *ret = i;
        i = (NetworkInterface){};
        return 1;
}

int network_parse_imds(struct json_object *network, NetworkConfig *ret, JsonError *err) {
        static const JsonDispatch table[] = {
                {"interface", json_dispatch_array, 0, JSON_MANDATORY},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *array = NULL;
        _cleanup_(network_config_done) NetworkConfig c = {};
        size_t n;
        int r;

        r = dispatch_at(network, table, &array, "network", err);
        if (r < 0)
                return r;
        n = json_object_array_length(array);
        if (n > NETWORK_INTERFACES_MAX) {
                (void) field_error(err, "network.interface", "%zu interfaces, at most %u are accepted", n,
                                   NETWORK_INTERFACES_MAX);
                return -E2BIG;
        }
        c.interfaces = calloc(n + 1, sizeof *c.interfaces);
        if (!c.interfaces)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = parse_interface(json_object_array_get_idx(array, i), (unsigned) i, &c,
                                    &c.interfaces[c.n_interfaces], err);
                if (r < 0)
                        return r;
                if (r > 0)
                        c.n_interfaces++;
        }
        *ret = c;
        c = (NetworkConfig){};
        return 0;
}

int network_parse_imds_buffer(const char *buf, size_t len, NetworkConfig *ret, JsonError *err) {
        _cleanup_(json_object_putp) struct json_object *doc = NULL;
        struct json_object *network;
        int r;

        r = json_parse_buffer(buf, len, &doc, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(doc, json_type_object))
                return json_error(err, "", "the IMDS document is not a JSON object");
        /* The whole instance document has "network"; the network object itself has "interface". */
        network = json_get(doc, "network", false);
        if (!network) {
                if (!json_get(doc, "interface", false))
                        return json_error(err, "network",
                                          "neither 'network' nor 'interface' in the document");
                network = doc;
        }
        return network_parse_imds(network, ret, err);
}

void network_mac_format(const uint8_t mac[static 6], bool colons, char *buf, size_t size) {
        if (colons)
                snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
        else
                snprintf(buf, size, "%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
}

int network_address_format(const NetworkAddress *a, bool with_prefix, char *buf, size_t size) {
        char s[INET6_ADDRSTRLEN];
        int k;

        if (!inet_ntop(a->family, a->addr, s, sizeof s))
                return -errno;
        k = with_prefix ? snprintf(buf, size, "%s/%u", s, a->prefixlen) : snprintf(buf, size, "%s", s);
        return k < 0 || (size_t) k >= size ? -ENOBUFS : 0;
}

int network_interface_gateway4(const NetworkInterface *i, NetworkAddress *ret) {
        NetworkAddress gw;
        uint32_t a, mask;

        if (i->n_ipv4 == 0 || i->ipv4[0].prefixlen > 30)
                return -ENOENT;
        memcpy(&a, i->ipv4[0].addr, 4);
        a = ntohl(a);
        mask = i->ipv4[0].prefixlen == 0 ? 0 : UINT32_MAX << (32 - i->ipv4[0].prefixlen);
        a = (a & mask) + 1;
        gw = (NetworkAddress){.family = AF_INET, .prefixlen = 32};
        a = htonl(a);
        memcpy(gw.addr, &a, 4);
        *ret = gw;
        return 0;
}

unsigned network_interface_metric(const NetworkInterface *i) {
        return NETWORK_METRIC_BASE + NETWORK_METRIC_STEP * i->index;
}
