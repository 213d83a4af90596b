/* SPDX-License-Identifier: MIT */
/*
 * A stand-in for systemd's manager on a private dbus-daemon, for the transient-service path of ext-spawn.c where no
 * systemd runs as PID 1 (tests, containers; the real one is exercised in tests/vm). It owns org.freedesktop.systemd1
 * and answers what the spawner asks, the way systemd(1) does (org.freedesktop.systemd1(5)):
 *
 *   StartTransientUnit(name, mode, properties, aux)  records every property; for a service it runs ExecStart= as
 *       systemd would (WorkingDirectory=, exactly Environment=, stdin /dev/null, stdout/stderr the passed fds, a new
 *       session), exports the unit's org.freedesktop.systemd1.Service properties (MainPID, ExecMain*, the limits it
 *       was given) and emits JobRemoved "done"; when the process exits, ExecMainCode/ExecMainStatus are set and
 *       PropertiesChanged is emitted. For a scope: JobRemoved "done". refuse_services: services answer an error.
 *   KillUnit(name, who, signal)  kills the unit's process group.   UnrefUnit(name), StopUnit(name, mode), Subscribe()
 *       are recorded.
 *
 * Its bus is attached to the test's sd-event loop, so one loop drives both sides.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define FAKE_UNITS_MAX 16

typedef struct FakeUnit {
        char *name, *path;
        char *slice, *description, *working_directory, *standard_input, *kill_mode, *collect_mode;
        char *exec_path;
        char **exec_argv, **environment;
        int stdout_fd, stderr_fd;
        bool add_ref, ignore_sigpipe, ignore_sigpipe_set;
        uint64_t cpu_quota_per_sec_usec, memory_max, runtime_max_usec;
        uint32_t *pids;
        size_t n_pids;
        /* runtime */
        pid_t main_pid;
        int pidfd;
        uint64_t exit_timestamp;
        int32_t exec_main_code, exec_main_status;
        int killed_with;
        bool unrefed;
        sd_event_source *child;
        sd_bus_slot *object;
} FakeUnit;

typedef struct FakeSystemd {
        char *dir;     /* scratch directory of the dbus-daemon */
        char *address; /* its address, for ExtSpawnerOptions.bus_address */
        pid_t daemon_pid;
        sd_bus *bus;
        sd_event *event;
        bool refuse_services;
        bool drop_memory_max; /* report MemoryMax=infinity: the limit "was not applied" */
        FakeUnit units[FAKE_UNITS_MAX];
        size_t n_units;
        char *stopped[FAKE_UNITS_MAX];
        size_t n_stopped;
        unsigned subscribed;
        uint32_t next_job;
} FakeSystemd;

/* Starts dbus-daemon and the stand-in; false (nothing started) when dbus-daemon is not installed. */
bool fake_systemd_start(FakeSystemd *f, sd_event *event);
void fake_systemd_stop(FakeSystemd *f);
/* The unit of that name, NULL if none was asked for. */
FakeUnit *fake_systemd_unit(FakeSystemd *f, const char *name);
