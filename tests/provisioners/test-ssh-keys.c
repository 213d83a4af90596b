/* SPDX-License-Identifier: MIT */
/* Pure SSH helpers: key validation, authorized_keys merging, key path confinement, sshd drop-in bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "macro.h"
#include "provisioner.h"
#include "ssh.h"
#include "test-keys.h"
#include "tests.h"

static void test_normalize_valid(void **state) {
        static const char *const keys[] = {
                KEY_ED25519, KEY_ECDSA256, KEY_ECDSA384, KEY_ECDSA521, KEY_RSA, KEY_SK_ED25519,
        };

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *n = NULL;

                assert_int_equal(ssh_key_normalize(keys[i], &n), 0);
                assert_string_equal(n, keys[i]);
        }
}

static void test_normalize_cleanup(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

        /* CRLF inside and around the key (IMDS keyData pasted from Windows, cloud-init LP #1910835). */
        assert_int_equal(
                ssh_key_normalize("  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEa6d6w+pAnPZ3WeGUinoyZ0E1Bv\r\n"
                                  "VAYwMPrxXK2QCejh user@ed25519\r\n",
                                  &a),
                0);
        assert_string_equal(a, KEY_ED25519);
        /* Without a comment; extra blanks collapse. */
        assert_int_equal(ssh_key_normalize("ssh-ed25519\t " KEY_ED25519_BLOB "  ", &b), 0);
        assert_string_equal(b, "ssh-ed25519 " KEY_ED25519_BLOB);
        /* A comment with spaces is kept. */
        assert_int_equal(ssh_key_normalize("ssh-ed25519 " KEY_ED25519_BLOB " Jane Doe's laptop", &c), 0);
        assert_string_equal(c, "ssh-ed25519 " KEY_ED25519_BLOB " Jane Doe's laptop");
}

static void test_normalize_invalid(void **state) {
        static const struct {
                const char *key;
                int error;
        } bad[] = {
                {KEY_DSA, -EPROTONOSUPPORT},
                {"ssh-foo AAAAB3NzaC1yc2E=", -EPROTONOSUPPORT},
                {"", -EINVAL},
                {"ssh-ed25519", -EINVAL},
                {"hello world", -EINVAL},
                {"ssh-rsa AAAANOTAREALKEY== foo@bar.local", -EINVAL}, /* the ovf-env fixtures' key */
                {"ssh-rsa " KEY_ED25519_BLOB, -EINVAL},               /* blob says ssh-ed25519 */
                {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEa6d6w+pAnP!", -EINVAL},
                {"no-pty " KEY_ED25519, -EINVAL}, /* options are not accepted */
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *n = NULL;

                assert_int_equal(ssh_key_normalize(bad[i].key, &n), bad[i].error);
                assert_null(n);
        }
}

static void test_identity(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        char *c = NULL;

        assert_int_equal(ssh_key_identity(KEY_ED25519, &a), 0);
        assert_string_equal(a, "ssh-ed25519 " KEY_ED25519_BLOB);
        assert_int_equal(ssh_key_identity("command=\"echo hi\",no-pty " KEY_ED25519, &b), 0);
        assert_string_equal(b, a);
        assert_int_equal(ssh_key_identity("# comment", &c), -ENOENT);
        assert_int_equal(ssh_key_identity("   ", &c), -ENOENT);
        assert_null(c);
}

/* A key and its normalized form are the same key, CRs inside included (fuzz-ssh-key). */
static void test_identity_of_normalized(void **state) {
        static const char raw[] =
                "\rssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEa6d6w+pAnPZ3WeGUin\r\royZ0E1BvVAYwMPrxXK2QCejh x";
        _cleanup_free_ char *norm = NULL, *a = NULL, *b = NULL;

        assert_int_equal(ssh_key_normalize(raw, &norm), 0);
        assert_int_equal(ssh_key_identity(raw, &a), 0);
        assert_int_equal(ssh_key_identity(norm, &b), 0);
        assert_string_equal(a, b);
        assert_string_equal(b, "ssh-ed25519 " KEY_ED25519_BLOB);
}

static void test_merge(void **state) {
        _cleanup_free_ char *out = NULL, *out2 = NULL, *out3 = NULL;
        char *none = NULL;
        char *keys[] = {(char *) KEY_ED25519, (char *) KEY_RSA, (char *) KEY_ED25519, NULL};
        char *again[] = {(char *) "ssh-ed25519 " KEY_ED25519_BLOB " other comment", NULL};

        /* Into nothing: duplicates dropped. */
        assert_int_equal(ssh_authorized_keys_merge(NULL, keys, &out), 1);
        assert_string_equal(out, KEY_ED25519 "\n" KEY_RSA "\n");
        /* The same key with another comment is already present. */
        assert_int_equal(ssh_authorized_keys_merge(out, again, &none), 0);
        assert_null(none);
        /* Existing bytes (comments, options, no final newline) are kept. */
        assert_int_equal(ssh_authorized_keys_merge("# mine\nno-pty " KEY_ECDSA256, keys, &out2), 1);
        assert_string_equal(out2, "# mine\nno-pty " KEY_ECDSA256 "\n" KEY_ED25519 "\n" KEY_RSA "\n");
        assert_int_equal(ssh_authorized_keys_merge("no-pty " KEY_RSA "\n", keys, &out3), 1);
        assert_string_equal(out3, "no-pty " KEY_RSA "\n" KEY_ED25519 "\n");
        /* A file with CRLF line ends (edited on Windows) holds the same keys: nothing is added twice. */
        assert_int_equal(ssh_authorized_keys_merge("ssh-ed25519 " KEY_ED25519_BLOB "\r\n" KEY_RSA "\r\n",
                                                   keys, &none),
                         0);
        assert_null(none);
}

static void test_path(void **state) {
        static const struct {
                const char *path;
                const char *rel;
        } ok[] = {
                {NULL, ".ssh/authorized_keys"},
                {"", ".ssh/authorized_keys"},
                {"/home/azureuser/.ssh/authorized_keys", ".ssh/authorized_keys"},
                {"$HOME/azureuser/.ssh/authorized_keys", ".ssh/authorized_keys"},
                {"~/.ssh/authorized_keys2", ".ssh/authorized_keys2"},
                {".ssh/other", ".ssh/other"},
                {"/home//azureuser/./.ssh//authorized_keys", ".ssh/authorized_keys"},
        };
        static const char *const bad[] = {
                "/root/.ssh/authorized_keys",
                "/home/azureuser",
                "/home/azureuser2/.ssh/authorized_keys",
                "/home/azureuser/../other/.ssh/authorized_keys",
                "$HOME/other/.ssh/authorized_keys",
                "/etc/ssh/authorized_keys",
                "../../etc/shadow",
        };

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                _cleanup_free_ char *rel = NULL;

                assert_int_equal(ssh_key_path_resolve(ok[i].path, "/home/azureuser", &rel), 0);
                assert_string_equal(rel, ok[i].rel);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *rel = NULL;

                assert_int_equal(ssh_key_path_resolve(bad[i], "/home/azureuser", &rel), -EPERM);
                assert_null(rel);
        }
}

static void test_dropin(void **state) {
        _cleanup_free_ char *no = NULL, *yes = NULL;

        assert_int_equal(sshd_dropin_content(true, &no), 0);
        assert_non_null(strstr(no, "\nPasswordAuthentication no\n"));
        assert_non_null(strstr(no, "\nKbdInteractiveAuthentication no\n"));
        assert_int_equal(sshd_dropin_content(false, &yes), 0);
        assert_non_null(strstr(yes, "\nPasswordAuthentication yes\n"));
        assert_null(strstr(yes, "Kbd"));
}

static void test_label(void **state) {
        _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

        assert_int_equal(ssh_key_label(2, KEY_DSA, "/home/u/.ssh/authorized_keys", &a), 0);
        assert_string_equal(a, "SSH public key #2 (ssh-dss, for /home/u/.ssh/authorized_keys)");
        assert_int_equal(ssh_key_label(1, "  \r\n", NULL, &b), 0);
        assert_string_equal(b, "SSH public key #1 (empty)");
        /* Control characters never reach a report line; a long first token is cut. */
        assert_int_equal(ssh_key_label(3, "ssh-rsa\x1b[31m", "/x\ny", &c), 0);
        assert_string_equal(c, "SSH public key #3 (ssh-rsa?[31m, for /x?y)");
        assert_int_equal(
                ssh_key_label(4, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &d),
                0);
        assert_string_equal(d, "SSH public key #4 (AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA…)");
        assert_non_null(strstr(ssh_key_error_reason(-EPROTONOSUPPORT), "unsupported key type"));
        assert_non_null(strstr(ssh_key_error_reason(-EINVAL), "malformed key"));
}

typedef struct Skips {
        char *labels[8];
        char *reasons[8];
        size_t n;
} Skips;

static int collect(const char *label, const char *reason, void *userdata) {
        Skips *s = userdata;

        assert_true(s->n < 8);
        s->labels[s->n] = strdup(label);
        s->reasons[s->n++] = strdup(reason);
        return 0;
}

/* One bad key among good ones is dropped and reported; the good ones stay, in order. */
static void test_drop_bad_keys(void **state) {
        _cleanup_(provision_data_done) ProvisionData d = {.username = strdup("azureuser")};
        char *dir = tmpdir_new();
        Skips s = {};
        Context c;

        write_test_file(dir, "etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        assert_int_equal(context_init(&c, dir, NULL), 0);
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_ED25519, NULL), 0);
        assert_int_equal(provision_data_add_ssh_key(&d, "ssh-rsa AAAA!!! broken",
                                                    "/home/azureuser/.ssh/authorized_keys"),
                         0);
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_RSA, "/home/azureuser/.ssh/authorized_keys"), 0);
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_DSA, NULL), 0);
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_ECDSA256, "/etc/ssh/evil_keys"), 0);

        assert_int_equal(provision_data_drop_bad_ssh_keys(&c, &d, collect, &s), 3);
        assert_int_equal(d.n_ssh_keys, 2);
        assert_string_equal(d.ssh_keys[0].key, KEY_ED25519);
        assert_string_equal(d.ssh_keys[1].key, KEY_RSA);
        assert_int_equal(s.n, 3);
        assert_string_equal(s.labels[0],
                            "SSH public key #2 (ssh-rsa, for /home/azureuser/.ssh/authorized_keys)");
        assert_non_null(strstr(s.reasons[0], "malformed key"));
        assert_string_equal(s.labels[1], "SSH public key #4 (ssh-dss)");
        assert_non_null(strstr(s.reasons[1], "unsupported key type"));
        /* No account yet: the home useradd will make (/home/<user>) confines the paths. */
        assert_string_equal(s.labels[2], "SSH public key #5 (ecdsa-sha2-nistp256, for /etc/ssh/evil_keys)");
        assert_string_equal(s.reasons[2], "path is not inside the home directory /home/azureuser");
        /* Nothing left to drop: a second pass changes nothing. */
        assert_int_equal(provision_data_drop_bad_ssh_keys(&c, &d, collect, &s), 0);
        assert_int_equal(s.n, 3);
        for (size_t i = 0; i < s.n; i++) {
                free(s.labels[i]);
                free(s.reasons[i]);
        }
        context_done(&c);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_normalize_valid),
                cmocka_unit_test(test_normalize_cleanup),
                cmocka_unit_test(test_normalize_invalid),
                cmocka_unit_test(test_identity),
                cmocka_unit_test(test_identity_of_normalized),
                cmocka_unit_test(test_merge),
                cmocka_unit_test(test_path),
                cmocka_unit_test(test_dropin),
                cmocka_unit_test(test_label),
                cmocka_unit_test(test_drop_bad_keys),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
