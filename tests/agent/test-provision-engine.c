/* SPDX-License-Identifier: MIT */
/*
 * The provisioning engine over tables of fake steps, on a scratch root: what state.json says after each run
 * (read back from disk), the run's reason, the KVP report's bytes, the crash points traced. Without a goal
 * state no health report can go out (the runs against the simulated fabric are tests/integration). The
 * last case checks the real tables' shape.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crash-point.h"
#include "fileio.h"
#include "kvp.h"
#include "macro.h"
#include "provision-engine.h"
#include "provision.h"
#include "tests.h"

static char *trace_path;
static unsigned calls[8]; /* per fake step: how often it ran */

typedef struct Fixture {
        char *dir;
        Context c;
        ProvisionRun p;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof *f);

        assert_non_null(f);
        f->dir = tmpdir_new();
        write_test_file(f->dir, "var/lib/hyperv/.keep", ""); /* KVP is on when its directory exists */
        assert_int_equal(context_init(&f->c, f->dir, NULL), 0);
        f->p = (ProvisionRun){.c = &f->c};
        assert_int_equal(provision_engine_begin(&f->p), 0);
        memset(calls, 0, sizeof calls);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;

        provision_run_done(&f->p);
        context_done(&f->c);
        tmpdir_remove(f->dir);
        free(f);
        return 0;
}

/* userdata: its index in calls[]. */
static unsigned count(const ProvisionStepDef *step) {
        unsigned i = (unsigned) (uintptr_t) step->userdata;

        calls[i]++;
        return i;
}

static int fake_changed(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        struct timespec ts = {.tv_nsec = 3 * 1000 * 1000};

        count(step);
        (void) nanosleep(&ts, NULL); /* a duration that shows */
        return provision_engine_summaryf(ret_summary, STEP_CHANGED, "%s did it", step->name);
}

static int fake_skipped(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        count(step);
        return STEP_SKIPPED;
}

static int fake_unrecorded(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        count(step);
        return PROVISION_STEP_UNRECORDED;
}

static int fake_explained(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        return error_setf(error, -EIO, "%s broke (call %u)", step->name, calls[count(step)]);
}

static int fake_silent(ProvisionRun *p, const ProvisionStepDef *step, char **ret_summary, Error *error) {
        count(step);
        return -ENOENT;
}

#define STEP(name, fn, flags, failure, i)                                                                   \
        { name, fn, flags, failure, (const void *) (uintptr_t) (i) }

static ProvisionState load(Fixture *f) {
        ProvisionState s = {};

        assert_int_equal(provision_state_load(&f->c, &s), 0);
        return s;
}

static void assert_step(const ProvisionState *s, size_t i, const char *name, StepResult result,
                        const char *summary) {
        assert_true(i < s->n_steps);
        assert_string_equal(s->steps[i].name, name);
        assert_int_equal(s->steps[i].result, result);
        if (summary)
                assert_string_equal(s->steps[i].summary, summary);
        else
                assert_null(s->steps[i].summary);
}

/* The PROVISIONING_REPORT value (all records of the key, in order), from the pool's bytes. */
static char *kvp_value(Fixture *f) {
        _cleanup_free_ char *pool = NULL;
        char *value = strdup("");
        size_t size = 0;

        assert_int_equal(read_file_in_root(f->c.root_fd, KVP_POOL_PATH, 1024 * 1024, &pool, &size), 0);
        assert_int_equal(size % KVP_RECORD_SIZE, 0);
        for (size_t off = 0; off < size; off += KVP_RECORD_SIZE) {
                char *next = NULL;

                if (!streq(pool + off, KVP_KEY_PROVISIONING_REPORT))
                        continue;
                assert_true(asprintf(&next, "%s%.*s", value, (int) KVP_VALUE_SIZE,
                                     pool + off + KVP_KEY_SIZE) > 0);
                free(value);
                value = next;
        }
        return value;
}

/* Optional failures are recorded with their reason and the table goes on; successes carry their timings. */
static void test_optional_failure_continues(void **state) {
        static const ProvisionStepDef table[] = {
                STEP("one", fake_changed, PROVISION_STEP_REQUIRED, NULL, 0),
                STEP("flaky", fake_explained, 0, NULL, 1),
                STEP("quiet", fake_unrecorded, PROVISION_STEP_REQUIRED, NULL, 2),
                STEP("shaky", fake_silent, 0, "Could not shake", 3),
                STEP("two", fake_skipped, PROVISION_STEP_REQUIRED, NULL, 4),
                {},
        };
        Fixture *f = *state;
        _cleanup_(provision_state_done) ProvisionState s = {};
        _cleanup_free_ char *kvp = NULL;

        assert_int_equal(provision_engine_run(&f->p, table), 0);
        assert_false(error_is_set(&f->p.error));
        for (size_t i = 0; i < 5; i++)
                assert_int_equal(calls[i], 1);

        /* state.json is saved after every step: on disk now, before the run ends. */
        s = load(f);
        assert_string_equal(s.state, "running");
        assert_int_equal(s.n_steps, 4);
        assert_step(&s, 0, "one", STEP_CHANGED, "one did it");
        assert_true(s.steps[0].duration >= 3 * 1000);
        assert_true(s.steps[0].duration < 60 * USEC_PER_SEC);
        assert_step(&s, 1, "flaky", STEP_FAILED, "flaky broke (call 1)");
        assert_step(&s, 2, "shaky", STEP_FAILED, "Could not shake: No such file or directory");
        assert_step(&s, 3, "two", STEP_SKIPPED, NULL);
        provision_state_done(&s);

        assert_int_equal(provision_engine_finish(&f->p, 0, "Provisioned:"), 0);
        s = load(f);
        assert_string_equal(s.state, "ready");
        assert_null(s.reason);
        assert_true(s.finished_at >= s.started_at && s.started_at > 0);
        assert_null(s.health_reported); /* no goal state: nothing could be reported */
        kvp = kvp_value(f);
        assert_true(startswith(kvp, "result=success|agent=azl-agent/"));
        assert_non_null(strstr(kvp, "|pps_type=None|"));
}

/* A required failure stops the table with its reason; PROVISION_STEP_ALWAYS rows still run. */
static void test_required_failure_stops(void **state) {
        static const ProvisionStepDef table[] = {
                STEP("one", fake_changed, PROVISION_STEP_REQUIRED, NULL, 0),
                STEP("needed", fake_silent, PROVISION_STEP_REQUIRED, "Failed to get what is needed", 1),
                STEP("after", fake_changed, PROVISION_STEP_REQUIRED, NULL, 2),
                STEP("optional-after", fake_changed, 0, NULL, 3),
                STEP("always", fake_changed, PROVISION_STEP_REQUIRED | PROVISION_STEP_ALWAYS, NULL, 4),
                {},
        };
        Fixture *f = *state;
        _cleanup_(provision_state_done) ProvisionState s = {};
        _cleanup_free_ char *kvp = NULL;

        assert_int_equal(provision_engine_run(&f->p, table), -ENOENT);
        assert_int_equal(calls[0], 1);
        assert_int_equal(calls[1], 1);
        assert_int_equal(calls[2], 0);
        assert_int_equal(calls[3], 0);
        assert_int_equal(calls[4], 1);
        assert_int_equal(f->p.error.error, -ENOENT);
        assert_string_equal(f->p.error.reason, "Failed to get what is needed: No such file or directory");

        s = load(f);
        assert_int_equal(s.n_steps, 3);
        assert_step(&s, 1, "needed", STEP_FAILED, NULL); /* the reason is the run's */
        assert_step(&s, 2, "always", STEP_CHANGED, "always did it");
        provision_state_done(&s);

        assert_int_equal(provision_engine_finish(&f->p, -ENOENT, NULL), -ENOENT);
        s = load(f);
        assert_string_equal(s.state, "failed");
        assert_string_equal(s.reason, "Failed to get what is needed: No such file or directory");
        kvp = kvp_value(f);
        assert_true(startswith(
                kvp, "result=error|reason=Failed to get what is needed: No such file or directory|"));
        assert_non_null(strstr(kvp, "documentation_url=https://aka.ms/linuxprovisioningerror"));
}

/* PROVISION_STEP_REQUIRED_CONFIDENTIAL: optional on a VM that is not confidential, required on one — the run
 * fails with the step's reason, which is its summary too; (A) rows still run. */
static void test_required_confidential(void **state) {
        static const ProvisionStepDef table[] = {
                STEP("guard", fake_explained, PROVISION_STEP_REQUIRED_CONFIDENTIAL | PROVISION_STEP_ALWAYS,
                     NULL, 0),
                STEP("after", fake_changed, PROVISION_STEP_REQUIRED, NULL, 1),
                STEP("always", fake_changed, PROVISION_STEP_REQUIRED | PROVISION_STEP_ALWAYS, NULL, 2),
                {},
        };
        Fixture *f = *state;
        _cleanup_(provision_state_done) ProvisionState s = {};

        f->c.confidential.active = false;
        assert_int_equal(provision_engine_run(&f->p, table), 0);
        assert_false(error_is_set(&f->p.error));
        assert_int_equal(calls[1], 1);
        s = load(f);
        assert_int_equal(s.n_steps, 3);
        assert_step(&s, 0, "guard", STEP_FAILED, "guard broke (call 1)");
        assert_step(&s, 1, "after", STEP_CHANGED, "after did it");
        provision_state_done(&s);

        f->c.confidential.active = true;
        assert_int_equal(provision_engine_run(&f->p, table), -EIO);
        assert_string_equal(f->p.error.reason, "guard broke (call 2)");
        assert_int_equal(calls[1], 1); /* not again */
        assert_int_equal(calls[2], 2);
        s = load(f);
        assert_int_equal(s.n_steps, 5);
        assert_step(&s, 3, "guard", STEP_FAILED, "guard broke (call 2)");
        assert_step(&s, 4, "always", STEP_CHANGED, "always did it");
}

/* The step's own reason wins over the row's; without either: "Step <name> failed"; FAILURE_SUMMARY;
 * an ALWAYS row failing after a failure has the last word; a later table does not run over a failed one. */
static void test_reasons(void **state) {
        static const ProvisionStepDef first[] = {
                STEP("explains", fake_explained, PROVISION_STEP_REQUIRED | PROVISION_STEP_FAILURE_SUMMARY,
                     "not this", 0),
                {},
        };
        static const ProvisionStepDef second[] = {
                STEP("mute", fake_silent, PROVISION_STEP_REQUIRED, NULL, 1),
                STEP("last-word", fake_explained, PROVISION_STEP_REQUIRED | PROVISION_STEP_ALWAYS, NULL, 2),
                {},
        };
        static const ProvisionStepDef third[] = {
                STEP("mute", fake_silent, PROVISION_STEP_REQUIRED, NULL, 1),
                {},
        };
        Fixture *f = *state;
        _cleanup_(provision_state_done) ProvisionState s = {};

        assert_int_equal(provision_engine_run(&f->p, first), -EIO);
        assert_string_equal(f->p.error.reason, "explains broke (call 1)");
        s = load(f);
        assert_step(&s, 0, "explains", STEP_FAILED, "explains broke (call 1)");
        provision_state_done(&s);

        error_clear(&f->p.error);
        assert_int_equal(provision_engine_run(&f->p, second), -ENOENT); /* the first failure's errno */
        assert_string_equal(f->p.error.reason, "last-word broke (call 1)");
        s = load(f);
        assert_step(&s, 1, "mute", STEP_FAILED, NULL);
        assert_step(&s, 2, "last-word", STEP_FAILED, NULL);
        provision_state_done(&s);

        error_clear(&f->p.error);
        assert_int_equal(provision_engine_run(&f->p, third), -ENOENT);
        assert_string_equal(f->p.error.reason, "Step mute failed: No such file or directory");
}

/* Every recorded step hits provision:<name>:recorded; CRASH_START rows hit provision:<name>:start first. */
static void test_crash_points(void **state) {
        static const ProvisionStepDef table[] = {
                STEP("plain", fake_changed, PROVISION_STEP_REQUIRED, NULL, 0),
                STEP("hidden", fake_unrecorded, PROVISION_STEP_REQUIRED, NULL, 1),
                STEP("guarded", fake_changed, PROVISION_STEP_REQUIRED | PROVISION_STEP_CRASH_START, NULL, 2),
                STEP("broken", fake_silent, PROVISION_STEP_CRASH_START, NULL, 3),
                {},
        };
        static const char *const expected[] = {
                "provision:plain:recorded@1", "provision:guarded:start@1",   "provision:guarded:recorded@1",
                "provision:broken:start@1",   "provision:broken:recorded@1",
        };
        Fixture *f = *state;
        _cleanup_free_ char *trace = NULL;
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0, first = SIZE_MAX;

        if (!crash_points_supported())
                skip();
        assert_int_equal(provision_engine_run(&f->p, table), 0);
        fd = open(trace_path, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(read_full_fd(fd, 1024 * 1024, &trace, NULL), 0);
        assert_int_equal(strv_split(trace, "\n", &lines), 0);
        /* Earlier cases traced too, and saving state.json has points of its own: this run's provision:
         * points, from its first one, in order. */
        for (size_t i = 0; lines[i]; i++) {
                if (first == SIZE_MAX && streq(lines[i], expected[0]))
                        first = i;
                if (first == SIZE_MAX || !startswith(lines[i], "provision:"))
                        continue;
                assert_true(n < ELEMENTSOF(expected));
                assert_string_equal(lines[i], expected[n++]);
        }
        assert_int_equal(n, ELEMENTSOF(expected));
}

/* The run's own tables: rows named, the Provisioner rows named as their Provisioner, in the order users
 * need (the user before its keys, sshd last), validation before anything writes, Ready last. */
static void test_real_tables(void **state) {
        static const char *const first_boot[] = {
                "validate",      "userdata", "hostname",     "user",  "ssh-keys",          "sshd-config",
                "ssh-host-keys", "marker",   "report-ready", "disks", "ssh-host-keys-rest"};
        static const char *const boot[] = {"media",        "proxy-agent", "imds",
                                           "confidential", "firewall",    "wireserver"};
        static const char *const again[] = {"userdata", "marker", "report-ready", "disks"};
        size_t n = 0;

        for (const ProvisionStepDef *s = provision_first_boot_steps; s->name; s++, n++) {
                assert_true(n < ELEMENTSOF(first_boot));
                assert_string_equal(s->name, first_boot[n]);
                assert_non_null(s->run);
                if (s->userdata) {
                        const Provisioner *pr = s->userdata;

                        assert_string_equal(pr->name, s->name);
                        assert_true(s->flags & PROVISION_STEP_CRASH_START);
                }
                /* the user data's problems are reported, never fatal (issue #18); the last rows run after Ready,
                 * optional: the disks (as the peers' growpart and resource disk), and even when a step before it
                 * failed, the row that reaps the ssh-keygen child the host keys step started */
                if (streq(s->name, "ssh-host-keys-rest"))
                        assert_true(s->flags == PROVISION_STEP_ALWAYS);
                else
                        assert_int_equal(!!(s->flags & PROVISION_STEP_REQUIRED),
                                         !streq(s->name, "userdata") && !streq(s->name, "disks"));
        }
        assert_int_equal(n, ELEMENTSOF(first_boot));

        n = 0;
        for (const ProvisionStepDef *s = provision_boot_steps; s->name; s++, n++) {
                assert_true(n < ELEMENTSOF(boot));
                assert_string_equal(s->name, boot[n]);
        }
        assert_int_equal(n, ELEMENTSOF(boot));
        n = 0;
        for (const ProvisionStepDef *s = provision_again_steps; s->name; s++, n++) {
                assert_true(n < ELEMENTSOF(again));
                assert_string_equal(s->name, again[n]);
        }
        assert_int_equal(n, ELEMENTSOF(again));
        /* A table of its own: a first boot's NotReady/Provisioning goes out before its networkd reload. */
        assert_string_equal(provision_network_steps[0].name, "network");
        assert_true(provision_network_steps[0].flags == PROVISION_STEP_REQUIRED_INPUT);
        assert_null(provision_network_steps[1].name);
        /* The goal state is needed to report any failure, and the WireServer guard goes up before it, required
         * on a confidential VM only: the verdict comes first, after IMDS failed too. */
        assert_true(provision_boot_steps[3].flags & PROVISION_STEP_ALWAYS);
        assert_false(provision_boot_steps[3].flags & PROVISION_STEP_REQUIRED);
        assert_true(provision_boot_steps[4].flags & PROVISION_STEP_ALWAYS);
        assert_false(provision_boot_steps[4].flags & PROVISION_STEP_REQUIRED);
        assert_true(provision_boot_steps[4].flags & PROVISION_STEP_REQUIRED_CONFIDENTIAL);
        assert_true(provision_boot_steps[5].flags & PROVISION_STEP_ALWAYS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_optional_failure_continues, setup, teardown),
                cmocka_unit_test_setup_teardown(test_required_failure_stops, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reasons, setup, teardown),
                cmocka_unit_test_setup_teardown(test_crash_points, setup, teardown),
                cmocka_unit_test_setup_teardown(test_required_confidential, setup, teardown),
                cmocka_unit_test(test_real_tables),
        };
        char *dir = tmpdir_new();
        int r;

        /* Read once per process, at the first point: set before any case runs. */
        assert_true(asprintf(&trace_path, "%s/trace", dir) > 0);
        setenv("AZL_CRASH_POINT_TRACE", trace_path, 1);
        r = cmocka_run_group_tests(tests, NULL, NULL);
        tmpdir_remove(dir);
        free(trace_path);
        return r;
}
