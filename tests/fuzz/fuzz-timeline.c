/* SPDX-License-Identifier: MIT */
/*
 * <StateDirectory>/timeline.jsonl (agent/timeline.c timeline_parse), read by `azl-agent analyze`: written by the
 * agent, but read after crashes and by hand edits. Invariants: at most TIMELINE_RECORDS_MAX records, each with
 * its mandatory fields and a start after the epoch; every record formats back to one line that parses to an
 * equal record (the round trip `analyze` relies on).
 */
#include <string.h>

#include "fuzz.h"
#include "timeline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TimelineRecord *r = NULL;
        size_t n = 0, bad = 0;

        if (!fuzz_setup(size))
                return 0;
        if (timeline_parse((const char *) data, size, &r, &n, &bad) < 0)
                return 0;
        fuzz_check(n <= TIMELINE_RECORDS_MAX);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *line = NULL;
                TimelineRecord *back = NULL;
                size_t m = 0;

                fuzz_check(r[i].source && r[i].name && r[i].result && r[i].start > 0);
                if (timeline_format(&r[i], &line) < 0)
                        continue; /* a field not valid UTF-8 after truncation, a start beyond 9999 */
                fuzz_check(strchr(line, '\n') == line + strlen(line) - 1);
                fuzz_check(timeline_parse(line, strlen(line), &back, &m, NULL) >= 0);
                if (m == 1) {
                        fuzz_check(back[0].start == r[i].start && back[0].duration == r[i].duration);
                        fuzz_check(streq(back[0].source, r[i].source) ||
                                   strlen(r[i].source) > TIMELINE_FIELD_MAX);
                }
                timeline_records_free(back, m);
        }
        timeline_records_free(r, n);
        return 0;
}
