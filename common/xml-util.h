/* SPDX-License-Identifier: MIT */
/*
 * libxml2 helpers for the fabric's documents (goal state, ExtensionsConfig, Certificates, ovf-env, manifests).
 * Parsing is hardened: bounded size, UTF-8 BOM stripped (the WireServer may send one; waagent strips it),
 * no network, no entity expansion, and documents with a DOCTYPE are rejected outright (XXE, billion laughs).
 * Element lookups match the local name and ignore namespaces, as waagent's find/findall do.
 *
 * libxml2 is loaded by the first parse (common/dlopen-util.h) and stays until xml_unload_if_unused() finds no
 * document alive: the daemon calls it when a goal-state pass is done, so the idle daemon maps neither libxml2 nor
 * the ICU it pulls in (BENCHMARKS.md, "Memory"), while the documents of one pass share one load, and so do the
 * manifests of an extension run (parsed after its pass, until the next one ends). The sym_ functions below may
 * be called on a live document's nodes. One thread.
 */
#pragma once

#include <stddef.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "macro.h"

#define XML_DOCUMENT_MAX (16U * 1024U * 1024U)
#define XML_SONAME       "libxml2.so.2"

#define XML_DL_SYMBOLS(X)                                                                                   \
        X(xmlDocDumpMemoryEnc)                                                                              \
        X(xmlDocGetRootElement)                                                                             \
        X(xmlFreeDoc)                                                                                       \
        X(xmlFreeNode)                                                                                      \
        X(xmlGetNoNsProp)                                                                                   \
        X(xmlMemGet)                                                                                        \
        X(xmlNodeGetContent)                                                                                \
        X(xmlReadMemory)                                                                                    \
        X(xmlSetGenericErrorFunc)                                                                           \
        X(xmlSetProp)                                                                                       \
        X(xmlUnlinkNode)

#define XML_DL_DECLARE(f) extern typeof(f) *sym_##f;
XML_DL_SYMBOLS(XML_DL_DECLARE)
#undef XML_DL_DECLARE

/* Frees what libxml2 allocated for a live document (xmlNodeGetContent(), xmlGetNoNsProp(), a dump); NULL is
 * fine. */
void xml_free(void *p);

/* Frees the document (libxml2 stays loaded: xml_unload_if_unused()). */
void xml_doc_free(xmlDocPtr doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xml_doc_free);
#define _cleanup_xml_doc_ _cleanup_(xml_doc_freep)

/* The document element. */
xmlNodePtr xml_doc_root(xmlDocPtr doc);

/* Unloads libxml2 when no document is alive; the next parse loads it again (≈ 0.4 ms). */
void xml_unload_if_unused(void);

/* Parses buf; -EBADMSG on malformed XML or a DOCTYPE, -E2BIG above XML_DOCUMENT_MAX, -EOPNOTSUPP when libxml2
 * cannot be loaded (logged, with dlerror()'s reason). */
int xml_parse_buffer(const char *buf, size_t len, xmlDocPtr *ret);

/* First element child (or following sibling) with the given local name; NULL if none. */
xmlNodePtr xml_child(xmlNodePtr parent, const char *localname);
xmlNodePtr xml_next(xmlNodePtr node, const char *localname);
#define XML_FOREACH_CHILD(n, parent, localname)                                                             \
        for (xmlNodePtr n = xml_child(parent, localname); n; n = xml_next(n, localname))

/* Follows a path of local names ("Container/RoleInstanceList/RoleInstance"). */
xmlNodePtr xml_find(xmlNodePtr parent, const char *path);

/* Text content of a node, whitespace-trimmed, newly allocated (never NULL on success). */
int xml_node_text(xmlNodePtr node, char **ret);
/* Text of xml_find(parent, path): -ENOENT when the element is missing. */
int xml_find_text(xmlNodePtr parent, const char *path, char **ret);
/* Attribute value (no namespace): -ENOENT when missing. */
int xml_attr(xmlNodePtr node, const char *name, char **ret);
