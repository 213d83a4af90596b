/* SPDX-License-Identifier: MIT */
/* Pre-provisioned VM pools: type detection (cloud-init's order) and the reported-ready marker. The flows
 * themselves run against the simulated fabric in tests/integration/test_pps.py. */
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "macro.h"
#include "provision-pps.h"
#include "tests.h"

static void test_type_determine(void **state) {
        static const struct {
                bool marker, ovf_vm;
                const char *ovf_type;
                ImdsPpsType imds;
                PpsType expected;
        } cases[] = {
                {false, false, NULL, IMDS_PPS_NONE, PPS_NONE},
                {false, false, "None", IMDS_PPS_NONE, PPS_NONE},
                {false, true, "Running", IMDS_PPS_RUNNING, PPS_RUNNING},
                {false, false, NULL, IMDS_PPS_RUNNING, PPS_RUNNING},   /* IMDS alone */
                {false, false, "Running", IMDS_PPS_NONE, PPS_RUNNING}, /* ovf-env alone */
                {false, true, "Savable", IMDS_PPS_SAVABLE, PPS_SAVABLE},
                {false, false, NULL, IMDS_PPS_SAVABLE, PPS_SAVABLE},
                {false, true, "Running", IMDS_PPS_SAVABLE, PPS_SAVABLE}, /* Savable wins, as in cloud-init */
                {false, true, "PreprovisionedOSDisk", IMDS_PPS_NONE, PPS_OS_DISK},
                {false, true, NULL, IMDS_PPS_NONE, PPS_LEGACY}, /* PreprovisionedVm=true, no type */
                {false, true, "Unheard-of", IMDS_PPS_NONE, PPS_LEGACY},
                {false, false, "Unheard-of", IMDS_PPS_NONE, PPS_NONE},
                {true, true, "Running", IMDS_PPS_RUNNING, PPS_RESUMED}, /* the marker wins over everything */
                {true, false, NULL, IMDS_PPS_NONE, PPS_RESUMED},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                PpsType t = pps_type_determine(cases[i].marker, cases[i].ovf_vm, cases[i].ovf_type,
                                               cases[i].imds);

                if (t != cases[i].expected)
                        fail_msg("case %zu: got %s, expected %s", i, pps_type_to_string(t),
                                 pps_type_to_string(cases[i].expected));
        }
        for (PpsType t = 0; t < _PPS_TYPE_MAX; t++)
                assert_non_null(pps_type_to_string(t));
        assert_null(pps_type_to_string(_PPS_TYPE_MAX));
}

static void test_marker(void **state) {
        char *dir = tmpdir_new(), *path = NULL, *text = NULL;
        struct stat st;
        size_t size;
        Context c;

        assert_int_equal(context_init(&c, dir, NULL), 0);
        assert_int_equal(pps_marker_exists(&c), 0);
        assert_int_equal(pps_marker_remove(&c), 0); /* absent: nothing to do */
        assert_int_equal(pps_marker_write(&c, PPS_RUNNING, "5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10"), 0);
        assert_int_equal(pps_marker_exists(&c), 1);

        assert_true(asprintf(&path, "%s/var/lib/azl-agent/" PPS_MARKER, dir) > 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        assert_int_equal(
                read_file_in_root(c.root_fd, "/var/lib/azl-agent/" PPS_MARKER, PPS_MARKER_MAX, &text, &size),
                0);
        assert_true(startswith(text,
                               "type=Running\nvm_id=5c0e6b4e-6a2f-4d8e-9a51-3f1d2a7c9b10\nreported_at=20"));

        assert_int_equal(pps_marker_remove(&c), 0);
        assert_int_equal(pps_marker_exists(&c), 0);
        assert_int_equal(stat(path, &st), -1);
        free(text);
        free(path);
        context_done(&c);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_type_determine),
                cmocka_unit_test(test_marker),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
