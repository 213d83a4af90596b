/* SPDX-License-Identifier: MIT */
/* cloud-init's merge classes (m_dict, m_list, m_str and the LookupMerger dispatch) over YNode trees. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"
#include "userdata-merge.h"
#include "userdata-parts.h"

void mergers_default(Mergers *ret) {
        *ret = (Mergers){.dict = true,
                         .dict_replace = true,
                         .list = true,
                         .list_method = LIST_MERGE_REPLACE,
                         .str = true};
}

static bool has_opt(char **opts, const char *o) {
        return strv_contains(opts, o);
}

/* Adds one merger (name, options) unless one of that name is already there (the first one wins). */
static int mergers_add(Mergers *m, const char *name, char **opts, char **ret_error) {
        if (streq(name, "dict")) {
                if (m->dict)
                        return 0;
                m->dict = true;
                /* MERGE_TYPES = (replace, no_replace): the first of them in the options wins */
                m->dict_replace = has_opt(opts, "replace");
                m->dict_recurse_str = has_opt(opts, "recurse_str");
                m->dict_recurse_array = has_opt(opts, "recurse_array") || has_opt(opts, "recurse_list");
                m->dict_allow_delete = has_opt(opts, "allow_delete");
        } else if (streq(name, "list")) {
                if (m->list)
                        return 0;
                m->list = true;
                /* MERGE_TYPES = (append, prepend, replace, no_replace) */
                m->list_method = has_opt(opts, "append")       ? LIST_MERGE_APPEND
                                 : has_opt(opts, "prepend")    ? LIST_MERGE_PREPEND
                                 : has_opt(opts, "replace")    ? LIST_MERGE_REPLACE
                                 : has_opt(opts, "no_replace") ? LIST_MERGE_NO_REPLACE
                                                               : LIST_MERGE_REPLACE;
                m->list_recurse_str = has_opt(opts, "recurse_str");
                m->list_recurse_dict = has_opt(opts, "recurse_dict");
                m->list_recurse_array = has_opt(opts, "recurse_array") || has_opt(opts, "recurse_list");
        } else if (streq(name, "str")) {
                if (m->str)
                        return 0;
                m->str = true;
                m->str_append = has_opt(opts, "append");
        } else {
                if (ret_error && asprintf(ret_error, "unknown merger '%s' (dict, list or str)", name) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 1;
}

static void canonicalize(char *s) {
        for (char *c = s; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                        *c = (char) (*c - 'A' + 'a');
                else if (*c == '-')
                        *c = '_';
}

int mergers_parse_string(const char *s, Mergers *m, char **ret_error) {
        _cleanup_strv_free_ char **names = NULL;
        int r, n = 0;

        /* split on '+' keeping empty fields out (string_extract_mergers) */
        r = strv_split(s, "+", &names);
        if (r < 0)
                return r;
        for (char **p = names; p && *p; p++) {
                _cleanup_strv_free_ char **opts = NULL;
                char *open, *name = user_data_strip(*p);
                size_t len;

                canonicalize(name);
                open = strchr(name, '(');
                len = strlen(name);
                if (!open || open == name || name[len - 1] != ')') {
                        if (ret_error &&
                            asprintf(ret_error, "merger '%s' is not in the form name(options)", name) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                for (char *c = name; c < open; c++)
                        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_') ||
                            (c == name && *c >= '0' && *c <= '9')) {
                                if (ret_error &&
                                    asprintf(ret_error, "merger '%s' is not in the form name(options)",
                                             name) < 0)
                                        *ret_error = NULL;
                                return -EINVAL;
                        }
                name[len - 1] = 0;
                *open = 0;
                r = strv_split(open + 1, ",", &opts);
                if (r < 0)
                        return r;
                r = mergers_add(m, name, opts, ret_error);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

static int mergers_from_node(const YNode *v, Mergers *m, char **ret_error) {
        int n = 0, r;

        if (v->type == YNODE_STR)
                return mergers_parse_string(v->text, m, ret_error);
        if (v->type != YNODE_SEQ) {
                if (ret_error)
                        *ret_error = strdup("merge_how must be a string or a list");
                return -EINVAL;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const YNode *e = v->items[i], *name = NULL, *settings = NULL;
                _cleanup_strv_free_ char **opts = NULL;
                _cleanup_free_ char *nm = NULL;

                if (e->type == YNODE_MAP) {
                        name = ynode_get(e, "name");
                        settings = ynode_get(e, "settings");
                } else if (e->type == YNODE_SEQ && e->n_items > 0) {
                        name = e->items[0];
                } else
                        name = NULL;
                if (!name || name->type != YNODE_STR || (e->type == YNODE_MAP && !settings)) {
                        if (ret_error)
                                *ret_error = strdup("merge_how entries need a name and settings");
                        return -EINVAL;
                }
                nm = strdup(name->text);
                if (!nm)
                        return -ENOMEM;
                canonicalize(user_data_strip(nm));
                if (isempty(nm))
                        continue;
                if (e->type == YNODE_SEQ)
                        for (size_t k = 1; k < e->n_items; k++)
                                if (e->items[k]->type == YNODE_STR &&
                                    strv_extend(&opts, e->items[k]->text) < 0)
                                        return -ENOMEM;
                if (settings && settings->type == YNODE_SEQ)
                        for (size_t k = 0; k < settings->n_items; k++)
                                if (settings->items[k]->type == YNODE_STR &&
                                    strv_extend(&opts, settings->items[k]->text) < 0)
                                        return -ENOMEM;
                r = mergers_add(m, nm, opts, ret_error);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

int mergers_extract(YNode *part, Mergers *m, char **ret_error) {
        const YNode *how, *type;
        bool how_set;
        int r = 0;

        if (!part || part->type != YNODE_MAP)
                return 0;
        how = ynode_get(part, "merge_how");
        how_set = how && how->type != YNODE_NULL;
        if (how_set)
                r = mergers_from_node(how, m, ret_error);
        else {
                /* merge_how absent or null: merge_type, as config.pop("merge_how", None) returning None does */
                type = ynode_get(part, "merge_type");
                if (type && type->type != YNODE_NULL)
                        r = mergers_from_node(type, m, ret_error);
        }
        (void) ynode_remove(part, "merge_how");
        if (!how_set)
                (void) ynode_remove(part, "merge_type");
        return r;
}

static int merge_error(char **ret_error, const char *what) {
        if (ret_error)
                *ret_error = strdup(what);
        return -EINVAL;
}

/* LookupMerger.merge(): dispatch on the type of source. */
static int merge(const YNode *source, const YNode *with, const Mergers *m, YNode **ret, char **ret_error);

static int merge_dict(const YNode *value, const YNode *with, const Mergers *m, YNode **ret,
                      char **ret_error) {
        _cleanup_ynode_ YNode *out = ynode_copy(value);
        int r;

        if (!out)
                return -ENOMEM;
        if (with->type != YNODE_MAP) {
                *ret = TAKE_PTR(out);
                return 0;
        }
        for (size_t i = 0; i < with->n_pairs; i++) {
                const YNode *k = with->pairs[i].key, *v = with->pairs[i].value;
                YNode *merged = NULL, *key;
                size_t j;

                for (j = 0; j < out->n_pairs; j++)
                        if (ynode_equal(out->pairs[j].key, k))
                                break;
                if (j < out->n_pairs) {
                        YNode *old = out->pairs[j].value;

                        if (v->type == YNODE_NULL && m->dict_allow_delete) {
                                ynode_free(out->pairs[j].key);
                                ynode_free(old);
                                memmove(&out->pairs[j], &out->pairs[j + 1],
                                        (out->n_pairs - j - 1) * sizeof *out->pairs);
                                out->n_pairs--;
                                continue;
                        }
                        if (m->dict_replace)
                                merged = ynode_copy(v);
                        else if ((v->type == YNODE_SEQ && m->dict_recurse_array) ||
                                 (v->type == YNODE_STR && m->dict_recurse_str) || v->type == YNODE_MAP) {
                                r = merge(old, v, m, &merged, ret_error);
                                if (r < 0)
                                        return r;
                        } else
                                continue; /* leave it be */
                        if (!merged)
                                return -ENOMEM;
                        ynode_free(old);
                        out->pairs[j].value = merged;
                        continue;
                }
                key = ynode_copy(k);
                merged = ynode_copy(v);
                if (!key || !merged) {
                        ynode_free(key);
                        ynode_free(merged);
                        return -ENOMEM;
                }
                r = ynode_map_set(out, key, merged);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int seq_append_copy(YNode *seq, const YNode *item) {
        YNode **a, *c = ynode_copy(item);

        if (!c)
                return -ENOMEM;
        a = reallocarray(seq->items, seq->n_items + 1, sizeof *a);
        if (!a) {
                ynode_free(c);
                return -ENOMEM;
        }
        seq->items = a;
        a[seq->n_items++] = c;
        return 0;
}

/* What list.extend(x) iterates over for a non-list x: the characters of a string, the keys of a map. */
static int as_items(const YNode *with, YNode **ret, char **ret_error) {
        _cleanup_ynode_ YNode *seq = NULL;
        int r;

        if (with->type == YNODE_SEQ) {
                *ret = ynode_copy(with);
                return *ret ? 0 : -ENOMEM;
        }
        seq = ynode_new_map();
        if (!seq)
                return -ENOMEM;
        seq->type = YNODE_SEQ;
        if (with->type == YNODE_MAP) {
                for (size_t i = 0; i < with->n_pairs; i++) {
                        r = seq_append_copy(seq, with->pairs[i].key);
                        if (r < 0)
                                return r;
                }
        } else if (with->type == YNODE_STR) {
                for (size_t i = 0; i < with->size;) {
                        size_t l = utf8_sequence_len((const unsigned char *) with->text + i, with->size - i)
                                           ?: 1;
                        _cleanup_free_ char *ch = strndup(with->text + i, l);
                        _cleanup_ynode_ YNode *c = ch ? ynode_new_str(ch) : NULL;

                        if (!c)
                                return -ENOMEM;
                        r = seq_append_copy(seq, c);
                        if (r < 0)
                                return r;
                        i += l;
                }
        } else
                return merge_error(ret_error, "cannot extend a list with a value that is not a list");
        *ret = TAKE_PTR(seq);
        return 0;
}

static int merge_list(const YNode *value, const YNode *with, const Mergers *m, YNode **ret,
                      char **ret_error) {
        _cleanup_ynode_ YNode *out = NULL, *items = NULL;
        int r;

        if (m->list_method == LIST_MERGE_REPLACE && with->type != YNODE_SEQ) {
                *ret = ynode_copy(with);
                return *ret ? 0 : -ENOMEM;
        }
        if (m->list_method == LIST_MERGE_APPEND || m->list_method == LIST_MERGE_PREPEND) {
                r = as_items(with, &items, ret_error);
                if (r < 0)
                        return r;
                out = ynode_copy(m->list_method == LIST_MERGE_APPEND ? value : items);
                if (!out)
                        return -ENOMEM;
                {
                        const YNode *tail = m->list_method == LIST_MERGE_APPEND ? items : value;

                        for (size_t i = 0; i < tail->n_items; i++) {
                                r = seq_append_copy(out, tail->items[i]);
                                if (r < 0)
                                        return r;
                        }
                }
                out->line = value->line;
                out->column = value->column;
                *ret = TAKE_PTR(out);
                return 0;
        }
        out = ynode_copy(value);
        if (!out)
                return -ENOMEM;
        if (with->type != YNODE_SEQ || m->list_method == LIST_MERGE_NO_REPLACE) {
                *ret = TAKE_PTR(out);
                return 0;
        }
        /* replace: same indexes, the length of the old list */
        for (size_t i = 0; i < MIN(out->n_items, with->n_items); i++) {
                const YNode *nv = with->items[i];
                YNode *merged = NULL;

                if ((nv->type == YNODE_SEQ && m->list_recurse_array) ||
                    (nv->type == YNODE_STR && m->list_recurse_str) ||
                    (nv->type == YNODE_MAP && m->list_recurse_dict)) {
                        r = merge(out->items[i], nv, m, &merged, ret_error);
                        if (r < 0)
                                return r;
                } else
                        merged = ynode_copy(nv);
                if (!merged)
                        return -ENOMEM;
                ynode_free(out->items[i]);
                out->items[i] = merged;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

static int merge_str(const YNode *value, const YNode *with, const Mergers *m, YNode **ret,
                     char **ret_error) {
        YNode *out;

        if (!m->str_append) {
                *ret = ynode_copy(with);
                return *ret ? 0 : -ENOMEM;
        }
        if (with->type != YNODE_STR)
                return merge_error(ret_error, "cannot append a value that is not a string to a string");
        out = ynode_copy(value);
        if (!out)
                return -ENOMEM;
        {
                char *t = realloc(out->text, out->size + with->size + 1);

                if (!t) {
                        ynode_free(out);
                        return -ENOMEM;
                }
                memcpy(t + out->size, with->text, with->size + 1);
                out->text = t;
                out->size += with->size;
        }
        *ret = out;
        return 0;
}

static int merge(const YNode *source, const YNode *with, const Mergers *m, YNode **ret, char **ret_error) {
        if (source->type == YNODE_MAP && m->dict)
                return merge_dict(source, with, m, ret, ret_error);
        if (source->type == YNODE_SEQ && m->list)
                return merge_list(source, with, m, ret, ret_error);
        if (source->type == YNODE_STR && m->str)
                return merge_str(source, with, m, ret, ret_error);
        /* no merger for this type: UnknownMerger keeps the source */
        *ret = ynode_copy(source);
        return *ret ? 0 : -ENOMEM;
}

int cloud_config_merge(const YNode *source, const YNode *merge_with, const Mergers *m, YNode **ret,
                       char **ret_error) {
        if (ret_error)
                *ret_error = NULL;
        return merge(source, merge_with, m, ret, ret_error);
}
