/* SPDX-License-Identifier: MIT */
/*
 * ovf-env.xml parser and redactor, see ovf-env.h. libxml2 through common/xml-util (no DTD, no network, BOM
 * stripped). The password's text nodes are wiped in the tree before it is freed, and every copy we make is
 * erased on release.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error-util.h"
#include "macro.h"
#include "ovf-env.h"
#include "strutil.h"
#include "xml-util.h"

void ovf_env_done(OvfEnv *e) {
        free(e->version);
        free(e->hostname);
        free(e->username);
        erase_and_free(e->password);
        for (size_t i = 0; i < e->n_public_keys; i++) {
                free(e->public_keys[i].fingerprint);
                free(e->public_keys[i].path);
                free(e->public_keys[i].value);
        }
        free(e->public_keys);
        for (size_t i = 0; i < e->n_key_pairs; i++) {
                free(e->key_pairs[i].fingerprint);
                free(e->key_pairs[i].path);
        }
        free(e->key_pairs);
        free(e->custom_data_raw);
        free(e->custom_data);
        free(e->provision_guest_agent_raw);
        free(e->preprovisioned_vm_type);
        *e = (OvfEnv){};
}

static void ovf_env_donep(OvfEnv *e) {
        ovf_env_done(e);
}

/* An element of ours: no namespace, or one of the two the schema uses. */
static bool node_in_our_ns(xmlNodePtr n) {
        const char *href = n->ns ? (const char *) n->ns->href : NULL;

        return !href || streq(href, OVF_NAMESPACE) || streq(href, WA_NAMESPACE);
}

static xmlNodePtr ovf_next(xmlNodePtr n, const char *name) {
        for (; n && !node_in_our_ns(n); n = xml_next(n, name))
                ;
        return n;
}

static xmlNodePtr ovf_child(xmlNodePtr parent, const char *name) {
        return ovf_next(xml_child(parent, name), name);
}

static xmlNodePtr ovf_sibling(xmlNodePtr n, const char *name) {
        return ovf_next(xml_next(n, name), name);
}

/*
 * The child name of parent, which must appear at most once: a second HostName (or UserName, or
 * ProvisioningSection…) makes the document ambiguous, and which copy a reader takes is arbitrary (libxml2
 * order here, the last one for some XML-to-dict readers). cloud-init refuses such a document ("multiple
 * configuration matches"); so do we, naming the element and its parent. *ret is NULL when absent.
 */
static int unique_child(xmlNodePtr parent, const char *name, xmlNodePtr *ret, Error *error) {
        xmlNodePtr first = ovf_child(parent, name);
        unsigned n = 0;

        for (xmlNodePtr k = first; k; k = ovf_sibling(k, name))
                n++;
        if (n > 1)
                return error_setf(error, -EBADMSG, "%s appears %u times in %s (at most once is allowed)",
                                  name, n, (const char *) parent->name);
        *ret = first;
        return 0;
}

/*
 * Text of child name of parent (whitespace-trimmed), or NULL (not an error) when absent. Only its own text and
 * CDATA count, as with waagent's gettext(): text inside a nested element (a stray <UserPassword> inside
 * <CustomData>, say) is not part of the value. Found by fuzz-ovf-env (corpus/ovf-env/crash-nested-password):
 * such a password was copied into custom_data_raw, and the redacted copy parsed differently.
 */
static int child_text(xmlNodePtr parent, const char *name, char **ret, Error *error) {
        _cleanup_free_ char *s = NULL;
        size_t len = 0;
        xmlNodePtr n;
        int r;

        r = unique_child(parent, name, &n, error);
        if (r < 0)
                return r;
        if (!n) {
                *ret = NULL;
                return 0;
        }
        for (xmlNodePtr t = n->children; t; t = t->next) {
                size_t l;
                char *p;

                if ((t->type != XML_TEXT_NODE && t->type != XML_CDATA_SECTION_NODE) || !t->content)
                        continue;
                l = strlen((const char *) t->content);
                p = realloc(s, len + l + 1);
                if (!p)
                        return -ENOMEM;
                s = p;
                memcpy(s + len, t->content, l + 1);
                len += l;
        }
        *ret = strdup(s ? strstrip(s) : "");
        return *ret ? 0 : -ENOMEM;
}

static int required_text(xmlNodePtr parent, const char *name, char **ret, Error *error) {
        int r = child_text(parent, name, ret, error);

        if (r < 0)
                return r;
        if (*ret)
                return 0;
        return error_setf(error, -EBADMSG, "%s not found", name);
}

/* Overwrites the text of every text node below n (the password) before the tree is freed or serialized. */
static void wipe_text(xmlNodePtr n) {
        for (xmlNodePtr t = n ? n->children : NULL; t; t = t->next)
                if ((t->type == XML_TEXT_NODE || t->type == XML_CDATA_SECTION_NODE) && t->content)
                        explicit_bzero(t->content, strlen((char *) t->content));
}

static bool password_is_scrubbed(xmlNodePtr n) {
        xmlChar *v = sym_xmlGetNoNsProp(n, BAD_CAST OVF_SCRUBBED_ATTR);
        bool b = v && streq((const char *) v, OVF_SCRUBBED_VALUE);

        xml_free(v);
        return b;
}

/*
 * The password is taken verbatim (no whitespace trimming: it is the user's secret, not layout). An empty
 * element is no password (waagent's gettext() gives None for it), never an empty password; one we scrubbed
 * says so with an attribute (*ret_scrubbed).
 */
static int parse_password(xmlNodePtr conf, char **ret, bool *ret_scrubbed, Error *error) {
        xmlChar *content;
        xmlNodePtr n;
        char *s;
        int r;

        *ret = NULL;
        *ret_scrubbed = false;
        r = unique_child(conf, "UserPassword", &n, error);
        if (r < 0 || !n)
                return r;
        content = sym_xmlNodeGetContent(n);
        s = strdup(content ? (const char *) content : "");
        if (content) {
                explicit_bzero(content, strlen((char *) content));
                xml_free(content);
        }
        wipe_text(n);
        if (!s)
                return -ENOMEM;
        if (strlen(s) > OVF_PASSWORD_MAX) {
                erase_and_free(s);
                return -E2BIG;
        }
        if (isempty(s)) {
                free(s);
                *ret_scrubbed = password_is_scrubbed(n);
                return 0;
        }
        *ret = s;
        return 0;
}

/* The unique child name of the unique child section of conf (SSH/PublicKeys, SSH/KeyPairs); NULL when absent. */
static int ssh_list(xmlNodePtr conf, const char *name, xmlNodePtr *ret, Error *error) {
        xmlNodePtr ssh;
        int r;

        r = unique_child(conf, "SSH", &ssh, error);
        if (r < 0)
                return r;
        if (!ssh) {
                *ret = NULL;
                return 0;
        }
        return unique_child(ssh, name, ret, error);
}

static int parse_public_keys(xmlNodePtr conf, OvfEnv *e, Error *error) {
        xmlNodePtr keys;
        int r;

        r = ssh_list(conf, "PublicKeys", &keys, error);
        if (r < 0)
                return r;
        for (xmlNodePtr k = ovf_child(keys, "PublicKey"); k; k = ovf_sibling(k, "PublicKey")) {
                OvfPublicKey *a, *pk;

                if (e->n_public_keys >= OVF_KEYS_MAX)
                        return -E2BIG;
                a = reallocarray(e->public_keys, e->n_public_keys + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                e->public_keys = a;
                pk = &a[e->n_public_keys++];
                *pk = (OvfPublicKey){};
                r = child_text(k, "Fingerprint", &pk->fingerprint, error);
                if (r >= 0)
                        r = child_text(k, "Path", &pk->path, error);
                if (r >= 0)
                        r = child_text(k, "Value", &pk->value, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_key_pairs(xmlNodePtr conf, OvfEnv *e, Error *error) {
        xmlNodePtr pairs;
        int r;

        r = ssh_list(conf, "KeyPairs", &pairs, error);
        if (r < 0)
                return r;
        for (xmlNodePtr k = ovf_child(pairs, "KeyPair"); k; k = ovf_sibling(k, "KeyPair")) {
                OvfKeyPair *a, *kp;

                if (e->n_key_pairs >= OVF_KEYS_MAX)
                        return -E2BIG;
                a = reallocarray(e->key_pairs, e->n_key_pairs + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                e->key_pairs = a;
                kp = &a[e->n_key_pairs++];
                *kp = (OvfKeyPair){};
                r = child_text(k, "Fingerprint", &kp->fingerprint, error);
                if (r >= 0)
                        r = child_text(k, "Path", &kp->path, error);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_custom_data(xmlNodePtr conf, OvfEnv *e, Error *error) {
        void *data = NULL;
        size_t size = 0;
        int r;

        r = child_text(conf, "CustomData", &e->custom_data_raw, error);
        if (r < 0 || !e->custom_data_raw)
                return r;
        /* Azure sends CustomData base64-encoded. Text that does not decode is kept raw (waagent stores it
         * as is unless Provisioning.DecodeCustomData): not an error, the fixtures carry "CustomData". */
        r = base64_decode(e->custom_data_raw, strlen(e->custom_data_raw), &data, &size);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                e->custom_data = data;
                e->custom_data_size = size;
        }
        return 0;
}

static bool text_is(const char *s, const char *word) {
        return s && strcasecmp(s, word) == 0;
}

static int parse_linux_conf(xmlNodePtr conf, OvfEnv *e, Error *error) {
        _cleanup_free_ char *auth = NULL;
        int r;

        r = required_text(conf, "HostName", &e->hostname, error);
        if (r < 0)
                return r;
        r = required_text(conf, "UserName", &e->username, error);
        if (r < 0)
                return r;
        r = parse_password(conf, &e->password, &e->password_scrubbed, error);
        if (r == -E2BIG)
                return error_set(error, -EBADMSG, "UserPassword is longer than 72 bytes");
        if (r < 0)
                return r;
        r = child_text(conf, "DisableSshPasswordAuthentication", &auth, error);
        if (r < 0)
                return r;
        e->disable_ssh_password_auth = text_is(auth, "true");
        r = parse_public_keys(conf, e, error);
        if (r >= 0)
                r = parse_key_pairs(conf, e, error);
        if (r == -E2BIG)
                return error_set(error, -EBADMSG, "too many SSH keys");
        if (r < 0)
                return r;
        return parse_custom_data(conf, e, error);
}

/* A section that must be there exactly once. */
static int required_child(xmlNodePtr parent, const char *name, xmlNodePtr *ret, Error *error) {
        int r;

        r = unique_child(parent, name, ret, error);
        if (r < 0 || *ret)
                return r;
        return error_setf(error, -EBADMSG, "%s not found", name);
}

static int parse_platform_settings(xmlNodePtr env, OvfEnv *e, Error *error) {
        _cleanup_free_ char *pps = NULL, *vm_type = NULL, *proxy = NULL;
        xmlNodePtr section, settings;
        int r;

        r = required_child(env, "PlatformSettingsSection", &section, error);
        if (r >= 0)
                r = required_child(section, "PlatformSettings", &settings, error);
        if (r < 0)
                return r;
        /* Optional, as for cloud-init (which does not read it): absent, empty or garbage all mean "true";
         * only a literal "false" disables the guest agent, as waagent (fixtures ovf-env-3.xml, -4.xml). */
        r = child_text(settings, "ProvisionGuestAgent", &e->provision_guest_agent_raw, error);
        if (r < 0)
                return r;
        e->provision_guest_agent = !text_is(e->provision_guest_agent_raw, "false");
        r = child_text(settings, "PreprovisionedVm", &pps, error);
        if (r < 0)
                return r;
        e->preprovisioned_vm = text_is(pps, "true");
        /* cloud-init reads "PreprovisionedVMType", azure-init "PreprovisionedVmType": accept either; both
         * only when they agree. */
        r = child_text(settings, "PreprovisionedVMType", &e->preprovisioned_vm_type, error);
        if (r >= 0)
                r = child_text(settings, "PreprovisionedVmType", &vm_type, error);
        if (r < 0)
                return r;
        if (e->preprovisioned_vm_type && vm_type && !streq(e->preprovisioned_vm_type, vm_type))
                return error_set(error, -EBADMSG, "PreprovisionedVMType and PreprovisionedVmType disagree");
        if (!e->preprovisioned_vm_type)
                e->preprovisioned_vm_type = TAKE_PTR(vm_type);
        /* The platform expects Azure's Guest Proxy Agent (agent/provision-firewall.c). */
        r = child_text(settings, "ProvisionGuestProxyAgent", &proxy, error);
        if (r < 0)
                return r;
        e->provision_guest_proxy_agent = text_is(proxy, "true");
        return 0;
}

static int parse_doc(xmlNodePtr env, OvfEnv *e, Error *error) {
        xmlNodePtr section, conf;
        int r;

        if (!env || !streq((const char *) env->name, "Environment") || !node_in_our_ns(env))
                return error_set(error, -EBADMSG, "Environment not found");
        r = required_child(env, "ProvisioningSection", &section, error);
        if (r < 0)
                return r;
        r = required_text(section, "Version", &e->version, error);
        if (r < 0)
                return r;
        r = required_child(section, "LinuxProvisioningConfigurationSet", &conf, error);
        if (r < 0)
                return r;
        r = parse_linux_conf(conf, e, error);
        if (r < 0)
                return r;
        return parse_platform_settings(env, e, error);
}

/* Wipes every UserPassword's text in the tree (the document may be kept in memory by libxml2's pools). */
static void wipe_passwords(xmlNodePtr n) {
        for (; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (streq((const char *) n->name, "UserPassword"))
                        wipe_text(n);
                else
                        wipe_passwords(n->children);
        }
}

int ovf_env_parse(const char *buf, size_t len, OvfEnv *ret, Error *error) {
        _cleanup_(ovf_env_donep) OvfEnv e = {};
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        int r;

        if (len > OVF_ENV_MAX)
                return -E2BIG;
        r = xml_parse_buffer(buf, len, &doc);
        if (r == -EBADMSG)
                return error_set(error, -EBADMSG, "not a well-formed XML document (or it has a DOCTYPE)");
        if (r < 0)
                return r;
        r = parse_doc(xml_doc_root(doc), &e, error);
        wipe_passwords(xml_doc_root(doc));
        if (r < 0)
                return r;
        *ret = e;
        e = (OvfEnv){};
        return 0;
}

/* Removes the children of every non-empty UserPassword element (the element itself stays, empty and marked). */
static void redact_passwords(xmlNodePtr n, int *removed) {
        for (; n && *removed >= 0; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (!streq((const char *) n->name, "UserPassword")) {
                        redact_passwords(n->children, removed);
                        continue;
                }
                if (!n->children)
                        continue; /* empty: there was no password, nothing to mark */
                wipe_text(n);
                while (n->children) {
                        xmlNodePtr c = n->children;

                        sym_xmlUnlinkNode(c);
                        sym_xmlFreeNode(c);
                }
                (*removed)++;
                if (!sym_xmlSetProp(n, BAD_CAST OVF_SCRUBBED_ATTR, BAD_CAST OVF_SCRUBBED_VALUE))
                        *removed = -ENOMEM;
        }
}

int ovf_env_redact(const char *buf, size_t len, char **ret, size_t *ret_size) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        xmlChar *out = NULL;
        int size = 0, removed = 0, r;
        char *s;

        if (len > OVF_ENV_MAX)
                return -E2BIG;
        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return r;
        redact_passwords(xml_doc_root(doc), &removed);
        if (removed < 0)
                return removed;
        sym_xmlDocDumpMemoryEnc(doc, &out, &size, "utf-8");
        if (!out || size < 0) {
                xml_free(out);
                return -ENOMEM;
        }
        s = strndup((const char *) out, (size_t) size);
        xml_free(out);
        if (!s)
                return -ENOMEM;
        *ret = s;
        if (ret_size)
                *ret_size = (size_t) size;
        return removed > 0;
}
