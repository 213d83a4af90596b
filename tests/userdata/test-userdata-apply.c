/* SPDX-License-Identifier: MIT */
/*
 * The provisioning-phase modules with their real effects on scratch roots (real useradd/groupadd/usermod/
 * chpasswd on --prefix/-R roots): files' bytes, modes and owners; /etc/passwd, /etc/group, /etc/shadow, the
 * sudoers file; authorized_keys; /etc/hosts, /etc/localtime, repo files, fstab; and userdata_provision() end to
 * end: the waagent copy, the status record, the per-instance markers (a second run changes nothing, a new VM id
 * runs again), bootcmd every boot. Needs root (exit 77 otherwise).
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
#include "strutil.h"
#include "tests.h"
#include "ud-test.h"
#include "user.h"
#include "userdata-apply.h"
#include "userdata-status.h"
#include "userdata.h"

#define KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK6akTzHzdf12dzvXfHQGTvBOB3GpUy6kGz9qlXSCj86 a@test"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMN3Ow1jXz1w8kTn6Lz1yZBzrFU0o2J4r9g0G1l5c8Z7 b@test"
#define VM_ID "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"

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

static bool has_db_line(const char *root, const char *file, const char *name) {
        _cleanup_free_ char *l = scratch_db_line(root, file, name);

        return l;
}

static void config_from(const char *text, UserDataConfig *c) {
        _cleanup_ynode_ YNode *root = NULL;
        YamlError err;

        if (yaml_parse(text, strlen(text), &root, &err) < 0)
                fail_msg("YAML: %s", err.message);
        assert_int_equal(user_data_config_parse(root, c), 0);
}

static void test_write_files(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig c = {};
        _cleanup_free_ char *summary = NULL, *a = NULL, *b = NULL, *app = NULL, *bobline = NULL;
        struct stat st;

        assert_int_equal(
                run_shadow_tool(&f->c, "useradd", (char *const[]){(char *) "-m", (char *) "bob", NULL}), 0);
        assert_int_equal(write_string_file_atomic_in_root(f->c.root_fd, "/etc/motd", "first\n", 0644, 0), 0);
        config_from("write_files:\n"
                    "  - path: /etc/app/conf.d/a.conf\n    content: |\n      key: value\n    permissions: "
                    "'0640'\n"
                    "    owner: bob:bob\n"
                    "  - path: /opt/b.bin\n    encoding: b64\n    content: AAECAw==\n    permissions: 0755\n"
                    "  - path: /etc/motd\n    content: second\n    append: true\n"
                    "  - path: /home/nobody-here/x\n    owner: ghost\n    content: nope\n"
                    "  - path: /var/later\n    content: deferred\n    defer: true\n",
                    &c);
        /* one entry fails (unknown owner): reported, the others written */
        assert_int_equal(userdata_write_files(&f->c, &c, false, &summary), -EIO);
        assert_non_null(strstr(summary, "write_files.3: unknown owner"));
        assert_non_null(strstr(summary, "3 file(s) written"));

        a = scratch_read(f->root, "/etc/app/conf.d/a.conf");
        assert_string_equal(a, "key: value\n");
        assert_int_equal(ud_mode(f->root, "/etc/app/conf.d/a.conf"), 0640);
        bobline = scratch_db_line(f->root, "/etc/passwd", "bob");
        assert_non_null(bobline);
        scratch_stat(f->root, "/etc/app/conf.d/a.conf", &st);
        assert_int_equal(st.st_uid, (uid_t) atoi(strchr(strchr(bobline, ':') + 1, ':') + 1));
        /* directories it created belong to the owner too (cloud-init's ensure_dir with user/group) */
        scratch_stat(f->root, "/etc/app", &st);
        assert_int_not_equal(st.st_uid, 0);
        assert_int_equal(ud_mode(f->root, "/etc/app"), 0755);

        b = scratch_read(f->root, "/opt/b.bin");
        assert_memory_equal(b, "\0\1\2\3", 4);
        assert_int_equal(ud_mode(f->root, "/opt/b.bin"), 0755);
        scratch_stat(f->root, "/opt/b.bin", &st);
        assert_int_equal(st.st_uid, 0);
        assert_int_equal(st.st_size, 4);

        app = scratch_read(f->root, "/etc/motd");
        assert_string_equal(app, "first\nsecond");
        assert_int_equal(ud_mode(f->root, "/etc/motd"), 0644);
        assert_false(scratch_exists(f->root, "/home/nobody-here/x"));
        assert_false(scratch_exists(f->root, "/var/later")); /* deferred: after Ready */

        free(summary);
        summary = NULL;
        assert_int_equal(userdata_write_files(&f->c, &c, true, &summary), 1);
        free(a);
        a = scratch_read(f->root, "/var/later");
        assert_string_equal(a, "deferred");
}

static void test_users_and_groups(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig c = {};
        _cleanup_free_ char *summary = NULL, *gsum = NULL, *sudoers = NULL, *pw = NULL, *sh = NULL,
                            *keys = NULL, *grp = NULL, *carol_sh = NULL, *dave = NULL, *dave_sh = NULL;

        require_program_or_skip("useradd");
        require_program_or_skip("chpasswd");
        config_from("groups:\n  - ops\n  - devs: [root]\n"
                    "users:\n"
                    "  - default\n"
                    "  - name: bob\n    gecos: Bob Builder\n    groups: [ops, docker]\n    shell: /bin/sh\n"
                    "    sudo: ALL=(ALL) NOPASSWD:ALL\n    ssh_authorized_keys: [\"" KEY_A
                    "\", \"not a key\"]\n"
                    "  - name: carol\n    plain_text_passwd: Carol-Passw0rd\n    lock_passwd: false\n"
                    "    sudo: ['ALL=(ALL) ALL', 'ALL=(root) NOPASSWD:/usr/bin/id']\n"
                    "  - name: dave\n    hashed_passwd: "
                    "$6$saltsalt$4cG9yuHFN6bSGpXWjso316tFclI3374MZThqLsDiELx1gkA8qYB/"
                    "7wKUMSvatgURutSZxsi2IIuFHRION7WR/0\n    system: true\n"
                    "  - name: root\n    ssh_authorized_keys: [\"" KEY_B "\"]\n"
                    "  - name: '-oops'\n",
                    &c);
        assert_int_equal(mkdir_p_in_root(f->c.root_fd, "/root", 0700), 0);
        assert_int_equal(userdata_groups(&f->c, &c, &gsum), 3); /* ops, devs, root into devs */
        grp = scratch_db_line(f->root, "/etc/group", "devs");
        assert_non_null(grp);
        assert_true(endswith(grp, ":root"));

        /* one bad entry (the name): reported, the rest applied */
        assert_int_equal(userdata_users(&f->c, &c, "azureuser", &summary), -EIO);
        assert_non_null(strstr(summary, "users.5: invalid user name"));
        assert_non_null(strstr(summary, "users.1.ssh_authorized_keys.1: not a public key"));

        pw = scratch_db_line(f->root, "/etc/passwd", "bob");
        assert_non_null(pw);
        assert_non_null(strstr(pw, ":Bob Builder:/home/bob:/bin/sh"));
        free(grp);
        grp = scratch_db_line(f->root, "/etc/group", "docker"); /* created for bob */
        assert_non_null(grp);
        assert_true(endswith(grp, ":bob"));
        free(grp);
        grp = scratch_db_line(f->root, "/etc/group", "ops");
        assert_true(endswith(grp, ":bob"));
        sh = scratch_db_line(f->root, "/etc/shadow", "bob");
        assert_non_null(sh);
        assert_true(startswith(strchr(sh, ':') + 1, "!")); /* lock_passwd defaults to true */
        keys = scratch_read(f->root, "/home/bob/.ssh/authorized_keys");
        assert_string_equal(keys, KEY_A "\n");
        assert_int_equal(ud_mode(f->root, "/home/bob/.ssh/authorized_keys"), 0600);

        carol_sh = scratch_db_line(f->root, "/etc/shadow", "carol");
        {
                char *hash = strchr(carol_sh, ':') + 1;

                *strchr(hash, ':') = 0;
                assert_true(startswith(hash, "$y$")); /* yescrypt, as the agent hashes (docs/security.md) */
                assert_true(user_password_matches("Carol-Passw0rd", hash));
        }
        dave = scratch_db_line(f->root, "/etc/passwd", "dave");
        assert_true(atoi(strchr(strchr(dave, ':') + 1, ':') + 1) < 1000); /* --system */
        assert_false(scratch_exists(f->root, "/home/dave"));              /* -M */
        dave_sh = scratch_db_line(f->root, "/etc/shadow", "dave");
        assert_true(startswith(strchr(dave_sh, ':') + 1,
                               "!$6$saltsalt$4cG9yuHFN6bSGpXWjso316tFclI3374MZThqLsDiELx1gkA8qYB/"
                               "7wKUMSvatgURutSZxsi2IIuFHRION7WR/0:"));
        /* an existing account (root): not re-created, its keys added */
        free(keys);
        keys = scratch_read(f->root, "/root/.ssh/authorized_keys");
        assert_string_equal(keys, KEY_B "\n");
        /* the administrator ("default") is the user step's business */
        assert_false(has_db_line(f->root, "/etc/passwd", "azureuser"));

        sudoers = scratch_read(f->root, UD_SUDOERS_FILE);
        assert_string_equal(
                sudoers,
                "# Created by azl-agent from the cloud-config 'users' key\n"
                "\n# User rules for bob\nbob ALL=(ALL) NOPASSWD:ALL\n"
                "\n# User rules for carol\ncarol ALL=(ALL) ALL\ncarol ALL=(root) NOPASSWD:/usr/bin/id\n");
        assert_int_equal(ud_mode(f->root, UD_SUDOERS_FILE), 0440);

        /* again: nothing new */
        free(summary);
        summary = NULL;
        assert_int_equal(userdata_users(&f->c, &c, "azureuser", &summary), -EIO); /* '-oops' stays bad */
        free(grp);
        grp = scratch_read(f->root, "/etc/passwd");
        assert_non_null(strstr(grp, "\nbob:"));
        assert_null(strstr(strstr(grp, "\nbob:") + 1, "\nbob:")); /* one bob */
}

static void test_adjust_provision_data(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig a = {}, b = {};
        _cleanup_free_ char *s1 = NULL, *s2 = NULL;
        ProvisionData d = {};

        assert_int_equal(free_and_strdup(&d.hostname, "azl-demo"), 0);
        assert_int_equal(free_and_strdup(&d.username, "azureuser"), 0);
        d.disable_password_auth = true;
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_A, "/home/azureuser/.ssh/authorized_keys"), 0);
        config_from("fqdn: web01.example.com\nprefer_fqdn_over_hostname: true\nssh_pwauth: true\n"
                    "ssh_authorized_keys: [\"" KEY_B "\", \"" KEY_A "\", \"command=x " KEY_B "\"]\n"
                    "users:\n  - name: default\n    groups: [docker]\nssh_genkeytypes: [ed25519]\n",
                    &a);
        assert_int_equal(userdata_adjust_provision_data(&f->c, &a, &d, &s1), 0);
        assert_string_equal(d.hostname, "web01.example.com");
        assert_true(d.hostname_fqdn);
        assert_false(d.disable_password_auth);
        assert_int_equal(d.n_ssh_keys, 3); /* KEY_A again from cloud-config is still a separate file entry */
        assert_string_equal(d.ssh_keys[1].key, KEY_B);
        assert_non_null(strstr(s1, "options are not supported"));
        assert_true(strv_contains(f->c.config.admin_groups, "docker"));
        assert_true(d.keep_ssh_host_keys);

        config_from("preserve_hostname: true\nhostname: ignored\n", &b);
        assert_int_equal(userdata_adjust_provision_data(&f->c, &b, &d, &s2), 0);
        assert_null(d.hostname);
        provision_data_done(&d);
}

static void test_system_files(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig c = {}, l = {};
        _cleanup_free_ char *s = NULL, *hosts = NULL, *repo = NULL, *fstab = NULL, *tz = NULL;
        char link[256];
        ssize_t n;

        assert_int_equal(write_string_file_atomic_in_root(f->c.root_fd, "/usr/share/zoneinfo/Europe/Berlin",
                                                          "TZif", 0644, WRITE_MKDIR),
                         0);
        assert_int_equal(write_string_file_atomic_in_root(f->c.root_fd, "/etc/os-release", "ID=azurelinux\n",
                                                          0644, 0),
                         0);
        assert_int_equal(write_string_file_atomic_in_root(
                                 f->c.root_fd, "/etc/fstab",
                                 "UUID=1 / ext4 defaults 0 1\n/dev/old /old ext4 defaults 0 2\n", 0644, 0),
                         0);
        assert_int_equal(write_string_file_atomic_in_root(f->c.root_fd, "/dev/sdc1", "", 0644, WRITE_MKDIR),
                         0);
        config_from("timezone: Europe/Berlin\nmanage_etc_hosts: true\nhostname: web\nfqdn: web.example.com\n"
                    "yum_repos:\n  epel test:\n    baseurl: [https://a.invalid/x, https://b.invalid/y]\n"
                    "    enabled: true\n    name: EPEL\n"
                    "mounts:\n  - [/dev/sdc1, /data, ext4]\n  - [/dev/old]\n  - [ephemeral0, /mnt]\n"
                    "  - [/dev/missing, /missing]\n",
                    &c);
        assert_int_equal(userdata_timezone(&f->c, &c, &s), 1);
        assert_true(asprintf(&tz, "%s/etc/localtime", f->root) > 0);
        n = readlink(tz, link, sizeof link - 1);
        assert_true(n > 0);
        link[n] = 0;
        assert_string_equal(link, "../usr/share/zoneinfo/Europe/Berlin");
        free(s);
        s = NULL;
        assert_int_equal(userdata_timezone(&f->c, &c, &s), 0); /* unchanged */

        free(s);
        s = NULL;
        assert_int_equal(userdata_etc_hosts(&f->c, &c, "vmname", &s), 1);
        hosts = scratch_read(f->root, "/etc/hosts");
        assert_non_null(strstr(
                hosts, "\n127.0.0.1 web.example.com web\n127.0.0.1 localhost.localdomain localhost\n"));
        assert_non_null(strstr(hosts, "\n::1 web.example.com web\n"));

        free(s);
        s = NULL;
        assert_int_equal(userdata_yum_repos(&f->c, &c, &s), 1);
        repo = scratch_read(f->root, "/etc/yum.repos.d/epel-test.repo");
        assert_non_null(repo);
        assert_true(endswith(
                repo, "[epel-test]\nbaseurl = https://a.invalid/x\n\thttps://b.invalid/y\nenabled = 1\n"
                      "name = EPEL\n\n"));

        free(s);
        s = NULL;
        assert_int_equal(userdata_mounts(&f->c, &c, &s), 1);
        fstab = scratch_read(f->root, "/etc/fstab");
        assert_string_equal(
                fstab,
                "UUID=1 / ext4 defaults 0 1\n"
                "/dev/sdc1\t/data\text4\tdefaults,nofail,x-systemd.after=azl-provision.service,_netdev,"
                "comment=cloudconfig\t0\t2\n");
        assert_true(scratch_exists(f->root, "/data"));
        assert_non_null(strstr(s, "mounts.2: the resource disk is set up by [Disks]"));
        assert_non_null(strstr(s, "mounts.3: the device does not exist"));

        /* manage_etc_hosts: localhost on Debian: the 127.0.1.1 line, other lines kept */
        assert_int_equal(
                write_string_file_atomic_in_root(f->c.root_fd, "/etc/os-release", "ID=debian\n", 0644, 0),
                0);
        assert_int_equal(write_string_file_atomic_in_root(
                                 f->c.root_fd, "/etc/hosts",
                                 "127.0.0.1 localhost\n127.0.1.1 old old\n10.0.0.9 db\n", 0644, 0),
                         0);
        config_from("manage_etc_hosts: localhost\nhostname: app\n", &l);
        free(s);
        s = NULL;
        assert_int_equal(userdata_etc_hosts(&f->c, &l, NULL, &s), 1);
        free(hosts);
        hosts = scratch_read(f->root, "/etc/hosts");
        assert_string_equal(hosts, "127.0.0.1 localhost\n10.0.0.9 db\n127.0.1.1 app app\n");
        free(s);
        s = NULL;
        assert_int_equal(userdata_etc_hosts(&f->c, &l, NULL, &s), 0);
}

static void test_root_keys(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig c = {}, off = {};
        _cleanup_free_ char *s = NULL, *keys = NULL;
        ProvisionData d = {};

        assert_int_equal(free_and_strdup(&d.username, "azureuser"), 0);
        assert_int_equal(provision_data_add_ssh_key(&d, KEY_A, NULL), 0);
        config_from("runcmd: [ls]\n", &c);
        assert_int_equal(userdata_root_keys(&f->c, &c, &d, &s), 1);
        keys = scratch_read(f->root, "/root/.ssh/authorized_keys");
        /* cloud-init's disable_root: the key with options that tell root to log in as the administrator */
        assert_string_equal(
                keys,
                "no-port-forwarding,no-agent-forwarding,no-X11-forwarding,command=\"echo 'Please "
                "login as the user \\\"azureuser\\\" rather than the user \\\"root\\\".';echo;sleep 10;"
                "exit 142\" " KEY_A "\n");
        assert_int_equal(ud_mode(f->root, "/root/.ssh/authorized_keys"), 0600);
        assert_int_equal(ud_mode(f->root, "/root/.ssh"), 0700);
        free(s);
        s = NULL;
        assert_int_equal(userdata_root_keys(&f->c, &c, &d, &s), 0);
        config_from("disable_root: false\n", &off);
        free(s);
        s = NULL;
        assert_int_equal(userdata_root_keys(&f->c, &off, &d, &s), 1);
        free(keys);
        keys = scratch_read(f->root, "/root/.ssh/authorized_keys");
        assert_true(endswith(keys, "\n" KEY_A "\n"));
        provision_data_done(&d);
}

static void test_ssh_host_keys(void **state) {
        Fixture *f = *state;
        _cleanup_(user_data_config_done) UserDataConfig c = {};
        _cleanup_free_ char *s = NULL;

        require_program_or_skip("ssh-keygen");
        assert_int_equal(
                write_string_file_atomic_in_root(f->c.root_fd, "/etc/ssh/ssh_host_rsa_key", "old", 0600, 0),
                0);
        config_from("ssh_genkeytypes: [ed25519]\n", &c);
        assert_true(userdata_ssh_host_keys(&f->c, &c, &s) > 0);
        assert_false(scratch_exists(f->root, "/etc/ssh/ssh_host_rsa_key")); /* ssh_deletekeys: true */
        assert_true(scratch_exists(f->root, "/etc/ssh/ssh_host_ed25519_key"));
        assert_true(scratch_exists(f->root, "/etc/ssh/ssh_host_ed25519_key.pub"));
        assert_false(scratch_exists(f->root, "/etc/ssh/ssh_host_ecdsa_key"));
        assert_int_equal(ud_mode(f->root, "/etc/ssh/ssh_host_ed25519_key"), 0600);
}

/* userdata_provision() end to end: custom data bytes in, a scratch root out. */
static void test_provision_end_to_end(void **state) {
        Fixture *f = *state;
        const char *cd = "#cloud-config\n"
                         "write_files:\n  - path: /etc/hello\n    content: hi\n    permissions: '0600'\n"
                         "bootcmd:\n  - echo booted >> /var/tmp/bootcmd.log\n"
                         "runcmd:\n  - touch /var/tmp/runcmd-marker\n"
                         "snap: {commands: [x]}\n"
                         "users:\n  - default\n  - name: eve\n    sudo: ALL=(ALL) ALL\n";
        _cleanup_(userdata_status_done) UserDataStatus st = {};
        _cleanup_free_ char *summary = NULL, *warning = NULL, *copy = NULL, *boot = NULL, *summary2 = NULL,
                            *warning2 = NULL, *summary3 = NULL, *warning3 = NULL;
        UserDataInput in = {.vm_id = VM_ID, .custom_data = cd, .custom_data_size = strlen(cd)};
        ProvisionData d = {};
        struct stat s1, s2;

        require_program_or_skip("useradd");
        ud_install_shell(f->root);
        assert_int_equal(free_and_strdup(&d.username, "azureuser"), 0);
        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary, &warning), USERDATA_CHANGED);
        assert_non_null(strstr(summary, "CustomData user data: 1 part(s), 1 cloud-config, 1 unsupported"));
        assert_non_null(strstr(warning, "snap"));
        assert_null(strstr(warning, "commands")); /* key names only, never values */

        copy = scratch_read(f->root, USERDATA_WAAGENT_COPY);
        assert_string_equal(copy, cd);
        assert_int_equal(ud_mode(f->root, USERDATA_WAAGENT_COPY), 0600);
        assert_int_equal(ud_mode(f->root, "/var/lib/azl-agent/userdata/user-data"), 0600);
        assert_int_equal(ud_mode(f->root, "/var/lib/azl-agent/userdata.json"), 0600);
        assert_int_equal(ud_mode(f->root, "/etc/hello"), 0600);
        assert_true(has_db_line(f->root, "/etc/passwd", "eve"));
        boot = scratch_read(f->root, "/var/tmp/bootcmd.log");
        if (!boot) {
                _cleanup_free_ char *json = scratch_read(f->root, "/var/lib/azl-agent/userdata.json"),
                                    *log = scratch_read(f->root, USERDATA_LOG_FILE);

                fail_msg("bootcmd did not run: %s\n%s", strna(json), strna(log));
        }
        assert_string_equal(boot, "booted\n");
        /* runcmd waits for Ready: written, not run */
        assert_false(scratch_exists(f->root, "/var/tmp/runcmd-marker"));
        assert_int_equal(ud_mode(f->root, "/var/lib/azl-agent/userdata/instances/" VM_ID "/scripts/runcmd"),
                         0700);

        assert_int_equal(userdata_status_load(&f->c, &st), 0);
        assert_string_equal(st.state, "pending");
        assert_string_equal(st.source, "ovf");
        assert_string_equal(st.unsupported[0], "snap");
        {
                bool users = false, files = false;

                for (size_t i = 0; i < st.n_modules; i++) {
                        users |=
                                streq(st.modules[i].name, "users") && streq(st.modules[i].result, "changed");
                        files |= streq(st.modules[i].name, "write_files") &&
                                 streq(st.modules[i].result, "changed");
                }
                assert_true(users && files);
        }
        {
                /* never the data itself in the status */
                _cleanup_free_ char *json = scratch_read(f->root, "/var/lib/azl-agent/userdata.json");

                assert_null(strstr(json, "echo booted"));
                assert_null(strstr(json, "touch /var/tmp"));
        }

        /* the same VM again (provision --force): the per-instance modules do not run again; bootcmd does */
        scratch_stat(f->root, "/etc/hello", &s1);
        assert_int_equal(unlink_in_root(f->c.root_fd, "/etc/hello"), 0);
        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary2, &warning2), USERDATA_UNCHANGED);
        assert_false(scratch_exists(f->root, "/etc/hello"));
        free(boot);
        boot = scratch_read(f->root, "/var/tmp/bootcmd.log");
        assert_string_equal(boot, "booted\nbooted\n");

        /* a later boot without the media: the saved copy, bootcmd only */
        in = (UserDataInput){.vm_id = VM_ID, .boot_only = true};
        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary3, &warning3), USERDATA_UNCHANGED);
        assert_non_null(strstr(summary3, "saved"));
        free(boot);
        boot = scratch_read(f->root, "/var/tmp/bootcmd.log");
        assert_string_equal(boot, "booted\nbooted\nbooted\n");

        /* a captured image: a new VM id runs the per-instance modules again */
        {
                _cleanup_free_ char *s4 = NULL, *w4 = NULL;

                in = (UserDataInput){.vm_id = "0f0e0d0c-0b0a-4908-8706-050403020100",
                                     .custom_data = cd,
                                     .custom_data_size = strlen(cd)};
                assert_int_equal(userdata_provision(&f->c, &in, &d, &s4, &w4), USERDATA_CHANGED);
                scratch_stat(f->root, "/etc/hello", &s2);
                assert_int_equal(ud_mode(f->root, "/etc/hello"), 0600);
        }
        provision_data_done(&d);
}

static void test_no_user_data(void **state) {
        Fixture *f = *state;
        _cleanup_(userdata_status_done) UserDataStatus st = {};
        _cleanup_free_ char *summary = NULL, *warning = NULL;
        UserDataInput in = {.vm_id = VM_ID};
        ProvisionData d = {};

        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary, &warning), USERDATA_NONE);
        assert_string_equal(summary, "no user data");
        assert_null(warning);
        assert_int_equal(userdata_status_load(&f->c, &st), 0);
        assert_string_equal(st.state, "none");
        assert_false(scratch_exists(f->root, USERDATA_WAAGENT_COPY));
}

static void test_imds_source_and_sources_config(void **state) {
        Fixture *f = *state;
        _cleanup_(userdata_status_done) UserDataStatus st = {};
        _cleanup_free_ char *summary = NULL, *warning = NULL, *s2 = NULL, *w2 = NULL, *hello = NULL;
        /* "#cloud-config\nhostname: fromimds\n" */
        UserDataInput in = {.vm_id = VM_ID,
                            .imds_user_data = "I2Nsb3VkLWNvbmZpZwpob3N0bmFtZTogZnJvbWltZHMK"};
        ProvisionData d = {};

        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary, &warning), USERDATA_UNCHANGED);
        assert_string_equal(d.hostname, "fromimds");
        assert_int_equal(userdata_status_load(&f->c, &st), 0);
        assert_string_equal(st.source, "imds");
        assert_false(scratch_exists(f->root, USERDATA_WAAGENT_COPY)); /* waagent's copy is CustomData's */
        hello = scratch_read(f->root, "/var/lib/azl-agent/userdata/origin");
        assert_string_equal(hello, "imds " VM_ID "\n");

        /* Sources=ovf only: IMDS userData is not used */
        f->c.config.userdata_sources = strv_free(f->c.config.userdata_sources);
        assert_int_equal(strv_extend(&f->c.config.userdata_sources, "ovf"), 0);
        assert_int_equal(unlink_in_root(f->c.root_fd, "/var/lib/azl-agent/userdata/origin"), 0);
        free(d.hostname);
        d.hostname = NULL;
        assert_int_equal(userdata_provision(&f->c, &in, &d, &s2, &w2), USERDATA_NONE);
        assert_null(d.hostname);
        provision_data_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_users_and_groups, setup, teardown),
                cmocka_unit_test_setup_teardown(test_adjust_provision_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_system_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_root_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ssh_host_keys, setup, teardown),
                cmocka_unit_test_setup_teardown(test_provision_end_to_end, setup, teardown),
                cmocka_unit_test_setup_teardown(test_no_user_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_imds_source_and_sources_config, setup, teardown),
        };

        require_root_or_skip("useradd on scratch roots, chown");
        log_set_max_level(LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
