/* SPDX-License-Identifier: MIT */
/* See dlopen-util.h. dlopen() counts its own references: each caller opens and closes its handle. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dlopen-util.h"

static void set_error(char **ret_error, const char *what) {
        const char *e = dlerror();

        if (ret_error)
                *ret_error = strdup(e ? e : what);
}

int dlopen_symbols(const char *soname, const DlSymbol *symbols, size_t n, void **ret_handle,
                   char **ret_error) {
        void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

        if (!handle) {
                set_error(ret_error, soname);
                return -EOPNOTSUPP;
        }
        for (size_t i = 0; i < n; i++) {
                void *fn = dlsym(handle, symbols[i].name);

                if (!fn) {
                        set_error(ret_error, symbols[i].name);
                        (void) dlclose(handle);
                        return -EOPNOTSUPP;
                }
                *symbols[i].fn = fn;
        }
        *ret_handle = handle;
        return 0;
}

void dlclose_handle(void **handle) {
        if (*handle)
                (void) dlclose(*handle);
        *handle = NULL;
}
