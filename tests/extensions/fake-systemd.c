/* SPDX-License-Identifier: MIT */
/* See fake-systemd.h. Test code: asserts on protocol violations instead of answering errors. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fake-systemd.h"
#include "macro.h"
#include "strutil.h"
#include "tests.h"

#define MANAGER_IFACE "org.freedesktop.systemd1.Manager"
#define MANAGER_PATH  "/org/freedesktop/systemd1"

static uint64_t now_monotonic(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000U + (uint64_t) ts.tv_nsec / 1000U;
}

FakeUnit *fake_systemd_unit(FakeSystemd *f, const char *name) {
        for (size_t i = 0; i < f->n_units; i++)
                if (streq(f->units[i].name, name))
                        return &f->units[i];
        return NULL;
}

static FakeUnit *unit_by_path(FakeSystemd *f, const char *path) {
        for (size_t i = 0; i < f->n_units; i++)
                if (streq(f->units[i].path, path))
                        return &f->units[i];
        return NULL;
}

/* ---- org.freedesktop.systemd1.Service of a unit ---- */

static int get_property(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        FakeUnit *u = unit_by_path(f, path);

        assert_non_null(u);
        if (streq(property, "MainPID"))
                return sd_bus_message_append(reply, "u", (uint32_t) u->main_pid);
        if (streq(property, "ExecMainExitTimestampMonotonic"))
                return sd_bus_message_append(reply, "t", u->exit_timestamp);
        if (streq(property, "ExecMainCode"))
                return sd_bus_message_append(reply, "i", u->exec_main_code);
        if (streq(property, "ExecMainStatus"))
                return sd_bus_message_append(reply, "i", u->exec_main_status);
        if (streq(property, "CPUQuotaPerSecUSec"))
                return sd_bus_message_append(reply, "t", u->cpu_quota_per_sec_usec ?: UINT64_MAX);
        if (streq(property, "MemoryMax"))
                return sd_bus_message_append(reply, "t", f->drop_memory_max ? UINT64_MAX : u->memory_max ?: UINT64_MAX);
        if (streq(property, "Result"))
                return sd_bus_message_append(reply, "s",
                                             u->exec_main_code == CLD_EXITED && u->exec_main_status == 0
                                                     ? "success"
                                                     : "exit-code");
        return -ENOENT;
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("MainPID", "u", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExecMainExitTimestampMonotonic", "t", get_property, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExecMainCode", "i", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ExecMainStatus", "i", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("CPUQuotaPerSecUSec", "t", get_property, 0, 0),
        SD_BUS_PROPERTY("MemoryMax", "t", get_property, 0, 0),
        SD_BUS_PROPERTY("Result", "s", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END,
};

/* ---- the service's process ---- */

static int on_unit_exit(sd_event_source *s, const siginfo_t *si, void *userdata) {
        FakeSystemd *f = userdata;

        for (size_t i = 0; i < f->n_units; i++) {
                FakeUnit *u = &f->units[i];

                if (u->child != s)
                        continue;
                u->exec_main_code = si->si_code;
                u->exec_main_status = si->si_status;
                u->exit_timestamp = now_monotonic();
                u->main_pid = 0;
                u->child = sd_event_source_disable_unref(u->child);
                assert_true(sd_bus_emit_properties_changed(f->bus, u->path,
                                                           "org.freedesktop.systemd1.Service", "MainPID",
                                                           "ExecMainCode", "ExecMainStatus",
                                                           "ExecMainExitTimestampMonotonic", NULL) >= 0);
        }
        return 0;
}

static void unit_exec(FakeSystemd *f, FakeUnit *u) {
        int pidfd = -1;
        pid_t pid;
        struct clone_args {
                uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        } a = {
                .flags = 0x00001000 /* CLONE_PIDFD */,
                .pidfd = (uint64_t) (uintptr_t) &pidfd,
                .exit_signal = SIGCHLD,
        };

        pid = (pid_t) syscall(SYS_clone3, &a, sizeof a);
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                sigset_t none;

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, u->ignore_sigpipe ? SIG_IGN : SIG_DFL);
                if (setsid() < 0 || chdir(u->working_directory) < 0 || dup2(null, 0) < 0 ||
                    dup2(u->stdout_fd, 1) < 0 || dup2(u->stderr_fd, 2) < 0)
                        _exit(200); /* systemd's EXIT_CHDIR and friends */
                execve(u->exec_path, u->exec_argv, u->environment);
                _exit(203); /* EXIT_EXEC */
        }
        u->main_pid = pid;
        u->pidfd = pidfd;
        assert_int_equal(sd_event_add_child_pidfd(f->event, &u->child, pidfd, WEXITED, on_unit_exit, f), 0);
        assert_int_equal(sd_event_source_set_child_pidfd_own(u->child, true), 0);
}

/* ---- org.freedesktop.systemd1.Manager ---- */

static int read_property(sd_bus_message *m, FakeUnit *u) {
        const char *key, *contents;
        char type;
        int r;

        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
                return r;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
                return r;
        assert_int_equal(type, 'v');
#define STR(k, field)                                                                                       \
        if (streq(key, k)) {                                                                                \
                const char *v;                                                                              \
                assert_string_equal(contents, "s");                                                         \
                r = sd_bus_message_read(m, "v", "s", &v);                                                   \
                if (r >= 0)                                                                                 \
                        u->field = strdup(v);                                                               \
                return r;                                                                                   \
        }
        STR("Slice", slice);
        STR("Description", description);
        STR("WorkingDirectory", working_directory);
        STR("StandardInput", standard_input);
        STR("KillMode", kill_mode);
        STR("CollectMode", collect_mode);
#undef STR
        if (streq(key, "AddRef") || streq(key, "IgnoreSIGPIPE")) {
                int b;

                assert_string_equal(contents, "b");
                r = sd_bus_message_read(m, "v", "b", &b);
                if (streq(key, "AddRef"))
                        u->add_ref = b;
                else {
                        u->ignore_sigpipe = b;
                        u->ignore_sigpipe_set = true;
                }
                return r;
        }
        if (streq(key, "CPUQuotaPerSecUSec") || streq(key, "MemoryMax") || streq(key, "RuntimeMaxUSec")) {
                uint64_t t;

                assert_string_equal(contents, "t");
                r = sd_bus_message_read(m, "v", "t", &t);
                *(streq(key, "MemoryMax")        ? &u->memory_max
                  : streq(key, "RuntimeMaxUSec") ? &u->runtime_max_usec
                                                 : &u->cpu_quota_per_sec_usec) = t;
                return r;
        }
        if (streq(key, "StandardOutputFileDescriptor") || streq(key, "StandardErrorFileDescriptor")) {
                int fd;

                assert_string_equal(contents, "h");
                r = sd_bus_message_read(m, "v", "h", &fd);
                if (r < 0)
                        return r;
                /* The message owns the fd it carried: keep a copy, as systemd does. */
                *(streq(key, "StandardOutputFileDescriptor") ? &u->stdout_fd : &u->stderr_fd) =
                        fcntl(fd, F_DUPFD_CLOEXEC, 3);
                return 0;
        }
        if (streq(key, "Environment")) {
                assert_string_equal(contents, "as");
                if ((r = sd_bus_message_enter_container(m, 'v', "as")) < 0 ||
                    (r = sd_bus_message_read_strv(m, &u->environment)) < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        if (streq(key, "ExecStart")) {
                const char *path;
                int ignore;

                assert_string_equal(contents, "a(sasb)");
                if ((r = sd_bus_message_enter_container(m, 'v', "a(sasb)")) < 0 ||
                    (r = sd_bus_message_enter_container(m, 'a', "(sasb)")) < 0 ||
                    (r = sd_bus_message_enter_container(m, 'r', "sasb")) < 0 ||
                    (r = sd_bus_message_read(m, "s", &path)) < 0 ||
                    (r = sd_bus_message_read_strv(m, &u->exec_argv)) < 0 ||
                    (r = sd_bus_message_read(m, "b", &ignore)) < 0)
                        return r;
                u->exec_path = strdup(path);
                assert_false(ignore);
                for (int i = 0; i < 3; i++)
                        if ((r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                return 0;
        }
        if (streq(key, "PIDs")) {
                uint32_t pid;

                assert_string_equal(contents, "au");
                if ((r = sd_bus_message_enter_container(m, 'v', "au")) < 0 ||
                    (r = sd_bus_message_enter_container(m, 'a', "u")) < 0)
                        return r;
                while ((r = sd_bus_message_read(m, "u", &pid)) > 0) {
                        u->pids = realloc(u->pids, (u->n_pids + 1) * sizeof(uint32_t));
                        u->pids[u->n_pids++] = pid;
                }
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        }
        fail_msg("StartTransientUnit: property %s is not one the spawner should send", key);
        return -EINVAL;
}

static int method_start_transient_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *name, *mode;
        char job[64];
        FakeUnit *u;
        int r;

        assert_true(f->n_units < FAKE_UNITS_MAX);
        u = &f->units[f->n_units++];
        *u = (FakeUnit){.stdout_fd = -1, .stderr_fd = -1, .pidfd = -1};
        assert_int_equal(sd_bus_message_read(m, "ss", &name, &mode), 1);
        assert_string_equal(mode, "fail");
        u->name = strdup(name);
        assert_true(sd_bus_path_encode(MANAGER_PATH "/unit", name, &u->path) >= 0);
        assert_true(sd_bus_message_enter_container(m, 'a', "(sv)") > 0);
        while ((r = sd_bus_message_enter_container(m, 'r', "sv")) > 0) {
                assert_true(read_property(m, u) >= 0);
                assert_true(sd_bus_message_exit_container(m) >= 0);
        }
        assert_true(r >= 0);
        assert_true(sd_bus_message_exit_container(m) >= 0);
        assert_true(sd_bus_message_skip(m, "a(sa(sv))") >= 0);

        if (endswith(name, ".service") && f->refuse_services)
                return sd_bus_reply_method_errorf(m, SD_BUS_ERROR_NOT_SUPPORTED,
                                                  "Transient services are not supported here (test).");
        (void) snprintf(job, sizeof job, MANAGER_PATH "/job/%u", ++f->next_job);
        r = sd_bus_reply_method_return(m, "o", job);
        if (r < 0)
                return r;
        if (endswith(name, ".service")) {
                assert_true(sd_bus_add_object_vtable(f->bus, &u->object, u->path,
                                                     "org.freedesktop.systemd1.Service", service_vtable,
                                                     f) >= 0);
                unit_exec(f, u);
        }
        return sd_bus_emit_signal(f->bus, MANAGER_PATH, MANAGER_IFACE, "JobRemoved", "uoss", f->next_job,
                                  job, name, "done");
}

static int method_kill_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *name, *who;
        int32_t sig;
        FakeUnit *u;

        assert_int_equal(sd_bus_message_read(m, "ssi", &name, &who, &sig), 1);
        u = fake_systemd_unit(f, name);
        if (!u)
                return sd_bus_reply_method_errorf(m, "org.freedesktop.systemd1.NoSuchUnit",
                                                  "Unit %s not loaded.", name);
        assert_string_equal(who, "all");
        u->killed_with = sig;
        if (u->main_pid > 0)
                (void) kill(-u->main_pid, sig);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_unref_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *name;
        FakeUnit *u;

        assert_int_equal(sd_bus_message_read(m, "s", &name), 1);
        u = fake_systemd_unit(f, name);
        assert_non_null(u);
        assert_true(u->add_ref);
        u->unrefed = true;
        u->object = sd_bus_slot_unref(u->object);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_stop_unit(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;
        const char *name, *mode;

        assert_int_equal(sd_bus_message_read(m, "ss", &name, &mode), 1);
        assert_true(f->n_stopped < FAKE_UNITS_MAX);
        f->stopped[f->n_stopped++] = strdup(name);
        return sd_bus_reply_method_return(m, "o", MANAGER_PATH "/job/0");
}

static int method_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        FakeSystemd *f = userdata;

        f->subscribed++;
        return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD("StartTransientUnit", "ssa(sv)a(sa(sv))", "o", method_start_transient_unit, 0),
        SD_BUS_METHOD("KillUnit", "ssi", NULL, method_kill_unit, 0),
        SD_BUS_METHOD("UnrefUnit", "s", NULL, method_unref_unit, 0),
        SD_BUS_METHOD("StopUnit", "ss", "o", method_stop_unit, 0),
        SD_BUS_METHOD("Subscribe", NULL, NULL, method_subscribe, 0),
        SD_BUS_SIGNAL("JobRemoved", "uoss", 0),
        SD_BUS_VTABLE_END,
};

/* ---- lifetime ---- */

bool fake_systemd_start(FakeSystemd *f, sd_event *event) {
        _cleanup_free_ char *arg = NULL;
        char buf[512] = "";
        int pipefd[2];
        ssize_t n;
        size_t len = 0;

        *f = (FakeSystemd){.daemon_pid = -1};
        if (access("/usr/bin/dbus-daemon", X_OK) < 0 && access("/bin/dbus-daemon", X_OK) < 0)
                return false;
        f->dir = tmpdir_new();
        assert_true(asprintf(&arg, "--address=unix:path=%s/bus", f->dir) > 0);
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        f->daemon_pid = fork();
        assert_true(f->daemon_pid >= 0);
        if (f->daemon_pid == 0) {
                sigset_t none;

                int null = open("/dev/null", O_RDWR | O_CLOEXEC);

                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGTERM, SIG_DFL);
                /* not the test's stdout: a daemon holding it open would keep the test's reader waiting */
                if (dup2(pipefd[1], 3) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(127);
                execlp("dbus-daemon", "dbus-daemon", "--session", "--nofork", "--nopidfile", arg,
                       "--print-address=3", (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        while (len < sizeof buf - 1 && !strchr(buf, '\n') &&
               (n = read(pipefd[0], buf + len, sizeof buf - 1 - len)) > 0)
                len += (size_t) n;
        close(pipefd[0]);
        buf[strcspn(buf, "\n")] = 0;
        assert_true(len > 0);
        f->address = strdup(buf);

        f->event = sd_event_ref(event);
        assert_int_equal(sd_bus_new(&f->bus), 0);
        assert_true(sd_bus_set_address(f->bus, f->address) >= 0);
        assert_true(sd_bus_set_bus_client(f->bus, true) >= 0);
        assert_true(sd_bus_negotiate_fds(f->bus, true) >= 0);
        assert_true(sd_bus_start(f->bus) >= 0);
        assert_true(sd_bus_add_object_vtable(f->bus, NULL, MANAGER_PATH, MANAGER_IFACE, manager_vtable, f) >=
                    0);
        assert_true(sd_bus_request_name(f->bus, "org.freedesktop.systemd1", 0) >= 0);
        assert_int_equal(sd_bus_attach_event(f->bus, event, SD_EVENT_PRIORITY_NORMAL), 0);
        return true;
}

void fake_systemd_stop(FakeSystemd *f) {
        for (size_t i = 0; i < f->n_units; i++) {
                FakeUnit *u = &f->units[i];

                if (u->main_pid > 0)
                        (void) kill(-u->main_pid, SIGKILL);
                sd_event_source_disable_unref(u->child);
                sd_bus_slot_unref(u->object);
                if (u->stdout_fd >= 0)
                        close(u->stdout_fd);
                if (u->stderr_fd >= 0)
                        close(u->stderr_fd);
                free(u->name);
                free(u->path);
                free(u->slice);
                free(u->description);
                free(u->working_directory);
                free(u->standard_input);
                free(u->kill_mode);
                free(u->collect_mode);
                free(u->exec_path);
                strv_free(u->exec_argv);
                strv_free(u->environment);
                free(u->pids);
        }
        for (size_t i = 0; i < f->n_stopped; i++)
                free(f->stopped[i]);
        sd_bus_flush_close_unref(f->bus);
        sd_event_unref(f->event);
        if (f->daemon_pid > 0) {
                (void) kill(f->daemon_pid, SIGKILL);
                (void) waitpid(f->daemon_pid, NULL, 0);
        }
        if (f->dir)
                tmpdir_remove(f->dir);
        free(f->address);
        *f = (FakeSystemd){};
}
