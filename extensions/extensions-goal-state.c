/* SPDX-License-Identifier: MIT */
/*
 * The extensions goal state model shared by the ExtensionsConfig and vmSettings parsers: destructors, the
 * enum↔string tables, version comparison (waagent's FlexibleVersion) and the rule that picks which of the two
 * sources is executed (wire protocol §1.4).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "extensions-goal-state.h"
#include "macro.h"
#include "string-table.h"
#include "strutil.h"

static void extension_settings_done(ExtensionSettings *s) {
        free(s->name);
        free(s->public_settings);
        erase_and_free(s->protected_settings);
        free(s->protected_settings_cert_thumbprint);
}

static void extension_handler_done(ExtensionHandler *h) {
        free(h->name);
        free(h->version);
        free(h->location);
        free(h->failover_location);
        strv_free(h->additional_locations);
        free(h->encoded_signature);
        free(h->invalid_reason);
        for (size_t i = 0; i < h->n_settings; i++)
                extension_settings_done(&h->settings[i]);
        free(h->settings);
}

void extensions_goal_state_done(ExtensionsGoalState *gs) {
        if (!gs)
                return;
        free(gs->id);
        free(gs->incarnation);
        free(gs->etag);
        free(gs->host_ga_plugin_version);
        free(gs->activity_id);
        free(gs->correlation_id);
        free(gs->in_svd_seq_no);
        free(gs->status_upload_blob);
        strv_free(gs->required_features);
        free(gs->artifacts_profile_blob);
        for (size_t i = 0; i < gs->n_agent_families; i++) {
                free(gs->agent_families[i].name);
                free(gs->agent_families[i].version);
                strv_free(gs->agent_families[i].uris);
        }
        free(gs->agent_families);
        for (size_t i = 0; i < gs->n_handlers; i++)
                extension_handler_done(&gs->handlers[i]);
        free(gs->handlers);
        *gs = (ExtensionsGoalState){};
}

ExtensionsGoalState *extensions_goal_state_free(ExtensionsGoalState *gs) {
        if (!gs)
                return NULL;
        extensions_goal_state_done(gs);
        free(gs);
        return NULL;
}

static const char *const goal_state_channel_table[_GOAL_STATE_CHANNEL_MAX] = {
        [GOAL_STATE_CHANNEL_WIRESERVER] = "WireServer",
        [GOAL_STATE_CHANNEL_HOSTGAPLUGIN] = "HostGAPlugin",
};
static const char *const goal_state_source_table[_GOAL_STATE_SOURCE_MAX] = {
        [GOAL_STATE_SOURCE_FABRIC] = "Fabric",
        [GOAL_STATE_SOURCE_FAST_TRACK] = "FastTrack",
        [GOAL_STATE_SOURCE_UNKNOWN] = "UNKNOWN",
};
static const char *const status_blob_type_table[_STATUS_BLOB_TYPE_MAX] = {
        [STATUS_BLOB_TYPE_BLOCK] = "BlockBlob",
        [STATUS_BLOB_TYPE_PAGE] = "PageBlob",
};
static const char *const extension_state_table[_EXTENSION_STATE_MAX] = {
        [EXTENSION_STATE_ENABLED] = "enabled",
        [EXTENSION_STATE_DISABLED] = "disabled",
        [EXTENSION_STATE_UNINSTALL] = "uninstall",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(goal_state_channel, GoalStateChannel);
DEFINE_STRING_TABLE_LOOKUP(goal_state_source, GoalStateSource);
DEFINE_STRING_TABLE_LOOKUP(status_blob_type, StatusBlobType);
DEFINE_STRING_TABLE_LOOKUP(extension_state, ExtensionState);

const ExtensionHandler *extensions_goal_state_find_handler(const ExtensionsGoalState *gs, const char *name) {
        for (size_t i = 0; gs && name && i < gs->n_handlers; i++)
                if (gs->handlers[i].name && strcasecmp(gs->handlers[i].name, name) == 0)
                        return &gs->handlers[i];
        return NULL;
}

/* 1900-01-01T00:00:00 in .NET ticks: waagent clamps created_on_timestamp to this (strftime's minimum). */
#define TICKS_1900 UINT64_C(599266080000000000)
/* 1970-01-01T00:00:00 in .NET ticks. */
#define TICKS_UNIX_EPOCH UINT64_C(621355968000000000)

static uint64_t ticks_clamp(uint64_t ticks) {
        return MAX(ticks, TICKS_1900);
}

const ExtensionsGoalState *goal_state_choose(const ExtensionsGoalState *current,
                                             const ExtensionsGoalState *extensions_config,
                                             const ExtensionsGoalState *vm_settings) {
        const ExtensionsGoalState *most_recent;

        /* vmSettings whose source is Fabric are ignored: processing a Fabric goal state may need the tenant
         * certificate, which only comes with the WireServer goal state (§1.4). */
        if (vm_settings && vm_settings->source != GOAL_STATE_SOURCE_FAST_TRACK)
                vm_settings = NULL;

        if (extensions_config && vm_settings)
                most_recent = ticks_clamp(vm_settings->created_on_ticks) >
                                              ticks_clamp(extensions_config->created_on_ticks)
                                      ? vm_settings
                                      : extensions_config;
        else if (extensions_config)
                most_recent = extensions_config;
        else if (vm_settings)
                most_recent = vm_settings;
        else
                return current;

        if (!current || ticks_clamp(most_recent->created_on_ticks) >= ticks_clamp(current->created_on_ticks))
                return most_recent;
        return current;
}

int ticks_format_timestamp(uint64_t ticks, char *buf, size_t size) {
        double secs, whole;
        struct tm tm;
        int64_t usec;
        time_t t;
        int n;

        /* Mirrors waagent: datetime.min + timedelta(seconds=float(ticks) / 10**7), i.e. double arithmetic
         * rounded to the microsecond, so that fast_track.json timestamps compare equal with waagent's. */
        secs = (double) ticks_clamp(ticks) / 1e7;
        whole = floor(secs);
        usec = llround((secs - whole) * 1e6);
        if (usec >= 1000000) {
                whole += 1;
                usec -= 1000000;
        }
        t = (time_t) ((int64_t) whole - (int64_t) (TICKS_UNIX_EPOCH / 10000000));
        if (!gmtime_r(&t, &tm))
                return -ERANGE;
        n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int) usec);
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return 0;
}

/* Reads the next numeric component of a dotted version; returns false at the end. */
static bool version_next(const char **p, uint64_t *ret) {
        uint64_t v = 0;
        const char *s = *p;

        if (!s || !*s)
                return false;
        while (*s && *s != '.') {
                if (*s >= '0' && *s <= '9' && v < UINT64_MAX / 10)
                        v = v * 10 + (uint64_t) (*s - '0');
                s++;
        }
        if (*s == '.')
                s++;
        *p = s;
        *ret = v;
        return true;
}

int flexible_version_compare(const char *a, const char *b) {
        for (;;) {
                uint64_t x = 0, y = 0;
                bool ha = version_next(&a, &x), hb = version_next(&b, &y);

                if (!ha && !hb)
                        return 0;
                if (x != y)
                        return x < y ? -1 : 1;
        }
}

bool flexible_version_has_prefix(const char *version, const char *prefix) {
        /* Component-wise: every component of prefix must equal the corresponding component of version. */
        for (;;) {
                uint64_t x = 0, y = 0;
                bool hp = version_next(&prefix, &y), hv;

                if (!hp)
                        return true;
                hv = version_next(&version, &x);
                if (!hv || x != y)
                        return false;
        }
}
