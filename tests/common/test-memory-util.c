/* SPDX-License-Identifier: MIT */
/*
 * memory_release_unused(): after a deep call chain and a burst of small allocations, the main thread's stack
 * pages below the caller and the heap's freed pages are no longer the process's private dirty memory
 * (/proc/self/smaps), and what is still in use keeps its bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "memory-util.h"
#include "tests.h"

/* Private_Dirty of the first mapping whose line ends with name ("[stack]", "[heap]"), in kB; -1 if absent. */
static long mapping_private_dirty(const char *name) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/smaps", "re");
        char line[512];
        bool in = false;
        long kb;

        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
                size_t n = strlen(line);

                if (n > 0 && line[n - 1] == '\n')
                        line[--n] = 0;
                unsigned long start, end;

                if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
                        in = n >= strlen(name) && streq(line + n - strlen(name), name);
                        continue;
                }
                if (in && sscanf(line, "Private_Dirty: %ld kB", &kb) == 1)
                        return kb;
        }
        return -1;
}

/* Dirties about depth × 16 KiB of stack below the caller. */
static __attribute__((noinline)) unsigned deep(unsigned depth) {
        volatile char frame[16 * 1024];

        memset((char *) frame, (int) depth, sizeof frame);
        return depth == 0 ? (unsigned) frame[0] : (unsigned) frame[depth] + deep(depth - 1);
}

static void test_stack(void **state) {
        long before, after;

        (void) deep(32); /* ≈ 512 KiB */
        before = mapping_private_dirty("[stack]");
        assert_true(before >= 400);
        memory_release_unused();
        after = mapping_private_dirty("[stack]");
        assert_true(after >= 0);
        assert_true(after < 100);
        assert_int_equal(deep(2), deep(2)); /* the pages come back as zero pages, usable */
}

static void test_heap(void **state) {
        enum { N = 4096 };
        char *keep[N / 16] = {}, **blocks;
        long before, after;

#if defined(__SANITIZE_ADDRESS__)
        /* AddressSanitizer's allocator replaces glibc's: no [heap] to trim. */
        skip();
#endif
        blocks = calloc(N, sizeof *blocks);
        assert_non_null(blocks);
        for (size_t i = 0; i < N; i++) { /* 4096 × 1 KiB below the mmap threshold: the heap */
                blocks[i] = malloc(1024);
                assert_non_null(blocks[i]);
                memset(blocks[i], 0x5a, 1024);
        }
        for (size_t i = 0; i < N; i++)
                if (i % 16 ==
                    0) /* every 16th stays: the heap top is in use, only a trim in the middle helps */
                        keep[i / 16] = blocks[i];
                else
                        free(blocks[i]);
        before = mapping_private_dirty("[heap]");
        memory_release_unused();
        after = mapping_private_dirty("[heap]");
        assert_true(before >= 3000);
        assert_true(after <= before - 2000);
        for (size_t i = 0; i < N / 16; i++) {
                assert_int_equal(keep[i][0], 0x5a);
                assert_int_equal(keep[i][1023], 0x5a);
                free(keep[i]);
        }
        free(blocks);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stack),
                cmocka_unit_test(test_heap),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
