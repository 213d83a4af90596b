/* SPDX-License-Identifier: MIT */
/*
 * YAML as cloud-init reads it: libyaml's event parser builds a tree whose scalars are resolved the way PyYAML's
 * yaml.safe_load() (YAML 1.1, SafeLoader) resolves them, because that is what users of cloud-config rely on:
 * plain `yes`/`no`/`on`/`off` are booleans, plain `0644` is the octal integer 420, `1:30` is the sexagesimal 90,
 * `1e3` is a string (PyYAML's float needs a dot), `~`/`null`/empty are null, `2024-01-01` is a timestamp.
 * Quoted, literal and folded scalars are strings; explicit tags (!!str, !!int, !!float, !!bool, !!null,
 * !!binary, !!timestamp, !!map, !!seq, !!set) are honoured, any other tag is an error as in safe_load.
 *
 * Anchors and aliases are resolved by copying the anchored node, against a budget of YAML_NODES_MAX nodes for
 * the whole document, so a "billion laughs" document fails with -E2BIG instead of exhausting memory. Merge keys
 * (`<<: *base`, `<<: [*a, *b]`) and duplicate keys follow PyYAML: explicit keys win over merged ones, earlier
 * maps of a merge list over later ones, the last of duplicate keys wins (at the first one's position). Map keys
 * compare as Python's dict does (1, 1.0 and true are the same key); a sequence or map as key is an error.
 *
 * Tabs are refused where PyYAML's scanner refuses them (outside quoted and block scalars and comments), a
 * second anchor of a name is an error, and "<<" or "=" anywhere but as a mapping key has no constructor.
 *
 * Every node keeps its 1-based line and column (and the index of the user-data part it came from) for error
 * messages. The parser is a pure function over a buffer (fuzzed): no I/O, no logging.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YAML_DOCUMENT_MAX (4U * 1024U * 1024U)
#define YAML_NODES_MAX    (64U * 1024U) /* nodes in a document, alias copies included */
#define YAML_DEPTH_MAX    128U          /* nesting of sequences and maps */

typedef enum YNodeType {
        YNODE_NULL,
        YNODE_BOOL,
        YNODE_INT,
        YNODE_FLOAT,
        YNODE_STR,
        YNODE_TIMESTAMP, /* a date or date-time (PyYAML: datetime); text holds it as written */
        YNODE_BINARY,    /* !!binary: text/size hold the decoded bytes */
        YNODE_SEQ,
        YNODE_MAP,
        _YNODE_TYPE_MAX,
        _YNODE_TYPE_INVALID = -1,
} YNodeType;

typedef struct YNode YNode;

typedef struct YNodePair {
        YNode *key;
        YNode *value;
} YNodePair;

struct YNode {
        YNodeType type;
        unsigned line, column; /* 1-based start of the node in its part */
        unsigned part;         /* index of the user-data part (set by the caller) */
        char *text;            /* scalars: the value as text (NUL-terminated; may hold NULs: see size) */
        size_t size;
        bool b;        /* YNODE_BOOL */
        int64_t i;     /* YNODE_INT (see big) */
        bool big;      /* YNODE_INT beyond int64: i is meaningless */
        double f;      /* YNODE_FLOAT */
        YNode **items; /* YNODE_SEQ */
        size_t n_items;
        YNodePair *pairs; /* YNODE_MAP, in document order */
        size_t n_pairs;
        bool merge_key; /* internal to the parser: a plain "<<" (tag:yaml.org,2002:merge) */
        bool value_key; /* internal to the parser: a plain "=" (tag:yaml.org,2002:value) */
};

typedef struct YamlError {
        unsigned line, column; /* 1-based; 0 when unknown */
        char message[256];
} YamlError;

YNode *ynode_free(YNode *n);
static inline void ynode_freep(YNode **n) {
        ynode_free(*n);
}
#define _cleanup_ynode_ __attribute__((__cleanup__(ynode_freep)))

const char *ynode_type_to_string(YNodeType t); /* "null", "boolean", "integer", … (JSON schema words) */

/*
 * Parses one YAML document (an empty stream gives a YNODE_NULL node). -EBADMSG with *err filled on a syntax
 * error, an unknown tag, an unhashable key or more than one document; -E2BIG above YAML_DOCUMENT_MAX,
 * YAML_NODES_MAX or YAML_DEPTH_MAX; -ENOMEM.
 */
int yaml_parse(const char *buf, size_t len, YNode **ret, YamlError *err);

/* Deep copy (no budget: the source is already bounded). NULL on OOM. */
YNode *ynode_copy(const YNode *n);
/* Sets part on n and everything below it. */
void ynode_set_part(YNode *n, unsigned part);

/* New empty map / string node (NULL on OOM). */
YNode *ynode_new_map(void);
YNode *ynode_new_str(const char *s);

/* Map lookup by string key (Python equality: only a str key matches); NULL when absent. */
YNode *ynode_get(const YNode *map, const char *key);
YNodePair *ynode_get_pair(const YNode *map, const char *key);
/* Removes key from map (freeing key and value); 1 if it was there. */
int ynode_remove(YNode *map, const char *key);
/* Appends or replaces (at the existing position) key → value; takes ownership of value (freed on error). */
int ynode_map_set(YNode *map, YNode *key, YNode *value);

/* Python's == between two nodes (1 == 1.0 == True, "a" != b"a"; collections compared element-wise). */
bool ynode_equal(const YNode *a, const YNode *b);

/* Python's str() of a scalar: "True", "None", "420", "1.5", the string itself. -EINVAL for collections. */
int ynode_to_python_str(const YNode *n, char **ret);
/* Python's repr() (abbreviated for collections: "[...]", "{...}"), for error messages. */
int ynode_repr(const YNode *n, char **ret);

/* Python's repr() of a float ("1.0", "1e+16", "inf", "nan"). */
int python_float_repr(double f, char *buf, size_t size);
