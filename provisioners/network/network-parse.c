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
 * without any ipv6.subnet get /128, cloud-init's default. Nothing is applied on any error: the whole document
 * is validated before the caller sees a NetworkConfig. Error fields are full paths such as
 * "network.interface[1].ipv4.subnet[0].prefix".
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
        struct json_object *ipv4;
        struct json_object *ipv6;
        unsigned mtu;
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
        *c = (NetworkConfig) {};
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
                static const uint8_t zero[16] = {}, loopback[16] = { [15] = 1 };

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

static int parse_subnets(struct json_object *array, int family, const char *path, ImdsSubnet **ret_subnets,
                         uint8_t (**ret_nets)[16], size_t *ret_n, JsonError *err) {
        static const JsonDispatch table[] = {
                { "address", json_dispatch_string, offsetof(ImdsSubnet, address), JSON_MANDATORY },
                { "prefix", json_dispatch_uintish, offsetof(ImdsSubnet, prefix), JSON_MANDATORY },
                {},
        };
        unsigned max_prefix = family == AF_INET ? 32 : 128;
        _cleanup_free_ ImdsSubnet *subnets = NULL;
        _cleanup_free_ uint8_t(*nets)[16] = NULL;
        size_t n = array ? json_object_array_length(array) : 0, done = 0;
        int r = 0;

        if (n > NETWORK_SUBNETS_MAX) {
                (void) field_error(err, path, "%zu subnets, at most %u are accepted", n, NETWORK_SUBNETS_MAX);
                return -E2BIG;
        }
        subnets = calloc(n + 1, sizeof *subnets);
        nets = calloc(n + 1, sizeof *nets);
        if (!subnets || !nets)
                return -ENOMEM;
        for (; done < n; done++) {
                char p[128], f[144];

                snprintf(p, sizeof p, "%s[%zu]", path, done);
                r = dispatch_at(json_object_array_get_idx(array, done), table, &subnets[done], p, err);
                if (r < 0)
                        break;
                if (subnets[done].prefix > max_prefix) {
                        snprintf(f, sizeof f, "%s.prefix", p);
                        r = field_error(err, f, "%u is larger than %u", subnets[done].prefix, max_prefix);
                        break;
                }
                if (inet_pton(family, subnets[done].address, nets[done]) != 1) {
                        snprintf(f, sizeof f, "%s.address", p);
                        r = field_error(err, f, "'%s' is not an %s network address", subnets[done].address,
                                        family_key(family));
                        break;
                }
        }
        if (r < 0) {
                for (size_t i = 0; i <= done && i < n; i++)
                        imds_subnet_done(&subnets[i]);
                return r;
        }
        *ret_subnets = TAKE_PTR(subnets);
        *ret_nets = TAKE_PTR(nets);
        *ret_n = n;
        return 0;
}

/* Parses ipv4 or ipv6 of one interface into addresses with prefixes. */
static int parse_family(struct json_object *o, int family, const char *ifpath, NetworkAddress **ret,
                        size_t *ret_n, JsonError *err) {
        static const JsonDispatch family_table[] = {
                { "ipAddress", json_dispatch_array, offsetof(ImdsFamily, ip_address), JSON_NULLABLE },
                { "subnet", json_dispatch_array, offsetof(ImdsFamily, subnet), JSON_NULLABLE },
                {},
        };
        static const JsonDispatch ip_table[] = {
                { "privateIpAddress", json_dispatch_string, offsetof(ImdsIp, private_ip), JSON_MANDATORY },
                { "publicIpAddress", json_dispatch_string, offsetof(ImdsIp, public_ip), JSON_NULLABLE },
                {},
        };
        _cleanup_(imds_family_done) ImdsFamily fam = {};
        _cleanup_free_ ImdsSubnet *subnets = NULL;
        _cleanup_free_ uint8_t(*nets)[16] = NULL;
        _cleanup_free_ NetworkAddress *addrs = NULL;
        size_t n_subnets = 0, n = 0;
        char path[80], p[112], f[144];
        int r;

        snprintf(path, sizeof path, "%s.%s", ifpath, family_key(family));
        if (o) {
                r = dispatch_at(o, family_table, &fam, path, err);
                if (r < 0)
                        return r;
        }
        n = fam.ip_address ? json_object_array_length(fam.ip_address) : 0;
        if (n > NETWORK_ADDRESSES_MAX) {
                snprintf(f, sizeof f, "%s.ipAddress", path);
                (void) field_error(err, f, "%zu addresses, at most %u are accepted", n, NETWORK_ADDRESSES_MAX);
                return -E2BIG;
        }
        snprintf(p, sizeof p, "%s.subnet", path);
        r = parse_subnets(fam.subnet, family, p, &subnets, &nets, &n_subnets, err);
        if (r < 0)
                return r;
        addrs = calloc(n + 1, sizeof *addrs);
        if (!addrs)
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_(imds_ip_done) ImdsIp ip = {};
                NetworkAddress *a = &addrs[i];
                bool found = false;

                snprintf(p, sizeof p, "%s.ipAddress[%zu]", path, i);
                snprintf(f, sizeof f, "%s.privateIpAddress", p);
                r = dispatch_at(json_object_array_get_idx(fam.ip_address, i), ip_table, &ip, p, err);
                if (r < 0)
                        break;
                *a = (NetworkAddress) { .family = family };
                if (parse_ip(family, ip.private_ip, a->addr) < 0) {
                        r = field_error(err, f, "'%s' is not a usable %s address", ip.private_ip,
                                        family_key(family));
                        break;
                }
                for (size_t j = 0; j < i; j++)
                        if (memcmp(addrs[j].addr, a->addr, 16) == 0) {
                                r = field_error(err, f, "'%s' is listed twice", ip.private_ip);
                                break;
                        }
                if (r < 0)
                        break;
                if (n_subnets == 0 && family == AF_INET6) {
                        a->prefixlen = 128;
                        continue;
                }
                for (size_t j = 0; j < n_subnets && !found; j++)
                        if (prefix_contains(family, nets[j], subnets[j].prefix, a->addr)) {
                                a->prefixlen = (unsigned char) subnets[j].prefix;
                                found = true;
                        }
                if (!found) {
                        r = field_error(err, f, "'%s' is not inside any %s.subnet", ip.private_ip, path);
                        break;
                }
        }
        for (size_t i = 0; i < n_subnets; i++)
                imds_subnet_done(&subnets[i]);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(addrs);
        *ret_n = n;
        return 0;
}

static int parse_interface(struct json_object *o, unsigned index, NetworkInterface *ret, JsonError *err) {
        static const JsonDispatch table[] = {
                { "macAddress", json_dispatch_string, offsetof(ImdsInterface, mac), JSON_MANDATORY },
                { "ipv4", json_dispatch_object, offsetof(ImdsInterface, ipv4), JSON_NULLABLE },
                { "ipv6", json_dispatch_object, offsetof(ImdsInterface, ipv6), JSON_NULLABLE },
                { "mtu", json_dispatch_uintish, offsetof(ImdsInterface, mtu), JSON_NULLABLE },
                {},
        };
        _cleanup_(imds_interface_done) ImdsInterface imds = {};
        _cleanup_(network_interface_done) NetworkInterface i = { .index = index, .primary = index == 0 };
        char path[48], f[64];
        int r;

        snprintf(path, sizeof path, "network.interface[%u]", index);
        r = dispatch_at(o, table, &imds, path, err);
        if (r < 0)
                return r;
        if (parse_mac(imds.mac, i.mac) < 0) {
                snprintf(f, sizeof f, "%s.macAddress", path);
                return field_error(err, f, "'%s' is not a unicast MAC address (12 hex digits)", imds.mac);
        }
        if (imds.mtu != 0 && (imds.mtu < 68 || imds.mtu > 65535)) {
                snprintf(f, sizeof f, "%s.mtu", path);
                return field_error(err, f, "%u is outside 68…65535", imds.mtu);
        }
        i.mtu = imds.mtu;
        r = parse_family(imds.ipv4, AF_INET, path, &i.ipv4, &i.n_ipv4, err);
        if (r < 0)
                return r;
        r = parse_family(imds.ipv6, AF_INET6, path, &i.ipv6, &i.n_ipv6, err);
        if (r < 0)
                return r;
        *ret = i;
        i = (NetworkInterface) {};
        return 0;
}

/* Same address family list overlap between two interfaces: returns the index in a or -1. */
static ssize_t find_shared_address(const NetworkAddress *a, size_t n_a, const NetworkAddress *b, size_t n_b) {
        for (size_t x = 0; x < n_a; x++)
                for (size_t y = 0; y < n_b; y++)
                        if (memcmp(a[x].addr, b[y].addr, 16) == 0)
                                return (ssize_t) x;
        return -1;
}

/* The same MAC or the same address on two interfaces cannot be right: refuse rather than guess. */
static int check_unique(const NetworkConfig *c, JsonError *err) {
        for (size_t i = 0; i < c->n_interfaces; i++)
                for (size_t j = 0; j < i; j++) {
                        const NetworkInterface *a = &c->interfaces[i], *b = &c->interfaces[j];
                        char f[96], mac[18];
                        ssize_t x;

                        if (memcmp(a->mac, b->mac, 6) == 0) {
                                network_mac_format(a->mac, true, mac, sizeof mac);
                                snprintf(f, sizeof f, "network.interface[%u].macAddress", a->index);
                                return field_error(err, f, "%s is also the MAC of network.interface[%u]", mac,
                                                   b->index);
                        }
                        x = find_shared_address(a->ipv4, a->n_ipv4, b->ipv4, b->n_ipv4);
                        if (x >= 0) {
                                snprintf(f, sizeof f, "network.interface[%u].ipv4.ipAddress[%zd]", a->index, x);
                                return field_error(err, f, "also assigned to network.interface[%u]", b->index);
                        }
                        x = find_shared_address(a->ipv6, a->n_ipv6, b->ipv6, b->n_ipv6);
                        if (x >= 0) {
                                snprintf(f, sizeof f, "network.interface[%u].ipv6.ipAddress[%zd]", a->index, x);
                                return field_error(err, f, "also assigned to network.interface[%u]", b->index);
                        }
                }
        return 0;
}

int network_parse_imds(struct json_object *network, NetworkConfig *ret, JsonError *err) {
        static const JsonDispatch table[] = {
                { "interface", json_dispatch_array, 0, JSON_MANDATORY },
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
                r = parse_interface(json_object_array_get_idx(array, i), (unsigned) i, &c.interfaces[i], err);
                if (r < 0)
                        return r;
                c.n_interfaces++;
        }
        r = check_unique(&c, err);
        if (r < 0)
                return r;
        *ret = c;
        c = (NetworkConfig) {};
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
                        return json_error(err, "network", "neither 'network' nor 'interface' in the document");
                network = doc;
        }
        return network_parse_imds(network, ret, err);
}

void network_mac_format(const uint8_t mac[static 6], bool colons, char *buf, size_t size) {
        if (colons)
                snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
                         mac[5]);
        else
                snprintf(buf, size, "%02x%02x%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
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
        gw = (NetworkAddress) { .family = AF_INET, .prefixlen = 32 };
        a = htonl(a);
        memcpy(gw.addr, &a, 4);
        *ret = gw;
        return 0;
}

unsigned network_interface_metric(const NetworkInterface *i) {
        return NETWORK_METRIC_BASE + NETWORK_METRIC_STEP * i->index;
}
