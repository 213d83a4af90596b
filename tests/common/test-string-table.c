/* SPDX-License-Identifier: MIT */
/* string-table.h: the functions the macros define, over a table with a hole, in both matching modes. */
#include "string-table.h"
#include "tests.h"

typedef enum Fruit {
        FRUIT_APPLE,
        FRUIT_PEAR,
        FRUIT_UNNAMED, /* a hole in the table */
        FRUIT_KIWI,
        _FRUIT_MAX,
        _FRUIT_INVALID = -EINVAL,
} Fruit;

static const char *const fruit_table[_FRUIT_MAX] = {
        [FRUIT_APPLE] = "apple",
        [FRUIT_PEAR] = "pear",
        [FRUIT_KIWI] = "Kiwi",
};

const char *fruit_to_string(Fruit f);
Fruit fruit_from_string(const char *s);
const char *fruit_case_to_string(Fruit f);
Fruit fruit_case_from_string(const char *s);

DEFINE_STRING_TABLE_LOOKUP(fruit, Fruit);

/* The same names, matched ignoring case, and a private to_string. */
#define fruit_case_table fruit_table
DEFINE_STRING_TABLE_LOOKUP_CASE(fruit_case, Fruit);
#define fruit_private_table fruit_table
DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(fruit_private, Fruit);

static void test_to_string(void **state) {
        assert_string_equal(fruit_to_string(FRUIT_APPLE), "apple");
        assert_string_equal(fruit_to_string(FRUIT_KIWI), "Kiwi");
        assert_null(fruit_to_string(FRUIT_UNNAMED));
        assert_null(fruit_to_string(_FRUIT_MAX));
        assert_null(fruit_to_string(_FRUIT_INVALID));
        assert_null(fruit_to_string((Fruit) 1000));
        assert_string_equal(fruit_private_to_string(FRUIT_PEAR), "pear");
}

static void test_from_string(void **state) {
        assert_int_equal(fruit_from_string("apple"), FRUIT_APPLE);
        assert_int_equal(fruit_from_string("Kiwi"), FRUIT_KIWI);
        assert_int_equal(fruit_from_string("kiwi"), _FRUIT_INVALID); /* exact */
        assert_int_equal(fruit_from_string("APPLE"), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string(""), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string("apple "), _FRUIT_INVALID);
        assert_int_equal(fruit_from_string(NULL), _FRUIT_INVALID);

        assert_int_equal(fruit_case_from_string("kiwi"), FRUIT_KIWI);
        assert_int_equal(fruit_case_from_string("APPLE"), FRUIT_APPLE);
        assert_int_equal(fruit_case_from_string("pears"), _FRUIT_INVALID);
        assert_int_equal(fruit_case_from_string(NULL), _FRUIT_INVALID);
        assert_string_equal(fruit_case_to_string(FRUIT_KIWI), "Kiwi");

        /* Every name maps back to its value. */
        for (Fruit f = 0; f < _FRUIT_MAX; f++)
                if (fruit_to_string(f))
                        assert_int_equal(fruit_from_string(fruit_to_string(f)), f);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_to_string),
                cmocka_unit_test(test_from_string),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
