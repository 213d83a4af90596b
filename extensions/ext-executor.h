/* SPDX-License-Identifier: MIT */
/*
 * The extension-handler layer over the goal-state model: scans the handlers on disk, computes the lifecycle
 * plan for a new extensions goal state (ext-plan.h) and runs it asynchronously on the agent's sd-event loop —
 * package download is requested from a provider (the daemon's HTTP layer; tests answer from memory),
 * commands run isolated through ext-spawn.h with the §4.5 timeouts, output is captured, status files and
 * heartbeats are read (§4.7, §4.8, with waagent's 5 retries 2 s apart as timer sources), dependency levels
 * wait for terminal status (§4.6). The outcome is one ExtHandlerResult per (handler, extension instance),
 * convertible to the HandlerStatusReport status_blob_build() consumes.
 *
 * Nothing here blocks or sleeps: every wait is an event source.
 */
#pragma once

#include <systemd/sd-event.h>

#include "context.h"
#include "ext-handler.h"
#include "ext-package.h"
#include "ext-plan.h"
#include "ext-spawn.h"

/* §4.5 (exthandlers.py launch_command callers). */
#define EXT_TIMEOUT_INSTALL_USEC   (900U * USEC_PER_SEC)
#define EXT_TIMEOUT_ENABLE_USEC    (300U * USEC_PER_SEC)
#define EXT_TIMEOUT_DISABLE_USEC   (900U * USEC_PER_SEC)
#define EXT_TIMEOUT_UPDATE_USEC    (900U * USEC_PER_SEC)
#define EXT_TIMEOUT_UNINSTALL_USEC (300U * USEC_PER_SEC)
/* §4.6 dependency waits, §4.7 status file retries. */
#define EXT_WAIT_POLL_USEC     (5U * USEC_PER_SEC)
#define EXT_WAIT_DEADLINE_USEC (90U * 60U * USEC_PER_SEC)
#define EXT_STATUS_RETRIES     5U
#define EXT_STATUS_RETRY_USEC  (2U * USEC_PER_SEC)

/* §4.10: the limits one command runs with — resourceLimits of the manifest (cpuQuotaPercentage, memoryQuotaInMB)
 * capped by [Extensions] CPUQuotaPercent=/MemoryMaxMiB= (0: no ceiling), each 0 for none; CPU at most
 * EXT_CPU_QUOTA_PERCENT_MAX, memory in bytes without overflow. */
#define EXT_CPU_QUOTA_PERCENT_MAX (100U * 1024U)
void ext_resource_limits(const HandlerManifest *m, unsigned config_cpu_percent, uint64_t config_memory_mib,
                         unsigned *ret_cpu_percent, uint64_t *ret_memory_max);

typedef struct ExtExecutor ExtExecutor;

/* Asks for the package zip of name/version; the answer comes (synchronously or later) through
 * ext_executor_package_ready() or ext_executor_package_failed(). A negative return fails the download. */
typedef int (*ExtPackageRequestFunc)(ExtExecutor *e, const char *name, const char *version,
                                     const ExtensionHandler *handler, void *userdata);

/* Whether a package request for name/version would be answered before it returns (the package is downloaded
 * already): the executor then unpacks it while the command before it runs. */
typedef bool (*ExtPackageReadyFunc)(ExtExecutor *e, const char *name, const char *version,
                                    const ExtensionHandler *handler, void *userdata);
typedef void (*ExtExecutorDoneFunc)(ExtExecutor *e, int r, void *userdata);

/* One finished operation of a run (download, install, enable, wait…), for the agent's timeline. */
typedef struct ExtOpRecord {
        const char *handler;
        const char *version;
        const char *extension; /* multi-config instance, NULL otherwise */
        ExtOpType type;
        usec_t start; /* CLOCK_REALTIME */
        usec_t duration;
        int error;           /* < 0: the operation failed */
        int code;            /* EXT_CODE_* when it failed */
        const char *message; /* why it failed; NULL on success */
} ExtOpRecord;
typedef void (*ExtOpDoneFunc)(const ExtOpRecord *r, void *userdata);

typedef struct ExtExecutorOptions {
        const char *log_dir;                                 /* in-root; NULL: /var/log/azure */
        const char *wire_protocol_address;                   /* NULL: 168.63.129.16 */
        usec_t timeout[_EXT_OP_MAX];                         /* per operation; 0: the §4.5 value */
        usec_t wait_poll, wait_deadline, status_retry_delay; /* 0: the defaults above */
        const ExtPackageLimits *limits;
        const char *signing_root_pem; /* PEM text; NULL: read EXT_SIGNING_ROOT_PATH_DEFAULT */
        const char *shell;            /* for commands that need one (tests); NULL: /bin/sh */
        ExtSpawnerOptions spawner;
        ExtPackageRequestFunc package_request;
        ExtPackageReadyFunc package_ready; /* optional: NULL, nothing is unpacked ahead of its turn */
        void *package_request_userdata;    /* of both */
        ExtOpDoneFunc op_done;             /* optional: called after every operation */
        void *op_done_userdata;
} ExtExecutorOptions;

int ext_executor_new(Context *c, sd_event *event, const ExtExecutorOptions *o, ExtExecutor **ret);
ExtExecutor *ext_executor_free(ExtExecutor *e);
static inline void ext_executor_freep(ExtExecutor **e) {
        ext_executor_free(*e);
}

/* Plans and runs gs (which must stay alive until done is called). -EBUSY while a run is in progress. */
int ext_executor_run(ExtExecutor *e, const ExtensionsGoalState *gs, ExtExecutorDoneFunc done,
                     void *userdata);

/* Answers to a package request: zip_fd is the zip in a regular file (borrowed: read before this returns); code is
 * an EXT_CODE_* for the handler status. */
void ext_executor_package_ready(ExtExecutor *e, int zip_fd);
void ext_executor_package_failed(ExtExecutor *e, int code, const char *message);

/* The plan of the last run (NULL before the first). */
const ExtPlan *ext_executor_plan(const ExtExecutor *e);
/* Results of the last run; removed (uninstalled) handlers are included with removed=true. */
const ExtHandlerResult *ext_executor_results(const ExtExecutor *e, size_t *ret_n);
/* The reports for status_blob_build (removed handlers omitted); the array points into e. */
int ext_executor_reports(const ExtExecutor *e, HandlerStatusReport **ret, size_t *ret_n);
ExtSpawner *ext_executor_spawner(ExtExecutor *e);

/* Where the last run's wall time went (CLOCK_MONOTONIC µs), for the benchmarks (issue #21): scanning the handlers
 * on disk and planning; each operation type (a command from spawning it to the exit of its process, the handler's
 * own time included; a download from the request to its answer, verification and extraction included); reading
 * the status files at the end. */
typedef struct ExtExecutorTimings {
        usec_t plan;
        usec_t op[_EXT_OP_MAX];
        unsigned n_ops[_EXT_OP_MAX];
        usec_t status_read;
        usec_t commit; /* the group commits of state files (fileio.h WriteBatch) */
} ExtExecutorTimings;
const ExtExecutorTimings *ext_executor_timings(const ExtExecutor *e);
