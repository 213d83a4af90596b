/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the networkd backend against a scratch root: the rendered files must equal, byte for byte,
 * the files committed under tests/network/expected/<scenario>/ (regenerate them with
 * AZL_NETWORK_REGENERATE=1 and review the diff); a second run changes nothing; files of ours that the new
 * configuration lacks are removed while foreign files stay; the reload is skipped on an alternate root.
 * The files are also parsed back with a strict reader that knows which [Section] Key= pairs networkd 252
 * accepts for what we emit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "fileio.h"
#include "macro.h"
#include "network.h"
#include "strutil.h"
#include "tests.h"

static const char *const scenarios[][2] = {
        {"single", "single-nic.json"},
        {"two-nics", "two-nics.json"},
        {"three-nics", "three-nics.json"},
        {"three-nics-shuffled", "three-nics-shuffled.json"},
        /* interface[1] repeats the MAC of [0], [0] lists a secondary IP outside its subnet: both are left out,
         * the good NICs and addresses are rendered (interface[2] keeps metric 300 and its MTU). */
        {"partial", "partial.json"},
};

static char *read_path(const char *path, size_t *ret_size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *buf = NULL;

        if (fd < 0)
                return NULL;
        if (read_full_fd(fd, 1024 * 1024, &buf, ret_size) < 0)
                return NULL;
        return buf;
}

static void load_scenario(const char *source, NetworkConfig *ret) {
        _cleanup_free_ char *buf = NULL, *path = NULL;
        JsonError err = {};
        size_t size = 0;

        assert_true(asprintf(&path, "%s/tests/network/imds/%s", getenv("AZL_SOURCE_ROOT"), source) > 0);
        buf = read_path(path, &size);
        assert_non_null(buf);
        if (network_parse_imds_buffer(buf, size, ret, &err) < 0)
                fail_msg("%s: %s", source, err.message);
}

static char *expected_dir(const char *scenario) {
        char *p = NULL;

        assert_true(asprintf(&p, "%s/tests/network/expected/%s", getenv("AZL_SOURCE_ROOT"), scenario) > 0);
        return p;
}

/* Lists regular files under dir/sub (non-recursive) as "sub/name", sorted. */
static void list_files(const char *dir, const char *sub, char ***files) {
        _cleanup_free_ char *p = NULL;
        struct dirent **names = NULL;
        int n;

        assert_true(asprintf(&p, "%s/%s", dir, sub) > 0);
        n = scandir(p, &names, NULL, alphasort);
        if (n < 0)
                return;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *rel = NULL;

                if (names[i]->d_name[0] != '.') {
                        assert_true(asprintf(&rel, "%s/%s", sub, names[i]->d_name) > 0);
                        assert_int_equal(strv_extend(files, rel), 0);
                }
                free(names[i]);
        }
        free(names);
}

static void compare_or_regenerate(const char *root, const char *scenario) {
        _cleanup_free_ char *exp = expected_dir(scenario);
        _cleanup_strv_free_ char **got = NULL, **want = NULL;
        bool regenerate = getenv("AZL_NETWORK_REGENERATE");

        list_files(root, "run/systemd/network", &got);
        list_files(root, "run/udev/rules.d", &got);
        assert_non_null(got);
        if (regenerate) {
                _cleanup_free_ char *parent = strdup(exp);

                assert_non_null(parent);
                *strrchr(parent, '/') = '\0';
                (void) mkdir(parent, 0755);
                (void) mkdir(exp, 0755);
        }
        for (char **f = got; *f; f++) {
                _cleanup_free_ char *a = NULL, *b = NULL, *data = NULL, *expected = NULL;
                size_t sa = 0, sb = 0;

                assert_true(asprintf(&a, "%s/%s", root, *f) > 0);
                assert_true(asprintf(&b, "%s/%s", exp, *f) > 0);
                data = read_path(a, &sa);
                assert_non_null(data);
                if (regenerate) {
                        write_test_file(exp, *f, data);
                        continue;
                }
                expected = read_path(b, &sb);
                if (!expected)
                        fail_msg("%s: unexpected file %s", scenario, *f);
                if (sa != sb || memcmp(data, expected, sa) != 0)
                        fail_msg("%s: %s differs from %s:\n%s", scenario, *f, b, data);
        }
        list_files(exp, "run/systemd/network", &want);
        list_files(exp, "run/udev/rules.d", &want);
        assert_int_equal(strv_length(got), strv_length(want));
}

/* Strict reader: every line is a comment, blank, [Section] or Key=Value, and every key is one that
 * systemd.network(5) (systemd 252) documents in that section; values are checked for their syntax. */
static void parse_back(const char *path) {
        static const char *const allowed[] = {
                "Match/MACAddress",
                "Match/Driver",
                "Link/MTUBytes",
                "Link/Unmanaged",
                "Network/DHCP",
                "Network/Address",
                "DHCPv4/UseDNS",
                "DHCPv4/UseDomains",
                "DHCPv4/RouteMetric",
                "DHCPv6/UseDNS",
                "DHCPv6/UseDomains",
                "IPv6AcceptRA/UseDNS",
                "IPv6AcceptRA/UseDomains",
                "IPv6AcceptRA/RouteMetric",
        };
        _cleanup_free_ char *data = NULL;
        char section[32] = "", *saveptr = NULL;
        bool has_match_mac = false;
        size_t size;

        data = read_path(path, &size);
        assert_non_null(data);
        assert_true(size > 0 && data[size - 1] == '\n');
        for (char *line = strtok_r(data, "\n", &saveptr); line; line = strtok_r(NULL, "\n", &saveptr)) {
                char key[64], *eq;
                bool known = false;

                if (line[0] == '#')
                        continue;
                if (line[0] == '[') {
                        assert_true(sscanf(line, "[%31[A-Za-z0-9]]", section) == 1);
                        continue;
                }
                eq = strchr(line, '=');
                if (!eq || eq == line || eq[1] == '\0')
                        fail_msg("%s: bad line '%s'", path, line);
                snprintf(key, sizeof key, "%s/%.*s", section, (int) (eq - line), line);
                for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                        known = known || streq(allowed[i], key);
                if (!known)
                        fail_msg("%s: unknown key %s", path, key);
                if (streq(key, "Match/MACAddress")) {
                        unsigned b[6];
                        int n = 0;

                        assert_int_equal(sscanf(eq + 1, "%2x:%2x:%2x:%2x:%2x:%2x%n", &b[0], &b[1], &b[2],
                                                &b[3], &b[4], &b[5], &n),
                                         6);
                        assert_int_equal(strlen(eq + 1), (size_t) n);
                        has_match_mac = true;
                } else if (endswith(key, "/UseDNS") || endswith(key, "/UseDomains") ||
                           streq(key, "Link/Unmanaged"))
                        assert_true(parse_boolean(eq + 1) >= 0);
                else if (endswith(key, "/RouteMetric") || streq(key, "Link/MTUBytes")) {
                        unsigned u;

                        assert_int_equal(safe_atou(eq + 1, &u), 0);
                } else if (streq(key, "Network/DHCP"))
                        assert_true(streq(eq + 1, "yes") || streq(eq + 1, "ipv4"));
                else if (streq(key, "Network/Address"))
                        assert_non_null(strchr(eq + 1, '/'));
        }
        assert_true(has_match_mac);
}

static void apply_in(const char *root, const NetworkConfig *config, int expected_r,
                     NetworkApplyResult *ret) {
        _cleanup_(context_done) Context c = {};

        assert_int_equal(context_init(&c, root, NULL), 0);
        assert_int_equal(network_apply(&c, config, NETWORK_BACKEND_NETWORKD, ret), expected_r);
        assert_int_equal(ret->backend, NETWORK_BACKEND_NETWORKD);
}

static void test_scenarios(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(scenarios); i++) {
                _cleanup_(network_config_done) NetworkConfig config = {};
                _cleanup_strv_free_ char **files = NULL;
                char *root = tmpdir_new();
                NetworkApplyResult res = {};

                load_scenario(scenarios[i][1], &config);
                apply_in(root, &config, 1, &res);
                /* Two .network files per NIC plus the udev rule. */
                assert_int_equal(res.n_changes, 2 * config.n_interfaces + 1);
                assert_int_equal(res.n_configured, config.n_interfaces);
                assert_int_equal(res.reload, NETWORK_RELOAD_SKIPPED_ROOT);
                compare_or_regenerate(root, scenarios[i][0]);

                list_files(root, "run/systemd/network", &files);
                for (char **f = files; f && *f; f++) {
                        _cleanup_free_ char *p = NULL;

                        assert_true(asprintf(&p, "%s/%s", root, *f) > 0);
                        parse_back(p);
                }

                /* Re-run: nothing to write, nothing to reload. */
                res = (NetworkApplyResult){};
                apply_in(root, &config, 0, &res);
                assert_int_equal(res.n_changes, 0);
                assert_int_equal(res.reload, NETWORK_RELOAD_NOT_NEEDED);
                tmpdir_remove(root);
        }
}

static void test_stale_files(void **state) {
        _cleanup_(network_config_done) NetworkConfig three = {}, one = {}, none = {};
        char *root = tmpdir_new();
        NetworkApplyResult res = {};
        _cleanup_free_ char *p = NULL;

        load_scenario("three-nics.json", &three);
        load_scenario("single-nic.json", &one);
        write_test_file(root, "run/systemd/network/20-admin.network", "[Match]\nName=eth9\n");
        write_test_file(root, "run/systemd/network/10-azl-notes.txt", "not ours\n");
        apply_in(root, &three, 1, &res);
        assert_int_equal(res.n_changes, 7);

        /* Two NICs gone: their four files go, the udev rule and the primary's file (one secondary IP less)
         * are rewritten, the primary's VF file stays as it is. */
        res = (NetworkApplyResult){};
        apply_in(root, &one, 1, &res);
        assert_int_equal(res.n_changes, 6);
        assert_true(asprintf(&p, "%s/run/systemd/network/10-azl-000d3a0a0b0c.network", root) > 0);
        assert_int_equal(access(p, F_OK), -1);
        free(TAKE_PTR(p));
        assert_true(asprintf(&p, "%s/run/systemd/network/10-azl-000d3a3382e8.network", root) > 0);
        assert_int_equal(access(p, F_OK), 0);
        free(TAKE_PTR(p));
        assert_true(asprintf(&p, "%s/run/systemd/network/20-admin.network", root) > 0);
        assert_int_equal(access(p, F_OK), 0);
        free(TAKE_PTR(p));
        assert_true(asprintf(&p, "%s/run/systemd/network/10-azl-notes.txt", root) > 0);
        assert_int_equal(access(p, F_OK), 0);
        free(TAKE_PTR(p));

        /* No NIC at all: everything of ours goes, including the udev rule. */
        res = (NetworkApplyResult){};
        apply_in(root, &none, 1, &res);
        assert_int_equal(res.n_changes, 3);
        assert_true(asprintf(&p, "%s" NETWORK_UDEV_RULES, root) > 0);
        assert_int_equal(access(p, F_OK), -1);
        tmpdir_remove(root);
}

static void test_shuffled_same_files(void **state) {
        _cleanup_(network_config_done) NetworkConfig a = {}, b = {};
        _cleanup_strv_free_ char **fa = NULL, **fb = NULL;
        char *ra = tmpdir_new(), *rb = tmpdir_new();
        NetworkApplyResult res;

        /* Same NICs, other IMDS order and other secondary-IP order: same file names, and the same files except
         * for what depends on the IMDS index (the comment and the route metric). */
        load_scenario("three-nics.json", &a);
        load_scenario("three-nics-shuffled.json", &b);
        apply_in(ra, &a, 1, &res);
        apply_in(rb, &b, 1, &res);
        list_files(ra, "run/systemd/network", &fa);
        list_files(rb, "run/systemd/network", &fb);
        assert_int_equal(strv_length(fa), strv_length(fb));
        for (size_t i = 0; fa[i]; i++) {
                _cleanup_free_ char *pa = NULL, *pb = NULL, *da = NULL, *db = NULL;
                _cleanup_strv_free_ char **la = NULL, **lb = NULL;
                size_t sa, sb;

                assert_string_equal(fa[i], fb[i]);
                assert_true(asprintf(&pa, "%s/%s", ra, fa[i]) > 0 && asprintf(&pb, "%s/%s", rb, fb[i]) > 0);
                da = read_path(pa, &sa);
                db = read_path(pb, &sb);
                assert_int_equal(strv_split(da, "\n", &la), 0);
                assert_int_equal(strv_split(db, "\n", &lb), 0);
                assert_int_equal(strv_length(la), strv_length(lb));
                for (size_t j = 0; la[j]; j++)
                        if (!startswith(la[j], "# network.interface[") &&
                            !startswith(la[j], "RouteMetric=") && !startswith(la[j], "# The Accelerated"))
                                assert_string_equal(la[j], lb[j]);
        }
        tmpdir_remove(ra);
        tmpdir_remove(rb);
}

/* A skipped entry's reason quotes IMDS text into a comment: a newline in it must not start a directive. */
static void test_skipped_comment_injection(void **state) {
        static const char doc[] =
                "{\"interface\":[{\"macAddress\":\"000D3A3382E8\",\"ipv4\":{\"ipAddress\":["
                "{\"privateIpAddress\":\"10.0.1.4\"},{\"privateIpAddress\":\"1.2.3.4\\n[Network]\\nDNS=6.6."
                "6.6\"}],"
                "\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":\"24\"}]}}]}";
        _cleanup_(network_config_done) NetworkConfig c = {};
        NetworkFile *files = NULL;
        JsonError err = {};
        size_t n = 0;

        assert_int_equal(network_parse_imds_buffer(doc, strlen(doc), &c, &err), 0);
        assert_int_equal(c.n_skipped, 1);
        assert_int_equal(network_render_networkd(&c, &files, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(files[1].path, "/run/systemd/network/10-azl-000d3a3382e8.network");
        assert_non_null(strstr(files[1].contents,
                               "# Left out (bad IMDS data): network.interface[0].ipv4.ipAddress[1]"
                               ".privateIpAddress: '1.2.3.4?[Network]?DNS=6.6.6.6' is not a usable"));
        assert_null(strstr(files[1].contents, "\nDNS="));
        network_files_free(files, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scenarios),
                cmocka_unit_test(test_stale_files),
                cmocka_unit_test(test_shuffled_same_files),
                cmocka_unit_test(test_skipped_comment_injection),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
