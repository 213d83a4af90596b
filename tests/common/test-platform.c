/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "fileio.h"
#include "macro.h"
#include "platform.h"
#include "tests.h"

static void detect(const char *dir, char *const *env, PlatformInfo *ret) {
        _cleanup_close_ int root = -EBADF;

        assert_int_equal(root_open(dir, &root), 0);
        assert_int_equal(platform_detect(root, env, ret), 0);
}

static void test_not_azure(void **state) {
        char *dir = tmpdir_new();
        PlatformInfo p;

        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_NONE);
        assert_non_null(strstr(p.reason, "no DMI chassis asset tag"));

        write_test_file(dir, "sys/class/dmi/id/chassis_asset_tag", "No Asset Tag\n");
        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_NONE);
        assert_non_null(strstr(p.reason, "'No Asset Tag'"));
        tmpdir_remove(dir);
}

static void test_azure_gen1_byte_swap(void **state) {
        char *dir = tmpdir_new();
        PlatformInfo p;

        write_test_file(dir, "sys/class/dmi/id/chassis_asset_tag", AZURE_CHASSIS_ASSET_TAG "\n");
        /* DMI product_uuid as the firmware stores it; IMDS reports the swapped form on Gen1. */
        write_test_file(dir, "sys/class/dmi/id/product_uuid", "A6D4E2D5-7E61-4A33-9C1E-0123456789AB\n");
        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_AZURE);
        assert_false(p.generation2);
        assert_string_equal(p.vm_id, "d5e2d4a6-617e-334a-9c1e-0123456789ab");
        tmpdir_remove(dir);
}

static void test_azure_gen2_no_swap(void **state) {
        char *dir = tmpdir_new();
        PlatformInfo p;

        write_test_file(dir, "sys/class/dmi/id/chassis_asset_tag", AZURE_CHASSIS_ASSET_TAG);
        write_test_file(dir, "sys/class/dmi/id/product_uuid", "A6D4E2D5-7E61-4A33-9C1E-0123456789AB");
        write_test_file(dir, "sys/firmware/efi/runtime", "");
        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_AZURE);
        assert_true(p.generation2);
        assert_string_equal(p.vm_id, "a6d4e2d5-7e61-4a33-9c1e-0123456789ab");
        tmpdir_remove(dir);
}

static void test_swap_roundtrip(void **state) {
        char u[37] = "00112233-4455-6677-8899-aabbccddeeff";

        assert_int_equal(vm_id_swap_gen1(u), 0);
        assert_string_equal(u, "33221100-5544-7766-8899-aabbccddeeff");
        assert_int_equal(vm_id_swap_gen1(u), 0);
        assert_string_equal(u, "00112233-4455-6677-8899-aabbccddeeff");
}

static void test_wsl(void **state) {
        char *dir = tmpdir_new(), *env[] = {(char *) "WSL_INTEROP=/run/WSL/1_interop", NULL};
        PlatformInfo p;

        write_test_file(dir, "proc/sys/kernel/osrelease", "5.15.167.4-microsoft-standard-WSL2\n");
        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_WSL);
        tmpdir_remove(dir);

        dir = tmpdir_new();
        detect(dir, env, &p);
        assert_int_equal(p.platform, PLATFORM_WSL);
        assert_non_null(strstr(p.reason, "WSL_INTEROP"));
        tmpdir_remove(dir);
}

static void test_container_host(void **state) {
        char *dir = tmpdir_new();
        PlatformInfo p;

        write_test_file(dir, "proc/self/mountinfo",
                        "22 1 8:3 / / rw,relatime shared:1 - ext4 /dev/sda3 rw\n"
                        "23 22 8:4 / /usr ro,relatime shared:2 - erofs /dev/sda4 ro\n");
        detect(dir, NULL, &p);
        assert_true(p.container_host);
        assert_string_equal(p.container_reason, "/usr is mounted read-only");
        tmpdir_remove(dir);

        dir = tmpdir_new();
        write_test_file(dir, "proc/self/mountinfo", "22 1 8:3 / / rw,relatime - ext4 /dev/sda3 rw\n");
        write_test_file(dir, "etc/os-release", "NAME=Flatcar\nID=flatcar\n");
        detect(dir, NULL, &p);
        assert_true(p.container_host);
        tmpdir_remove(dir);

        dir = tmpdir_new();
        write_test_file(dir, "etc/os-release", "NAME=Debian\nID=debian\n");
        detect(dir, NULL, &p);
        assert_false(p.container_host);
        tmpdir_remove(dir);
}

/* The guest's own view of a TEE, from files beneath the root (a fake tree here). */
static void test_confidential_guest(void **state) {
        static const char cpuinfo_fmt[] =
                "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu vme %s\n"
                "bogomips\t: 4890.85\n\nprocessor\t: 1\nflags\t\t: fpu\n";
        char cpuinfo[512], *dir = tmpdir_new();
        PlatformInfo p;

        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_NONE);
        assert_non_null(strstr(p.confidential_evidence, "no /dev/sev-guest"));

        /* A host CPU that supports SNP shows sev_snp too: without "hypervisor" it is not a guest. */
        (void) snprintf(cpuinfo, sizeof cpuinfo, cpuinfo_fmt, "sev sev_es sev_snp");
        write_test_file(dir, "proc/cpuinfo", cpuinfo);
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_NONE);

        (void) snprintf(cpuinfo, sizeof cpuinfo, cpuinfo_fmt, "hypervisor sev sev_es");
        write_test_file(dir, "proc/cpuinfo", cpuinfo);
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_SEV);
        assert_string_equal(p.confidential_evidence, "CPU flag sev_es");

        (void) snprintf(cpuinfo, sizeof cpuinfo, cpuinfo_fmt, "hypervisor sev sev_es sev_snp");
        write_test_file(dir, "proc/cpuinfo", cpuinfo);
        write_test_file(dir, "dev/sev-guest", "");
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_SEV_SNP);
        assert_string_equal(p.confidential_evidence, "CPU flag sev_es, /dev/sev-guest, CPU flag sev_snp");
        assert_string_equal(confidential_tech_to_string(p.confidential), "sev-snp");
        tmpdir_remove(dir);

        /* Only the second processor has the flag: the first processor's line is the one read. A prefix match
         * ("sev_snpx") is no flag. */
        dir = tmpdir_new();
        write_test_file(dir, "proc/cpuinfo",
                        "processor\t: 0\nflags\t\t: hypervisor sev_snpx\n\n"
                        "processor\t: 1\nflags\t\t: hypervisor sev_snp\n");
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_NONE);
        tmpdir_remove(dir);

        dir = tmpdir_new();
        write_test_file(dir, "sys/kernel/config/tsm/report/.keep", "");
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_TSM);
        assert_string_equal(p.confidential_evidence, "/sys/kernel/config/tsm/report");
        (void) snprintf(cpuinfo, sizeof cpuinfo, cpuinfo_fmt, "tdx_guest");
        write_test_file(dir, "proc/cpuinfo", cpuinfo);
        write_test_file(dir, "dev/tdx_guest", "");
        detect(dir, NULL, &p);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_TDX);
        assert_string_equal(p.confidential_evidence,
                            "/sys/kernel/config/tsm/report, /dev/tdx_guest, CPU flag tdx_guest");
        tmpdir_remove(dir);

        /* Seen on WSL and off Azure alike: the guest view does not depend on the platform. */
        dir = tmpdir_new();
        write_test_file(dir, "proc/sys/kernel/osrelease", "5.15.167.4-microsoft-standard-WSL2\n");
        write_test_file(dir, "dev/sev-guest", "");
        detect(dir, NULL, &p);
        assert_int_equal(p.platform, PLATFORM_WSL);
        assert_int_equal(p.confidential, CONFIDENTIAL_TECH_SEV_SNP);
        tmpdir_remove(dir);
}

static void test_endpoint_policy(void **state) {
        _cleanup_error_ Error reason = ERROR_NULL;
        char *dir = tmpdir_new();
        Context c;

        assert_int_equal(context_init(&c, dir, NULL), 0);
        assert_int_equal(platform_detect(c.root_fd, NULL, &c.platform), 0);
        assert_int_equal(context_endpoints_allowed(&c, &reason), -EHOSTUNREACH);
        assert_non_null(strstr(reason.reason, "not running on Azure"));

        c.config.endpoints_configured = true;
        assert_int_equal(context_endpoints_allowed(&c, NULL), 0);

        c.platform.platform = PLATFORM_WSL; /* even with explicit endpoints: never on WSL */
        assert_int_equal(context_endpoints_allowed(&c, NULL), -EHOSTUNREACH);

        c.config.endpoints_configured = false;
        c.platform.platform = PLATFORM_AZURE;
        assert_int_equal(context_endpoints_allowed(&c, NULL), 0);
        context_done(&c);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_not_azure),
                cmocka_unit_test(test_azure_gen1_byte_swap),
                cmocka_unit_test(test_azure_gen2_no_swap),
                cmocka_unit_test(test_swap_roundtrip),
                cmocka_unit_test(test_wsl),
                cmocka_unit_test(test_container_host),
                cmocka_unit_test(test_endpoint_policy),
                cmocka_unit_test(test_confidential_guest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
