/* SPDX-License-Identifier: MIT */
/*
 * The "user" step with the real shadow tools (useradd/usermod/groupadd/chpasswd chrooted into the root) on scratch
 * roots: yescrypt hashes, pre-hashed passwords as given, the seed's password scrubbed once applied.
 * Needs root (the tools refuse otherwise, and files are chowned); exits 77 without it.
 */
#include <crypt.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "macro.h"
#include "provisioner.h"
#include "scratch-root.h"
#include "spawn-util.h"
#include "strutil.h"
#include "user.h"

#define PASSWORD "S3cret-Passw0rd!"

typedef struct Fixture {
        char *root;
        Context c;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->root = scratch_root_new();
        scratch_context(&f->c, f->root);
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

static char **fields(const char *line) {
        char **l = NULL;
        const char *p = line;

        /* ':'-separated, keeping empty fields. */
        for (;;) {
                const char *c = strchr(p, ':');

                assert_int_equal(strv_push(&l, strndup(p, c ? (size_t) (c - p) : strlen(p))), 0);
                if (!c)
                        return l;
                p = c + 1;
        }
}

static void check_sudoers(const char *root, const char *expected_line) {
        _cleanup_free_ char *content = scratch_read(root, SUDOERS_DROPIN), *path = NULL, *expect = NULL;
        struct stat st;

        assert_non_null(content);
        assert_true(asprintf(&expect,
                             "# Written by azl-agent for the administrator account provisioned on "
                             "this VM.\n%s\n",
                             expected_line) > 0);
        assert_string_equal(content, expect);
        scratch_stat(root, SUDOERS_DROPIN, &st);
        assert_int_equal(st.st_mode & 07777, 0440);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_gid, 0);
        assert_false(scratch_exists(root, "/etc/sudoers.d/.azl-agent.new"));
        /* The real sudoers parser accepts it. */
        assert_true(asprintf(&path, "%s%s", root, SUDOERS_DROPIN) > 0);
        assert_int_equal(
                spawn_and_wait((char *const[]){(char *) "visudo", (char *) "-c", (char *) "-f", path, NULL},
                               NULL),
                0);
}

static void test_create_with_password(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("azureuser"), .password = strdup(PASSWORD)};
        _cleanup_free_ char *summary = NULL, *pw = NULL, *grp = NULL, *wheel = NULL, *sh = NULL,
                            *bashrc = NULL, *redacted = NULL;
        _cleanup_strv_free_ char **p = NULL, **g = NULL, **w = NULL, **s = NULL;
        struct stat st1, st2, home;

        assert_int_equal(provisioner_user.apply(&f->c, &d, &summary), 1);
        assert_non_null(summary);

        /* /etc/passwd: home, shell; user private group; member of wheel (created as a system group). */
        pw = scratch_db_line(f->root, "/etc/passwd", "azureuser");
        assert_non_null(pw);
        p = fields(pw);
        assert_int_equal(strv_length(p), 7);
        assert_string_equal(p[5], "/home/azureuser");
        assert_string_equal(p[6], "/bin/bash");
        assert_true(atoi(p[2]) >= 1000);
        grp = scratch_db_line(f->root, "/etc/group", "azureuser");
        assert_non_null(grp);
        g = fields(grp);
        assert_string_equal(g[2], p[3]);
        wheel = scratch_db_line(f->root, "/etc/group", "wheel");
        assert_non_null(wheel);
        w = fields(wheel);
        assert_true(atoi(w[2]) < 1000);
        assert_string_equal(w[3], "azureuser");

        /* /etc/shadow: a yescrypt hash that verifies against the password. */
        sh = scratch_db_line(f->root, "/etc/shadow", "azureuser");
        assert_non_null(sh);
        s = fields(sh);
        assert_true(startswith(s[1], "$y$"));
        assert_string_equal(crypt(PASSWORD, s[1]), s[1]);
        assert_string_not_equal(crypt("wrong", s[1]), s[1]);

        /* Home from the root's own skel, owned by the user. */
        bashrc = scratch_read(f->root, "/home/azureuser/.bashrc");
        assert_string_equal(bashrc, "# scratch skel\n");
        scratch_stat(f->root, "/home/azureuser", &home);
        assert_int_equal(home.st_uid, (uid_t) atoi(p[2]));

        check_sudoers(f->root, "azureuser ALL=(ALL) ALL");

        /* The password was registered as a secret. */
        redacted = log_redact("pw=" PASSWORD);
        assert_string_equal(redacted, "pw=***");

        /* Second run: nothing to do, nothing touched. */
        scratch_stat(f->root, "/etc/shadow", &st1);
        scratch_stat(f->root, SUDOERS_DROPIN, &home);
        free(summary);
        summary = NULL;
        assert_int_equal(provisioner_user.apply(&f->c, &d, &summary), 0);
        scratch_stat(f->root, "/etc/shadow", &st2);
        assert_int_equal(st1.st_ino, st2.st_ino);
        assert_int_equal(st1.st_mtim.tv_sec, st2.st_mtim.tv_sec);
        assert_int_equal(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
        scratch_stat(f->root, SUDOERS_DROPIN, &st2);
        assert_int_equal(home.st_ino, st2.st_ino);
        assert_int_equal(home.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);

        provision_data_done(&d);
}

static void test_no_password_locked(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("keyonly")};
        _cleanup_free_ char *sh = NULL, *sh2 = NULL;
        _cleanup_strv_free_ char **s = NULL;

        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        sh = scratch_db_line(f->root, "/etc/shadow", "keyonly");
        assert_non_null(sh);
        s = fields(sh);
        assert_true(s[1][0] == '!');
        check_sudoers(f->root, "keyonly ALL=(ALL) NOPASSWD:ALL");

        /* Now with a password: the existing account is updated, not recreated. */
        d.password = strdup(PASSWORD);
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        sh2 = scratch_db_line(f->root, "/etc/shadow", "keyonly");
        strv_free(s);
        s = fields(sh2);
        assert_string_equal(crypt(PASSWORD, s[1]), s[1]);
        check_sudoers(f->root, "keyonly ALL=(ALL) ALL");

        /* And back to no password: locked again (usermod -L keeps the hash behind a '!'). */
        erase_and_free(d.password);
        d.password = NULL;
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        free(sh2);
        sh2 = scratch_db_line(f->root, "/etc/shadow", "keyonly");
        strv_free(s);
        s = fields(sh2);
        assert_true(s[1][0] == '!');
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 0);
        provision_data_done(&d);
}

static void test_existing_user_gets_groups(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("preexisting")};
        _cleanup_free_ char *before = NULL, *after = NULL, *adm = NULL;
        _cleanup_strv_free_ char **a = NULL;

        assert_int_equal(spawn_and_wait((char *const[]){(char *) "useradd", (char *) "--prefix", f->root,
                                                        (char *) "-m", (char *) "preexisting", NULL},
                                        NULL),
                         0);
        before = scratch_db_line(f->root, "/etc/passwd", "preexisting");
        strv_free(f->c.config.admin_groups);
        f->c.config.admin_groups = NULL;
        assert_int_equal(strv_extend(&f->c.config.admin_groups, "wheel"), 0);
        assert_int_equal(strv_extend(&f->c.config.admin_groups, "azladmins"), 0);
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        after = scratch_db_line(f->root, "/etc/passwd", "preexisting");
        assert_string_equal(before, after); /* same UID, home, shell: not recreated */
        adm = scratch_db_line(f->root, "/etc/group", "azladmins");
        assert_non_null(adm);
        a = fields(adm);
        assert_string_equal(a[3], "preexisting");
        provision_data_done(&d);
}

static void test_bad_names(void **state) {
        static const char *const names[] = {
                "root",     "daemon",
                "nobody",   "systemd-network",
                "Admin",    "9lives",
                "a b",      "a:b",
                "",         "abcdefghijabcdefghijabcdefghijabc", /* 33 */
                "bad$name", "-dash",
        };
        Fixture *f = *state;
        _cleanup_free_ char *passwd = scratch_read(f->root, "/etc/passwd");
        _cleanup_free_ char *group = scratch_read(f->root, "/etc/group");

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                ProvisionData d = {.username = strdup(names[i])};
                _cleanup_free_ char *p = NULL, *g = NULL;
                int r = provisioner_user.apply(&f->c, &d, NULL);

                assert_true(r == -EINVAL || r == -EPERM);
                p = scratch_read(f->root, "/etc/passwd");
                g = scratch_read(f->root, "/etc/group");
                assert_string_equal(p, passwd);
                assert_string_equal(g, group);
                assert_false(scratch_exists(f->root, SUDOERS_DROPIN));
                provision_data_done(&d);
        }
        assert_true(user_name_is_valid("machine$"));
        assert_true(user_name_is_valid("_svc"));
        assert_true(user_name_is_valid("abcdefghijabcdefghijabcdefghijab")); /* 32 */
}

static void test_system_account_refused(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("legacysvc")};
        _cleanup_free_ char *group = NULL, *after = NULL;

        assert_int_equal(spawn_and_wait((char *const[]){(char *) "useradd", (char *) "--prefix", f->root,
                                                        (char *) "-r", (char *) "legacysvc", NULL},
                                        NULL),
                         0);
        group = scratch_read(f->root, "/etc/group");
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), -EPERM);
        assert_false(scratch_exists(f->root, SUDOERS_DROPIN));
        after = scratch_read(f->root, "/etc/group");
        assert_string_equal(group, after); /* no "wheel" created either */
        provision_data_done(&d);
}

/* A hash made here with libxcrypt, for the pre-hashed cases. */
static char *make_hash(const char *prefix, const char *password) {
        _cleanup_free_ char *salt = crypt_gensalt_ra(prefix, 0, NULL, 0);
        char *h;

        assert_non_null(salt);
        h = strdup(crypt(password, salt));
        assert_non_null(h);
        return h;
}

static void test_password_is_hash(void **state) {
        _cleanup_free_ char *y = make_hash("$y$", "pw"), *six = make_hash("$6$", "pw"),
                            *md5 = make_hash("$1$", "pw"), *cut = NULL, *colon = NULL, *nl = NULL;

        assert_true(user_password_is_hash(y));
        assert_true(user_password_is_hash(six));
        assert_false(user_password_is_hash(md5)); /* only $y$ and $6$ */
        cut = strndup(y, strlen(y) - 5);          /* a truncated hash */
        assert_false(user_password_is_hash(cut));
        assert_false(user_password_is_hash("$y$j9T$salt$")); /* a setting, no hash */
        assert_true(asprintf(&colon, "%s:0", six) > 0);
        assert_false(user_password_is_hash(colon)); /* would split the shadow/chpasswd line */
        assert_true(asprintf(&nl, "%s\nroot::0", y) > 0);
        assert_false(user_password_is_hash(nl));
        assert_false(user_password_is_hash("S3cret-Passw0rd!"));
        assert_false(user_password_is_hash(""));
        assert_false(user_password_is_hash(NULL));
}

/* Pre-hashed passwords (cloud-config passwd:) are set exactly as given, through chpasswd -e in the root. */
static void test_prehashed(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("prehashed")};
        _cleanup_free_ char *y = make_hash("$y$", PASSWORD), *six = make_hash("$6$", PASSWORD), *err = NULL,
                            *shadow = NULL, *after = NULL;
        _cleanup_strv_free_ char **s = NULL;

        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        for (const char *h = six; h; h = h == six ? y : NULL) {
                _cleanup_free_ char *line = NULL;

                assert_int_equal(user_set_password_hash(&f->c, "prehashed", h, &err), 1);
                line = scratch_db_line(f->root, "/etc/shadow", "prehashed");
                strv_free(s);
                s = fields(line);
                assert_string_equal(s[1], h);
                assert_int_equal(user_set_password_hash(&f->c, "prehashed", h, &err), 0);
        }
        shadow = scratch_read(f->root, "/etc/shadow");
        assert_int_equal(user_set_password_hash(&f->c, "prehashed", "$1$abc$def", &err), -EINVAL);
        assert_int_equal(user_set_password_hash(&f->c, "prehashed", PASSWORD, &err), -EINVAL);
        after = scratch_read(f->root, "/etc/shadow");
        assert_string_equal(shadow, after);
        /* The hash is registered as a secret: no log line can carry it. */
        free(after);
        after = log_redact(y);
        assert_string_equal(after, "***");
        provision_data_done(&d);
}

#define SEED_PATH "/var/lib/azl-agent/seed/ovf-env.xml"
#define SEED_DOC(pw)                                                                                        \
        "<Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\" "                                 \
        "xmlns:wa=\"http://schemas.microsoft.com/windowsazure\"><wa:ProvisioningSection>"                   \
        "<wa:LinuxProvisioningConfigurationSet><wa:UserName>seeded</wa:UserName>"                           \
        "<wa:UserPassword>" pw "</wa:UserPassword></wa:LinuxProvisioningConfigurationSet>"                  \
        "</wa:ProvisioningSection></Environment>\n"

/* Once applied, the password leaves the seed copy; a run from the scrubbed seed keeps it (never locks it). */
static void test_seed_scrubbed(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.username = strdup("seeded"), .password = strdup(PASSWORD)};
        _cleanup_free_ char *seed = NULL, *summary = NULL, *line = NULL, *line2 = NULL;
        struct stat st;

        write_test_file(f->root, SEED_PATH, SEED_DOC(PASSWORD));
        assert_int_equal(provisioner_user.apply(&f->c, &d, &summary), 1);
        assert_non_null(strstr(summary, "seed copy scrubbed"));
        seed = scratch_read(f->root, SEED_PATH);
        assert_null(strstr(seed, PASSWORD));
        assert_non_null(strstr(seed, "scrubbed-by=\"azl-agent\""));
        assert_non_null(strstr(seed, "UserName>seeded<"));
        scratch_stat(f->root, SEED_PATH, &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        line = scratch_db_line(f->root, "/etc/shadow", "seeded");

        /* The next run reads the scrubbed seed: no password, but "scrubbed": the account keeps its password
         * and sudo still asks for it. */
        erase_and_free(d.password);
        d.password = NULL;
        d.password_scrubbed = true;
        free(summary);
        summary = NULL;
        assert_int_equal(provisioner_user.apply(&f->c, &d, &summary), 0);
        assert_non_null(strstr(summary, "password kept"));
        line2 = scratch_db_line(f->root, "/etc/shadow", "seeded");
        assert_string_equal(line, line2);
        check_sudoers(f->root, "seeded ALL=(ALL) ALL");
        provision_data_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_create_with_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_password_locked, setup, teardown),
                cmocka_unit_test_setup_teardown(test_existing_user_gets_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_account_refused, setup, teardown),
                cmocka_unit_test(test_password_is_hash),
                cmocka_unit_test_setup_teardown(test_prehashed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_seed_scrubbed, setup, teardown),
        };

        require_root_or_skip("useradd --prefix and chown");
        require_program_or_skip("useradd");
        require_program_or_skip("visudo");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
