/* SPDX-License-Identifier: MIT */
/*
 * The after-Ready phase (userdata_final) on a scratch root whose scripts run chrooted into it: the user's
 * scripts and runcmd in name order, per-boot/per-instance/per-once frequencies across boots and a new VM id,
 * deferred write_files, a failing script (degraded, exit status and last lines in the status, later scripts
 * still run), the log file (0600, rotated when over the cap). Needs root (chroot).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "macro.h"
#include "scratch-root.h"
#include "strutil.h"
#include "tests.h"
#include "ud-test.h"
#include "userdata-status.h"
#include "userdata.h"

#define VM_ID  "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"
#define VM_ID2 "0f0e0d0c-0b0a-4908-8706-050403020100"

static const char user_data[] = "Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\n"
                                "MIME-Version: 1.0\n"
                                "\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/cloud-config\n"
                                "\n"
                                "#cloud-config\n"
                                "runcmd:\n"
                                "  - echo runcmd >> /var/tmp/order\n"
                                "  - [touch, /var/tmp/runcmd-marker]\n"
                                "write_files:\n"
                                "  - path: /var/tmp/deferred\n"
                                "    content: after users\n"
                                "    defer: true\n"
                                "final_message: \"done in $UPTIME s, v$VERSION\"\n"
                                "\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/x-shellscript\n"
                                "Content-Disposition: attachment; filename=\"b-fails.sh\"\n"
                                "\n"
                                "#!/bin/sh\n"
                                "echo b >> /var/tmp/order\n"
                                "i=0; while [ $i -lt 30 ]; do echo \"line $i\"; i=$((i+1)); done\n"
                                "echo oops >&2\n"
                                "exit 3\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/x-shellscript\n"
                                "Content-Disposition: attachment; filename=\"a-first.sh\"\n"
                                "\n"
                                "#!/bin/sh\r\n"
                                "echo a >> /var/tmp/order\r\n"
                                "id -u > /var/tmp/uid\r\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/x-shellscript-per-boot\n"
                                "\n"
                                "#!/bin/sh\n"
                                "echo boot >> /var/tmp/per-boot\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/x-shellscript-per-instance\n"
                                "\n"
                                "#!/bin/sh\n"
                                "echo instance >> /var/tmp/per-instance\n"
                                "--BOUNDARY\n"
                                "Content-Type: text/x-shellscript-per-once\n"
                                "\n"
                                "#!/bin/sh\n"
                                "echo once >> /var/tmp/per-once\n"
                                "--BOUNDARY--\n";

typedef struct Fixture {
        char *root;
        Context c;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        f->root = scratch_root_new();
        scratch_context(&f->c, f->root);
        ud_install_shell(f->root);
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

static void provision(Fixture *f, const char *vm_id) {
        _cleanup_free_ char *summary = NULL, *warning = NULL;
        UserDataInput in = {.vm_id = vm_id, .custom_data = user_data, .custom_data_size = strlen(user_data)};
        ProvisionData d = {};
        int r;

        assert_int_equal(free_and_strdup(&d.username, "azureuser"), 0);
        r = userdata_provision(&f->c, &in, &d, &summary, &warning);
        assert_true(r == USERDATA_CHANGED || r == USERDATA_UNCHANGED);
        provision_data_done(&d);
}

static unsigned count_lines(const char *root, const char *rel, const char *line) {
        _cleanup_free_ char *buf = scratch_read(root, rel);
        unsigned n = 0;

        for (char *save = NULL, *l = buf ? strtok_r(buf, "\n", &save) : NULL; l;
             l = strtok_r(NULL, "\n", &save))
                n += streq(l, line);
        return n;
}

static const UdScriptStatus *script(const UserDataStatus *s, const char *name) {
        for (size_t i = 0; i < s->n_scripts; i++)
                if (streq(s->scripts[i].name, name))
                        return &s->scripts[i];
        return NULL;
}

static void test_final_phase(void **state) {
        Fixture *f = *state;
        _cleanup_(userdata_status_done) UserDataStatus st = {}, st2 = {};
        _cleanup_free_ char *order = NULL, *deferred = NULL, *log = NULL, *uid = NULL;
        const UdScriptStatus *b;

        provision(f, VM_ID);
        assert_false(scratch_exists(f->root, "/var/tmp/order")); /* nothing before Ready */
        assert_int_equal(userdata_final(&f->c, VM_ID), 1);       /* degraded: b-fails.sh */

        /* the user's scripts then runcmd, by name; a failure does not stop the next */
        order = scratch_read(f->root, "/var/tmp/order");
        assert_string_equal(order, "a\nb\nruncmd\n");
        assert_true(scratch_exists(f->root, "/var/tmp/runcmd-marker"));
        uid = scratch_read(f->root, "/var/tmp/uid");
        assert_string_equal(uid, "0\n"); /* CRLF script: dos2unix'd, ran */
        deferred = scratch_read(f->root, "/var/tmp/deferred");
        assert_string_equal(deferred, "after users");
        assert_int_equal(count_lines(f->root, "/var/tmp/per-boot", "boot"), 1);
        assert_int_equal(count_lines(f->root, "/var/tmp/per-instance", "instance"), 1);
        assert_int_equal(count_lines(f->root, "/var/tmp/per-once", "once"), 1);
        assert_true(
                scratch_exists(f->root, "/var/lib/azl-agent/userdata/instances/" VM_ID "/boot-finished"));

        assert_int_equal(userdata_status_load(&f->c, &st), 0);
        assert_string_equal(st.state, "degraded");
        b = script(&st, "b-fails.sh");
        assert_non_null(b);
        assert_string_equal(b->state, "failed");
        assert_int_equal(b->exit_status, 3);
        /* the last lines of its output (stdout and stderr together) */
        assert_non_null(strstr(b->output, "line 29\noops"));
        assert_null(strstr(b->output, "line 19\n"));
        assert_true(b->finished_at >= b->started_at && b->started_at > 0);
        assert_int_equal(script(&st, "runcmd")->exit_status, 0);
        assert_string_equal(script(&st, "runcmd")->state, "done");
        assert_true(st.final_finished_at > 0);

        log = scratch_read(f->root, USERDATA_LOG_FILE);
        assert_non_null(strstr(log, "line 17\n"));
        assert_non_null(strstr(log, "b-fails.sh (instance): exit status 3"));
        assert_int_equal(ud_mode(f->root, USERDATA_LOG_FILE), 0600);

        /* the next boot: per-boot again, the rest not */
        provision(f, VM_ID);
        /* a boot in which nothing failed is "done" (as cloud-init's status is per boot); b-fails.sh's record stays */
        assert_int_equal(userdata_final(&f->c, VM_ID), 0);
        free(order);
        order = scratch_read(f->root, "/var/tmp/order");
        assert_string_equal(order, "a\nb\nruncmd\n");
        assert_int_equal(count_lines(f->root, "/var/tmp/per-boot", "boot"), 2);
        assert_int_equal(count_lines(f->root, "/var/tmp/per-instance", "instance"), 1);
        assert_int_equal(count_lines(f->root, "/var/tmp/per-once", "once"), 1);

        /* a captured image booting as a new VM: per-instance and the user's scripts again; per-once never */
        assert_int_equal(unlink_in_root(f->c.root_fd, "/var/tmp/deferred"), 0);
        provision(f, VM_ID2);
        assert_int_equal(userdata_final(&f->c, VM_ID2), 1);
        free(order);
        order = scratch_read(f->root, "/var/tmp/order");
        assert_string_equal(order, "a\nb\nruncmd\na\nb\nruncmd\n");
        assert_int_equal(count_lines(f->root, "/var/tmp/per-instance", "instance"), 2);
        assert_int_equal(count_lines(f->root, "/var/tmp/per-once", "once"), 1);
        assert_true(scratch_exists(f->root, "/var/tmp/deferred"));
        assert_int_equal(userdata_status_load(&f->c, &st2), 0);
        assert_string_equal(st2.vm_id, VM_ID2);
}

static void test_all_good_is_done(void **state) {
        Fixture *f = *state;
        const char *cd = "#cloud-config\nruncmd: [[touch, /var/tmp/ok]]\n";
        _cleanup_free_ char *summary = NULL, *warning = NULL;
        _cleanup_(userdata_status_done) UserDataStatus st = {};
        UserDataInput in = {.vm_id = VM_ID, .custom_data = cd, .custom_data_size = strlen(cd)};
        ProvisionData d = {};

        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary, &warning), USERDATA_UNCHANGED);
        assert_int_equal(userdata_final(&f->c, VM_ID), 0);
        assert_true(scratch_exists(f->root, "/var/tmp/ok"));
        assert_int_equal(userdata_status_load(&f->c, &st), 0);
        assert_string_equal(st.state, "done");
        /* another VM's id: not this instance's user data, nothing runs */
        assert_int_equal(unlink_in_root(f->c.root_fd, "/var/tmp/ok"), 0);
        assert_int_equal(userdata_final(&f->c, VM_ID2), 0);
        assert_false(scratch_exists(f->root, "/var/tmp/ok"));
        provision_data_done(&d);
}

static void test_log_rotation(void **state) {
        Fixture *f = *state;
        const char *cd = "#!/bin/sh\necho fresh output\n";
        _cleanup_free_ char *big = malloc(USERDATA_LOG_MAX + 10), *summary = NULL, *warning = NULL,
                            *log = NULL, *old = NULL;
        UserDataInput in = {.vm_id = VM_ID, .custom_data = cd, .custom_data_size = strlen(cd)};
        ProvisionData d = {};
        struct stat st;

        assert_non_null(big);
        memset(big, 'x', USERDATA_LOG_MAX + 10);
        assert_int_equal(write_file_atomic_in_root(f->c.root_fd, USERDATA_LOG_FILE, big,
                                                   USERDATA_LOG_MAX + 10, 0600, 0, 0, WRITE_MKDIR),
                         0);
        assert_int_equal(userdata_provision(&f->c, &in, &d, &summary, &warning), USERDATA_UNCHANGED);
        assert_int_equal(userdata_final(&f->c, VM_ID), 0);
        log = scratch_read(f->root, USERDATA_LOG_FILE);
        assert_non_null(strstr(log, "fresh output\n"));
        assert_true(strlen(log) < 4096);
        scratch_stat(f->root, USERDATA_LOG_FILE ".1", &st);
        assert_int_equal(st.st_size, USERDATA_LOG_MAX + 10);
        (void) old;
        provision_data_done(&d);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_final_phase, setup, teardown),
                cmocka_unit_test_setup_teardown(test_all_good_is_done, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_rotation, setup, teardown),
        };

        require_root_or_skip("scripts run chrooted into a scratch root");
        log_set_max_level(LOG_WARNING);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
