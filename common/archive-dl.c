/* SPDX-License-Identifier: MIT */
/* See archive-dl.h. */
#include "archive-dl.h"
#include "dlopen-util.h"
#include "macro.h"

#define ARCHIVE_DL_DEFINE(f) typeof(f) *sym_##f;
ARCHIVE_DL_SYMBOLS(ARCHIVE_DL_DEFINE)

#define ARCHIVE_DL_ENTRY(f) DL_SYMBOL(f),
static const DlSymbol archive_symbols[] = {ARCHIVE_DL_SYMBOLS(ARCHIVE_DL_ENTRY)};

int archive_dl_open(void **ret_handle, char **ret_error) {
        return dlopen_symbols(ARCHIVE_SONAME, archive_symbols, ELEMENTSOF(archive_symbols), ret_handle,
                              ret_error);
}

void archive_dl_closep(void **handle) {
        dlclose_handle(handle);
}
