/* SPDX-License-Identifier: MIT */
/*
 * user_data_split(): every format cloud-init accepts (plain, gzip, MIME multipart with transfer encodings and
 * nesting, #include/#include-once through a fake fetcher, #cloud-config-archive), the types it does not (jinja,
 * part handlers), Ignition, and the bounds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <archive.h>
#include <archive_entry.h>

#include "macro.h"
#include "strutil.h"
#include "tests.h"
#include "userdata-parts.h"

static void split_ok(const char *text, UserData *u) {
        assert_int_equal(user_data_split(text, strlen(text), NULL, NULL, u), 0);
}

static void test_single_formats(void **state) {
        static const struct {
                const char *text;
                UserDataPartType type;
        } cases[] = {
                {"#cloud-config\nruncmd: [ls]\n", UD_PART_CLOUD_CONFIG},
                {"  \n\t#Cloud-Config\nruncmd: [ls]\n", UD_PART_CLOUD_CONFIG},
                {"#!/bin/bash\necho hi\n", UD_PART_SCRIPT},
                {"#cloud-boothook\n#!/bin/sh\necho early\n", UD_PART_BOOTHOOK},
                {"## template: jinja\n#cloud-config\n", UD_PART_JINJA},
                {"#part-handler\ndef list_types(): pass\n", UD_PART_PART_HANDLER},
                {"#cloud-config-jsonp\n[]\n", UD_PART_CLOUD_CONFIG_JSONP},
                {"just some text\n", UD_PART_UNKNOWN},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(user_data_done) UserData u = {};

                split_ok(cases[i].text, &u);
                assert_int_equal(u.n_parts, 1);
                if (u.parts[0].type != cases[i].type)
                        fail_msg("case %zu: type %s, expected %s", i,
                                 user_data_part_type_to_string(u.parts[0].type),
                                 user_data_part_type_to_string(cases[i].type));
                assert_string_equal(u.parts[0].filename, "part-001");
                assert_int_equal(u.parts[0].size, strlen(cases[i].text));
                assert_memory_equal(u.parts[0].data, cases[i].text, u.parts[0].size);
                assert_false(u.mime);
        }
        {
                _cleanup_(user_data_done) UserData u = {};

                split_ok("just some text\n", &u);
                assert_string_equal(u.parts[0].content_type, "text/x-not-multipart");
                assert_false(user_data_part_type_supported(u.parts[0].type));
        }
        {
                /* not UTF-8: no type from the prefix (cloud-init's decode fails) */
                _cleanup_(user_data_done) UserData u = {};
                const char bin[] = "#cloud-config\n\xff\xfe\n";

                assert_int_equal(user_data_split(bin, sizeof bin - 1, NULL, NULL, &u), 0);
                assert_int_equal(u.parts[0].type, UD_PART_UNKNOWN);
        }
}

static int gzip_buffer(const void *data, size_t size, void **ret, size_t *ret_size) {
        struct archive *a = archive_write_new();
        struct archive_entry *e = NULL;
        size_t cap = size + 4096, used = 0;
        void *buf = malloc(cap);

        assert_non_null(a);
        assert_non_null(buf);
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
        e = archive_entry_new();
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_pathname(e, "x");
        archive_entry_set_size(e, (la_int64_t) size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, data, size), (la_ssize_t) size);
        archive_entry_free(e);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        *ret = buf;
        *ret_size = used;
        return 0;
}

static void test_gzip(void **state) {
        const char *text = "#cloud-config\nhostname: zipped\n";
        _cleanup_(user_data_done) UserData u = {};
        _cleanup_free_ void *gz = NULL;
        size_t gz_size;

        gzip_buffer(text, strlen(text), &gz, &gz_size);
        assert_true(((unsigned char *) gz)[0] == 0x1f);
        assert_int_equal(user_data_split(gz, gz_size, NULL, NULL, &u), 0);
        assert_true(u.gzip);
        assert_int_equal(u.n_parts, 1);
        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_string_equal(u.parts[0].data, text);
}

static void test_gzip_bomb(void **state) {
        size_t big = USERDATA_DECOMPRESSED_MAX + 1024;
        _cleanup_free_ char *zeros = calloc(1, big);
        _cleanup_(user_data_done) UserData u = {};
        _cleanup_free_ void *gz = NULL;
        size_t gz_size;

        assert_non_null(zeros);
        memcpy(zeros, "#!/bin/sh\n", 10);
        gzip_buffer(zeros, big, &gz, &gz_size);
        assert_true(gz_size < USERDATA_MAX);
        assert_int_equal(user_data_split(gz, gz_size, NULL, NULL, &u), 0);
        /* not decompressed past the bound: reported, and nothing of it runs as a script */
        assert_non_null(u.errors);
        assert_non_null(strstr(u.errors[0], "too large"));
        for (size_t i = 0; i < u.n_parts; i++)
                assert_int_not_equal(u.parts[i].type, UD_PART_SCRIPT);
}

static const char mime[] = "Content-Type: multipart/mixed; boundary=\"===============BOUND==\"\n"
                           "MIME-Version: 1.0\n"
                           "\n"
                           "preamble\n"
                           "--===============BOUND==\n"
                           "Content-Type: text/cloud-config; charset=\"us-ascii\"\n"
                           "Content-Transfer-Encoding: 7bit\n"
                           "Content-Disposition: attachment; filename=\"config.yaml\"\n"
                           "Merge-Type: list(append)+dict(recurse_array)+str()\n"
                           "\n"
                           "#cloud-config\n"
                           "runcmd:\n"
                           " - echo one\n"
                           "\n"
                           "--===============BOUND==\n"
                           "Content-Type: text/x-shellscript; charset=\"us-ascii\"\n"
                           "Content-Transfer-Encoding: base64\n"
                           "Content-Disposition: attachment; filename=\"../setup.sh\"\n"
                           "\n"
                           "IyEvYmluL3NoCmVjaG8gc2V0dXAK\n"
                           "--===============BOUND==\n"
                           "Content-Type: text/x-shellscript-per-boot\n"
                           "\n"
                           "#!/bin/sh\necho every boot\n"
                           "--===============BOUND==\n"
                           "Content-Type: multipart/alternative; boundary=inner\n"
                           "\n"
                           "--inner\n"
                           "Content-Type: text/plain\n"
                           "Content-Transfer-Encoding: quoted-printable\n"
                           "\n"
                           "#cloud-boothook\n#!/bin/sh\necho a=3Db =\nsoft\n"
                           "--inner--\n"
                           "--===============BOUND==\n"
                           "Content-Type: text/jinja2\n"
                           "\n"
                           "## template: jinja\n{{ v1.instance_id }}\n"
                           "--===============BOUND==--\n"
                           "epilogue\n";

static void test_mime(void **state) {
        _cleanup_(user_data_done) UserData u = {};

        split_ok(mime, &u);
        assert_true(u.mime);
        assert_null(u.errors);
        assert_int_equal(u.n_parts, 5);

        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_string_equal(u.parts[0].filename, "config.yaml");
        assert_string_equal(u.parts[0].data, "#cloud-config\nruncmd:\n - echo one\n");
        assert_string_equal(u.parts[0].merge_type, "list(append)+dict(recurse_array)+str()");

        assert_int_equal(u.parts[1].type, UD_PART_SCRIPT);
        assert_string_equal(u.parts[1].filename, ".._setup.sh"); /* cleaned: no way out of the scripts dir */
        assert_string_equal(u.parts[1].data, "#!/bin/sh\necho setup\n");

        assert_int_equal(u.parts[2].type, UD_PART_SCRIPT_PER_BOOT);
        assert_string_equal(u.parts[2].filename, "part-003");
        assert_string_equal(u.parts[2].data,
                            "#!/bin/sh\necho every boot"); /* the line break is the delimiter's */

        /* text/plain sniffed; quoted-printable decoded (=3D, soft line break) */
        assert_int_equal(u.parts[3].type, UD_PART_BOOTHOOK);
        assert_string_equal(u.parts[3].data, "#cloud-boothook\n#!/bin/sh\necho a=b soft");

        assert_int_equal(u.parts[4].type, UD_PART_JINJA);
        assert_false(user_data_part_type_supported(u.parts[4].type));
}

static void test_mime_crlf_and_shellscript_sniff(void **state) {
        const char *m = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
                        "--XX\r\nContent-Type: text/x-shellscript\r\n\r\n#cloud-config\r\nhostname: h\r\n"
                        "--XX\r\nContent-Type: application/octet-stream\r\n\r\nbinary\r\n"
                        "--XX--\r\n";
        _cleanup_(user_data_done) UserData u = {};

        split_ok(m, &u);
        assert_int_equal(u.n_parts, 2);
        /* declared x-shellscript, but starts with #cloud-config: cloud-init re-types it */
        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_string_equal(u.parts[0].data, "#cloud-config\r\nhostname: h");
        assert_int_equal(u.parts[1].type, UD_PART_UNKNOWN);
        assert_string_equal(u.parts[1].content_type, "application/octet-stream");
}

static void test_mime_single_part_and_defects(void **state) {
        _cleanup_(user_data_done) UserData u = {}, v = {};

        /* a MIME message that is not multipart: its body is the one part */
        split_ok("Content-Type: text/cloud-config\nMIME-Version: 1.0\n\nhostname: x\n", &u);
        assert_int_equal(u.n_parts, 1);
        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_string_equal(u.parts[0].data, "hostname: x\n");
        /* multipart without a boundary: reported */
        split_ok("MIME-Version: 1.0\nContent-Type: multipart/mixed\n\nx\n", &v);
        assert_int_equal(v.n_parts, 0);
        assert_non_null(v.errors);
}

typedef struct FakeFetch {
        unsigned calls;
        char *urls[8];
        bool once[8];
} FakeFetch;

static int fake_fetch(const char *url, bool once, void *userdata, char **ret, size_t *ret_size) {
        FakeFetch *f = userdata;

        if (f->calls < ELEMENTSOF(f->urls)) {
                f->urls[f->calls] = strdup(url);
                f->once[f->calls] = once;
        }
        f->calls++;
        if (streq(url, "https://example.invalid/a.yaml"))
                *ret = strdup("#cloud-config\nhostname: included\n");
        else if (streq(url, "https://example.invalid/b.sh"))
                *ret = strdup("#!/bin/sh\necho included\n");
        else if (streq(url, "https://example.invalid/loop"))
                *ret = strdup("#include https://example.invalid/loop\n");
        else
                return -ENOENT;
        *ret_size = strlen(*ret);
        return 0;
}

static void test_include(void **state) {
        _cleanup_(user_data_done) UserData u = {}, v = {}, w = {};
        FakeFetch f = {};

        assert_int_equal(
                user_data_split("#include\nhttps://example.invalid/a.yaml\n# comment\n\n"
                                "#include-once https://example.invalid/b.sh\nhttps://example.invalid/404\n",
                                strlen("#include\nhttps://example.invalid/a.yaml\n# comment\n\n"
                                       "#include-once https://example.invalid/b.sh\n"
                                       "https://example.invalid/404\n"),
                                fake_fetch, &f, &u),
                0);
        assert_int_equal(f.calls, 3);
        assert_string_equal(f.urls[0], "https://example.invalid/a.yaml");
        assert_false(f.once[0]);
        assert_true(f.once[1]);
        assert_true(f.once[2]); /* include-once stays on for the following lines */
        assert_int_equal(u.n_parts, 2);
        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_int_equal(u.parts[1].type, UD_PART_SCRIPT);
        assert_non_null(u.errors); /* the 404 */
        for (size_t i = 0; i < MIN(f.calls, (unsigned) ELEMENTSOF(f.urls)); i++)
                free(f.urls[i]);

        /* without a fetcher: reported, nothing fetched */
        split_ok("#include https://example.invalid/a.yaml\n", &v);
        assert_int_equal(v.n_parts, 0);
        assert_non_null(v.errors);

        /* an include that includes itself stops at the depth bound */
        f = (FakeFetch){};
        assert_int_equal(user_data_split("#include https://example.invalid/loop\n", 38, fake_fetch, &f, &w),
                         0);
        assert_true(f.calls <= USERDATA_INCLUDE_DEPTH_MAX + 1);
        assert_non_null(w.errors);
        for (size_t i = 0; i < MIN(f.calls, (unsigned) ELEMENTSOF(f.urls)); i++)
                free(f.urls[i]);
}

static void test_archive(void **state) {
        const char *a = "#cloud-config-archive\n"
                        "- type: text/cloud-config\n  content: 'hostname: arch'\n"
                        "- content: \"#!/bin/sh\\necho x\\n\"\n  filename: run.sh\n"
                        "- 'runcmd: [ls]'\n"
                        "- content: '#cloud-config'\n  Merge-Type: 'list(append)'\n";
        _cleanup_(user_data_done) UserData u = {};

        split_ok(a, &u);
        assert_int_equal(u.n_parts, 4);
        assert_int_equal(u.parts[0].type, UD_PART_CLOUD_CONFIG);
        assert_int_equal(u.parts[1].type, UD_PART_SCRIPT);
        assert_string_equal(u.parts[1].filename, "run.sh");
        assert_int_equal(u.parts[2].type, UD_PART_CLOUD_CONFIG); /* the default type of an archive entry */
        assert_string_equal(u.parts[3].merge_type, "list(append)");
}

static void test_ignition(void **state) {
        _cleanup_(user_data_done) UserData u = {}, v = {};

        split_ok("{\"ignition\": {\"version\": \"3.3.0\"}, \"storage\": {}}", &u);
        assert_true(u.ignition);
        assert_int_equal(u.n_parts, 0);
        split_ok("{\"other\": 1}", &v);
        assert_false(v.ignition);
        assert_int_equal(v.parts[0].type, UD_PART_UNKNOWN);
}

static void test_bounds(void **state) {
        _cleanup_free_ char *big = malloc(USERDATA_MAX + 2), *many = NULL;
        _cleanup_(user_data_done) UserData u = {}, v = {};
        size_t n = 0;

        assert_non_null(big);
        memset(big, 'a', USERDATA_MAX + 1);
        big[USERDATA_MAX + 1] = 0;
        assert_int_equal(user_data_split(big, USERDATA_MAX + 1, NULL, NULL, &u), -E2BIG);

        many = malloc(64 * (USERDATA_PARTS_MAX + 10) + 128);
        assert_non_null(many);
        n = (size_t) sprintf(many, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n");
        for (unsigned i = 0; i < USERDATA_PARTS_MAX + 10; i++)
                n += (size_t) sprintf(many + n, "--b\nContent-Type: text/x-shellscript\n\n#!/bin/sh\n");
        n += (size_t) sprintf(many + n, "--b--\n");
        assert_int_equal(user_data_split(many, n, NULL, NULL, &v), 0);
        assert_int_equal(v.n_parts, USERDATA_PARTS_MAX);
        assert_non_null(v.errors);
}

static void test_clean_filename(void **state) {
        _cleanup_free_ char *a = user_data_clean_filename("../../etc/passwd"),
                            *b = user_data_clean_filename("a b;$(x)"), *c = user_data_clean_filename(NULL);

        assert_string_equal(a, ".._.._etc_passwd");
        assert_string_equal(b, "ab(x)");
        assert_string_equal(c, "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_formats),
                cmocka_unit_test(test_gzip),
                cmocka_unit_test(test_gzip_bomb),
                cmocka_unit_test(test_mime),
                cmocka_unit_test(test_mime_crlf_and_shellscript_sniff),
                cmocka_unit_test(test_mime_single_part_and_defects),
                cmocka_unit_test(test_include),
                cmocka_unit_test(test_archive),
                cmocka_unit_test(test_ignition),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_clean_filename),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
