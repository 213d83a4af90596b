/* SPDX-License-Identifier: MIT */
/*
 * Root tests of the netlink backend: real rtnetlink in a fresh network namespace per test (netns-helpers.h),
 * veth pairs standing in for NICs, drivers declared through a fake sysfs tree under the scratch root, state in
 * <root>/var/lib/azl-agent/network.json. Results are checked with `ip -j addr` / `ip -j route`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "macro.h"
#include "network-internal.h"
#include "network.h"
#include "netns-helpers.h"
#include "tests.h"

#define MAC_A "00:0d:3a:33:82:e8"
#define MAC_B "00:0d:3a:0a:0b:0c"
#define MAC_C "60:45:bd:11:22:33"

typedef struct Fixture {
        char *root;
        Context ctx;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        netns_enter_fresh();
        f->root = tmpdir_new();
        assert_int_equal(context_init(&f->ctx, f->root, NULL), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        context_done(&f->ctx);
        tmpdir_remove(f->root);
        free(f);
        return 0;
}

static void load(const char *source, NetworkConfig *ret) {
        _cleanup_free_ char *buf = NULL, *path = NULL;
        JsonError err = {};
        size_t size = 0;

        if (startswith(source, "{")) {
                assert_int_equal(network_parse_imds_buffer(source, strlen(source), ret, &err), 0);
                return;
        }
        assert_true(asprintf(&path, "%s/tests/network/imds/%s", getenv("AZL_SOURCE_ROOT"), source) > 0);
        buf = capture("cat '%s'", path);
        size = strlen(buf);
        if (network_parse_imds_buffer(buf, size, ret, &err) < 0)
                fail_msg("%s: %s", source, err.message);
}

static int apply(Fixture *f, const char *source, NetworkApplyResult *ret) {
        _cleanup_(network_config_done) NetworkConfig config = {};

        load(source, &config);
        *ret = (NetworkApplyResult){};
        return network_apply(&f->ctx, &config, NETWORK_BACKEND_NETLINK, ret);
}

static void test_single_nic(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_strv_free_ char **addrs = NULL, **routes = NULL;

        veth_add("eth0", MAC_A);
        fake_driver(f->root, "eth0", "hv_netvsc");
        assert_false(link_is_up("eth0"));

        assert_int_equal(apply(f, "single-nic.json", &res), 1);
        assert_int_equal(res.backend, NETWORK_BACKEND_NETLINK);
        assert_int_equal(res.n_configured, 1);
        assert_int_equal(res.n_missing, 0);
        assert_int_equal(res.n_vfs, 0);
        /* promote_secondaries, link up, one address, one route */
        assert_int_equal(res.n_changes, 4);
        assert_int_equal(sh("test \"$(cat /proc/sys/net/ipv4/conf/eth0/promote_secondaries)\" = 1"), 0);

        assert_true(link_is_up("eth0"));
        addrs = link_addresses("eth0");
        assert_strv_equal(addrs, (const char *const[]){"10.0.1.4/24", NULL});
        routes = default_routes();
        assert_strv_equal(routes, (const char *const[]){"eth0 via 10.0.1.1 metric 100", NULL});
}

static void test_two_nics_secondary_ips(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_strv_free_ char **a0 = NULL, **a1 = NULL, **routes = NULL;

        /* Kernel order and names disagree with IMDS order on purpose: nicx is IMDS interface 1. */
        veth_add("nicx", MAC_B);
        veth_add("nicy", MAC_A);
        fake_driver(f->root, "nicx", "hv_netvsc");
        fake_driver(f->root, "nicy", "hv_netvsc");

        assert_int_equal(apply(f, "two-nics.json", &res), 1);
        assert_int_equal(res.n_configured, 2);
        /* 2 × (promote_secondaries + link up) + 5 + 2 addresses + 2 routes */
        assert_int_equal(res.n_changes, 13);

        a0 = link_addresses("nicy");
        assert_strv_equal(a0, (const char *const[]){"10.0.1.4/24", "10.0.1.5/24", "10.0.1.6/24",
                                                    "fd00:1::4/64", "fd00:1::5/64", NULL});
        a1 = link_addresses("nicx");
        assert_strv_equal(a1, (const char *const[]){"10.0.2.10/24", "10.0.2.4/24", NULL});
        routes = default_routes();
        assert_strv_equal(routes, (const char *const[]){"nicx via 10.0.2.1 metric 200",
                                                        "nicy via 10.0.1.1 metric 100", NULL});
}

static void test_vf_twin_untouched(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_free_ char *vf_link = NULL, *vf_addr = NULL, *vf_link2 = NULL, *vf_addr2 = NULL;
        _cleanup_strv_free_ char **syn = NULL, **vf = NULL;

        /* The VF is created first (lower ifindex) so that picking "the first link with that MAC" would fail. */
        veth_add("vf0", MAC_A);
        veth_add("syn0", MAC_A);
        fake_driver(f->root, "vf0", "mlx5_core");
        fake_driver(f->root, "syn0", "hv_netvsc");
        vf_link = capture("ip -j link show dev vf0");
        vf_addr = capture("ip -j addr show dev vf0");

        assert_int_equal(apply(f, "single-nic.json", &res), 1);
        assert_int_equal(res.n_configured, 1);
        assert_int_equal(res.n_vfs, 1);
        syn = link_addresses("syn0");
        assert_strv_equal(syn, (const char *const[]){"10.0.1.4/24", NULL});
        vf = link_addresses("vf0");
        assert_null(vf);
        vf_link2 = capture("ip -j link show dev vf0");
        vf_addr2 = capture("ip -j addr show dev vf0");
        assert_string_equal(vf_link, vf_link2);
        assert_string_equal(vf_addr, vf_addr2);
        assert_false(link_is_up("vf0"));
}

static void test_vf_without_netvsc(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_free_ char *before = NULL, *after = NULL;
        _cleanup_strv_free_ char **syn = NULL;

        /* Only the VF is there (the synthetic NIC has not appeared yet): nothing is configured at all. */
        veth_add("vf0", MAC_A);
        fake_driver(f->root, "vf0", "mana");
        before = snapshot();
        assert_int_equal(apply(f, "single-nic.json", &res), 0);
        assert_int_equal(res.n_missing, 1);
        assert_int_equal(res.n_vfs, 1);
        assert_int_equal(res.n_changes, 0);
        after = snapshot();
        assert_string_equal(before, after);

        /* A twin without any device (no driver) next to a VF driver: the driverless one is the NIC. */
        veth_add("syn0", MAC_A);
        assert_int_equal(apply(f, "single-nic.json", &res), 1);
        assert_int_equal(res.n_vfs, 1);
        syn = link_addresses("syn0");
        assert_strv_equal(syn, (const char *const[]){"10.0.1.4/24", NULL});
        assert_null(link_addresses("vf0"));
}

static void test_ambiguous_twins(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res = {.n_changes = 12345};
        _cleanup_free_ char *before = NULL, *after = NULL;
        _cleanup_(network_config_done) NetworkConfig config = {};

        /* Two driverless links with the IMDS MAC and no way to tell them apart: refuse, touch nothing. */
        veth_add("a0", MAC_A);
        veth_add("a1", MAC_A);
        before = snapshot();
        load("single-nic.json", &config);
        assert_int_equal(network_apply(&f->ctx, &config, NETWORK_BACKEND_NETLINK, &res), -ENOTUNIQ);
        assert_int_equal(res.n_changes, 12345); /* ret untouched on failure */
        after = snapshot();
        assert_string_equal(before, after);
}

/* Applies doc in a fresh namespace with links A, B, C and returns addresses per link and the routes. */
static void apply_three(Fixture *f, const char *doc, char ***ret_a, char ***ret_b, char ***ret_c,
                        char ***ret_routes) {
        NetworkApplyResult res;

        veth_add("n1", MAC_C);
        veth_add("n2", MAC_A);
        veth_add("n3", MAC_B);
        assert_int_equal(apply(f, doc, &res), 1);
        assert_int_equal(res.n_configured, 3);
        *ret_a = link_addresses("n2");
        *ret_b = link_addresses("n3");
        *ret_c = link_addresses("n1");
        *ret_routes = default_routes();
}

static void test_shuffled_order(void **state) {
        Fixture *f = *state;
        _cleanup_strv_free_ char **a1 = NULL, **b1 = NULL, **c1 = NULL, **r1 = NULL;
        _cleanup_strv_free_ char **a2 = NULL, **b2 = NULL, **c2 = NULL, **r2 = NULL;

        apply_three(f, "three-nics.json", &a1, &b1, &c1, &r1);
        /* A second fresh namespace and state for the shuffled document. */
        teardown(state);
        setup(state);
        f = *state;
        apply_three(f, "three-nics-shuffled.json", &a2, &b2, &c2, &r2);

        assert_strv_equal(a2, (const char *const *) a1);
        assert_strv_equal(b2, (const char *const *) b1);
        assert_strv_equal(c2, (const char *const *) c1);
        assert_strv_equal(c1, (const char *const[]){"10.0.3.200/25", "10.0.3.4/25", "10.0.3.9/25", NULL});
        /* Same gateways on the same links; the metric follows the IMDS index (B and C swapped places). */
        assert_strv_equal(r1,
                          (const char *const[]){"n1 via 10.0.3.1 metric 300", "n2 via 10.0.1.1 metric 100",
                                                "n3 via 10.0.2.1 metric 200", NULL});
        assert_strv_equal(r2,
                          (const char *const[]){"n1 via 10.0.3.1 metric 200", "n2 via 10.0.1.1 metric 100",
                                                "n3 via 10.0.2.1 metric 300", NULL});
}

static void test_rerun_changes_nothing(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_free_ char *before = NULL, *after = NULL, *state1 = NULL, *state2 = NULL;

        veth_add("eth0", MAC_A);
        veth_add("eth1", MAC_B);
        assert_int_equal(apply(f, "two-nics.json", &res), 1);
        assert_true(res.n_changes > 0);
        before = snapshot();
        state1 = capture("cat %s/var/lib/azl-agent/network.json", f->root);

        assert_int_equal(apply(f, "two-nics.json", &res), 0);
        assert_int_equal(res.n_changes, 0);
        assert_int_equal(res.n_configured, 2);
        after = snapshot();
        assert_string_equal(before, after);
        state2 = capture("cat %s/var/lib/azl-agent/network.json", f->root);
        assert_string_equal(state1, state2);
}

#define DOC_A_ONLY_PRIMARY                                                                                  \
        "{\"interface\":[{\"macAddress\":\"000D3A3382E8\",\"ipv4\":{\"ipAddress\":[{\"privateIpAddress\":"  \
        "\"10.0.1.4\"}],\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":\"24\"}]}}]}"

static void test_foreign_addresses_survive(void **state) {
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_strv_free_ char **a = NULL, **b = NULL, **routes = NULL;
        _cleanup_(network_state_done) NetworkState st = {};

        veth_add("eth0", MAC_A);
        veth_add("eth1", MAC_B);
        /* Someone else configured 10.0.1.5 (which IMDS also lists) and 192.168.50.1 before us. */
        assert_int_equal(sh("ip addr add 10.0.1.5/24 dev eth0 && ip addr add 192.168.50.1/24 dev eth0"), 0);
        assert_int_equal(apply(f, "two-nics.json", &res), 1);
        /* And one more afterwards, on the second NIC. */
        assert_int_equal(sh("ip addr add 10.0.2.99/24 dev eth1"), 0);
        assert_int_equal(network_state_load(f->ctx.root_fd, f->ctx.config.state_dir, &st), 0);
        /* 6 of our 7 IMDS addresses + 2 routes are recorded as ours; 10.0.1.5 was already there. */
        assert_int_equal(st.n, 8);

        /* IMDS drops the secondary NIC and the secondary IPs: only what we added goes away. */
        assert_int_equal(apply(f, DOC_A_ONLY_PRIMARY, &res), 1);
        /* 10.0.1.6, fd00:1::4, fd00:1::5 on eth0; 10.0.2.4, 10.0.2.10 and the route on eth1 */
        assert_int_equal(res.n_changes, 6);
        a = link_addresses("eth0");
        assert_strv_equal(a, (const char *const[]){"10.0.1.4/24", "10.0.1.5/24", "192.168.50.1/24", NULL});
        b = link_addresses("eth1");
        assert_strv_equal(b, (const char *const[]){"10.0.2.99/24", NULL});
        routes = default_routes();
        assert_strv_equal(routes, (const char *const[]){"eth0 via 10.0.1.1 metric 100", NULL});
        network_state_done(&st);
        assert_int_equal(network_state_load(f->ctx.root_fd, f->ctx.config.state_dir, &st), 0);
        assert_int_equal(st.n, 2);
}

static void test_bad_primary_changes_nothing(void **state) {
        static const char bad[] =
                "{\"network\":{\"interface\":[{\"macAddress\":\"000D3A3382E\",\"ipv4\":{\"ipAddress\":"
                "[{\"privateIpAddress\":\"10.0.1.4\"}],\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":"
                "\"24\"}]}},"
                "{\"macAddress\":\"000D3A0A0B0C\",\"ipv4\":{\"ipAddress\":[{\"privateIpAddress\":\"10.0.2."
                "4\"}],"
                "\"subnet\":[{\"address\":\"10.0.2.0\",\"prefix\":\"24\"}]}}]}}";
        Fixture *f = *state;
        _cleanup_free_ char *before = NULL, *after = NULL;
        NetworkConfig config;
        JsonError err = {};

        veth_add("eth0", MAC_A);
        veth_add("eth1", MAC_B);
        before = snapshot();
        /* interface[1] is fine, the primary is not: nothing can stand in for it, nothing is applied. */
        assert_int_equal(network_parse_imds_buffer(bad, strlen(bad), &config, &err), -EBADMSG);
        assert_string_equal(err.field, "network.interface[0].macAddress");
        after = snapshot();
        assert_string_equal(before, after);
        assert_int_equal(access_in_root(f->ctx.root_fd, "/var/lib/azl-agent/network.json"), -ENOENT);
}

/* Two NICs sharing a MAC, a secondary IP outside its subnet, a bad MTU: the valid parts are configured. */
static void test_partial_imds_configures_the_rest(void **state) {
        static const char doc[] = "{\"interface\":["
                                  "{\"macAddress\":\"000D3A3382E8\",\"ipv4\":{\"ipAddress\":[{"
                                  "\"privateIpAddress\":\"10.0.1.4\"},"
                                  "{\"privateIpAddress\":\"10.0.1.5\"},{\"privateIpAddress\":\"10.0.9.9\"}],"
                                  "\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":\"24\"}]}},"
                                  "{\"macAddress\":\"00:0d:3a:33:82:e8\",\"ipv4\":{\"ipAddress\":[{"
                                  "\"privateIpAddress\":\"10.0.3.4\"}],"
                                  "\"subnet\":[{\"address\":\"10.0.3.0\",\"prefix\":\"24\"}]}},"
                                  "{\"macAddress\":\"000D3A0A0B0C\",\"mtu\":12,\"ipv4\":{\"ipAddress\":"
                                  "[{\"privateIpAddress\":\"10.0.2.4\"}],\"subnet\":[{\"address\":\"10.0.2."
                                  "0\",\"prefix\":\"24\"}]}}]}";
        _cleanup_(network_config_done) NetworkConfig config = {};
        _cleanup_strv_free_ char **a0 = NULL, **a1 = NULL, **routes = NULL;
        Fixture *f = *state;
        NetworkApplyResult res = {};
        JsonError err = {};

        veth_add("eth0", MAC_A);
        veth_add("eth1", MAC_B);
        assert_int_equal(network_parse_imds_buffer(doc, strlen(doc), &config, &err), 0);
        assert_int_equal(config.n_interfaces, 2);
        assert_int_equal(config.n_skipped, 3);
        assert_string_equal(config.skipped[0].item, "network.interface[0].ipv4.ipAddress[2]");
        assert_string_equal(config.skipped[1].item, "network.interface[1]");
        assert_non_null(strstr(config.skipped[1].reason, "also the MAC of network.interface[0]"));
        assert_string_equal(config.skipped[2].item, "network.interface[2].mtu");

        assert_int_equal(network_apply(&f->ctx, &config, NETWORK_BACKEND_NETLINK, &res), 1);
        assert_int_equal(res.n_configured, 2);
        a0 = link_addresses("eth0");
        assert_strv_equal(a0, (const char *const[]){"10.0.1.4/24", "10.0.1.5/24", NULL});
        a1 = link_addresses("eth1");
        assert_strv_equal(a1, (const char *const[]){"10.0.2.4/24", NULL});
        routes = default_routes();
        assert_strv_equal(routes, (const char *const[]){"eth0 via 10.0.1.1 metric 100",
                                                        "eth1 via 10.0.2.1 metric 300", NULL});
        /* The bad MTU was not applied: the veth keeps its default. */
        assert_int_equal(sh("ip -o link show dev eth1 | grep -q \" mtu 1500 \""), 0);
}

static void test_mtu_and_missing_nic(void **state) {
        static const char doc[] =
                "{\"interface\":[{\"macAddress\":\"000D3A3382E8\",\"mtu\":1400,\"ipv4\":{\"ipAddress\":"
                "[{\"privateIpAddress\":\"10.0.1.4\"}],\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":"
                "\"24\"}]}},"
                "{\"macAddress\":\"000D3A0A0B0C\"}]}";
        Fixture *f = *state;
        NetworkApplyResult res;
        _cleanup_(json_object_putp) struct json_object *j = NULL;

        veth_add("eth0", MAC_A);
        assert_int_equal(apply(f, doc, &res), 1);
        assert_int_equal(res.n_missing, 1);
        assert_int_equal(res.n_configured, 1);
        j = ip_json("link show dev eth0");
        assert_int_equal(json_object_get_int(json_get(json_object_array_get_idx(j, 0), "mtu", false)), 1400);
        assert_int_equal(apply(f, doc, &res), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_single_nic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_two_nics_secondary_ips, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vf_twin_untouched, setup, teardown),
                cmocka_unit_test_setup_teardown(test_vf_without_netvsc, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ambiguous_twins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_shuffled_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rerun_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_foreign_addresses_survive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_primary_changes_nothing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_partial_imds_configures_the_rest, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mtu_and_missing_nic, setup, teardown),
        };

        /* Skip early (exit 77) rather than per test when namespaces are impossible. */
        require_root_or_skip("network namespaces");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
