/* SPDX-License-Identifier: MIT */
/* See xml-util.h. */
#include <string.h>

#include "dlopen-util.h"
#include "log.h"
#include "strutil.h"
#include "xml-util.h"

#define XML_DL_DEFINE(f) typeof(f) *sym_##f;
XML_DL_SYMBOLS(XML_DL_DEFINE)

#define XML_DL_ENTRY(f) DL_SYMBOL(f),
static const DlSymbol xml_symbols[] = {XML_DL_SYMBOLS(XML_DL_ENTRY)};

/* libxml2's deallocator (xmlFree is a variable or a per-thread macro, depending on its build: asked instead) */
static xmlFreeFunc xml_free_fn;
/* The loaded library, and the documents alive */
static void *xml_handle;
static unsigned xml_docs;

static void xml_silence(void *ctx, const char *msg, ...) {
}

static int xml_load(void) {
        _cleanup_free_ char *error = NULL;
        xmlMallocFunc m;
        xmlReallocFunc re;
        xmlStrdupFunc sd;
        int r;

        if (xml_handle)
                return 0;
        r = dlopen_symbols(XML_SONAME, xml_symbols, ELEMENTSOF(xml_symbols), &xml_handle, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot parse XML: %s", strna(error));
        if (sym_xmlMemGet(&xml_free_fn, &m, &re, &sd) < 0 || !xml_free_fn) {
                dlclose_handle(&xml_handle);
                return log_error_errno(EOPNOTSUPP, "Cannot parse XML: libxml2 names no deallocator.");
        }
        /* per load: a library loaded again starts with its defaults */
        sym_xmlSetGenericErrorFunc(NULL, xml_silence);
        return 0;
}

void xml_free(void *p) {
        if (p)
                xml_free_fn(p);
}

void xml_doc_free(xmlDocPtr doc) {
        if (!doc)
                return;
        sym_xmlFreeDoc(doc);
        xml_docs--;
}

void xml_unload_if_unused(void) {
        if (xml_docs == 0)
                dlclose_handle(&xml_handle);
}

xmlNodePtr xml_doc_root(xmlDocPtr doc) {
        return sym_xmlDocGetRootElement(doc);
}

int xml_parse_buffer(const char *buf, size_t len, xmlDocPtr *ret) {
        xmlDocPtr doc;
        int r;

        if (len > XML_DOCUMENT_MAX)
                return -E2BIG;
        if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
                buf += 3;
                len -= 3;
        }
        if (len == 0)
                return -EBADMSG;
        r = xml_load();
        if (r < 0)
                return r;
        doc = sym_xmlReadMemory(buf, (int) len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                        XML_PARSE_NOCDATA);
        if (!doc)
                return -EBADMSG;
        if (doc->intSubset || doc->extSubset || !sym_xmlDocGetRootElement(doc)) {
                sym_xmlFreeDoc(doc);
                return -EBADMSG;
        }
        xml_docs++;
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
        xmlChar *content = sym_xmlNodeGetContent(node);
        char *s;

        if (!content) {
                s = strdup("");
        } else {
                s = strdup(strstrip((char *) content));
                xml_free(content);
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
        xmlChar *v = node ? sym_xmlGetNoNsProp(node, (const xmlChar *) name) : NULL;
        char *s;

        if (!v)
                return -ENOENT;
        s = strdup((const char *) v);
        xml_free(v);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
