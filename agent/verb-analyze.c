/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent analyze [show|blame] [--json]`: where the time of provisioning and of extension handling went,
 * per boot, like `cloud-init analyze show/blame`. The records are the agent's own timeline (timeline.h:
 * every provisioning step and every extension operation with its start, duration and result), not the
 * journal, so that it works on a --root image and after the journal was rotated.
 *
 *   show   per boot (oldest first), per run (a provisioning run, an extensions goal state): every record in
 *          order with its offset from the boot's first record ("@"), its duration ("+"), result and summary,
 *          and the run's total;
 *   blame  per boot, every record by duration, longest first.
 *
 * --json prints {"boots": [{"boot_id", "first", "last", "records": [...]}]} with the records of show (or, for
 * blame, sorted by duration).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "timeline.h"

typedef enum AnalyzeMode {
        ANALYZE_SHOW,
        ANALYZE_BLAME,
} AnalyzeMode;

typedef struct Boot {
        const char *boot_id;
        TimelineRecord **records; /* pointers into the loaded array, in file order */
        size_t n;
        usec_t first, last; /* earliest start, latest end */
} Boot;

static void boots_free(Boot *b, size_t n) {
        for (size_t i = 0; b && i < n; i++)
                free(b[i].records);
        free(b);
}

/* Groups records by boot id, boots in the order of their first record (the file is append-only). */
static int group_by_boot(TimelineRecord *records, size_t n, Boot **ret, size_t *ret_n) {
        Boot *boots = NULL;
        size_t nb = 0;

        for (size_t i = 0; i < n; i++) {
                TimelineRecord *r = &records[i];
                const char *id = r->boot_id ?: "unknown";
                Boot *b = NULL;
                TimelineRecord **a;

                for (size_t k = 0; k < nb && !b; k++)
                        if (streq(boots[k].boot_id, id))
                                b = &boots[k];
                if (!b) {
                        Boot *nbs = reallocarray(boots, nb + 1, sizeof *nbs);

                        if (!nbs) {
                                boots_free(boots, nb);
                                return -ENOMEM;
                        }
                        boots = nbs;
                        b = &boots[nb++];
                        *b = (Boot){.boot_id = id, .first = r->start, .last = r->start + r->duration};
                }
                a = reallocarray(b->records, b->n + 1, sizeof *a);
                if (!a) {
                        boots_free(boots, nb);
                        return -ENOMEM;
                }
                b->records = a;
                b->records[b->n++] = r;
                b->first = MIN(b->first, r->start);
                b->last = MAX(b->last, r->start + r->duration);
        }
        *ret = boots;
        *ret_n = nb;
        return 0;
}

static int by_duration(const void *a, const void *b) {
        const TimelineRecord *x = *(TimelineRecord *const *) a, *y = *(TimelineRecord *const *) b;

        if (x->duration != y->duration)
                return x->duration < y->duration ? 1 : -1;
        return x->start < y->start ? -1 : x->start > y->start;
}

static const char *source_label(const TimelineRecord *r) {
        return streq(r->source, "provision")   ? "provisioning run started"
               : streq(r->source, "extension") ? "extensions goal state"
                                               : r->source;
}

static void print_seconds(usec_t u, char *buf, size_t size) {
        (void) snprintf(buf, size, "%llu.%06llus", (unsigned long long) (u / USEC_PER_SEC),
                        (unsigned long long) (u % USEC_PER_SEC));
}

static void show_boot(const Boot *b, size_t index, size_t n_boots) {
        const char *source = NULL, *run = NULL;
        usec_t run_first = 0, run_last = 0;
        char ts[64] = "", at[32], dur[32];

        (void) format_timestamp_iso_usec(b->first, ts, sizeof ts);
        printf("-- Boot %zu of %zu (boot id %s, first record %s) --\n", index + 1, n_boots, b->boot_id, ts);
        printf("@ is the time since the boot's first record started, + the time the record took.\n");
        for (size_t i = 0; i < b->n; i++) {
                const TimelineRecord *r = b->records[i];

                if (!source || !streq(source, r->source) || !streq_ptr(run, r->run)) {
                        if (source) {
                                print_seconds(run_last - run_first, dur, sizeof dur);
                                printf("   finished in %s\n", dur);
                        }
                        source = r->source;
                        run = r->run;
                        run_first = r->start;
                        run_last = r->start + r->duration;
                        printf("%s%s%s\n", source_label(r), r->run ? " " : "", strempty(r->run));
                }
                run_first = MIN(run_first, r->start);
                run_last = MAX(run_last, r->start + r->duration);
                print_seconds(r->start - b->first, at, sizeof at);
                print_seconds(r->duration, dur, sizeof dur);
                printf("  |`->%-44s @%-14s +%-14s %-12s %s\n", r->name, at, dur, r->result,
                       strempty(r->summary));
        }
        if (source) {
                print_seconds(run_last - run_first, dur, sizeof dur);
                printf("   finished in %s\n", dur);
        }
        print_seconds(b->last - b->first, dur, sizeof dur);
        printf("%zu record(s), %s from the first start to the last end.\n\n", b->n, dur);
}

static void blame_boot(const Boot *b, size_t index, size_t n_boots) {
        char dur[32];

        printf("-- Boot %zu of %zu (boot id %s) --\n", index + 1, n_boots, b->boot_id);
        for (size_t i = 0; i < b->n; i++) {
                const TimelineRecord *r = b->records[i];

                print_seconds(r->duration, dur, sizeof dur);
                printf("  %16s  %-9s %s%s%s%s\n", dur, r->source, r->name, r->run ? " (" : "",
                       strempty(r->run), r->run ? ")" : "");
        }
        printf("\n");
}

static int add_str(struct json_object *o, const char *k, const char *v) {
        return json_object_object_add(o, k, v ? json_object_new_string(v) : NULL) < 0 ? -ENOMEM : 0;
}

static int print_json(const Boot *boots, size_t n) {
        _cleanup_json_ struct json_object *root = json_object_new_object(), *arr = json_object_new_array();
        int r = 0;

        if (!root || !arr)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                struct json_object *b = json_object_new_object(), *recs = json_object_new_array();
                char ts[64];

                if (!b || !recs || json_object_array_add(arr, b) < 0) {
                        json_object_put(b);
                        json_object_put(recs);
                        return -ENOMEM;
                }
                r = r ?: add_str(b, "boot_id", boots[i].boot_id);
                r = r
                            ?: add_str(b, "first",
                                       format_timestamp_iso_usec(boots[i].first, ts, sizeof ts) >= 0 ? ts
                                                                                                     : NULL);
                r = r
                            ?: add_str(b, "last",
                                       format_timestamp_iso_usec(boots[i].last, ts, sizeof ts) >= 0 ? ts
                                                                                                    : NULL);
                json_object_object_add(b, "records", recs);
                for (size_t k = 0; k < boots[i].n && r >= 0; k++) {
                        const TimelineRecord *t = boots[i].records[k];
                        struct json_object *o = json_object_new_object();

                        if (!o || json_object_array_add(recs, o) < 0) {
                                json_object_put(o);
                                return -ENOMEM;
                        }
                        r = r ?: add_str(o, "source", t->source);
                        r = r ?: add_str(o, "run", t->run);
                        r = r ?: add_str(o, "name", t->name);
                        r = r
                                    ?: add_str(o, "start",
                                               format_timestamp_iso_usec(t->start, ts, sizeof ts) >= 0
                                                       ? ts
                                                       : NULL);
                        json_object_object_add(o, "offset_usec",
                                               json_object_new_int64((int64_t) (t->start - boots[i].first)));
                        json_object_object_add(o, "duration_usec",
                                               json_object_new_int64((int64_t) t->duration));
                        r = r ?: add_str(o, "result", t->result);
                        r = r ?: add_str(o, "summary", t->summary);
                }
        }
        if (r < 0)
                return r;
        json_object_object_add(root, "boots", TAKE_PTR(arr));
        puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static void help(void) {
        printf("azl-agent analyze [show|blame] [--json]\n\n"
               "  show    each provisioning step and extension operation per boot, in order (default)\n"
               "  blame   the same, longest first\n"
               "  --json  machine-readable\n");
}

int verb_analyze(Context *c, int argc, char **argv) {
        static const struct option options[] = {
                {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {}};
        TimelineRecord *records = NULL;
        Boot *boots = NULL;
        size_t n = 0, nb = 0, bad = 0;
        AnalyzeMode mode = ANALYZE_SHOW;
        bool json = false;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "jh", options, NULL)) >= 0)
                switch (opt) {
                case 'j':
                        json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                if (streq(argv[optind], "show"))
                        mode = ANALYZE_SHOW;
                else if (streq(argv[optind], "blame"))
                        mode = ANALYZE_BLAME;
                else
                        return log_error_errno(EINVAL, "Unknown analyze command '%s' (show, blame).",
                                               argv[optind]);
                if (optind + 1 < argc)
                        return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind + 1]);
        }

        r = timeline_load(c, &records, &n, &bad);
        if (r == -ENOENT) {
                if (json)
                        puts("{\n  \"boots\": []\n}");
                else
                        printf("No records yet (%s/" TIMELINE_FILE
                               " does not exist): nothing was provisioned or "
                               "run here.\n",
                               c->config.state_dir);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read %s/" TIMELINE_FILE ": %m", c->config.state_dir);
        if (bad > 0)
                log_warning("Ignored %zu damaged line(s) of %s/" TIMELINE_FILE ".", bad,
                            c->config.state_dir);
        r = group_by_boot(records, n, &boots, &nb);
        if (r < 0) {
                timeline_records_free(records, n);
                return log_oom();
        }
        if (mode == ANALYZE_BLAME)
                for (size_t i = 0; i < nb; i++)
                        qsort(boots[i].records, boots[i].n, sizeof *boots[i].records, by_duration);
        if (json)
                r = print_json(boots, nb);
        else
                for (size_t i = 0; i < nb; i++)
                        (mode == ANALYZE_BLAME ? blame_boot : show_boot)(&boots[i], i, nb);
        boots_free(boots, nb);
        timeline_records_free(records, n);
        return r < 0 ? log_oom() : 0;
}
