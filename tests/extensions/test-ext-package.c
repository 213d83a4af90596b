/* SPDX-License-Identifier: MIT */
/*
 * Extension packages (wire protocol §4.1, §4.11): the sample extension (tests/fabric/ext/sample-handler, zipped
 * here without modes) extracted on a scratch root (files, u+x, HandlerManifest.json, HandlerEnvironment.json
 * bytes), a manifest found in a subdirectory, and
 * hostile packages — zip-slip "../x", an absolute path, a symlink escaping the directory, an entry declaring
 * 10 GB, a million tiny files, an entry inflating beyond the limit — each refused with a clear reason and
 * nothing written anywhere (the scratch root is compared before and after). Signatures: a CMS SignedData made
 * here the way Microsoft's are (detached, eContentType 2.123.456.7.8.9, sha384) verifies against its root and
 * fails on a tampered zip or another root; enforce mode refuses with 1007 as waagent does. The interop group
 * installs WALinuxAgent's sample_ext-1.3.0.zip the same way, and checks that the real signature of its
 * ext_conf-vm_access_with_signature parses and its signer chain verifies against the shipped
 * data/microsoft_root_certificate.pem ("Microsoft Root Certificate Authority 2011").
 */
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "context.h"
#include "ext-beneath.h"
#include "ext-handler.h"
#include "ext-package.h"
#include "ext-test-zip.h"
#include "ext-util.h"
#include "extensions-goal-state.h"
#include "fileio.h"
#include "openssl-util.h"
#include "tests.h"

typedef struct Fixture {
        char *root;
        Context c;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->root = tmpdir_new();
        assert_int_equal(context_init(&f->c, f->root, NULL), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        context_done(&f->c);
        tmpdir_remove(f->root);
        free(f);
        return 0;
}

static char *read_text(const char *root, const char *rel) {
        _cleanup_close_ int fd = -EBADF;
        char *data = NULL;
        size_t size;

        assert_int_equal(root_open(root, &fd), 0);
        assert_int_equal(read_file_in_root(fd, rel, 1024 * 1024, &data, &size), 0);
        return data;
}

static mode_t mode_of(const char *root, const char *rel) {
        _cleanup_free_ char *p = NULL;
        struct stat st;

        assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
        assert_int_equal(lstat(p, &st), 0);
        return st.st_mode;
}

static void check_install(Fixture *f, const void *zip, size_t len, const char *name, const char *version,
                          const char *script) {
        _cleanup_free_ char *env = NULL, *expected = NULL, *d = NULL, *logdir = NULL;
        ExtPackageReport rep = {};
        char *p;

        assert_true(asprintf(&d, "var/lib/waagent/%s-%s", name, version) > 0);
        assert_true(asprintf(&logdir, "var/log/azure/%s", name) > 0);
        assert_int_equal(extension_package_install_from_zip(&f->c, name, version, zip, len, NULL, &rep), 0);
        assert_int_equal(rep.code, 0);
        /* report (the default) without an encodedSignature: installed, and recorded as not signed */
        assert_int_equal(rep.signature, EXT_SIGNATURE_NOT_SIGNED);
        /* every file u+x (§4.1); config/ and status/ 0700 (§4.6 initialize) */
        assert_true(asprintf(&p, "%s/%s", d, script) > 0);
        assert_true(mode_of(f->root, p) & S_IXUSR);
        free(p);
        assert_true(asprintf(&p, "%s/HandlerManifest.json", d) > 0);
        assert_true(S_ISREG(mode_of(f->root, p)));
        free(p);
        assert_true(asprintf(&p, "%s/config", d) > 0);
        assert_int_equal(mode_of(f->root, p) & 07777, 0700);
        free(p);
        assert_true(asprintf(&p, "%s/status", d) > 0);
        assert_int_equal(mode_of(f->root, p) & 07777, 0700);
        free(p);
        assert_true(asprintf(&p, "%s/events", logdir) > 0);
        assert_true(S_ISDIR(mode_of(f->root, p)));
        free(p);

        assert_true(asprintf(&p, "%s/HandlerEnvironment.json", d) > 0);
        env = read_text(f->root, p);
        free(p);
        /* §4.3, byte for byte (host paths: the scratch root's prefix) */
        assert_true(
                asprintf(&expected,
                         "[{\"name\": \"%3$s\", \"version\": 1.0, \"handlerEnvironment\": "
                         "{\"logFolder\": \"%1$s/%4$s\", "
                         "\"configFolder\": \"%1$s/%2$s/config\", \"statusFolder\": \"%1$s/%2$s/status\", "
                         "\"heartbeatFile\": \"%1$s/%2$s/heartbeat.log\", "
                         "\"eventsFolder\": \"%1$s/%4$s/events\", "
                         "\"eventsFolder_preview\": \"%1$s/%4$s/events\"}}]",
                         f->c.root, d, name, logdir) > 0);
        assert_string_equal(env, expected);
        ext_package_report_done(&rep);
}

static void test_sample_handler_install(void **state) {
        _cleanup_free_ char *dir = test_sample_handler_dir();
        _cleanup_free_ void *zip = NULL;
        size_t len;

        test_zip_dir(dir, NULL, &zip, &len);
        check_install(*state, zip, len, "AzlAgent.SampleHandler", "1.0.0", "sample-handler.py");
}

static void interop_sample_ext_install(void **state) {
        _cleanup_free_ char *zip = NULL;
        size_t len;

        zip = fixture_read("ext/sample_ext-1.3.0.zip", &len);
        check_install(*state, zip, len, "OSTCExtensions.ExampleHandlerLinux", "1.3.0", "sample.py");
}

static void test_handler_environment_real_root(void **state) {
        ExtLayout l = {.root = NULL, .lib_dir = "/var/lib/waagent", .log_dir = "/var/log/azure"};
        _cleanup_(handler_paths_done) HandlerPaths p = {};
        _cleanup_free_ char *text = NULL;

        /* The reference's verified example (§4.3), exactly. */
        assert_int_equal(handler_paths_build(&l, "OSTCExtensions.ExampleHandlerLinux", "1.0.0", &p), 0);
        assert_int_equal(handler_environment_format(&p, "OSTCExtensions.ExampleHandlerLinux", &text), 0);
        assert_string_equal(
                text,
                "[{\"name\": \"OSTCExtensions.ExampleHandlerLinux\", \"version\": 1.0, "
                "\"handlerEnvironment\": {"
                "\"logFolder\": \"/var/log/azure/OSTCExtensions.ExampleHandlerLinux\", "
                "\"configFolder\": \"/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.0.0/config\", "
                "\"statusFolder\": \"/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.0.0/status\", "
                "\"heartbeatFile\": "
                "\"/var/lib/waagent/OSTCExtensions.ExampleHandlerLinux-1.0.0/heartbeat.log\", "
                "\"eventsFolder\": \"/var/log/azure/OSTCExtensions.ExampleHandlerLinux/events\", "
                "\"eventsFolder_preview\": \"/var/log/azure/OSTCExtensions.ExampleHandlerLinux/events\"}}]");
}

static void test_settings_format(void **state) {
        ExtensionSettings s = {
                .seq_no = 0,
                .public_settings = (char *) "{\"foo\":\"bar\"}",
                .protected_settings = (char *) "MIICWgYJK",
                .protected_settings_cert_thumbprint = (char *) "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9",
        };
        ExtensionSettings none = {.seq_no = 1};
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        assert_int_equal(ext_settings_format(&s, &a), 0);
        assert_string_equal(
                a, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": {\"foo\": \"bar\"}, "
                   "\"protectedSettings\": \"MIICWgYJK\", \"protectedSettingsCertThumbprint\": "
                   "\"F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9\"}}]}");
        assert_int_equal(ext_settings_format(&none, &b), 0);
        assert_string_equal(b, "{\"runtimeSettings\": [{\"handlerSettings\": {\"publicSettings\": null, "
                               "\"protectedSettings\": null, \"protectedSettingsCertThumbprint\": null}}]}");
        assert_int_equal(ext_settings_format(NULL, &c), 0);
        assert_string_equal(c, "");
}

static void test_manifest_in_subdirectory(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *dir = test_handler_dir("recorder"), *m = NULL;
        _cleanup_free_ void *zip = NULL;
        ExtPackageReport rep = {};
        size_t len;

        test_zip_dir(dir, "Recorder-pkg", &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Recorder", "1.0.0", zip, len, NULL, &rep),
                0);
        m = read_text(f->root, "var/lib/waagent/Test.Recorder-1.0.0/HandlerManifest.json");
        assert_non_null(strstr(m, "handler.sh install"));
        assert_true(mode_of(f->root, "var/lib/waagent/Test.Recorder-1.0.0/Recorder-pkg/handler.sh") &
                    S_IXUSR);
        ext_package_report_done(&rep);
}

static void test_manifest_missing(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "x.sh", .content = "exit 0\n"}};
        _cleanup_free_ void *zip = NULL;
        ExtPackageReport rep = {};
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.NoManifest", "1.0", zip, len, NULL, &rep),
                -ENOENT);
        assert_int_equal(rep.code, EXT_CODE_HANDLER_MANIFEST_NOT_FOUND);
        assert_int_equal(access_in_root(f->c.root_fd, "/var/lib/waagent/Test.NoManifest-1.0"), -ENOENT);
        ext_package_report_done(&rep);
}

/* Counts every path below the root: hostile packages must leave exactly what was there before. */
static size_t tree_count;
static int count_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        tree_count++;
        return 0;
}
static size_t count_tree(const char *root) {
        tree_count = 0;
        assert_int_equal(nftw(root, count_one, 16, FTW_PHYS), 0);
        return tree_count;
}

static void expect_refused(Fixture *f, const void *zip, size_t len, const ExtPackageLimits *lim,
                           const char *reason) {
        ExtPackageOptions o = {.limits = lim};
        ExtPackageReport rep = {};
        size_t before, after;

        assert_int_equal(mkdir_p_in_root(f->c.root_fd, "/var/lib/waagent", 0755), 0);
        before = count_tree(f->root);
        assert_true(extension_package_install_from_zip(&f->c, "Test.Evil", "1.0.0", zip, len, &o, &rep) < 0);
        assert_int_equal(rep.code, EXT_CODE_PACKAGE_EXTRACTION_FAILED);
        assert_non_null(rep.error);
        print_message("refused: %s\n", rep.error);
        assert_non_null(strstr(rep.error, reason));
        after = count_tree(f->root);
        assert_int_equal(before, after);
        assert_int_equal(access_in_root(f->c.root_fd, "/var/lib/waagent/Test.Evil-1.0.0"), -ENOENT);
        ext_package_report_done(&rep);
}

static void test_zip_slip(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[]"},
                            {.name = "../x", .content = "pwned"}};
        _cleanup_free_ void *zip = NULL;
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        expect_refused(f, zip, len, NULL, "unsafe path '../x'");
        assert_int_equal(access_in_root(f->c.root_fd, "/var/lib/waagent/x"), -ENOENT);
}

static void test_zip_slip_nested(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "a/b/../../../../x", .content = "pwned"}};
        _cleanup_free_ void *zip = NULL;
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        expect_refused(f, zip, len, NULL, "unsafe path");
}

static void test_absolute_path(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *target = NULL;
        _cleanup_free_ void *zip = NULL;
        size_t len;

        /* an absolute path that would land inside the scratch root if honoured, so it is checkable */
        assert_true(asprintf(&target, "%s/abs-pwned", f->root) > 0);
        TestZipEntry e[] = {{.name = target, .content = "pwned"}};
        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        expect_refused(f, zip, len, NULL, "unsafe path '/");
        assert_int_equal(access(target, F_OK), -1);
}

static void test_escaping_symlink(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[]"},
                            {.name = "sub/link", .symlink = "../../../../etc"},
                            {.name = "sub/link/passwd", .content = "root::0:0::/:/bin/sh\n"}};
        TestZipEntry e2[] = {{.name = "abs", .symlink = "/etc/passwd"}};
        _cleanup_free_ void *zip = NULL, *zip2 = NULL;
        size_t len, len2;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        expect_refused(f, zip, len, NULL, "escaping the package");
        test_zip_entries(e2, ELEMENTSOF(e2), &zip2, &len2);
        expect_refused(f, zip2, len2, NULL, "escaping the package");
}

static void test_internal_symlink_ok(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *dir = test_handler_dir("recorder"), *link = NULL;
        TestZipEntry e[] = {
                {.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                {.name = "bin/tool", .content = "#!/bin/sh\n"},
                {.name = "tool", .symlink = "bin/tool"},
                /* writing through a symlink is refused even when it stays inside */
        };
        _cleanup_free_ void *zip = NULL;
        ExtPackageReport rep = {};
        char buf[64] = {};
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Links", "1.0", zip, len, NULL, &rep), 0);
        assert_true(asprintf(&link, "%s/var/lib/waagent/Test.Links-1.0/tool", f->root) > 0);
        assert_true(readlink(link, buf, sizeof buf - 1) > 0);
        assert_string_equal(buf, "bin/tool");
        ext_package_report_done(&rep);
}

static void test_declared_10gb(void **state) {
        Fixture *f = *state;
        _cleanup_free_ void *zip = NULL;
        size_t len;

        test_zip_declared_size("zero.bin", 10ULL * 1024 * 1024 * 1024, &zip, &len);
        assert_true(len < 200);
        expect_refused(f, zip, len, NULL, "declares 10737418240 bytes");
}

static void test_inflates_beyond_limit(void **state) {
        Fixture *f = *state;
        ExtPackageLimits lim = {
                .max_entries = 100, .max_entry_size = 1024 * 1024, .max_total_size = 64 * 1024};
        _cleanup_free_ char *big = malloc(300 * 1024);
        _cleanup_free_ void *zip = NULL;
        size_t len;

        memset(big, 'a', 300 * 1024 - 1);
        big[300 * 1024 - 1] = 0;
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[]"},
                            {.name = "big", .content = big}};
        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_true(len < 10 * 1024); /* deflated */
        expect_refused(f, zip, len, &lim, "inflates beyond");
}

static void test_million_files(void **state) {
        Fixture *f = *state;
        _cleanup_free_ void *zip = NULL;
        uint64_t n;
        size_t len;

        test_zip_many(1000000, &zip, &len);
        assert_int_equal(ext_zip_declared_entries(zip, len, &n), 0);
        assert_int_equal(n, 1000000);
        expect_refused(f, zip, len, NULL, "declares 1000000 entries");
}

static void test_not_a_zip(void **state) {
        Fixture *f = *state;

        expect_refused(f, "garbage garbage garbage garbage", 31, NULL, "not a zip");
}

/* ---- symlinks that only escape together (issue #17 §6) ---- */

static void test_symlink_chain(void **state) {
        Fixture *f = *state;
        /* each link alone stays inside; resolved together, a = ./.. = the directory above the package */
        TestZipEntry chain[] = {{.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                                {.name = "a", .symlink = "b/.."},
                                {.name = "b", .symlink = "."}};
        /* the same, links in the other order, and deeper */
        TestZipEntry reversed[] = {
                {.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                {.name = "b", .symlink = "."},
                {.name = "d/e/a", .symlink = "../../b/.."}};
        /* status/ as such a chain: the agent would write status files through it */
        TestZipEntry status[] = {{.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                                 {.name = "status", .symlink = "x/.."},
                                 {.name = "x", .symlink = "y"},
                                 {.name = "y", .symlink = "."}};
        _cleanup_free_ void *z1 = NULL, *z2 = NULL, *z3 = NULL;
        size_t l1, l2, l3;

        test_zip_entries(chain, ELEMENTSOF(chain), &z1, &l1);
        expect_refused(f, z1, l1, NULL, "Refusing symlink 'a' -> 'b/..': it resolves outside the package");
        test_zip_entries(reversed, ELEMENTSOF(reversed), &z2, &l2);
        expect_refused(f, z2, l2, NULL, "Refusing symlink 'd/e/a' -> '../../b/..': it resolves outside");
        test_zip_entries(status, ELEMENTSOF(status), &z3, &l3);
        expect_refused(f, z3, l3, NULL, "Refusing symlink 'status' -> 'x/..': it resolves outside");
}

static void test_symlink_chain_inside_ok(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                            {.name = "bin/tool", .content = "#!/bin/sh\n"},
                            {.name = "b", .symlink = "."},
                            {.name = "c", .symlink = "b/bin/../bin/tool"},
                            {.name = "dangling", .symlink = "b/missing/../nothing"},
                            {.name = "loop1", .symlink = "loop2"},
                            {.name = "loop2", .symlink = "loop1"}};
        _cleanup_free_ void *zip = NULL;
        ExtPackageReport rep = {};
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Links", "1.0", zip, len, NULL, &rep), 0);
        assert_int_equal(access_in_root(f->c.root_fd, "/var/lib/waagent/Test.Links-1.0/c"), 0);
        ext_package_report_done(&rep);
}

static void test_resolve_beneath(void **state) {
        Fixture *f = *state;
        _cleanup_close_ int d = -EBADF;
        static const struct {
                const char *path;
                bool follow;
                int r;
                const char *want;
        } rows[] = {
                {"x/file", true, 0, "x/file"},
                {"b/x/file", true, 0, "x/file"},
                {"a", false, 0, "a"},      /* the link itself */
                {"a", true, -EXDEV, NULL}, /* a -> b/.. with b -> . */
                {"a/anything", true, -EXDEV, NULL},
                {"../x", true, -EXDEV, NULL},
                {"/etc/passwd", true, -EXDEV, NULL},
                {"abs", true, -EXDEV, NULL}, /* abs -> /etc */
                {"x/../x/./file", true, 0, "x/file"},
                {"missing/../x", true, 0, "x"}, /* lexical below a missing component */
                {"missing/../../x", true, -EXDEV, NULL},
                {"loop", true, -ELOOP, NULL},
                {".", true, 0, "."},
                {"x/file/y", true, -ENOTDIR, NULL},
        };

        assert_int_equal(mkdir_p_in_root(f->c.root_fd, "/h/x", 0755), 0);
        write_test_file(f->root, "h/x/file", "data");
        d = open_in_root(f->c.root_fd, "/h", O_RDONLY | O_DIRECTORY, 0);
        assert_true(d >= 0);
        assert_int_equal(symlinkat(".", d, "b"), 0);
        assert_int_equal(symlinkat("b/..", d, "a"), 0);
        assert_int_equal(symlinkat("/etc", d, "abs"), 0);
        assert_int_equal(symlinkat("loop", d, "loop"), 0);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                _cleanup_free_ char *got = NULL;
                int r = resolve_beneath(d, rows[i].path, rows[i].follow, &got);

                print_message("%s → %d %s\n", rows[i].path, r, strna(got));
                assert_int_equal(r, rows[i].r);
                if (rows[i].want)
                        assert_string_equal(got, rows[i].want);
        }
}

/* The agent's own writes into a handler directory (config/HandlerState, settings, HandlerEnvironment.json) go
 * beneath it: a config/ that leads outside (here planted after installation, as a handler or an older agent could
 * leave it) makes the write fail with EXDEV and nothing outside changes — with openat2() and without. */
static void agent_writes_beneath(Fixture *f, bool fallback) {
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"}};
        _cleanup_free_ void *zip = NULL;
        _cleanup_free_ char *victim = NULL;
        _cleanup_close_ int d = -EBADF;
        ExtPackageReport rep = {};
        ExtensionSettings set = {.seq_no = 0, .public_settings = (char *) "{}"};
        ExtLayout l;
        HandlerState hs;
        size_t len, before;

        open_beneath_force_fallback(fallback);
        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Planted", "1.0", zip, len, NULL, &rep), 0);
        ext_package_report_done(&rep);
        ext_layout_init(&l, &f->c, NULL);
        assert_int_equal(handler_state_write(&l, "Test.Planted", "1.0", HANDLER_STATE_INSTALLED, NULL), 0);

        /* config -> b/../.. with b -> . : the directory above the handler's, i.e. /var/lib/waagent */
        d = open_in_root(f->c.root_fd, "/var/lib/waagent/Test.Planted-1.0", O_RDONLY | O_DIRECTORY, 0);
        assert_true(d >= 0);
        assert_int_equal(ext_rm_rf_at(d, "config"), 0);
        assert_int_equal(symlinkat(".", d, "b"), 0);
        assert_int_equal(symlinkat("b/../..", d, "config"), 0);
        assert_true(asprintf(&victim, "%s/var/lib/waagent/HandlerState", f->root) > 0);
        before = count_tree(f->root);

        assert_int_equal(handler_state_write(&l, "Test.Planted", "1.0", HANDLER_STATE_ENABLED, NULL),
                         -EXDEV);
        assert_int_equal(handler_ext_state_write(&l, "Test.Planted", "1.0", "inst", true), -EXDEV);
        assert_int_equal(ext_settings_write(&l, "Test.Planted", "1.0", NULL, &set, NULL), -EXDEV);
        assert_int_equal(handler_state_read(&l, "Test.Planted", "1.0", &hs), -EXDEV);
        assert_int_equal(handler_environment_write(&l, "Test.Planted", "1.0", NULL), -EXDEV);
        assert_int_equal(access(victim, F_OK), -1);
        assert_int_equal(count_tree(f->root), before);

        /* a HandlerEnvironment.json symlinked outside is replaced, not written through */
        assert_int_equal(unlinkat(d, "config", 0), 0);
        assert_int_equal(unlinkat(d, "HandlerEnvironment.json", 0), 0);
        assert_int_equal(symlinkat("../../../../etc/passwd", d, "HandlerEnvironment.json"), 0);
        assert_int_equal(handler_environment_write(&l, "Test.Planted", "1.0", NULL), 0);
        {
                struct stat st;
                assert_int_equal(fstatat(d, "HandlerEnvironment.json", &st, AT_SYMLINK_NOFOLLOW), 0);
                assert_true(S_ISREG(st.st_mode));
        }
        open_beneath_force_fallback(false);
}

static void test_agent_writes_beneath(void **state) {
        agent_writes_beneath(*state, false);
}

static void test_agent_writes_beneath_fallback(void **state) {
        agent_writes_beneath(*state, true);
}

/* ---- signatures (§4.11) ---- */

static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn, bool ca) {
        X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        assert_non_null(x);
        X509_set_version(x, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(x), ca ? 1 : 2);
        X509_gmtime_adj(X509_getm_notBefore(x), 0);
        X509_gmtime_adj(X509_getm_notAfter(x), 3600);
        X509_set_pubkey(x, key);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *) cn, -1, -1, 0);
        X509_set_subject_name(x, name);
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
        X509V3_set_ctx(&ctx, issuer ?: x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        assert_true(X509_sign(x, issuer_key, EVP_sha384()) > 0);
        X509_NAME_free(name);
        return x;
}

typedef struct Signer {
        EVP_PKEY *root_key, *key;
        X509 *root, *cert;
        char *root_pem;
} Signer;

static void signer_init(Signer *s, const char *cn) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        long n;

        s->root_key = EVP_RSA_gen(2048);
        s->key = EVP_RSA_gen(2048);
        s->root = make_cert(s->root_key, s->root_key, NULL, cn, true);
        s->cert = make_cert(s->key, s->root_key, s->root, "Test Code Signing", false);
        PEM_write_bio_X509(b, s->root);
        n = BIO_get_mem_data(b, &data);
        s->root_pem = strndup(data, (size_t) n);
        BIO_free(b);
}

static void signer_done(Signer *s) {
        EVP_PKEY_free(s->root_key);
        EVP_PKEY_free(s->key);
        X509_free(s->root);
        X509_free(s->cert);
        free(s->root_pem);
}

/* Detached SignedData with Microsoft's eContentType and sha384, base64 (as in Plugin@encodedSignature). */
static char *sign_zip(Signer *s, const void *zip, size_t len) {
        BIO *in = BIO_new_mem_buf(zip, (int) len);
        CMS_ContentInfo *cms;
        unsigned char *der = NULL;
        char *b64 = NULL;
        ASN1_OBJECT *oid;
        int n;

        cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_DETACHED | CMS_BINARY | CMS_PARTIAL);
        assert_non_null(cms);
        oid = OBJ_txt2obj(EXT_SIGNATURE_CONTENT_TYPE_OID, 1);
        assert_non_null(oid);
        assert_int_equal(CMS_set1_eContentType(cms, oid), 1);
        ASN1_OBJECT_free(oid);
        assert_non_null(CMS_add1_signer(cms, s->cert, s->key, EVP_sha384(), CMS_BINARY));
        assert_int_equal(CMS_final(cms, in, NULL, CMS_DETACHED | CMS_BINARY), 1);
        n = i2d_CMS_ContentInfo(cms, &der);
        assert_true(n > 0);
        assert_int_equal(base64_encode(der, (size_t) n, &b64), 0);
        OPENSSL_free(der);
        CMS_ContentInfo_free(cms);
        BIO_free(in);
        return b64;
}

static void test_signature_verify(void **state) {
        _cleanup_free_ char *dir = test_handler_dir("recorder"), *sig = NULL, *err = NULL, *err2 = NULL;
        _cleanup_free_ void *zip = NULL;
        Signer s = {}, other = {};
        size_t len;

        test_zip_dir(dir, NULL, &zip, &len);
        signer_init(&s, "Test Root");
        signer_init(&other, "Other Root");
        sig = sign_zip(&s, zip, len);

        assert_int_equal(ext_signature_verify(zip, len, sig, s.root_pem, NULL), 0);
        /* another root: the signer is not trusted (told apart from a signature that does not verify) */
        assert_int_equal(ext_signature_verify(zip, len, sig, other.root_pem, &err), -EKEYREJECTED);
        print_message("other root: %s\n", err);
        /* one flipped byte of the zip: "content verify error" in openssl cms terms */
        ((char *) zip)[len / 2] ^= 1;
        assert_int_equal(ext_signature_verify(zip, len, sig, s.root_pem, &err2), -EBADMSG);
        print_message("tampered: %s\n", err2);
        assert_int_equal(ext_signature_verify(zip, len, sig, NULL, NULL), -ENOKEY);
        signer_done(&s);
        signer_done(&other);
}

/*
 * The trust anchor is the managed system's (issue #17 §5): under --root it is read beneath the root, its
 * absolute symlinks resolved inside it, never from the host. The root's /usr/share/azl-agent is a symlink to
 * a host directory holding another anchor (a decoy): the anchor read is the one inside the root, and
 * signatures verify against it only; without one inside the root there is none, whatever the host has.
 */
static void test_signing_root_in_root(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *dir = test_handler_dir("recorder"), *sig = NULL, *pem = NULL, *err = NULL,
                            *link = NULL, *inside = NULL, *none = NULL;
        _cleanup_free_ void *zip = NULL;
        char *host = tmpdir_new();
        Signer s = {}, decoy = {};
        size_t len;

        test_zip_dir(dir, NULL, &zip, &len);
        signer_init(&s, "Root's Root");
        signer_init(&decoy, "Host's Root");
        sig = sign_zip(&s, zip, len);
        write_test_file(host, "microsoft_root_certificate.pem", decoy.root_pem);
        assert_true(asprintf(&link, "%s/usr/share/azl-agent", f->root) > 0);
        write_test_file(f->root, "usr/share/.keep", "");
        assert_int_equal(symlink(host, link), 0);

        /* Only the host has an anchor (through the root's symlink): the root has none. */
        assert_int_equal(ext_signing_root_read(f->c.root_fd, &none), -ENOENT);
        assert_null(none);

        assert_true(asprintf(&inside, "%s/microsoft_root_certificate.pem", host + 1) > 0);
        write_test_file(f->root, inside, s.root_pem);
        assert_int_equal(ext_signing_root_read(f->c.root_fd, &pem), 0);
        assert_string_equal(pem, s.root_pem);
        assert_int_equal(ext_signature_verify(zip, len, sig, pem, NULL), 0);
        assert_int_equal(ext_signature_verify(zip, len, sig, decoy.root_pem, &err), -EKEYREJECTED);

        signer_done(&s);
        signer_done(&decoy);
        tmpdir_remove(host);
}

static void test_signature_modes(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *sig = NULL;
        _cleanup_free_ void *zip = NULL, *bad = NULL;
        ExtPackageReport rep = {};
        Signer s = {};
        size_t len;
        const char *manifest =
                "[{\"name\": \"VMAccessForLinux\", \"version\": 1.0, \"handlerManifest\": "
                "{\"enableCommand\": \"x.sh\"}, \"signingInfo\": {\"type\": \"VMAccessForLinux\", "
                "\"publisher\": \"Microsoft.OSTCExtensions.Edp\", \"version\": \"1.7.0\"}}]";
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = manifest},
                            {.name = "x.sh", .content = "exit 0\n"}};
        const char *name = "Microsoft.OSTCExtensions.Edp.VMAccessForLinux";
        ExtPackageOptions o = {};

        signer_init(&s, "Test Root");
        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        sig = sign_zip(&s, zip, len);
        o = (ExtPackageOptions){.encoded_signature = sig, .signing_root_pem = s.root_pem};

        /* report (default): valid signature + matching signingInfo → package_validated */
        assert_int_equal(f->c.config.signature_mode, SIGNATURE_MODE_REPORT);
        assert_int_equal(extension_package_install_from_zip(&f->c, name, "1.7.0", zip, len, &o, &rep), 0);
        assert_int_equal(rep.signature, EXT_SIGNATURE_VALID);
        assert_int_equal(
                access_in_root(f->c.root_fd,
                               "/var/lib/waagent/Microsoft.OSTCExtensions.Edp.VMAccessForLinux-1.7.0/"
                               "package_validated"),
                0);
        ext_package_report_done(&rep);

        /* signingInfo version mismatch: installed in report mode, not validated */
        assert_int_equal(extension_package_install_from_zip(&f->c, name, "1.8.0", zip, len, &o, &rep), 0);
        assert_int_equal(rep.signature, EXT_SIGNATURE_SIGNING_INFO);
        assert_non_null(strstr(rep.signature_error, "does not match"));
        ext_package_report_done(&rep);

        /* tampered package: report mode installs and says why; enforce mode refuses and writes nothing */
        bad = malloc(len);
        memcpy(bad, zip, len);
        ((char *) bad)[len - 30] ^= 0x55;
        assert_int_equal(extension_package_install_from_zip(&f->c, name, "1.7.1", bad, len, &o, &rep), 0);
        assert_int_equal(rep.signature, EXT_SIGNATURE_BAD);
        assert_non_null(rep.signature_error);
        ext_package_report_done(&rep);

        f->c.config.signature_mode = SIGNATURE_MODE_ENFORCE;
        assert_true(extension_package_install_from_zip(&f->c, name, "1.7.2", bad, len, &o, &rep) < 0);
        assert_true(rep.signature_refused);
        assert_non_null(
                strstr(rep.error, "refused (SignatureValidation=enforce): signature does not verify"));
        /* waagent's enforcing path: PluginInstallProcessingFailed */
        assert_int_equal(rep.code, 1007);
        assert_int_equal(
                access_in_root(f->c.root_fd,
                               "/var/lib/waagent/Microsoft.OSTCExtensions.Edp.VMAccessForLinux-1.7.2"),
                -ENOENT);
        ext_package_report_done(&rep);

        /* enforce, good signature but signingInfo of another version: refused the same way, directory removed */
        assert_true(extension_package_install_from_zip(&f->c, name, "1.8.1", zip, len, &o, &rep) < 0);
        assert_non_null(strstr(rep.error, "signingInfo does not match"));
        assert_int_equal(rep.code, 1007);
        assert_int_equal(
                access_in_root(f->c.root_fd,
                               "/var/lib/waagent/Microsoft.OSTCExtensions.Edp.VMAccessForLinux-1.8.1"),
                -ENOENT);
        ext_package_report_done(&rep);

        /* off: not even looked at */
        f->c.config.signature_mode = SIGNATURE_MODE_OFF;
        assert_int_equal(extension_package_install_from_zip(&f->c, name, "1.7.3", bad, len, &o, &rep), 0);
        assert_int_equal(rep.signature, EXT_SIGNATURE_NOT_CHECKED);
        ext_package_report_done(&rep);
        signer_done(&s);
}

/* The 3×3 table at the package layer: unsigned / tampered / valid × off / report / enforce. Asserted: the return,
 * the state, the code and message of a refusal, and the disk (handler directory, markers, nothing when refused). */
static void test_signature_table(void **state) {
        Fixture *f = *state;
        static const char *const name = "Azl.Test.Signed";
        const char *manifest = "[{\"name\": \"Signed\", \"version\": 1.0, \"handlerManifest\": "
                               "{\"enableCommand\": \"x.sh\"}, \"signingInfo\": {\"type\": \"Signed\", "
                               "\"publisher\": \"Azl.Test\", \"version\": \"1.0.0\"}}]";
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = manifest},
                            {.name = "x.sh", .content = "exit 0\n"}};
        _cleanup_free_ void *zip = NULL, *tampered = NULL;
        _cleanup_free_ char *sig = NULL;
        Signer s = {}, other = {};
        size_t len;

        signer_init(&s, "Table Root");
        signer_init(&other, "Untrusted Root");
        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        sig = sign_zip(&s, zip, len);
        tampered = malloc(len);
        memcpy(tampered, zip, len);
        ((char *) tampered)[len - 30] ^= 0x55;

        static const struct {
                SignatureMode mode;
                int package; /* 0 unsigned, 1 tampered, 2 valid, 3 valid but signer not trusted */
                bool installed;
                ExtSignatureState state;
                int code;
                const char *marker; /* file in the handler directory, NULL: none */
                const char *reason;
        } rows[] = {
                {SIGNATURE_MODE_OFF, 0, true, EXT_SIGNATURE_NOT_CHECKED, 0, NULL, NULL},
                {SIGNATURE_MODE_OFF, 1, true, EXT_SIGNATURE_NOT_CHECKED, 0, NULL, NULL},
                {SIGNATURE_MODE_OFF, 2, true, EXT_SIGNATURE_NOT_CHECKED, 0, NULL, NULL},
                {SIGNATURE_MODE_REPORT, 0, true, EXT_SIGNATURE_NOT_SIGNED, 0, "package_not_validated",
                 "not signed"},
                {SIGNATURE_MODE_REPORT, 1, true, EXT_SIGNATURE_BAD, 0, "package_not_validated",
                 "signature does not verify"},
                {SIGNATURE_MODE_REPORT, 2, true, EXT_SIGNATURE_VALID, 0, "package_validated", NULL},
                {SIGNATURE_MODE_REPORT, 3, true, EXT_SIGNATURE_UNTRUSTED, 0, "package_not_validated",
                 "signer not trusted"},
                {SIGNATURE_MODE_ENFORCE, 0, false, EXT_SIGNATURE_NOT_SIGNED, 1009, NULL, "not signed"},
                {SIGNATURE_MODE_ENFORCE, 1, false, EXT_SIGNATURE_BAD, 1007, NULL,
                 "signature does not verify"},
                {SIGNATURE_MODE_ENFORCE, 2, true, EXT_SIGNATURE_VALID, 0, "package_validated", NULL},
                {SIGNATURE_MODE_ENFORCE, 3, false, EXT_SIGNATURE_UNTRUSTED, 1007, NULL,
                 "signer not trusted"},
        };

        assert_int_equal(mkdir_p_in_root(f->c.root_fd, "/var/lib/waagent", 0755), 0);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                ExtPackageOptions o = {
                        .encoded_signature = rows[i].package == 0 ? NULL : sig,
                        .signing_root_pem = rows[i].package == 3 ? other.root_pem : s.root_pem,
                };
                const char *dir = "/var/lib/waagent/Azl.Test.Signed-1.0.0";
                ExtPackageReport rep = {};
                ExtSignatureState st;
                size_t before = count_tree(f->root);
                int r;

                f->c.config.signature_mode = rows[i].mode;
                r = extension_package_install_from_zip(&f->c, name, "1.0.0",
                                                       rows[i].package == 1 ? tampered : zip, len, &o, &rep);
                print_message("%s × %d: r=%d state '%s' %s\n", signature_mode_to_string(rows[i].mode),
                              rows[i].package, r, ext_signature_state_to_string(rep.signature),
                              strna(rep.error));
                assert_int_equal(rep.signature, rows[i].state);
                if (rows[i].installed) {
                        _cleanup_close_ int d = -EBADF;
                        _cleanup_free_ char *detail = NULL;

                        assert_int_equal(r, 0);
                        assert_false(rep.signature_refused);
                        assert_int_equal(
                                access_in_root(f->c.root_fd, "/var/lib/waagent/Azl.Test.Signed-1.0.0/x.sh"),
                                0);
                        d = open_in_root(f->c.root_fd, dir, O_PATH | O_DIRECTORY, 0);
                        assert_true(d >= 0);
                        /* what a later run reads back: the state, and for report the reason */
                        assert_int_equal(ext_package_signature_read(d, &st, &detail), 0);
                        assert_int_equal(st, rows[i].state);
                        assert_int_equal(faccessat(d, "package_validated", F_OK, AT_SYMLINK_NOFOLLOW) == 0,
                                         rows[i].marker && streq(rows[i].marker, "package_validated"));
                        assert_int_equal(faccessat(d, "package_not_validated", F_OK, AT_SYMLINK_NOFOLLOW) ==
                                                 0,
                                         rows[i].marker && streq(rows[i].marker, "package_not_validated"));
                        if (rows[i].reason)
                                assert_string_equal(ext_signature_state_to_string(st), rows[i].reason);
                        assert_int_equal(ext_rm_rf_at(f->c.root_fd, "var/lib/waagent/Azl.Test.Signed-1.0.0"),
                                         0);
                } else {
                        /* refused before anything was written (or removed again): the tree is as it was */
                        assert_true(r < 0);
                        assert_true(rep.signature_refused);
                        assert_int_equal(rep.code, rows[i].code);
                        assert_non_null(strstr(rep.error, "refused (SignatureValidation=enforce)"));
                        assert_non_null(strstr(rep.error, rows[i].reason));
                        assert_int_equal(access_in_root(f->c.root_fd, dir), -ENOENT);
                        assert_int_equal(count_tree(f->root), before);
                }
                ext_package_report_done(&rep);
        }
        signer_done(&s);
        signer_done(&other);
}

/* A package cannot vouch for itself: files named like the markers that it carries are replaced by the truth. */
static void test_signature_marker_in_package(void **state) {
        Fixture *f = *state;
        TestZipEntry e[] = {{.name = "HandlerManifest.json", .content = "[{\"handlerManifest\": {}}]"},
                            {.name = "package_validated", .content = ""},
                            {.name = "package_not_validated/x", .content = ""}};
        _cleanup_free_ void *zip = NULL;
        _cleanup_close_ int d = -EBADF;
        ExtPackageReport rep = {};
        ExtSignatureState st;
        size_t len;

        test_zip_entries(e, ELEMENTSOF(e), &zip, &len);
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Forged", "1.0", zip, len, NULL, &rep), 0);
        d = open_in_root(f->c.root_fd, "/var/lib/waagent/Test.Forged-1.0", O_PATH | O_DIRECTORY, 0);
        assert_true(d >= 0);
        assert_int_equal(faccessat(d, "package_validated", F_OK, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(ext_package_signature_read(d, &st, NULL), 0);
        assert_int_equal(st, EXT_SIGNATURE_NOT_SIGNED);
        ext_package_report_done(&rep);

        /* off: nothing recorded, and the forged marker is gone all the same */
        f->c.config.signature_mode = SIGNATURE_MODE_OFF;
        assert_int_equal(
                extension_package_install_from_zip(&f->c, "Test.Forged", "1.0", zip, len, NULL, &rep), 0);
        closep(&d);
        d = open_in_root(f->c.root_fd, "/var/lib/waagent/Test.Forged-1.0", O_PATH | O_DIRECTORY, 0);
        assert_int_equal(ext_package_signature_read(d, &st, NULL), 0);
        assert_int_equal(st, EXT_SIGNATURE_NOT_CHECKED);
        ext_package_report_done(&rep);
}

static void interop_vm_access_signature(void **state) {
        _cleanup_free_ char *xml = NULL, *err = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        _cleanup_free_ void *der = NULL;
        Signer s = {};
        size_t len, der_len;
        const unsigned char *p;
        CMS_ContentInfo *cms;
        STACK_OF(X509) * certs;
        char issuer[256] = "";

        xml = fixture_read("wire/ext_conf-vm_access_with_signature.xml", &len);
        assert_int_equal(ext_conf_parse(xml, len, NULL, &gs, NULL), 0);
        assert_int_equal(gs.n_handlers, 1);
        assert_non_null(gs.handlers[0].encoded_signature);
        assert_int_equal(base64_decode(gs.handlers[0].encoded_signature,
                                       strlen(gs.handlers[0].encoded_signature), &der, &der_len),
                         0);
        p = der;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long) der_len);
        assert_non_null(cms);
        {
                char oid[64];
                OBJ_obj2txt(oid, sizeof oid, CMS_get0_eContentType(cms), 1);
                assert_string_equal(oid, EXT_SIGNATURE_CONTENT_TYPE_OID);
        }
        certs = CMS_get1_certs(cms);
        for (int i = 0; i < sk_X509_num(certs); i++) {
                char buf[256];
                X509_NAME_oneline(X509_get_issuer_name(sk_X509_value(certs, i)), buf, sizeof buf);
                if (strstr(buf, "Microsoft Root Certificate Authority 2011"))
                        snprintf(issuer, sizeof issuer, "%s", buf);
        }
        sk_X509_pop_free(certs, X509_free);
        CMS_ContentInfo_free(cms);
        assert_non_null(strstr(issuer, "Microsoft Root Certificate Authority 2011"));

        /* The signed zip (signing/…VMAccessForLinux__1.7.0.zip) is not in the fixtures. Without a root the
         * verification cannot succeed and must say so; another root fails on the certificate chain. */
        assert_int_equal(ext_signature_verify("x", 1, gs.handlers[0].encoded_signature, NULL, &err),
                         -ENOKEY);
        signer_init(&s, "Not Microsoft");
        err = mfree_str(err);
        assert_int_equal(ext_signature_verify("x", 1, gs.handlers[0].encoded_signature, s.root_pem, &err),
                         -EKEYREJECTED);
        print_message("other root: %s\n", err);
        assert_null(strstr(err, "content verify error"));
        signer_done(&s);

        /* The root the package ships (data/microsoft_root_certificate.pem): the real signer chain (Microsoft
         * Corporation <- Microsoft Code Signing PCA 2011 <- root) verifies, so what fails is only the content
         * digest of the zip we do not have. */
        {
                _cleanup_free_ char *path = NULL, *pem = NULL;
                _cleanup_close_ int fd = -EBADF;
                size_t size;

                assert_true(asprintf(&path, "%s/data/microsoft_root_certificate.pem",
                                     getenv("AZL_SOURCE_ROOT") ?: ".") > 0);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                assert_true(fd >= 0);
                assert_int_equal(read_full_fd(fd, 64 * 1024, &pem, &size), 0);
                err = mfree_str(err);
                assert_int_equal(ext_signature_verify("x", 1, gs.handlers[0].encoded_signature, pem, &err),
                                 -EBADMSG);
                print_message("shipped root: %s\n", err);
                assert_non_null(strstr(err, "content verify error"));
        }
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test_setup_teardown(interop_sample_ext_install, setup, teardown),
                cmocka_unit_test(interop_vm_access_signature),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sample_handler_install, setup, teardown),
                cmocka_unit_test(test_handler_environment_real_root),
                cmocka_unit_test(test_settings_format),
                cmocka_unit_test_setup_teardown(test_manifest_in_subdirectory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_manifest_missing, setup, teardown),
                cmocka_unit_test_setup_teardown(test_zip_slip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_zip_slip_nested, setup, teardown),
                cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escaping_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_internal_symlink_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlink_chain_inside_ok, setup, teardown),
                cmocka_unit_test_setup_teardown(test_resolve_beneath, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_writes_beneath, setup, teardown),
                cmocka_unit_test_setup_teardown(test_agent_writes_beneath_fallback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_declared_10gb, setup, teardown),
                cmocka_unit_test_setup_teardown(test_inflates_beyond_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_million_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_a_zip, setup, teardown),
                cmocka_unit_test(test_signature_verify),
                cmocka_unit_test_setup_teardown(test_signing_root_in_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_modes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_table, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signature_marker_in_package, setup, teardown),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
