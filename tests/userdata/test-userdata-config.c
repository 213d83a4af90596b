/* SPDX-License-Identifier: MIT */
/*
 * The cloud-config → UserDataConfig conversion: cloud-init's readings of each supported key (shellify, write_files
 * encodings and permissions, users/groups normalization, ssh_pwauth, manage_etc_hosts, packages, yum_repos,
 * power_state, swap) and the schema problems with their key paths and lines; unsupported keys listed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"
#include "tests.h"
#include "userdata-config.h"
#include "yaml-node.h"

static void parse_config(const char *text, UserDataConfig *c) {
        _cleanup_ynode_ YNode *root = NULL;
        YamlError err;

        if (yaml_parse(text, strlen(text), &root, &err) < 0)
                fail_msg("YAML: %s", err.message);
        assert_int_equal(user_data_config_parse(root, c), 0);
}

static const UdProblem *find_problem(const UserDataConfig *c, const char *path) {
        for (size_t i = 0; i < c->n_problems; i++)
                if (streq(c->problems[i].path, path))
                        return &c->problems[i];
        return NULL;
}

static void test_commands(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {}, d = {};

        parse_config("runcmd:\n"
                     "  - echo 'a b' > /tmp/x\n"
                     "  - [ls, -l, \"it's here\", 42, yes]\n"
                     "  -\n"
                     "  - [touch, /var/tmp/marker]\n"
                     "bootcmd:\n  - [cloud-init-per, once, x, echo]\n",
                     &c);
        assert_int_equal(c.n_problems, 0);
        /* util.shellify: strings as lines, list words in single quotes (str() of YAML values), null skipped */
        assert_string_equal(c.runcmd,
                            "#!/bin/sh\necho 'a b' > /tmp/x\n'ls' '-l' 'it'\\''s here' '42' 'True'\n"
                            "'touch' '/var/tmp/marker'\n");
        assert_string_equal(c.bootcmd, "#!/bin/sh\n'cloud-init-per' 'once' 'x' 'echo'\n");

        parse_config("runcmd: echo hi\nbootcmd: [1]\n", &d);
        assert_null(d.runcmd);
        assert_null(d.bootcmd);
        assert_non_null(find_problem(&d, "runcmd"));
        assert_string_equal(find_problem(&d, "runcmd")->message, "'echo hi' is not of type 'array'");
        assert_non_null(find_problem(&d, "bootcmd.0"));
        assert_int_equal(find_problem(&d, "runcmd")->line, 1);
}

static void test_write_files(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {};

        parse_config("write_files:\n"
                     "  - path: /etc/a.conf\n    content: |\n      line\n    permissions: 0640\n    owner: "
                     "bob:users\n"
                     "  - path: /etc/../etc/b\n    content: aGVsbG8=\n    encoding: b64\n    permissions: "
                     "'0600'\n"
                     "  - path: relative/c\n    permissions: 644\n    append: yes\n    defer: 'true'\n"
                     "  - path: /d\n    content: x\n    permissions: u+rwx\n    encoding: bogus\n"
                     "  - content: nopath\n"
                     "  - path: /e\n    content: '!!'\n    encoding: base64\n"
                     "  - path: /f\n    content: !!binary AAEC\n    extra: 1\n",
                     &c);
        assert_int_equal(c.n_write_files, 5);
        assert_string_equal(c.write_files[0].path, "/etc/a.conf");
        assert_string_equal(c.write_files[0].content, "line\n");
        assert_int_equal(c.write_files[0].mode, 0640); /* YAML 1.1 octal integer */
        assert_string_equal(c.write_files[0].owner, "bob:users");
        assert_string_equal(c.write_files[1].path, "/etc/b");
        assert_string_equal(c.write_files[1].content, "hello");
        assert_int_equal(c.write_files[1].mode, 0600); /* octal string */
        assert_string_equal(c.write_files[2].path, "/relative/c");
        assert_int_equal(c.write_files[2].mode, 644); /* decimal 644 is taken as is: 01204 */
        assert_int_equal(c.write_files[2].size, 0);   /* no content: an empty file */
        assert_true(c.write_files[2].append);
        assert_true(c.write_files[2].defer);
        assert_int_equal(c.write_files[3].mode, 0644);      /* undecodable: the default */
        assert_string_equal(c.write_files[3].content, "x"); /* unknown encoding: text/plain */
        assert_int_equal(c.write_files[4].size, 3);
        assert_memory_equal(c.write_files[4].content, "\0\1\2", 3);
        assert_non_null(find_problem(&c, "write_files.3.permissions"));
        assert_non_null(find_problem(&c, "write_files.4")); /* 'path' is a required property */
        assert_non_null(find_problem(&c, "write_files.5.content"));
        assert_non_null(find_problem(&c, "write_files.6")); /* additional property */
}

static void test_users(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {};
        const UdUser *bob = NULL, *dflt = NULL, *carol = NULL;

        parse_config("users:\n"
                     "  - default\n"
                     "  - name: bob\n    gecos: Bob\n    groups: docker, wheel\n    sudo: ALL=(ALL) "
                     "NOPASSWD:ALL\n"
                     "    shell: /bin/bash\n    lock_passwd: false\n    uid: '1500'\n    "
                     "ssh_authorized_keys: [k1, k2]\n"
                     "    hashed_passwd: $6$x$y\n"
                     "  - name: bob\n    gecos: Other\n    homedir: /srv/bob\n"
                     "  - carol, dave\n"
                     "  - name: carol\n    sudo: [rule1, rule2]\n    system: true\n    bogus: 1\n    "
                     "lock-passwd: no\n"
                     "  - name: erin\n    sudo: false\n",
                     &c);
        for (size_t i = 0; i < c.n_users; i++) {
                if (c.users[i].is_default)
                        dflt = &c.users[i];
                else if (streq(c.users[i].name, "bob"))
                        bob = &c.users[i];
                else if (streq(c.users[i].name, "carol"))
                        carol = &c.users[i];
        }
        assert_true(c.users_set);
        assert_int_equal(c.n_users, 5); /* default, bob, carol, dave, erin */
        assert_non_null(dflt);
        assert_non_null(bob);
        assert_string_equal(bob->gecos, "Bob"); /* the first entry wins, the second fills in */
        assert_string_equal(bob->homedir, "/srv/bob");
        assert_string_equal(bob->groups[0], "docker");
        assert_string_equal(bob->groups[1], "wheel");
        assert_string_equal(bob->sudo[0], "ALL=(ALL) NOPASSWD:ALL");
        assert_false(bob->lock_passwd);
        assert_true(bob->uid_set);
        assert_int_equal(bob->uid, 1500);
        assert_int_equal(strv_length(bob->ssh_authorized_keys), 2);
        assert_string_equal(bob->hashed_passwd, "$6$x$y");
        assert_non_null(carol);
        assert_int_equal(strv_length(carol->sudo), 2);
        assert_true(carol->system);
        assert_false(carol->lock_passwd);             /* lock-passwd: the deprecated spelling */
        assert_non_null(find_problem(&c, "users.4")); /* bogus */
        assert_string_equal(c.users[4].name, "erin");
        assert_null(c.users[4].sudo);
        assert_true(c.users[3].lock_passwd); /* dave: the default */
}

static void test_users_string_and_map_forms(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {}, d = {};

        parse_config("users: zed, amy ,default\n", &c);
        /* a string is split, uniq'ed and sorted (uniq_merge_sorted) */
        assert_int_equal(c.n_users, 3);
        assert_string_equal(c.users[0].name, "amy");
        assert_true(c.users[1].is_default);
        assert_string_equal(c.users[2].name, "zed");
        parse_config("users:\n  alice: true\n  bob: {shell: /bin/sh}\n  nope: false\n", &d);
        assert_int_equal(d.n_users, 2);
        assert_string_equal(d.users[1].shell, "/bin/sh");
}

static void test_groups(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {};

        parse_config("groups:\n  - admins\n  - devs: [alice, bob]\n  - ops: carol\n  - devs: [dave]\n", &c);
        assert_int_equal(c.n_groups, 3);
        assert_string_equal(c.groups[0].name, "admins");
        assert_null(c.groups[0].members);
        assert_string_equal(c.groups[1].name, "devs");
        assert_int_equal(strv_length(c.groups[1].members), 3);
        assert_string_equal(c.groups[2].members[0], "carol");
}

static void test_ssh_and_identity(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig a = {}, b = {}, c = {};

        parse_config("ssh_pwauth: yes\nmanage_etc_hosts: localhost\nhostname: web\nfqdn: web.example.com\n"
                     "prefer_fqdn_over_hostname: true\ndisable_root: false\nssh_deletekeys: false\n"
                     "ssh_genkeytypes: [ed25519, dsa]\nssh_keys:\n  rsa_private: KEY\n  dsa_private: NO\n"
                     "timezone: Europe/Berlin\n",
                     &a);
        assert_int_equal(a.ssh_pwauth, UD_PWAUTH_YES);
        assert_int_equal(a.manage_etc_hosts, UD_HOSTS_LOCALHOST);
        assert_string_equal(a.fqdn, "web.example.com");
        assert_int_equal(a.prefer_fqdn_over_hostname, 1);
        assert_false(a.disable_root);
        assert_true(a.ssh_deletekeys_set);
        assert_false(a.ssh_deletekeys);
        assert_non_null(find_problem(&a, "ssh_genkeytypes")); /* dsa */
        assert_int_equal(a.n_ssh_keys, 1);
        assert_non_null(find_problem(&a, "ssh_keys"));
        assert_string_equal(a.timezone, "Europe/Berlin");

        parse_config("ssh_pwauth: unchanged\nmanage_etc_hosts: true\n", &b);
        assert_int_equal(b.ssh_pwauth, UD_PWAUTH_UNCHANGED);
        assert_int_equal(b.manage_etc_hosts, UD_HOSTS_TEMPLATE);
        assert_true(b.disable_root); /* the default */
        assert_int_equal(b.prefer_fqdn_over_hostname, -1);

        parse_config("ssh_pwauth: 'no'\nmanage_etc_hosts: off\n", &c);
        assert_int_equal(c.ssh_pwauth, UD_PWAUTH_NO);
        assert_int_equal(c.manage_etc_hosts, UD_HOSTS_FALSE);
}

static void test_packages_repos_power(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {};

        parse_config("packages:\n  - nginx\n  - [curl, 7.88]\n  - {apt: [x]}\n  - --force\n"
                     "package_update: true\napt_upgrade: yes\n"
                     "yum_repos:\n  my repo:\n    baseurl: https://example.invalid/repo\n    enabled: true\n"
                     "    gpgcheck: false\n    Name: My\n  broken:\n    name: no url\n"
                     "power_state:\n  mode: reboot\n  delay: 5\n  message: bye\n  condition: true\n"
                     "swap:\n  filename: /swapfile\n  size: 512M\n",
                     &c);
        assert_int_equal(strv_length(c.packages), 2);
        assert_string_equal(c.packages[1], "curl-7.88");
        assert_non_null(find_problem(&c, "packages.2"));
        assert_non_null(find_problem(&c, "packages.3"));
        assert_true(c.package_update);
        assert_true(c.package_upgrade);
        assert_int_equal(c.n_yum_repos, 1);
        assert_string_equal(c.yum_repos[0].id, "my-repo");
        assert_string_equal(c.yum_repos[0].options[1].key, "enabled");
        assert_string_equal(c.yum_repos[0].options[1].value, "1");
        assert_string_equal(c.yum_repos[0].options[3].key, "name");
        assert_non_null(find_problem(&c, "yum_repos.broken"));
        assert_true(c.power_state.set);
        assert_string_equal(c.power_state.mode, "reboot");
        assert_string_equal(c.power_state.delay, "+5");
        assert_true(c.power_state.condition_value);
        assert_int_equal(c.swap_size, 512ULL * 1024 * 1024);
        assert_string_equal(c.swap_filename, "/swapfile");
}

static void test_unsupported_and_shape(void **state) {
        _cleanup_(user_data_config_done) UserDataConfig c = {}, d = {};
        _cleanup_ynode_ YNode *list = NULL;
        YamlError err;

        parse_config("snap: {}\napt: {}\nruncmd: [ls]\n1: x\nchpasswd: {}\n", &c);
        assert_int_equal(strv_length(c.unsupported), 4);
        assert_string_equal(c.unsupported[0], "1");
        assert_string_equal(c.unsupported[1], "apt");
        assert_string_equal(c.unsupported[3], "snap");
        assert_int_equal(c.n_problems, 0);

        assert_int_equal(yaml_parse("[1, 2]", 6, &list, &err), 0);
        assert_int_equal(user_data_config_parse(list, &d), 0);
        assert_int_equal(d.n_problems, 1);
        assert_string_equal(d.problems[0].message, "cloud-config is not a YAML dict");
}

static void test_decode_perms(void **state) {
        static const struct {
                const char *yaml;
                int want;
        } cases[] = {
                {"0644", 0644},
                {"'0644'", 0644},
                {"644", 644},
                {"'644'", 0644},
                {"0o755", 0755},
                {"'0o755'", 0755},
                {"420", 0644},
                {"420.0", 0644},
                {"4755.0", -EINVAL /* cloud-init would chmod garbage */},
                {"'rwx'", -EINVAL},
                {"-1", -EINVAL},
                {"'1_0'", 010},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_ynode_ YNode *n = NULL;
                _cleanup_free_ char *doc = NULL;
                YamlError err;
                mode_t m = 0;
                int r;

                assert_true(asprintf(&doc, "v: %s\n", cases[i].yaml) > 0);
                assert_int_equal(yaml_parse(doc, strlen(doc), &n, &err), 0);
                r = user_data_decode_perms(ynode_get(n, "v"), &m);
                if (cases[i].want < 0)
                        assert_int_equal(r, cases[i].want);
                else {
                        assert_int_equal(r, 0);
                        if ((int) m != cases[i].want)
                                fail_msg("permissions %s → %o, expected %o", cases[i].yaml, m,
                                         cases[i].want);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_write_files),
                cmocka_unit_test(test_users),
                cmocka_unit_test(test_users_string_and_map_forms),
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_ssh_and_identity),
                cmocka_unit_test(test_packages_repos_power),
                cmocka_unit_test(test_unsupported_and_shape),
                cmocka_unit_test(test_decode_perms),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
