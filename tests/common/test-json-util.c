/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <string.h>

#include "json-util.h"
#include "strutil.h"
#include "tests.h"

typedef struct Sample {
        char *name;
        bool flag;
        bool str_flag;
        unsigned prefix;
        int count;
        char **tags;
} Sample;

static const JsonDispatch sample_table[] = {
        {"name", json_dispatch_string, offsetof(Sample, name), JSON_MANDATORY},
        {"flag", json_dispatch_bool, offsetof(Sample, flag), 0},
        {"strFlag", json_dispatch_boolish, offsetof(Sample, str_flag), 0},
        {"prefix", json_dispatch_uintish, offsetof(Sample, prefix), 0},
        {"count", json_dispatch_int, offsetof(Sample, count), JSON_NULLABLE},
        {"tags", json_dispatch_strv, offsetof(Sample, tags), 0},
        {}};

static void sample_done(Sample *s) {
        free(s->name);
        strv_free(s->tags);
}

static int parse(const char *text, JsonDispatchFlags flags, Sample *s, JsonError *err) {
        _cleanup_json_ struct json_object *o = NULL;
        int r = json_parse_buffer(text, strlen(text), &o, err);

        if (r < 0)
                return r;
        return json_dispatch(o, sample_table, flags, s, err);
}

static void test_dispatch_ok_and_unknown_fields(void **state) {
        Sample s = {};
        JsonError err = {};

        assert_int_equal(
                parse("{\"name\":\"x\",\"flag\":true,\"strFlag\":\"True\",\"prefix\":\"24\",\"count\":null,"
                      "\"tags\":[\"a\",\"b\"],\"future\":{\"x\":1}}",
                      0, &s, &err),
                0);
        assert_string_equal(s.name, "x");
        assert_true(s.flag);
        assert_true(s.str_flag);
        assert_int_equal(s.prefix, 24);
        assert_int_equal(strv_length(s.tags), 2);
        sample_done(&s);
}

static void test_dispatch_errors_name_field(void **state) {
        Sample s = {};
        JsonError err = {};

        assert_int_equal(parse("{\"flag\":true}", 0, &s, &err), -EBADMSG);
        assert_string_equal(err.field, "name");
        assert_int_equal(parse("{\"name\":\"x\",\"flag\":\"yes\"}", 0, &s, &err), -EBADMSG);
        assert_string_equal(err.field, "flag");
        assert_int_equal(parse("{\"name\":\"x\",\"prefix\":\"-1\"}", 0, &s, &err), -EBADMSG);
        assert_string_equal(err.field, "prefix");
        assert_int_equal(parse("{\"name\":\"x\",\"tags\":[1]}", 0, &s, &err), -EBADMSG);
        assert_int_equal(parse("[1,2]", 0, &s, &err), -EBADMSG);
        sample_done(&s);
}

static void test_case_insensitive(void **state) {
        Sample s = {};

        assert_int_equal(parse("{\"NAME\":\"x\"}", 0, &s, NULL), -EBADMSG);
        assert_int_equal(parse("{\"NAME\":\"x\",\"StrFlag\":\"false\"}", JSON_CASE_INSENSITIVE, &s, NULL),
                         0);
        assert_string_equal(s.name, "x");
        sample_done(&s);
}

static void test_parse_bounds(void **state) {
        struct json_object *o = NULL;
        JsonError err = {};
        char deep[200];

        assert_int_equal(json_parse_buffer("{\"a\":1} x", 9, &o, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "offset 8")); /* json-c's strict mode stops at the 'x' */
        assert_int_equal(json_parse_buffer("42", 2, &o, &err), 0);
        assert_int_equal(json_object_get_int(o), 42);
        json_object_put(o);
        o = NULL;
        assert_int_equal(json_parse_buffer("{\"a\":", 5, &o, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "truncated"));
        assert_int_equal(json_parse_buffer("{\"a\":\"\xff\"}", 9, &o, &err), -EBADMSG);
        memset(deep, '[', sizeof deep);
        assert_int_equal(json_parse_buffer(deep, sizeof deep, &o, &err), -EBADMSG);
        assert_null(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dispatch_ok_and_unknown_fields),
                cmocka_unit_test(test_dispatch_errors_name_field),
                cmocka_unit_test(test_case_insensitive),
                cmocka_unit_test(test_parse_bounds),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
