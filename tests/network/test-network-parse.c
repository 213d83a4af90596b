/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the IMDS network parser: single- and multi-NIC documents (tests/network/imds/), a table of
 * documents without a usable primary interface, each of which must fail with -EBADMSG (or -E2BIG) naming the
 * field and leave the output untouched, and a table of documents with one bad entry among good ones, which is
 * skipped and reported while the rest is kept. The interop group parses WALinuxAgent's imds/valid.json.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "network.h"
#include "tests.h"

static char *network_fixture(const char *name, size_t *ret_size) {
        const char *src = getenv("AZL_SOURCE_ROOT");
        _cleanup_free_ char *path = NULL;
        FILE *f;
        char *buf = NULL;
        size_t cap = 0;

        assert_non_null(src);
        assert_true(asprintf(&path, "%s/tests/network/imds/%s", src, name) > 0);
        f = fopen(path, "re");
        if (!f)
                fail_msg("cannot open %s", path);
        *ret_size = getdelim(&buf, &cap, '\0', f) >= 0 ? strlen(buf) : 0;
        fclose(f);
        assert_non_null(buf);
        return buf;
}

static void assert_address(const NetworkAddress *a, const char *expected) {
        char s[64];

        assert_int_equal(network_address_format(a, true, s, sizeof s), 0);
        assert_string_equal(s, expected);
}

static void check_single_nic(char *doc, size_t size) {
        _cleanup_(network_config_done) NetworkConfig c = {};
        JsonError err = {};
        char mac[18];

        assert_int_equal(network_parse_imds_buffer(doc, size, &c, &err), 0);
        assert_int_equal(c.n_interfaces, 1);
        network_mac_format(c.interfaces[0].mac, true, mac, sizeof mac);
        assert_string_equal(mac, "00:0d:3a:33:82:e8");
        assert_true(c.interfaces[0].primary);
        assert_int_equal(c.interfaces[0].n_ipv4, 1);
        assert_address(&c.interfaces[0].ipv4[0], "10.0.1.4/24");
        assert_int_equal(c.interfaces[0].n_ipv6, 0);
        assert_int_equal(c.interfaces[0].mtu, 0);
}

static void test_single_nic(void **state) {
        _cleanup_free_ char *doc = NULL;
        size_t size;

        doc = network_fixture("single-nic.json", &size);
        check_single_nic(doc, size);
}

/* waagent's imds/valid.json describes the same NIC */
static void interop_waagent_imds(void **state) {
        _cleanup_free_ char *doc = NULL;
        size_t size;

        doc = fixture_read("imds/valid.json", &size);
        check_single_nic(doc, size);
}

static void test_two_nics(void **state) {
        _cleanup_(network_config_done) NetworkConfig c = {};
        _cleanup_free_ char *doc = NULL;
        JsonError err = {};
        NetworkAddress gw;
        size_t size;
        char mac[13];

        doc = network_fixture("two-nics.json", &size);
        assert_int_equal(network_parse_imds_buffer(doc, size, &c, &err), 0);
        assert_int_equal(c.n_interfaces, 2);

        assert_true(c.interfaces[0].primary);
        assert_int_equal(c.interfaces[0].n_ipv4, 3);
        assert_address(&c.interfaces[0].ipv4[2], "10.0.1.6/24");
        assert_int_equal(c.interfaces[0].n_ipv6, 2);
        assert_address(&c.interfaces[0].ipv6[1], "fd00:1::5/64");
        assert_int_equal(network_interface_metric(&c.interfaces[0]), 100);
        assert_int_equal(network_interface_gateway4(&c.interfaces[0], &gw), 0);
        assert_address(&gw, "10.0.1.1/32");

        assert_false(c.interfaces[1].primary);
        assert_int_equal(c.interfaces[1].index, 1);
        network_mac_format(c.interfaces[1].mac, false, mac, sizeof mac);
        assert_string_equal(mac, "000d3a0a0b0c");
        assert_int_equal(c.interfaces[1].n_ipv4, 2);
        assert_address(&c.interfaces[1].ipv4[1], "10.0.2.10/24");
        assert_int_equal(network_interface_metric(&c.interfaces[1]), 200);
}

static void test_network_object_and_subnet_choice(void **state) {
        _cleanup_(network_config_done) NetworkConfig c = {};
        _cleanup_free_ char *doc = NULL;
        JsonError err = {};
        NetworkAddress gw;
        size_t size;

        /* The bare network object is accepted too; 10.0.3.200 lies in the first listed subnet (.128/25),
         * 10.0.3.4 in the second (.0/25). */
        doc = network_fixture("three-nics.json", &size);
        assert_int_equal(network_parse_imds_buffer(doc, size, &c, &err), 0);
        assert_int_equal(c.n_interfaces, 3);
        assert_address(&c.interfaces[2].ipv4[0], "10.0.3.4/25");
        assert_address(&c.interfaces[2].ipv4[2], "10.0.3.200/25");
        assert_int_equal(network_interface_gateway4(&c.interfaces[2], &gw), 0);
        assert_address(&gw, "10.0.3.1/32");
        assert_int_equal(network_interface_metric(&c.interfaces[2]), 300);
}

static void test_ipv6_without_subnet_and_mtu(void **state) {
        static const char doc[] = "{\"interface\":[{\"macAddress\":\"00:0D:3A:33:82:E8\",\"mtu\":\"3900\","
                                  "\"ipv4\":{\"ipAddress\":[{\"privateIpAddress\":\"192.168.7.9\"}],"
                                  "\"subnet\":[{\"address\":\"192.168.7.8\",\"prefix\":31}]},"
                                  "\"ipv6\":{\"ipAddress\":[{\"privateIpAddress\":\"2001:db8::9\"}]}}]}";
        _cleanup_(network_config_done) NetworkConfig c = {};
        JsonError err = {};
        NetworkAddress gw = {};

        assert_int_equal(network_parse_imds_buffer(doc, strlen(doc), &c, &err), 0);
        assert_int_equal(c.interfaces[0].mtu, 3900);
        assert_address(&c.interfaces[0].ipv4[0], "192.168.7.9/31");
        assert_address(&c.interfaces[0].ipv6[0], "2001:db8::9/128");
        /* /31 leaves no room for a gateway: no default route is derived. */
        assert_int_equal(network_interface_gateway4(&c.interfaces[0], &gw), -ENOENT);
        assert_int_equal(gw.family, 0);
}

typedef struct BadCase {
        const char *name;
        const char *json;
        int error;
        const char *field;
        const char *message; /* substring */
} BadCase;

#define V4(ips, subnets) "\"ipv4\":{\"ipAddress\":[" ips "],\"subnet\":[" subnets "]}"
#define IP(a)            "{\"privateIpAddress\":\"" a "\"}"
#define SUBNET(a, p)     "{\"address\":\"" a "\",\"prefix\":" p "}"
#define NIC(mac, v4)     "{\"macAddress\":\"" mac "\"," v4 "}"
#define DOC(...)         "{\"network\":{\"interface\":[" __VA_ARGS__ "]}}"
#define GOOD_NIC         NIC("000D3A3382E8", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))

/* What makes the whole document unusable: no usable primary interface, or no interface list. */
static const BadCase bad_cases[] = {
        {"short MAC", DOC(NIC("000D3A3382E", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))), -EBADMSG,
         "network.interface[0].macAddress", "not a unicast MAC"},
        {"non-hex MAC", DOC(NIC("zz0D3A3382E8", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))), -EBADMSG,
         "network.interface[0].macAddress", "'zz0D3A3382E8'"},
        {"multicast MAC", DOC(NIC("010D3A3382E8", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))),
         -EBADMSG, "network.interface[0].macAddress", "unicast"},
        {"missing MAC", DOC("{" V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")) "}"), -EBADMSG,
         "network.interface[0].macAddress", "mandatory field 'macAddress' is missing"},
        {"MAC not a string", DOC("{\"macAddress\":12}"), -EBADMSG, "network.interface[0].macAddress",
         "not a string"},
        {"primary bad, second fine",
         DOC(NIC("010D3A3382E8", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\""))) "," NIC(
                 "000D3A0A0B0C", V4(IP("10.0.2.4"), SUBNET("10.0.2.0", "\"24\"")))),
         -EBADMSG, "network.interface[0].macAddress", "unicast"},
        {"interface not an array", "{\"network\":{\"interface\":{}}}", -EBADMSG, "network.interface",
         "not an array"},
        {"interface entry not an object", DOC("[]"), -EBADMSG, "network.interface[0]",
         "expected a JSON object"},
        {"no network", "{\"compute\":{}}", -EBADMSG, "network", "neither"},
        {"not JSON", "{\"network\":", -EBADMSG, "", "truncated"},
};

typedef struct SkipCase {
        const char *name;
        const char *json;
        const char *item;   /* the first skipped entry */
        const char *reason; /* substring of its reason */
        size_t n_skipped;
        size_t n_interfaces;
        size_t n_ipv4_0; /* IPv4 addresses kept on the primary */
} SkipCase;

/* One bad entry among good ones: skipped (and said so), the rest kept. */
static const SkipCase skip_cases[] = {
        {"IPv4 prefix 33", DOC(NIC("000D3A3382E8", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"33\"")))),
         "network.interface[0].ipv4.subnet[0]", "33 is larger than 32", 2, 1, 0},
        {"IPv6 prefix 129",
         DOC("{\"macAddress\":\"000D3A3382E8\",\"ipv6\":{\"ipAddress\":[" IP(
                 "fd00::4") "],\"subnet\":[" SUBNET("fd00::", "\"129\"") "]}}"),
         "network.interface[0].ipv6.subnet[0]", "129 is larger than 128", 1, 1, 0}, /* fd00::4/128 kept */
        {"prefix not a number",
         DOC(NIC("000D3A3382E8",
                 V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"2x\"") "," SUBNET("10.0.1.0", "24")))),
         "network.interface[0].ipv4.subnet[0]", "not an unsigned number", 1, 1, 1},
        {"missing prefix", DOC(NIC("000D3A3382E8", V4(IP("10.0.1.4"), "{\"address\":\"10.0.1.0\"}"))),
         "network.interface[0].ipv4.subnet[0]", "missing", 2, 1, 0},
        {"missing privateIpAddress",
         DOC(NIC("000D3A3382E8", V4("{\"publicIpAddress\":\"1.2.3.4\"}", SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[0]", "missing", 1, 1, 0},
        {"bad IPv4", DOC(NIC("000D3A3382E8", V4(IP("10.0.1.256"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[0]", "'10.0.1.256' is not a usable ipv4", 1, 1, 0},
        {"IPv6 literal in ipv4", DOC(NIC("000D3A3382E8", V4(IP("fd00::1"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[0]", "not a usable", 1, 1, 0},
        {"secondary outside its subnet",
         DOC(NIC("000D3A3382E8",
                 V4(IP("10.0.1.4") "," IP("10.0.9.5") "," IP("10.0.1.6"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[1]",
         "'10.0.9.5' is not inside any network.interface[0].ipv4.subnet", 1, 1, 2},
        {"primary IP outside its subnet takes its secondaries along",
         DOC(NIC("000D3A3382E8", V4(IP("10.0.9.4") "," IP("10.0.1.5"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[0]", "not inside any", 2, 1, 0},
        {"IPv4 address without subnet",
         DOC(NIC("000D3A3382E8", "\"ipv4\":{\"ipAddress\":[" IP("10.0.1.4") "]}")),
         "network.interface[0].ipv4.ipAddress[0]", "not inside any", 1, 1, 0},
        {"duplicate address in one NIC",
         DOC(NIC("000D3A3382E8", V4(IP("10.0.1.4") "," IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[0].ipv4.ipAddress[1]", "listed twice", 1, 1, 1},
        {"second NIC bad subnet",
         DOC(GOOD_NIC "," NIC("000D3A0A0B0C", V4(IP("10.0.2.4"), SUBNET("10.0.2.0", "\"40\"")))),
         "network.interface[1].ipv4.subnet[0]", "network.interface[1].ipv4.subnet[0].prefix: 40 is larger",
         2, 2, 1},
        {"duplicate MAC",
         DOC(GOOD_NIC "," NIC("000d3a3382e8", V4(IP("10.0.2.4"), SUBNET("10.0.2.0", "\"24\"")))),
         "network.interface[1]",
         "network.interface[1].macAddress: 00:0d:3a:33:82:e8 is also the MAC of "
         "network.interface[0]",
         1, 1, 1},
        {"second NIC not an object", DOC(GOOD_NIC ",[]"), "network.interface[1]", "expected a JSON object",
         1, 1, 1},
        {"address on two NICs",
         DOC(GOOD_NIC "," NIC("000D3A0A0B0C", V4(IP("10.0.1.4"), SUBNET("10.0.1.0", "\"24\"")))),
         "network.interface[1].ipv4.ipAddress[0]", "also assigned to network.interface[0]", 1, 2, 1},
        {"loopback address", DOC(NIC("000D3A3382E8", V4(IP("127.0.0.2"), SUBNET("127.0.0.0", "\"8\"")))),
         "network.interface[0].ipv4.ipAddress[0]", "not a usable", 1, 1, 0},
        {"mtu too small", DOC("{\"macAddress\":\"000D3A3382E8\",\"mtu\":12}"), "network.interface[0].mtu",
         "outside", 1, 1, 0},
        {"mtu not a number", DOC("{\"macAddress\":\"000D3A3382E8\",\"mtu\":\"big\"}"),
         "network.interface[0].mtu", "not an unsigned number", 1, 1, 0},
        {"ipv4 not an object", DOC("{\"macAddress\":\"000D3A3382E8\",\"ipv4\":[]}"),
         "network.interface[0].ipv4", "not an object", 1, 1, 0},
};

static void test_skipped_entries(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(skip_cases); i++) {
                const SkipCase *t = &skip_cases[i];
                _cleanup_(network_config_done) NetworkConfig c = {};
                JsonError err = {};
                int r;

                r = network_parse_imds_buffer(t->json, strlen(t->json), &c, &err);
                if (r < 0)
                        fail_msg("case '%s': r=%d field='%s' message='%s'", t->name, r, err.field,
                                 err.message);
                if (c.n_skipped != t->n_skipped || c.n_skipped_total != t->n_skipped ||
                    c.n_interfaces != t->n_interfaces || c.interfaces[0].n_ipv4 != t->n_ipv4_0 ||
                    !streq(c.skipped[0].item, t->item) || !strstr(c.skipped[0].reason, t->reason))
                        fail_msg("case '%s': %zu skipped, first '%s' (%s); %zu interfaces, %zu IPv4 on the "
                                 "primary",
                                 t->name, c.n_skipped, c.n_skipped ? c.skipped[0].item : "-",
                                 c.n_skipped ? c.skipped[0].reason : "-", c.n_interfaces,
                                 c.interfaces[0].n_ipv4);
                /* The kept interfaces keep their IMDS index (route metrics, file comments). */
                assert_true(c.interfaces[0].primary);
                assert_int_equal(c.interfaces[0].index, 0);
        }
}

static void test_bad_documents(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(bad_cases); i++) {
                const BadCase *t = &bad_cases[i];
                NetworkConfig c, sentinel;
                JsonError err = {};
                int r;

                memset(&c, 0xaa, sizeof c);
                sentinel = c;
                r = network_parse_imds_buffer(t->json, strlen(t->json), &c, &err);
                if (r != t->error || !streq(err.field, t->field) || !strstr(err.message, t->message))
                        fail_msg("case '%s': r=%d field='%s' message='%s'", t->name, r, err.field,
                                 err.message);
                /* ret is untouched on failure. */
                assert_memory_equal(&c, &sentinel, sizeof c);
        }
}

static void test_too_many(void **state) {
        _cleanup_free_ char *doc = NULL;
        NetworkConfig c = {};
        JsonError err = {};
        FILE *f;
        size_t size = 0;

        f = open_memstream(&doc, &size);
        assert_non_null(f);
        fputs("{\"interface\":[", f);
        for (unsigned i = 0; i <= NETWORK_INTERFACES_MAX; i++)
                fprintf(f, "%s{\"macAddress\":\"000D3A0000%02X\"}", i ? "," : "", i);
        fputs("]}", f);
        fclose(f);
        assert_int_equal(network_parse_imds_buffer(doc, size, &c, &err), -E2BIG);
        assert_string_equal(err.field, "network.interface");
        free(TAKE_PTR(doc));

        f = open_memstream(&doc, &size);
        fputs("{\"interface\":[{\"macAddress\":\"000D3A000001\",\"ipv4\":{\"ipAddress\":[", f);
        for (unsigned i = 0; i <= NETWORK_ADDRESSES_MAX; i++)
                fprintf(f, "%s{\"privateIpAddress\":\"10.1.%u.%u\"}", i ? "," : "", i / 200, i % 200 + 1);
        fputs("],\"subnet\":[{\"address\":\"10.1.0.0\",\"prefix\":\"16\"}]}}]}", f);
        fclose(f);
        /* Too many addresses on one NIC: that family is skipped, the NIC stays (with DHCP). */
        assert_int_equal(network_parse_imds_buffer(doc, size, &c, &err), 0);
        assert_int_equal(c.n_interfaces, 1);
        assert_int_equal(c.interfaces[0].n_ipv4, 0);
        assert_int_equal(c.n_skipped, 1);
        assert_string_equal(c.skipped[0].item, "network.interface[0].ipv4");
        assert_non_null(strstr(c.skipped[0].reason, "257 addresses, at most 256"));
        network_config_done(&c);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_waagent_imds),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_nic),
                cmocka_unit_test(test_two_nics),
                cmocka_unit_test(test_network_object_and_subnet_choice),
                cmocka_unit_test(test_ipv6_without_subnet_and_mtu),
                cmocka_unit_test(test_bad_documents),
                cmocka_unit_test(test_skipped_entries),
                cmocka_unit_test(test_too_many),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
