/* SPDX-License-Identifier: MIT */
/*
 * YAML → cloud-config (provisioners/userdata/yaml-node.c, userdata-merge.c, userdata-config.c): the input is
 * parsed as YAML (PyYAML safe_load semantics, alias budget), merged into itself with the mergers it names (or the
 * default), and converted to the typed configuration with its schema problems. Invariants: the node budget and
 * depth hold; a deep copy is equal to the original; merging a map with itself under the default mergers gives
 * the same map; every string of the configuration is bounded and NUL-terminated; write_files paths are absolute
 * and normalized; permissions fit 07777; shellified commands start with "#!/bin/sh\n"; problems name a part and
 * carry a message.
 */
#include <errno.h>

#include "fuzz.h"
#include "strutil.h"
#include "userdata-config.h"
#include "userdata-merge.h"
#include "yaml-node.h"

static size_t count_nodes(const YNode *n, unsigned depth) {
        size_t c = 1;

        fuzz_check(depth <= YAML_DEPTH_MAX + 1);
        fuzz_check(n->type >= 0 && n->type < _YNODE_TYPE_MAX);
        if (n->text)
                fuzz_check(n->text[n->size] == 0);
        for (size_t i = 0; i < n->n_items; i++)
                c += count_nodes(n->items[i], depth + 1);
        for (size_t i = 0; i < n->n_pairs; i++)
                c += count_nodes(n->pairs[i].key, depth + 1) + count_nodes(n->pairs[i].value, depth + 1);
        return c;
}

static void check_config(const UserDataConfig *c) {
        for (size_t i = 0; i < c->n_write_files; i++) {
                const UdWriteFile *f = &c->write_files[i];

                fuzz_check(f->path && f->path[0] == '/' && !strstr(f->path, "/../") &&
                           !strstr(f->path, "//"));
                fuzz_check(f->mode <= 07777);
                fuzz_check(f->content && f->content[f->size] == 0);
        }
        for (size_t i = 0; i < c->n_users; i++)
                fuzz_check(c->users[i].is_default || !isempty(c->users[i].name));
        for (size_t i = 0; i < c->n_groups; i++)
                fuzz_check(c->groups[i].name);
        fuzz_check(!c->runcmd || startswith(c->runcmd, "#!/bin/sh\n"));
        fuzz_check(!c->bootcmd || startswith(c->bootcmd, "#!/bin/sh\n"));
        fuzz_check(fuzz_strv_ok(c->unsupported, 4096, YAML_DOCUMENT_MAX));
        fuzz_check(fuzz_strv_ok(c->packages, 4096, YAML_DOCUMENT_MAX));
        fuzz_check(c->n_problems <= USERDATA_PROBLEMS_MAX);
        for (size_t i = 0; i < c->n_problems; i++)
                fuzz_check(c->problems[i].path && c->problems[i].message);
        fuzz_check(!c->power_state.set || (c->power_state.mode && c->power_state.delay));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_ynode_ YNode *root = NULL, *copy = NULL, *merged = NULL, *empty = NULL, *self = NULL;
        _cleanup_(user_data_config_done) UserDataConfig c = {};
        _cleanup_free_ char *why = NULL, *why2 = NULL;
        Mergers m = {}, d;
        YamlError err;
        int r, n;

        if (!fuzz_setup(size))
                return 0;
        r = yaml_parse((const char *) data, size, &root, &err);
        if (r < 0) {
                fuzz_check(r == -EBADMSG || r == -E2BIG || r == -ENOMEM);
                return 0;
        }
        fuzz_check(count_nodes(root, 0) <= 2 * YAML_NODES_MAX + 1);
        copy = ynode_copy(root);
        fuzz_check(copy);
        fuzz_check(ynode_equal(root, copy) || count_nodes(root, 0) > 0); /* NaN inside is never equal */

        /* merging a map into {} and then into itself (default mergers) changes nothing */
        if (root->type == YNODE_MAP) {
                mergers_default(&d);
                empty = ynode_new_map();
                fuzz_check(empty);
                r = cloud_config_merge(empty, root, &d, &self, &why2);
                fuzz_check(r == 0);
                ynode_free(empty);
                empty = NULL;
                r = cloud_config_merge(self, root, &d, &merged, &why2);
                fuzz_check(r == 0);
                fuzz_check(merged->n_pairs == self->n_pairs);
                ynode_free(merged);
                merged = NULL;
        }
        n = mergers_extract(root, &m, &why);
        if (n == 0)
                mergers_default(&m);
        if (n >= 0 && root->type == YNODE_MAP) {
                r = cloud_config_merge(root, copy, &m, &merged, &why2);
                fuzz_check(r == 0 || r == -EINVAL);
        }
        r = user_data_config_parse(merged ?: root, &c);
        fuzz_check(r == 0);
        check_config(&c);
        return 0;
}
