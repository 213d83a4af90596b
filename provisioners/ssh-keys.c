/* SPDX-License-Identifier: MIT */
/*
 * Pure SSH public key helpers, see ssh.h. The public key blob (RFC 4253 §6.6, OpenSSH PROTOCOL.key) starts
 * with a uint32 big-endian length and the key type string; a blob whose embedded type differs from the
 * textual one is rejected (a copy/paste mix-up that sshd would refuse at login time, long after we said OK).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ssh.h"
#include "strutil.h"

static const char *const key_types[] = {
        "ssh-rsa",
        "ssh-ed25519",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
};

static bool key_type_supported(const char *t) {
        for (size_t i = 0; i < ELEMENTSOF(key_types); i++)
                if (streq(t, key_types[i]))
                        return true;
        return false;
}

/* Does the decoded blob announce type t? */
static bool blob_has_type(const unsigned char *blob, size_t size, const char *t) {
        size_t tl = strlen(t);
        uint32_t l;

        if (size < 4)
                return false;
        l = (uint32_t) blob[0] << 24 | (uint32_t) blob[1] << 16 | (uint32_t) blob[2] << 8 | blob[3];
        return l == tl && size > 4 + tl && memcmp(blob + 4, t, tl) == 0;
}

/* Copy of key without CR/LF, whitespace-trimmed. */
static int strip_crlf(const char *key, char **ret) {
        size_t n = 0, len = strlen(key);
        char *s = malloc(len + 1);

        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++)
                if (key[i] != '\r' && key[i] != '\n')
                        s[n++] = key[i];
        s[n] = 0;
        {
                char *t = strstrip(s);

                memmove(s, t, strlen(t) + 1);
        }
        *ret = s;
        return 0;
}

int ssh_key_normalize(const char *key, char **ret) {
        _cleanup_free_ char *s = NULL, *out = NULL;
        _cleanup_free_ void *blob = NULL;
        char *type, *b64, *comment, *save = NULL;
        size_t size;
        int r;

        if (!key || strlen(key) > SSH_KEY_MAX)
                return key ? -E2BIG : -EINVAL;
        r = strip_crlf(key, &s);
        if (r < 0)
                return r;
        type = strtok_r(s, " \t", &save);
        b64 = type ? strtok_r(NULL, " \t", &save) : NULL;
        if (!type || !b64)
                return -EINVAL;
        if (streq(type, "ssh-dss"))
                return -EPROTONOSUPPORT;
        if (!key_type_supported(type))
                return strstr(type, "ssh") || strstr(type, "ecdsa") ? -EPROTONOSUPPORT : -EINVAL;
        r = base64_decode(b64, strlen(b64), &blob, &size);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !blob_has_type(blob, size, type))
                return -EINVAL;
        comment = save ? strstrip(save) : NULL;
        if (asprintf(&out, "%s %s%s%s", type, b64, isempty(comment) ? "" : " ", strempty(comment)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

const char *ssh_key_error_reason(int error) {
        switch (error) {
        case -EPROTONOSUPPORT:
                return "unsupported key type (ssh-dss and unknown types are refused)";
        case -E2BIG:
                return "longer than 16 KiB";
        case -ENOMEM:
                return "out of memory";
        default:
                return "malformed key (not \"type base64-blob [comment]\", or the blob does not decode to "
                       "that type)";
        }
}

/* Copies at most max bytes of s, control characters replaced by '?'. */
static char *printable_prefix(const char *s, size_t max) {
        char *c = strndup(s, max);

        for (char *p = c; p && *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = '?';
        return c;
}

int ssh_key_label(size_t n, const char *key, const char *path, char **ret) {
        _cleanup_free_ char *type = NULL, *where = NULL;
        size_t len;

        key = strempty(key);
        key += strspn(key, " \t\r\n");
        len = strcspn(key, " \t\r\n");
        type = printable_prefix(key, MIN(len, (size_t) 48));
        where = printable_prefix(strempty(path), 256);
        if (!type || !where)
                return -ENOMEM;
        if (asprintf(ret, "SSH public key #%zu (%s%s%s%s)", n, isempty(type) ? "empty" : type,
                     len > 48 ? "…" : "", isempty(where) ? "" : ", for ", where) < 0)
                return -ENOMEM;
        return 0;
}

int ssh_key_identity(const char *line, char **ret) {
        _cleanup_free_ char *s = NULL;
        char *prev = NULL, *save = NULL, *p;
        int r;

        /* CR/LF removed anywhere, as ssh_key_normalize() does, so that a key and its normalized form have the
         * same identity (fuzz-ssh-key: a CR inside the blob gave the raw key another identity). */
        r = strip_crlf(line, &s);
        if (r < 0)
                return r;
        p = s;
        if (p[0] == '#' || p[0] == 0)
                return -ENOENT;
        /* The first "known-type blob" pair; anything before it is options (sshd(8) AUTHORIZED_KEYS). */
        for (char *t = strtok_r(p, " \t", &save); t; prev = t, t = strtok_r(NULL, " \t", &save))
                if (prev && key_type_supported(prev)) {
                        char *id;

                        if (asprintf(&id, "%s %s", prev, t) < 0)
                                return -ENOMEM;
                        *ret = id;
                        return 0;
                }
        return -ENOENT;
}

/* Appends the identity of every line of text to *ids. */
static int collect_identities(const char *text, char ***ids) {
        _cleanup_strv_free_ char **lines = NULL;
        int r;

        r = strv_split(strempty(text), "\n", &lines);
        if (r < 0)
                return r;
        for (char **l = lines; *l; l++) {
                char *id;

                r = ssh_key_identity(*l, &id);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                r = strv_push(ids, id);
                if (r < 0) {
                        free(id);
                        return r;
                }
        }
        return 0;
}

int ssh_authorized_keys_merge(const char *existing, char *const *keys, char **ret) {
        _cleanup_strv_free_ char **ids = NULL;
        _cleanup_free_ char *out = NULL;
        size_t len;
        bool added = false;
        int r;

        r = collect_identities(existing, &ids);
        if (r < 0)
                return r;
        out = strdup(strempty(existing));
        if (!out)
                return -ENOMEM;
        len = strlen(out);
        for (char *const *k = keys; k && *k; k++) {
                _cleanup_free_ char *id = NULL;
                char *n;

                r = ssh_key_identity(*k, &id);
                if (r < 0)
                        return r == -ENOENT ? -EINVAL : r;
                if (strv_contains(ids, id))
                        continue;
                r = strv_extend(&ids, id);
                if (r < 0)
                        return r;
                /* Keep existing bytes; terminate a last line that lacks its newline. */
                if (asprintf(&n, "%s%s%s\n", out, len > 0 && out[len - 1] != '\n' ? "\n" : "", *k) < 0)
                        return -ENOMEM;
                free(out);
                out = n;
                len = strlen(out);
                added = true;
        }
        if (!added)
                return 0;
        if (len > AUTHORIZED_KEYS_MAX)
                return -E2BIG;
        *ret = TAKE_PTR(out);
        return 1;
}

/* Splits p into components, dropping "" and ".", refusing "..". */
static int path_components(const char *p, char ***ret) {
        _cleanup_strv_free_ char **c = NULL, **out = NULL;
        int r;

        r = strv_split(p, "/", &c);
        if (r < 0)
                return r;
        for (char **i = c; *i; i++) {
                if (streq(*i, "."))
                        continue;
                if (streq(*i, ".."))
                        return -EPERM;
                r = strv_extend(&out, *i);
                if (r < 0)
                        return r;
        }
        if (!out && !(out = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(out);
        return 0;
}

static int join_components(char **c, char **ret) {
        size_t len = 0;
        char *s;

        for (char **i = c; *i; i++)
                len += strlen(*i) + 1;
        s = calloc(len + 1, 1);
        if (!s)
                return -ENOMEM;
        for (char **i = c; *i; i++) {
                if (i != c)
                        strcat(s, "/");
                strcat(s, *i);
        }
        *ret = s;
        return 0;
}

int ssh_key_path_resolve(const char *path, const char *home, char **ret_rel) {
        _cleanup_strv_free_ char **hc = NULL, **pc = NULL;
        _cleanup_free_ char *abs = NULL;
        size_t nh, np;
        int r;

        if (isempty(home) || home[0] != '/')
                return -EINVAL;
        if (isempty(path))
                path = ".ssh/authorized_keys";
        if (startswith(path, "$HOME/"))
                r = asprintf(&abs, "/home/%s", path + strlen("$HOME/"));
        else if (startswith(path, "~/"))
                r = asprintf(&abs, "%s/%s", home, path + 2);
        else if (path[0] != '/')
                r = asprintf(&abs, "%s/%s", home, path);
        else
                r = (abs = strdup(path)) ? 0 : -1;
        if (r < 0)
                return -ENOMEM;
        r = path_components(home, &hc);
        if (r >= 0)
                r = path_components(abs, &pc);
        if (r < 0)
                return r;
        nh = strv_length(hc);
        np = strv_length(pc);
        if (np <= nh)
                return -EPERM;
        for (size_t i = 0; i < nh; i++)
                if (!streq(hc[i], pc[i]))
                        return -EPERM;
        return join_components(pc + nh, ret_rel);
}

int sshd_dropin_content(bool disable_password_auth, char **ret) {
        /* sshd takes the first value it sees for a keyword; drop-ins are included at the top of sshd_config,
         * so this one wins over the main file (but not over lower-numbered drop-ins). Keyboard-interactive
         * would otherwise still offer PAM password prompts (waagent also turns off
         * ChallengeResponseAuthentication, its old name). */
        const char *s =
                disable_password_auth
                        ? "# Written by azl-agent from the VM's DisableSshPasswordAuthentication setting.\n"
                          "PasswordAuthentication no\n"
                          "KbdInteractiveAuthentication no\n"
                        : "# Written by azl-agent from the VM's DisableSshPasswordAuthentication setting.\n"
                          "PasswordAuthentication yes\n";
        char *c = strdup(s);

        if (!c)
                return -ENOMEM;
        *ret = c;
        return 0;
}
