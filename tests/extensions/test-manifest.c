/* SPDX-License-Identifier: MIT */
/*
 * PluginVersionManifest tests (tests/data/wire/manifest*.xml) and waagent's version selection: the highest
 * package whose version has the requested version as a component-wise prefix. The interop group parses
 * WALinuxAgent's wire/manifest*.xml and ga_manifest*.xml. And the HandlerManifest command split (ext_command_split):
 * which commands run without a shell, and as which words.
 */
#include <string.h>

#include "ext-util.h"
#include "macro.h"
#include "manifest.h"
#include "strutil.h"
#include "tests.h"

static void parse_with(TestReadFn read, const char *rel, Manifest *ret) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        size_t size;

        buf = read(rel, &size);
        if (manifest_parse(buf, size, ret, &error) < 0)
                fail_msg("%s: %s", rel, error);
}

static void test_manifest(void **state) {
        _cleanup_(manifest_done) Manifest m = {};
        static const char *const versions[] = {"1.0.0",   "1.0.2", "1.1.0", "1.1.4", "2.0",
                                               "2.0.0.1", "3.2.1", "1.2.0", "2.5.0"};

        parse_with(test_data_read, "wire/manifest.xml", &m);
        assert_int_equal(m.n_packages, ELEMENTSOF(versions));
        for (size_t i = 0; i < m.n_packages; i++) {
                assert_string_equal(m.packages[i].version, versions[i]);
                assert_int_equal(m.packages[i].is_internal, i >= 7);
                assert_int_equal(strv_length(m.packages[i].uris), 2);
        }
        assert_string_equal(
                m.packages[0].uris[0],
                "https://azltestartifacts.blob.core.windows.net/handlers/AzlAgent.SampleHandler__1.0.0");
        assert_string_equal(
                m.packages[0].uris[1],
                "https://azltestmirror.blob.core.windows.net/handlers/AzlAgent.SampleHandler__1.0.0");
        assert_true(m.packages[2].disallow_major_version_upgrade);
        assert_false(m.packages[3].disallow_major_version_upgrade);
}

static void test_select(void **state) {
        _cleanup_(manifest_done) Manifest m = {};
        _cleanup_free_ char *error = NULL;
        const ManifestPackage *p = NULL;
        static const struct {
                const char *requested, *selected;
        } cases[] = {
                {"1.0.0", "1.0.0"},                     /* exact (useExactVersion) */
                {"1.0", "1.0.2"},                       /* prefix: highest 1.0.x */
                {"1.1", "1.1.4"},   {"1", "1.2.0"},     /* internal packages take part */
                {"2", "2.5.0"},     {"2.0", "2.0.0.1"}, /* "2.0" and "2.0.0.1" both match; the higher wins */
                {"3.2.1", "3.2.1"},
        };

        parse_with(test_data_read, "wire/manifest.xml", &m);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(manifest_select_version(&m, cases[i].requested, &p, NULL), 0);
                assert_string_equal(p->version, cases[i].selected);
        }
        p = NULL;
        assert_int_equal(manifest_select_version(&m, "1.0.1", &p, &error), -ENOENT);
        assert_string_equal(error, "Unable to find version 1.0.1 in manifest");
        assert_null(p);
}

static void test_no_uris(void **state) {
        _cleanup_(manifest_done) Manifest m = {};

        /* a package without URIs parses; downloading it is the caller's failure */
        parse_with(test_data_read, "wire/manifest-no-uris.xml", &m);
        assert_int_equal(m.n_packages, 2);
        assert_int_equal(strv_length(m.packages[0].uris), 0);
        assert_int_equal(strv_length(m.packages[1].uris), 0);
}

static void interop_manifest(void **state) {
        _cleanup_(manifest_done) Manifest m = {};
        static const char *const versions[] = {"1.0.0",   "1.1.0", "1.1.1", "1.2.0", "2.0.0",   "2.1.0",
                                               "2.1.1",   "2.2.0", "3.0",   "3.1",   "4.0.0.0", "4.0.0.1",
                                               "4.1.0.0", "1.3.0", "2.3.0", "2.4.0"};

        parse_with(fixture_read, "wire/manifest.xml", &m);
        assert_int_equal(m.n_packages, ELEMENTSOF(versions));
        for (size_t i = 0; i < m.n_packages; i++) {
                assert_string_equal(m.packages[i].version, versions[i]);
                assert_int_equal(m.packages[i].is_internal, i >= 13);
        }
        assert_string_equal(m.packages[0].uris[0],
                            "http://mock-goal-state/foo.bar/zar/OSTCExtensions.ExampleHandlerLinux__1.0.0");
        assert_true(m.packages[5].disallow_major_version_upgrade);
        assert_false(m.packages[4].disallow_major_version_upgrade);
}

static void interop_select(void **state) {
        _cleanup_(manifest_done) Manifest m = {};
        _cleanup_free_ char *error = NULL;
        const ManifestPackage *p = NULL;
        static const struct {
                const char *requested, *selected;
        } cases[] = {
                {"1.0.0", "1.0.0"},                   /* exact (useExactVersion) */
                {"1.1.1", "1.1.1"}, {"1.1", "1.1.1"}, /* prefix: highest 1.1.x */
                {"2", "2.4.0"},                       /* internal packages take part */
                {"3.0", "3.0"},     {"4.0", "4.0.0.1"}, {"1.3.0", "1.3.0"},
        };

        parse_with(fixture_read, "wire/manifest.xml", &m);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                assert_int_equal(manifest_select_version(&m, cases[i].requested, &p, NULL), 0);
                assert_string_equal(p->version, cases[i].selected);
        }
        p = NULL;
        assert_int_equal(manifest_select_version(&m, "1.0.1", &p, &error), -ENOENT);
        assert_string_equal(error, "Unable to find version 1.0.1 in manifest");
        assert_null(p);
}

static void interop_other_manifests(void **state) {
        _cleanup_(manifest_done) Manifest ga = {}, no_uris = {}, vm_access = {}, deletion = {};
        const ManifestPackage *p;

        parse_with(fixture_read, "wire/ga_manifest.xml", &ga);
        assert_int_equal(ga.n_packages, 8);
        parse_with(fixture_read, "wire/ga_manifest_no_uris.xml", &no_uris);
        assert_int_equal(no_uris.n_packages, 7);
        parse_with(fixture_read, "wire/manifest_vm_access.xml", &vm_access);
        assert_int_equal(vm_access.n_packages, 1);
        assert_int_equal(manifest_select_version(&vm_access, "1.7.0", &p, NULL), 0);
        assert_true(strv_length(p->uris) >= 1);
        parse_with(fixture_read, "wire/manifest_deletion.xml", &deletion);
        assert_int_equal(deletion.n_packages, 1);
}

static void test_bad(void **state) {
        static const char no_version[] = "<PluginVersionManifest><Plugins><Plugin><Uris/></Plugin></Plugins>"
                                         "</PluginVersionManifest>";
        _cleanup_free_ char *e1 = NULL, *e2 = NULL;
        Manifest m = {};

        assert_int_equal(manifest_parse("<x", 2, &m, &e1), -EBADMSG);
        assert_int_equal(manifest_parse(no_version, strlen(no_version), &m, &e2), -EBADMSG);
        assert_string_equal(e2, "Invalid manifest: a Plugin has no Version");
        assert_int_equal(m.n_packages, 0);
}

/* words joined with '|', or NULL when the command needs the shell */
static char *split_joined(const char *cmd) {
        _cleanup_strv_free_ char **w = NULL;
        char *s = NULL;
        int r = ext_command_split(cmd, &w);

        assert_true(r >= 0);
        if (r == 0)
                return NULL;
        for (size_t i = 0; w[i]; i++) {
                char *t = NULL;

                assert_true(asprintf(&t, "%s%s%s", s ?: "", s ? "|" : "", w[i]) > 0);
                free(s);
                s = t;
        }
        return s;
}

static void test_command_split(void **state) {
        static const char *const plain[][2] = {
                {"enable.sh", "enable.sh"},
                {"bin/enable.sh", "bin/enable.sh"},
                {"  scripts/install.sh  --verbose\t-x ", "scripts/install.sh|--verbose|-x"},
                {"bin/handler.py enable mode=full", "bin/handler.py|enable|mode=full"},
                {"./bin/run-1.2_x.sh a,b:c+d@e%f", "./bin/run-1.2_x.sh|a,b:c+d@e%f"},
                {"../escape.sh",
                 "../escape.sh"}, /* the words only; where it leads is the executor's check */
        };
        static const char *const shell[] = {
                "",
                "   ",
                "FOO=1 enable.sh", /* an assignment */
                "enable.sh > out.txt",
                "enable.sh 2>&1",
                "install.sh && enable.sh",
                "enable.sh; reboot",
                "enable.sh | tee log",
                "enable.sh &",
                "enable.sh $HOME",
                "enable.sh `id`",
                "enable.sh 'a b'",
                "enable.sh \"a b\"",
                "enable.sh a\\ b",
                "enable.sh *",
                "enable.sh a?",
                "enable.sh [ab]",
                "enable.sh ~",
                "enable.sh {a,b}",
                "enable.sh # comment",
                "enable.sh\nreboot",
                "enable.sh !",
                "enable.sh (x)",
                "enable.sh caf\xc3\xa9",
        };

        for (size_t i = 0; i < ELEMENTSOF(plain); i++) {
                _cleanup_free_ char *j = split_joined(plain[i][0]);

                if (!j || !streq(j, plain[i][1]))
                        fail_msg("\"%s\": got %s, want %s", plain[i][0], strna(j), plain[i][1]);
        }
        for (size_t i = 0; i < ELEMENTSOF(shell); i++) {
                _cleanup_free_ char *j = split_joined(shell[i]);

                if (j)
                        fail_msg("\"%s\" needs the shell, got %s", shell[i], j);
        }
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_manifest),
                cmocka_unit_test(interop_select),
                cmocka_unit_test(interop_other_manifests),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest),      cmocka_unit_test(test_select),
                cmocka_unit_test(test_no_uris),       cmocka_unit_test(test_bad),
                cmocka_unit_test(test_command_split),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
