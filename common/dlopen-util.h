/* SPDX-License-Identifier: MIT */
/*
 * Libraries a long-running process needs only now and then (libnftables: the WireServer guard is installed
 * once and restored rarely) are loaded for the operation and unloaded after it, so that the idle daemon does
 * not map them and what they pull in (BENCHMARKS.md, "Memory"). The module keeps typed function pointers
 * (`static typeof(f) *sym_f;`) and lists them in a DlSymbol table.
 */
#pragma once

#include <stddef.h>

typedef struct DlSymbol {
        const char *name;
        void **fn; /* &sym_f, cast */
} DlSymbol;

#define DL_SYMBOL(f)                                                                                        \
        { #f, (void **) &sym_##f }

/* dlopen(soname) and resolve every symbol into its pointer. -EOPNOTSUPP when the library or a symbol is
 * missing, with *ret_error (may be NULL) saying which (dlerror()). Each success is paired with
 * dlclose_handle(); dlopen() counts references, so callers may overlap, and the pointers stay valid while any
 * of them holds its handle. */
int dlopen_symbols(const char *soname, const DlSymbol *symbols, size_t n, void **ret_handle,
                   char **ret_error);

/* dlclose(*handle) unless NULL; *handle becomes NULL. */
void dlclose_handle(void **handle);
