/* SPDX-License-Identifier: MIT */
/*
 * yaml-dump FILE: prints yaml_parse()'s tree of FILE as one JSON value in a typed form that
 * test-yaml-pyyaml.py compares with PyYAML's safe_load() of the same file: {"null": true}, {"bool": b},
 * {"int": "decimal"}, {"float": "repr"}, {"str": "…"}, {"bytes": "hex"}, {"ts": true}, [ … ], {"map": [[k, v]…]}.
 * Exit 0 with the dump, 2 when the document does not parse (the error on stderr), 3 when it is over a bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "fileio.h"
#include "macro.h"
#include "yaml-node.h"

static struct json_object *dump(const YNode *n) {
        struct json_object *o, *a;
        char buf[64];

        switch (n->type) {
        case YNODE_NULL:
                o = json_object_new_object();
                json_object_object_add(o, "null", json_object_new_boolean(1));
                return o;
        case YNODE_BOOL:
                o = json_object_new_object();
                json_object_object_add(o, "bool", json_object_new_boolean(n->b));
                return o;
        case YNODE_INT:
                o = json_object_new_object();
                if (n->big)
                        json_object_object_add(o, "int", json_object_new_string("big"));
                else {
                        snprintf(buf, sizeof buf, "%lld", (long long) n->i);
                        json_object_object_add(o, "int", json_object_new_string(buf));
                }
                return o;
        case YNODE_FLOAT:
                o = json_object_new_object();
                (void) python_float_repr(n->f, buf, sizeof buf);
                json_object_object_add(o, "float", json_object_new_string(buf));
                return o;
        case YNODE_STR:
                o = json_object_new_object();
                json_object_object_add(o, "str", json_object_new_string_len(n->text, (int) n->size));
                return o;
        case YNODE_BINARY: {
                char *hex = malloc(n->size * 2 + 1);

                for (size_t i = 0; i < n->size; i++)
                        sprintf(hex + 2 * i, "%02x", (unsigned char) n->text[i]);
                hex[n->size * 2] = 0;
                o = json_object_new_object();
                json_object_object_add(o, "bytes", json_object_new_string(hex));
                free(hex);
                return o;
        }
        case YNODE_TIMESTAMP:
                o = json_object_new_object();
                json_object_object_add(o, "ts", json_object_new_boolean(1));
                return o;
        case YNODE_SEQ:
                a = json_object_new_array();
                for (size_t i = 0; i < n->n_items; i++)
                        json_object_array_add(a, dump(n->items[i]));
                return a;
        case YNODE_MAP:
                a = json_object_new_array();
                for (size_t i = 0; i < n->n_pairs; i++) {
                        struct json_object *p = json_object_new_array();

                        json_object_array_add(p, dump(n->pairs[i].key));
                        json_object_array_add(p, dump(n->pairs[i].value));
                        json_object_array_add(a, p);
                }
                o = json_object_new_object();
                json_object_object_add(o, "map", a);
                return o;
        case _YNODE_TYPE_MAX:
        case _YNODE_TYPE_INVALID:
                break;
        }
        abort();
}

int main(int argc, char **argv) {
        _cleanup_ynode_ YNode *root = NULL;
        _cleanup_free_ char *buf = NULL;
        struct json_object *o;
        YamlError err;
        size_t size;
        int fd, r;

        if (argc != 2)
                return 1;
        fd = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read_full_fd(fd, 8U * 1024U * 1024U, &buf, &size) < 0)
                return 1;
        close(fd);
        r = yaml_parse(buf, size, &root, &err);
        if (r == -E2BIG)
                return 3;
        if (r < 0) {
                fprintf(stderr, "%u:%u: %s\n", err.line, err.column, err.message);
                return 2;
        }
        o = dump(root);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return 0;
}
