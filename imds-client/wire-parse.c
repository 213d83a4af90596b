/* SPDX-License-Identifier: MIT */
/*
 * Pure parsers for the WireServer side: DHCP lease files (option 245), the ?comp=versions document, the goal
 * state, HostingEnvironmentConfig and the HostGAPlugin /versions array. No I/O, no clock (the lease expiry
 * check takes "now" as a parameter), debug logging at most.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json-util.h"
#include "string-table.h"
#include "strutil.h"
#include "wireserver.h"
#include "xml-util.h"

static const char *const wire_endpoint_source_table[_WIRE_ENDPOINT_SOURCE_MAX] = {
        [WIRE_ENDPOINT_CONFIG] = "config",
        [WIRE_ENDPOINT_NETWORKD_LEASE] = "networkd-lease",
        [WIRE_ENDPOINT_DHCLIENT_LEASE] = "dhclient-lease",
        [WIRE_ENDPOINT_DEFAULT] = "default",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(wire_endpoint_source, WireEndpointSource);

/* ---- leases ---- */

static int format_ipv4(const unsigned b[4], char **ret) {
        char *s;

        for (size_t i = 0; i < 4; i++)
                if (b[i] > 255)
                        return -EINVAL;
        if (asprintf(&s, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* waagent osutil/default.py: r'\s*option\s+unknown-245\s+([0-9a-fA-F]+):…:([0-9a-fA-F]+);' at line start. */
static int parse_option_245(const char *line, char **ret) {
        unsigned b[4];
        const char *p = line;

        p += strspn(p, " \t");
        if (!startswith(p, "option"))
                return -ENOENT;
        p += strlen("option");
        if (!strchr(" \t", *p) || *p == 0)
                return -ENOENT;
        p += strspn(p, " \t");
        if (!startswith(p, "unknown-245"))
                return -ENOENT;
        p += strlen("unknown-245");
        if (!strchr(" \t", *p) || *p == 0)
                return -ENOENT;
        p += strspn(p, " \t");
        for (size_t i = 0; i < 4; i++) {
                size_t n = strspn(p, "0123456789abcdefABCDEF");
                char hex[3] = {};

                if (n == 0 || n > 2)
                        return -ENOENT;
                memcpy(hex, p, n);
                b[i] = (unsigned) strtoul(hex, NULL, 16);
                p += n;
                if (*p != (i < 3 ? ':' : ';'))
                        return -ENOENT;
                p++;
        }
        return format_ipv4(b, ret);
}

/* "  expire 0 2152/07/23 23:27:10;" → false when that moment (UTC) is after now; "never" → false. */
static bool lease_expired(const char *line, usec_t now_realtime) {
        const char *p = strstr(line, "expire");
        struct tm tm = {};
        char *end;
        time_t t;

        if (strstr(line, "never"))
                return false;
        p += strlen("expire");
        p += strspn(p, " \t");
        p += strspn(p, "0123456789"); /* weekday */
        p += strspn(p, " \t");
        end = strptime(p, "%Y/%m/%d %H:%M:%S", &tm);
        if (!end)
                return true; /* waagent: unparsable expiry → treated as expired */
        t = timegm(&tm);
        if (t == (time_t) -1)
                return true;
        return (usec_t) t * USEC_PER_SEC <= now_realtime;
}

int wire_lease_parse_dhclient(const char *buf, size_t len, usec_t now_realtime, char **ret) {
        _cleanup_free_ char *copy = NULL, *cached = NULL, *found = NULL;
        bool expired = true;
        char *save = NULL;

        if (!buf || !ret)
                return -EINVAL;
        if (len > WIRE_LEASE_FILE_MAX)
                return -E2BIG;
        copy = strndup(buf, len);
        if (!copy)
                return -ENOMEM;
        /* The same state machine as waagent's get_endpoint_from_leases_path() (protocol §1.1). */
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *ep = NULL;

                if (startswith(line, "lease")) {
                        free(cached);
                        cached = NULL;
                        expired = true;
                } else if (strstr(line, "expire"))
                        expired = lease_expired(line, now_realtime);
                else if (strchr(line, '}')) {
                        if (!expired && cached) {
                                free(found);
                                found = TAKE_PTR(cached);
                        }
                } else if (parse_option_245(line, &ep) >= 0) {
                        free(cached);
                        cached = ep;
                }
        }
        if (!found)
                return -ENOENT;
        *ret = TAKE_PTR(found);
        return 0;
}

int wire_lease_parse_networkd(const char *buf, size_t len, char **ret) {
        _cleanup_free_ char *copy = NULL, *found = NULL;
        char *save = NULL;

        if (!buf || !ret)
                return -EINVAL;
        if (len > WIRE_LEASE_FILE_MAX)
                return -E2BIG;
        copy = strndup(buf, len);
        if (!copy)
                return -ENOMEM;
        /* systemd-networkd writes private options as OPTION_<code>=<hex> (sd-dhcp-lease.c). */
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *v;
                unsigned b[4];

                if (!startswith(line, "OPTION_245="))
                        continue;
                v = strstrip(line + strlen("OPTION_245="));
                if (strlen(v) != 8 || strspn(v, "0123456789abcdefABCDEF") != 8)
                        continue;
                for (size_t i = 0; i < 4; i++) {
                        char hex[3] = {v[2 * i], v[2 * i + 1], 0};

                        b[i] = (unsigned) strtoul(hex, NULL, 16);
                }
                free(found);
                found = NULL;
                if (format_ipv4(b, &found) < 0)
                        return -ENOMEM;
        }
        if (!found)
                return -ENOENT;
        *ret = TAKE_PTR(found);
        return 0;
}

/* The shared start of every WireServer document parser: bounded size, hardened XML parse, expected root element.
 * On success *ret_doc owns the document and *ret_root is its root element. */
static int parse_wire_document(const char *buf, size_t len, const char *root_name, xmlDocPtr *ret_doc,
                               xmlNodePtr *ret_root) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        xmlNodePtr root;
        int r;

        if (len > WIRE_RESPONSE_MAX)
                return -E2BIG;
        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return r;
        root = xml_doc_root(doc);
        if (!streq((const char *) root->name, root_name))
                return -EBADMSG;
        *ret_root = root;
        *ret_doc = TAKE_PTR(doc);
        return 0;
}

/* ---- versions (protocol §1.3) ---- */

void wire_versions_done(WireVersions *v) {
        if (!v)
                return;
        free(v->preferred);
        strv_free(v->supported);
        *v = (WireVersions){};
}

int wire_versions_parse(const char *buf, size_t len, WireVersions *ret) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(wire_versions_done) WireVersions v = {};
        xmlNodePtr root, supported;
        size_t n = 0;
        int r;

        if (!buf || !ret)
                return -EINVAL;
        r = parse_wire_document(buf, len, "Versions", &doc, &root);
        if (r < 0)
                return r;
        r = xml_find_text(root, "Preferred/Version", &v.preferred);
        if (r < 0 && r != -ENOENT)
                return r;
        supported = xml_child(root, "Supported");
        XML_FOREACH_CHILD (node, supported, "Version") {
                _cleanup_free_ char *s = NULL;

                if (++n > WIRE_VERSIONS_MAX)
                        return -E2BIG;
                r = xml_node_text(node, &s);
                if (r < 0)
                        return r;
                if (strv_push(&v.supported, s) < 0)
                        return -ENOMEM;
                s = NULL;
        }
        if (!v.preferred && !v.supported)
                return -EBADMSG;
        *ret = v;
        v = (WireVersions){};
        return 0;
}

bool wire_versions_supports(const WireVersions *v, const char *version) {
        if (!v || !version)
                return false;
        return streq_ptr(v->preferred, version) || strv_contains(v->supported, version);
}

/* ---- goal state (protocol §1.4) ---- */

void goal_state_done(GoalState *g) {
        if (!g)
                return;
        free(g->incarnation);
        free(g->container_id);
        free(g->instance_id);
        free(g->config_name);
        free(g->extensions_config_url);
        free(g->hosting_env_url);
        free(g->shared_config_url);
        free(g->certificates_url);
        free(g->remote_access_url);
        *g = (GoalState){};
}

/* Text of parent/path into *dest, bounded; mandatory → -EBADMSG when missing, else left NULL. The XML parser
 * has already resolved &amp; in the URLs. */
static int find_text_bounded(xmlNodePtr parent, const char *path, bool mandatory, char **dest) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = xml_find_text(parent, path, &s);
        if (r == -ENOENT)
                return mandatory ? -EBADMSG : 0;
        if (r < 0)
                return r;
        if (strlen(s) > WIRE_FIELD_MAX)
                return -E2BIG;
        if (mandatory && isempty(s))
                return -EBADMSG;
        if (!mandatory && isempty(s))
                return 0;
        free(*dest);
        *dest = TAKE_PTR(s);
        return 0;
}

static int goal_state_parse_role(xmlNodePtr role, GoalState *g) {
        static const struct {
                const char *path;
                size_t offset;
        } urls[] = {
                {"Configuration/ExtensionsConfig", offsetof(GoalState, extensions_config_url)},
                {"Configuration/HostingEnvironmentConfig", offsetof(GoalState, hosting_env_url)},
                {"Configuration/SharedConfig", offsetof(GoalState, shared_config_url)},
                {"Configuration/Certificates", offsetof(GoalState, certificates_url)},
                /* waagent findtext(): the first ConfigName wins */
                {"Configuration/ConfigName", offsetof(GoalState, config_name)},
        };
        int r;

        r = find_text_bounded(role, "InstanceId", true, &g->instance_id);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(urls); i++) {
                r = find_text_bounded(role, urls[i].path, false, (char **) ((uint8_t *) g + urls[i].offset));
                if (r < 0)
                        return r;
        }
        return 0;
}

int goal_state_parse(const char *buf, size_t len, GoalState *ret) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(goal_state_done) GoalState g = {};
        xmlNodePtr root, container, role;
        int r;

        if (!buf || !ret)
                return -EINVAL;
        r = parse_wire_document(buf, len, "GoalState", &doc, &root);
        if (r < 0)
                return r;
        r = find_text_bounded(root, "Incarnation", true, &g.incarnation);
        if (r < 0)
                return r;
        container = xml_child(root, "Container");
        if (!container)
                return -EBADMSG;
        r = find_text_bounded(container, "ContainerId", true, &g.container_id);
        if (r < 0)
                return r;
        r = find_text_bounded(container, "RemoteAccessInfo", false, &g.remote_access_url);
        if (r < 0)
                return r;
        /* Some goal states come without a RoleInstance (fixture goal_state_noop.xml); waagent refetches. */
        role = xml_find(container, "RoleInstanceList/RoleInstance");
        if (!role)
                return -ENODATA;
        r = goal_state_parse_role(role, &g);
        if (r < 0)
                return r;
        *ret = g;
        g = (GoalState){};
        return 0;
}

/* ---- HostingEnvironmentConfig ---- */

void hosting_env_done(HostingEnvironment *h) {
        if (!h)
                return;
        free(h->vm_name);
        free(h->role_name);
        free(h->deployment_name);
        strv_free(h->stored_certificates);
        *h = (HostingEnvironment){};
}

static int cmp_strp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int attr_bounded(xmlNodePtr node, const char *name, char **dest) {
        _cleanup_free_ char *s = NULL;
        int r;

        if (!node)
                return -EBADMSG;
        r = xml_attr(node, name, &s);
        if (r == -ENOENT)
                return -EBADMSG;
        if (r < 0)
                return r;
        if (strlen(s) > WIRE_FIELD_MAX)
                return -E2BIG;
        *dest = TAKE_PTR(s);
        return 0;
}

/* StoredCertificates/StoredCertificate@certificateId="sha1:<thumbprint>" → upper-case thumbprints, sorted;
 * others (another hash, malformed) are skipped: they only make the agent fetch Certificates. */
static int stored_certificates_parse(xmlNodePtr stored, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        size_t n = 0;

        XML_FOREACH_CHILD (sc, stored, "StoredCertificate") {
                _cleanup_free_ char *id = NULL;
                const char *t;

                if (xml_attr(sc, "certificateId", &id) < 0)
                        continue;
                t = startswith(id, "sha1:") ? id + 5 : NULL;
                if (!wire_thumbprint_is_valid(t))
                        continue;
                if (++n > WIRE_STORED_CERTIFICATES_MAX)
                        return -E2BIG;
                for (char *c = (char *) t; *c; c++)
                        if (*c >= 'a' && *c <= 'f')
                                *c -= 'a' - 'A';
                if (!strv_contains(l, t) && strv_extend(&l, t) < 0)
                        return -ENOMEM;
        }
        if (l)
                qsort(l, strv_length(l), sizeof(char *), cmp_strp);
        *ret = TAKE_PTR(l);
        return 0;
}

bool wire_thumbprint_is_valid(const char *t) {
        return t && strlen(t) == 40 && strspn(t, "0123456789ABCDEFabcdef") == 40;
}

int hosting_env_parse(const char *buf, size_t len, HostingEnvironment *ret) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        _cleanup_(hosting_env_done) HostingEnvironment h = {};
        xmlNodePtr root;
        int r;

        if (!buf || !ret)
                return -EINVAL;
        r = parse_wire_document(buf, len, "HostingEnvironmentConfig", &doc, &root);
        if (r < 0)
                return r;
        /* waagent HostingEnv: Incarnation@instance, Role@name, Deployment@name */
        r = attr_bounded(xml_child(root, "Incarnation"), "instance", &h.vm_name);
        if (r >= 0)
                r = attr_bounded(xml_child(root, "Role"), "name", &h.role_name);
        if (r >= 0)
                r = attr_bounded(xml_child(root, "Deployment"), "name", &h.deployment_name);
        if (r >= 0)
                r = stored_certificates_parse(xml_child(root, "StoredCertificates"), &h.stored_certificates);
        if (r < 0)
                return r;
        *ret = h;
        h = (HostingEnvironment){};
        return 0;
}

/* ---- HostGAPlugin /versions (protocol §2) ---- */

int hgap_versions_parse(const char *buf, size_t len) {
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        size_t n;
        int r;

        if (!buf)
                return -EINVAL;
        if (len > WIRE_RESPONSE_MAX)
                return -E2BIG;
        r = json_parse_buffer(buf, len, &o, NULL);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(o);
        if (n > WIRE_VERSIONS_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(o, i);

                if (!json_object_is_type(e, json_type_string))
                        return -EBADMSG;
                if (streq(json_object_get_string(e), HGAP_API_VERSION))
                        return 1;
        }
        return 0;
}
