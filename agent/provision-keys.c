/* SPDX-License-Identifier: MIT */
/*
 * SSH keys that ovf-env.xml gives only by fingerprint (<PublicKey><Fingerprint>…</Fingerprint><Path>…</Path>
 * without <Value>). The fingerprint is the thumbprint of a certificate of the goal state (protocol §1.6), and the key
 * is that certificate's public key: waagent and cloud-init fetch the Certificates and convert the key with
 * `ssh-keygen -i -m PKCS8`; we do the same in-process (certificate_openssh_public_key(), the same bytes). The
 * Certificates are fetched once, and only when such a key exists, with a transport certificate made for the
 * request and nothing written to disk (the daemon writes the certificates later). A fingerprint that matches no
 * certificate — or Certificates that cannot be fetched — is reported and the key skipped: validation then decides
 * whether the admin can still log in with another key or a password.
 */
#include <string.h>

#include "azure-client.h"
#include "log.h"
#include "provision-keys.h"

/* "E1:CB:D8:…", "e1cbd8…" → "E1CBD8…"; -EINVAL unless 40 hex digits remain. */
static int fingerprint_normalize(const char *s, char ret[static 41]) {
        size_t n = 0;

        for (; s && *s; s++) {
                if (*s == ':' || *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
                        continue;
                if (n >= 40 || !strchr("0123456789abcdefABCDEF", *s))
                        return -EINVAL;
                ret[n++] = (char) (*s >= 'a' && *s <= 'f' ? *s - ('a' - 'A') : *s);
        }
        if (n != 40)
                return -EINVAL;
        ret[n] = 0;
        return 0;
}

static bool key_needs_certificate(const OvfPublicKey *k) {
        return isempty(k->value) && !isempty(k->fingerprint);
}

/* "SSH key <thumbprint> for <path>" (the fingerprint as given when it is no thumbprint), for reports. */
static int key_label(const OvfPublicKey *k, const char *thumb, char **ret) {
        if (asprintf(ret, "SSH key %s for %s", thumb ?: "given by fingerprint", strna(k->path)) < 0)
                return -ENOMEM;
        return 0;
}

/* Reports a key that is left out: to on_skip and, as "<label>: <reason>", to *skipped. -ENOMEM only. */
static int key_skipped(const OvfPublicKey *k, const char *thumb, const char *reason, SshKeySkipFunc on_skip,
                       void *userdata, char ***skipped) {
        _cleanup_free_ char *label = NULL, *why = NULL;
        int r;

        if (key_label(k, thumb, &label) < 0 || asprintf(&why, "%s: %s", label, reason) < 0)
                return -ENOMEM;
        if (on_skip) {
                r = on_skip(label, reason, userdata);
                if (r < 0)
                        return r;
        }
        if (strv_push(skipped, why) < 0)
                return -ENOMEM;
        why = NULL;
        return 0;
}

/* Fills in the value of each fingerprint-only key from list; returns how many were filled, or -ENOMEM. */
static int keys_from_certificates(OvfEnv *ovf, const CertificateList *list, SshKeySkipFunc on_skip,
                                  void *userdata, char ***skipped) {
        int n = 0, r;

        for (size_t i = 0; i < ovf->n_public_keys; i++) {
                OvfPublicKey *k = &ovf->public_keys[i];
                _cleanup_free_ char *line = NULL, *reason = NULL;
                const Certificate *cert;
                char thumb[41];
                bool is_thumb;

                if (!key_needs_certificate(k))
                        continue;
                is_thumb = fingerprint_normalize(k->fingerprint, thumb) >= 0;
                if (!is_thumb)
                        r = asprintf(&reason, "fingerprint '%.64s' is not a certificate thumbprint",
                                     k->fingerprint);
                else if (!(cert = certificate_list_find(list, thumb)))
                        r = asprintf(&reason, "no goal-state certificate has that thumbprint");
                else if ((r = certificate_openssh_public_key(cert->cert, &line)) < 0)
                        r = asprintf(&reason, "the certificate's key cannot be an SSH key (%s)",
                                     r == -EPROTONOSUPPORT ? "unsupported key type" : strerror(-r));
                else {
                        free(k->value);
                        k->value = TAKE_PTR(line);
                        n++;
                        continue;
                }
                if (r < 0)
                        return -ENOMEM;
                r = key_skipped(k, is_thumb ? thumb : NULL, reason, on_skip, userdata, skipped);
                if (r < 0)
                        return r;
        }
        return n;
}

int provision_resolve_key_fingerprints(const WireOptions *wire, const GoalState *g, OvfEnv *ovf,
                                       SshKeySkipFunc on_skip, void *userdata, char **ret_summary) {
        _cleanup_(certificate_list_done) CertificateList list = {};
        _cleanup_strv_free_ char **skipped = NULL;
        _cleanup_free_ char *reason = NULL, *summary = NULL, *why = NULL;
        size_t wanted = 0;
        int n = 0, r;

        for (size_t i = 0; ovf && i < ovf->n_public_keys; i++)
                if (key_needs_certificate(&ovf->public_keys[i]))
                        wanted++;
        if (wanted == 0) {
                *ret_summary = NULL;
                return 0;
        }
        if (!g || !g->certificates_url)
                r = -ENOENT;
        else
                r = wire_fetch_certificates(wire, g, &list, &reason);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                char what[HTTP_FAILURE_STRING_MAX + 64];

                (void) snprintf(what, sizeof what, "%s", r == -ENOENT ? "the goal state has no certificates" :
                                                         reason ?: strerror(-r));
                log_warning("SSH keys given by fingerprint: cannot get the goal state's certificates: %s",
                            what);
                if (asprintf(&why, "cannot get the goal state's certificates: %s", what) < 0)
                        return -ENOMEM;
                for (size_t i = 0; on_skip && i < ovf->n_public_keys; i++) {
                        const OvfPublicKey *k = &ovf->public_keys[i];
                        _cleanup_free_ char *label = NULL;
                        char thumb[41];

                        if (!key_needs_certificate(k))
                                continue;
                        if (key_label(k, fingerprint_normalize(k->fingerprint, thumb) >= 0 ? thumb : NULL,
                                      &label) < 0)
                                return -ENOMEM;
                        r = on_skip(label, why, userdata);
                        if (r < 0)
                                return r;
                }
                if (asprintf(&summary, "%zu SSH key(s) given by fingerprint skipped: %s", wanted, what) < 0)
                        return -ENOMEM;
                *ret_summary = TAKE_PTR(summary);
                return 0;
        }
        n = keys_from_certificates(ovf, &list, on_skip, userdata, &skipped);
        if (n < 0)
                return n;
        for (char **s = skipped; !on_skip && s && *s; s++) /* on_skip reports them itself */
                log_warning("%s; skipped.", *s);
        log_info("%d SSH key(s) given by fingerprint taken from %zu goal-state certificate(s).", n, list.n);
        if (asprintf(&summary, "%d SSH key(s) from goal-state certificates%s%s", n,
                     skipped ? "; skipped: " : "", skipped ? skipped[0] : "") < 0)
                return -ENOMEM;
        if (strv_length(skipped) > 1) {
                char *more = NULL;

                if (asprintf(&more, "%s (and %zu more)", summary, strv_length(skipped) - 1) < 0)
                        return -ENOMEM;
                free(summary);
                summary = more;
        }
        *ret_summary = TAKE_PTR(summary);
        return 0;
}
