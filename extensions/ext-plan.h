/* SPDX-License-Identifier: MIT */
/*
 * The extension handler lifecycle (wire protocol §4.6) as data: a pure function from (handlers installed on
 * disk, new extensions goal state) to an ordered list of operations, so that the order waagent guarantees —
 * uninstall/disable first in reverse dependency order, then enables ascending with waits for terminal status
 * between levels; the update sequence old disable → copy mrseq/status → update → old uninstall → new install
 * (unless UpdateWithoutInstall) → enable; FailedUpgrade retried; disable; uninstall + removal; multi-config
 * instances; removal of handlers the goal state no longer names — can be unit-tested without running
 * anything. ext-executor.c runs a plan.
 *
 * Operations are grouped per (handler, extension instance), the unit waagent iterates over and reports a
 * status for. A failing operation skips the rest of its group; a failed or timed-out WAIT skips every later
 * group ("Skipping processing of extensions since execution of dependent extension X failed").
 *
 * The plan borrows the handlers and settings of the goal state it was computed from: the goal state must
 * outlive the plan.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "ext-handler.h"
#include "extensions-goal-state.h"

typedef enum ExtOpType {
        EXT_OP_DOWNLOAD, /* obtain, verify, extract the package; HandlerEnvironment; state NotInstalled */
        EXT_OP_SETTINGS, /* write config/[<ext>.]<seq>.settings */
        EXT_OP_INSTALL,
        EXT_OP_UPDATE, /* runs in .version's directory; .other_version is the other side */
        EXT_OP_ENABLE,
        EXT_OP_DISABLE,
        EXT_OP_UNINSTALL,
        EXT_OP_COPY_STATE, /* mrseq and status/ from .other_version to .version (§4.6 update step 2) */
        EXT_OP_REMOVE,     /* delete the handler directory (and its cgroup); stop reporting it */
        EXT_OP_DELETE_EXTENSION, /* multi-config: delete <ext>.*.settings, <ext>.*.status, <ext>.HandlerState */
        EXT_OP_WAIT,             /* wait for status/<seq>.status to reach success|error (dependencies) */
        EXT_OP_REPORT_ERROR, /* the goal state is invalid for this handler (or its Name/Version): report only */
        _EXT_OP_MAX,
        _EXT_OP_INVALID = -EINVAL,
} ExtOpType;

typedef enum ExtOpFlags {
        EXT_OP_IGNORE_FAILURE = 1 << 0,                 /* errors are only logged (uninstall, MC disable) */
        EXT_OP_SKIP_IF_UPDATE_WITHOUT_INSTALL = 1 << 1, /* install after an update (updateMode) */
        EXT_OP_UPDATE_STEP = 1 << 2, /* old disable/uninstall of an update: continueOnUpdateFailure */
        EXT_OP_FOR_UPDATE = 1 << 3,  /* install/enable following an update (UNINSTALL_CMD_EXIT_CODE) */
} ExtOpFlags;

typedef struct ExtOp {
        ExtOpType type;
        size_t group;
        char *version;
        char *other_version;
        char *extension; /* multi-config instance, NULL otherwise */
        unsigned seq_no;
        ExtOpFlags flags;
} ExtOp;

typedef struct ExtPlanGroup {
        char *handler;
        char *version; /* target version (goal state or on-disk for removals) */
        char *extension;
        unsigned seq_no;
        int sort_key;                       /* dependency level, or -(level)-1 when not enabled */
        const ExtensionHandler *handler_gs; /* NULL for handlers absent from the goal state */
        const ExtensionSettings *settings;  /* NULL when the handler has no settings */
        bool reported;                      /* produces a handler status (not for removals) */
        const char *error; /* static: why the handler is only reported (invalid Name/Version) */
} ExtPlanGroup;

typedef struct ExtPlan {
        ExtPlanGroup *groups;
        size_t n_groups;
        ExtOp *ops;
        size_t n_ops;
} ExtPlan;

void ext_plan_done(ExtPlan *p);

const char *ext_op_type_to_string(ExtOpType t);

/* Computes the plan. installed comes from installed_handlers_scan(). */
int ext_plan_compute(const InstalledHandler *installed, size_t n_installed, const ExtensionsGoalState *gs,
                     ExtPlan *ret);

/* One line per operation, "<op> <Handler>-<version>[ <ext>][ <other>]" (for tests and debug logs). */
int ext_plan_format(const ExtPlan *p, char **ret);
