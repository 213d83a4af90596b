/* SPDX-License-Identifier: MIT */
/*
 * Running one handler command isolated and bounded (wire protocol §4.5, §4.10), without ever blocking the
 * agent's sd-event loop.
 *
 * The command is an argv. For a HandlerManifest command, which the contract defines as a shell command line
 * (waagent runs it with shell=True, §4.2), the executor passes /bin/sh -c '"$1"/<command>' /bin/sh <handler dir>:
 * the manifest's text is the only shell text, nothing the agent knows (directory, name, version) is spliced in.
 *
 * Isolation, best available first:
 *  systemd-service  systemd is PID 1 and the system bus is there: systemd itself spawns the command as a
 *           transient service <op>_<uuid>.service in slice azure-vmextensions-<Handler>.slice (below
 *           azure-vmextensions.slice by systemd's naming rule; '-' in the handler name becomes '_'), built by
 *           StartTransientUnit: ExecStart= the argv, WorkingDirectory=, Environment= (the §4.4 contract; the
 *           agent's own unit variables NOTIFY_SOCKET, INVOCATION_ID, … are not passed on), stdin /dev/null,
 *           stdout/stderr the capture files passed as fds (StandardOutputFileDescriptor=), CPUQuotaPerSecUSec=/
 *           MemoryMax=, IgnoreSIGPIPE=no (a forked child has default signals), RuntimeMaxUSec= as a backstop
 *           should the agent die, AddRef=yes so the unit stays loaded until its exit status is read
 *           (PropertiesChanged and JobRemoved wake a GetAll of MainPID, ExecMainExitTimestampMonotonic,
 *           ExecMainCode, ExecMainStatus), then UnrefUnit. KillMode=process: as with waagent's scopes, processes
 *           the command leaves in the background outlive it (CustomScript forks its script to outlive the
 *           5-minute enable limit), in the unit's cgroup, under the unit's limits, until the handler is removed
 *           (ext_spawner_kill_handler: every process of the slice's cgroup, then StopUnit of the slice); a timeout
 *           is KillUnit(all, SIGKILL). Nothing the agent's own unit restricts (its mount namespace, seccomp
 *           filter, capability bounding set, no_new_privs) reaches the handler: that is what lets azl-agent.service
 *           be confined (units/azl-agent.service.in).
 *  systemd-scope  the transient service is refused (StartTransientUnit answers an error), or
 *           ExtSpawnerOptions.systemd_scopes: the agent forks the child stopped at a gate (a pipe), asks for a
 *           transient scope <op>_<uuid>.scope around its PID in the same slice with the same limits, and opens the
 *           gate only once the scope's start job has finished (JobRemoved), so no descendant can be forked
 *           outside it. The child inherits the agent's execution environment (and sandbox).
 *  cgroup   no systemd but a writable cgroup2 mount (containers, tests): the agent creates
 *           azure-vmextensions.slice/azure-vmextensions-<Handler>.slice/ with cpu.max and memory.max (when the
 *           controllers are available) and a leaf per command; the child (vfork(), no copy of the agent's
 *           memory) moves itself into the leaf before it execs the command. Timeouts use cgroup.kill: nothing
 *           the handler forked survives.
 *  process group  always: the child (vfork()) calls setsid(); timeouts kill the whole group (killpg), like
 *           waagent.
 *
 * On a normal exit, processes the handler left running in the background are left alone, as waagent does.
 * limits_applied is reported only once the command runs with them: read back from the unit (service), from
 * the cgroup's cpu.max/memory.max (cgroup), or after the scope's start job finished (scope).
 *
 * sd-event requirement: SIGCHLD must be blocked in the calling process.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <systemd/sd-event.h>

#include "strutil.h"

typedef enum ExtIsolation {
        EXT_ISOLATION_SERVICE,
        EXT_ISOLATION_SCOPE,
        EXT_ISOLATION_CGROUP,
        EXT_ISOLATION_PROCESS_GROUP,
        _EXT_ISOLATION_MAX,
        _EXT_ISOLATION_INVALID = -EINVAL,
} ExtIsolation;

const char *ext_isolation_to_string(ExtIsolation i);

typedef struct ExtSpawnerOptions {
        bool use_systemd;        /* the system bus when systemd is PID 1 (production); tests set false */
        const char *bus_address; /* tests: a private bus whose org.freedesktop.systemd1 is used instead */
        bool systemd_scopes;     /* fork + transient scope instead of transient services */
        const char *cgroup_root; /* cgroup2 mount; NULL: autodetect, "": no cgroups */
} ExtSpawnerOptions;

typedef struct ExtSpawner ExtSpawner;

int ext_spawner_new(sd_event *e, const ExtSpawnerOptions *o, ExtSpawner **ret);
ExtSpawner *ext_spawner_free(ExtSpawner *s);
static inline void ext_spawner_freep(ExtSpawner **s) {
        ext_spawner_free(*s);
}
ExtIsolation ext_spawner_isolation(const ExtSpawner *s);
/* Host path of the cgroup2 mount in use, NULL when none. */
const char *ext_spawner_cgroup_root(const ExtSpawner *s);

/* Kills every process left in the handler's slice/cgroup and removes it (handler removal, §4.6). Also the
 * background processes of finished transient services (KillMode=process), which stopping the slice alone would
 * leave running. */
int ext_spawner_kill_handler(ExtSpawner *s, const char *handler_name);

/* systemd unit-name form of a handler name: azure-vmextensions-<name with '-' → '_'>.slice */
int ext_handler_slice_name(const char *handler_name, char **ret);

typedef struct ExtSpawnParams {
        char *const *argv; /* argv[0] is the program's absolute path */
        int cwd_fd;        /* directory fd the command runs in (forked paths) */
        const char *cwd;   /* the same directory as a host path (WorkingDirectory= of a service) */
        char **env;
        int stdout_fd, stderr_fd;
        const char *handler_name;
        const char *operation;      /* "install", "enable", … (unit and cgroup names) */
        const char *slice;          /* NULL: azure-vmextensions-<handler>.slice; else this slice (name) */
        unsigned cpu_quota_percent; /* 0: none */
        uint64_t memory_max;        /* bytes, 0: none */
        usec_t timeout;             /* 0: none */
} ExtSpawnParams;

typedef struct ExtProcessResult {
        int exit_code; /* exit status, or 128+signal */
        bool timed_out;
        bool limits_applied;   /* the command ran with its cpu/memory limits (read back, see above) */
        uint64_t nr_throttled; /* cgroup cpu.stat, when known */
        uint64_t throttled_usec;
        ExtIsolation isolation;
} ExtProcessResult;

typedef struct ExtProcess ExtProcess;
/* Called once when the command's main process has exited (after a timeout kill too). p may be freed in it. */
typedef void (*ExtProcessHandler)(ExtProcess *p, const ExtProcessResult *r, void *userdata);

int ext_process_spawn(ExtSpawner *s, const ExtSpawnParams *params, ExtProcessHandler cb, void *userdata,
                      ExtProcess **ret);
/* Kills a still running command (its whole group/cgroup) and frees. */
ExtProcess *ext_process_free(ExtProcess *p);
static inline void ext_process_freep(ExtProcess **p) {
        ext_process_free(*p);
}
/* Frees without killing: a command the caller no longer watches (the agent exits) goes on; a transient service
 * is collected by systemd once it ends. */
ExtProcess *ext_process_forget(ExtProcess *p);
pid_t ext_process_pid(const ExtProcess *p);
/* Host path of the command's cgroup leaf (cgroup isolation), NULL when none. */
const char *ext_process_cgroup(const ExtProcess *p);
/* The transient unit (service or scope), NULL when none. */
const char *ext_process_unit(const ExtProcess *p);
