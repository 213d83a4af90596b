/* SPDX-License-Identifier: MIT */
/*
 * Corpus replay without libFuzzer (systemd src/fuzz/fuzz-main.c): every argument is a file or a directory
 * (walked recursively, entries in name order, dot files skipped); each file is read — at most
 * FUZZ_INPUT_MAX + 1 bytes, so that the target still sees that it is too big — into a buffer of exactly
 * its size (ASan then catches reads past the end, as under libFuzzer) and handed to
 * LLVMFuzzerTestOneInput(). $AZL_FUZZ_RUNS (default 1) repeats every input, to catch state that leaks
 * from one call into the next.
 *
 * Exit status: 0 when at least one input ran; 1 when there was nothing to run (an empty or missing corpus
 * must not pass as a test) or an argument could not be read. A crashing input aborts the process, and the
 * last "running" line names it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "macro.h"

typedef struct Replay {
        unsigned runs;
        size_t n_inputs;
        size_t n_bytes;
} Replay;

static int read_input(int fd, uint8_t **ret, size_t *ret_size) {
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0, allocated = 0;
        uint8_t *exact;

        for (;;) {
                ssize_t k;

                if (size >= allocated) {
                        size_t n = allocated ? allocated * 2 : 64 * 1024;
                        uint8_t *p;

                        n = MIN(n, (size_t) FUZZ_INPUT_MAX + 1);
                        if (n <= size)
                                break; /* the cap: the target rejects what it sees of a larger file */
                        p = realloc(buf, n);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        allocated = n;
                }
                k = read(fd, buf + size, allocated - size);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                size += (size_t) k;
        }

        /* Exactly size bytes (at least one, so that an empty input is a valid pointer), nothing after. */
        exact = malloc(size ?: 1);
        if (!exact)
                return -ENOMEM;
        if (size > 0)
                memcpy(exact, buf, size);
        *ret = exact;
        *ret_size = size;
        return 0;
}

static int replay_file(Replay *rp, int fd, const char *path) {
        _cleanup_free_ uint8_t *data = NULL;
        size_t size = 0;
        int r;

        r = read_input(fd, &data, &size);
        if (r < 0) {
                fprintf(stderr, "fuzz-main: failed to read %s: %s\n", path, strerror(-r));
                return r;
        }
        printf("fuzz-main: running %s (%zu bytes)\n", path, size);
        fflush(stdout);
        for (unsigned i = 0; i < rp->runs; i++)
                (void) LLVMFuzzerTestOneInput(data, size);
        rp->n_inputs++;
        rp->n_bytes += size;
        return 0;
}

static int entry_compare(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

static int entry_visible(const struct dirent *d) {
        return d->d_name[0] != '.';
}

static int replay_path(Replay *rp, int dir_fd, const char *name, const char *path, unsigned depth);

static int replay_dir(Replay *rp, int fd, const char *path, unsigned depth) {
        struct dirent **entries = NULL;
        int n, r = 0;

        if (depth > 16) {
                fprintf(stderr, "fuzz-main: %s: directories nested too deeply\n", path);
                return -ELOOP;
        }
        n = scandirat(fd, ".", &entries, entry_visible, entry_compare);
        if (n < 0) {
                r = -errno;
                fprintf(stderr, "fuzz-main: failed to list %s: %s\n", path, strerror(errno));
                return r;
        }
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *child = NULL;

                if (r >= 0) {
                        if (asprintf(&child, "%s/%s", path, entries[i]->d_name) < 0) {
                                child = NULL;
                                r = -ENOMEM;
                        } else
                                r = replay_path(rp, fd, entries[i]->d_name, child, depth + 1);
                }
                free(entries[i]);
        }
        free(entries);
        return r;
}

static int replay_path(Replay *rp, int dir_fd, const char *name, const char *path, unsigned depth) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int r = -errno;

                fprintf(stderr, "fuzz-main: failed to open %s: %s\n", path, strerror(errno));
                return r;
        }
        if (S_ISDIR(st.st_mode))
                return replay_dir(rp, fd, path, depth);
        if (!S_ISREG(st.st_mode)) {
                fprintf(stderr, "fuzz-main: %s: not a regular file or directory\n", path);
                return -EBADF;
        }
        return replay_file(rp, fd, path);
}

int main(int argc, char *argv[]) {
        Replay rp = {.runs = 1};
        const char *e;
        int r = 0;

        e = getenv("AZL_FUZZ_RUNS");
        if (e) {
                char *end;
                unsigned long v = strtoul(e, &end, 10);

                if (*end || v == 0 || v > 1000) {
                        fprintf(stderr, "fuzz-main: invalid $AZL_FUZZ_RUNS '%s'\n", e);
                        return EXIT_FAILURE;
                }
                rp.runs = (unsigned) v;
        }

        for (int i = 1; i < argc; i++) {
                int k = replay_path(&rp, AT_FDCWD, argv[i], argv[i], 0);
                if (k < 0 && r >= 0)
                        r = k;
        }

        printf("fuzz-main: %s: %zu inputs (%zu bytes), %u run(s) each\n", argc > 0 ? argv[0] : "fuzz",
               rp.n_inputs, rp.n_bytes, rp.runs);
        if (r < 0)
                return EXIT_FAILURE;
        if (rp.n_inputs == 0) {
                fprintf(stderr, "fuzz-main: no inputs to replay, failing\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
