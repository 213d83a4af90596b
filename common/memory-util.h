/* SPDX-License-Identifier: MIT */
/*
 * Memory that is ours (BENCHMARKS.md, "Memory"): what a long-running process gives back after a burst of work.
 */
#pragma once

/*
 * malloc_trim(0), then the main thread's stack pages below the caller's frame: a deeper call chain earlier
 * (libxml2, OpenSSL, curl) dirtied them, and they would stay private memory for the process's life. They are
 * dropped (MADV_DONTNEED: zero pages again on the next touch). Call from a shallow frame of the main thread,
 * e.g. the event loop's handler after a daemon pass. Microseconds; errors are ignored.
 */
void memory_release_unused(void);
