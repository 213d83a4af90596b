/* SPDX-License-Identifier: MIT */
/*
 * libyaml events → YNode tree with PyYAML SafeLoader semantics (yaml-node.h). The implicit resolvers are those of
 * PyYAML's resolver.py for YAML 1.1, tried in its order for the scalar's first character (bool, float, int,
 * merge, null, timestamp); the constructors those of constructor.py (SafeConstructor). Nodes removed while
 * building (duplicate keys, merge keys) go to a trash list freed at the end, so an anchor never dangles.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "macro.h"
#include "strutil.h"
#include "yaml-node.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

static const char *const ynode_type_table[_YNODE_TYPE_MAX] = {
        [YNODE_NULL] = "null",     [YNODE_BOOL] = "boolean", [YNODE_INT] = "integer",
        [YNODE_FLOAT] = "number",  [YNODE_STR] = "string",   [YNODE_TIMESTAMP] = "timestamp",
        [YNODE_BINARY] = "binary", [YNODE_SEQ] = "array",    [YNODE_MAP] = "object",
};

const char *ynode_type_to_string(YNodeType t) {
        return t >= 0 && t < _YNODE_TYPE_MAX ? ynode_type_table[t] : NULL;
}

YNode *ynode_free(YNode *n) {
        if (!n)
                return NULL;
        free(n->text);
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        for (size_t i = 0; i < n->n_pairs; i++) {
                ynode_free(n->pairs[i].key);
                ynode_free(n->pairs[i].value);
        }
        free(n->pairs);
        free(n);
        return NULL;
}

static YNode *ynode_new(YNodeType type) {
        YNode *n = calloc(1, sizeof *n);

        if (n)
                n->type = type;
        return n;
}

YNode *ynode_new_map(void) {
        return ynode_new(YNODE_MAP);
}

YNode *ynode_new_str(const char *s) {
        YNode *n = ynode_new(YNODE_STR);

        if (!n)
                return NULL;
        n->text = strdup(s);
        if (!n->text)
                return ynode_free(n);
        n->size = strlen(s);
        return n;
}

/* ---- copying (with an optional budget) ---- */

static YNode *copy_budget(const YNode *n, size_t *budget) {
        _cleanup_ynode_ YNode *c = NULL;

        if (budget) {
                if (*budget == 0)
                        return NULL;
                (*budget)--;
        }
        c = ynode_new(n->type);
        if (!c)
                return NULL;
        c->line = n->line;
        c->column = n->column;
        c->part = n->part;
        c->b = n->b;
        c->i = n->i;
        c->big = n->big;
        c->f = n->f;
        c->merge_key = n->merge_key;
        c->value_key = n->value_key;
        if (n->text) {
                c->text = malloc(n->size + 1);
                if (!c->text)
                        return NULL;
                memcpy(c->text, n->text, n->size + 1);
                c->size = n->size;
        }
        if (n->n_items > 0) {
                c->items = calloc(n->n_items, sizeof *c->items);
                if (!c->items)
                        return NULL;
                for (size_t i = 0; i < n->n_items; i++) {
                        c->items[i] = copy_budget(n->items[i], budget);
                        if (!c->items[i])
                                return NULL;
                        c->n_items++;
                }
        }
        if (n->n_pairs > 0) {
                c->pairs = calloc(n->n_pairs, sizeof *c->pairs);
                if (!c->pairs)
                        return NULL;
                for (size_t i = 0; i < n->n_pairs; i++) {
                        c->pairs[i].key = copy_budget(n->pairs[i].key, budget);
                        c->pairs[i].value = c->pairs[i].key ? copy_budget(n->pairs[i].value, budget) : NULL;
                        c->n_pairs++;
                        if (!c->pairs[i].value)
                                return NULL;
                }
        }
        return TAKE_PTR(c);
}

YNode *ynode_copy(const YNode *n) {
        return n ? copy_budget(n, NULL) : NULL;
}

void ynode_set_part(YNode *n, unsigned part) {
        if (!n)
                return;
        n->part = part;
        for (size_t i = 0; i < n->n_items; i++)
                ynode_set_part(n->items[i], part);
        for (size_t i = 0; i < n->n_pairs; i++) {
                ynode_set_part(n->pairs[i].key, part);
                ynode_set_part(n->pairs[i].value, part);
        }
}

/* ---- equality and maps ---- */

static bool is_number(const YNode *n) {
        return n->type == YNODE_BOOL || n->type == YNODE_INT || n->type == YNODE_FLOAT;
}

static double number_value(const YNode *n) {
        return n->type == YNODE_BOOL ? (double) n->b : n->type == YNODE_INT ? (double) n->i : n->f;
}

bool ynode_equal(const YNode *a, const YNode *b) {
        if (!a || !b)
                return a == b;
        if (is_number(a) && is_number(b)) {
                if (a->big || b->big)
                        return a->type == YNODE_INT && b->type == YNODE_INT && a->big && b->big &&
                               streq(a->text, b->text);
                if (a->type != YNODE_FLOAT && b->type != YNODE_FLOAT)
                        return (a->type == YNODE_BOOL ? (int64_t) a->b : a->i) ==
                               (b->type == YNODE_BOOL ? (int64_t) b->b : b->i);
                return number_value(a) == number_value(b);
        }
        if (a->type != b->type)
                return false;
        switch (a->type) {
        case YNODE_NULL:
                return true;
        case YNODE_STR:
        case YNODE_TIMESTAMP:
        case YNODE_BINARY:
                return a->size == b->size && memcmp(a->text, b->text, a->size) == 0;
        case YNODE_SEQ:
                if (a->n_items != b->n_items)
                        return false;
                for (size_t i = 0; i < a->n_items; i++)
                        if (!ynode_equal(a->items[i], b->items[i]))
                                return false;
                return true;
        case YNODE_MAP:
                if (a->n_pairs != b->n_pairs)
                        return false;
                for (size_t i = 0; i < a->n_pairs; i++) {
                        bool found = false;

                        for (size_t j = 0; j < b->n_pairs && !found; j++)
                                found = ynode_equal(a->pairs[i].key, b->pairs[j].key) &&
                                        ynode_equal(a->pairs[i].value, b->pairs[j].value);
                        if (!found)
                                return false;
                }
                return true;
        case YNODE_BOOL:
        case YNODE_INT:
        case YNODE_FLOAT:
        case _YNODE_TYPE_MAX:
        case _YNODE_TYPE_INVALID:
                break;
        }
        return false;
}

YNodePair *ynode_get_pair(const YNode *map, const char *key) {
        if (!map || map->type != YNODE_MAP)
                return NULL;
        for (size_t i = 0; i < map->n_pairs; i++) {
                const YNode *k = map->pairs[i].key;

                if (k->type == YNODE_STR && k->size == strlen(key) && memcmp(k->text, key, k->size) == 0)
                        return &map->pairs[i];
        }
        return NULL;
}

YNode *ynode_get(const YNode *map, const char *key) {
        YNodePair *p = ynode_get_pair(map, key);

        return p ? p->value : NULL;
}

int ynode_remove(YNode *map, const char *key) {
        YNodePair *p = ynode_get_pair(map, key);
        size_t i;

        if (!p)
                return 0;
        i = (size_t) (p - map->pairs);
        ynode_free(p->key);
        ynode_free(p->value);
        memmove(&map->pairs[i], &map->pairs[i + 1], (map->n_pairs - i - 1) * sizeof *map->pairs);
        map->n_pairs--;
        return 1;
}

int ynode_map_set(YNode *map, YNode *key, YNode *value) {
        YNodePair *a;

        for (size_t i = 0; i < map->n_pairs; i++)
                if (ynode_equal(map->pairs[i].key, key)) {
                        ynode_free(map->pairs[i].value);
                        map->pairs[i].value = value;
                        ynode_free(key);
                        return 0;
                }
        a = reallocarray(map->pairs, map->n_pairs + 1, sizeof *a);
        if (!a) {
                ynode_free(key);
                ynode_free(value);
                return -ENOMEM;
        }
        map->pairs = a;
        a[map->n_pairs++] = (YNodePair){key, value};
        return 0;
}

/* ---- Python's str() and repr() ---- */

int python_float_repr(double f, char *buf, size_t size) {
        char digits[64];
        int exp, ndig = 0, p;

        if (isnan(f))
                return snprintf(buf, size, "nan") < (int) size ? 0 : -ENOBUFS;
        if (isinf(f))
                return snprintf(buf, size, "%sinf", f < 0 ? "-" : "") < (int) size ? 0 : -ENOBUFS;
        /* The shortest %.*e that reads back as f: Python's repr (David Gay's shortest round trip). */
        for (p = 0; p < 17; p++) {
                snprintf(digits, sizeof digits, "%.*e", p, f);
                if (strtod(digits, NULL) == f)
                        break;
        }
        snprintf(digits, sizeof digits, "%.*e", p, f);
        {
                char *e = strchr(digits, 'e'), mant[40];
                size_t m = 0;

                exp = atoi(e + 1);
                for (char *c = digits; c < e; c++)
                        if (*c >= '0' && *c <= '9')
                                mant[m++] = *c;
                mant[m] = 0;
                while (m > 1 && mant[m - 1] == '0')
                        mant[--m] = 0;
                ndig = (int) m;
                if (exp < -4 || exp >= 16) {
                        int n = snprintf(buf, size, "%s%c%s%se%c%02d", f < 0 ? "-" : "", mant[0],
                                         ndig > 1 ? "." : "", ndig > 1 ? mant + 1 : "", exp < 0 ? '-' : '+',
                                         abs(exp));
                        return n < (int) size ? 0 : -ENOBUFS;
                }
                {
                        char out[64];
                        size_t o = 0;

                        if (f < 0)
                                out[o++] = '-';
                        if (exp < 0) {
                                out[o++] = '0';
                                out[o++] = '.';
                                for (int z = 0; z < -exp - 1; z++)
                                        out[o++] = '0';
                                for (int d = 0; d < ndig; d++)
                                        out[o++] = mant[d];
                        } else {
                                for (int d = 0; d <= exp; d++)
                                        out[o++] = d < ndig ? mant[d] : '0';
                                out[o++] = '.';
                                if (ndig > exp + 1)
                                        for (int d = exp + 1; d < ndig; d++)
                                                out[o++] = mant[d];
                                else
                                        out[o++] = '0';
                        }
                        out[o] = 0;
                        return snprintf(buf, size, "%s", out) < (int) size ? 0 : -ENOBUFS;
                }
        }
}

int ynode_to_python_str(const YNode *n, char **ret) {
        char buf[64];

        switch (n->type) {
        case YNODE_NULL:
                return (*ret = strdup("None")) ? 0 : -ENOMEM;
        case YNODE_BOOL:
                return (*ret = strdup(n->b ? "True" : "False")) ? 0 : -ENOMEM;
        case YNODE_INT:
                if (n->big)
                        return (*ret = strdup(n->text)) ? 0 : -ENOMEM;
                return asprintf(ret, "%" PRId64, n->i) < 0 ? -ENOMEM : 0;
        case YNODE_FLOAT:
                if (python_float_repr(n->f, buf, sizeof buf) < 0)
                        return -EINVAL;
                return (*ret = strdup(buf)) ? 0 : -ENOMEM;
        case YNODE_STR:
        case YNODE_TIMESTAMP:
                return (*ret = strdup(n->text)) ? 0 : -ENOMEM;
        case YNODE_BINARY:
        case YNODE_SEQ:
        case YNODE_MAP:
        case _YNODE_TYPE_MAX:
        case _YNODE_TYPE_INVALID:
                break;
        }
        return -EINVAL;
}

int ynode_repr(const YNode *n, char **ret) {
        _cleanup_free_ char *s = NULL;

        switch (n->type) {
        case YNODE_STR: {
                /* 'text' with the quote and backslash escaped; long strings cut (error messages only). */
                size_t max = MIN(n->size, (size_t) 60);
                char *o = malloc(max * 4 + 8), *p = o;

                if (!o)
                        return -ENOMEM;
                *p++ = '\'';
                for (size_t i = 0; i < max; i++) {
                        unsigned char c = (unsigned char) n->text[i];

                        if (c == '\'' || c == '\\')
                                p += sprintf(p, "\\%c", c);
                        else if (c == '\n')
                                p += sprintf(p, "\\n");
                        else if (c < 0x20 || c == 0x7f)
                                p += sprintf(p, "\\x%02x", c);
                        else
                                *p++ = (char) c;
                }
                if (max < n->size)
                        p += sprintf(p, "...");
                *p++ = '\'';
                *p = 0;
                *ret = o;
                return 0;
        }
        case YNODE_TIMESTAMP:
                return asprintf(ret, "'%s'", n->text) < 0 ? -ENOMEM : 0;
        case YNODE_BINARY:
                return (*ret = strdup("b'...'")) ? 0 : -ENOMEM;
        case YNODE_SEQ:
                return (*ret = strdup(n->n_items ? "[...]" : "[]")) ? 0 : -ENOMEM;
        case YNODE_MAP:
                return (*ret = strdup(n->n_pairs ? "{...}" : "{}")) ? 0 : -ENOMEM;
        case YNODE_NULL:
        case YNODE_BOOL:
        case YNODE_INT:
        case YNODE_FLOAT:
                return ynode_to_python_str(n, ret);
        case _YNODE_TYPE_MAX:
        case _YNODE_TYPE_INVALID:
                break;
        }
        return -EINVAL;
}

/* ---- implicit resolution (PyYAML resolver.py, YAML 1.1) ---- */

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool all_of(const char *s, const char *set) {
        return *s && strspn(s, set) == strlen(s);
}

static bool match_bool(const char *s) {
        static const char *const v[] = {"yes",   "Yes",   "YES",   "no", "No", "NO", "true", "True", "TRUE",
                                        "false", "False", "FALSE", "on", "On", "ON", "off",  "Off",  "OFF"};

        for (size_t i = 0; i < ELEMENTSOF(v); i++)
                if (streq(s, v[i]))
                        return true;
        return false;
}

static bool match_null(const char *s) {
        return streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL") || streq(s, "");
}

/* (:[0-5]?[0-9])+ at s, up to end (or up to a '.' when stop_at_dot); returns the end or NULL. */
static const char *match_sexagesimal_tail(const char *s) {
        bool any = false;

        while (*s == ':') {
                const char *d = s + 1;

                if (is_digit(d[0]) && is_digit(d[1]) && d[0] <= '5')
                        s = d + 2;
                else if (is_digit(d[0]))
                        s = d + 1;
                else
                        return NULL;
                any = true;
        }
        return any ? s : NULL;
}

static bool match_int(const char *s) {
        const char *t;

        if (*s == '-' || *s == '+')
                s++;
        if (startswith(s, "0b"))
                return all_of(s + 2, "01_");
        if (startswith(s, "0x"))
                return all_of(s + 2, "0123456789abcdefABCDEF_");
        if (streq(s, "0"))
                return true;
        if (s[0] == '0')
                return all_of(s + 1, "01234567_");
        if (s[0] < '1' || s[0] > '9')
                return false;
        t = s + 1 + strspn(s + 1, "0123456789_");
        if (!*t)
                return true;
        t = match_sexagesimal_tail(t);
        return t && !*t;
}

/* [eE][-+][0-9]+ or nothing, to the end. */
static bool match_exponent(const char *s) {
        if (!*s)
                return true;
        if ((*s != 'e' && *s != 'E') || (s[1] != '-' && s[1] != '+'))
                return false;
        return all_of(s + 2, "0123456789");
}

static bool match_float(const char *s) {
        const char *t, *u = s;

        /* \.[0-9_]+([eE][-+][0-9]+)? — no sign; \.(nan|NaN|NAN) */
        if (s[0] == '.') {
                if (streq(s, ".nan") || streq(s, ".NaN") || streq(s, ".NAN") || streq(s, ".inf") ||
                    streq(s, ".Inf") || streq(s, ".INF"))
                        return true;
                t = s + 1 + strspn(s + 1, "0123456789_");
                return t > s + 1 && match_exponent(t);
        }
        if (*u == '-' || *u == '+')
                u++;
        if (streq(u, ".inf") || streq(u, ".Inf") || streq(u, ".INF"))
                return true;
        if (!is_digit(*u))
                return false;
        t = u + 1 + strspn(u + 1, "0123456789_");
        if (*t == '.') {
                t = t + 1 + strspn(t + 1, "0123456789_");
                return match_exponent(t);
        }
        /* [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]* */
        t = match_sexagesimal_tail(t);
        if (!t || *t != '.')
                return false;
        t++;
        return strspn(t, "0123456789_") == strlen(t);
}

static bool match_timestamp(const char *s, int *ret_y, int *ret_m, int *ret_d) {
        const char *p = s;
        int y, m = 0, d = 0, n;

        if (!(is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) && p[4] == '-'))
                return false;
        y = atoi(p);
        p += 5;
        for (n = 0; n < 2 && is_digit(*p); n++, p++)
                m = m * 10 + (*p - '0');
        if (n == 0 || *p != '-')
                return false;
        p++;
        for (n = 0; n < 2 && is_digit(*p); n++, p++)
                d = d * 10 + (*p - '0');
        if (n == 0)
                return false;
        *ret_y = y;
        *ret_m = m;
        *ret_d = d;
        if (!*p)
                /* the date-only form needs exactly YYYY-MM-DD */
                return strlen(s) == 10;
        /* ([Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))? */
        if (*p == 'T' || *p == 't')
                p++;
        else if (*p == ' ' || *p == '\t')
                p += strspn(p, " \t");
        else
                return false;
        if (!is_digit(*p))
                return false;
        p += is_digit(p[1]) ? 2 : 1;
        if (!(p[0] == ':' && is_digit(p[1]) && is_digit(p[2]) && p[3] == ':' && is_digit(p[4]) &&
              is_digit(p[5])))
                return false;
        p += 6;
        if (*p == '.')
                p += 1 + strspn(p + 1, "0123456789");
        if (!*p)
                return true;
        p += strspn(p, " \t");
        if (*p == 'Z')
                return p[1] == 0;
        if (*p != '-' && *p != '+')
                return false;
        p++;
        if (!is_digit(*p))
                return false;
        p += is_digit(p[1]) ? 2 : 1;
        if (!*p)
                return true;
        return p[0] == ':' && is_digit(p[1]) && is_digit(p[2]) && p[3] == 0;
}

static bool timestamp_valid(int y, int m, int d) {
        static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

        if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
                return false;
        return !(m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

/* ---- constructors (PyYAML constructor.py SafeConstructor) ---- */

static int construct_int(const char *text, YNode *n) {
        _cleanup_free_ char *v = malloc(strlen(text) + 1);
        const char *s;
        char *o;
        int sign = 1, base = 10;
        __int128 acc = 0;

        if (!v)
                return -ENOMEM;
        for (s = text, o = v; *s; s++)
                if (*s != '_')
                        *o++ = *s;
        *o = 0;
        s = v;
        if (*s == '-')
                sign = -1;
        if (*s == '-' || *s == '+')
                s++;
        if (!*s)
                return -EINVAL;
        if (startswith(s, "0b")) {
                base = 2;
                s += 2;
        } else if (startswith(s, "0x")) {
                base = 16;
                s += 2;
        } else if (s[0] == '0' && s[1])
                base = 8;
        if (!*s)
                return -EINVAL;
        if (base == 10 && strchr(s, ':')) {
                /* sexagesimal: digits of base 60, most significant first */
                for (const char *part = s; part;) {
                        const char *colon = strchr(part, ':');
                        uint64_t d = 0;

                        if (part == colon || !*part)
                                return -EINVAL;
                        for (const char *c = part; c < (colon ?: part + strlen(part)); c++) {
                                if (!is_digit(*c))
                                        return -EINVAL;
                                d = d * 10 + (uint64_t) (*c - '0');
                                if (d > UINT32_MAX)
                                        return -EINVAL;
                        }
                        acc = acc * 60 + d;
                        if (acc > (__int128) INT64_MAX + 1)
                                n->big = true;
                        part = colon ? colon + 1 : NULL;
                }
        } else
                for (; *s; s++) {
                        int d;

                        if (is_digit(*s))
                                d = *s - '0';
                        else if (*s >= 'a' && *s <= 'f')
                                d = *s - 'a' + 10;
                        else if (*s >= 'A' && *s <= 'F')
                                d = *s - 'A' + 10;
                        else
                                return -EINVAL;
                        if (d >= base)
                                return -EINVAL;
                        if (!n->big)
                                acc = acc * base + d;
                        if (acc > (__int128) INT64_MAX + 1)
                                n->big = true;
                }
        if (!n->big && sign > 0 && acc > INT64_MAX)
                n->big = true;
        n->type = YNODE_INT;
        n->i = n->big ? 0 : (int64_t) (sign * acc);
        return 0;
}

static int construct_float(const char *text, YNode *n) {
        _cleanup_free_ char *v = malloc(strlen(text) + 1);
        const char *s;
        char *o, *end;
        double sign = 1;

        if (!v)
                return -ENOMEM;
        for (s = text, o = v; *s; s++)
                if (*s != '_')
                        *o++ = (char) (*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s);
        *o = 0;
        s = v;
        if (*s == '-')
                sign = -1;
        if (*s == '-' || *s == '+')
                s++;
        n->type = YNODE_FLOAT;
        if (streq(s, ".inf")) {
                n->f = sign * INFINITY;
                return 0;
        }
        if (streq(s, ".nan")) {
                n->f = NAN;
                return 0;
        }
        if (strchr(s, ':')) {
                double acc = 0;

                for (const char *part = s; part;) {
                        const char *colon = strchr(part, ':');
                        _cleanup_free_ char *p =
                                colon ? strndup(part, (size_t) (colon - part)) : strdup(part);
                        double d;

                        if (!p)
                                return -ENOMEM;
                        if (!*p)
                                return -EINVAL;
                        d = strtod(p, &end);
                        if (*end)
                                return -EINVAL;
                        acc = acc * 60 + d;
                        part = colon ? colon + 1 : NULL;
                }
                n->f = sign * acc;
                return 0;
        }
        /* Python's float(): no hex, no "inf"/"nan" words here (those were handled above). */
        if (!*s || strpbrk(s, "xXpP") || !(is_digit(*s) || *s == '.'))
                return -EINVAL;
        n->f = sign * strtod(s, &end);
        return *end ? -EINVAL : 0;
}

static int construct_bool(const char *text, YNode *n) {
        static const struct {
                const char *s;
                bool v;
        } t[] = {{"yes", true},    {"no", false}, {"true", true},
                 {"false", false}, {"on", true},  {"off", false}};

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (strcasecmp(text, t[i].s) == 0) {
                        n->type = YNODE_BOOL;
                        n->b = t[i].v;
                        return 0;
                }
        return -EINVAL;
}

/* ---- the builder ---- */

typedef struct Frame {
        YNode *node; /* a SEQ or MAP being filled */
        YNode *key;  /* MAP: the key waiting for its value */
        char *anchor;
        bool is_set; /* !!set */
} Frame;

typedef struct Anchor {
        char *name;
        YNode *node; /* a node of the tree (never freed before the end: see trash) */
} Anchor;

typedef struct Builder {
        Frame stack[YAML_DEPTH_MAX];
        size_t depth;
        Anchor *anchors;
        size_t n_anchors;
        YNode **trash;
        size_t n_trash;
        size_t budget;
        YNode *root;
        unsigned documents;
        YamlError *err;
} Builder;

static int fail_at(Builder *b, unsigned line, unsigned column, int error, const char *fmt, ...)
        _printf_(5, 6);
static int fail_at(Builder *b, unsigned line, unsigned column, int error, const char *fmt, ...) {
        va_list ap;

        if (b->err) {
                b->err->line = line;
                b->err->column = column;
                va_start(ap, fmt);
                vsnprintf(b->err->message, sizeof b->err->message, fmt, ap);
                va_end(ap);
        }
        return error;
}

static int trash_add(Builder *b, YNode *n) {
        YNode **a;

        if (!n)
                return 0;
        a = reallocarray(b->trash, b->n_trash + 1, sizeof *a);
        if (!a) {
                ynode_free(n);
                return -ENOMEM;
        }
        b->trash = a;
        a[b->n_trash++] = n;
        return 0;
}

static int anchor_add(Builder *b, const char *name, YNode *n) {
        Anchor *a;
        char *copy;

        /* PyYAML's composer refuses a second anchor of the same name */
        for (size_t i = b->n_anchors; i > 0; i--)
                if (streq(b->anchors[i - 1].name, name))
                        return fail_at(b, n->line, n->column, -EBADMSG, "found duplicate anchor '%s'", name);
        copy = strdup(name);
        a = copy ? reallocarray(b->anchors, b->n_anchors + 1, sizeof *a) : NULL;
        if (!a) {
                free(copy);
                return -ENOMEM;
        }
        b->anchors = a;
        a[b->n_anchors++] = (Anchor){copy, n};
        return 0;
}

static YNode *anchor_find(Builder *b, const char *name) {
        for (size_t i = b->n_anchors; i > 0; i--)
                if (streq(b->anchors[i - 1].name, name))
                        return b->anchors[i - 1].node;
        return NULL;
}

static int budget_take(Builder *b, const yaml_event_t *ev) {
        if (b->budget == 0)
                return fail_at(b, (unsigned) ev->start_mark.line + 1, (unsigned) ev->start_mark.column + 1,
                               -E2BIG, "document has more than %u nodes (aliases count as copies)",
                               YAML_NODES_MAX);
        b->budget--;
        return 0;
}

/* Adds a finished node to the current collection (or makes it the root). */
static int attach(Builder *b, YNode *n) {
        Frame *f;
        YNode **items;
        YNodePair *pairs;
        bool key = b->depth > 0 && b->stack[b->depth - 1].node->type == YNODE_MAP &&
                   !b->stack[b->depth - 1].key;

        /* "<<" and "=" resolve to tag:yaml.org,2002:merge / :value, which only a mapping key may carry: SafeLoader
         * has no constructor for them anywhere else */
        if ((n->merge_key || n->value_key) && !key) {
                unsigned line = n->line, column = n->column;
                bool merge = n->merge_key;

                ynode_free(n);
                return fail_at(b, line, column, -EBADMSG,
                               "could not determine a constructor for the tag '%s'",
                               merge ? TAG_PREFIX "merge" : TAG_PREFIX "value");
        }
        n->value_key = false; /* a value key reads as a string key (flatten_mapping) */

        if (b->depth == 0) {
                if (b->root) {
                        ynode_free(n);
                        return fail_at(b, 0, 0, -EBADMSG, "expected a single document in the stream");
                }
                b->root = n;
                return 0;
        }
        f = &b->stack[b->depth - 1];
        if (f->node->type == YNODE_SEQ) {
                items = reallocarray(f->node->items, f->node->n_items + 1, sizeof *items);
                if (!items) {
                        ynode_free(n);
                        return -ENOMEM;
                }
                f->node->items = items;
                items[f->node->n_items++] = n;
                return 0;
        }
        if (!f->key) {
                f->key = n;
                return 0;
        }
        pairs = reallocarray(f->node->pairs, f->node->n_pairs + 1, sizeof *pairs);
        if (!pairs) {
                ynode_free(n);
                return -ENOMEM;
        }
        f->node->pairs = pairs;
        pairs[f->node->n_pairs++] = (YNodePair){TAKE_PTR(f->key), n};
        return 0;
}

static bool tag_is(const char *tag, const char *name) {
        return tag && startswith(tag, TAG_PREFIX) && streq(tag + strlen(TAG_PREFIX), name);
}

static int build_scalar(Builder *b, const yaml_event_t *ev) {
        _cleanup_ynode_ YNode *n = ynode_new(YNODE_STR);
        const char *tag = (const char *) ev->data.scalar.tag;
        const char *value = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        unsigned line = (unsigned) ev->start_mark.line + 1, col = (unsigned) ev->start_mark.column + 1;
        int r, y, m, d;

        if (!n)
                return -ENOMEM;
        r = budget_take(b, ev);
        if (r < 0)
                return r;
        n->line = line;
        n->column = col;
        n->text = malloc(len + 1);
        if (!n->text)
                return -ENOMEM;
        memcpy(n->text, value, len);
        n->text[len] = 0;
        n->size = len;

        if (!tag && ev->data.scalar.plain_implicit) {
                /* Implicit resolvers; a NUL inside the value cannot match any of them. */
                const char *s = n->text;
                bool nul = strlen(s) != len;

                if (nul)
                        ;
                else if (match_bool(s))
                        r = construct_bool(s, n);
                else if (match_float(s))
                        r = construct_float(s, n);
                else if (match_int(s))
                        r = construct_int(s, n);
                else if (streq(s, "<<"))
                        n->merge_key = true;
                else if (streq(s, "="))
                        n->value_key = true;
                else if (match_null(s))
                        n->type = YNODE_NULL;
                else if (match_timestamp(s, &y, &m, &d)) {
                        if (!timestamp_valid(y, m, d))
                                return fail_at(b, line, col, -EBADMSG, "invalid date '%s'", s);
                        n->type = YNODE_TIMESTAMP;
                }
                if (r < 0)
                        return fail_at(b, line, col, r == -ENOMEM ? r : -EBADMSG, "invalid number '%s'", s);
        } else if (!tag || streq(tag, "!") || tag_is(tag, "str"))
                ;
        else if (tag_is(tag, "int") || tag_is(tag, "float") || tag_is(tag, "bool")) {
                r = strlen(n->text) != len ? -EINVAL
                    : tag_is(tag, "int")   ? construct_int(n->text, n)
                    : tag_is(tag, "float") ? construct_float(n->text, n)
                                           : construct_bool(n->text, n);
                if (r < 0)
                        return fail_at(b, line, col, r == -ENOMEM ? r : -EBADMSG,
                                       "invalid value for %s: '%s'", tag, n->text);
        } else if (tag_is(tag, "null"))
                n->type = YNODE_NULL;
        else if (tag_is(tag, "timestamp")) {
                if (!match_timestamp(n->text, &y, &m, &d) || !timestamp_valid(y, m, d))
                        return fail_at(b, line, col, -EBADMSG, "invalid timestamp '%s'", n->text);
                n->type = YNODE_TIMESTAMP;
        } else if (tag_is(tag, "binary")) {
                void *data = NULL;
                size_t size = 0;

                r = base64_decode(n->text, len, &data, &size);
                if (r < 0)
                        return fail_at(b, line, col, r == -ENOMEM ? r : -EBADMSG,
                                       "invalid base64 in !!binary");
                free(n->text);
                n->text = realloc(data, size + 1);
                if (!n->text) {
                        free(data);
                        return -ENOMEM;
                }
                n->text[size] = 0;
                n->size = size;
                n->type = YNODE_BINARY;
        } else
                return fail_at(b, line, col, -EBADMSG, "could not determine a constructor for the tag '%s'",
                               tag);

        if (ev->data.scalar.anchor) {
                r = anchor_add(b, (const char *) ev->data.scalar.anchor, n);
                if (r < 0)
                        return r;
        }
        return attach(b, TAKE_PTR(n));
}

static bool is_merge_key(const YNode *k) {
        return k->type == YNODE_STR && k->merge_key;
}

static int collection_start(Builder *b, const yaml_event_t *ev, YNodeType type, const char *tag,
                            const char *anchor) {
        unsigned line = (unsigned) ev->start_mark.line + 1, col = (unsigned) ev->start_mark.column + 1;
        bool is_set = false;
        YNode *n;
        int r;

        if (tag && !streq(tag, "!")) {
                if (type == YNODE_SEQ && !tag_is(tag, "seq"))
                        return fail_at(b, line, col, -EBADMSG,
                                       "could not determine a constructor for the tag '%s'", tag);
                if (type == YNODE_MAP && !tag_is(tag, "map") && !(is_set = tag_is(tag, "set")))
                        return fail_at(b, line, col, -EBADMSG,
                                       "could not determine a constructor for the tag '%s'", tag);
        }
        if (b->depth >= YAML_DEPTH_MAX)
                return fail_at(b, line, col, -E2BIG, "nesting deeper than %u levels", YAML_DEPTH_MAX);
        r = budget_take(b, ev);
        if (r < 0)
                return r;
        n = ynode_new(type);
        if (!n)
                return -ENOMEM;
        n->line = line;
        n->column = col;
        b->stack[b->depth] = (Frame){.node = n, .is_set = is_set};
        if (anchor && !(b->stack[b->depth].anchor = strdup(anchor))) {
                ynode_free(n);
                return -ENOMEM;
        }
        b->depth++;
        return 0;
}

/* Appends copies of the pairs of map m to *merge (PyYAML flatten_mapping: merged maps are already flat). */
static int merge_extend(Builder *b, YNodePair **merge, size_t *n_merge, const YNode *m) {
        for (size_t i = 0; i < m->n_pairs; i++) {
                YNodePair *a = reallocarray(*merge, *n_merge + 1, sizeof *a);
                YNode *k, *v;

                if (!a)
                        return -ENOMEM;
                *merge = a;
                if (b->budget < 2)
                        return fail_at(b, m->line, m->column, -E2BIG, "document has more than %u nodes",
                                       YAML_NODES_MAX);
                k = copy_budget(m->pairs[i].key, &b->budget);
                v = k ? copy_budget(m->pairs[i].value, &b->budget) : NULL;
                if (!v) {
                        ynode_free(k);
                        return b->budget == 0 ? fail_at(b, m->line, m->column, -E2BIG,
                                                        "document has more than %u nodes", YAML_NODES_MAX)
                                              : -ENOMEM;
                }
                a[(*n_merge)++] = (YNodePair){k, v};
        }
        return 0;
}

/* A finished map: merge keys flattened, duplicates folded (last value wins, first position), keys checked. */
static int map_finish(Builder *b, YNode *map) {
        YNodePair *raw = map->pairs, *merge = NULL;
        size_t n_raw = map->n_pairs, n_merge = 0;
        int r = 0;

        map->pairs = NULL;
        map->n_pairs = 0;
        for (size_t i = 0; i < n_raw && r >= 0; i++) {
                YNode *k = raw[i].key, *v = raw[i].value;

                if (!is_merge_key(k))
                        continue;
                if (v->type == YNODE_MAP)
                        r = merge_extend(b, &merge, &n_merge, v);
                else if (v->type == YNODE_SEQ) {
                        /* earlier maps of the list win: they are added last */
                        for (size_t j = v->n_items; j > 0 && r >= 0; j--) {
                                if (v->items[j - 1]->type != YNODE_MAP)
                                        r = fail_at(b, v->items[j - 1]->line, v->items[j - 1]->column,
                                                    -EBADMSG, "expected a mapping for merging, but found %s",
                                                    ynode_type_to_string(v->items[j - 1]->type));
                                else
                                        r = merge_extend(b, &merge, &n_merge, v->items[j - 1]);
                        }
                } else
                        r = fail_at(b, v->line, v->column, -EBADMSG,
                                    "expected a mapping or list of mappings for merging, but found %s",
                                    ynode_type_to_string(v->type));
        }
        /* merged pairs first, then the explicit ones: later assignments win */
        for (size_t i = 0; i < n_merge + n_raw; i++) {
                YNodePair *p = i < n_merge ? &merge[i] : &raw[i - n_merge];
                YNode *k = TAKE_PTR(p->key), *v = TAKE_PTR(p->value);

                if (r < 0 || is_merge_key(k)) {
                        (void) trash_add(b, k);
                        (void) trash_add(b, v);
                        continue;
                }
                if (k->type == YNODE_SEQ || k->type == YNODE_MAP) {
                        r = fail_at(b, k->line, k->column, -EBADMSG, "found unhashable key");
                        (void) trash_add(b, k);
                        (void) trash_add(b, v);
                        continue;
                }
                for (size_t j = 0; j < map->n_pairs; j++)
                        if (ynode_equal(map->pairs[j].key, k)) {
                                (void) trash_add(b, map->pairs[j].value);
                                map->pairs[j].value = v;
                                (void) trash_add(b, k);
                                k = v = NULL;
                                break;
                        }
                if (k) {
                        YNodePair *a = reallocarray(map->pairs, map->n_pairs + 1, sizeof *a);

                        if (!a) {
                                ynode_free(k);
                                ynode_free(v);
                                r = -ENOMEM;
                                continue;
                        }
                        map->pairs = a;
                        a[map->n_pairs++] = (YNodePair){k, v};
                }
        }
        free(raw);
        free(merge);
        return r;
}

static int collection_end(Builder *b, const yaml_event_t *ev) {
        Frame *f = &b->stack[b->depth - 1];
        YNode *n = f->node;
        _cleanup_free_ char *anchor = TAKE_PTR(f->anchor);
        int r = 0;

        b->depth--;
        if (n->type == YNODE_MAP) {
                if (f->key) /* cannot happen with a well-formed event stream */
                        (void) trash_add(b, TAKE_PTR(f->key));
                r = map_finish(b, n);
        }
        if (r < 0) {
                (void) trash_add(b, n);
                return r;
        }
        if (anchor) {
                r = anchor_add(b, anchor, n);
                if (r < 0) {
                        ynode_free(n);
                        return r;
                }
        }
        return attach(b, n);
}

static int build_alias(Builder *b, const yaml_event_t *ev) {
        unsigned line = (unsigned) ev->start_mark.line + 1, col = (unsigned) ev->start_mark.column + 1;
        const char *name = (const char *) ev->data.alias.anchor;
        YNode *target = anchor_find(b, name), *copy;

        if (!target)
                return fail_at(b, line, col, -EBADMSG, "found undefined alias '%s'", name);
        for (size_t i = 0; i < b->depth; i++)
                if (b->stack[i].node == target)
                        return fail_at(b, line, col, -EBADMSG, "found recursive alias '%s'", name);
        if (b->budget == 0)
                return fail_at(b, line, col, -E2BIG,
                               "document has more than %u nodes (aliases count as copies)", YAML_NODES_MAX);
        copy = copy_budget(target, &b->budget);
        if (!copy)
                return b->budget == 0 ? fail_at(b, line, col, -E2BIG,
                                                "document has more than %u nodes (aliases count as copies)",
                                                YAML_NODES_MAX)
                                      : -ENOMEM;
        copy->line = line;
        copy->column = col;
        return attach(b, copy);
}

static void builder_done(Builder *b) {
        for (size_t i = 0; i < b->depth; i++) {
                ynode_free(b->stack[i].node);
                ynode_free(b->stack[i].key);
                free(b->stack[i].anchor);
        }
        for (size_t i = 0; i < b->n_anchors; i++)
                free(b->anchors[i].name);
        free(b->anchors);
        for (size_t i = 0; i < b->n_trash; i++)
                ynode_free(b->trash[i]);
        free(b->trash);
        ynode_free(b->root);
}

static void clear_merge_flags(YNode *n) {
        n->merge_key = n->value_key = false;
        for (size_t i = 0; i < n->n_items; i++)
                clear_merge_flags(n->items[i]);
        for (size_t i = 0; i < n->n_pairs; i++) {
                clear_merge_flags(n->pairs[i].key);
                clear_merge_flags(n->pairs[i].value);
        }
}

/* A position in the document: 0-based line and column in characters, as libyaml's marks count them. */
typedef struct Pos {
        size_t line, column;
} Pos;

static int pos_cmp(Pos a, Pos b) {
        return a.line != b.line      ? (a.line < b.line ? -1 : 1)
               : a.column < b.column ? -1
                                     : a.column > b.column;
}

typedef struct Range {
        Pos start, end;
} Range;

/*
 * PyYAML's scanner takes a tab only inside quoted and block scalars and inside comments; anywhere else ("key:\tv",
 * a trailing tab, a tab-only line, a tab before a comment) it stops with "found character '\t' that cannot start
 * any token", where libyaml reads on. cloud-init reads with PyYAML, so a tab there is an error here too. The
 * quoted and block scalars are found with libyaml's scanner; a comment starts at a '#' at the start of a line or
 * after a space. Returns 0, or -EBADMSG with *ret the tab's position.
 */
static int check_tabs(const char *buf, size_t len, Pos *ret) {
        _cleanup_free_ Range *ranges = NULL;
        size_t n_ranges = 0, r = 0;
        yaml_parser_t parser;
        Pos p = {};
        bool comment = false, scan_ok = true;

        if (!memchr(buf, '\t', len))
                return 0;
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
        for (;;) {
                yaml_token_t t;

                if (!yaml_parser_scan(&parser, &t)) {
                        scan_ok = false; /* the event parser reports the syntax error */
                        break;
                }
                if (t.type == YAML_STREAM_END_TOKEN) {
                        yaml_token_delete(&t);
                        break;
                }
                if (t.type == YAML_SCALAR_TOKEN && t.data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
                        Range *a = reallocarray(ranges, n_ranges + 1, sizeof *a);

                        if (!a) {
                                yaml_token_delete(&t);
                                yaml_parser_delete(&parser);
                                return -ENOMEM;
                        }
                        ranges = a;
                        a[n_ranges++] = (Range){{t.start_mark.line, t.start_mark.column},
                                                {t.end_mark.line, t.end_mark.column}};
                }
                yaml_token_delete(&t);
        }
        yaml_parser_delete(&parser);
        if (!scan_ok)
                return 0;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) buf[i];

                while (r < n_ranges && pos_cmp(ranges[r].end, p) <= 0)
                        r++;
                bool in_scalar = r < n_ranges && pos_cmp(ranges[r].start, p) <= 0;

                if (c == '#' && !in_scalar && (p.column == 0 || buf[i - 1] == ' ' || buf[i - 1] == '\t'))
                        comment = true;
                if (c == '\t' && !in_scalar && !comment) {
                        *ret = p;
                        return -EBADMSG;
                }
                if (c == '\n' || (c == '\r' && (i + 1 >= len || buf[i + 1] != '\n'))) {
                        p.line++;
                        p.column = 0;
                        comment = false;
                } else if ((c & 0xc0) != 0x80 && c != '\r')
                        p.column++; /* one per character: UTF-8 continuation bytes do not count */
        }
        return 0;
}

int yaml_parse(const char *buf, size_t len, YNode **ret, YamlError *err) {
        _cleanup_(builder_done) Builder b = {.budget = YAML_NODES_MAX, .err = err};
        yaml_parser_t parser;
        bool done = false;
        int r = 0;

        if (err)
                *err = (YamlError){};
        if (len > YAML_DOCUMENT_MAX)
                return fail_at(&b, 0, 0, -E2BIG, "document larger than %u bytes", YAML_DOCUMENT_MAX);
        {
                Pos tab;
                int k = check_tabs(buf, len, &tab);

                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        return fail_at(
                                &b, (unsigned) tab.line + 1, (unsigned) tab.column + 1, -EBADMSG,
                                "while scanning for the next token: found character '\\t' that cannot "
                                "start any token");
        }
        if (!yaml_parser_initialize(&parser))
                return -ENOMEM;
        yaml_parser_set_input_string(&parser, (const unsigned char *) buf, len);
        while (!done && r >= 0) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&parser, &ev)) {
                        const yaml_mark_t *m = parser.context ? &parser.context_mark : &parser.problem_mark;

                        r = parser.error == YAML_MEMORY_ERROR
                                    ? -ENOMEM
                                    : fail_at(&b, (unsigned) m->line + 1, (unsigned) m->column + 1, -EBADMSG,
                                              "%s%s%s", parser.context ?: "", parser.context ? ": " : "",
                                              parser.problem ?: "invalid YAML");
                        /* context_mark is where the construct started; the problem is where it broke */
                        if (err && parser.context) {
                                err->line = (unsigned) parser.problem_mark.line + 1;
                                err->column = (unsigned) parser.problem_mark.column + 1;
                        }
                        break;
                }
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        if (++b.documents > 1)
                                r = fail_at(&b, (unsigned) ev.start_mark.line + 1,
                                            (unsigned) ev.start_mark.column + 1, -EBADMSG,
                                            "expected a single document in the stream");
                        break;
                case YAML_SCALAR_EVENT:
                        r = build_scalar(&b, &ev);
                        break;
                case YAML_SEQUENCE_START_EVENT:
                        r = collection_start(&b, &ev, YNODE_SEQ, (const char *) ev.data.sequence_start.tag,
                                             (const char *) ev.data.sequence_start.anchor);
                        break;
                case YAML_MAPPING_START_EVENT:
                        r = collection_start(&b, &ev, YNODE_MAP, (const char *) ev.data.mapping_start.tag,
                                             (const char *) ev.data.mapping_start.anchor);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        r = b.depth > 0 ? collection_end(&b, &ev) : -EBADMSG;
                        break;
                case YAML_ALIAS_EVENT:
                        r = build_alias(&b, &ev);
                        break;
                case YAML_NO_EVENT:
                case YAML_STREAM_START_EVENT:
                case YAML_DOCUMENT_END_EVENT:
                        break;
                }
                yaml_event_delete(&ev);
        }
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;
        if (!b.root) {
                b.root = ynode_new(YNODE_NULL);
                if (!b.root)
                        return -ENOMEM;
                b.root->line = b.root->column = 1;
        }
        clear_merge_flags(b.root);
        *ret = TAKE_PTR(b.root);
        return 0;
}
