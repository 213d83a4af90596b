/* SPDX-License-Identifier: MIT */
/*
 * ExtensionsConfig XML parser (wire protocol §3.1; waagent extensions_goal_state_from_extensions_config.py).
 *
 * Pure function over (buf, len): Plugins/Plugin gives each handler (name, version, state, manifest locations,
 * encodedSignature), PluginSettings/Plugin (matched by name case-insensitively) its settings: one
 * RuntimeSettings (single-config) or several ExtensionRuntimeSettings (multi-config, one per extension
 * instance), and DependsOn levels. Handler-level inconsistencies are recorded in invalid_reason with waagent's
 * message and do not fail the document; structural problems (not XML, runtimeSettings missing, seqNo not a
 * number) fail it with "Error parsing ExtensionsConfig (incarnation: N): …".
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ext-util.h"
#include "extensions-goal-state.h"
#include "json-util.h"
#include "strutil.h"
#include "xml-util.h"

/* A handler-level error: recorded in ExtensionHandler.invalid_reason (waagent ExtensionsConfigError). */
#define HANDLER_INVALID (-EUCLEAN)

static int attr_or_null(xmlNodePtr n, const char *name, char **ret) {
        int r = xml_attr(n, name, ret);

        if (r == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        return r;
}

static int dependency_level(xmlNodePtr depends_on) {
        _cleanup_free_ char *v = NULL;
        int level;

        /* "Could not parse dependencyLevel for handler X. Setting it to 0" */
        if (!depends_on || xml_attr(depends_on, "dependencyLevel", &v) < 0 ||
            safe_atoi(strstrip(v), &level) < 0)
                return 0;
        return level;
}

static int parse_plugin(xmlNodePtr plugin, ExtensionHandler *h, char **reason) {
        _cleanup_free_ char *state = NULL;
        xmlNodePtr al;
        int r;

        r = attr_or_null(plugin, "name", &h->name);
        if (r < 0)
                return r;
        r = attr_or_null(plugin, "version", &h->version);
        if (r < 0)
                return r;
        r = attr_or_null(plugin, "location", &h->location);
        if (r < 0)
                return r;
        r = attr_or_null(plugin, "failoverlocation", &h->failover_location);
        if (r < 0)
                return r;
        r = attr_or_null(plugin, "encodedSignature", &h->encoded_signature);
        if (r < 0)
                return r;
        if (h->encoded_signature && isempty(h->encoded_signature))
                h->encoded_signature = mfree_str(h->encoded_signature);

        /* Optional PIR-generated extra manifest links. */
        al = xml_child(plugin, "additionalLocations");
        XML_FOREACH_CHILD (n, al, "additionalLocation") {
                _cleanup_free_ char *u = NULL;

                if (strv_length(h->additional_locations) >= EXT_LOCATIONS_MAX)
                        return -E2BIG;
                r = xml_node_text(n, &u);
                if (r < 0)
                        return r;
                r = strv_push(&h->additional_locations, u);
                if (r < 0)
                        return r;
                TAKE_PTR(u);
        }

        r = attr_or_null(plugin, "state", &state);
        if (r < 0)
                return r;
        if (isempty(state))
                return ext_error(reason, HANDLER_INVALID,
                                 "Received empty Extensions.Plugins.Plugin.state, failing Handler");
        h->state = extension_state_from_string(state);
        if (h->state < 0)
                return ext_error(reason, HANDLER_INVALID, "Unknown ext handler state:%s", state);
        /* Directories, downloads and the plan all need the version. Found by fuzz-ext-conf
         * (corpus/ext-conf/crash-plugin-without-version). */
        if (isempty(h->version))
                return ext_error(reason, HANDLER_INVALID, "Plugin %s has no version", strna(h->name));
        return 0;
}

/* Adds the settings described by one RuntimeSettings/ExtensionRuntimeSettings node (§3.1). */
static int add_settings(ExtensionHandler *h, xmlNodePtr node, const char *name, int level,
                        ExtensionState state, char **reason, char **doc_error) {
        _cleanup_json_ struct json_object *o = NULL;
        _cleanup_free_ char *seq = NULL, *text = NULL;
        struct json_object *list;
        ExtensionSettings *s;
        unsigned seq_no;
        size_t n;
        int r;

        r = attr_or_null(node, "seqNo", &seq);
        if (r < 0)
                return r;
        if (isempty(seq))
                return ext_error(reason, HANDLER_INVALID, "SeqNo not specified for the Extension: %s", name);
        if (safe_atou(strstrip(seq), &seq_no) < 0)
                return ext_error(doc_error, -EBADMSG, "invalid literal for int() with base 10: '%s'", seq);

        r = xml_node_text(node, &text);
        if (r < 0)
                return r;
        if (strlen(text) > EXT_SETTINGS_TEXT_MAX)
                return ext_error(doc_error, -E2BIG, "Settings of %s exceed %u bytes", name,
                                 EXT_SETTINGS_TEXT_MAX);

        if (json_parse_buffer(text, strlen(text), &o, NULL) < 0) {
                /* Invalid (or no) settings: keep name and seqNo so that status can still be reported and CRP
                 * fails fast instead of timing out. */
                r = EXT_ARRAY_GROW(h->settings, h->n_settings, EXT_SETTINGS_PER_HANDLER_MAX, &s);
                if (r < 0)
                        return r;
                *s = (ExtensionSettings){.seq_no = seq_no,
                                         .state = state,
                                         .dependency_level = level,
                                         .settings_invalid = true};
                s->name = strdup(name);
                return s->name ? 0 : -ENOMEM;
        }

        list = json_get(o, "runtimeSettings", false);
        if (!list || !json_object_is_type(list, json_type_array))
                return ext_error(doc_error, -EBADMSG, "'runtimeSettings' missing in the settings of %s",
                                 name);
        n = json_object_array_length(list);
        for (size_t i = 0; i < n; i++) {
                struct json_object *hs =
                        json_get(json_object_array_get_idx(list, i), "handlerSettings", false);
                struct json_object *v;

                if (!hs || !json_object_is_type(hs, json_type_object))
                        return ext_error(doc_error, -EBADMSG,
                                         "'handlerSettings' missing in the settings of %s", name);
                r = EXT_ARRAY_GROW(h->settings, h->n_settings, EXT_SETTINGS_PER_HANDLER_MAX, &s);
                if (r < 0)
                        return r;
                *s = (ExtensionSettings){.seq_no = seq_no, .state = state, .dependency_level = level};
                s->name = strdup(name);
                if (!s->name)
                        return -ENOMEM;
                r = ext_json_compact(json_get(hs, "publicSettings", false), &s->public_settings);
                if (r < 0)
                        return r;
                v = json_get(hs, "protectedSettings", false);
                if (v && json_object_is_type(v, json_type_string) &&
                    !(s->protected_settings = strdup(json_object_get_string(v))))
                        return -ENOMEM;
                v = json_get(hs, "protectedSettingsCertThumbprint", false);
                if (v && json_object_is_type(v, json_type_string) &&
                    !(s->protected_settings_cert_thumbprint = strdup(json_object_get_string(v))))
                        return -ENOMEM;
        }
        return 0;
}

static int parse_single_config(ExtensionHandler *h, xmlNodePtr ps, xmlNodePtr rs, char **reason,
                               char **doc_error) {
        xmlNodePtr depends_on = NULL;
        size_t n = 0;

        XML_FOREACH_CHILD (d, ps, "DependsOn") {
                depends_on = depends_on ?: d;
                n++;
        }
        if (n > 1)
                return ext_error(reason, HANDLER_INVALID,
                                 "Extension Handler can only have a single dependsOn node for Single config "
                                 "extensions. Found: %zu",
                                 n);
        return add_settings(h, rs, h->name, dependency_level(depends_on), EXTENSION_STATE_ENABLED, reason,
                            doc_error);
}

static int parse_multi_config(ExtensionHandler *h, xmlNodePtr ps, char **reason, char **doc_error) {
        int r;

        XML_FOREACH_CHILD (d, ps, "DependsOn") {
                _cleanup_free_ char *n = NULL;

                if (attr_or_null(d, "name", &n) < 0 || isempty(n))
                        return ext_error(
                                reason, HANDLER_INVALID,
                                "No Name not specified for DependsOn object in ExtensionRuntimeSettings "
                                "for MultiConfig!");
        }

        h->is_multi_config = true;
        XML_FOREACH_CHILD (e, ps, "ExtensionRuntimeSettings") {
                _cleanup_free_ char *name = NULL, *state = NULL;
                ExtensionState st = EXTENSION_STATE_ENABLED;
                int level = 0;

                r = attr_or_null(e, "name", &name);
                if (r < 0)
                        return r;
                if (isempty(name))
                        return ext_error(reason, HANDLER_INVALID,
                                         "Extension Name not specified for ExtensionRuntimeSettings for "
                                         "MultiConfig!");
                r = attr_or_null(e, "state", &state);
                if (r < 0)
                        return r;
                if (!isempty(state)) {
                        /* enabled (default) or disabled, case-insensitive */
                        for (char *c = state; *c; c++)
                                *c = (char) (*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
                        st = extension_state_from_string(state);
                        if (st < 0)
                                return ext_error(reason, HANDLER_INVALID, "Unknown extension state:%s",
                                                 state);
                }
                /* The last DependsOn naming this instance wins (waagent fills a dict). */
                XML_FOREACH_CHILD (d, ps, "DependsOn") {
                        _cleanup_free_ char *dn = NULL;

                        if (attr_or_null(d, "name", &dn) >= 0 && streq_ptr(dn, name))
                                level = dependency_level(d);
                }
                r = add_settings(h, e, name, level, st, reason, doc_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_plugin_settings(ExtensionHandler *h, xmlNodePtr plugin_settings, char **reason,
                                 char **doc_error) {
        xmlNodePtr match = NULL, rs;
        size_t n_match = 0, n_version = 0, n_rs = 0, n_ers = 0;
        _cleanup_free_ char *versions = NULL;

        if (!h->name)
                return 0;
        XML_FOREACH_CHILD (p, plugin_settings, "Plugin") {
                _cleanup_free_ char *name = NULL, *version = NULL;

                if (attr_or_null(p, "name", &name) < 0 || !name || strcasecmp(name, h->name) != 0)
                        continue;
                n_match++;
                (void) attr_or_null(p, "version", &version);
                if (streq_ptr(version, h->version)) {
                        n_version++;
                        match = match ?: p;
                } else if (version && (!versions || !strstr(versions, version))) {
                        char *t = NULL;

                        if (asprintf(&t, "%s%s%s", strempty(versions), versions ? ", " : "", version) < 0)
                                return -ENOMEM;
                        free(versions);
                        versions = t;
                }
        }
        if (n_match == 0)
                return 0;
        if (n_version != n_match)
                return ext_error(
                        reason, HANDLER_INVALID,
                        "Extension PluginSettings Version Mismatch! Expected PluginSettings version: %s "
                        "for Extension: %s but found versions: (%s)",
                        strna(h->version), h->name, strempty(versions));
        if (n_version > 1)
                return ext_error(reason, HANDLER_INVALID,
                                 "Multiple plugin settings found for the same extension: %s and version: %s "
                                 "(Expected: 1; Available: %zu)",
                                 h->name, strna(h->version), n_version);

        rs = xml_child(match, "RuntimeSettings");
        XML_FOREACH_CHILD (x, match, "RuntimeSettings")
                n_rs++;
        XML_FOREACH_CHILD (x, match, "ExtensionRuntimeSettings")
                n_ers++;
        if (n_rs > 0 && n_ers > 0)
                return ext_error(
                        reason, HANDLER_INVALID,
                        "Both RuntimeSettings and ExtensionRuntimeSettings found for the same extension: "
                        "%s and version: %s",
                        h->name, strna(h->version));
        if (n_rs > 1)
                return ext_error(reason, HANDLER_INVALID,
                                 "Multiple RuntimeSettings found for the same extension: %s and version: %s "
                                 "(Expected: 1; Available: %zu)",
                                 h->name, strna(h->version), n_rs);
        if (n_rs == 1)
                return parse_single_config(h, match, rs, reason, doc_error);
        if (n_ers > 0)
                return parse_multi_config(h, match, reason, doc_error);
        return 0;
}

/* Drops settings parsed before a handler-level error: the handler is reported as failed, not executed. */
static void handler_clear_settings(ExtensionHandler *h) {
        for (size_t i = 0; i < h->n_settings; i++) {
                free(h->settings[i].name);
                free(h->settings[i].public_settings);
                erase_and_free(h->settings[i].protected_settings);
                free(h->settings[i].protected_settings_cert_thumbprint);
        }
        h->settings = mfree_ptr(h->settings);
        h->n_settings = 0;
}

static int parse_handlers(xmlNodePtr root, ExtensionsGoalState *gs, char **doc_error) {
        xmlNodePtr plugins = xml_child(root, "Plugins"), settings = xml_child(root, "PluginSettings");
        int r;

        XML_FOREACH_CHILD (p, plugins, "Plugin") {
                _cleanup_free_ char *reason = NULL;
                ExtensionHandler *h;

                r = EXT_ARRAY_GROW(gs->handlers, gs->n_handlers, EXT_HANDLERS_MAX, &h);
                if (r < 0)
                        return ext_error(doc_error, r, "Too many plugins (more than %u)", EXT_HANDLERS_MAX);
                r = parse_plugin(p, h, &reason);
                /* A handler is identified by its name everywhere (directories, plan, status): without one the
                 * document is unusable, whether or not the rest of the Plugin was valid. Found by fuzz-ext-conf
                 * (corpus/ext-conf/crash-plugin-without-name, crash-invalid-plugin-without-name). */
                if ((r >= 0 || r == HANDLER_INVALID) && isempty(h->name))
                        return ext_error(doc_error, -EBADMSG, "Plugin #%zu has no name", gs->n_handlers);
                if (r >= 0)
                        r = parse_plugin_settings(h, settings, &reason, doc_error);
                if (r == HANDLER_INVALID) {
                        handler_clear_settings(h);
                        h->invalid_reason = TAKE_PTR(reason);
                        if (!h->invalid_reason)
                                return -ENOMEM;
                } else if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_agent_families(xmlNodePtr root, ExtensionsGoalState *gs) {
        xmlNodePtr families = xml_find(root, "GuestAgentExtension/GAFamilies");
        int r;

        XML_FOREACH_CHILD (f, families, "GAFamily") {
                AgentFamily *a;

                r = EXT_ARRAY_GROW(gs->agent_families, gs->n_agent_families, EXT_AGENT_FAMILIES_MAX, &a);
                if (r < 0)
                        return r;
                r = xml_find_text(f, "Name", &a->name);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = xml_find_text(f, "Version", &a->version);
                if (r < 0 && r != -ENOENT)
                        return r;
                if (a->version && isempty(a->version))
                        a->version = mfree_str(a->version);
                XML_FOREACH_CHILD (u, xml_child(f, "Uris"), "Uri") {
                        _cleanup_free_ char *t = NULL;

                        if (strv_length(a->uris) >= EXT_LOCATIONS_MAX)
                                return -E2BIG;
                        r = xml_node_text(u, &t);
                        if (r < 0)
                                return r;
                        r = strv_push(&a->uris, t);
                        if (r < 0)
                                return r;
                        TAKE_PTR(t);
                }
        }
        return 0;
}

static int parse_globals(xmlNodePtr root, ExtensionsGoalState *gs) {
        xmlNodePtr n;
        int r;

        XML_FOREACH_CHILD (f, xml_child(root, "RequiredFeatures"), "RequiredFeature") {
                _cleanup_free_ char *name = NULL;

                if (strv_length(gs->required_features) >= EXT_REQUIRED_FEATURES_MAX)
                        return -E2BIG;
                r = xml_find_text(f, "Name", &name);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = strv_push(&gs->required_features, name);
                if (r < 0)
                        return r;
                TAKE_PTR(name);
        }

        n = xml_child(root, "StatusUploadBlob");
        if (n) {
                _cleanup_free_ char *type = NULL;

                r = xml_node_text(n, &gs->status_upload_blob);
                if (r < 0)
                        return r;
                r = attr_or_null(n, "statusBlobType", &type);
                if (r < 0)
                        return r;
                gs->status_upload_blob_type = status_blob_type_from_string(type);
        } else
                gs->status_upload_blob_type = _STATUS_BLOB_TYPE_INVALID;
        /* "Status Blob type '…' is not valid, assuming BlockBlob" (ExtensionsGoalState._do_common_validations) */
        if (gs->status_upload_blob_type < 0) {
                gs->status_upload_blob_type_defaulted = n != NULL;
                gs->status_upload_blob_type = STATUS_BLOB_TYPE_BLOCK;
        }

        n = xml_child(root, "InVMArtifactsProfileBlob");
        if (n) {
                r = xml_node_text(n, &gs->artifacts_profile_blob);
                if (r < 0)
                        return r;
                if (isempty(gs->artifacts_profile_blob))
                        gs->artifacts_profile_blob = mfree_str(gs->artifacts_profile_blob);
        }

        n = xml_child(root, "InVMGoalStateMetaData");
        if (n) {
                _cleanup_free_ char *ticks = NULL;
                uint64_t t;

                if (attr_or_null(n, "activityId", &gs->activity_id) < 0 ||
                    attr_or_null(n, "correlationId", &gs->correlation_id) < 0 ||
                    attr_or_null(n, "inSvdSeqNo", &gs->in_svd_seq_no) < 0 ||
                    attr_or_null(n, "createdOnTicks", &ticks) < 0)
                        return -ENOMEM;
                /* Unparsable ticks fall back to the minimum timestamp, as in waagent. */
                if (ticks && safe_atou64(ticks, &t) >= 0)
                        gs->created_on_ticks = t;
        }
        return 0;
}

int ext_conf_parse(const char *buf, size_t len, const char *incarnation, ExtensionsGoalState *ret,
                   char **ret_error) {
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {
                .channel = GOAL_STATE_CHANNEL_WIRESERVER,
                .source = GOAL_STATE_SOURCE_FABRIC,
        };
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_free_ char *error = NULL, *inc = NULL;
        xmlNodePtr root;
        int r;

        if (len > EXT_GOAL_STATE_DOCUMENT_MAX)
                return ext_error(ret_error, -E2BIG, "ExtensionsConfig exceeds %u bytes",
                                 EXT_GOAL_STATE_DOCUMENT_MAX);
        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return ext_error(ret_error, r,
                                 "Error parsing ExtensionsConfig (incarnation: %s): not a valid XML "
                                 "document",
                                 strna(incarnation));
        root = xml_doc_root(doc);

        if (incarnation)
                inc = strdup(incarnation);
        else if (xml_attr(root, "goalStateIncarnation", &inc) < 0)
                inc = strdup("0");
        if (!inc)
                return -ENOMEM;
        if (asprintf(&gs.id, "incarnation_%s", inc) < 0)
                return -ENOMEM;
        gs.incarnation = TAKE_PTR(inc);

        r = parse_agent_families(root, &gs);
        if (r >= 0)
                r = parse_handlers(root, &gs, &error);
        if (r >= 0)
                r = parse_globals(root, &gs);
        if (r < 0)
                return ext_error(ret_error, r, "Error parsing ExtensionsConfig (incarnation: %s): %s",
                                 gs.incarnation, error ?: strerror(-r));

        *ret = gs;
        gs = (ExtensionsGoalState){};
        return 0;
}

int artifacts_profile_parse(const char *buf, size_t len, bool *ret_on_hold, char **ret_error) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        JsonError err = {};
        int r;

        r = json_parse_buffer(buf, len, &o, &err);
        if (r < 0)
                return ext_error(ret_error, r, "Could not parse artifacts profile blob: %s", err.message);
        if (!json_object_is_type(o, json_type_object))
                return ext_error(ret_error, -EBADMSG,
                                 "Could not parse artifacts profile blob: not an object");
        v = json_get(o, "onHold", false);
        if (!v) {
                *ret_on_hold = false;
                return 0;
        }
        /* Accepts both bool and str values. */
        if (json_object_is_type(v, json_type_boolean)) {
                *ret_on_hold = json_object_get_boolean(v);
                return 0;
        }
        if (json_object_is_type(v, json_type_string)) {
                const char *s = json_object_get_string(v);

                if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
                        *ret_on_hold = strcasecmp(s, "true") == 0;
                        return 0;
                }
        }
        return ext_error(ret_error, -EBADMSG, "Invalid value for onHold: %s", json_object_to_json_string(v));
}
