/* SPDX-License-Identifier: MIT */
/*
 * Pure parser for the IMDS instance document (GET /metadata/instance?…&extended=true). Only the fields the
 * agent uses are read, through json_dispatch tables; everything else is ignored so that newer api-versions
 * keep working. Every string is bounded (IMDS_STRING_MAX, IMDS_KEY_DATA_MAX), vmId must be a UUID (it is
 * compared with the SMBIOS product UUID), and errors name the field with its full path.
 *
 * Field reference: Azure IMDS documentation, "Instance metadata" → "Compute" table; disablePasswordAuthentication
 * is a string ("true"/"false") on the wire but azure-init also accepts a JSON boolean
 * (protocol §6.3); extended.compute.ppsType is used by cloud-init to detect pre-provisioned VMs
 * (protocol §6.5).
 */
#include <stdio.h>
#include <string.h>

#include "imds.h"
#include "string-table.h"
#include "strutil.h"

#define IMDS_USER_DATA_BASE64_MAX (IMDS_USER_DATA_MAX / 3 * 4 + 8)

static const char *const imds_pps_type_table[_IMDS_PPS_TYPE_MAX] = {
        [IMDS_PPS_NONE] = "None",
        [IMDS_PPS_RUNNING] = "Running",
        [IMDS_PPS_SAVABLE] = "Savable",
};

DEFINE_STRING_TABLE_LOOKUP(imds_pps_type, ImdsPpsType);

void imds_instance_done(ImdsInstance *i) {
        if (!i)
                return;
        free(i->name);
        free(i->computer_name);
        free(i->admin_username);
        for (size_t k = 0; k < i->n_public_keys; k++) {
                free(i->public_keys[k].key_data);
                free(i->public_keys[k].path);
        }
        free(i->public_keys);
        free(i->location);
        free(i->vm_size);
        free(i->zone);
        free(i->subscription_id);
        free(i->resource_group_name);
        free(i->os_type);
        free(i->tags);
        free(i->user_data);
        free(i->security.security_type);
        json_object_put(i->network);
        *i = (ImdsInstance){};
}

static int dispatch_string_max(const char *name, struct json_object *v, void *dest, JsonError *err,
                               size_t max) {
        if (json_object_is_type(v, json_type_string) && (size_t) json_object_get_string_len(v) > max)
                return json_error(err, name, "field '%s' is longer than %zu bytes", name, max);
        return json_dispatch_string(name, v, dest, err);
}

static int dispatch_imds_string(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_string_max(name, v, dest, err, IMDS_STRING_MAX);
}

static int dispatch_key_data(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_string_max(name, v, dest, err, IMDS_KEY_DATA_MAX);
}

static int dispatch_user_data(const char *name, struct json_object *v, void *dest, JsonError *err) {
        return dispatch_string_max(name, v, dest, err, IMDS_USER_DATA_BASE64_MAX);
}

/* Prefixes the field named in err with its parent path ("osProfile" → "compute.osProfile"). */
static int error_scope(int r, JsonError *err, const char *scope) {
        size_t sl = strlen(scope), fl;

        if (r != -EBADMSG || !err || sl + 2 >= sizeof err->field)
                return r;
        if (isempty(err->field)) {
                memcpy(err->field, scope, sl + 1);
                return r;
        }
        fl = MIN(strlen(err->field), sizeof err->field - sl - 2);
        memmove(err->field + sl + 1, err->field, fl);
        memcpy(err->field, scope, sl);
        err->field[sl] = '.';
        err->field[sl + 1 + fl] = 0;
        return r;
}

typedef struct ComputeFields {
        char *vm_id;
        struct json_object *os_profile;
        struct json_object *public_keys;
        struct json_object *security_profile;
} ComputeFields;

/*
 * The security profile only informs (docs/security.md "Confidential VMs"): it never fails provisioning. A boolean
 * that is "" (IMDS sends "" for inapplicable values), of another type or another word stays unknown (-1), and so
 * does a security type that is not a short string; a securityProfile that is not an object is ignored.
 */
static int dispatch_tristate(const char *name, struct json_object *v, void *dest, JsonError *err) {
        bool b;

        if (json_dispatch_boolish(name, v, &b, NULL) >= 0)
                *(int *) dest = b;
        return 0;
}

#define IMDS_SECURITY_TYPE_MAX 64U

static int dispatch_security_type(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) > (int) IMDS_SECURITY_TYPE_MAX)
                return 0;
        return json_dispatch_string(name, v, dest, err);
}

static int dispatch_object_or_ignore(const char *name, struct json_object *v, void *dest, JsonError *err) {
        if (!json_object_is_type(v, json_type_object))
                return 0;
        return json_dispatch_object(name, v, dest, err);
}

static int parse_security_profile(struct json_object *o, ImdsInstance *i, JsonError *err) {
        static const JsonDispatch table[] = {
                {"securityType", dispatch_security_type, offsetof(ImdsSecurityProfile, security_type),
                 JSON_NULLABLE},
                {"secureBootEnabled", dispatch_tristate, offsetof(ImdsSecurityProfile, secure_boot),
                 JSON_NULLABLE},
                {"virtualTpmEnabled", dispatch_tristate, offsetof(ImdsSecurityProfile, virtual_tpm),
                 JSON_NULLABLE},
                {"encryptionAtHost", dispatch_tristate, offsetof(ImdsSecurityProfile, encryption_at_host),
                 JSON_NULLABLE},
                {},
        };

        i->security.present = true;
        return error_scope(json_dispatch(o, table, 0, &i->security, err), err, "securityProfile");
}

static int parse_public_keys(struct json_object *array, ImdsInstance *i, JsonError *err) {
        static const JsonDispatch table[] = {
                {"keyData", dispatch_key_data, offsetof(ImdsPublicKey, key_data), JSON_MANDATORY},
                {"path", dispatch_imds_string, offsetof(ImdsPublicKey, path), 0},
                {},
        };
        size_t n = json_object_array_length(array);
        char scope[48];
        int r;

        if (n > IMDS_PUBLIC_KEYS_MAX)
                return json_error(err, "publicKeys", "more than %u public keys", IMDS_PUBLIC_KEYS_MAX);
        if (n == 0)
                return 0;
        i->public_keys = calloc(n, sizeof(ImdsPublicKey));
        if (!i->public_keys)
                return -ENOMEM;
        for (size_t k = 0; k < n; k++) {
                r = json_dispatch(json_object_array_get_idx(array, k), table, 0, &i->public_keys[k], err);
                i->n_public_keys = k + 1; /* so that imds_instance_done() frees partial entries */
                if (r < 0) {
                        (void) snprintf(scope, sizeof scope, "publicKeys[%zu]", k);
                        return error_scope(r, err, scope);
                }
        }
        return 0;
}

static int parse_os_profile(struct json_object *o, ImdsInstance *i, JsonError *err) {
        static const JsonDispatch table[] = {
                {"adminUsername", dispatch_imds_string, offsetof(ImdsInstance, admin_username), 0},
                {"computerName", dispatch_imds_string, offsetof(ImdsInstance, computer_name), 0},
                {"disablePasswordAuthentication", json_dispatch_boolish,
                 offsetof(ImdsInstance, disable_password_authentication), 0},
                {},
        };

        return error_scope(json_dispatch(o, table, 0, i, err), err, "osProfile");
}

static int parse_compute(struct json_object *o, ImdsInstance *i, JsonError *err) {
        static const JsonDispatch instance_table[] = {
                {"name", dispatch_imds_string, offsetof(ImdsInstance, name), 0},
                {"location", dispatch_imds_string, offsetof(ImdsInstance, location), 0},
                {"vmSize", dispatch_imds_string, offsetof(ImdsInstance, vm_size), 0},
                {"zone", dispatch_imds_string, offsetof(ImdsInstance, zone), 0},
                {"subscriptionId", dispatch_imds_string, offsetof(ImdsInstance, subscription_id), 0},
                {"resourceGroupName", dispatch_imds_string, offsetof(ImdsInstance, resource_group_name), 0},
                {"osType", dispatch_imds_string, offsetof(ImdsInstance, os_type), 0},
                {"tags", dispatch_imds_string, offsetof(ImdsInstance, tags), 0},
                {"userData", dispatch_user_data, offsetof(ImdsInstance, user_data), JSON_NULLABLE},
                {},
        };
        static const JsonDispatch fields_table[] = {
                {"vmId", dispatch_imds_string, offsetof(ComputeFields, vm_id), JSON_MANDATORY},
                {"osProfile", json_dispatch_object, offsetof(ComputeFields, os_profile), 0},
                {"publicKeys", json_dispatch_array, offsetof(ComputeFields, public_keys), JSON_NULLABLE},
                {"securityProfile", dispatch_object_or_ignore, offsetof(ComputeFields, security_profile),
                 JSON_NULLABLE},
                {},
        };
        ComputeFields f = {};
        int r;

        r = json_dispatch(o, fields_table, 0, &f, err);
        if (r >= 0)
                r = json_dispatch(o, instance_table, 0, i, err);
        if (r >= 0 && uuid_normalize(f.vm_id, i->vm_id) < 0)
                r = json_error(err, "vmId", "field 'vmId' is not a UUID");
        if (r >= 0 && f.os_profile)
                r = parse_os_profile(f.os_profile, i, err);
        if (r >= 0 && f.public_keys)
                r = parse_public_keys(f.public_keys, i, err);
        if (r >= 0 && f.security_profile)
                r = parse_security_profile(f.security_profile, i, err);
        free(f.vm_id);
        json_object_put(f.os_profile);
        json_object_put(f.public_keys);
        json_object_put(f.security_profile);
        return error_scope(r, err, "compute");
}

static int parse_extended(struct json_object *o, ImdsInstance *i, JsonError *err) {
        static const JsonDispatch ext_table[] = {
                {"compute", json_dispatch_object, 0, 0},
                {},
        };
        static const JsonDispatch compute_table[] = {
                {"ppsType", dispatch_imds_string, 0, JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *compute = NULL;
        _cleanup_free_ char *pps = NULL;
        ImdsPpsType t;
        int r;

        r = json_dispatch(o, ext_table, 0, &compute, err);
        if (r < 0 || !compute)
                return error_scope(r, err, "extended");
        r = json_dispatch(compute, compute_table, 0, &pps, err);
        if (r < 0)
                return error_scope(error_scope(r, err, "compute"), err, "extended");
        if (!pps)
                return 0;
        t = imds_pps_type_from_string(pps);
        if (t < 0)
                return json_error(err, "extended.compute.ppsType", "unknown ppsType '%s'", pps);
        i->pps_type = t;
        return 0;
}

int imds_parse_instance(const char *buf, size_t len, ImdsInstance *ret, JsonError *err) {
        static const JsonDispatch top_table[] = {
                {"compute", json_dispatch_object, 0, JSON_MANDATORY},
                {"network", json_dispatch_object, sizeof(struct json_object *), JSON_NULLABLE},
                {"extended", json_dispatch_object, 2 * sizeof(struct json_object *), JSON_NULLABLE},
                {},
        };
        _cleanup_(json_object_putp) struct json_object *root = NULL;
        struct json_object *parts[3] = {}; /* compute, network, extended */
        ImdsInstance i = {
                .pps_type = IMDS_PPS_NONE,
                .security = {.secure_boot = -1, .virtual_tpm = -1, .encryption_at_host = -1},
        };
        int r;

        if (!buf || !ret)
                return -EINVAL;
        if (len > IMDS_RESPONSE_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &root, err);
        if (r < 0)
                return r;
        r = json_dispatch(root, top_table, 0, parts, err);
        if (r >= 0)
                r = parse_compute(parts[0], &i, err);
        if (r >= 0 && parts[2])
                r = parse_extended(parts[2], &i, err);
        json_object_put(parts[0]);
        json_object_put(parts[2]);
        i.network = parts[1];
        if (r < 0) {
                imds_instance_done(&i);
                return r;
        }
        *ret = i;
        return 0;
}
