/* SPDX-License-Identifier: MIT */
/*
 * Lifecycle planning (§4.6, waagent ExtHandlersHandler.handle_ext_handlers / handle_enable /
 * handle_uninstall / _update_extension_handler_and_return_if_failed); see ext-plan.h. Pure.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ext-plan.h"
#include "ext-util.h"
#include "string-table.h"

#define EXT_PLAN_OPS_MAX (EXT_HANDLERS_MAX * EXT_SETTINGS_PER_HANDLER_MAX * 4U)

static const char *const ext_op_type_table[_EXT_OP_MAX] = {
        [EXT_OP_DOWNLOAD] = "download",   [EXT_OP_SETTINGS] = "settings",
        [EXT_OP_INSTALL] = "install",     [EXT_OP_UPDATE] = "update",
        [EXT_OP_ENABLE] = "enable",       [EXT_OP_DISABLE] = "disable",
        [EXT_OP_UNINSTALL] = "uninstall", [EXT_OP_COPY_STATE] = "copy",
        [EXT_OP_REMOVE] = "remove",       [EXT_OP_DELETE_EXTENSION] = "delete-extension",
        [EXT_OP_WAIT] = "wait",           [EXT_OP_REPORT_ERROR] = "report-error",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(ext_op_type, ExtOpType);

void ext_plan_done(ExtPlan *p) {
        if (!p)
                return;
        for (size_t i = 0; i < p->n_groups; i++) {
                free(p->groups[i].handler);
                free(p->groups[i].version);
                free(p->groups[i].extension);
        }
        for (size_t i = 0; i < p->n_ops; i++) {
                free(p->ops[i].version);
                free(p->ops[i].other_version);
                free(p->ops[i].extension);
        }
        free(p->groups);
        free(p->ops);
        *p = (ExtPlan){};
}

typedef struct Item {
        const ExtensionHandler *h;
        const ExtensionSettings *s;
        bool enabled;
        int level;
        int key;
        size_t index;
} Item;

static int item_compare(const void *a, const void *b) {
        const Item *x = a, *y = b;

        if (x->key != y->key)
                return x->key < y->key ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index; /* stable */
}

static int add_op(ExtPlan *p, ExtOpType type, size_t group, const char *version, const char *other,
                  const char *ext, unsigned seq, ExtOpFlags flags) {
        ExtOp *op;
        int r = EXT_ARRAY_GROW(p->ops, p->n_ops, EXT_PLAN_OPS_MAX, &op);

        if (r < 0)
                return r;
        op->type = type;
        op->group = group;
        op->seq_no = seq;
        op->flags = flags;
        if ((version && !(op->version = strdup(version))) ||
            (other && !(op->other_version = strdup(other))) || (ext && !(op->extension = strdup(ext))))
                return -ENOMEM;
        return 0;
}

static int add_group(ExtPlan *p, const char *handler, const char *version, const Item *it, bool reported,
                     size_t *ret) {
        ExtPlanGroup *g;
        int r = EXT_ARRAY_GROW(p->groups, p->n_groups, EXT_PLAN_OPS_MAX, &g);

        if (r < 0)
                return r;
        g->reported = reported;
        if (it) {
                g->handler_gs = it->h;
                g->settings = it->s;
                g->sort_key = it->key;
                g->seq_no = it->s ? it->s->seq_no : 0;
                if (it->h->is_multi_config && it->s && !(g->extension = strdup(it->s->name)))
                        return -ENOMEM;
        }
        /* An invalid handler may lack its version (§3.1); its error is still reported, with "". */
        if (!(g->handler = strdup(handler)) || !(g->version = strdup(strempty(version))))
                return -ENOMEM;
        *ret = p->n_groups - 1;
        return 0;
}

static const InstalledHandler *find_installed(const InstalledHandler *inst, size_t n, const char *name,
                                              const char *version, bool same_version) {
        const InstalledHandler *best = NULL;

        for (size_t i = 0; i < n; i++) {
                if (strcasecmp(inst[i].name, name) != 0)
                        continue;
                if (same_version != streq_ptr(inst[i].version, version))
                        continue;
                if (!same_version && inst[i].state == HANDLER_STATE_NOT_INSTALLED)
                        continue;
                if (!best || flexible_version_compare(inst[i].version, best->version) > 0)
                        best = &inst[i];
        }
        return best;
}

static const char *ext_of(const Item *it) {
        return it->h->is_multi_config && it->s ? it->s->name : NULL;
}

/* Disables of every enabled extension of an installed handler (§4.6 update step 1, uninstall). */
static int add_disables(ExtPlan *p, size_t g, const InstalledHandler *old, bool multi, ExtOpFlags flags) {
        int r = 0;

        if (old->state != HANDLER_STATE_ENABLED)
                return 0;
        if (!multi || strv_length(old->enabled_extensions) == 0)
                return add_op(p, EXT_OP_DISABLE, g, old->version, NULL, NULL, 0, flags);
        for (char **e = old->enabled_extensions; *e && r >= 0; e++)
                r = add_op(p, EXT_OP_DISABLE, g, old->version, NULL, *e, 0, flags);
        return r;
}

static int plan_enable(ExtPlan *p, size_t g, const Item *it, const InstalledHandler *inst, size_t n_inst,
                       char ***prepared) {
        const char *name = it->h->name, *version = it->h->version, *ext = ext_of(it);
        const InstalledHandler *cur = find_installed(inst, n_inst, name, version, true), *old;
        unsigned seq = it->s ? it->s->seq_no : 0;
        bool installed =
                cur && (cur->state == HANDLER_STATE_INSTALLED || cur->state == HANDLER_STATE_ENABLED);
        int r;

        if (installed || strv_contains(*prepared, name)) {
                r = add_op(p, EXT_OP_SETTINGS, g, version, NULL, ext, seq, 0);
                return r < 0 ? r : add_op(p, EXT_OP_ENABLE, g, version, NULL, ext, seq, 0);
        }
        r = strv_extend(prepared, name);
        if (r < 0)
                return r;
        if ((r = add_op(p, EXT_OP_DOWNLOAD, g, version, NULL, ext, seq, 0)) < 0 ||
            (r = add_op(p, EXT_OP_SETTINGS, g, version, NULL, ext, seq, 0)) < 0)
                return r;
        old = find_installed(inst, n_inst, name, version, false);
        if (!old) {
                r = add_op(p, EXT_OP_INSTALL, g, version, NULL, ext, seq, 0);
                return r < 0 ? r : add_op(p, EXT_OP_ENABLE, g, version, NULL, ext, seq, 0);
        }

        /* Update sequence (§4.6): downgrade runs the *old* version's update command with VERSION=new. */
        if ((r = add_disables(p, g, old, it->h->is_multi_config, EXT_OP_UPDATE_STEP)) < 0 ||
            (r = add_op(p, EXT_OP_COPY_STATE, g, version, old->version, NULL, 0, 0)) < 0)
                return r;
        r = flexible_version_compare(version, old->version) > 0
                    ? add_op(p, EXT_OP_UPDATE, g, version, old->version, ext, seq, 0)
                    : add_op(p, EXT_OP_UPDATE, g, old->version, version, ext, seq, 0);
        if (r < 0 ||
            (r = add_op(p, EXT_OP_UNINSTALL, g, old->version, NULL, NULL, 0, EXT_OP_UPDATE_STEP)) < 0 ||
            (r = add_op(p, EXT_OP_REMOVE, g, old->version, NULL, NULL, 0, 0)) < 0 ||
            (r = add_op(p, EXT_OP_INSTALL, g, version, NULL, ext, seq,
                        EXT_OP_SKIP_IF_UPDATE_WITHOUT_INSTALL | EXT_OP_FOR_UPDATE)) < 0)
                return r;
        return add_op(p, EXT_OP_ENABLE, g, version, NULL, ext, seq, EXT_OP_FOR_UPDATE);
}

static int plan_item(ExtPlan *p, const Item *it, int max_key, const InstalledHandler *inst, size_t n_inst,
                     char ***prepared, char ***uninstalled) {
        const char *name = it->h->name, *version = it->h->version, *ext = ext_of(it);
        const InstalledHandler *cur = find_installed(inst, n_inst, name, version, true);
        size_t g;
        int r;

        r = add_group(p, name, version, it, it->h->state != EXTENSION_STATE_UNINSTALL, &g);
        if (r < 0)
                return r;
        /* A Name or Version Azure would not send never reaches a path, a unit name or a command: reported only. */
        p->groups[g].error = ext_handler_name_check(name, version);
        if (it->h->invalid_reason || p->groups[g].error)
                return add_op(p, EXT_OP_REPORT_ERROR, g, version, NULL, ext, p->groups[g].seq_no, 0);

        switch (it->h->state) {
        case EXTENSION_STATE_ENABLED:
                if (it->enabled) {
                        r = plan_enable(p, g, it, inst, n_inst, prepared);
                        if (r >= 0 && it->key >= 0 && it->key < max_key)
                                r = add_op(p, EXT_OP_WAIT, g, version, NULL, ext, p->groups[g].seq_no, 0);
                        return r;
                }
                /* Multi-config instance disabled while its handler stays enabled (§4.6). */
                if (cur && ext && strv_contains(cur->enabled_extensions, ext))
                        r = add_op(p, EXT_OP_DISABLE, g, version, NULL, ext, 0, EXT_OP_IGNORE_FAILURE);
                if (r >= 0 && cur && ext)
                        r = add_op(p, EXT_OP_DELETE_EXTENSION, g, version, NULL, ext, 0, 0);
                return r;
        case EXTENSION_STATE_DISABLED:
                if (!cur || cur->state != HANDLER_STATE_ENABLED)
                        return 0;
                if (ext)
                        return strv_contains(cur->enabled_extensions, ext)
                                       ? add_op(p, EXT_OP_DISABLE, g, version, NULL, ext, 0, 0)
                                       : 0;
                return add_op(p, EXT_OP_DISABLE, g, version, NULL, NULL, 0, 0);
        case EXTENSION_STATE_UNINSTALL:
                /* Once per handler, whichever version is installed (§4.6 handle_uninstall). */
                if (strv_contains(*uninstalled, name))
                        return 0;
                if (!cur)
                        cur = find_installed(inst, n_inst, name, version, false);
                if (!cur)
                        return 0;
                r = strv_extend(uninstalled, name);
                if (r >= 0)
                        r = add_disables(p, g, cur, it->h->is_multi_config, 0);
                if (r >= 0)
                        r = add_op(p, EXT_OP_UNINSTALL, g, cur->version, NULL, NULL, 0,
                                   EXT_OP_IGNORE_FAILURE);
                if (r >= 0)
                        r = add_op(p, EXT_OP_REMOVE, g, cur->version, NULL, NULL, 0, 0);
                return r;
        case _EXTENSION_STATE_MAX:
        case _EXTENSION_STATE_INVALID:
                break;
        }
        return -EINVAL;
}

static int collect_items(const ExtensionsGoalState *gs, Item **ret, size_t *ret_n) {
        _cleanup_free_ Item *items = NULL;
        size_t n = 0;

        for (size_t i = 0; i < gs->n_handlers; i++) {
                const ExtensionHandler *h = &gs->handlers[i];
                size_t count = h->is_multi_config ? MAX(h->n_settings, (size_t) 1) : 1;

                for (size_t j = 0; j < count; j++) {
                        Item *it;
                        int r = EXT_ARRAY_GROW(items, n, EXT_PLAN_OPS_MAX, &it);

                        if (r < 0)
                                return r;
                        it->h = h;
                        it->s = h->n_settings > j ? &h->settings[j] : NULL;
                        it->level = it->s ? it->s->dependency_level : 0;
                        it->enabled =
                                h->state == EXTENSION_STATE_ENABLED &&
                                (!h->is_multi_config || !it->s || it->s->state == EXTENSION_STATE_ENABLED);
                        /* waagent dependency_level_sort_key(): not enabled → -(level)-1. */
                        it->key = it->enabled ? it->level : -it->level - 1;
                        it->index = n - 1;
                }
        }
        *ret = TAKE_PTR(items);
        *ret_n = n;
        return 0;
}

int ext_plan_compute(const InstalledHandler *installed, size_t n_installed, const ExtensionsGoalState *gs,
                     ExtPlan *ret) {
        _cleanup_(ext_plan_done) ExtPlan p = {};
        _cleanup_strv_free_ char **prepared = NULL, **uninstalled = NULL;
        _cleanup_free_ Item *items = NULL;
        size_t n_items = 0;
        int r, max_key = 0;

        r = collect_items(gs, &items, &n_items);
        if (r < 0)
                return r;
        if (n_items > 0)
                qsort(items, n_items, sizeof(Item), item_compare);
        for (size_t i = 0; i < n_items; i++)
                max_key = i == 0 ? items[i].key : MAX(max_key, items[i].key);

        for (size_t i = 0; i < n_items; i++) {
                r = plan_item(&p, &items[i], max_key, installed, n_installed, &prepared, &uninstalled);
                if (r < 0)
                        return r;
        }

        /* _cleanup_outdated_handlers: on disk but no longer in the goal state → removed without uninstall. */
        for (size_t i = 0; i < n_installed; i++) {
                size_t g;

                if (extensions_goal_state_find_handler(gs, installed[i].name))
                        continue;
                if ((r = add_group(&p, installed[i].name, installed[i].version, NULL, false, &g)) < 0 ||
                    (r = add_op(&p, EXT_OP_REMOVE, g, installed[i].version, NULL, NULL, 0, 0)) < 0)
                        return r;
        }
        *ret = p;
        p = (ExtPlan){};
        return 0;
}

int ext_plan_format(const ExtPlan *p, char **ret) {
        char *s = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&s, &n);

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < p->n_ops; i++) {
                const ExtOp *op = &p->ops[i];

                fprintf(f, "%s %s-%s", ext_op_type_to_string(op->type), p->groups[op->group].handler,
                        strna(op->version));
                if (op->extension)
                        fprintf(f, " %s", op->extension);
                if (op->other_version)
                        fprintf(f, " %s", op->other_version);
                fputc('\n', f);
        }
        if (fclose(f) != 0) {
                free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}
