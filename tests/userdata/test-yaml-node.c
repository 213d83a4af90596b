/* SPDX-License-Identifier: MIT */
/*
 * yaml_parse() against what PyYAML's yaml.safe_load() gives for the same text (the expected values below are
 * safe_load's: booleans of YAML 1.1, octal and sexagesimal integers, floats that need a dot, merge keys,
 * duplicate keys, tags), and its bounds (alias bombs, depth).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "tests.h"
#include "yaml-node.h"

static YNode *parse_ok(const char *text) {
        YNode *n = NULL;
        YamlError err;
        int r = yaml_parse(text, strlen(text), &n, &err);

        if (r < 0)
                fail_msg("yaml_parse(%s) = %d: %s", text, r, err.message);
        return n;
}

/* The value of "v" in "v: <scalar>". */
static YNode *scalar_of(const char *scalar) {
        char buf[256];

        snprintf(buf, sizeof buf, "v: %s\n", scalar);
        return parse_ok(buf);
}

static void assert_type(const char *scalar, YNodeType t) {
        _cleanup_ynode_ YNode *n = scalar_of(scalar);
        const YNode *v = ynode_get(n, "v");

        assert_non_null(v);
        if (v->type != t)
                fail_msg("'%s' parsed as %s, expected %s", scalar, ynode_type_to_string(v->type),
                         ynode_type_to_string(t));
}

static void assert_int_value(const char *scalar, int64_t want) {
        _cleanup_ynode_ YNode *n = scalar_of(scalar);
        const YNode *v = ynode_get(n, "v");

        assert_non_null(v);
        if (v->type != YNODE_INT || v->big || v->i != want)
                fail_msg("'%s' parsed as %s %lld, expected integer %lld", scalar,
                         ynode_type_to_string(v->type), (long long) v->i, (long long) want);
}

static void assert_float_value(const char *scalar, double want) {
        _cleanup_ynode_ YNode *n = scalar_of(scalar);
        const YNode *v = ynode_get(n, "v");

        assert_non_null(v);
        assert_int_equal(v->type, YNODE_FLOAT);
        if (isnan(want))
                assert_true(isnan(v->f));
        else if (v->f != want)
                fail_msg("'%s' parsed as %g, expected %g", scalar, v->f, want);
}

static void test_booleans(void **state) {
        static const char *const yes[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
        static const char *const no[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_ynode_ YNode *n = scalar_of(yes[i]);

                assert_int_equal(ynode_get(n, "v")->type, YNODE_BOOL);
                assert_true(ynode_get(n, "v")->b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                _cleanup_ynode_ YNode *n = scalar_of(no[i]);

                assert_int_equal(ynode_get(n, "v")->type, YNODE_BOOL);
                assert_false(ynode_get(n, "v")->b);
        }
        /* not booleans for PyYAML: y, n, yEs, quoted */
        assert_type("y", YNODE_STR);
        assert_type("n", YNODE_STR);
        assert_type("yEs", YNODE_STR);
        assert_type("'yes'", YNODE_STR);
        assert_type("\"off\"", YNODE_STR);
        assert_type("!!str true", YNODE_STR);
}

static void test_integers(void **state) {
        assert_int_value("0", 0);
        assert_int_value("-0", 0);
        assert_int_value("0644", 0644); /* octal: write_files permissions 0644 */
        assert_int_value("0755", 0755);
        assert_int_value("644", 644);
        assert_int_value("+12", 12);
        assert_int_value("1_000", 1000);
        assert_int_value("0x1F", 31);
        assert_int_value("0x_ff", 255);
        assert_int_value("-0b101", -5);
        assert_int_value("1:30", 90); /* sexagesimal */
        assert_int_value("-1:00:00", -3600);
        assert_int_value("9223372036854775807", INT64_MAX);
}

static void test_integers_not(void **state) {
        assert_type("0o644", YNODE_STR); /* YAML 1.2 octal is a string in 1.1 */
        assert_type("09", YNODE_STR);    /* not octal, not decimal (leading zero) */
        assert_type("1:60", YNODE_STR);
        assert_type("0b102", YNODE_STR);
        assert_type("1__", YNODE_INT);
        assert_type("12abc", YNODE_STR);
        assert_type("'0644'", YNODE_STR);
}

static void test_big_integer(void **state) {
        _cleanup_ynode_ YNode *n = scalar_of("123456789012345678901234567890");

        assert_int_equal(ynode_get(n, "v")->type, YNODE_INT);
        assert_true(ynode_get(n, "v")->big);
}

static void test_floats(void **state) {
        assert_float_value("1.5", 1.5);
        assert_float_value("1.", 1.0);
        assert_float_value(".5", 0.5);
        assert_float_value("1.0e+3", 1000.0);
        assert_float_value("-1_0.5", -10.5);
        assert_float_value("1:30.5", 90.5);
        assert_float_value(".inf", INFINITY);
        assert_float_value("-.Inf", -INFINITY);
        assert_float_value(".NaN", NAN);
        /* PyYAML: the exponent needs a sign and the mantissa a dot; "-.5" has no digit before the dot */
        assert_type("1e3", YNODE_STR);
        assert_type("1.0e3", YNODE_STR);
        assert_type("-.5", YNODE_STR);
        assert_type("1.2.3", YNODE_STR);
        assert_type("!!float 1e3", YNODE_FLOAT);
}

static void test_null_timestamp(void **state) {
        _cleanup_ynode_ YNode *n = parse_ok("a: ~\nb: null\nc:\nd: NULL\ne: Null\nf: nULL\n");

        assert_int_equal(ynode_get(n, "a")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "b")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "c")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "d")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "e")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "f")->type, YNODE_STR);
        assert_type("2024-01-31", YNODE_TIMESTAMP);
        assert_type("2024-1-31 10:00:00", YNODE_TIMESTAMP);
        assert_type("2024-01-31T10:00:00.5Z", YNODE_TIMESTAMP);
        assert_type("2024-1-3", YNODE_STR);
}

static void test_bad_timestamp(void **state) {
        YNode *n = NULL;
        YamlError err;

        /* matches the resolver, fails the constructor: safe_load raises */
        assert_int_equal(yaml_parse("v: 2024-13-01\n", 14, &n, &err), -EBADMSG);
        assert_int_equal(yaml_parse("v: 2023-02-29\n", 14, &n, &err), -EBADMSG);
        assert_null(n);
}

static void test_tags(void **state) {
        _cleanup_ynode_ YNode *n =
                parse_ok("a: !!str 0644\nb: !!int \"12\"\nc: !!binary aGVsbG8=\nd: !!bool 'Yes'\n"
                         "e: ! 12\nf: !!null ''\ng: !!set {x, y}\n");
        YNode *v;
        YamlError err;

        v = ynode_get(n, "a");
        assert_int_equal(v->type, YNODE_STR);
        assert_string_equal(v->text, "0644");
        assert_int_equal(ynode_get(n, "b")->i, 12);
        v = ynode_get(n, "c");
        assert_int_equal(v->type, YNODE_BINARY);
        assert_int_equal(v->size, 5);
        assert_memory_equal(v->text, "hello", 5);
        assert_true(ynode_get(n, "d")->b);
        assert_int_equal(ynode_get(n, "e")->type, YNODE_STR);
        assert_int_equal(ynode_get(n, "f")->type, YNODE_NULL);
        assert_int_equal(ynode_get(n, "g")->type, YNODE_MAP);
        ynode_free(n);
        n = NULL;
        assert_int_equal(yaml_parse("a: !!python/object:os.system x\n", 30, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "could not determine a constructor"));
        assert_int_equal(yaml_parse("a: !local x\n", 12, &n, &err), -EBADMSG);
        assert_int_equal(yaml_parse("a: !!int abc\n", 13, &n, &err), -EBADMSG);
        assert_null(n);
}

static void test_aliases_and_merge(void **state) {
        _cleanup_ynode_ YNode *n = parse_ok("base: &b {a: 1, b: 2}\n"
                                            "other: &o {b: 20, c: 30}\n"
                                            "x:\n  <<: *b\n  b: 3\n"
                                            "y:\n  <<: [*o, *b]\n"
                                            "list: &l [1, 2]\n"
                                            "copy: *l\n");
        const YNode *x = ynode_get(n, "x"), *y = ynode_get(n, "y"), *copy = ynode_get(n, "copy");

        /* explicit keys win, merged keys come first */
        assert_int_equal(x->n_pairs, 2);
        assert_string_equal(x->pairs[0].key->text, "a");
        assert_int_equal(ynode_get(x, "a")->i, 1);
        assert_int_equal(ynode_get(x, "b")->i, 3);
        assert_null(ynode_get(x, "<<"));
        /* earlier maps of a merge list win */
        assert_int_equal(ynode_get(y, "b")->i, 20);
        assert_int_equal(ynode_get(y, "a")->i, 1);
        assert_int_equal(ynode_get(y, "c")->i, 30);
        assert_int_equal(copy->type, YNODE_SEQ);
        assert_int_equal(copy->n_items, 2);
        assert_int_equal(copy->line, 9);
}

static void test_duplicates_and_keys(void **state) {
        _cleanup_ynode_ YNode *n = parse_ok("a: 1\nb: 2\na: 3\n1: int\n1.0: float\ntrue: bool\n");
        YNode *m = NULL;
        YamlError err;

        /* last value wins, at the first position; 1, 1.0 and True are one key in a Python dict */
        assert_int_equal(n->n_pairs, 3);
        assert_string_equal(n->pairs[0].key->text, "a");
        assert_int_equal(n->pairs[0].value->i, 3);
        assert_int_equal(n->pairs[2].key->type, YNODE_INT);
        assert_string_equal(n->pairs[2].value->text, "bool");
        assert_int_equal(yaml_parse("? [1, 2]\n: x\n", 13, &m, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "unhashable"));
        assert_null(m);
}

static void test_errors_and_lines(void **state) {
        YNode *n = NULL;
        YamlError err;
        const char *bad = "a: 1\nb: [1, 2\nc: 3\n";

        assert_int_equal(yaml_parse(bad, strlen(bad), &n, &err), -EBADMSG);
        assert_true(err.line >= 2);
        assert_int_equal(yaml_parse("a: 1\n---\nb: 2\n", 14, &n, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "single document"));
        assert_int_equal(yaml_parse("a: *nope\n", 9, &n, &err), -EBADMSG);
        assert_null(n);
        n = parse_ok("");
        assert_int_equal(n->type, YNODE_NULL);
        ynode_free(n);
        n = parse_ok("# only a comment\n");
        assert_int_equal(n->type, YNODE_NULL);
        ynode_free(n);
        n = parse_ok("x: 1\ny:\n  - a\n  - b\n");
        assert_int_equal(ynode_get(n, "y")->items[1]->line, 4);
        assert_int_equal(ynode_get(n, "y")->items[1]->column, 5);
        ynode_free(n);
}

static void test_bounds(void **state) {
        /* a billion laughs: 9 levels of 9 copies */
        const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
                           "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                           "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                           "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                           "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                           "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                           "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
        _cleanup_free_ char *deep = NULL;
        YNode *n = NULL;
        YamlError err;

        assert_int_equal(yaml_parse(bomb, strlen(bomb), &n, &err), -E2BIG);
        assert_null(n);
        deep = malloc(2 * (YAML_DEPTH_MAX + 10) + 1);
        assert_non_null(deep);
        memset(deep, '[', YAML_DEPTH_MAX + 10);
        memset(deep + YAML_DEPTH_MAX + 10, ']', YAML_DEPTH_MAX + 10);
        deep[2 * (YAML_DEPTH_MAX + 10)] = 0;
        assert_int_equal(yaml_parse(deep, strlen(deep), &n, &err), -E2BIG);
        assert_null(n);
}

static void test_python_str(void **state) {
        static const struct {
                double f;
                const char *want;
        } floats[] = {
                {1.0, "1.0"},        {0.1, "0.1"},         {1e16, "1e+16"}, {1e15, "1000000000000000.0"},
                {1.5e-5, "1.5e-05"}, {123.456, "123.456"}, {-2.5, "-2.5"},  {0.0001, "0.0001"},
                {100.0, "100.0"},
        };
        _cleanup_ynode_ YNode *n = parse_ok("a: yes\nb: ~\nc: 0644\nd: 2.50\n");
        char buf[64];

        for (size_t i = 0; i < ELEMENTSOF(floats); i++) {
                assert_int_equal(python_float_repr(floats[i].f, buf, sizeof buf), 0);
                assert_string_equal(buf, floats[i].want);
        }
        {
                _cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

                assert_int_equal(ynode_to_python_str(ynode_get(n, "a"), &a), 0);
                assert_int_equal(ynode_to_python_str(ynode_get(n, "b"), &b), 0);
                assert_int_equal(ynode_to_python_str(ynode_get(n, "c"), &c), 0);
                assert_int_equal(ynode_to_python_str(ynode_get(n, "d"), &d), 0);
                assert_string_equal(a, "True");
                assert_string_equal(b, "None");
                assert_string_equal(c, "420");
                assert_string_equal(d, "2.5");
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_booleans),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_integers_not),
                cmocka_unit_test(test_big_integer),
                cmocka_unit_test(test_floats),
                cmocka_unit_test(test_null_timestamp),
                cmocka_unit_test(test_bad_timestamp),
                cmocka_unit_test(test_tags),
                cmocka_unit_test(test_aliases_and_merge),
                cmocka_unit_test(test_duplicates_and_keys),
                cmocka_unit_test(test_errors_and_lines),
                cmocka_unit_test(test_bounds),
                cmocka_unit_test(test_python_str),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
