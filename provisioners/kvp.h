/* SPDX-License-Identifier: MIT */
/*
 * Hyper-V KVP reporting (data exchange, pool 1 = guest → host): what the Azure platform team reads when a
 * provisioning failed and nothing else got out (protocol §7).
 *
 * The pool file /var/lib/hyperv/.kvp_pool_1 is an array of fixed records: a key NUL-padded to 512 bytes and
 * a value NUL-padded to 2048 bytes (hv_kvp_daemon's struct kvp_record). The kernel's hv_kvp driver passes at
 * most 254 bytes of key and 1022 bytes of value to the host, so longer values are split into several records
 * with the same key (azure-init, cloud-init do the same). Records are appended under flock(LOCK_EX); a pool
 * older than the current boot is truncated first (stale data from a previous boot/VM). At most 1024 records
 * are written per pool (the host daemon's limit).
 *
 * Off (returns 0, writes nothing) when Config.kvp is false, on WSL, or when /var/lib/hyperv does not exist:
 * that directory belongs to the KVP daemon and is never created by us.
 */
#pragma once

#include <stddef.h>

#include "context.h"
#include "strutil.h"

#define KVP_POOL_PATH   "/var/lib/hyperv/.kvp_pool_1"
#define KVP_KEY_SIZE    512U
#define KVP_VALUE_SIZE  2048U
#define KVP_RECORD_SIZE (KVP_KEY_SIZE + KVP_VALUE_SIZE)
#define KVP_KEY_MAX     254U  /* bytes of key the host sees */
#define KVP_VALUE_CHUNK 1022U /* bytes of value per record the host sees */
#define KVP_RECORDS_MAX 1024U

#define KVP_KEY_PROVISIONING_REPORT "PROVISIONING_REPORT"

typedef struct KvpRecord {
        char *key;
        char *value;
} KvpRecord;

/* Appends key=value (chunked). Returns 1 when written, 0 when KVP is off, <0 on error (-E2BIG: key longer
 * than KVP_KEY_MAX or the pool is full). */
int kvp_report(Context *c, const char *key, const char *value);

/* Event record with key "azl-agent|<event>|<timestamp>", ts being the realtime clock in µs (ISO-8601 UTC
 * with microseconds), as cloud-init/azure-init key their events by name and time. */
int kvp_report_event(Context *c, const char *event, usec_t ts, const char *value);
int kvp_event_key(const char *event, usec_t ts, char **ret);

/* Serializes key=value into whole records (n × KVP_RECORD_SIZE bytes). Pure. */
int kvp_encode(const char *key, const char *value, char **ret, size_t *ret_size);

/* Parses a pool's contents (len must be a multiple of KVP_RECORD_SIZE). Pure; for tests and fuzzing. */
int kvp_parse_pool(const char *buf, size_t len, KvpRecord **ret, size_t *ret_n);
void kvp_records_free(KvpRecord *r, size_t n);
