/* SPDX-License-Identifier: MIT */
/*
 * libxml2 helpers for the fabric's documents (goal state, ExtensionsConfig, Certificates, ovf-env, manifests).
 * Parsing is hardened: bounded size, UTF-8 BOM stripped (the WireServer may send one; waagent strips it),
 * no network, no entity expansion, and documents with a DOCTYPE are rejected outright (XXE, billion laughs).
 * Element lookups match the local name and ignore namespaces, as waagent's find/findall do.
 */
#pragma once

#include <stddef.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "macro.h"

#define XML_DOCUMENT_MAX (16U * 1024U * 1024U)

DEFINE_TRIVIAL_CLEANUP_FUNC(xmlDocPtr, xmlFreeDoc);
#define _cleanup_xml_doc_ _cleanup_(xmlFreeDocp)

/* Parses buf; -EBADMSG on malformed XML or a DOCTYPE, -E2BIG above XML_DOCUMENT_MAX. */
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
