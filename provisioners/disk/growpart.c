/* SPDX-License-Identifier: MIT */
/*
 * growpart in-process: grow one partition of a GPT or MBR table into the free space that follows it, the
 * way cloud-utils' growpart does with sfdisk/sgdisk, but with libfdisk and without a shell.
 *
 * Safety rules, in order: the table must be one we understand (GPT without hybrid MBR, or MBR); libfdisk's
 * verify must report no problem; for GPT both headers and entry arrays must carry valid CRCs and point at
 * each other (libfdisk silently "recovers" a corrupt primary from the backup in memory, and would write that
 * recovery back — we refuse instead). Only then is anything written: first a read-only pass plans the
 * change, then a read-write pass re-plans and writes. A disk that grew gets its GPT backup header moved to
 * the new end by the same write (libfdisk relocates it on probe). The running kernel learns the new size
 * with BLKPG_RESIZE_PARTITION, which works while the partition is mounted.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "disk-internal.h"
#include "disk.h"
#include "log.h"
#include "strutil.h"

/* Don't rewrite a table for less than this (cloud-utils growpart uses a similar fudge). */
#define GROW_MIN_BYTES (1024U * 1024U)
/* MBR partition entries hold 32-bit LBAs (start and sector count). */
#define MBR_MAX_SECTORS UINT64_C(0xFFFFFFFF)

typedef struct GrowPlan {
        unsigned sector_size;
        uint64_t start, size;    /* sectors, current */
        uint64_t new_size;       /* sectors; == size when not growing */
        uint64_t relocated_last; /* GPT on a grown disk: LastUsableLBA once the backup is at the end */
        bool refused;
        char *reason; /* set when not growing */
} GrowPlan;

static void grow_plan_done(GrowPlan *p) {
        free(p->reason);
        *p = (GrowPlan){};
}

void grow_part_result_done(GrowPartResult *r) {
        if (!r)
                return;
        free(r->summary);
        *r = (GrowPartResult){};
}

static int plan_set_reason(GrowPlan *p, bool refused, const char *fmt, ...) _printf_(3, 4);
static int plan_set_reason(GrowPlan *p, bool refused, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = strprintfv(&p->reason, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        p->refused = refused;
        p->new_size = p->size;
        return 0;
}

/* Is any MBR entry a GPT protective (0xEE) one? Then libfdisk fell back to MBR because the GPT is broken. */
static int has_protective_entry(struct fdisk_context *cxt) {
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        struct fdisk_iter *itr;
        struct fdisk_partition *pa;
        int r, found = 0;

        r = fdisk_get_partitions(cxt, &tb);
        if (r < 0)
                return r;
        itr = fdisk_new_iter(FDISK_ITER_FORWARD);
        if (!itr)
                return -ENOMEM;
        while (!found && fdisk_table_next_partition(tb, itr, &pa) == 0) {
                const struct fdisk_parttype *t = fdisk_partition_get_type(pa);

                found = t && fdisk_parttype_get_code(t) == 0xEE;
        }
        fdisk_free_iter(itr);
        return found;
}

/* GPT integrity beyond libfdisk: both headers and arrays (libfdisk "recovers" silently in memory). */
static int check_gpt(struct fdisk_context *cxt, int fd, GrowPlan *p, bool *ret_relocated) {
        _cleanup_error_ Error problem = ERROR_NULL;
        uint64_t alt, ebytes, total = fdisk_get_nsectors(cxt);
        int r;

        r = gpt_check_headers(fd, p->sector_size, fdisk_get_nsectors(cxt), &problem);
        if (r == -EUCLEAN)
                return plan_set_reason(p, true, "GPT is inconsistent: %s", error_reason(&problem));
        if (r < 0)
                return r;
        r = gpt_alternate_lba(fd, p->sector_size, &alt, &ebytes);
        if (r < 0)
                return r;
        *ret_relocated = alt != total - 1;
        /* libfdisk relocates the backup (in memory) only in read-write contexts; for the read-only planning
         * pass compute where LastUsableLBA will be: before the backup array and header (UEFI §5.3.2) */
        if (*ret_relocated)
                p->relocated_last = total - 2 - (ebytes + p->sector_size - 1) / p->sector_size;
        return 1;
}

/* Refuses unknown, hybrid or inconsistent tables. Returns 1 if the table may be edited. */
static int check_table(struct fdisk_context *cxt, int fd, GrowPlan *p) {
        _cleanup_error_ Error problem = ERROR_NULL;
        bool relocated = false;
        int r;

        if (!fdisk_has_label(cxt))
                return plan_set_reason(p, true, "no partition table found");
        if (!fdisk_is_label(cxt, GPT) && !fdisk_is_label(cxt, DOS))
                return plan_set_reason(p, true, "unsupported partition table type '%s'",
                                       fdisk_label_get_name(fdisk_get_label(cxt, NULL)));
        if (fdisk_is_label(cxt, GPT) && fdisk_gpt_is_hybrid(cxt))
                return plan_set_reason(p, true, "GPT with a hybrid MBR; not editing it");
        if (fdisk_is_label(cxt, DOS)) {
                r = has_protective_entry(cxt);
                if (r < 0)
                        return r;
                if (r > 0)
                        return plan_set_reason(p, true,
                                               "protective MBR but no valid GPT (both GPT headers or "
                                               "arrays are damaged)");
        } else {
                r = check_gpt(cxt, fd, p, &relocated);
                if (r <= 0)
                        return r;
        }
        r = fdisk_verify(cxt, relocated, &problem);
        if (r == -EUCLEAN)
                return plan_set_reason(p, true, "libfdisk reports the partition table as inconsistent (%s)",
                                       error_reason(&problem));
        if (r < 0)
                return r;
        return 1;
}

/* First start sector of any partition (including an MBR extended container) that begins after start. */
static int next_partition_start(struct fdisk_context *cxt, uint64_t start, uint64_t *ret,
                                size_t *ret_partno) {
        _cleanup_(fdisk_unref_tablep) struct fdisk_table *tb = NULL;
        struct fdisk_iter *itr;
        struct fdisk_partition *pa;
        uint64_t best = UINT64_MAX;
        size_t best_no = SIZE_MAX;
        int r;

        r = fdisk_get_partitions(cxt, &tb);
        if (r < 0)
                return r;
        itr = fdisk_new_iter(FDISK_ITER_FORWARD);
        if (!itr)
                return -ENOMEM;
        while (fdisk_table_next_partition(tb, itr, &pa) == 0) {
                uint64_t s;

                if (!fdisk_partition_has_start(pa))
                        continue;
                s = fdisk_partition_get_start(pa);
                if (s > start && s < best) {
                        best = s;
                        best_no = fdisk_partition_get_partno(pa);
                }
        }
        fdisk_free_iter(itr);
        *ret = best;
        *ret_partno = best_no;
        return 0;
}

/* Works out how far partno (1-based) can grow. Never writes. */
static int plan_growth(struct fdisk_context *cxt, int fd, unsigned partno, GrowPlan *ret) {
        _cleanup_(grow_plan_done) GrowPlan p = {.sector_size = (unsigned) fdisk_get_sector_size(cxt)};
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = NULL;
        uint64_t last, next, grain, end, new_end;
        size_t next_no;
        int r;

        r = check_table(cxt, fd, &p);
        if (r <= 0)
                goto done;
        if (partno == 0 || fdisk_get_partition(cxt, partno - 1, &pa) < 0 || !fdisk_partition_is_used(pa) ||
            !fdisk_partition_has_start(pa) || !fdisk_partition_has_size(pa))
                return -ENXIO;
        p.start = fdisk_partition_get_start(pa);
        p.size = p.new_size = fdisk_partition_get_size(pa);
        if (fdisk_is_label(cxt, DOS) && (partno > 4 || fdisk_partition_is_container(pa))) {
                r = plan_set_reason(&p, false, "partition %u is an MBR %s partition; not growing", partno,
                                    partno > 4 ? "logical" : "extended");
                goto done;
        }

        last = MAX(fdisk_get_last_lba(cxt), p.relocated_last); /* GPT: LastUsableLBA */
        if (fdisk_is_label(cxt, DOS))
                last = MIN(last, p.start + MBR_MAX_SECTORS - 1);
        r = next_partition_start(cxt, p.start, &next, &next_no);
        if (r < 0)
                return r;
        end = p.start + p.size - 1;
        grain = MAX(fdisk_get_grain_size(cxt) / p.sector_size, (unsigned long) 1);
        /* Align the new end so that the partition ends just before a grain (1 MiB) boundary. */
        new_end = ((MIN(last, next - 1) + 1) / grain) * grain - 1;
        log_debug("partition %u: start %" PRIu64 " end %" PRIu64 ", last usable %" PRIu64
                  ", next start %" PRIu64 ", grain %" PRIu64 " → new end %" PRIu64,
                  partno, p.start, end, last, next, grain, new_end);
        if (new_end <= end || (new_end - end) * p.sector_size < GROW_MIN_BYTES) {
                if (next != UINT64_MAX && (next - 1 - end) * p.sector_size < GROW_MIN_BYTES)
                        r = plan_set_reason(
                                &p, false,
                                "partition %u is followed by partition %zu with no free space in "
                                "between; not growing",
                                partno, next_no + 1);
                else
                        r = plan_set_reason(&p, false, "partition %u already fills the available space",
                                            partno);
                goto done;
        }
        p.new_size = new_end - p.start + 1;
        r = 0;
done:
        if (r < 0)
                return r;
        *ret = p;
        p = (GrowPlan){};
        return 0;
}

static int write_growth(struct fdisk_context *cxt, unsigned partno, uint64_t new_size) {
        _cleanup_(fdisk_unref_partitionp) struct fdisk_partition *pa = fdisk_new_partition();
        int r;

        if (!pa)
                return -ENOMEM;
        r = fdisk_partition_set_size(pa, new_size);
        if (r < 0)
                return r;
        r = fdisk_set_partition(cxt, partno - 1, pa);
        if (r < 0)
                return r;
        /* GPT: backup array, backup header, primary array, primary header, protective MBR (UEFI order) */
        return fdisk_write_disklabel(cxt);
}

/* Makes the kernel's idea of partno match the table (BLKPG_RESIZE_PARTITION). Returns 1 if it changed. */
static int update_kernel(int fd, unsigned partno, const GrowPlan *p) {
        _cleanup_free_ KernelPartition *parts = NULL;
        uint64_t start = p->start * p->sector_size, length = p->new_size * p->sector_size;
        struct stat st;
        size_t n = 0;
        int r;

        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISBLK(st.st_mode))
                return 0; /* an image file: there is no kernel partition to update */
        r = block_device_partitions(st.st_rdev, &parts, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (parts[i].partno != partno)
                        continue;
                /* sysfs "start"/"size" are always in 512-byte units */
                if (parts[i].start * 512 != start)
                        return -ESTALE;
                if (parts[i].size * 512 == length)
                        return 0;
                r = blkpg_resize_partition(fd, partno, start, length);
                return r < 0 ? r : 1;
        }
        return 0; /* the kernel has no such partition (not scanned): nothing to update */
}

static int grow_fd(int rofd, const char *path, unsigned partno, GrowPartResult *ret) {
        _cleanup_(fdisk_unref_contextp) struct fdisk_context *cxt = NULL, *wcxt = NULL;
        _cleanup_(grow_plan_done) GrowPlan plan = {}, wplan = {};
        _cleanup_close_ int rwfd = -EBADF;
        GrowPartResult res = {.partno = partno};
        const GrowPlan *final = &plan;
        int r, k;

        r = fdisk_open_fd(rofd, true, &cxt);
        if (r < 0)
                return r;
        r = plan_growth(cxt, rofd, partno, &plan);
        if (r < 0)
                return r;
        if (!plan.reason) {
                /* Re-open writable and plan again on what we are about to write. */
                rwfd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (rwfd < 0)
                        return negative_errno();
                r = fdisk_open_fd(rwfd, false, &wcxt);
                if (r < 0)
                        return r;
                r = plan_growth(wcxt, rwfd, partno, &wplan);
                if (r < 0)
                        return r;
                final = &wplan;
                if (!wplan.reason) {
                        r = write_growth(wcxt, partno, wplan.new_size);
                        if (r < 0)
                                return r;
                        if (fsync(rwfd) < 0)
                                return negative_errno();
                        res.table_changed = true;
                }
        }
        res.old_size = final->size * final->sector_size;
        res.new_size = final->new_size * final->sector_size;
        if (final->refused) {
                res.refused = true;
                res.summary = strdup(final->reason);
                if (!res.summary)
                        return -ENOMEM;
                *ret = res;
                return 0;
        }
        k = update_kernel(rofd, partno, final);
        if (k < 0)
                return k;
        res.kernel_updated = k > 0;
        if (final->reason && !res.kernel_updated)
                res.summary = strdup(final->reason);
        else {
                char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

                if (asprintf(&res.summary, "partition %u %s from %s to %s%s", partno,
                             res.table_changed ? "grown" : "size re-read",
                             format_bytes(res.old_size, a, sizeof a),
                             format_bytes(res.new_size, b, sizeof b),
                             res.kernel_updated ? " (kernel updated with BLKPG_RESIZE_PARTITION)" : "") < 0)
                        res.summary = NULL;
        }
        if (!res.summary)
                return -ENOMEM;
        *ret = res;
        return res.table_changed || res.kernel_updated;
}

int disk_grow_partition(const char *disk, unsigned partno, GrowPartResult *ret) {
        _cleanup_close_ int fd = -EBADF;

        if (!disk || partno == 0 || !ret)
                return -EINVAL;
        fd = open(disk, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        return grow_fd(fd, disk, partno, ret);
}
