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
        *e = (OvfEnv) {};
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
 * Text of child name of parent (whitespace-trimmed), or NULL (not an error) when absent. Only its own text and
 * CDATA count, as with waagent's gettext(): text inside a nested element (a stray <UserPassword> inside
 * <CustomData>, say) is not part of the value. Found by fuzz-ovf-env (corpus/ovf-env/crash-nested-password):
 * such a password was copied into custom_data_raw, and the redacted copy parsed differently.
 */
static int child_text(xmlNodePtr parent, const char *name, char **ret) {
        xmlNodePtr n = ovf_child(parent, name);
        _cleanup_free_ char *s = NULL;
        size_t len = 0;

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
        int r = child_text(parent, name, ret);

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

/* The password is taken verbatim (no whitespace trimming: it is the user's secret, not layout). */
static int parse_password(xmlNodePtr conf, char **ret) {
        xmlNodePtr n = ovf_child(conf, "UserPassword");
        xmlChar *content;
        char *s;

        *ret = NULL;
        if (!n)
                return 0;
        content = xmlNodeGetContent(n);
        s = strdup(content ? (const char *) content : "");
        if (content) {
                explicit_bzero(content, strlen((char *) content));
                xmlFree(content);
        }
        wipe_text(n);
        if (!s)
                return -ENOMEM;
        if (strlen(s) > OVF_PASSWORD_MAX) {
                erase_and_free(s);
                return -E2BIG;
        }
        *ret = s;
        return 0;
}

static int parse_public_keys(xmlNodePtr conf, OvfEnv *e) {
        xmlNodePtr keys = ovf_child(ovf_child(conf, "SSH"), "PublicKeys");

        for (xmlNodePtr k = ovf_child(keys, "PublicKey"); k; k = ovf_sibling(k, "PublicKey")) {
                OvfPublicKey *a, *pk;
                int r;

                if (e->n_public_keys >= OVF_KEYS_MAX)
                        return -E2BIG;
                a = reallocarray(e->public_keys, e->n_public_keys + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                e->public_keys = a;
                pk = &a[e->n_public_keys++];
                *pk = (OvfPublicKey) {};
                r = child_text(k, "Fingerprint", &pk->fingerprint);
                if (r >= 0)
                        r = child_text(k, "Path", &pk->path);
                if (r >= 0)
                        r = child_text(k, "Value", &pk->value);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_key_pairs(xmlNodePtr conf, OvfEnv *e) {
        xmlNodePtr pairs = ovf_child(ovf_child(conf, "SSH"), "KeyPairs");

        for (xmlNodePtr k = ovf_child(pairs, "KeyPair"); k; k = ovf_sibling(k, "KeyPair")) {
                OvfKeyPair *a, *kp;
                int r;

                if (e->n_key_pairs >= OVF_KEYS_MAX)
                        return -E2BIG;
                a = reallocarray(e->key_pairs, e->n_key_pairs + 1, sizeof *a);
                if (!a)
                        return -ENOMEM;
                e->key_pairs = a;
                kp = &a[e->n_key_pairs++];
                *kp = (OvfKeyPair) {};
                r = child_text(k, "Fingerprint", &kp->fingerprint);
                if (r >= 0)
                        r = child_text(k, "Path", &kp->path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_custom_data(xmlNodePtr conf, OvfEnv *e) {
        void *data = NULL;
        size_t size = 0;
        int r;

        r = child_text(conf, "CustomData", &e->custom_data_raw);
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
        r = parse_password(conf, &e->password);
        if (r == -E2BIG)
                return error_set(error, -EBADMSG, "UserPassword is longer than 72 bytes");
        if (r < 0)
                return r;
        r = child_text(conf, "DisableSshPasswordAuthentication", &auth);
        if (r < 0)
                return r;
        e->disable_ssh_password_auth = text_is(auth, "true");
        r = parse_public_keys(conf, e);
        if (r >= 0)
                r = parse_key_pairs(conf, e);
        if (r == -E2BIG)
                return error_set(error, -EBADMSG, "too many SSH keys");
        if (r < 0)
                return r;
        return parse_custom_data(conf, e);
}

static int parse_platform_settings(xmlNodePtr env, OvfEnv *e, Error *error) {
        _cleanup_free_ char *pps = NULL, *proxy = NULL;
        xmlNodePtr section, settings;
        int r;

        section = ovf_child(env, "PlatformSettingsSection");
        if (!section)
                return error_set(error, -EBADMSG, "PlatformSettingsSection not found");
        settings = ovf_child(section, "PlatformSettings");
        if (!settings)
                return error_set(error, -EBADMSG, "PlatformSettings not found");
        /* The element must exist; empty or garbage values are tolerated and mean "true" (waagent only
         * disables the agent for a literal "false"; fixtures ovf-env-3.xml and ovf-env-4.xml). */
        r = required_text(settings, "ProvisionGuestAgent", &e->provision_guest_agent_raw, error);
        if (r < 0)
                return r;
        e->provision_guest_agent = !text_is(e->provision_guest_agent_raw, "false");
        r = child_text(settings, "PreprovisionedVm", &pps);
        if (r < 0)
                return r;
        e->preprovisioned_vm = text_is(pps, "true");
        /* cloud-init reads "PreprovisionedVMType", azure-init "PreprovisionedVmType": accept both. */
        r = child_text(settings, "PreprovisionedVMType", &e->preprovisioned_vm_type);
        if (r >= 0 && !e->preprovisioned_vm_type)
                r = child_text(settings, "PreprovisionedVmType", &e->preprovisioned_vm_type);
        if (r < 0)
                return r;
        /* The platform expects Azure's Guest Proxy Agent (agent/provision-firewall.c). */
        r = child_text(settings, "ProvisionGuestProxyAgent", &proxy);
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
        section = ovf_child(env, "ProvisioningSection");
        if (!section)
                return error_set(error, -EBADMSG, "ProvisioningSection not found");
        r = required_text(section, "Version", &e->version, error);
        if (r < 0)
                return r;
        conf = ovf_child(section, "LinuxProvisioningConfigurationSet");
        if (!conf)
                return error_set(error, -EBADMSG, "LinuxProvisioningConfigurationSet not found");
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
        r = parse_doc(xmlDocGetRootElement(doc), &e, error);
        wipe_passwords(xmlDocGetRootElement(doc));
        if (r < 0)
                return r;
        *ret = e;
        e = (OvfEnv) {};
        return 0;
}

/* Removes the children of every UserPassword element (the element itself stays, empty). */
static void redact_passwords(xmlNodePtr n) {
        for (; n; n = n->next) {
                if (n->type != XML_ELEMENT_NODE)
                        continue;
                if (!streq((const char *) n->name, "UserPassword")) {
                        redact_passwords(n->children);
                        continue;
                }
                wipe_text(n);
                while (n->children) {
                        xmlNodePtr c = n->children;

                        xmlUnlinkNode(c);
                        xmlFreeNode(c);
                }
        }
}

int ovf_env_redact(const char *buf, size_t len, char **ret, size_t *ret_size) {
        _cleanup_xml_doc_ xmlDocPtr doc = NULL;
        xmlChar *out = NULL;
        int size = 0, r;
        char *s;

        if (len > OVF_ENV_MAX)
                return -E2BIG;
        r = xml_parse_buffer(buf, len, &doc);
        if (r < 0)
                return r;
        redact_passwords(xmlDocGetRootElement(doc));
        xmlDocDumpMemoryEnc(doc, &out, &size, "utf-8");
        if (!out || size < 0) {
                xmlFree(out);
                return -ENOMEM;
        }
        s = strndup((const char *) out, (size_t) size);
        xmlFree(out);
        if (!s)
                return -ENOMEM;
        *ret = s;
        if (ret_size)
                *ret_size = (size_t) size;
        return 0;
}
