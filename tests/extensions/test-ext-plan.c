/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle plan (§4.6) as a pure function of (handlers on disk, goal state): fresh install, re-enable of
 * an installed handler, update 1.0 → 1.1 (and downgrade), FailedUpgrade retried, uninstall, legacy disabled,
 * dependency levels (uninstall/disable first in reverse order, enables ascending, waits between levels),
 * multi-config instances, removal of handlers the goal state no longer names, and config errors.
 */
#include <stdio.h>
#include <string.h>

#include "ext-plan.h"
#include "macro.h"
#include "extensions-goal-state.h"
#include "tests.h"

#define SETTINGS(seq)                                                                                       \
        "<RuntimeSettings seqNo=\"" #seq                                                                    \
        "\">{\"runtimeSettings\":[{\"handlerSettings\":{\"publicSettings\":{\"a\":1}}}]}</RuntimeSettings>"

static char *plan_for(const InstalledHandler *inst, size_t n, const char *plugins, const char *settings) {
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        _cleanup_(ext_plan_done) ExtPlan p = {};
        _cleanup_free_ char *xml = NULL, *err = NULL;
        char *text = NULL;

        assert_true(
                asprintf(&xml,
                         "<Extensions version=\"1.0.0.0\" goalStateIncarnation=\"1\"><Plugins>%s</Plugins>"
                         "<PluginSettings>%s</PluginSettings></Extensions>",
                         plugins, settings) > 0);
        if (ext_conf_parse(xml, strlen(xml), NULL, &gs, &err) < 0)
                fail_msg("parse: %s", err);
        assert_int_equal(ext_plan_compute(inst, n, &gs, &p), 0);
        assert_int_equal(ext_plan_format(&p, &text), 0);
        return text;
}

#define PLUGIN(name, version, state)                                                                        \
        "<Plugin name=\"" name "\" version=\"" version "\" location=\"http://x/m\" state=\"" state "\"/>"
#define PSET(name, version, body) "<Plugin name=\"" name "\" version=\"" version "\">" body "</Plugin>"

static void test_fresh_install(void **state) {
        _cleanup_free_ char *t =
                plan_for(NULL, 0, PLUGIN("A.B", "1.0.0", "enabled"), PSET("A.B", "1.0.0", SETTINGS(3)));

        assert_string_equal(t,
                            "download A.B-1.0.0\nsettings A.B-1.0.0\ninstall A.B-1.0.0\nenable A.B-1.0.0\n");
}

static void test_reenable_installed(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t =
                plan_for(inst, 1, PLUGIN("A.B", "1.0.0", "enabled"), PSET("A.B", "1.0.0", SETTINGS(4)));

        /* enable runs on every new goal state and after every agent start, seqNo unchanged or not */
        assert_string_equal(t, "settings A.B-1.0.0\nenable A.B-1.0.0\n");
}

static void test_update(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t =
                plan_for(inst, 1, PLUGIN("A.B", "1.1.0", "enabled"), PSET("A.B", "1.1.0", SETTINGS(4)));

        assert_string_equal(
                t, "download A.B-1.1.0\nsettings A.B-1.1.0\ndisable A.B-1.0.0\ncopy A.B-1.1.0 1.0.0\n"
                   "update A.B-1.1.0 1.0.0\nuninstall A.B-1.0.0\nremove A.B-1.0.0\ninstall A.B-1.1.0\n"
                   "enable A.B-1.1.0\n");
}

static void test_update_from_installed_not_enabled(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_INSTALLED}};
        _cleanup_free_ char *t =
                plan_for(inst, 1, PLUGIN("A.B", "1.1.0", "enabled"), PSET("A.B", "1.1.0", SETTINGS(4)));

        assert_null(strstr(t, "disable"));
}

static void test_downgrade(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.1.0", .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t =
                plan_for(inst, 1, PLUGIN("A.B", "1.0.0", "enabled"), PSET("A.B", "1.0.0", SETTINGS(4)));

        /* downgrade: the *old* version's update command runs, with VERSION=1.0.0 (§4.6 step 3) */
        assert_non_null(strstr(t, "update A.B-1.1.0 1.0.0\nuninstall A.B-1.1.0\n"));
}

static void test_failed_upgrade_retried(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_ENABLED},
                {.name = (char *) "A.B", .version = (char *) "1.1.0", .state = HANDLER_STATE_FAILED_UPGRADE},
        };
        _cleanup_free_ char *t =
                plan_for(inst, 2, PLUGIN("A.B", "1.1.0", "enabled"), PSET("A.B", "1.1.0", SETTINGS(4)));

        assert_true(startswith(t, "download A.B-1.1.0\nsettings A.B-1.1.0\ndisable A.B-1.0.0\n"));
}

static void test_uninstall(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t = plan_for(inst, 1, PLUGIN("A.B", "1.0.0", "uninstall"), "");
        _cleanup_free_ char *none = plan_for(NULL, 0, PLUGIN("A.B", "1.0.0", "uninstall"), "");

        assert_string_equal(t, "disable A.B-1.0.0\nuninstall A.B-1.0.0\nremove A.B-1.0.0\n");
        assert_string_equal(none, "");
}

static void test_disabled(void **state) {
        InstalledHandler en[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_ENABLED}};
        InstalledHandler in[] = {
                {.name = (char *) "A.B", .version = (char *) "1.0.0", .state = HANDLER_STATE_INSTALLED}};
        _cleanup_free_ char *a =
                plan_for(en, 1, PLUGIN("A.B", "1.0.0", "disabled"), PSET("A.B", "1.0.0", SETTINGS(1)));
        _cleanup_free_ char *b =
                plan_for(in, 1, PLUGIN("A.B", "1.0.0", "disabled"), PSET("A.B", "1.0.0", SETTINGS(1)));

        assert_string_equal(a, "disable A.B-1.0.0\n");
        assert_string_equal(b, "");
}

static void test_dependencies(void **state) {
        InstalledHandler inst[] = {
                {.name = (char *) "U.U", .version = (char *) "1.0", .state = HANDLER_STATE_ENABLED},
                {.name = (char *) "C.C", .version = (char *) "1.0", .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t = plan_for(
                inst, 2,
                PLUGIN("C.C", "1.0", "enabled") PLUGIN("B.B", "1.0", "enabled")
                        PLUGIN("A.A", "1.0", "enabled") PLUGIN("U.U", "1.0", "uninstall"),
                PSET("C.C", "1.0",
                     "<DependsOn dependencyLevel=\"2\"><DependsOnExtension "
                     "handler=\"B.B\"/></DependsOn>" SETTINGS(0))
                        PSET("B.B", "1.0",
                             "<DependsOn dependencyLevel=\"1\"><DependsOnExtension "
                             "handler=\"A.A\"/></DependsOn>" SETTINGS(0)) PSET("A.A", "1.0", SETTINGS(0))
                                PSET("U.U", "1.0",
                                     "<DependsOn dependencyLevel=\"1\"><DependsOnExtension "
                                     "handler=\"A.A\"/></DependsOn>" SETTINGS(0)));

        /* uninstall first (key -2), then A (0) wait, B (1) wait, C (2, the last level: no wait) */
        assert_string_equal(
                t, "disable U.U-1.0\nuninstall U.U-1.0\nremove U.U-1.0\n"
                   "download A.A-1.0\nsettings A.A-1.0\ninstall A.A-1.0\nenable A.A-1.0\nwait A.A-1.0\n"
                   "download B.B-1.0\nsettings B.B-1.0\ninstall B.B-1.0\nenable B.B-1.0\nwait B.B-1.0\n"
                   "settings C.C-1.0\nenable C.C-1.0\n");
}

static void test_multi_config(void **state) {
        InstalledHandler inst[] = {{.name = (char *) "R.C",
                                    .version = (char *) "1.0",
                                    .state = HANDLER_STATE_ENABLED,
                                    .enabled_extensions = (char *[]){(char *) "second", NULL}}};
        _cleanup_free_ char *fresh = plan_for(NULL, 0, PLUGIN("R.C", "1.0", "enabled"),
                                              PSET("R.C", "1.0",
                                                   "<ExtensionRuntimeSettings seqNo=\"1\" name=\"first\" "
                                                   "state=\"enabled\">{\"runtimeSettings\":[{"
                                                   "\"handlerSettings\":{}}]}</ExtensionRuntimeSettings>"
                                                   "<ExtensionRuntimeSettings seqNo=\"2\" name=\"second\" "
                                                   "state=\"enabled\">{\"runtimeSettings\":[{"
                                                   "\"handlerSettings\":{}}]}</ExtensionRuntimeSettings>"));
        _cleanup_free_ char *dis = plan_for(inst, 1, PLUGIN("R.C", "1.0", "enabled"),
                                            PSET("R.C", "1.0",
                                                 "<ExtensionRuntimeSettings seqNo=\"1\" name=\"first\" "
                                                 "state=\"enabled\">{\"runtimeSettings\":[{"
                                                 "\"handlerSettings\":{}}]}</ExtensionRuntimeSettings>"
                                                 "<ExtensionRuntimeSettings seqNo=\"2\" name=\"second\" "
                                                 "state=\"disabled\">{\"runtimeSettings\":[{"
                                                 "\"handlerSettings\":{}}]}</ExtensionRuntimeSettings>"));

        assert_string_equal(fresh, "download R.C-1.0 first\nsettings R.C-1.0 first\ninstall R.C-1.0 "
                                   "first\nenable R.C-1.0 first\n"
                                   "settings R.C-1.0 second\nenable R.C-1.0 second\n");
        /* the disabled instance first (key -1), then the enabled one */
        assert_string_equal(dis, "disable R.C-1.0 second\ndelete-extension R.C-1.0 second\n"
                                 "settings R.C-1.0 first\nenable R.C-1.0 first\n");
}

static void test_removed_from_goal_state(void **state) {
        InstalledHandler inst[] = {{.name = (char *) "Gone.Handler",
                                    .version = (char *) "2.0",
                                    .state = HANDLER_STATE_ENABLED}};
        _cleanup_free_ char *t =
                plan_for(inst, 1, PLUGIN("A.B", "1.0.0", "enabled"), PSET("A.B", "1.0.0", SETTINGS(0)));

        /* _cleanup_outdated_handlers: removed without running uninstall */
        assert_true(endswith(t, "remove Gone.Handler-2.0\n"));
        assert_null(strstr(t, "uninstall"));
}

static void test_no_settings(void **state) {
        _cleanup_free_ char *t = plan_for(NULL, 0, PLUGIN("A.B", "1.0.0", "enabled"), "");

        assert_string_equal(t,
                            "download A.B-1.0.0\nsettings A.B-1.0.0\ninstall A.B-1.0.0\nenable A.B-1.0.0\n");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fresh_install),
                cmocka_unit_test(test_reenable_installed),
                cmocka_unit_test(test_update),
                cmocka_unit_test(test_update_from_installed_not_enabled),
                cmocka_unit_test(test_downgrade),
                cmocka_unit_test(test_failed_upgrade_retried),
                cmocka_unit_test(test_uninstall),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_dependencies),
                cmocka_unit_test(test_multi_config),
                cmocka_unit_test(test_removed_from_goal_state),
                cmocka_unit_test(test_no_settings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
