/* SPDX-License-Identifier: MIT */
/*
 * HandlerManifest.json parser; see handler-manifest.h. Pure over (buf, len).
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ext-util.h"
#include "handler-manifest.h"
#include "json-util.h"

void handler_manifest_done(HandlerManifest *m) {
        if (!m)
                return;
        free(m->name);
        free(m->version);
        free(m->install_command);
        free(m->uninstall_command);
        free(m->update_command);
        free(m->enable_command);
        free(m->disable_command);
        free(m->signing_type);
        free(m->signing_publisher);
        free(m->signing_version);
        *m = (HandlerManifest){};
}

/* waagent _parse_boolean_value(): bool, or "true"/"false" in any case; anything else is false. */
static bool boolean_value(struct json_object *o, const char *key) {
        struct json_object *v = json_get(o, key, false);

        if (v && json_object_is_type(v, json_type_boolean))
                return json_object_get_boolean(v);
        if (v && json_object_is_type(v, json_type_string))
                return strcasecmp(json_object_get_string(v), "true") == 0;
        return false;
}

static int string_value(struct json_object *o, const char *key, char **dest) {
        struct json_object *v = json_get(o, key, false);

        if (!v || json_object_is_type(v, json_type_null))
                return 0;
        /* "version": 1.0 is a number in every manifest; keep its text. */
        return free_and_strdup(dest, json_object_get_string(v));
}

int handler_manifest_parse(const char *buf, size_t len, HandlerManifest *ret, char **ret_error) {
        _cleanup_(handler_manifest_done) HandlerManifest m = {.cpu_quota_percentage = -1};
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *first, *hm, *v;
        JsonError err = {};
        int r;

        if (len > HANDLER_MANIFEST_MAX)
                return ext_error(ret_error, -E2BIG, "HandlerManifest.json exceeds %u bytes",
                                 HANDLER_MANIFEST_MAX);
        if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
                buf += 3;
                len -= 3;
        }
        r = json_parse_buffer(buf, len, &o, &err);
        if (r < 0)
                return ext_error(ret_error, r, "Malformed manifest file: %s", err.message);
        first = json_object_is_type(o, json_type_array) ? json_object_array_get_idx(o, 0) : o;
        hm = json_get(first, "handlerManifest", false);
        if (!hm || !json_object_is_type(hm, json_type_object))
                return ext_error(ret_error, -EBADMSG, "Malformed manifest file.");

        if ((r = string_value(first, "name", &m.name)) < 0 ||
            (r = string_value(first, "version", &m.version)) < 0 ||
            (r = string_value(hm, "installCommand", &m.install_command)) < 0 ||
            (r = string_value(hm, "uninstallCommand", &m.uninstall_command)) < 0 ||
            (r = string_value(hm, "updateCommand", &m.update_command)) < 0 ||
            (r = string_value(hm, "enableCommand", &m.enable_command)) < 0 ||
            (r = string_value(hm, "disableCommand", &m.disable_command)) < 0)
                return r;
        m.report_heartbeat = boolean_value(hm, "reportHeartbeat");
        m.continue_on_update_failure = boolean_value(hm, "continueOnUpdateFailure");
        m.supports_multiple_extensions = boolean_value(hm, "supportsMultipleExtensions");

        v = json_get(hm, "updateMode", false);
        m.update_mode = v && json_object_is_type(v, json_type_string) &&
                                        strcasecmp(json_object_get_string(v), "UpdateWithoutInstall") == 0
                                ? HANDLER_UPDATE_WITHOUT_INSTALL
                                : HANDLER_UPDATE_WITH_INSTALL;

        v = json_get(json_get(first, "resourceLimits", false), "cpuQuotaPercentage", false);
        if (v && json_object_is_type(v, json_type_int))
                m.cpu_quota_percentage = json_object_get_int(v);
        v = json_get(json_get(first, "resourceLimits", false), "memoryQuotaInMB", false);
        if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0 &&
            json_object_get_int64(v) <= UINT32_MAX)
                m.memory_quota_mb = (unsigned) json_object_get_int64(v);

        v = json_get(first, "signingInfo", false);
        if (v && ((r = string_value(v, "type", &m.signing_type)) < 0 ||
                  (r = string_value(v, "publisher", &m.signing_publisher)) < 0 ||
                  (r = string_value(v, "version", &m.signing_version)) < 0))
                return r;

        *ret = m;
        m = (HandlerManifest){};
        return 0;
}
