/* SPDX-License-Identifier: MIT */
/*
 * The extensions goal state: one internal representation for both of its sources, the WireServer's
 * ExtensionsConfig XML (wire protocol §3.1, id "incarnation_<N>") and the HostGAPlugin's vmSettings JSON
 * (Fast Track, §3.2, id "etag_<etag>"). The parsers (ext-conf.c, vm-settings.c) are pure functions over a
 * (buffer, length) pair; they never log above debug and report a human-readable reason through ret_error.
 *
 * Like waagent, a problem confined to one handler (a PluginSettings version mismatch, both RuntimeSettings and
 * ExtensionRuntimeSettings, …) does not fail the document: the handler is kept with invalid_reason set so that
 * its failure can be reported to CRP ("Ran into config errors: …") instead of CRP timing out.
 *
 * Protected settings stay encrypted (base64 CMS) and are erased from memory when the goal state is freed.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds on external input (style rule 13). */
#define EXT_GOAL_STATE_DOCUMENT_MAX  (8U * 1024U * 1024U)
#define EXT_HANDLERS_MAX             256U
#define EXT_SETTINGS_PER_HANDLER_MAX 128U
#define EXT_SETTINGS_TEXT_MAX        (1024U * 1024U)
#define EXT_LOCATIONS_MAX            32U
#define EXT_REQUIRED_FEATURES_MAX    64U
#define EXT_AGENT_FAMILIES_MAX       32U

typedef enum GoalStateChannel {
        GOAL_STATE_CHANNEL_WIRESERVER,   /* ExtensionsConfig */
        GOAL_STATE_CHANNEL_HOSTGAPLUGIN, /* vmSettings */
        _GOAL_STATE_CHANNEL_MAX,
        _GOAL_STATE_CHANNEL_INVALID = -EINVAL,
} GoalStateChannel;

typedef enum GoalStateSource {
        GOAL_STATE_SOURCE_FABRIC,
        GOAL_STATE_SOURCE_FAST_TRACK,
        GOAL_STATE_SOURCE_UNKNOWN, /* vmSettings without extensionGoalStatesSource */
        _GOAL_STATE_SOURCE_MAX,
        _GOAL_STATE_SOURCE_INVALID = -EINVAL,
} GoalStateSource;

typedef enum StatusBlobType {
        STATUS_BLOB_TYPE_BLOCK,
        STATUS_BLOB_TYPE_PAGE,
        _STATUS_BLOB_TYPE_MAX,
        _STATUS_BLOB_TYPE_INVALID = -EINVAL,
} StatusBlobType;

typedef enum ExtensionState {
        EXTENSION_STATE_ENABLED,
        EXTENSION_STATE_DISABLED,
        EXTENSION_STATE_UNINSTALL,
        _EXTENSION_STATE_MAX,
        _EXTENSION_STATE_INVALID = -EINVAL,
} ExtensionState;

typedef struct ExtensionSettings {
        char *name; /* multi-config: the extension instance; single-config: the handler name */
        unsigned seq_no;
        ExtensionState state;
        int dependency_level;
        char *public_settings;    /* compact JSON text, NULL when absent (serialized as null) */
        char *protected_settings; /* base64 CMS, NULL when absent; secret: erased on free */
        char *protected_settings_cert_thumbprint;
        bool settings_invalid; /* the RuntimeSettings text was not JSON: name/seqNo only (§3.1) */
} ExtensionSettings;

typedef struct ExtensionHandler {
        char *name;
        char *version;
        ExtensionState state;
        bool is_multi_config;
        char *location;
        char *failover_location;
        char **additional_locations; /* strv, may be NULL */
        char *encoded_signature;     /* base64 CMS SignedData, NULL when absent or not honoured */
        char *invalid_reason;        /* handler-level config error, NULL when valid */
        ExtensionSettings *settings;
        size_t n_settings;
} ExtensionHandler;

typedef struct AgentFamily {
        char *name;
        char *version; /* requested agent version (RSM), NULL when absent */
        char **uris;   /* strv, may be NULL */
} AgentFamily;

typedef struct ExtensionsGoalState {
        char *id; /* "incarnation_<N>" or "etag_<etag>" */
        GoalStateChannel channel;
        GoalStateSource source;
        char *incarnation;            /* ExtensionsConfig only */
        char *etag;                   /* vmSettings only */
        char *host_ga_plugin_version; /* vmSettings only */
        uint64_t created_on_ticks;    /* .NET ticks (100 ns since 0001-01-01), 0 when absent */
        char *activity_id;
        char *correlation_id;
        char *in_svd_seq_no;
        char *status_upload_blob; /* SAS URL (secret signature), NULL when missing */
        StatusBlobType status_upload_blob_type;
        bool status_upload_blob_type_defaulted; /* the document named an invalid type; BlockBlob assumed */
        char **required_features;               /* strv, may be NULL */
        bool on_hold;                 /* vmSettings onHold (ExtensionsConfig: from the artifacts profile) */
        char *artifacts_profile_blob; /* InVMArtifactsProfileBlob URL to fetch for onHold, NULL if none */
        AgentFamily *agent_families;
        size_t n_agent_families;
        ExtensionHandler *handlers;
        size_t n_handlers;
} ExtensionsGoalState;

void extensions_goal_state_done(ExtensionsGoalState *gs);
ExtensionsGoalState *extensions_goal_state_free(ExtensionsGoalState *gs);
static inline void extensions_goal_state_freep(ExtensionsGoalState **gs) {
        extensions_goal_state_free(*gs);
}

const char *goal_state_channel_to_string(GoalStateChannel c);
const char *goal_state_source_to_string(GoalStateSource s);
GoalStateSource goal_state_source_from_string(const char *s);
const char *status_blob_type_to_string(StatusBlobType t);
StatusBlobType status_blob_type_from_string(const char *s);
const char *extension_state_to_string(ExtensionState s);
ExtensionState extension_state_from_string(const char *s);

/* Finds a handler by name (case-insensitive, as waagent matches PluginSettings). */
const ExtensionHandler *extensions_goal_state_find_handler(const ExtensionsGoalState *gs, const char *name);

/*
 * ExtensionsConfig XML → goal state (§3.1). incarnation is the goal-state incarnation (the id becomes
 * "incarnation_<incarnation>"); NULL takes the document's goalStateIncarnation attribute. On failure returns
 * -EBADMSG (or -E2BIG, -ENOMEM) and, if ret_error is not NULL, a reason in waagent's words.
 */
int ext_conf_parse(const char *buf, size_t len, const char *incarnation, ExtensionsGoalState *ret,
                   char **ret_error);

/* InVMArtifactsProfile JSON ({"onHold": true|false|"true"|"false"}) → on_hold (§3.1). */
int artifacts_profile_parse(const char *buf, size_t len, bool *ret_on_hold, char **ret_error);

/*
 * vmSettings JSON → goal state (§3.2, keys matched case-insensitively). Fails with -EBADMSG on a parse error
 * ("Error parsing vmSettings [HGAP: <version>]: <reason>") and -EOPNOTSUPP when the HostGAPlugin is older than
 * 1.0.8.133 (Fast Track not supported). A goal state whose source is Fabric parses fine: goal_state_choose()
 * ignores it (it does not carry the tenant certificate).
 */
#define HGAP_MIN_VERSION_FOR_VM_SETTINGS   "1.0.8.133"
#define HGAP_MIN_VERSION_FOR_EXT_SIGNATURE "1.0.8.159"
int vm_settings_parse(const char *buf, size_t len, const char *etag, ExtensionsGoalState *ret,
                      char **ret_error);

/*
 * Picks the extensions goal state to execute (§1.4; waagent GoalState._fetch_full_goal_state):
 *   current           the goal state in effect (NULL at start),
 *   extensions_config a new ExtensionsConfig goal state (NULL when the incarnation did not change),
 *   vm_settings       a new vmSettings goal state (NULL when the etag did not change); ignored unless its
 *                     source is FastTrack.
 * When both are new, the more recent by createdOnTicks wins (ties go to ExtensionsConfig); the winner
 * replaces current only if it is not older. Returns the chosen pointer (which may be current or NULL).
 */
const ExtensionsGoalState *goal_state_choose(const ExtensionsGoalState *current,
                                             const ExtensionsGoalState *extensions_config,
                                             const ExtensionsGoalState *vm_settings);

/* waagent's created_on_timestamp: "%Y-%m-%dT%H:%M:%S.%fZ", clamped to 1900-01-01 (fast_track.json). */
int ticks_format_timestamp(uint64_t ticks, char *buf, size_t size);

/* Compares dotted versions numerically ("1.0.8.133" < "1.0.8.159"; missing parts are 0). Non-numeric parts
 * compare as 0. Returns <0, 0, >0. */
int flexible_version_compare(const char *a, const char *b);
/* waagent FlexibleVersion.matches(): "1.0" matches "1.0", "1.0.2"; "1.0" does not match "1.1". */
bool flexible_version_has_prefix(const char *version, const char *prefix);
