/* SPDX-License-Identifier: MIT */
/*
 * Removing secrets from the text that `azl-agent collect-logs` puts into a support tarball. The logger's own
 * redaction (log_redact(): registered secrets, SAS "sig=" values) runs on every file too; this adds the
 * structural rules for documents that hold secrets by design, whatever their value:
 *
 *   - JSON members "protectedSettings" (handler settings, ExtensionsConfig/vmSettings plugin settings) and any
 *     member whose name contains "password" (any case): the string value becomes "(removed)"; also when the
 *     JSON sits XML-escaped (&quot;) inside an XML document;
 *   - XML elements UserPassword and CustomData (ovf-env.xml, in any namespace prefix): their content becomes
 *     "(removed)" (CDATA and nested markup included).
 *
 * Pure and fuzzed (tests/fuzz/fuzz-redact.c): the output of redact_text() is a fixed point of it.
 */
#pragma once

#include <stddef.h>

#define REDACTED "(removed)"

/* Returns a new string: text with the values above replaced; *ret_n (may be NULL) counts the replacements. */
int redact_text(const char *text, char **ret, unsigned *ret_n);
