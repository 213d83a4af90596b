/* SPDX-License-Identifier: MIT */
/*
 * Running one handler command isolated and bounded (wire protocol §4.5, §4.10), without ever blocking the
 * agent's sd-event loop: exit is watched through a pidfd child source, the timeout is a timer source.
 *
 * The command is the HandlerManifest string, which the contract defines as a shell command line (waagent
 * runs it with shell=True, §4.2): it is passed as one argv element to /bin/sh -c, nothing is interpolated.
 *
 * Isolation, best available first:
 *  systemd  with the system bus: the child is created stopped at a gate (a pipe), a transient scope
 *           azure-vmextensions-<op>_<uuid>.scope in slice azure-vmextensions-<Handler>.slice (below
 *           azure-vmextensions.slice by systemd's naming rule; '-' in the handler name becomes '_') with
 *           CPUQuota/MemoryMax is started for its PID with StartTransientUnit, and the gate opens only once the
 *           scope's start job has finished (JobRemoved), so no descendant can be forked outside it.
 *  cgroup   no systemd but a writable cgroup2 mount: the agent creates
 *           azure-vmextensions.slice/azure-vmextensions-<Handler>.slice/ with cpu.max and memory.max (when the
 *           controllers are available) and a leaf per command, and creates the child directly inside the leaf
 *           with clone3(CLONE_INTO_CGROUP). Timeouts use cgroup.kill: nothing the handler forked survives.
 *  process group  always: the child calls setsid(); timeouts kill the whole group (killpg), like waagent.
 *
 * On a normal exit, processes the handler left running in the background are left alone, as waagent does
 * (CustomScript forks its script to outlive the 5-minute enable limit); they stay in the handler's cgroup and
 * are killed when the handler is removed (ext_spawner_kill_handler).
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
        EXT_ISOLATION_SYSTEMD,
        EXT_ISOLATION_CGROUP,
        EXT_ISOLATION_PROCESS_GROUP,
        _EXT_ISOLATION_MAX,
        _EXT_ISOLATION_INVALID = -EINVAL,
} ExtIsolation;

const char *ext_isolation_to_string(ExtIsolation i);

typedef struct ExtSpawnerOptions {
        bool use_systemd;               /* try the system bus (production); tests set false */
        const char *cgroup_root;        /* cgroup2 mount; NULL: autodetect, "": no cgroups */
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

/* Kills every process left in the handler's slice/cgroup and removes it (handler removal, §4.6). */
int ext_spawner_kill_handler(ExtSpawner *s, const char *handler_name);

/* systemd unit-name form of a handler name: azure-vmextensions-<name with '-' → '_'>.slice */
int ext_handler_slice_name(const char *handler_name, char **ret);

typedef struct ExtSpawnParams {
        const char *command;            /* shell command line */
        int cwd_fd;                     /* directory fd the command runs in */
        char **env;
        int stdout_fd, stderr_fd;
        const char *handler_name;
        const char *operation;          /* "install", "enable", … (unit and cgroup names) */
        unsigned cpu_quota_percent;     /* 0: none */
        uint64_t memory_max;            /* bytes, 0: none */
        usec_t timeout;                 /* 0: none */
} ExtSpawnParams;

typedef struct ExtProcessResult {
        int exit_code;                  /* exit status, or 128+signal */
        bool timed_out;
        bool limits_applied;            /* cpu/memory limits were actually set on a cgroup/scope */
        uint64_t nr_throttled;          /* cgroup cpu.stat, when known */
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
pid_t ext_process_pid(const ExtProcess *p);
/* Host path of the command's cgroup leaf, NULL when none. */
const char *ext_process_cgroup(const ExtProcess *p);
