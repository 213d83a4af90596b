/* SPDX-License-Identifier: MIT */
/* See memory-util.h. */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "macro.h"
#include "memory-util.h"

/* What stays untouched below the caller's frame: our own callees (malloc_trim, the madvise call) use a few
 * hundred bytes of it. Anything that runs there later (a signal handler, the next deep call) just gets zero
 * pages. */
#define STACK_KEEP (8U * 1024U)

/* The low end of the main thread's stack mapping ("[stack]" in /proc/self/maps), 0 when not found. */
static uintptr_t stack_low(void) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/maps", "re");
        char line[512];

        if (!f)
                return 0;
        while (fgets(line, sizeof line, f)) {
                uintptr_t start, end;

                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &start, &end) == 2 && strstr(line, " [stack]"))
                        return start;
        }
        return 0;
}

void memory_release_unused(void) {
        uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
        uintptr_t sp = (uintptr_t) __builtin_frame_address(0);
        uintptr_t low, high;

        (void) malloc_trim(0);
        if (getpid() != gettid())
                return; /* not the main thread: its stack is not "[stack]" */
        low = stack_low();
        if (low == 0 || sp < low + STACK_KEEP + page)
                return;
        high = (sp - STACK_KEEP) & ~(page - 1);
        if (high > low)
                (void) madvise((void *) low, high - low, MADV_DONTNEED);
}
