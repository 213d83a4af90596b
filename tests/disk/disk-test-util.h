/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for the disk provisioner: building disk images with the real tools (sfdisk, mkfs.*),
 * attaching them to loop devices, reading back `sfdisk --json`, and comparing image bytes. Shell use is
 * fine here (tests only); the code under test never spawns a shell.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Runs a command line through /bin/sh; returns its exit status (or -1). Output goes to stderr. */
int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Runs a command and returns its stdout (NULL on failure). */
char *run_capture(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
bool have_program(const char *name);

/* Creates a sparse file of size bytes and writes an sfdisk script to it. */
void image_create(const char *path, uint64_t size, const char *sfdisk_script);

typedef struct SfdiskPart {
        uint64_t start, size; /* sectors */
        char *name;
} SfdiskPart;

typedef struct SfdiskTable {
        char *label;      /* "gpt" / "dos" */
        uint64_t lastlba; /* gpt only */
        size_t n;
        SfdiskPart parts[16];
} SfdiskTable;

/* Parses `sfdisk --json dev`; returns false when sfdisk fails. */
bool sfdisk_read(const char *dev, SfdiskTable *ret);
void sfdisk_table_done(SfdiskTable *t);

/* Reads a whole file (for byte-for-byte comparisons). */
void *file_slurp(const char *path, size_t *ret_size);

/* Loop devices: attach with partition scan; partition nodes are created with partx when the kernel does
 * not scan the table itself. Returns NULL (after printing why) when loop devices are unavailable. */
char *loop_attach(const char *image);
void loop_detach(const char *loop);
void loop_refresh_partitions(const char *loop);
/* Re-reads the backing file size (LOOP_SET_CAPACITY). */
void loop_set_capacity(const char *loop);
char *loop_partition(const char *loop, unsigned partno);

/* Skips the whole test program (exit 77) unless root and loop devices work. */
void require_loop_or_skip(void);
