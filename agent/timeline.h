/* SPDX-License-Identifier: MIT */
/*
 * The agent's own timing records, for `azl-agent analyze` (cloud-init keeps the same kind of record in its log
 * for `cloud-init analyze`): <StateDirectory>/timeline.jsonl, one JSON object per line, appended by the
 * provisioning run after every step and by the daemon after every extension operation:
 *
 *   {"boot_id": "3f2a…", "source": "provision"|"extension", "run": "…", "name": "ssh-host-keys",
 *    "start": "2026-11-21T21:20:05.123456Z", "duration_usec": 205123, "result": "changed", "summary": "…"}
 *
 * "run" groups the records of one provisioning run (its start time) or one extensions goal state (its id);
 * "boot_id" is the kernel's boot id at the time, so that records of earlier boots stay apart. Lines are
 * appended with O_APPEND under flock(LOCK_EX); past TIMELINE_MAX the oldest half is dropped (rewritten
 * atomically). The file is 0644: nothing secret goes in (summaries are the ones state.json shows).
 */
#pragma once

#include <stddef.h>

#include "context.h"
#include "strutil.h"

#define TIMELINE_FILE        "timeline.jsonl"
#define TIMELINE_MAX         (1024U * 1024U)
#define TIMELINE_RECORDS_MAX 16384U
#define TIMELINE_FIELD_MAX   1024U /* name, run, result, summary are cut to this many bytes */

typedef struct TimelineRecord {
        char *boot_id;
        char *source; /* "provision" or "extension" */
        char *run;
        char *name;
        usec_t start; /* CLOCK_REALTIME */
        usec_t duration;
        char *result;
        char *summary; /* may be NULL */
} TimelineRecord;

void timeline_record_done(TimelineRecord *r);
void timeline_records_free(TimelineRecord *r, size_t n);

/* The current boot id (/proc/sys/kernel/random/boot_id of the running kernel, 32 hex digits). */
int timeline_boot_id(char **ret);

/* One line (with its newline) for r; fields longer than TIMELINE_FIELD_MAX are cut. Pure. */
int timeline_format(const TimelineRecord *r, char **ret);
/* Parses the file's contents: malformed lines (a crash mid-write) are skipped and counted in *ret_n_bad
 * (may be NULL); at most TIMELINE_RECORDS_MAX records, the newest kept. Pure; fuzzed. */
int timeline_parse(const char *buf, size_t len, TimelineRecord **ret, size_t *ret_n, size_t *ret_n_bad);

/* Appends r (boot_id filled in when NULL) to <state_dir>/timeline.jsonl under c->root_fd. */
int timeline_append(Context *c, const TimelineRecord *r);
/* Reads <state_dir>/timeline.jsonl; -ENOENT when there is none. */
int timeline_load(Context *c, TimelineRecord **ret, size_t *ret_n, size_t *ret_n_bad);
