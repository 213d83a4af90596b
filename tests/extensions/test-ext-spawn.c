/* SPDX-License-Identifier: MIT */
/*
 * Handler commands as transient services (ext-spawn.h, issue #17 §7), against a stand-in for systemd's manager on
 * a private dbus-daemon (fake-systemd.h; systemd as PID 1 is exercised in tests/vm). Asserted from what the manager
 * received and from what the command itself did:
 *
 *   * StartTransientUnit of <op>_<uuid>.service in azure-vmextensions-<Name>.slice ('-' → '_') with ExecStart= the
 *     argv, WorkingDirectory=, Environment= the contract without the agent's own unit variables (NOTIFY_SOCKET, …),
 *     stdin null, stdout/stderr the capture files passed as fds (the command's output lands in them), KillMode=process,
 *     AddRef=yes, CollectMode=inactive-or-failed, IgnoreSIGPIPE=no, the limits, RuntimeMaxUSec= timeout + 60 s;
 *   * the exit status from ExecMainCode/ExecMainStatus (exit 3; killed by a signal → 128 + signal), limits_applied
 *     from the unit's properties (true; false when the unit reports MemoryMax=infinity), UnrefUnit once read;
 *   * a timeout: KillUnit(all, SIGKILL), timed_out;
 *   * a manager that refuses transient services: the command is forked in a transient scope (PIDs= its PID) and
 *     runs all the same;
 *   * a caller's own slice (the daemon's Reprovision() in azure.slice), and ext_process_forget(): the service is
 *     left running, not killed, its reference given back;
 *   * handler removal: StopUnit of the slice;
 *   * the whole executor over this path: the recorder extension installed and enabled, with exactly the §4.4
 *     environment and the handler directory as working directory.
 *
 * Exits 77 when dbus-daemon is not installed.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "context.h"
#include "ext-executor.h"
#include "ext-spawn.h"
#include "ext-test-zip.h"
#include "fake-systemd.h"
#include "fileio.h"
#include "macro.h"
#include "tests.h"

typedef struct Run {
        bool done;
        ExtProcessResult result;
} Run;

static void on_exit_cb(ExtProcess *p, const ExtProcessResult *r, void *userdata) {
        Run *run = userdata;

        run->result = *r;
        run->done = true;
}

static void run_until(sd_event *e, bool *done) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * USEC_PER_SEC;

        while (!*done) {
                assert_true(now_usec(CLOCK_MONOTONIC) < deadline);
                assert_true(sd_event_run(e, 100 * USEC_PER_MSEC) >= 0);
        }
}

/* Lets the event loop run for a while (asynchronous calls such as UnrefUnit reach the manager). */
static void settle(sd_event *e) {
        for (int i = 0; i < 20; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
}

typedef struct Env {
        sd_event *event;
        FakeSystemd fake;
        ExtSpawner *spawner;
        char *dir;
        int dir_fd, out_fd, err_fd;
} Env;

static int setup(void **state) {
        Env *env = calloc(1, sizeof *env);

        assert_int_equal(sd_event_new(&env->event), 0);
        assert_true(fake_systemd_start(&env->fake, env->event));
        env->dir = tmpdir_new();
        env->dir_fd = open(env->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        env->out_fd = memfd_create("out", MFD_CLOEXEC);
        env->err_fd = memfd_create("err", MFD_CLOEXEC);
        assert_true(env->dir_fd >= 0 && env->out_fd >= 0 && env->err_fd >= 0);
        *state = env;
        return 0;
}

static void spawner_new(Env *env) {
        ExtSpawnerOptions o = {.bus_address = env->fake.address, .cgroup_root = ""};

        assert_int_equal(ext_spawner_new(env->event, &o, &env->spawner), 0);
        assert_int_equal(ext_spawner_isolation(env->spawner), EXT_ISOLATION_SERVICE);
}

static int teardown(void **state) {
        Env *env = *state;

        ext_spawner_free(env->spawner);
        fake_systemd_stop(&env->fake);
        closep(&env->dir_fd);
        closep(&env->out_fd);
        closep(&env->err_fd);
        tmpdir_remove(env->dir);
        sd_event_unref(env->event);
        free(env);
        return 0;
}

static char *fd_text(int fd) {
        char *s = NULL;
        size_t n;

        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        assert_int_equal(read_full_fd(fd, 64 * 1024, &s, &n), 0);
        return s;
}

static ExtProcess *spawn(Env *env, char **argv, char **envp, unsigned cpu, uint64_t mem, usec_t timeout,
                         Run *run) {
        ExtSpawnParams p = {
                .argv = argv,
                .cwd_fd = env->dir_fd,
                .cwd = env->dir,
                .env = envp,
                .stdout_fd = env->out_fd,
                .stderr_fd = env->err_fd,
                .handler_name = "Test.Spawn-Name",
                .operation = "enable",
                .cpu_quota_percent = cpu,
                .memory_max = mem,
                .timeout = timeout,
        };
        ExtProcess *proc = NULL;

        assert_int_equal(ext_process_spawn(env->spawner, &p, on_exit_cb, run, &proc), 0);
        return proc;
}

static void test_service_properties(void **state) {
        Env *env = *state;
        char *argv[] = {
                (char *) "/bin/sh", (char *) "-c",
                (char *) "echo out; echo err >&2; pwd; echo \"FOO=$FOO NOTIFY=${NOTIFY_SOCKET-unset}\"; "
                         "trap - PIPE; exit 3",
                (char *) "/bin/sh", NULL};
        char *envp[] = {(char *) "FOO=bar baz", (char *) "NOTIFY_SOCKET=/run/systemd/notify",
                        (char *) "INVOCATION_ID=0123", (char *) "PATH=/usr/bin:/bin", NULL};
        _cleanup_free_ char *out = NULL, *err = NULL, *expect = NULL;
        _cleanup_(ext_process_freep) ExtProcess *proc = NULL;
        Run run = {};
        FakeUnit *u;

        spawner_new(env);
        proc = spawn(env, argv, envp, 50, 128ULL << 20, 10 * USEC_PER_SEC, &run);
        run_until(env->event, &run.done);
        settle(env->event);

        assert_int_equal(env->fake.n_units, 1);
        u = &env->fake.units[0];
        print_message("unit %s in %s\n", u->name, u->slice);
        assert_true(startswith(u->name, "enable_") && endswith(u->name, ".service"));
        assert_int_equal(strlen(u->name), strlen("enable_") + 36 + strlen(".service"));
        assert_string_equal(ext_process_unit(proc), u->name);
        assert_string_equal(u->slice, "azure-vmextensions-Test.Spawn_Name.slice");
        assert_string_equal(u->exec_path, "/bin/sh");
        assert_int_equal(strv_length(u->exec_argv), 4);
        for (size_t i = 0; i < 4; i++)
                assert_string_equal(u->exec_argv[i], argv[i]);
        assert_string_equal(u->working_directory, env->dir);
        /* the contract's variables, not the agent's own unit's */
        assert_int_equal(strv_length(u->environment), 2);
        assert_string_equal(u->environment[0], "FOO=bar baz");
        assert_string_equal(u->environment[1], "PATH=/usr/bin:/bin");
        assert_string_equal(u->standard_input, "null");
        assert_string_equal(u->kill_mode, "process");
        assert_string_equal(u->collect_mode, "inactive-or-failed");
        assert_true(u->add_ref);
        assert_true(u->ignore_sigpipe_set);
        assert_false(u->ignore_sigpipe);
        assert_int_equal(u->cpu_quota_per_sec_usec, 500000);
        assert_int_equal(u->memory_max, 128ULL << 20);
        assert_int_equal(u->runtime_max_usec, 70 * USEC_PER_SEC);
        assert_int_equal(u->n_pids, 0);
        assert_true(env->fake.subscribed >= 1);

        /* what the command did, through the fds systemd was given */
        out = fd_text(env->out_fd);
        err = fd_text(env->err_fd);
        assert_true(asprintf(&expect, "out\n%s\nFOO=bar baz NOTIFY=unset\n", env->dir) > 0);
        assert_string_equal(out, expect);
        assert_string_equal(err, "err\n");

        assert_int_equal(run.result.exit_code, 3);
        assert_false(run.result.timed_out);
        assert_true(run.result.limits_applied);
        assert_int_equal(run.result.isolation, EXT_ISOLATION_SERVICE);
        /* the reference taken with AddRef= is given back once the exit status is read */
        assert_true(u->unrefed);
        assert_int_equal(u->killed_with, 0);
}

static void test_service_limits_not_applied(void **state) {
        Env *env = *state;
        char *argv[] = {(char *) "/bin/true", NULL};
        char *envp[] = {NULL};
        _cleanup_(ext_process_freep) ExtProcess *proc = NULL;
        Run run = {};

        env->fake.drop_memory_max = true;
        spawner_new(env);
        proc = spawn(env, argv, envp, 0, 64ULL << 20, 0, &run);
        run_until(env->event, &run.done);
        assert_int_equal(run.result.exit_code, 0);
        assert_false(run.result.limits_applied);
        assert_int_equal(env->fake.units[0].runtime_max_usec, 0); /* no timeout, no backstop */
}

static void test_service_timeout(void **state) {
        Env *env = *state;
        char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "sleep 60 & sleep 60", NULL};
        char *envp[] = {(char *) "PATH=/usr/bin:/bin", NULL};
        _cleanup_(ext_process_freep) ExtProcess *proc = NULL;
        usec_t start = now_usec(CLOCK_MONOTONIC);
        Run run = {};

        spawner_new(env);
        proc = spawn(env, argv, envp, 0, 0, 1 * USEC_PER_SEC, &run);
        run_until(env->event, &run.done);
        print_message("exit %d after %.1fs\n", run.result.exit_code,
                      (double) (now_usec(CLOCK_MONOTONIC) - start) / USEC_PER_SEC);
        assert_true(run.result.timed_out);
        assert_int_equal(run.result.exit_code, 128 + SIGKILL);
        assert_int_equal(env->fake.units[0].killed_with, SIGKILL);
        assert_true(now_usec(CLOCK_MONOTONIC) - start < 10 * USEC_PER_SEC);
}

static void test_service_refused_scope_fallback(void **state) {
        Env *env = *state;
        char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "echo in-scope; exit 5", NULL};
        char *envp[] = {NULL};
        _cleanup_(ext_process_freep) ExtProcess *proc = NULL;
        _cleanup_free_ char *out = NULL;
        Run run = {};
        FakeUnit *scope;

        env->fake.refuse_services = true;
        spawner_new(env);
        proc = spawn(env, argv, envp, 10, 0, 10 * USEC_PER_SEC, &run);
        run_until(env->event, &run.done);
        assert_int_equal(env->fake.n_units, 2);
        assert_true(endswith(env->fake.units[0].name, ".service"));
        scope = &env->fake.units[1];
        assert_true(startswith(scope->name, "enable_") && endswith(scope->name, ".scope"));
        assert_string_equal(scope->slice, "azure-vmextensions-Test.Spawn_Name.slice");
        assert_int_equal(scope->n_pids, 1);
        assert_int_equal(scope->cpu_quota_per_sec_usec, 100000);
        assert_null(scope->exec_path);
        assert_int_equal(run.result.isolation, EXT_ISOLATION_SCOPE);
        assert_int_equal(run.result.exit_code, 5);
        assert_true(run.result.limits_applied);
        out = fd_text(env->out_fd);
        assert_string_equal(out, "in-scope\n");
}

/* A caller's own slice and operation (the daemon's Reprovision(): azure.slice/azl-reprovision_<uuid>.service, outside
 * its sandbox), and ext_process_forget(): the caller stops watching (the agent exits), the service goes on —
 * nothing killed, the callback never called — and the AddRef= reference is given back. */
static void test_service_own_slice_forget(void **state) {
        Env *env = *state;
        char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) "sleep 5", NULL};
        char *envp[] = {(char *) "PATH=/usr/bin:/bin", NULL};
        ExtSpawnParams params = {
                .argv = argv,
                .cwd_fd = env->dir_fd,
                .cwd = "/",
                .env = envp,
                .stdout_fd = env->out_fd,
                .stderr_fd = env->err_fd,
                .handler_name = "azl-agent",
                .operation = "azl-reprovision",
                .slice = "azure.slice",
                .timeout = 60 * USEC_PER_SEC,
        };
        ExtProcess *proc = NULL;
        Run run = {};
        FakeUnit *u;
        pid_t pid;

        spawner_new(env);
        assert_int_equal(ext_process_spawn(env->spawner, &params, on_exit_cb, &run, &proc), 0);
        for (int i = 0; i < 500 && (env->fake.n_units == 0 || env->fake.units[0].main_pid <= 0); i++)
                assert_true(sd_event_run(env->event, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(env->fake.n_units, 1);
        u = &env->fake.units[0];
        print_message("unit %s in %s\n", u->name, u->slice);
        assert_true(startswith(u->name, "azl-reprovision_") && endswith(u->name, ".service"));
        assert_string_equal(ext_process_unit(proc), u->name);
        assert_string_equal(u->slice, "azure.slice");
        assert_string_equal(u->working_directory, "/");
        assert_string_equal(u->exec_path, "/bin/sh");
        pid = u->main_pid;
        assert_true(pid > 0);

        ext_process_forget(proc);
        settle(env->event);
        assert_int_equal(u->killed_with, 0);
        assert_true(u->unrefed);
        assert_int_equal(kill(pid, 0), 0); /* still running; the teardown's manager stop kills it */
        assert_false(run.done);
}

static void test_kill_handler(void **state) {
        Env *env = *state;

        spawner_new(env);
        assert_int_equal(ext_spawner_kill_handler(env->spawner, "Test.Spawn-Name"), 0);
        settle(env->event);
        assert_int_equal(env->fake.n_stopped, 1);
        assert_string_equal(env->fake.stopped[0], "azure-vmextensions-Test.Spawn_Name.slice");
}

/* ---- the executor over transient services ---- */

typedef struct Exec {
        Context c;
        char *root;
        void *zip;
        size_t len;
        bool done;
} Exec;

static int provide(ExtExecutor *e, const char *name, const char *version, const ExtensionHandler *h,
                   void *userdata) {
        Exec *x = userdata;
        _cleanup_close_ int fd = memfd_create("package", MFD_CLOEXEC);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, x->zip, x->len), (ssize_t) x->len);
        ext_executor_package_ready(e, fd);
        return 0;
}

static void on_done(ExtExecutor *e, int r, void *userdata) {
        ((Exec *) userdata)->done = true;
}

static void test_executor_over_services(void **state) {
        Env *env = *state;
        _cleanup_free_ char *dir = test_handler_dir("recorder"), *xml = NULL, *err = NULL, *envs = NULL,
                            *expected = NULL, *cwd = NULL, *hdir = NULL, *script = NULL, *log = NULL,
                            *path = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        char *agent_env[] = {(char *) "PATH=/usr/bin:/bin", (char *) "NOTIFY_SOCKET=/run/systemd/notify",
                             NULL};
        ExtExecutor *e = NULL;
        ExtExecutorOptions o;
        const ExtHandlerResult *r;
        Exec x = {};
        size_t n, size;

        x.root = tmpdir_new();
        assert_int_equal(context_init(&x.c, x.root, agent_env), 0);
        test_zip_dir(dir, NULL, &x.zip, &x.len);
        o = (ExtExecutorOptions){
                .package_request = provide,
                .package_request_userdata = &x,
                .signing_root_pem = "",
                .spawner = {.bus_address = env->fake.address, .cgroup_root = ""},
                .status_retry_delay = 100 * USEC_PER_MSEC,
        };
        assert_int_equal(ext_executor_new(&x.c, env->event, &o, &e), 0);
        assert_true(
                asprintf(&xml,
                         "<Extensions version=\"1.0.0.0\" goalStateIncarnation=\"1\"><Plugins>"
                         "<Plugin name=\"Test.Recorder\" version=\"1.0.0\" location=\"http://127.0.0.1/m\" "
                         "state=\"enabled\"/></Plugins><PluginSettings><Plugin name=\"Test.Recorder\" "
                         "version=\"1.0.0\"><RuntimeSettings seqNo=\"4\">{\"runtimeSettings\":[{"
                         "\"handlerSettings\":{\"publicSettings\":{}}}]}</RuntimeSettings></Plugin>"
                         "</PluginSettings></Extensions>") > 0);
        if (ext_conf_parse(xml, strlen(xml), NULL, &gs, &err) < 0)
                fail_msg("parse: %s", err);
        assert_int_equal(ext_executor_run(e, &gs, on_done, &x), 0);
        run_until(env->event, &x.done);

        r = ext_executor_results(e, &n);
        assert_int_equal(n, 1);
        print_message("%s %d: %s\n", r->status, r->code, r->message);
        assert_string_equal(r->status, "Ready");
        assert_string_equal(r->extension_status.status, "success");
        /* two commands, two services, both in the handler's slice */
        assert_int_equal(env->fake.n_units, 2);
        assert_true(startswith(env->fake.units[0].name, "install_"));
        assert_true(startswith(env->fake.units[1].name, "enable_"));
        assert_string_equal(env->fake.units[1].slice, "azure-vmextensions-Test.Recorder.slice");
        assert_true(asprintf(&hdir, "%s/var/lib/waagent/Test.Recorder-1.0.0", x.root) > 0);
        assert_string_equal(env->fake.units[1].working_directory, hdir);
        /* "handler.sh enable" needs no shell: ExecStart= is the script in the handler directory and its word */
        assert_true(asprintf(&script, "%s/handler.sh", hdir) > 0);
        assert_string_equal(env->fake.units[1].exec_argv[0], script);
        assert_string_equal(env->fake.units[1].exec_argv[1], "enable");
        assert_null(env->fake.units[1].exec_argv[2]);

        assert_int_equal(read_file_in_root(x.c.root_fd,
                                           "/var/lib/waagent/Test.Recorder-1.0.0/env-enable.txt", 65536,
                                           &envs, &size),
                         0);
        assert_true(asprintf(&expected,
                             "AZURE_GUEST_AGENT_EXTENSION_PATH=%s\n"
                             "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES=[{\"Key\": "
                             "\"ExtensionTelemetryPipeline\", \"Value\": \"1.0\"}]\n"
                             "AZURE_GUEST_AGENT_EXTENSION_VERSION=1.0.0\n"
                             "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=NOT_RUN\n"
                             "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=168.63.129.16\n"
                             "ConfigSequenceNumber=4\n",
                             hdir) > 0);
        assert_string_equal(envs, expected);
        assert_int_equal(read_file_in_root(x.c.root_fd,
                                           "/var/lib/waagent/Test.Recorder-1.0.0/cwd-enable.txt", 65536,
                                           &cwd, &size),
                         0);
        assert_true(startswith(cwd, hdir));
        assert_int_equal(read_file_in_root(x.c.root_fd, "/var/log/azure/Test.Recorder/CommandExecution.log",
                                           1 << 20, &log, &size),
                         0);
        assert_non_null(strstr(log, "isolation systemd-service"));
        assert_non_null(strstr(log, "[stdout]\nrecorder enable stdout\n"));

        ext_executor_free(e);
        context_done(&x.c);
        free(x.zip);
        tmpdir_remove(x.root);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_service_properties, setup, teardown),
                cmocka_unit_test_setup_teardown(test_service_limits_not_applied, setup, teardown),
                cmocka_unit_test_setup_teardown(test_service_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_service_refused_scope_fallback, setup, teardown),
                cmocka_unit_test_setup_teardown(test_service_own_slice_forget, setup, teardown),
                cmocka_unit_test_setup_teardown(test_kill_handler, setup, teardown),
                cmocka_unit_test_setup_teardown(test_executor_over_services, setup, teardown),
        };
        sigset_t mask;

        if (access("/usr/bin/dbus-daemon", X_OK) < 0 && access("/bin/dbus-daemon", X_OK) < 0) {
                printf("SKIP: dbus-daemon is not installed\n");
                return 77;
        }
        /* sd-event child sources need SIGCHLD blocked */
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
