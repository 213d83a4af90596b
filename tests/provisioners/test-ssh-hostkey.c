/* SPDX-License-Identifier: MIT */
/*
 * ed25519 host keys made in-process (provisioners/ssh-hostkey.c).
 *
 *   test-ssh-hostkey          the formats byte for byte against a key ssh-keygen made (OpenSSH 9.2, -C
 *                             root@azl-demo): same seed, public key and check integer → the same two files
 *   test-ssh-hostkey write    (root, ssh-keygen) a generated key written into a scratch root: modes 0600/0644,
 *                             owner root, and `ssh-keygen -y -f` reads the private file and derives exactly the
 *                             public key of the .pub file; `ssh-keygen -l -f` fingerprints it as ED25519
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context.h"
#include "macro.h"
#include "scratch-root.h"
#include "spawn-util.h"
#include "ssh-hostkey.h"
#include "strutil.h"
#include "tests.h"

static const uint8_t seed[SSH_ED25519_KEY_SIZE] = {
        0xf0, 0xe5, 0x7c, 0x4b, 0x98, 0xf3, 0xf1, 0x50, 0x2d, 0x55, 0x06, 0xcb, 0x2c, 0xab, 0x58, 0xcf,
        0x70, 0x27, 0x50, 0x49, 0x00, 0x01, 0xb8, 0x8d, 0x8e, 0x06, 0x2f, 0x2d, 0x6f, 0x30, 0x46, 0xaf,
};
static const uint8_t pub[SSH_ED25519_KEY_SIZE] = {
        0x57, 0xf5, 0xf9, 0x38, 0xee, 0xff, 0xb6, 0xba, 0x09, 0xed, 0xff, 0xfd, 0xaa, 0x90, 0xd7, 0xd1,
        0x5f, 0xbe, 0x11, 0x76, 0x85, 0xdc, 0xbf, 0xd0, 0x1c, 0xb1, 0xb4, 0x80, 0xb6, 0x36, 0x0a, 0xf6,
};
#define CHECK 0xa263bc18U
/* `ssh-keygen -q -t ed25519 -N '' -C root@azl-demo -f tv` (a throwaway key, made for this test only) */
#define PRIVATE_FILE                                                                                        \
        "-----BEGIN OPENSSH PRIVATE KEY-----\n"                                                             \
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"                          \
        "QyNTUxOQAAACBX9fk47v+2ugnt//2qkNfRX74RdoXcv9AcsbSAtjYK9gAAAJCiY7wYomO8\n"                          \
        "GAAAAAtzc2gtZWQyNTUxOQAAACBX9fk47v+2ugnt//2qkNfRX74RdoXcv9AcsbSAtjYK9g\n"                          \
        "AAAEDw5XxLmPPxUC1VBsssq1jPcCdQSQABuI2OBi8tbzBGr1f1+Tju/7a6Ce3//aqQ19Ff\n"                          \
        "vhF2hdy/0ByxtIC2Ngr2AAAADXJvb3RAYXpsLWRlbW8=\n"                                                    \
        "-----END OPENSSH PRIVATE KEY-----\n"
#define PUBLIC_FILE                                                                                         \
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFf1+Tju/7a6Ce3//aqQ19FfvhF2hdy/0ByxtIC2Ngr2 root@azl-demo\n"

static void test_format_matches_ssh_keygen(void **state) {
        _cleanup_free_ char *private = NULL, *public = NULL;

        assert_int_equal(ssh_ed25519_format(seed, pub, CHECK, "root@azl-demo", &private, &public), 0);
        assert_string_equal(private, PRIVATE_FILE);
        assert_string_equal(public, PUBLIC_FILE);
}

static void test_format_padding_and_comment(void **state) {
        /* Comment lengths 0..15 walk the private section through every padding length (1..8 bytes); each
         * result is well-formed armour and its public line ends in the comment. */
        for (size_t len = 0; len < 16; len++) {
                _cleanup_free_ char *private = NULL, *public = NULL, *comment = NULL, *expect = NULL;
                const char *body, *end;

                comment = strndup("abcdefghijklmnop", len);
                assert_non_null(comment);
                assert_int_equal(ssh_ed25519_format(seed, pub, CHECK, comment, &private, &public), 0);
                assert_true(startswith(private, "-----BEGIN OPENSSH PRIVATE KEY-----\n"));
                end = strstr(private, "-----END OPENSSH PRIVATE KEY-----\n");
                assert_non_null(end);
                assert_string_equal(end, "-----END OPENSSH PRIVATE KEY-----\n");
                body = private + strlen("-----BEGIN OPENSSH PRIVATE KEY-----\n");
                for (const char *l = body; l < end;) {
                        size_t n = strcspn(l, "\n");

                        assert_true(n > 0 && n <= 70);
                        l += n + 1;
                }
                assert_true(asprintf(&expect,
                                     "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFf1+Tju/7a6Ce3//aqQ19FfvhF2hdy/"
                                     "0ByxtIC2Ngr2%s%s\n",
                                     len ? " " : "", comment) > 0);
                assert_string_equal(public, expect);
        }
}

static void test_format_rejects(void **state) {
        char *private = NULL, *public = NULL;
        char big[1100];

        assert_int_equal(ssh_ed25519_format(seed, pub, CHECK, "two\nlines", &private, &public), -EINVAL);
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        assert_int_equal(ssh_ed25519_format(seed, pub, CHECK, big, &private, &public), -EINVAL);
        assert_null(private);
        assert_null(public);
}

static void test_write_and_ssh_keygen_reads_it(void **state) {
        _cleanup_free_ char *priv = NULL, *pubfile = NULL, *derived = NULL, *fingerprint = NULL,
                            *public = NULL;
        char *root = scratch_root_new();
        _cleanup_(context_done) Context c = {};
        struct stat st;

        scratch_context(&c, root);
        assert_int_equal(ssh_host_key_ed25519_write(c.root_fd, "root@azl-demo"), 0);

        scratch_stat(root, SSH_HOST_ED25519_KEY_PATH, &st);
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_gid, 0);
        scratch_stat(root, SSH_HOST_ED25519_KEY_PATH ".pub", &st);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_uid, 0);

        public = scratch_read(root, SSH_HOST_ED25519_KEY_PATH ".pub");
        assert_non_null(public);
        assert_true(startswith(public, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
        assert_true(endswith(public, " root@azl-demo\n"));

        assert_true(asprintf(&priv, "%s" SSH_HOST_ED25519_KEY_PATH, root) > 0);
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "ssh-keygen", (char *) "-y", (char *) "-f",
                                                        priv, NULL},
                                        &derived),
                         0);
        /* -y prints "ssh-ed25519 <blob> <comment>": the comment is stored in the private file too */
        assert_string_equal(derived, strndupa(public, strlen(public) - 1));
        assert_int_equal(spawn_and_wait((char *const[]){(char *) "ssh-keygen", (char *) "-l", (char *) "-f",
                                                        priv, NULL},
                                        &fingerprint),
                         0);
        assert_true(startswith(fingerprint, "256 SHA256:"));
        assert_true(endswith(fingerprint, "root@azl-demo (ED25519)"));

        /* a second key replaces the first, atomically: a different key, same modes */
        assert_int_equal(ssh_host_key_ed25519_write(c.root_fd, NULL), 0);
        pubfile = scratch_read(root, SSH_HOST_ED25519_KEY_PATH ".pub");
        assert_string_not_equal(pubfile, public);
        assert_true(strchr(pubfile + strlen("ssh-ed25519 "), ' ') == NULL); /* no comment */
        scratch_stat(root, SSH_HOST_ED25519_KEY_PATH, &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        tmpdir_remove(root); /* frees it */
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format_matches_ssh_keygen),
                cmocka_unit_test(test_format_padding_and_comment),
                cmocka_unit_test(test_format_rejects),
        };
        const struct CMUnitTest write_tests[] = {
                cmocka_unit_test(test_write_and_ssh_keygen_reads_it),
        };

        if (argc > 1 && streq(argv[1], "write")) {
                require_root_or_skip("host keys are owned by root");
                require_program_or_skip("ssh-keygen");
                return cmocka_run_group_tests_name("ssh-hostkey-write", write_tests, NULL, NULL);
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
