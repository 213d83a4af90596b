/* SPDX-License-Identifier: MIT */
/*
 * Structural secret removal for support tarballs, see redact.h. A single left-to-right scan over arbitrary
 * text (logs are not well-formed anything): at a quote — '"', '\"' (JSON inside a JSON string) or '&quot;'
 * (JSON inside XML) — a short same-line token followed by ':' and another quote of the same form is a
 * member name; at '<' a UserPassword/CustomData start tag opens an element whose content runs to its end tag
 * (or to the end of the text when there is none: better too much removed than a secret left).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "redact.h"

#define KEY_MAX 256U

static const char *const quote_forms[] = {"&quot;", "\\\"", "\""};
static const char *const secret_elements[] = {"UserPassword", "CustomData"};

static bool key_is_secret(const char *k, size_t n) {
        static const char pw[] = "password";

        if (n == strlen("protectedSettings") && strncmp(k, "protectedSettings", n) == 0)
                return true;
        for (size_t i = 0; i + strlen(pw) <= n; i++)
                if (strncasecmp(k + i, pw, strlen(pw)) == 0)
                        return true;
        return false;
}

static size_t skip_space(const char *s, size_t i) {
        while (s[i] == ' ' || s[i] == '\t')
                i++;
        return i;
}

/* The quote form at s, or NULL. */
static const char *quote_at(const char *s) {
        for (size_t i = 0; i < ELEMENTSOF(quote_forms); i++)
                if (strncmp(s, quote_forms[i], strlen(quote_forms[i])) == 0)
                        return quote_forms[i];
        return NULL;
}

/* End of a value that starts right after an opening quote q: index of the closing quote, or (size_t) -1. */
static size_t value_end(const char *s, size_t i, const char *q) {
        for (; s[i]; i++) {
                if (streq(q, "\"") && s[i] == '\\' && s[i + 1]) {
                        i++; /* JSON escape: \" does not end the string */
                        continue;
                }
                if (strncmp(s + i, q, strlen(q)) == 0)
                        return i;
        }
        return (size_t) -1;
}

/*
 * At s[i] a quote: if it opens a secret member ("name": "value"), writes the name, separator and an emptied
 * value to f and returns the index after the value's closing quote; else returns 0 (nothing written).
 */
static size_t try_member(FILE *f, const char *s, size_t i, unsigned *n) {
        const char *q = quote_at(s + i);
        size_t ql, k, kend, v, vend;

        if (!q)
                return 0;
        ql = strlen(q);
        k = i + ql;
        for (kend = k; s[kend] && s[kend] != '\n' && kend - k <= KEY_MAX; kend++)
                if (strncmp(s + kend, q, ql) == 0)
                        break;
        if (!s[kend] || s[kend] == '\n' || kend - k > KEY_MAX || !key_is_secret(s + k, kend - k))
                return 0;
        v = skip_space(s, kend + ql);
        if (s[v] != ':')
                return 0;
        v = skip_space(s, v + 1);
        if (strncmp(s + v, q, ql) != 0)
                return 0;
        vend = value_end(s, v + ql, q);
        fwrite(s + i, 1, v + ql - i, f);
        fputs(REDACTED, f);
        (*n)++;
        if (vend == (size_t) -1)
                return strlen(s); /* unterminated: the rest may be the secret */
        fwrite(q, 1, ql, f);
        return vend + ql;
}

/* Length of "<[prefix:]name" + attributes + ">" at s when it opens one of the secret elements, else 0. */
static size_t open_tag(const char *s, const char **ret_name, size_t *ret_prefix_len) {
        size_t p = 1, pl = 0;

        if (s[0] != '<')
                return 0;
        while (s[p] && (s[p] == '_' || s[p] == '-' || s[p] == '.' || (s[p] >= 'a' && s[p] <= 'z') ||
                        (s[p] >= 'A' && s[p] <= 'Z') || (s[p] >= '0' && s[p] <= '9')))
                p++;
        if (s[p] == ':') {
                pl = p; /* "<wa:" → prefix "wa" plus the colon */
                p++;
        }
        for (size_t e = 0; e < ELEMENTSOF(secret_elements); e++) {
                size_t l = strlen(secret_elements[e]), start = pl ? pl + 1 : 1, j;

                if (strncmp(s + start, secret_elements[e], l) != 0)
                        continue;
                j = start + l;
                if (s[j] != '>' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r')
                        continue;
                while (s[j] && s[j] != '>')
                        j++;
                if (!s[j] || s[j - 1] == '/')
                        return 0; /* unterminated or self-closing: no content */
                *ret_name = secret_elements[e];
                *ret_prefix_len = pl ? pl : 0;
                return j + 1;
        }
        return 0;
}

/* Index of the end tag "</[prefix:]name>" at or after i, or (size_t) -1. */
static size_t close_tag(const char *s, size_t i, const char *name, size_t *ret_len) {
        for (const char *p = strstr(s + i, "</"); p; p = strstr(p + 2, "</")) {
                const char *n = p + 2, *colon = strpbrk(n, ":>");

                if (colon && *colon == ':' && (size_t) (colon - n) < 64)
                        n = colon + 1;
                if (strncmp(n, name, strlen(name)) == 0) {
                        const char *e = n + strlen(name);

                        while (*e == ' ' || *e == '\t')
                                e++;
                        if (*e == '>') {
                                *ret_len = (size_t) (e + 1 - p);
                                return (size_t) (p - s);
                        }
                }
        }
        return (size_t) -1;
}

int redact_text(const char *text, char **ret, unsigned *ret_n) {
        char *buf = NULL;
        size_t size = 0, i = 0, len = strlen(text);
        unsigned n = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        while (i < len) {
                const char *name;
                size_t t, pl, cl, end;

                if (text[i] == '<' && (t = open_tag(text + i, &name, &pl)) > 0) {
                        fwrite(text + i, 1, t, f);
                        fputs(REDACTED, f);
                        n++;
                        end = close_tag(text, i + t, name, &cl);
                        if (end == (size_t) -1) {
                                i = len;
                                break;
                        }
                        fwrite(text + end, 1, cl, f);
                        i = end + cl;
                        continue;
                }
                if ((text[i] == '"' || text[i] == '\\' || text[i] == '&') &&
                    (t = try_member(f, text, i, &n)) > 0) {
                        i = t;
                        continue;
                }
                fputc(text[i], f);
                i++;
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        if (ret_n)
                *ret_n = n;
        return 0;
}
