/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "strutil.h"
#include "xml-util.h"

static void xml_silence(void *ctx, const char *msg, ...) {
}

int xml_parse_buffer(const char *buf, size_t len, xmlDocPtr *ret) {
        xmlDocPtr doc;

        if (len > XML_DOCUMENT_MAX)
                return -E2BIG;
        if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
                buf += 3;
                len -= 3;
        }
        if (len == 0)
                return -EBADMSG;
        xmlSetGenericErrorFunc(NULL, xml_silence);
        doc = xmlReadMemory(buf, (int) len, NULL, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
        if (!doc)
                return -EBADMSG;
        if (doc->intSubset || doc->extSubset || !xmlDocGetRootElement(doc)) {
                xmlFreeDoc(doc);
                return -EBADMSG;
        }
        *ret = doc;
        return 0;
}

static bool name_is(xmlNodePtr n, const char *localname) {
        return n->type == XML_ELEMENT_NODE && n->name && streq((const char *) n->name, localname);
}

xmlNodePtr xml_child(xmlNodePtr parent, const char *localname) {
        if (!parent)
                return NULL;
        for (xmlNodePtr n = parent->children; n; n = n->next)
                if (name_is(n, localname))
                        return n;
        return NULL;
}

xmlNodePtr xml_next(xmlNodePtr node, const char *localname) {
        for (xmlNodePtr n = node ? node->next : NULL; n; n = n->next)
                if (name_is(n, localname))
                        return n;
        return NULL;
}

xmlNodePtr xml_find(xmlNodePtr parent, const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        xmlNodePtr n = parent;

        if (!copy)
                return NULL;
        for (char *save = NULL, *c = strtok_r(copy, "/", &save); c && n; c = strtok_r(NULL, "/", &save))
                n = xml_child(n, c);
        return n;
}

int xml_node_text(xmlNodePtr node, char **ret) {
        xmlChar *content = xmlNodeGetContent(node);
        char *s;

        if (!content) {
                s = strdup("");
        } else {
                s = strdup(strstrip((char *) content));
                xmlFree(content);
        }
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int xml_find_text(xmlNodePtr parent, const char *path, char **ret) {
        xmlNodePtr n = xml_find(parent, path);

        if (!n)
                return -ENOENT;
        return xml_node_text(n, ret);
}

int xml_attr(xmlNodePtr node, const char *name, char **ret) {
        xmlChar *v = node ? xmlGetNoNsProp(node, (const xmlChar *) name) : NULL;
        char *s;

        if (!v)
                return -ENOENT;
        s = strdup((const char *) v);
        xmlFree(v);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
