/* SPDX-License-Identifier: MIT */
/*
 * vmSettings JSON parser (Fast Track; wire protocol §2.1/§3.2; waagent extensions_goal_state_from_vm_settings.py).
 *
 * Pure function over (buf, len). Keys are matched case-insensitively because the HostGAPlugin is inconsistent
 * about their case ("failoverlocation" vs "failoverLocation", "StatusUploadBlob"); waagent does the same with
 * its _CaseFoldedDict. publicSettings arrive as a JSON *string* holding JSON; they are parsed (a parse error
 * fails the goal state) and stored compact. Every error fails the whole document with waagent's message
 * "Error parsing vmSettings [HGAP: <version>]: <reason>"; protected settings never appear in a reason.
 */
#include <stdio.h>
#include <string.h>

#include "ext-util.h"
#include "extensions-goal-state.h"
#include "json-util.h"
#include "strutil.h"

static const char *get_string(struct json_object *o, const char *key) {
        struct json_object *v = ext_json_get(o, key);

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static int dup_string(struct json_object *o, const char *key, char **dest) {
        const char *s = get_string(o, key);

        return free_and_strdup(dest, s);
}

static int require_string(struct json_object *o, const char *key, char **dest, char **reason) {
        struct json_object *v = ext_json_get(o, key);

        if (!v)
                return ext_error(reason, -EBADMSG, "'%s'", key); /* Python's KeyError text */
        if (!json_object_is_type(v, json_type_string))
                return ext_error(reason, -EBADMSG, "'%s' should be a string", key);
        return free_and_strdup(dest, json_object_get_string(v));
}

static int get_uint(struct json_object *o, const char *key, bool mandatory, unsigned *ret, char **reason) {
        struct json_object *v = ext_json_get(o, key);
        int64_t i;

        if (!v) {
                if (mandatory)
                        return ext_error(reason, -EBADMSG, "'%s'", key);
                return 0;
        }
        if (!json_object_is_type(v, json_type_int))
                return ext_error(reason, -EBADMSG, "'%s' should be an integer", key);
        i = json_object_get_int64(v);
        if (i < 0 || i > UINT32_MAX)
                return ext_error(reason, -EBADMSG, "'%s' is out of range", key);
        *ret = (unsigned) i;
        return 0;
}

static int strv_from_array(struct json_object *a, const char *what, char ***dest, char **reason) {
        size_t n;
        int r;

        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return ext_error(reason, -EBADMSG, "%s should be an array", what);
        n = json_object_array_length(a);
        if (n > EXT_LOCATIONS_MAX)
                return ext_error(reason, -E2BIG, "%s has more than %u entries", what, EXT_LOCATIONS_MAX);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);

                if (!json_object_is_type(e, json_type_string))
                        return ext_error(reason, -EBADMSG, "%s should be an array of strings", what);
                r = strv_extend(dest, json_object_get_string(e));
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_simple_attributes(struct json_object *o, ExtensionsGoalState *gs, char **reason) {
        struct json_object *v;
        const char *source;
        int r;

        if ((r = dup_string(o, "hostGAPluginVersion", &gs->host_ga_plugin_version)) < 0 ||
            (r = dup_string(o, "activityId", &gs->activity_id)) < 0 ||
            (r = dup_string(o, "correlationId", &gs->correlation_id)) < 0)
                return r;

        v = ext_json_get(o, "inSvdSeqNo");
        if (v && (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_string)) &&
            free_and_strdup(&gs->in_svd_seq_no, json_object_get_string(v)) < 0)
                return -ENOMEM;

        v = ext_json_get(o, "extensionsLastModifiedTickCount");
        if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0)
                gs->created_on_ticks = json_object_get_uint64(v);

        v = ext_json_get(o, "onHold");
        if (v) {
                if (!json_object_is_type(v, json_type_boolean))
                        return ext_error(reason, -EBADMSG, "onHold should be a boolean");
                gs->on_hold = json_object_get_boolean(v);
        }

        source = get_string(o, "extensionGoalStatesSource");
        gs->source = source ? goal_state_source_from_string(source) : GOAL_STATE_SOURCE_UNKNOWN;
        if (gs->source < 0)
                gs->source = GOAL_STATE_SOURCE_UNKNOWN;
        return 0;
}

static int parse_status_upload_blob(struct json_object *o, ExtensionsGoalState *gs, char **reason) {
        struct json_object *blob = ext_json_get(o, "statusUploadBlob");
        const char *type;

        gs->status_upload_blob_type = STATUS_BLOB_TYPE_BLOCK;
        if (!blob)
                return 0;
        if (!get_string(blob, "value"))
                return ext_error(reason, -EBADMSG, "Missing statusUploadBlob.value");
        if (dup_string(blob, "value", &gs->status_upload_blob) < 0)
                return -ENOMEM;
        type = get_string(blob, "statusBlobType");
        if (type) {
                gs->status_upload_blob_type = status_blob_type_from_string(type);
                if (gs->status_upload_blob_type < 0) {
                        /* "Status Blob type '…' is not valid, assuming BlockBlob" */
                        gs->status_upload_blob_type = STATUS_BLOB_TYPE_BLOCK;
                        gs->status_upload_blob_type_defaulted = true;
                }
        }
        return 0;
}

static int parse_required_features(struct json_object *o, ExtensionsGoalState *gs, char **reason) {
        struct json_object *a = ext_json_get(o, "requiredFeatures");
        size_t n;
        int r;

        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return ext_error(reason, -EBADMSG, "requiredFeatures should be an array");
        n = json_object_array_length(a);
        if (n > EXT_REQUIRED_FEATURES_MAX)
                return ext_error(reason, -E2BIG, "too many requiredFeatures");
        for (size_t i = 0; i < n; i++) {
                const char *name = get_string(json_object_array_get_idx(a, i), "name");

                if (!name)
                        return ext_error(reason, -EBADMSG,
                                         "A required feature is missing the 'name' property");
                r = strv_extend(&gs->required_features, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_agent_families(struct json_object *o, ExtensionsGoalState *gs, char **reason) {
        struct json_object *a = ext_json_get(o, "gaFamilies");
        size_t n;
        int r;

        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return ext_error(reason, -EBADMSG, "gaFamilies should be an array");
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                struct json_object *f = json_object_array_get_idx(a, i);
                AgentFamily *af;

                r = EXT_ARRAY_GROW(gs->agent_families, gs->n_agent_families, EXT_AGENT_FAMILIES_MAX, &af);
                if (r < 0)
                        return ext_error(reason, r, "too many gaFamilies");
                if ((r = require_string(f, "name", &af->name, reason)) < 0 ||
                    (r = dup_string(f, "version", &af->version)) < 0)
                        return r;
                /* Missing uris → no manifests (waagent test_it_should_parse_missing_agent_manifests_as_empty). */
                r = strv_from_array(ext_json_get(f, "uris"), "uris", &af->uris, reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_settings(struct json_object *e, ExtensionHandler *h, unsigned settings_seq_no,
                          char **reason) {
        struct json_object *list = ext_json_get(e, "settings");
        size_t n;
        int r;

        if (!list)
                return 0;
        if (!json_object_is_type(list, json_type_array))
                return ext_error(reason, -EBADMSG, "'settings' should be an array (extension: %s)", h->name);
        n = json_object_array_length(list);
        if (!h->is_multi_config && n > 1)
                return ext_error(reason, -EBADMSG,
                                 "Single-config extension includes multiple settings (extension: %s)",
                                 h->name);
        for (size_t i = 0; i < n; i++) {
                struct json_object *s = json_object_array_get_idx(list, i), *pub;
                ExtensionSettings *es;

                r = EXT_ARRAY_GROW(h->settings, h->n_settings, EXT_SETTINGS_PER_HANDLER_MAX, &es);
                if (r < 0)
                        return ext_error(reason, r, "too many settings (extension: %s)", h->name);
                es->state = h->state;

                /* publicSettings is a JSON string holding JSON; null/absent stays NULL (serialized as null). */
                pub = ext_json_get(s, "publicSettings");
                if (pub) {
                        _cleanup_json_ struct json_object *parsed = NULL;
                        const char *t;

                        if (!json_object_is_type(pub, json_type_string))
                                return ext_error(reason, -EBADMSG,
                                                 "publicSettings should be a string (extension: %s)",
                                                 h->name);
                        t = json_object_get_string(pub);
                        if (strlen(t) > EXT_SETTINGS_TEXT_MAX)
                                return ext_error(reason, -E2BIG, "publicSettings too large (extension: %s)",
                                                 h->name);
                        if (json_parse_buffer(t, strlen(t), &parsed, NULL) < 0)
                                return ext_error(reason, -EBADMSG, "Invalid publicSettings (extension: %s)",
                                                 h->name);
                        r = ext_json_compact(parsed, &es->public_settings);
                        if (r < 0)
                                return r;
                }
                if ((r = dup_string(s, "protectedSettings", &es->protected_settings)) < 0 ||
                    (r = dup_string(s, "protectedSettingsCertThumbprint",
                                    &es->protected_settings_cert_thumbprint)) < 0)
                        return r;
                if (es->protected_settings && !es->protected_settings_cert_thumbprint)
                        return ext_error(reason, -EBADMSG,
                                         "The certificate thumbprint for protected settings is missing "
                                         "(extension: %s)",
                                         h->name);

                /* In multi-config each settings have their own name, sequence number and state. */
                if (h->is_multi_config) {
                        _cleanup_free_ char *state = NULL;

                        if ((r = require_string(s, "extensionName", &es->name, reason)) < 0 ||
                            (r = get_uint(s, "seqNo", true, &es->seq_no, reason)) < 0 ||
                            (r = require_string(s, "extensionState", &state, reason)) < 0)
                                return r;
                        es->state = extension_state_from_string(state);
                        if (es->state < 0)
                                return ext_error(reason, -EBADMSG, "Invalid extension state: %s (%s)", state,
                                                 es->name);
                } else {
                        es->name = strdup(h->name);
                        if (!es->name)
                                return -ENOMEM;
                        es->seq_no = settings_seq_no;
                }
        }
        return 0;
}

static int parse_dependency_level(struct json_object *depends_on, ExtensionHandler *h, char **reason) {
        size_t n;
        int r;

        if (!json_object_is_type(depends_on, json_type_array))
                return ext_error(reason, -EBADMSG, "dependsOn should be an array (%s)", h->name);
        n = json_object_array_length(depends_on);

        if (!h->is_multi_config) {
                unsigned level = 0;

                if (n > 1)
                        return ext_error(
                                reason, -EBADMSG,
                                "dependsOn should be an array with exactly one item for single-config "
                                "extensions (%s)",
                                h->name);
                /* An empty array sets the dependency level to 0. */
                if (n == 1) {
                        r = get_uint(json_object_array_get_idx(depends_on, 0), "dependencyLevel", true,
                                     &level, reason);
                        if (r < 0)
                                return r;
                }
                if (h->n_settings == 0) {
                        if (n == 1)
                                return ext_error(reason, -EBADMSG, "dependsOn given without settings (%s)",
                                                 h->name);
                        return 0;
                }
                h->settings[0].dependency_level = (int) level;
                return 0;
        }

        for (size_t i = 0; i < n; i++) {
                struct json_object *d = json_object_array_get_idx(depends_on, i);
                const char *name = get_string(d, "name");
                ExtensionSettings *match = NULL;
                unsigned level;

                if (!name)
                        return ext_error(reason, -EBADMSG, "'name'");
                for (size_t j = 0; j < h->n_settings; j++)
                        if (streq(h->settings[j].name, name))
                                match = &h->settings[j];
                if (!match)
                        return ext_error(reason, -EBADMSG,
                                         "Dependency '%s' does not correspond to any of the settings in the "
                                         "extension",
                                         name);
                r = get_uint(d, "dependencyLevel", true, &level, reason);
                if (r < 0)
                        return r;
                match->dependency_level = (int) level;
        }
        return 0;
}

static int parse_extension(struct json_object *e, ExtensionsGoalState *gs, ExtensionHandler *h,
                           char **reason) {
        _cleanup_free_ char *state = NULL;
        struct json_object *v;
        unsigned settings_seq_no = 0;
        int r;

        if ((r = require_string(e, "name", &h->name, reason)) < 0 ||
            (r = require_string(e, "version", &h->version, reason)) < 0 ||
            (r = require_string(e, "state", &state, reason)) < 0)
                return r;
        h->state = extension_state_from_string(state);
        if (h->state < 0)
                return ext_error(reason, -EBADMSG, "Invalid extension state: %s (%s)", state, h->name);

        v = ext_json_get(e, "isMultiConfig");
        if (v && json_object_is_type(v, json_type_boolean))
                h->is_multi_config = json_object_get_boolean(v);

        /* Manifest locations; a missing location gives an empty list (vm_settings-no_manifests.json). */
        if ((r = dup_string(e, "location", &h->location)) < 0 ||
            (r = dup_string(e, "failoverLocation", &h->failover_location)) < 0)
                return r;
        r = strv_from_array(ext_json_get(e, "additionalLocations"), "additionalLocations",
                            &h->additional_locations, reason);
        if (r < 0)
                return r;

        /* encodedSignature is always parsed; HGAP versions before 1.0.8.159 do not send it, which only matters
         * for reporting a missing signature (_MIN_HGAP_VERSION_FOR_EXT_SIGNATURE_VALIDATION). */
        r = dup_string(e, "encodedSignature", &h->encoded_signature);
        if (r < 0)
                return r;
        if (h->encoded_signature && isempty(h->encoded_signature))
                h->encoded_signature = mfree_str(h->encoded_signature);

        if (!h->is_multi_config) {
                r = get_uint(e, "settingsSeqNo", false, &settings_seq_no, reason);
                if (r < 0)
                        return r;
        }
        r = parse_settings(e, h, settings_seq_no, reason);
        if (r < 0)
                return r;

        v = ext_json_get(e, "dependsOn");
        if (v)
                return parse_dependency_level(v, h, reason);
        return 0;
}

static int parse_extensions(struct json_object *o, ExtensionsGoalState *gs, char **reason) {
        struct json_object *a = ext_json_get(o, "extensionGoalStates");
        size_t n;
        int r;

        if (!a)
                return 0;
        if (!json_object_is_type(a, json_type_array))
                /* report only the type, since the value may contain secrets */
                return ext_error(reason, -EBADMSG, "extension_goal_states should be an array (got %s)",
                                 json_type_to_name(json_object_get_type(a)));
        n = json_object_array_length(a);
        for (size_t i = 0; i < n; i++) {
                ExtensionHandler *h;

                r = EXT_ARRAY_GROW(gs->handlers, gs->n_handlers, EXT_HANDLERS_MAX, &h);
                if (r < 0)
                        return ext_error(reason, r, "too many extensions (more than %u)", EXT_HANDLERS_MAX);
                r = parse_extension(json_object_array_get_idx(a, i), gs, h, reason);
                if (r < 0)
                        return r;
        }
        return 0;
}

int vm_settings_parse(const char *buf, size_t len, const char *etag, ExtensionsGoalState *ret,
                      char **ret_error) {
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {
                .channel = GOAL_STATE_CHANNEL_HOSTGAPLUGIN,
                .source = GOAL_STATE_SOURCE_UNKNOWN,
        };
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ char *reason = NULL;
        JsonError err = {};
        int r;

        if (!etag)
                return -EINVAL;
        if (len > EXT_GOAL_STATE_DOCUMENT_MAX)
                return ext_error(ret_error, -E2BIG,
                                 "Error parsing vmSettings [HGAP: 0.0.0.0]: document exceeds %u bytes",
                                 EXT_GOAL_STATE_DOCUMENT_MAX);
        r = json_parse_buffer(buf, len, &o, &err);
        if (r < 0)
                return ext_error(ret_error, r, "Error parsing vmSettings [HGAP: 0.0.0.0]: %s", err.message);
        if (!json_object_is_type(o, json_type_object))
                return ext_error(ret_error, -EBADMSG,
                                 "Error parsing vmSettings [HGAP: 0.0.0.0]: not a JSON object");

        gs.etag = strdup(etag);
        if (!gs.etag || asprintf(&gs.id, "etag_%s", etag) < 0)
                return -ENOMEM;

        /* The HGAP version is included in the messages, so parse it first. */
        r = parse_simple_attributes(o, &gs, &reason);
        if (r >= 0)
                r = parse_status_upload_blob(o, &gs, &reason);
        if (r >= 0)
                r = parse_required_features(o, &gs, &reason);
        if (r >= 0)
                r = parse_agent_families(o, &gs, &reason);
        if (r >= 0)
                r = parse_extensions(o, &gs, &reason);
        if (r < 0)
                return ext_error(ret_error, r, "Error parsing vmSettings [HGAP: %s]: %s",
                                 gs.host_ga_plugin_version ?: "0.0.0.0", reason ?: strerror(-r));

        /* HostGAPlugin versions older than 1.0.8.133 are treated as not supporting Fast Track (§2.1). */
        if (!gs.host_ga_plugin_version ||
            flexible_version_compare(gs.host_ga_plugin_version, HGAP_MIN_VERSION_FOR_VM_SETTINGS) < 0)
                return ext_error(
                        ret_error, -EOPNOTSUPP,
                        "HostGAPlugin %s does not support the vmSettings API. Will not use FastTrack.",
                        gs.host_ga_plugin_version ?: "0.0.0.0");

        *ret = gs;
        gs = (ExtensionsGoalState){};
        return 0;
}
