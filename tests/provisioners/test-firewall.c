/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of the WireServer guard (provisioners/firewall.h): which endpoint addresses are guarded, the
 * status file's round trip, and how an AllowUnits= entry finds its cgroup (a unit name beneath the slices only,
 * a path as given; nothing that could carry nftables syntax). The table itself is tested in a network
 * namespace by tests/firewall/test_firewall.py. The warm-up (the table's transaction, checked by the kernel and
 * not committed) in a network namespace of this test's own: it succeeds and leaves the ruleset empty.
 */
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "firewall.h"
#include "macro.h"
#include "tests.h"

static void test_address(void **state) {
        struct in_addr a;

        assert_int_equal(firewall_address_from_endpoint("168.63.129.16", &a), 0);
        assert_int_equal(ntohl(a.s_addr), 0xa83f8110);
        assert_int_equal(firewall_address_from_endpoint("168.63.129.16:80", &a), 0);
        assert_int_equal(ntohl(a.s_addr), 0xa83f8110);
        assert_int_equal(firewall_address_from_endpoint("10.0.0.4", &a), 0);
        /* Test fabrics: nothing to guard (and guarding them would block unrelated local services). */
        assert_int_equal(firewall_address_from_endpoint("127.0.0.1:36751", &a), -EADDRNOTAVAIL);
        assert_int_equal(firewall_address_from_endpoint("127.1.2.3", &a), -EADDRNOTAVAIL);
        assert_int_equal(firewall_address_from_endpoint("[::1]:80", &a), -EAFNOSUPPORT);
        assert_int_equal(firewall_address_from_endpoint("wireserver.example", &a), -EAFNOSUPPORT);
        assert_int_equal(firewall_address_from_endpoint("168.63.129", &a), -EAFNOSUPPORT);
        assert_int_equal(firewall_address_from_endpoint("", &a), -EINVAL);
}

static void test_status_roundtrip(void **state) {
        _cleanup_(firewall_status_done) FirewallStatus s = {}, back = {};
        char *dir = tmpdir_new();
        int root_fd;

        assert_int_equal(root_open(dir, &root_fd), 0);
        assert_int_equal(firewall_status_set(&s, FIREWALL_FAILED, "Could not process rule: %s",
                                             "Operation not permitted"),
                         0);
        assert_int_equal(firewall_status_save(root_fd, "/var/lib/azl-agent", &s), 0);
        assert_int_equal(firewall_status_load(root_fd, "/var/lib/azl-agent", &back), 0);
        assert_int_equal(back.state, FIREWALL_FAILED);
        assert_string_equal(back.detail, "Could not process rule: Operation not permitted");
        assert_int_equal(firewall_status_from_json("{\"state\":\"on fire\"}", 20, &back), -EBADMSG);
        assert_int_equal(firewall_status_from_json("[]", 2, &back), -EBADMSG);
        for (FirewallState i = 0; i < _FIREWALL_STATE_MAX; i++)
                assert_int_equal(firewall_state_from_string(firewall_state_to_string(i)), i);
        close(root_fd);
        tmpdir_remove(dir);
}

static void test_resolve_unit(void **state) {
        char *dir = tmpdir_new(), *p = NULL;

        /* A systemd-like tree; the unit inside a scope (a container's own tree) must not be found. */
        write_test_file(dir, "system.slice/azl-agent.service/cgroup.procs", "");
        write_test_file(dir, "azure.slice/azure-vmextensions.slice/azure-vmextensions-X.slice/run.scope/x",
                        "");
        write_test_file(dir, "system.slice/docker-1.scope/system.slice/inner.service/cgroup.procs", "");
        assert_int_equal(firewall_resolve_unit(dir, "azl-agent.service", &p), 0);
        assert_string_equal(p, "system.slice/azl-agent.service");
        free(p);
        assert_int_equal(firewall_resolve_unit(dir, "azure-vmextensions-X.slice", &p), 0);
        assert_string_equal(p, "azure.slice/azure-vmextensions.slice/azure-vmextensions-X.slice");
        free(p);
        assert_int_equal(firewall_resolve_unit(dir, "inner.service", &p), -ENOENT);
        assert_int_equal(firewall_resolve_unit(dir, "gone.service", &p), -ENOENT);
        /* Paths as given, a leading '/' dropped; only existing directories. */
        assert_int_equal(firewall_resolve_unit(dir, "/system.slice/azl-agent.service", &p), 0);
        assert_string_equal(p, "system.slice/azl-agent.service");
        free(p);
        assert_int_equal(firewall_resolve_unit(dir, "system.slice/azl-agent.service/cgroup.procs", &p),
                         -ENOTDIR);
        /* What could break out of the quoted nftables string or the cgroup tree is refused before any lookup. */
        assert_int_equal(firewall_resolve_unit(dir, "system.slice/../x", &p), -EINVAL);
        assert_int_equal(firewall_resolve_unit(dir, "a\" accept #.service", &p), -EINVAL);
        assert_int_equal(firewall_resolve_unit(dir, "a\\x2db.service", &p), -EINVAL);
        tmpdir_remove(dir);
}

/* Last: it moves the process into a network namespace of its own. */
static void test_warm_up(void **state) {
        struct in_addr a;
        char line[256];
        size_t n = 0;
        FILE *f;

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0 || system("command -v nft >/dev/null") != 0) {
                print_message("skipped: needs root (a network namespace of its own) and nft(8)\n");
                skip();
        }
        assert_int_equal(firewall_address_from_endpoint("168.63.129.16", &a), 0);
        assert_int_equal(firewall_warm_up(a), 0);
        /* checked, not committed: no table in the namespace */
        f = popen("nft list ruleset", "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f))
                n += strlen(line);
        assert_int_equal(pclose(f), 0);
        assert_int_equal(n, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_address),
                cmocka_unit_test(test_status_roundtrip),
                cmocka_unit_test(test_resolve_unit),
                cmocka_unit_test(test_warm_up),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
