/* SPDX-License-Identifier: MIT */
/*
 * ed25519 host keys in OpenSSH's formats (see ssh-hostkey.h). The formats, as OpenSSH's PROTOCOL.key and
 * RFC 8709 describe them, every string a uint32 big-endian length and its bytes:
 *
 *   public key blob   string "ssh-ed25519", string pk[32]
 *   .pub file         "ssh-ed25519 " base64(blob) " " comment "\n"
 *   private key       "-----BEGIN OPENSSH PRIVATE KEY-----\n" base64 in 70-column lines of
 *                       "openssh-key-v1\0", string "none" (cipher), string "none" (kdf), string "" (kdf
 *                       options), uint32 1 (keys), string blob, string private section
 *                     "-----END OPENSSH PRIVATE KEY-----\n"
 *   private section   uint32 check, uint32 check (equal: a wrong passphrase shows as a mismatch),
 *                     string "ssh-ed25519", string pk[32], string seed[32] || pk[32], string comment,
 *                     then 1, 2, 3, … until its length is a multiple of 8 (the "none" cipher's block size)
 *
 * Everything is sized before it is written, so each buffer holding the key is allocated once and erased with
 * OPENSSL_cleanse() before it is freed (no realloc leaves a copy behind).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fileio.h"
#include "macro.h"
#include "ssh-hostkey.h"
#include "strutil.h"

#define KEY_TYPE    "ssh-ed25519"
#define AUTH_MAGIC  "openssh-key-v1"
#define PEM_BEGIN   "-----BEGIN OPENSSH PRIVATE KEY-----\n"
#define PEM_END     "-----END OPENSSH PRIVATE KEY-----\n"
#define PEM_COLUMNS 70U
#define BLOCK_SIZE  8U
#define COMMENT_MAX 1024U

typedef struct Writer {
        uint8_t *p;
        size_t n;
} Writer;

static void put_u32(Writer *w, uint32_t v) {
        w->p[w->n++] = (uint8_t) (v >> 24);
        w->p[w->n++] = (uint8_t) (v >> 16);
        w->p[w->n++] = (uint8_t) (v >> 8);
        w->p[w->n++] = (uint8_t) v;
}

static void put_bytes(Writer *w, const void *data, size_t size) {
        if (size > 0)
                memcpy(w->p + w->n, data, size);
        w->n += size;
}

static void put_string(Writer *w, const void *data, size_t size) {
        put_u32(w, (uint32_t) size);
        put_bytes(w, data, size);
}

static void put_cstring(Writer *w, const char *s) {
        put_string(w, s, strlen(s));
}

#define BLOB_SIZE (4U + sizeof(KEY_TYPE) - 1U + 4U + SSH_ED25519_KEY_SIZE)

static void put_blob(Writer *w, const uint8_t pub[SSH_ED25519_KEY_SIZE]) {
        put_cstring(w, KEY_TYPE);
        put_string(w, pub, SSH_ED25519_KEY_SIZE);
}

static void cleanse_free(void *p, size_t size) {
        if (p)
                OPENSSL_cleanse(p, size);
        free(p);
}

/* The armoured text of a binary key: base64 in PEM_COLUMNS lines between the BEGIN and END lines. */
static int armour(const uint8_t *data, size_t size, char **ret) {
        char *b64 = NULL, *out;
        size_t len, lines, o = 0;
        int r;

        r = base64_encode(data, size, &b64);
        if (r < 0)
                return r;
        len = strlen(b64);
        lines = (len + PEM_COLUMNS - 1) / PEM_COLUMNS;
        out = malloc(strlen(PEM_BEGIN) + len + lines + strlen(PEM_END) + 1);
        if (!out) {
                cleanse_free(b64, len);
                return -ENOMEM;
        }
        memcpy(out, PEM_BEGIN, strlen(PEM_BEGIN));
        o = strlen(PEM_BEGIN);
        for (size_t i = 0; i < len; i += PEM_COLUMNS) {
                size_t n = MIN(PEM_COLUMNS, len - i);

                memcpy(out + o, b64 + i, n);
                o += n;
                out[o++] = '\n';
        }
        memcpy(out + o, PEM_END, strlen(PEM_END) + 1);
        cleanse_free(b64, len);
        *ret = out;
        return 0;
}

int ssh_ed25519_format(const uint8_t seed[SSH_ED25519_KEY_SIZE], const uint8_t pub[SSH_ED25519_KEY_SIZE],
                       uint32_t check, const char *comment, char **ret_private, char **ret_public) {
        _cleanup_free_ char *blob_b64 = NULL, *public = NULL;
        uint8_t blob[BLOB_SIZE];
        Writer b = {.p = blob};
        size_t comment_len, section, padded, total;
        uint8_t *key;
        Writer w;
        int r;

        comment = strempty(comment);
        comment_len = strlen(comment);
        if (comment_len > COMMENT_MAX || strpbrk(comment, "\r\n"))
                return -EINVAL;

        put_blob(&b, pub);
        r = base64_encode(blob, sizeof blob, &blob_b64);
        if (r < 0)
                return r;
        if (asprintf(&public, KEY_TYPE " %s%s%s\n", blob_b64, comment_len > 0 ? " " : "", comment) < 0)
                return -ENOMEM;

        section = 4 + 4 + BLOB_SIZE + 4 + 2 * SSH_ED25519_KEY_SIZE + 4 + comment_len;
        padded = (section + BLOCK_SIZE - 1) / BLOCK_SIZE * BLOCK_SIZE;
        total = sizeof(AUTH_MAGIC) + (4 + 4) * 2 + 4 + 4 + 4 + BLOB_SIZE + 4 + padded;
        key = calloc(1, total);
        if (!key)
                return -ENOMEM;
        w = (Writer){.p = key};
        put_bytes(&w, AUTH_MAGIC, sizeof(AUTH_MAGIC)); /* with its NUL */
        put_cstring(&w, "none");
        put_cstring(&w, "none");
        put_string(&w, NULL, 0);
        put_u32(&w, 1);
        put_string(&w, blob, sizeof blob);
        put_u32(&w, (uint32_t) padded);
        put_u32(&w, check);
        put_u32(&w, check);
        put_blob(&w, pub);
        put_u32(&w, 2 * SSH_ED25519_KEY_SIZE);
        put_bytes(&w, seed, SSH_ED25519_KEY_SIZE);
        put_bytes(&w, pub, SSH_ED25519_KEY_SIZE);
        put_string(&w, comment, comment_len);
        for (uint8_t i = 1; w.n < total; i++)
                w.p[w.n++] = i;

        r = armour(key, total, ret_private);
        cleanse_free(key, total);
        if (r < 0)
                return r;
        *ret_public = TAKE_PTR(public);
        return 0;
}

static int generate(uint8_t seed[SSH_ED25519_KEY_SIZE], uint8_t pub[SSH_ED25519_KEY_SIZE], uint32_t *check) {
        EVP_PKEY *pkey;
        size_t n = SSH_ED25519_KEY_SIZE, m = SSH_ED25519_KEY_SIZE;
        int r = 0;

        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (!pkey)
                return -EIO;
        if (EVP_PKEY_get_raw_private_key(pkey, seed, &n) != 1 || n != SSH_ED25519_KEY_SIZE ||
            EVP_PKEY_get_raw_public_key(pkey, pub, &m) != 1 || m != SSH_ED25519_KEY_SIZE ||
            RAND_bytes((unsigned char *) check, sizeof *check) != 1)
                r = -EIO;
        EVP_PKEY_free(pkey);
        return r;
}

int ssh_host_key_ed25519_write(int root_fd, const char *comment) {
        uint8_t seed[SSH_ED25519_KEY_SIZE], pub[SSH_ED25519_KEY_SIZE];
        char *private = NULL, *public = NULL;
        uint32_t check = 0;
        int r;

        r = generate(seed, pub, &check);
        if (r >= 0)
                r = ssh_ed25519_format(seed, pub, check, comment, &private, &public);
        OPENSSL_cleanse(seed, sizeof seed);
        if (r < 0)
                return r;
        r = mkdir_p_in_root(root_fd, "/etc/ssh", 0755);
        /* The private key first: a .pub without its key would be a broken pair; the reverse is what ssh-keygen
         * leaves when interrupted too, and sshd needs only the private file. */
        if (r >= 0)
                r = write_file_atomic_in_root(root_fd, SSH_HOST_ED25519_KEY_PATH, private, strlen(private),
                                              0600, 0, 0, 0);
        if (r >= 0)
                r = write_file_atomic_in_root(root_fd, SSH_HOST_ED25519_KEY_PATH ".pub", public,
                                              strlen(public), 0644, 0, 0, 0);
        cleanse_free(private, strlen(private));
        free(public);
        return r;
}
