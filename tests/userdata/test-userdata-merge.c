/* SPDX-License-Identifier: MIT */
/*
 * Merging cloud-config parts as cloud-init does: the default "dict(replace)+list()+str()", the mergers of the
 * documentation's examples (list(append), dict(no_replace,recurse_list), str(append)), merge_how as a string
 * and as a list, the Merge-Type header, and the quirks (list replace keeps the old length, a type without a
 * merger keeps the old value). Expected values are what cloud-init's mergers produce for the same input.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tests.h"
#include "userdata.h"
#include "userdata-merge.h"
#include "yaml-node.h"

/* Merges the parts (YAML texts; header: Merge-Type or NULL) as user_data_doc_parse() does. */
static YNode *merge_parts(const char *const *texts, const char *const *headers, size_t n) {
        YNode *acc = ynode_new_map();

        assert_non_null(acc);
        for (size_t i = 0; i < n; i++) {
                _cleanup_ynode_ YNode *part = NULL;
                _cleanup_free_ char *why = NULL;
                YNode *merged = NULL;
                Mergers m = {};
                YamlError err;
                int k;

                assert_int_equal(yaml_parse(texts[i], strlen(texts[i]), &part, &err), 0);
                k = mergers_extract(part, &m, &why);
                assert_true(k >= 0);
                if (headers && headers[i]) {
                        int h = mergers_parse_string(headers[i], &m, &why);

                        assert_true(h >= 0);
                        k += h;
                }
                if (k == 0)
                        mergers_default(&m);
                assert_int_equal(cloud_config_merge(acc, part, &m, &merged, &why), 0);
                ynode_free(acc);
                acc = merged;
        }
        return acc;
}

static void assert_seq_strings(const YNode *seq, const char *const *want, size_t n) {
        assert_non_null(seq);
        assert_int_equal(seq->type, YNODE_SEQ);
        if (seq->n_items != n)
                fail_msg("list has %zu items, expected %zu", seq->n_items, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(seq->items[i]->text, want[i]);
}

static void test_default_replaces_top_level(void **state) {
        const char *parts[] = {"runcmd: [bash1, bash2]\nhostname: a\nusers: [default]\n",
                               "runcmd: [bash3, bash4]\nhostname: b\n"};
        const char *want[] = {"bash3", "bash4"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);

        assert_seq_strings(ynode_get(m, "runcmd"), want, 2);
        assert_string_equal(ynode_get(m, "hostname")->text, "b");
        assert_non_null(ynode_get(m, "users"));               /* untouched keys stay */
        assert_string_equal(m->pairs[0].key->text, "runcmd"); /* and keep their order */
}

static void test_list_append(void **state) {
        const char *parts[] = {
                "runcmd: [bash1, bash2]\n",
                "merge_how: 'list(append)+dict(recurse_array)+str()'\nruncmd: [bash3, bash4]\n"};
        const char *want[] = {"bash1", "bash2", "bash3", "bash4"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);

        assert_seq_strings(ynode_get(m, "runcmd"), want, 4);
        assert_null(ynode_get(m, "merge_how"));
}

static void test_header_and_list_form(void **state) {
        const char *parts[] = {"runcmd: [a]\nwrite_files: [{path: /x}]\n",
                               "runcmd: [b]\nwrite_files: [{path: /y}]\n",
                               "merge_how:\n - name: list\n   settings: [prepend]\n - name: dict\n   "
                               "settings: [recurse_array]\n"
                               "runcmd: [c]\n"};
        const char *headers[] = {NULL, "list(append) + dict(recurse_array) + str()", NULL};
        const char *want[] = {"c", "a", "b"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, headers, 3);

        assert_seq_strings(ynode_get(m, "runcmd"), want, 3);
        assert_int_equal(ynode_get(m, "write_files")->n_items, 2);
}

static void test_no_replace_recursive(void **state) {
        const char *parts[] = {"a: {x: 1, y: [1, 2], s: one}\nb: keep\n",
                               "merge_how: 'dict(no_replace,recurse_list)+list(append)+str(append)'\n"
                               "a: {x: 2, y: [3], z: 4, s: two}\nb: new\n"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);
        const YNode *a = ynode_get(m, "a");

        /* no_replace: scalars keep the old value; nested maps are merged; lists (recurse_list) appended */
        assert_int_equal(ynode_get(a, "x")->i, 1);
        assert_int_equal(ynode_get(a, "z")->i, 4);
        assert_int_equal(ynode_get(a, "y")->n_items, 3);
        assert_int_equal(ynode_get(a, "y")->items[2]->i, 3);
        assert_string_equal(ynode_get(a, "s")->text, "one"); /* no recurse_str: the old string stays */
        assert_string_equal(ynode_get(m, "b")->text, "keep");
}

static void test_str_append_and_allow_delete(void **state) {
        const char *parts[] = {"final_message: 'hello '\nhostname: h\n",
                               "merge_how: 'dict(replace,recurse_str,allow_delete)+str(append)'\n"
                               "final_message: world\nhostname: null\n"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);

        /* replace wins over recurse_str for the value itself (cloud-init's merge_same_key) */
        assert_string_equal(ynode_get(m, "final_message")->text, "world");
        assert_null(ynode_get(m, "hostname"));
}

static void test_list_replace_quirk(void **state) {
        /* list() replace merges index by index and keeps the old length */
        const char *parts[] = {"l: [1, 2, 3]\n", "merge_how: 'dict(recurse_list)+list(replace)'\nl: [9]\n"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);
        const YNode *l = ynode_get(m, "l");

        assert_int_equal(l->n_items, 3);
        assert_int_equal(l->items[0]->i, 9);
        assert_int_equal(l->items[2]->i, 3);
}

static void test_no_dict_merger(void **state) {
        /* without dict(), merging a map keeps the old one: the part changes nothing */
        const char *parts[] = {"a: 1\n", "merge_how: 'list(append)'\na: 2\nb: 3\n"};
        _cleanup_ynode_ YNode *m = merge_parts(parts, NULL, 2);

        assert_int_equal(ynode_get(m, "a")->i, 1);
        assert_null(ynode_get(m, "b"));
}

static void test_bad_mergers(void **state) {
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        Mergers m = {};

        assert_int_equal(mergers_parse_string("dict(replace)+bogus()", &m, &why), -EINVAL);
        assert_non_null(strstr(why, "bogus"));
        m = (Mergers){};
        assert_int_equal(mergers_parse_string("dict", &m, &why2), -EINVAL);
        m = (Mergers){};
        assert_int_equal(mergers_parse_string("  DICT(Replace) + List-(append)", &m, NULL), -EINVAL);
        m = (Mergers){};
        assert_int_equal(mergers_parse_string("Dict(Replace)+LIST(append)", &m, NULL), 2);
        assert_true(m.dict && m.list && !m.str);
        assert_int_equal(m.list_method, LIST_MERGE_APPEND);
}

static void test_doc_parse_merges_parts(void **state) {
        const char *mime =
                "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
                "--b\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd: [one]\npackages: [a]\n"
                "--b\nContent-Type: text/cloud-config\nMerge-Type: "
                "list(append)+dict(recurse_array)+str()\n\n"
                "#cloud-config\nruncmd: [two]\n"
                "--b\nContent-Type: text/cloud-config\n\n#cloud-config\nruncmd: [: bad\n"
                "--b--\n";
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};

        assert_int_equal(user_data_doc_parse(mime, strlen(mime), NULL, NULL, &doc), 0);
        assert_int_equal(doc.n_cloud_config, 2);
        assert_non_null(doc.config.runcmd);
        assert_string_equal(doc.config.runcmd, "#!/bin/sh\none\ntwo\n");
        assert_string_equal(doc.config.packages[0], "a");
        /* the broken part: a YAML problem naming its part and line, the rest still used */
        assert_int_equal(doc.config.n_problems, 1);
        assert_int_equal(doc.config.problems[0].part, 2);
        assert_true(doc.config.problems[0].line >= 2);
        assert_non_null(strstr(doc.config.problems[0].path, "format-l"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_replaces_top_level),
                cmocka_unit_test(test_list_append),
                cmocka_unit_test(test_header_and_list_form),
                cmocka_unit_test(test_no_replace_recursive),
                cmocka_unit_test(test_str_append_and_allow_delete),
                cmocka_unit_test(test_list_replace_quirk),
                cmocka_unit_test(test_no_dict_merger),
                cmocka_unit_test(test_bad_mergers),
                cmocka_unit_test(test_doc_parse_merges_parts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
