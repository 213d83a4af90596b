/* SPDX-License-Identifier: MIT */
/* The timing records of `analyze` (timeline.h): format/parse round trip, damaged lines, the file and its cap. */
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "tests.h"
#include "timeline.h"

static void test_roundtrip(void **state) {
        TimelineRecord r = {
                .boot_id = (char *) "3f2a9c1e6b7d4e0f8a5b2c3d4e5f6a7b",
                .source = (char *) "extension",
                .run = (char *) "incarnation_2",
                .name = (char *) "X.Y-1.0 enable",
                .start = 1700000000ULL * USEC_PER_SEC + 42,
                .duration = 1234567,
                .result = (char *) "failed (1009)",
                .summary = (char *) "Non-zero exit code: 1, \"quoted\"",
        };
        _cleanup_free_ char *line = NULL, *boot = NULL;
        TimelineRecord *back = NULL;
        size_t n = 0, bad = 9;

        assert_int_equal(timeline_format(&r, &line), 0);
        assert_non_null(strstr(line, "\"start\":\"2023-11-14T22:13:20.000042Z\""));
        assert_int_equal(timeline_parse(line, strlen(line), &back, &n, &bad), 0);
        assert_int_equal(n, 1);
        assert_int_equal(bad, 0);
        assert_string_equal(back[0].boot_id, r.boot_id);
        assert_string_equal(back[0].summary, r.summary);
        assert_true(back[0].start == r.start && back[0].duration == r.duration);
        timeline_records_free(back, n);

        assert_int_equal(timeline_boot_id(&boot), 0);
        assert_int_equal(strlen(boot), 32);
}

static void test_damaged_lines(void **state) {
        static const char text[] = "{\"source\":\"provision\",\"name\":\"media\",\"start\":\"2026-11-21T21:"
                                   "20:05Z\",\"duration_usec\":1,\"result\":\"changed\"}\n"
                                   "{\"source\":\"provision\",\"name\":\"imds\",\"start\":\"2026-11-21T21:"
                                   "20:05Z\",\"duration_usec\":-1,\"result\":\"changed\"}\n"
                                   "{\"source\":\"provision\",\"start\":\"2026-11-21T21:20:05Z\",\"duration_"
                                   "usec\":1,\"result\":\"changed\"}\n"
                                   "\n"
                                   "{\"source\":\"provision\",\"name\":\"marker\",\"start\":\"2026-11-21T21:"
                                   "20:06Z\",\"duration_usec\":2,\"result\":\"changed\"}\n"
                                   "{\"source\":\"provis";
        TimelineRecord *r = NULL;
        size_t n = 0, bad = 0;

        assert_int_equal(timeline_parse(text, strlen(text), &r, &n, &bad), 0);
        assert_int_equal(n, 2);
        assert_int_equal(bad, 3);
        assert_string_equal(r[0].name, "media");
        assert_string_equal(r[1].name, "marker");
        assert_null(r[1].boot_id);
        timeline_records_free(r, n);
}

static void test_file_append_and_cap(void **state) {
        char *dir = tmpdir_new();
        _cleanup_free_ char *path = NULL, *summary = NULL;
        TimelineRecord *r = NULL;
        size_t n = 0;
        struct stat st;
        Context c;

        assert_int_equal(context_init(&c, dir, NULL), 0);
        assert_int_equal(timeline_load(&c, &r, &n, NULL), -ENOENT);
        summary = malloc(900);
        assert_non_null(summary);
        memset(summary, 's', 899);
        summary[899] = 0;
        /* ~1 KiB per line: past TIMELINE_MAX the older half goes, whole lines only. */
        for (unsigned i = 0; i < 1500; i++) {
                char name[32];

                snprintf(name, sizeof name, "step-%u", i);
                assert_int_equal(
                        timeline_append(&c, &(TimelineRecord){.source = (char *) "provision",
                                                              .name = name,
                                                              .start = USEC_PER_SEC * (1700000000ULL + i),
                                                              .result = (char *) "changed",
                                                              .summary = summary}),
                        0);
        }
        assert_true(asprintf(&path, "%s/var/lib/azl-agent/" TIMELINE_FILE, dir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_true((size_t) st.st_size <= TIMELINE_MAX);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(timeline_load(&c, &r, &n, NULL), 0);
        assert_true(n > 500 && n < 1500);
        assert_string_equal(r[n - 1].name, "step-1499");
        assert_non_null(r[0].boot_id); /* filled in by append */
        for (size_t i = 1; i < n; i++)
                assert_true(r[i].start == r[i - 1].start + USEC_PER_SEC);
        timeline_records_free(r, n);
        context_done(&c);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_damaged_lines),
                cmocka_unit_test(test_file_append_and_cap),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
