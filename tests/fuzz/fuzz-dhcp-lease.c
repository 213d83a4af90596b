/* SPDX-License-Identifier: MIT */
/*
 * DHCP lease files (imds-client/wire-parse.c, protocol §1.1): the same input goes through the dhclient parser
 * (at a fixed "now", 2024-01-01, so that a corpus file always takes the same path) and the systemd-networkd
 * parser. Whatever either returns must be a dotted IPv4 address: it becomes the WireServer endpoint.
 */
#include <arpa/inet.h>

#include "fuzz.h"
#include "wireserver.h"

#define FUZZ_NOW (UINT64_C(1704067200) * UINT64_C(1000000))

static void check_endpoint(const char *ep) {
        struct in_addr a;

        fuzz_check(ep);
        fuzz_check(strlen(ep) <= 15);
        fuzz_check(inet_pton(AF_INET, ep, &a) == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *ep = NULL;

        if (!fuzz_setup(size))
                return 0;

        if (wire_lease_parse_dhclient((const char *) data, size, FUZZ_NOW, &ep) >= 0) {
                check_endpoint(ep);
                free(ep);
                ep = NULL;
        }
        if (wire_lease_parse_networkd((const char *) data, size, &ep) >= 0) {
                check_endpoint(ep);
                free(ep);
        }
        return 0;
}
