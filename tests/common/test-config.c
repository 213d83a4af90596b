/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "config.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "tests.h"

static char captured[8192];

static void capture(int level, const char *msg, void *userdata) {
        strncat(captured, msg, sizeof captured - strlen(captured) - 2);
        strcat(captured, "\n");
}

static void test_defaults(void **state) {
        Config c;

        assert_int_equal(config_init(&c), 0);
        assert_string_equal(c.imds_url, "http://169.254.169.254");
        assert_null(c.wireserver);
        assert_int_equal(c.hostgaplugin_port, 32526);
        assert_true(c.imds_deadline == 300 * USEC_PER_SEC);
        assert_true(c.health_deadline == 1200 * USEC_PER_SEC);
        assert_string_equal(c.admin_groups[0], "wheel");
        assert_false(c.endpoints_configured);
        assert_true(c.firewall);
        assert_null(c.firewall_allow_units);
        config_done(&c);
}

static void test_unknown_key_warns_bad_value_errors(void **state) {
        static const char conf[] = "# comment\n"
                                   "[Endpoints]\n"
                                   "IMDS=http://127.0.0.1:8080\n"
                                   "\n"
                                   "Frobnicate=yes\n"
                                   "[Timeouts]\n"
                                   "IMDSDeadlineSec=soon\n"
                                   "HTTPTimeoutSec=5s\n";
        Config c;

        captured[0] = 0;
        log_set_capture(capture, NULL);
        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_parse_buffer(&c, "/etc/azl-agent/agent.conf", conf, strlen(conf)), -EINVAL);
        log_set_capture(NULL, NULL);

        assert_non_null(strstr(captured, "/etc/azl-agent/agent.conf:5: unknown key 'Frobnicate'"));
        assert_non_null(strstr(
                captured, "/etc/azl-agent/agent.conf:7: invalid value 'soon' for Timeouts.IMDSDeadlineSec"));
        /* Good values around the bad ones still apply, and the bad one keeps its default. */
        assert_string_equal(c.imds_url, "http://127.0.0.1:8080");
        assert_true(c.endpoints_configured);
        assert_true(c.http_timeout == 5 * USEC_PER_SEC);
        assert_true(c.imds_deadline == 300 * USEC_PER_SEC);
        config_done(&c);
}

static void test_values(void **state) {
        static const char conf[] =
                "[Agent]\nLogLevel=debug\nExtensions=no\n"
                "[Endpoints]\nWireServer=127.0.0.2:8081\nHostGAPluginPort=18526\n"
                "[Provisioning]\nAdminGroups=wheel, adm\n"
                "[Network]\nBackend=netlink\n"
                "[Disks]\nResourceDiskFilesystem=xfs\nSwapSizeMiB=2048\n"
                "[Extensions]\nSignatureValidation=enforce\nCPUQuotaPercent=50%\n"
                "[Timeouts]\nGoalStatePeriodSec=2min\n"
                "[Firewall]\nEnable=no\n"
                "AllowUnits=monitor.service /system.slice/x@1.service,a.slice/b-c.scope\n";
        Config c;

        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_parse_buffer(&c, "t", conf, strlen(conf)), 0);
        assert_int_equal(c.log_level, LOG_DEBUG);
        assert_false(c.extensions);
        assert_string_equal(c.wireserver, "127.0.0.2:8081");
        assert_int_equal(c.hostgaplugin_port, 18526);
        assert_int_equal(strv_length(c.admin_groups), 2);
        assert_int_equal(c.network_backend, NETWORK_BACKEND_NETLINK);
        assert_string_equal(c.resource_disk_filesystem, "xfs");
        assert_true(c.swap_size_mib == 2048);
        assert_int_equal(c.signature_mode, SIGNATURE_MODE_ENFORCE);
        assert_int_equal(c.cpu_quota_percent, 50);
        assert_true(c.goal_state_period == 120 * USEC_PER_SEC);
        assert_false(c.firewall);
        assert_int_equal(strv_length(c.firewall_allow_units), 3);
        assert_string_equal(c.firewall_allow_units[1], "/system.slice/x@1.service");
        config_done(&c);
}

static void test_invalid_values(void **state) {
        static const char *const bad[] = {
                "[Endpoints]\nIMDS=ftp://x\n",
                "[Endpoints]\nWireServer=http://x/\n",
                "[Endpoints]\nHostGAPluginPort=0\n",
                "[Endpoints]\nHostGAPluginPort=70000\n",
                "[Network]\nBackend=magic\n",
                "[Disks]\nResourceDiskFilesystem=ntfs\n",
                "[Disks]\nResourceDiskMountPoint=mnt\n",
                "[Agent]\nProvisioning=perhaps\n",
                "Key=Value\n",
                "[Agent\n",
                "[Agent]\nno equals sign\n",
                "[Agent]\nStateDirectory=/var/../etc\n",
                /* AllowUnits= ends up quoted in an nftables rule: only unit-name characters, no dot components */
                "[Firewall]\nAllowUnits=foo\n",
                "[Firewall]\nAllowUnits=a\"b.service\n",
                "[Firewall]\nAllowUnits=../x.service\n",
                "[Firewall]\nAllowUnits=a//b.service\n",
                "[Firewall]\nAllowUnits=a/./b\n",
                "[Firewall]\nAllowUnits=a\\x2db.service\n",
                "[Firewall]\nAllowUnits=a.slice/\n",
                "[Firewall]\nEnable=maybe\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Config c;

                assert_int_equal(config_init(&c), 0);
                log_set_max_level(LOG_EMERG - 1);
                assert_int_equal(config_parse_buffer(&c, "t", bad[i], strlen(bad[i])), -EINVAL);
                log_set_max_level(LOG_INFO);
                config_done(&c);
        }
}

static void test_chain_order(void **state) {
        char *dir = tmpdir_new();
        int root;
        Config c;

        write_test_file(dir, "usr/lib/azl-agent/agent.conf",
                        "[Endpoints]\nHostGAPluginPort=1001\n[Agent]\nKVP=no\n");
        write_test_file(dir, "etc/azl-agent/agent.conf", "[Endpoints]\nHostGAPluginPort=1002\n");
        write_test_file(dir, "etc/azl-agent/agent.conf.d/20-b.conf", "[Endpoints]\nHostGAPluginPort=1004\n");
        write_test_file(dir, "etc/azl-agent/agent.conf.d/10-a.conf", "[Endpoints]\nHostGAPluginPort=1003\n");
        write_test_file(dir, "etc/azl-agent/agent.conf.d/30-c.conf.disabled",
                        "[Endpoints]\nHostGAPluginPort=9\n");

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(config_init(&c), 0);
        assert_int_equal(config_load(&c, root, NULL), 0);
        assert_int_equal(c.hostgaplugin_port, 1004);
        assert_false(c.kvp);
        config_done(&c);
        close(root);
        tmpdir_remove(dir);
}

static void test_dump_roundtrip(void **state) {
        Config a, b;
        char *s;

        assert_int_equal(config_init(&a), 0);
        assert_int_equal(config_parse_buffer(&a, "t", "[Endpoints]\nWireServer=10.1.2.3\n", 31), 0);
        assert_int_equal(config_dump(&a, &s), 0);
        assert_int_equal(config_init(&b), 0);
        assert_int_equal(config_parse_buffer(&b, "dump", s, strlen(s)), 0);
        assert_string_equal(b.wireserver, "10.1.2.3");
        assert_true(b.imds_deadline == a.imds_deadline);
        free(s);
        config_done(&a);
        config_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),
                cmocka_unit_test(test_unknown_key_warns_bad_value_errors),
                cmocka_unit_test(test_values),
                cmocka_unit_test(test_invalid_values),
                cmocka_unit_test(test_chain_order),
                cmocka_unit_test(test_dump_roundtrip),
        };
        log_setup("test-config", LOG_TARGET_NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
