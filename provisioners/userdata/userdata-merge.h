/* SPDX-License-Identifier: MIT */
/*
 * Merging of several cloud-config parts into one, exactly as cloud-init's mergers (cloudinit/mergers/, the
 * "Merging user data sections" documentation): each part is merged into what the earlier ones gave, with the
 * mergers named by the part's `merge_how` (or `merge_type`) key — a string such as
 * "list(append)+dict(no_replace,recurse_list)+str()" or a list of {name, settings} — plus its Merge-Type
 * header, or, when it names none, "dict(replace)+list()+str()": a later part's top-level keys replace the
 * earlier ones' wholesale.
 *
 *   dict(): no_replace (default) | replace, recurse_str, recurse_array/recurse_list, allow_delete; nested maps
 *           are always merged recursively under no_replace.
 *   list(): replace (default: same indexes replaced, length kept) | append | prepend | no_replace,
 *           recurse_str, recurse_dict, recurse_array/recurse_list.
 *   str():  append.
 * A value whose type has no merger in the list (a number, a boolean, null, or a map without dict()) keeps the
 * earlier value, as cloud-init's LookupMerger does. Pure.
 */
#pragma once

#include "yaml-node.h"

typedef enum ListMergeMethod {
        LIST_MERGE_REPLACE,
        LIST_MERGE_APPEND,
        LIST_MERGE_PREPEND,
        LIST_MERGE_NO_REPLACE,
} ListMergeMethod;

typedef struct Mergers {
        bool dict, list, str; /* which mergers are present */
        bool dict_replace, dict_recurse_str, dict_recurse_array, dict_allow_delete;
        ListMergeMethod list_method;
        bool list_recurse_str, list_recurse_dict, list_recurse_array;
        bool str_append;
} Mergers;

/* The default for a part that names no mergers: dict(replace)+list()+str(). */
void mergers_default(Mergers *ret);

/* Parses "dict(replace)+list(append)+str()" (names are case-insensitive, '-' reads as '_'); adds to *m.
 * -EINVAL (with *ret_error) on a malformed or unknown merger. Returns the number of mergers found. */
int mergers_parse_string(const char *s, Mergers *m, char **ret_error);

/* Removes merge_how / merge_type from the part's top-level map and parses it into *m. Returns the number of
 * mergers found (0: none named), -EINVAL with *ret_error on a malformed value. */
int mergers_extract(YNode *part, Mergers *m, char **ret_error);

/* merge(source, merge_with): a new tree (inputs untouched). -EINVAL with *ret_error on what cloud-init raises
 * on (appending a string to a list of another type, adding a non-string to a string). */
int cloud_config_merge(const YNode *source, const YNode *merge_with, const Mergers *m, YNode **ret,
                       char **ret_error);
