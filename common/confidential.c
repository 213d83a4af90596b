/* SPDX-License-Identifier: MIT */
/*
 * The confidential-VM verdict and its defaults (see confidential.h), and confidential.json, through json_dispatch
 * tables like the other state files.
 */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "confidential.h"
#include "fileio.h"
#include "json-util.h"
#include "macro.h"

void confidential_state_done(ConfidentialState *s) {
        if (!s)
                return;
        free(s->security_type);
        free(s->hcl_report);
        free(s->hcl_detail);
        free(s->reason);
        free(s->agreement);
        *s = (ConfidentialState){};
}

static struct json_object *tristate_json(int v) {
        return v < 0 ? NULL : json_object_new_boolean(v);
}

int confidential_state_to_json(const ConfidentialState *s, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        struct json_object *imds = NULL, *hcl = NULL;
        char ts[64] = "";
        char *text;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_int(1));
        if (s->recorded_at > 0 && format_timestamp_iso_usec(s->recorded_at, ts, sizeof ts) >= 0)
                json_object_object_add(o, "recorded_at", json_object_new_string(ts));
        if (s->imds_known) {
                imds = json_object_new_object();
                if (!imds)
                        return -ENOMEM;
                json_object_object_add(o, "imds", imds);
                json_object_object_add(imds, "security_type",
                                       json_object_new_string(strempty(s->security_type)));
                json_object_object_add(imds, "secure_boot", tristate_json(s->secure_boot));
                json_object_object_add(imds, "virtual_tpm", tristate_json(s->virtual_tpm));
                json_object_object_add(imds, "encryption_at_host", tristate_json(s->encryption_at_host));
        }
        hcl = json_object_new_object();
        if (!hcl)
                return -ENOMEM;
        json_object_object_add(o, "hcl_report", hcl);
        json_object_object_add(hcl, "type", s->hcl_report ? json_object_new_string(s->hcl_report) : NULL);
        json_object_object_add(hcl, "detail", json_object_new_string(strempty(s->hcl_detail)));
        text = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

static int dispatch_tristate(const char *name, struct json_object *v, void *dest, JsonError *err) {
        bool b;
        int r;

        r = json_dispatch_bool(name, v, &b, err);
        if (r < 0)
                return r;
        *(int *) dest = b;
        return 0;
}

static int dispatch_short(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 1024)
                return json_error(err, name, "field '%s' is too long", name);
        return json_dispatch_string(name, v, dest, err);
}

typedef struct StateFields {
        int version;
        char *recorded_at;
        struct json_object *imds;
        struct json_object *hcl;
} StateFields;

int confidential_state_from_json(const char *buf, size_t len, ConfidentialState *ret) {
        static const JsonDispatch table[] = {
                {"version", json_dispatch_int, offsetof(StateFields, version), JSON_MANDATORY},
                {"recorded_at", dispatch_short, offsetof(StateFields, recorded_at), JSON_NULLABLE},
                {"imds", json_dispatch_object, offsetof(StateFields, imds), JSON_NULLABLE},
                {"hcl_report", json_dispatch_object, offsetof(StateFields, hcl), JSON_NULLABLE},
                {},
        };
        static const JsonDispatch imds_table[] = {
                {"security_type", dispatch_short, offsetof(ConfidentialState, security_type),
                 JSON_MANDATORY},
                {"secure_boot", dispatch_tristate, offsetof(ConfidentialState, secure_boot), JSON_NULLABLE},
                {"virtual_tpm", dispatch_tristate, offsetof(ConfidentialState, virtual_tpm), JSON_NULLABLE},
                {"encryption_at_host", dispatch_tristate, offsetof(ConfidentialState, encryption_at_host),
                 JSON_NULLABLE},
                {},
        };
        static const JsonDispatch hcl_table[] = {
                {"type", dispatch_short, offsetof(ConfidentialState, hcl_report), JSON_NULLABLE},
                {"detail", dispatch_short, offsetof(ConfidentialState, hcl_detail), JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        _cleanup_(confidential_state_done) ConfidentialState s = {
                .secure_boot = -1,
                .virtual_tpm = -1,
                .encryption_at_host = -1,
        };
        StateFields f = {};
        int r;

        if (len > CONFIDENTIAL_STATE_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &root, NULL);
        if (r < 0)
                return r;
        r = json_dispatch(root, table, 0, &f, NULL);
        if (r >= 0 && f.version != 1)
                r = -EPROTONOSUPPORT;
        if (r >= 0 && f.recorded_at)
                r = parse_timestamp_iso(f.recorded_at, &s.recorded_at) < 0 ? -EBADMSG : 0;
        if (r >= 0 && f.imds) {
                r = json_dispatch(f.imds, imds_table, 0, &s, NULL);
                s.imds_known = r >= 0;
        }
        if (r >= 0 && f.hcl)
                r = json_dispatch(f.hcl, hcl_table, 0, &s, NULL);
        if (r >= 0 && s.hcl_report && !streq(s.hcl_report, "sev-snp") && !streq(s.hcl_report, "tdx"))
                r = -EBADMSG;
        free(f.recorded_at);
        json_object_put(f.imds);
        json_object_put(f.hcl);
        if (r < 0)
                return r;
        *ret = s;
        s = (ConfidentialState){};
        return 0;
}

static int state_path(const char *state_dir, char **ret) {
        return asprintf(ret, "%s/" CONFIDENTIAL_STATE_FILE, state_dir) < 0 ? -ENOMEM : 0;
}

int confidential_state_load(int root_fd, const char *state_dir, ConfidentialState *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = read_file_in_root(root_fd, path, CONFIDENTIAL_STATE_MAX, &buf, &size);
        if (r < 0)
                return r;
        return confidential_state_from_json(buf, size, ret);
}

int confidential_state_save(int root_fd, const char *state_dir, const ConfidentialState *s) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        int r;

        r = state_path(state_dir, &path);
        if (r < 0)
                return r;
        r = confidential_state_to_json(s, &text);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(root_fd, path, text, 0644, WRITE_MKDIR | WRITE_SYNC);
}

/* ---- the verdict ---- */

static bool imds_says(const ConfidentialState *s) {
        return s->imds_known && streq_ptr(s->security_type, SECURITY_TYPE_CONFIDENTIAL_VM);
}

/* What the guest sees, as text ("sev-snp (/dev/sev-guest)", "HCL report sev-snp in the vTPM"), or NULL. */
static int guest_sees(const ConfidentialState *s, const PlatformInfo *p, char **ret) {
        if (p->confidential != CONFIDENTIAL_TECH_NONE && s->hcl_report)
                return asprintf(ret, "%s (%s) and an HCL report (%s) in the vTPM",
                                confidential_tech_to_string(p->confidential), p->confidential_evidence,
                                s->hcl_report) < 0
                               ? -ENOMEM
                               : 0;
        if (p->confidential != CONFIDENTIAL_TECH_NONE)
                return asprintf(ret, "%s (%s)", confidential_tech_to_string(p->confidential),
                                p->confidential_evidence) < 0
                               ? -ENOMEM
                               : 0;
        if (s->hcl_report)
                return asprintf(ret, "an HCL report (%s) in the vTPM", s->hcl_report) < 0 ? -ENOMEM : 0;
        *ret = NULL;
        return 0;
}

static int evaluate_agreement(ConfidentialState *s, const char *guest) {
        /* asprintf() below does not free what it replaces (evaluated again on every goal-state pass) */
        free(s->agreement);
        s->agreement = NULL;
        if (!s->imds_known)
                return free_and_strdup(&s->agreement,
                                       "unknown: IMDS not asked yet (`azl-agent provision` records it)");
        if (imds_says(s) && guest)
                return free_and_strdup(&s->agreement, "agree");
        if (!imds_says(s) && !guest)
                return free_and_strdup(&s->agreement, "agree");
        if (imds_says(s))
                return asprintf(&s->agreement,
                                "disagree: IMDS says ConfidentialVM, the guest sees no TEE interface "
                                "and no HCL report") < 0
                               ? -ENOMEM
                               : 0;
        return asprintf(&s->agreement, "disagree: the guest sees %s, IMDS says securityType '%s'", guest,
                        strempty(s->security_type)) < 0
                       ? -ENOMEM
                       : 0;
}

static int evaluate_reason(ConfidentialState *s, const Config *config, const char *guest) {
        free(s->reason);
        s->reason = NULL;
        switch (config->confidential_mode) {
        case CONFIDENTIAL_MODE_YES:
                s->active = true;
                return free_and_strdup(&s->reason, "[Confidential] Mode=yes");
        case CONFIDENTIAL_MODE_NO:
                s->active = false;
                return free_and_strdup(&s->reason, "[Confidential] Mode=no");
        case CONFIDENTIAL_MODE_AUTO:
        case _CONFIDENTIAL_MODE_MAX:
        case _CONFIDENTIAL_MODE_INVALID:
                break;
        }
        s->active = imds_says(s) || guest;
        if (imds_says(s) && guest)
                return asprintf(&s->reason, "IMDS securityType ConfidentialVM; the guest sees %s", guest) < 0
                               ? -ENOMEM
                               : 0;
        if (imds_says(s))
                return free_and_strdup(&s->reason, "IMDS securityType ConfidentialVM");
        if (guest)
                return asprintf(&s->reason, "the guest sees %s", guest) < 0 ? -ENOMEM : 0;
        if (s->imds_known)
                return asprintf(&s->reason,
                                "IMDS securityType '%s'; the guest sees no TEE interface and no HCL report",
                                strempty(s->security_type)) < 0
                               ? -ENOMEM
                               : 0;
        return free_and_strdup(&s->reason,
                               "the guest sees no TEE interface and no HCL report; IMDS not asked yet");
}

int confidential_evaluate(ConfidentialState *s, const PlatformInfo *platform, Config *config) {
        _cleanup_free_ char *guest = NULL;
        int r;

        r = guest_sees(s, platform, &guest);
        if (r < 0)
                return r;
        r = evaluate_agreement(s, guest);
        if (r < 0)
                return r;
        r = evaluate_reason(s, config, guest);
        if (r < 0)
                return r;

        /* Signature validation: enforce by default; back to the built-in default if no longer active. */
        if (!config_key_is_set(config, "Extensions", "SignatureValidation")) {
                if (s->active)
                        config->signature_mode = SIGNATURE_MODE_ENFORCE;
                else if (s->signatures_enforced_by_default)
                        config->signature_mode = SIGNATURE_MODE_REPORT;
                s->signatures_enforced_by_default = s->active;
        } else
                s->signatures_enforced_by_default = false;
        s->firewall_required = s->active && config->firewall;
        s->secrets_on_tmpfs = s->active;
        return 0;
}

int confidential_describe_signatures(const ConfidentialState *s, const Config *config, char **ret) {
        const char *mode = strna(signature_mode_to_string(config->signature_mode));

        if (s->signatures_enforced_by_default)
                return asprintf(ret, "%s (confidential-VM default)", mode) < 0 ? -ENOMEM : 0;
        if (config_key_is_set(config, "Extensions", "SignatureValidation"))
                return asprintf(ret, "%s ([Extensions] SignatureValidation=%s set explicitly)", mode, mode) <
                                       0
                               ? -ENOMEM
                               : 0;
        return asprintf(ret, "%s (default)", mode) < 0 ? -ENOMEM : 0;
}

int confidential_describe_firewall(const ConfidentialState *s, const Config *config, char **ret) {
        if (s->firewall_required)
                return free_and_strdup(ret, "required: provisioning fails if it cannot be installed "
                                            "(confidential-VM default)");
        if (s->active)
                return free_and_strdup(
                        ret, "off: [Firewall] Enable=no (the confidential-VM default requires it)");
        return free_and_strdup(ret,
                               config->firewall ? "best effort (default)" : "off: [Firewall] Enable=no");
}

int confidential_describe_secrets(const ConfidentialState *s, const Config *config, char **ret) {
        if (s->secrets_on_tmpfs)
                return asprintf(ret, "tmpfs %s, linked from %s (confidential-VM default)",
                                config->secrets_dir, config->extensions_dir) < 0
                               ? -ENOMEM
                               : 0;
        return asprintf(ret, "%s (default)", config->extensions_dir) < 0 ? -ENOMEM : 0;
}

int confidential_detail(const ConfidentialState *s, char **ret) {
        return asprintf(ret, "%s (IMDS and guest: %s)", strna(s->reason), strna(s->agreement)) < 0 ? -ENOMEM
                                                                                                   : 0;
}

static int add_string(struct json_object *o, const char *key, const char *v) {
        return json_object_object_add(o, key, v ? json_object_new_string(v) : NULL) < 0 ? -ENOMEM : 0;
}

int confidential_status_json(const ConfidentialState *s, const PlatformInfo *platform, const Config *config,
                             struct json_object **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *guest = json_object_new_object(),
                                          *policies = json_object_new_object(), *imds = NULL;
        _cleanup_free_ char *sig = NULL, *fw = NULL, *sec = NULL;
        char ts[64];
        int r = 0;

        if (!o || !guest || !policies)
                return -ENOMEM;
        json_object_object_add(o, "active", json_object_new_boolean(s->active));
        r = r ?: add_string(o, "mode", confidential_mode_to_string(config->confidential_mode));
        r = r ?: add_string(o, "reason", s->reason);
        r = r ?: add_string(o, "agreement", s->agreement);
        if (s->imds_known) {
                imds = json_object_new_object();
                if (!imds)
                        return -ENOMEM;
                r = r ?: add_string(imds, "security_type", strempty(s->security_type));
                json_object_object_add(imds, "secure_boot", tristate_json(s->secure_boot));
                json_object_object_add(imds, "virtual_tpm", tristate_json(s->virtual_tpm));
                json_object_object_add(imds, "encryption_at_host", tristate_json(s->encryption_at_host));
                r = r
                            ?: add_string(imds, "recorded_at",
                                          s->recorded_at > 0 && format_timestamp_iso(s->recorded_at, ts,
                                                                                     sizeof ts) >= 0
                                                  ? ts
                                                  : NULL);
        }
        json_object_object_add(o, "imds", TAKE_PTR(imds));
        r = r ?: add_string(guest, "tee", confidential_tech_to_string(platform->confidential));
        r = r ?: add_string(guest, "evidence", platform->confidential_evidence);
        r = r ?: add_string(guest, "hcl_report", s->hcl_report);
        r = r ?: add_string(guest, "hcl_detail", s->hcl_detail);
        json_object_object_add(o, "guest", TAKE_PTR(guest));
        if (r < 0)
                return r;
        r = confidential_describe_signatures(s, config, &sig);
        if (r >= 0)
                r = confidential_describe_firewall(s, config, &fw);
        if (r >= 0)
                r = confidential_describe_secrets(s, config, &sec);
        if (r < 0)
                return r;
        r = r ?: add_string(policies, "extension_signatures", sig);
        r = r ?: add_string(policies, "wireserver_guard", fw);
        r = r ?: add_string(policies, "secrets", sec);
        json_object_object_add(o, "policies", TAKE_PTR(policies));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}
