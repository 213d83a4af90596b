/* SPDX-License-Identifier: MIT */
/*
 * provisioners/wsl-setup.c: the pure parts (finding a regular user in /etc/passwd, the /etc/wsl.conf editor,
 * the user-name suggestion, line reading from a pipe) always; wsl_setup_user() with the real shadow tools on
 * scratch roots (creation, and the rollback when a later step fails) only as root, skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "passwd-util.h"
#include "scratch-root.h"
#include "strutil.h"
#include "user.h"
#include "wsl-setup.h"

/* ---- /etc/passwd */

static void test_regular_user(void **state) {
        static const char system_only[] = "root:x:0:0:root:/root:/bin/bash\n"
                                          "daemon:x:1:1::/:/usr/sbin/nologin\n"
                                          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                                          "nfsnobody:x:65534:65534::/:/sbin/nologin\n"
                                          "sub:x:100000:100000::/:/sbin/nologin\n"
                                          "+nis:x:1000:1000::/:/bin/sh\n"
                                          "broken:x:1000\n"
                                          "also-broken:x:abc:1000::/:/bin/sh\n"
                                          ":x:1000:1000::/:/bin/sh\n"
                                          "nobody:x:1500:1500::/:/bin/sh\n"
                                          "x:x:999:999::/:/bin/sh";
        static const char with_user[] = "root:x:0:0:root:/root:/bin/bash\n"
                                        "nobody:x:65534:65534::/:/sbin/nologin\n"
                                        "alice:x:1000:1000::/home/alice:/bin/bash\n"
                                        "bob:x:1001:1001::/home/bob:/bin/bash\n";
        _cleanup_free_ char *name = NULL;
        uid_t uid = 0;

        (void) state;
        assert_int_equal(wsl_passwd_find_regular_user(system_only, strlen(system_only), &name, &uid), 0);
        assert_null(name);
        assert_int_equal(wsl_passwd_find_regular_user("", 0, &name, &uid), 0);
        assert_int_equal(wsl_passwd_find_regular_user(with_user, strlen(with_user), &name, &uid), 1);
        assert_string_equal(name, "alice");
        assert_int_equal(uid, 1000);
        /* Last line without newline, UID at the upper bound − 1. */
        assert_int_equal(wsl_passwd_find_regular_user("z:x:59999:1::/:/bin/sh", 22, NULL, &uid), 1);
        assert_int_equal(uid, 59999);
        assert_int_equal(wsl_passwd_find_regular_user("z:x:60000:1::/:/bin/sh", 22, NULL, NULL), 0);
}

/* ---- /etc/wsl.conf */

static void check_conf(const char *in, const char *name, const char *want) {
        _cleanup_free_ char *out = NULL;

        assert_int_equal(wsl_conf_set_default_user(in, strlen(in), name, &out), 0);
        assert_string_equal(out, want);
}

static void test_conf_edit(void **state) {
        (void) state;
        /* No file, empty file. */
        check_conf("", "alice", "[user]\ndefault=alice\n");
        /* The image's file: everything kept, [user] appended after one blank line. */
        check_conf("# SPDX\n#\n\n[boot]\nsystemd=true\n", "alice",
                   "# SPDX\n#\n\n[boot]\nsystemd=true\n\n[user]\ndefault=alice\n");
        /* No trailing newline; already ends in a blank line. */
        check_conf("[boot]\nsystemd=true", "alice", "[boot]\nsystemd=true\n\n[user]\ndefault=alice\n");
        check_conf("[boot]\nsystemd=true\n\n", "alice", "[boot]\nsystemd=true\n\n[user]\ndefault=alice\n");
        /* An existing default is replaced in place, other keys and sections and comments stay. */
        check_conf("[boot]\nsystemd=true\n[user]\n# who\ndefault = bob\nother=1\n[network]\nhostname=x\n",
                   "alice",
                   "[boot]\nsystemd=true\n[user]\n# who\ndefault=alice\nother=1\n[network]\nhostname=x\n");
        /* Case-insensitive names, duplicates and a second [user] section: one key remains. */
        check_conf("[User]\nDefault=bob\n[boot]\ndefault=keep\n[user]\ndefault=carol\n", "alice",
                   "[User]\ndefault=alice\n[boot]\ndefault=keep\n[user]\n");
        /* A [user] section without default: the key goes right after the header. */
        check_conf("[user]\nfoo=bar\n[boot]\nsystemd=true\n", "alice",
                   "[user]\ndefault=alice\nfoo=bar\n[boot]\nsystemd=true\n");
        check_conf("[boot]\n[user]", "alice", "[boot]\n[user]\ndefault=alice\n");
        /* "default" outside [user], commented out, or a longer key name are not ours. */
        check_conf("[boot]\ndefault=x\n[user]\n#default=old\ndefaults=1\n", "alice",
                   "[boot]\ndefault=x\n[user]\ndefault=alice\n#default=old\ndefaults=1\n");
        /* CRLF lines are kept as they are. */
        check_conf("[user]\r\ndefault=bob\r\n", "alice", "[user]\r\ndefault=alice\n");
        /* Idempotent. */
        check_conf("[boot]\nsystemd=true\n\n[user]\ndefault=alice\n", "alice",
                   "[boot]\nsystemd=true\n\n[user]\ndefault=alice\n");
}

static void test_conf_errors(void **state) {
        char *out = (char *) 0x1234;

        (void) state;
        assert_int_equal(wsl_conf_set_default_user("", 0, "Bad Name", &out), -EINVAL);
        assert_int_equal(wsl_conf_set_default_user("", 0, "", &out), -EINVAL);
        assert_int_equal(wsl_conf_set_default_user("a\0b", 3, "alice", &out), -EBADMSG);
        assert_ptr_equal(out, (char *) 0x1234); /* untouched on error */
}

/* ---- suggestion, line reading */

static void test_suggestion(void **state) {
        _cleanup_close_ int root_fd = -EBADF;
        char *dir = tmpdir_new();
        char *s = NULL;

        (void) state;
        write_test_file(dir, "etc/passwd", "root:x:0:0::/root:/bin/bash\njohn:x:1001:1001::/:/bin/sh\n");
        write_test_file(dir, "etc/group", "root:x:0:\nadmins:x:10:\n");
        assert_int_equal(root_open(dir, &root_fd), 0);

        assert_int_equal(wsl_suggest_user_name(root_fd, (char *[]){(char *) "USERNAME=Jane", NULL}, &s), 0);
        assert_null(s); /* not forwarded through WSLENV: may be anyone's */
        assert_int_equal(wsl_suggest_user_name(root_fd, NULL, &s), 0);
        assert_int_equal(wsl_suggest_user_name(root_fd,
                                               (char *[]){(char *) "WSLENV=WT_SESSION:USERNAME/u:X",
                                                          (char *) "USERNAME=Jane Doe", NULL},
                                               &s),
                         1);
        assert_string_equal(s, "jane_doe");
        free(s);
        s = NULL;
        assert_int_equal(
                wsl_suggest_user_name(
                        root_fd, (char *[]){(char *) "WSLENV=USERNAME", (char *) "USERNAME=JOHN", NULL}, &s),
                0); /* exists */
        assert_int_equal(wsl_suggest_user_name(
                                 root_fd,
                                 (char *[]){(char *) "WSLENV=USERNAME", (char *) "USERNAME=Admins", NULL},
                                 &s),
                         0); /* a group of that name */
        assert_int_equal(wsl_suggest_user_name(
                                 root_fd,
                                 (char *[]){(char *) "WSLENV=USERNAMES", (char *) "USERNAME=jane", NULL},
                                 &s),
                         0);
        assert_int_equal(wsl_suggest_user_name(
                                 root_fd,
                                 (char *[]){(char *) "WSLENV=USERNAME/p", (char *) "USERNAME=Jürgen", NULL},
                                 &s),
                         0); /* not a valid name after lower-casing: no suggestion */
        assert_int_equal(wsl_check_new_user_name(root_fd, "root"), -EPERM);
        assert_int_equal(wsl_check_new_user_name(root_fd, "9x"), -EINVAL);
        assert_int_equal(wsl_check_new_user_name(root_fd, "john"), -EEXIST);
        assert_int_equal(wsl_check_new_user_name(root_fd, "admins"), -EEXIST);
        assert_int_equal(wsl_check_new_user_name(root_fd, "jane"), 0);
        tmpdir_remove(dir);
}

static void test_read_line(void **state) {
        static const char input[] = "alice\nsecret\r\nlast";
        int p[2];

        (void) state;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], input, sizeof(input) - 1), (ssize_t) sizeof(input) - 1);
        assert_int_equal(close(p[1]), 0);
        for (size_t i = 0; i < 3; i++) {
                static const char *const want[] = {"alice", "secret", "last"};
                _cleanup_erase_ char *line = NULL;

                assert_int_equal(wsl_read_line(p[0], 16, &line), 0);
                assert_string_equal(line, want[i]);
        }
        {
                char *line = (char *) 0x1234;

                assert_int_equal(wsl_read_line(p[0], 16, &line), -ECANCELED);
                assert_ptr_equal(line, (char *) 0x1234);
        }
        assert_int_equal(close(p[0]), 0);

        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        assert_int_equal(write(p[1], "0123456789\nok\n", 14), 14);
        assert_int_equal(close(p[1]), 0);
        {
                _cleanup_erase_ char *line = NULL;

                assert_int_equal(wsl_read_line(p[0], 4, &line), -E2BIG);
                /* The rest of the long line was consumed. */
                assert_int_equal(wsl_read_line(p[0], 4, &line), 0);
                assert_string_equal(line, "ok");
        }
        assert_int_equal(close(p[0]), 0);
}

/* ---- wsl_setup_user on scratch roots (root only) */

typedef struct Fixture {
        char *root;
        Context c;
} Fixture;

/* Removes the lines of regular users (UID ≥ 1000 but nobody) and their private groups from the copies of the
 * host's account databases, as on a fresh WSL image. */
static void strip_regular_users(const char *root) {
        static const char *const dbs[] = {"etc/passwd", "etc/shadow", "etc/group", "etc/gshadow"};
        _cleanup_strv_free_ char **names = NULL;
        _cleanup_free_ char *passwd = scratch_read(root, "etc/passwd");
        _cleanup_close_ int root_fd = -EBADF;

        assert_non_null(passwd);
        for (char *line = strtok(passwd, "\n"); line; line = strtok(NULL, "\n")) {
                _cleanup_strv_free_ char **f = NULL;
                unsigned uid;

                assert_int_equal(strv_split(line, ":", &f), 0);
                if (strv_length(f) >= 3 && safe_atou(f[2], &uid) >= 0 && uid >= 1000 && uid < 60000)
                        assert_int_equal(strv_extend(&names, f[0]), 0);
        }
        assert_int_equal(root_open(root, &root_fd), 0);
        for (size_t i = 0; i < ELEMENTSOF(dbs); i++) {
                _cleanup_free_ char *buf = scratch_read(root, dbs[i]), *out = NULL;
                struct stat st;

                if (!buf)
                        continue;
                out = calloc(1, strlen(buf) + 1);
                assert_non_null(out);
                scratch_stat(root, dbs[i], &st);
                for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
                        size_t n = strcspn(line, ":");
                        bool drop = false;

                        for (char **u = names; u && *u; u++)
                                drop = drop || (strlen(*u) == n && strncmp(*u, line, n) == 0);
                        if (!drop) {
                                strcat(out, line);
                                strcat(out, "\n");
                        }
                }
                assert_int_equal(write_file_atomic_in_root(root_fd, dbs[i], out, strlen(out),
                                                           st.st_mode & 07777, st.st_uid, st.st_gid, 0),
                                 0);
        }
}

static int setup(void **state) {
        Fixture *f;

        *state = NULL;
        if (geteuid() != 0) /* the host's /etc/shadow is not readable: the test skips itself */
                return 0;
        f = calloc(1, sizeof *f);

        f->root = scratch_root_new();
        strip_regular_users(f->root);
        write_test_file(f->root, "etc/wsl.conf", "# image\n[boot]\nsystemd=true\n");
        scratch_context(&f->c, f->root);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        if (!f)
                return 0;
        context_done(&f->c);
        tmpdir_remove(f->root);
        free(f);
        return 0;
}

static void skip_unless_root(void) {
        if (geteuid() != 0)
                skip();
}

static void test_setup_user(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *summary = NULL, *line = NULL, *conf = NULL, *sudoers = NULL, *name = NULL;
        _cleanup_erase_ char *hash = NULL;
        uid_t uid;

        skip_unless_root();
        assert_int_equal(wsl_find_regular_user(f->c.root_fd, NULL, NULL), 0);
        assert_int_equal(wsl_setup_user(&f->c, "alice", "S3cret-pw", &summary), 0);
        assert_non_null(strstr(summary, "user 'alice' (UID 1000"));
        assert_int_equal(wsl_find_regular_user(f->c.root_fd, &name, &uid), 1);
        assert_string_equal(name, "alice");
        assert_int_equal(uid, 1000);
        line = scratch_db_line(f->root, "etc/passwd", "alice");
        assert_non_null(strstr(line, ":1000:1000::/home/alice:/bin/bash"));
        free(line);
        line = scratch_db_line(f->root, "etc/group", "wheel");
        assert_non_null(strstr(line, "alice"));
        assert_int_equal(shadow_find_hash_in_root(f->c.root_fd, "alice", &hash), 0);
        assert_true(startswith(hash, "$y$"));
        assert_true(user_password_matches("S3cret-pw", hash));
        conf = scratch_read(f->root, "etc/wsl.conf");
        assert_string_equal(conf, "# image\n[boot]\nsystemd=true\n\n[user]\ndefault=alice\n");
        sudoers = scratch_read(f->root, "etc/sudoers.d/azl-agent");
        assert_non_null(strstr(sudoers, "alice ALL=(ALL) ALL\n"));
        assert_true(scratch_exists(f->root, "home/alice"));
        /* A second user is refused by name checks only if it exists; the verb never gets here. */
        assert_int_equal(wsl_setup_user(&f->c, "alice", NULL, NULL), -EEXIST);
}

static void test_setup_no_password(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *sudoers = NULL;
        _cleanup_erase_ char *hash = NULL;

        skip_unless_root();
        assert_int_equal(wsl_setup_user(&f->c, "carol", NULL, NULL), 0);
        assert_int_equal(shadow_find_hash_in_root(f->c.root_fd, "carol", &hash), 0);
        assert_true(hash[0] == '!' || hash[0] == '*');
        sudoers = scratch_read(f->root, "etc/sudoers.d/azl-agent");
        assert_non_null(strstr(sudoers, "carol ALL=(ALL) NOPASSWD:ALL\n"));
}

/* A failure after useradd (here: /etc/wsl.conf cannot be replaced) removes the user again. */
static void test_rollback(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *passwd_before = NULL, *passwd_after = NULL, *group_after = NULL;

        skip_unless_root();
        assert_int_equal(unlink_in_root(f->c.root_fd, "/etc/wsl.conf"), 0);
        assert_int_equal(mkdir_p_in_root(f->c.root_fd, "/etc/wsl.conf/not-a-file", 0755), 0);
        passwd_before = scratch_read(f->root, "etc/passwd");

        assert_true(wsl_setup_user(&f->c, "dave", "S3cret-pw", NULL) < 0);
        passwd_after = scratch_read(f->root, "etc/passwd");
        assert_string_equal(passwd_before, passwd_after);
        assert_null(scratch_db_line(f->root, "etc/shadow", "dave"));
        group_after = scratch_db_line(f->root, "etc/group", "dave");
        assert_null(group_after);
        assert_false(scratch_exists(f->root, "home/dave"));
        assert_false(scratch_exists(f->root, "etc/sudoers.d/azl-agent"));
        assert_int_equal(wsl_find_regular_user(f->c.root_fd, NULL, NULL), 0);
}

/* A failure inside the user provisioner (sudoers.d is a file) also leaves nothing behind. */
static void test_rollback_sudoers(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *conf = NULL;

        skip_unless_root();
        {
                _cleanup_free_ char *p = NULL;

                assert_true(asprintf(&p, "%s/etc/sudoers.d", f->root) > 0);
                assert_int_equal(rmdir(p), 0);
        }
        write_test_file(f->root, "etc/sudoers.d", "not a directory\n");
        assert_true(wsl_setup_user(&f->c, "erin", NULL, NULL) < 0);
        assert_null(scratch_db_line(f->root, "etc/passwd", "erin"));
        assert_false(scratch_exists(f->root, "home/erin"));
        conf = scratch_read(f->root, "etc/wsl.conf");
        assert_string_equal(conf, "# image\n[boot]\nsystemd=true\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_regular_user),
                cmocka_unit_test(test_conf_edit),
                cmocka_unit_test(test_conf_errors),
                cmocka_unit_test(test_suggestion),
                cmocka_unit_test(test_read_line),
                cmocka_unit_test_setup_teardown(test_setup_user, setup, teardown),
                cmocka_unit_test_setup_teardown(test_setup_no_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_sudoers, setup, teardown),
        };

        log_set_max_level(LOG_DEBUG);
        if (geteuid() == 0) {
                require_program_or_skip("useradd");
                require_program_or_skip("userdel");
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
