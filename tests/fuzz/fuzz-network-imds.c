/* SPDX-License-Identifier: MIT */
/*
 * network.interface[] of the IMDS document (provisioners/network/network-parse.c network_parse_imds_buffer),
 * the input of the networkd renderer and the netlink backend. Invariants: the NETWORK_*_MAX bounds, address
 * families and prefix lengths consistent, interfaces[0] is the primary (index 0) and indexes increase, MACs
 * and addresses unique across the kept interfaces, skipped entries bounded and free of control characters
 * (they go into networkd comments), and the formatting helpers the backends use succeed on every address.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "network.h"

static void check_address(const NetworkAddress *a, int family) {
        char buf[INET6_ADDRSTRLEN + 8];

        fuzz_check(a->family == family);
        fuzz_check(a->prefixlen <= (family == AF_INET ? 32 : 128));
        fuzz_check(network_address_format(a, true, buf, sizeof buf) >= 0);
        fuzz_check(fuzz_array_terminated(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(network_config_done) NetworkConfig c = {};
        JsonError err = {};

        if (!fuzz_setup(size))
                return 0;

        if (network_parse_imds_buffer((const char *) data, size, &c, &err) >= 0) {
                fuzz_check(c.n_interfaces <= NETWORK_INTERFACES_MAX);
                fuzz_check(c.n_interfaces == 0 || c.interfaces);
                fuzz_check(c.n_interfaces == 0 || c.interfaces[0].primary);
                fuzz_check(c.n_skipped <= NETWORK_SKIPPED_MAX && c.n_skipped <= c.n_skipped_total);
                for (size_t i = 0; i < c.n_skipped; i++) {
                        fuzz_check(fuzz_string_ok(c.skipped[i].item, 256));
                        fuzz_check(fuzz_string_ok(c.skipped[i].reason, NETWORK_SKIP_REASON_MAX));
                        for (const char *p = c.skipped[i].reason; *p; p++)
                                fuzz_check((unsigned char) *p >= 0x20 && *p != 0x7f);
                }
                for (size_t i = 1; i < c.n_interfaces; i++) {
                        fuzz_check(c.interfaces[i].index > c.interfaces[i - 1].index);
                        for (size_t j = 0; j < i; j++)
                                fuzz_check(memcmp(c.interfaces[i].mac, c.interfaces[j].mac, 6) != 0);
                }
                for (size_t i = 0; i < c.n_interfaces; i++) {
                        const NetworkInterface *nic = &c.interfaces[i];
                        NetworkAddress gw;
                        char mac[18];

                        fuzz_check(nic->primary == (nic->index == 0));
                        fuzz_check(nic->n_ipv4 <= NETWORK_ADDRESSES_MAX &&
                                   nic->n_ipv6 <= NETWORK_ADDRESSES_MAX);
                        for (size_t k = 0; k < nic->n_ipv4; k++)
                                check_address(&nic->ipv4[k], AF_INET);
                        for (size_t k = 0; k < nic->n_ipv6; k++)
                                check_address(&nic->ipv6[k], AF_INET6);
                        network_mac_format(nic->mac, true, mac, sizeof mac);
                        fuzz_check(strlen(mac) == 17);
                        if (network_interface_gateway4(nic, &gw) >= 0)
                                check_address(&gw, AF_INET);
                        (void) network_interface_metric(nic);
                }
        }
        fuzz_check(fuzz_array_terminated(err.field));
        fuzz_check(fuzz_array_terminated(err.message));
        return 0;
}
