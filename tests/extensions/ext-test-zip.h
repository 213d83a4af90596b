/* SPDX-License-Identifier: MIT */
/*
 * Test helpers for extension packages: zips built in memory with libarchive (from a directory of the source
 * tree, or from a list of entries including hostile ones), and a hand-written zip64 entry declaring a size
 * it does not carry (a zip bomb's header without the bomb).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct TestZipEntry {
        const char *name;
        const char *content; /* regular file */
        const char *symlink; /* symlink target (then content is ignored) */
        unsigned mode;       /* 0: 0644 */
} TestZipEntry;

/* Zips every file of dir (relative names, optional prefix directory inside the zip). */
void test_zip_dir(const char *dir, const char *prefix, void **ret, size_t *ret_size);
void test_zip_entries(const TestZipEntry *entries, size_t n, void **ret, size_t *ret_size);
/* n empty files "f/<i>" — stored, no compression. */
void test_zip_many(size_t n, void **ret, size_t *ret_size);
/* One stored entry whose zip64 headers declare `declared` bytes. */
void test_zip_declared_size(const char *name, uint64_t declared, void **ret, size_t *ret_size);
/* The source tree path of a test handler (tests/extensions/handlers/<name>). */
char *test_handler_dir(const char *name);
/* The source tree path of the sample extension of the default scenario (tests/fabric/ext/sample-handler). */
char *test_sample_handler_dir(void);
