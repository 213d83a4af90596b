/* SPDX-License-Identifier: MIT */
/*
 * String helpers: base64 (OpenSSL EVP), hex, UUIDs (sd-id128), timestamps, number parsing, NULL-terminated
 * string vectors and XML escaping. All pure; all return negative errno.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "macro.h"

typedef uint64_t usec_t;
#define USEC_PER_SEC  ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define NSEC_PER_USEC ((uint64_t) 1000ULL)
#define USEC_INFINITY ((usec_t) UINT64_MAX)

/* Base64 (RFC 4648, standard alphabet, with padding). Decoding ignores ASCII whitespace (line-wrapped PEM
 * and XML payloads) and rejects anything else that is not in the alphabet. */
int base64_encode(const void *data, size_t size, char **ret);
int base64_decode(const char *s, size_t len, void **ret, size_t *ret_size);

/* Hex. upper selects the case; decoding accepts both and rejects odd lengths. */
int hex_encode(const void *data, size_t size, bool upper, char **ret);
int hex_decode(const char *s, size_t len, void **ret, size_t *ret_size);

/* UUIDs: 36-char lower-case form. uuid_normalize accepts upper case and the 32-char form. */
int uuid_normalize(const char *s, char ret[static 37]);
int uuid_random(char ret[static 37]);

/* Clocks and timestamps. */
usec_t now_usec(clockid_t clock);
/* "2026-11-21T20:36:48Z" (the waagent status-blob form, UTC, second precision) */
int format_timestamp_iso(usec_t realtime_usec, char *buf, size_t size);
/* "2026-11-21T20:36:48.123456Z" (RFC 3339, microseconds: the agent's own state files, where two runs can start
 * within one second). parse_timestamp_iso() reads both forms: no fraction, or 1 to 9 digits (truncated to µs). */
int format_timestamp_iso_usec(usec_t realtime_usec, char *buf, size_t size);
int parse_timestamp_iso(const char *s, usec_t *ret);
/* "1.234s" / "850ms" */
int format_timespan(usec_t span, char *buf, size_t size);

/* Number parsing: whole string, no sign for unsigned, base 10, range checked (-ERANGE) or -EINVAL. */
int safe_atou64(const char *s, uint64_t *ret);
int safe_atou(const char *s, unsigned *ret);
int safe_atoi(const char *s, int *ret);
/* yes/no/true/false/on/off/1/0 (case-insensitive) → 1/0, else -EINVAL */
int parse_boolean(const char *s);

/* NULL-terminated string vectors. */
char **strv_free(char **l);
size_t strv_length(char *const *l);
bool strv_contains(char *const *l, const char *s);
int strv_extend(char ***l, const char *s); /* appends a copy */
int strv_push(char ***l, char *s);         /* appends s itself (takes ownership on success) */
/* Splits on any of separators, dropping empty fields and trimming ASCII whitespace. */
int strv_split(const char *s, const char *separators, char ***ret);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((__cleanup__(strv_freep)))

/* Replaces *p (freed first) with a newly formatted string. On failure *p is NULL and -ENOMEM is returned. For
 * "reason"/"summary" fields of result structs. */
int strprintfv(char **p, const char *fmt, va_list ap) _printf_(2, 0);

/* Trims leading/trailing ASCII whitespace in place and returns s. */
char *strstrip(char *s);
bool startswith(const char *s, const char *prefix);
bool endswith(const char *s, const char *suffix);

/* Escapes & < > " ' for XML text and attributes. */
int xml_escape(const char *s, char **ret);
/* Length of the UTF-8 sequence at s (n bytes available) if it is valid, else 0: no overlong forms,
 * surrogates, code points above U+10FFFF or non-characters (what sd-bus accepts in an "s"). */
size_t utf8_sequence_len(const unsigned char *s, size_t n);
/* A copy of the first n bytes of s (up to its NUL) with every byte that starts no valid sequence replaced by
 * U+FFFD. */
int utf8_make_valid(const char *s, size_t n, char **ret);
/* Truncates to at most n bytes without splitting a UTF-8 sequence; returns a new string. */
int utf8_truncate(const char *s, size_t n, char **ret);
