/* SPDX-License-Identifier: MIT */
/*
 * The "ssh-keys", "sshd-config" and "ssh-host-keys" steps on scratch roots, with a user created by the real
 * "user" step. Needs root (chown); exits 77 without it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "provisioner.h"
#include "scratch-root.h"
#include "strutil.h"
#include "test-keys.h"

#define AK "/home/azureuser/.ssh/authorized_keys"

typedef struct Fixture {
        char *root;
        Context c;
        uid_t uid;
        gid_t gid;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);
        ProvisionData d = {.username = strdup("azureuser")};
        struct stat st;

        f->root = scratch_root_new();
        scratch_context(&f->c, f->root);
        assert_int_equal(provisioner_user.apply(&f->c, &d, NULL), 1);
        provision_data_done(&d);
        scratch_stat(f->root, "/home/azureuser", &st);
        f->uid = st.st_uid;
        f->gid = st.st_gid;
        assert_true(f->uid >= 1000);
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

static ProvisionData keys_data(const char *const *keys, const char *const *paths, size_t n) {
        ProvisionData d = {.username = strdup("azureuser")};

        for (size_t i = 0; i < n; i++)
                assert_int_equal(provision_data_add_ssh_key(&d, keys[i], paths ? paths[i] : NULL), 0);
        return d;
}

static void test_keys_installed(void **state) {
        Fixture *f = *state;
        const char *keys[] = {KEY_ED25519, KEY_RSA "\r\n", KEY_ED25519};
        const char *paths[] = {NULL, "/home/azureuser/.ssh/authorized_keys",
                               "$HOME/azureuser/.ssh/authorized_keys"};
        ProvisionData d = keys_data(keys, paths, 3);
        _cleanup_free_ char *content = NULL, *summary = NULL;
        struct stat st, dir, st2;

        assert_int_equal(provisioner_ssh_keys.apply(&f->c, &d, &summary), 1);
        assert_non_null(summary);
        content = scratch_read(f->root, AK);
        assert_string_equal(content, KEY_ED25519 "\n" KEY_RSA "\n");
        scratch_stat(f->root, AK, &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, f->uid);
        assert_int_equal(st.st_gid, f->gid);
        scratch_stat(f->root, "/home/azureuser/.ssh", &dir);
        assert_true(S_ISDIR(dir.st_mode));
        assert_int_equal(dir.st_mode & 07777, 0700);
        assert_int_equal(dir.st_uid, f->uid);
        assert_int_equal(dir.st_gid, f->gid);

        /* Second run: unchanged, file not rewritten. */
        assert_int_equal(provisioner_ssh_keys.apply(&f->c, &d, NULL), 0);
        scratch_stat(f->root, AK, &st2);
        assert_int_equal(st.st_ino, st2.st_ino);
        assert_int_equal(st.st_mtim.tv_sec, st2.st_mtim.tv_sec);
        assert_int_equal(st.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);
        provision_data_done(&d);
}

static void test_keys_merged(void **state) {
        Fixture *f = *state;
        const char *keys[] = {KEY_ED25519, KEY_ECDSA256};
        ProvisionData d = keys_data(keys, NULL, 2);
        _cleanup_free_ char *content = NULL;
        struct stat st;

        /* The user's own file: wrong mode, a comment and one of the keys (with options) already there. */
        write_test_file(f->root, "home/azureuser/.ssh/authorized_keys", "# mine\nno-pty " KEY_ECDSA256 "\n");
        assert_int_equal(provisioner_ssh_keys.apply(&f->c, &d, NULL), 1);
        content = scratch_read(f->root, AK);
        assert_string_equal(content, "# mine\nno-pty " KEY_ECDSA256 "\n" KEY_ED25519 "\n");
        scratch_stat(f->root, AK, &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(st.st_uid, f->uid);
        scratch_stat(f->root, "/home/azureuser/.ssh", &st);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(st.st_uid, f->uid);
        provision_data_done(&d);
}

static void expect_nothing_written(Fixture *f, const char *key, const char *path, int error) {
        const char *keys[] = {KEY_ED25519, key};
        const char *paths[] = {NULL, path};
        ProvisionData d = keys_data(keys, paths, 2);

        assert_int_equal(provisioner_ssh_keys.apply(&f->c, &d, NULL), error);
        assert_false(scratch_exists(f->root, "/home/azureuser/.ssh"));
        assert_false(scratch_exists(f->root, "/root/.ssh"));
        provision_data_done(&d);
}

static void test_bad_keys(void **state) {
        Fixture *f = *state;

        expect_nothing_written(f, KEY_DSA, NULL, -EPROTONOSUPPORT);
        expect_nothing_written(f, "ssh-rsa AAAANOTAREALKEY== foo@bar.local", NULL, -EINVAL);
        expect_nothing_written(f, KEY_RSA, "/root/.ssh/authorized_keys", -EPERM);
        expect_nothing_written(f, KEY_RSA, "/home/azureuser/../../etc/ssh/keys", -EPERM);
}

static void test_symlinked_ssh_dir(void **state) {
        Fixture *f = *state;
        const char *keys[] = {KEY_ED25519};
        ProvisionData d = keys_data(keys, NULL, 1);
        _cleanup_free_ char *link = NULL;
        struct stat st;

        /* A ~/.ssh planted as a symlink to /etc must not be followed (nor /etc chowned to the user). */
        assert_true(asprintf(&link, "%s/home/azureuser/.ssh", f->root) > 0);
        assert_int_equal(symlink("/etc", link), 0);
        assert_true(provisioner_ssh_keys.apply(&f->c, &d, NULL) < 0);
        assert_false(scratch_exists(f->root, "/etc/authorized_keys"));
        scratch_stat(f->root, "/etc", &st);
        assert_int_equal(st.st_uid, 0);
        provision_data_done(&d);
}

static void test_sshd_dropin(void **state) {
        Fixture *f = *state;
        const char *path = "/etc/ssh/sshd_config.d/50-azl-agent.conf";
        ProvisionData d = {.disable_password_auth = true};
        _cleanup_free_ char *a = NULL, *b = NULL;
        struct stat st, st2;

        assert_int_equal(provisioner_sshd_config.apply(&f->c, &d, NULL), 1);
        a = scratch_read(f->root, path);
        assert_string_equal(
                a, "# Written by azl-agent from the VM's DisableSshPasswordAuthentication setting.\n"
                   "PasswordAuthentication no\nKbdInteractiveAuthentication no\n");
        scratch_stat(f->root, path, &st);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(provisioner_sshd_config.apply(&f->c, &d, NULL), 0);
        scratch_stat(f->root, path, &st2);
        assert_int_equal(st.st_ino, st2.st_ino);

        d.disable_password_auth = false;
        assert_int_equal(provisioner_sshd_config.apply(&f->c, &d, NULL), 1);
        b = scratch_read(f->root, path);
        assert_string_equal(
                b, "# Written by azl-agent from the VM's DisableSshPasswordAuthentication setting.\n"
                   "PasswordAuthentication yes\n");
}

static void test_host_keys(void **state) {
        Fixture *f = *state;
        ProvisionData d = {.vm_id = strdup("0a1b2c3d-0000-4000-8000-000000000001"),
                           .hostname = strdup("vm1")};
        _cleanup_free_ char *old = NULL, *pub1 = NULL, *pub2 = NULL, *vmid = NULL, *summary = NULL,
                            *after = NULL;
        struct stat st, st2;

        require_program_or_skip("ssh-keygen");
        write_test_file(f->root, "etc/ssh/ssh_host_ed25519_key", "stale key from the image\n");
        write_test_file(f->root, "etc/ssh/ssh_host_dsa_key.pub", "stale\n");
        assert_int_equal(provisioner_ssh_host_keys.apply(&f->c, &d, NULL), 1);
        old = scratch_read(f->root, "/etc/ssh/ssh_host_ed25519_key");
        assert_non_null(old);
        assert_true(startswith(old, "-----BEGIN OPENSSH PRIVATE KEY-----"));
        assert_false(scratch_exists(f->root, "/etc/ssh/ssh_host_dsa_key.pub"));
        pub1 = scratch_read(f->root, "/etc/ssh/ssh_host_ed25519_key.pub");
        assert_true(startswith(pub1, "ssh-ed25519 "));
        assert_true(endswith(pub1, " root@vm1\n"));
        /* not recorded yet: a run killed before the RSA/ECDSA child is done must make them all again */
        assert_false(scratch_exists(f->root, "/var/lib/azl-agent/ssh-host-keys.vmid"));

        /* RSA and ECDSA come from the ssh-keygen -A child the step started (no sshd-keygen@.service in this
         * root): there once it is waited for, as ssh-keygen writes them; the ed25519 key is left as we made it. */
        assert_int_equal(ssh_host_keys_finish(&f->c, &summary), 1);
        assert_non_null(strstr(summary, "RSA and ECDSA"));
        vmid = scratch_read(f->root, "/var/lib/azl-agent/ssh-host-keys.vmid");
        assert_string_equal(vmid, "0a1b2c3d-0000-4000-8000-000000000001\n");
        after = scratch_read(f->root, "/etc/ssh/ssh_host_rsa_key.pub");
        assert_true(startswith(after, "ssh-rsa "));
        free(after);
        after = scratch_read(f->root, "/etc/ssh/ssh_host_ecdsa_key.pub");
        assert_true(startswith(after, "ecdsa-sha2-nistp256 "));
        scratch_stat(f->root, "/etc/ssh/ssh_host_rsa_key", &st);
        assert_int_equal(st.st_mode & 07777, 0600);
        free(after);
        after = scratch_read(f->root, "/etc/ssh/ssh_host_ed25519_key.pub");
        assert_string_equal(after, pub1);
        assert_int_equal(ssh_host_keys_finish(&f->c, NULL), 0); /* nothing left to wait for */

        /* Same VM: nothing regenerated. */
        scratch_stat(f->root, "/etc/ssh/ssh_host_ed25519_key.pub", &st);
        assert_int_equal(provisioner_ssh_host_keys.apply(&f->c, &d, NULL), 0);
        scratch_stat(f->root, "/etc/ssh/ssh_host_ed25519_key.pub", &st2);
        assert_int_equal(st.st_ino, st2.st_ino);
        assert_int_equal(st.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);

        /* A new VM from the same disk: new keys. */
        free(d.vm_id);
        d.vm_id = strdup("0a1b2c3d-0000-4000-8000-000000000002");
        assert_int_equal(provisioner_ssh_host_keys.apply(&f->c, &d, NULL), 1);
        pub2 = scratch_read(f->root, "/etc/ssh/ssh_host_ed25519_key.pub");
        assert_string_not_equal(pub1, pub2);
        assert_int_equal(ssh_host_keys_finish(&f->c, NULL), 1);

        /* An image with sshd-keygen@.service: RSA and ECDSA are left to it, nothing is started. */
        write_test_file(f->root, "usr/lib/systemd/system/sshd-keygen@.service", "[Unit]\n");
        free(d.vm_id);
        d.vm_id = strdup("0a1b2c3d-0000-4000-8000-000000000004");
        assert_int_equal(provisioner_ssh_host_keys.apply(&f->c, &d, NULL), 1);
        assert_true(scratch_exists(f->root, "/etc/ssh/ssh_host_ed25519_key"));
        assert_false(scratch_exists(f->root, "/etc/ssh/ssh_host_rsa_key"));
        assert_int_equal(ssh_host_keys_finish(&f->c, NULL), 0);
        assert_false(scratch_exists(f->root, "/etc/ssh/ssh_host_rsa_key"));

        /* Disabled by configuration. */
        f->c.config.regenerate_ssh_host_keys = false;
        free(d.vm_id);
        d.vm_id = strdup("0a1b2c3d-0000-4000-8000-000000000003");
        assert_int_equal(provisioner_ssh_host_keys.apply(&f->c, &d, NULL), 0);
        provision_data_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_keys_installed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_keys_merged, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinked_ssh_dir, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sshd_dropin, setup, teardown),
                cmocka_unit_test_setup_teardown(test_host_keys, setup, teardown),
        };

        require_root_or_skip("chown to the provisioned user");
        require_program_or_skip("useradd");
        return cmocka_run_group_tests(tests, NULL, NULL);
}
