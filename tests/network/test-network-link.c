/* SPDX-License-Identifier: MIT */
/*
 * Unit tests (no root) of link classification and of the ownership record: drivers read from a fake sysfs
 * tree under a scratch root, the VF/synthetic picking rules over plain link tables, and network.json
 * round-trips and rejects malformed records.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "network-internal.h"
#include "network.h"
#include "tests.h"

static void test_driver_from_fake_sysfs(void **state) {
        char *root = tmpdir_new();
        _cleanup_close_ int root_fd = -EBADF;
        _cleanup_free_ char *drv = NULL, *p = NULL, *escape = NULL;

        assert_int_equal(root_open(root, &root_fd), 0);
        assert_int_equal(mkdir_p_in_root(root_fd, "/sys/class/net/eth0/device", 0755), 0);
        assert_true(asprintf(&p, "%s/sys/class/net/eth0/device/driver", root) > 0);
        assert_int_equal(symlink("../../../../bus/vmbus/drivers/hv_netvsc", p), 0);
        assert_int_equal(network_link_driver(root_fd, "eth0", &drv), 0);
        assert_string_equal(drv, "hv_netvsc");
        assert_true(network_driver_is_vf("mlx5_core"));
        assert_true(network_driver_is_vf("mana"));
        assert_false(network_driver_is_vf("hv_netvsc"));
        assert_false(network_driver_is_vf(NULL));

        /* No device directory (veth, bridge): no driver. Names cannot walk out of /sys/class/net. */
        free(TAKE_PTR(drv));
        assert_int_equal(network_link_driver(root_fd, "veth9", &drv), -ENOENT);
        assert_int_equal(mkdir_p_in_root(root_fd, "/sys/class/net/nodrv/device", 0755), 0);
        assert_int_equal(network_link_driver(root_fd, "nodrv", &drv), -ENOENT);
        assert_int_equal(network_link_driver(root_fd, "../../x", &drv), -EINVAL);
        assert_int_equal(network_link_driver(root_fd, "..", &drv), -EINVAL);
        assert_int_equal(network_link_driver(root_fd, "", &drv), -EINVAL);
        assert_null(drv);

        /* A device symlink pointing outside the root stays inside it (RESOLVE_IN_ROOT). */
        assert_true(asprintf(&escape, "%s/sys/class/net/esc", root) > 0);
        assert_int_equal(symlink("/../../../../sys/class/net/lo", escape), 0);
        assert_int_equal(network_link_driver(root_fd, "esc", &drv), -ENOENT);
        tmpdir_remove(root);
}

static NetworkLink mk(int ifindex, const char *mac_last, const char *driver) {
        NetworkLink l = {
                .link = {.ifindex = ifindex, .has_mac = true, .mac = {0x00, 0x0d, 0x3a, 0x33, 0x82}}};

        l.link.mac[5] = (uint8_t) strtoul(mac_last, NULL, 16);
        l.driver = (char *) driver;
        return l;
}

static void test_pick_rules(void **state) {
        NetworkInterface iface = {.mac = {0x00, 0x0d, 0x3a, 0x33, 0x82, 0xe8}};
        size_t idx = 999;
        unsigned vfs = 99;

        {
                /* VF first, hv_netvsc second: the hv_netvsc link, one VF. */
                NetworkLink l[] = {mk(1, "e8", "mlx5_core"), mk(2, "e8", "hv_netvsc"),
                                   mk(3, "e9", "hv_netvsc")};

                assert_int_equal(network_link_pick(&iface, l, ELEMENTSOF(l), &idx, &vfs), 0);
                assert_int_equal(idx, 1);
                assert_int_equal(vfs, 1);
        }
        {
                /* With hv_netvsc present any other twin (e.g. a bridge that took the MAC) is left alone. */
                NetworkLink l[] = {mk(1, "e8", NULL), mk(2, "e8", "hv_netvsc")};

                assert_int_equal(network_link_pick(&iface, l, ELEMENTSOF(l), &idx, &vfs), 0);
                assert_int_equal(idx, 1);
                assert_int_equal(vfs, 1);
        }
        {
                /* Only the VF: nothing to configure. */
                NetworkLink l[] = {mk(1, "e8", "mana")};

                idx = 999;
                assert_int_equal(network_link_pick(&iface, l, ELEMENTSOF(l), &idx, &vfs), -ENODEV);
                assert_int_equal(idx, 999);
                assert_int_equal(vfs, 1);
        }
        {
                /* No device vs VF driver: the driverless link. Two driverless: ambiguous. */
                NetworkLink l[] = {mk(1, "e8", "mlx4_core"), mk(2, "e8", NULL)};
                NetworkLink m[] = {mk(1, "e8", NULL), mk(2, "e8", NULL)};
                NetworkLink n[] = {mk(1, "e8", "hv_netvsc"), mk(2, "e8", "hv_netvsc")};

                assert_int_equal(network_link_pick(&iface, l, ELEMENTSOF(l), &idx, &vfs), 0);
                assert_int_equal(idx, 1);
                assert_int_equal(network_link_pick(&iface, m, ELEMENTSOF(m), &idx, &vfs), -ENOTUNIQ);
                assert_int_equal(network_link_pick(&iface, n, ELEMENTSOF(n), &idx, &vfs), -ENOTUNIQ);
        }
        {
                /* Loopback and links without a MAC never match; no link at all: -ENODEV. */
                NetworkLink l[] = {mk(1, "e8", NULL), mk(2, "e8", NULL)};

                l[0].link.flags = IFF_LOOPBACK;
                l[1].link.has_mac = false;
                assert_int_equal(network_link_pick(&iface, l, ELEMENTSOF(l), &idx, &vfs), -ENODEV);
                assert_int_equal(vfs, 0);
                assert_int_equal(network_link_pick(&iface, NULL, 0, &idx, NULL), -ENODEV);
        }
}

static void test_state_roundtrip(void **state) {
        _cleanup_(network_state_done) NetworkState s = {}, t = {};
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        NetworkOwned a = {.mac = {0, 0x0d, 0x3a, 1, 2, 3}}, r = a;
        char *root = tmpdir_new();
        _cleanup_close_ int root_fd = -EBADF;

        assert_int_equal(network_address_parse("10.0.1.5/24", &a.address), 0);
        assert_int_equal(network_state_add(&s, &a), 0);
        assert_int_equal(network_address_parse("fd00:1::5/64", &a.address), 0);
        assert_int_equal(network_state_add(&s, &a), 0);
        assert_int_equal(network_state_add(&s, &a), 0); /* duplicates are ignored */
        r.is_route = true;
        assert_int_equal(network_address_parse("0.0.0.0/0", &r.address), 0);
        assert_int_equal(network_address_parse("10.0.1.1", &r.gateway), 0);
        r.metric = 100;
        assert_int_equal(network_state_add(&s, &r), 0);
        assert_int_equal(s.n, 3);

        assert_int_equal(network_state_format(&s, &text), 0);
        assert_non_null(strstr(text, "\"address\": \"fd00:1::5/64\""));
        assert_non_null(strstr(text, "\"gateway\": \"10.0.1.1\""));
        assert_int_equal(network_state_parse(text, strlen(text), &t), 0);
        assert_int_equal(t.n, 3);
        for (size_t i = 0; i < s.n; i++)
                assert_true(network_state_contains(&t, &s.entries[i]));
        assert_int_equal(network_state_format(&t, &text2), 0);
        assert_string_equal(text, text2);

        /* Saving twice writes once; loading what was saved gives the same set. */
        assert_int_equal(root_open(root, &root_fd), 0);
        assert_int_equal(network_state_save(root_fd, "/var/lib/azl-agent", &s), 1);
        assert_int_equal(network_state_save(root_fd, "/var/lib/azl-agent", &s), 0);
        network_state_done(&t);
        assert_int_equal(network_state_load(root_fd, "/var/lib/azl-agent", &t), 0);
        assert_int_equal(t.n, 3);
        network_state_done(&t);
        assert_int_equal(network_state_load(root_fd, "/nonexistent", &t), 0);
        assert_int_equal(t.n, 0);
        tmpdir_remove(root);
}

static void test_state_rejects(void **state) {
        static const char *const bad[] = {
                "[]",
                "{\"addresses\":{}}",
                "{\"addresses\":[{\"mac\":\"00:0d:3a:01:02:03\"}]}",
                "{\"addresses\":[{\"mac\":\"00:0d:3a:01:02\",\"address\":\"10.0.0.1/24\"}]}",
                "{\"addresses\":[{\"mac\":\"00:0d:3a:01:02:03\",\"address\":\"10.0.0.1/33\"}]}",
                "{\"routes\":[{\"mac\":\"00:0d:3a:01:02:03\",\"destination\":\"0.0.0.0/0\"}]}",
                "{\"routes\":[{\"mac\":\"00:0d:3a:01:02:03\",\"destination\":\"0.0.0.0/0\",\"metric\":1,"
                "\"gateway\":\"x\"}]}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                NetworkState s = {.n = 4242};

                if (network_state_parse(bad[i], strlen(bad[i]), &s) != -EBADMSG)
                        fail_msg("accepted: %s", bad[i]);
                assert_int_equal(s.n, 4242);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_driver_from_fake_sysfs),
                cmocka_unit_test(test_pick_rules),
                cmocka_unit_test(test_state_roundtrip),
                cmocka_unit_test(test_state_rejects),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
