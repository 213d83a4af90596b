/* SPDX-License-Identifier: MIT */
/*
 * Raw TPM 2.0 commands to read an NV index (see tpm2.h). Byte order on the wire is big-endian throughout (TPM 2.0
 * Part 1 §18.2); each parser walks the response with a cursor that refuses to read past what the header says
 * the response holds. Library code: nothing is logged above debug.
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "macro.h"
#include "strutil.h"
#include "tpm2.h"

/* Part 2 constants */
#define TPM_ST_NO_SESSIONS           0x8001U
#define TPM_ST_SESSIONS              0x8002U
#define TPM_CC_NV_READ               0x0000014EU
#define TPM_CC_NV_READ_PUBLIC        0x00000169U
#define TPM_CC_GET_CAPABILITY        0x0000017AU
#define TPM_CAP_TPM_PROPERTIES       0x00000006U
#define TPM_PT_NV_BUFFER_MAX         0x0000012CU /* PT_FIXED + 44 */
#define TPM_RH_OWNER                 0x40000001U
#define TPM_RS_PW                    0x40000009U
#define TPMA_SESSION_CONTINUESESSION 0x01U
#define TPM2_HEADER_SIZE             10U
#define TPM2_DIGEST_MAX              64U /* SHA-512 */
#define TPM2_RETRIES                 5U

/* response codes (Part 2 §6.6): format-one codes carry a handle/parameter number that is masked off */
#define TPM_RC_FMT1             0x080U
#define TPM_RC_VER1             0x100U
#define TPM_RC_WARN             0x900U
#define TPM_RC_HANDLE           (TPM_RC_FMT1 + 0x00BU)
#define TPM_RC_AUTH_FAIL        (TPM_RC_FMT1 + 0x00EU)
#define TPM_RC_BAD_AUTH         (TPM_RC_FMT1 + 0x022U)
#define TPM_RC_NV_RANGE         (TPM_RC_VER1 + 0x046U)
#define TPM_RC_NV_LOCKED        (TPM_RC_VER1 + 0x048U)
#define TPM_RC_NV_AUTHORIZATION (TPM_RC_VER1 + 0x049U)
#define TPM_RC_NV_UNINITIALIZED (TPM_RC_VER1 + 0x04AU)
#define TPM_RC_YIELDED          (TPM_RC_WARN + 0x008U)
#define TPM_RC_TESTING          (TPM_RC_WARN + 0x00AU)
#define TPM_RC_NV_RATE          (TPM_RC_WARN + 0x020U)
#define TPM_RC_RETRY            (TPM_RC_WARN + 0x022U)

struct Tpm2 {
        int fd;
        bool socket;
};

/* ---- byte order ---- */

static size_t put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) (v >> 8);
        p[1] = (uint8_t) v;
        return 2;
}

static size_t put32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t) (v >> 24);
        p[1] = (uint8_t) (v >> 16);
        p[2] = (uint8_t) (v >> 8);
        p[3] = (uint8_t) v;
        return 4;
}

/* A bounded reader: every get fails (and stays failed) when fewer bytes are left than asked for. */
typedef struct Cursor {
        const uint8_t *p;
        size_t left;
        bool bad;
} Cursor;

static bool take(Cursor *c, size_t n, const uint8_t **ret) {
        if (c->bad || c->left < n) {
                c->bad = true;
                return false;
        }
        *ret = c->p;
        c->p += n;
        c->left -= n;
        return true;
}

static uint8_t get8(Cursor *c) {
        const uint8_t *p;

        return take(c, 1, &p) ? p[0] : 0;
}

static uint16_t get16(Cursor *c) {
        const uint8_t *p;

        return take(c, 2, &p) ? (uint16_t) ((p[0] << 8) | p[1]) : 0;
}

static uint32_t get32(Cursor *c) {
        const uint8_t *p;

        return take(c, 4, &p)
                       ? ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3]
                       : 0;
}

/* A TPM2B: u16 size then that many bytes, at most max. */
static const uint8_t *get_tpm2b(Cursor *c, size_t max, size_t *ret_size) {
        uint16_t n = get16(c);
        const uint8_t *p = NULL;

        if (n > max)
                c->bad = true;
        if (!take(c, n, &p))
                return NULL;
        *ret_size = n;
        return p;
}

/* ---- builders ---- */

static size_t header(uint8_t *buf, uint16_t tag, uint32_t size, uint32_t code) {
        size_t n = put16(buf, tag);

        n += put32(buf + n, size);
        return n + put32(buf + n, code);
}

size_t tpm2_build_get_capability_nv_buffer_max(uint8_t buf[static 22]) {
        size_t n = header(buf, TPM_ST_NO_SESSIONS, 22, TPM_CC_GET_CAPABILITY);

        n += put32(buf + n, TPM_CAP_TPM_PROPERTIES);
        n += put32(buf + n, TPM_PT_NV_BUFFER_MAX);
        return n + put32(buf + n, 1);
}

size_t tpm2_build_nv_read_public(uint8_t buf[static 14], uint32_t index) {
        size_t n = header(buf, TPM_ST_NO_SESSIONS, 14, TPM_CC_NV_READ_PUBLIC);

        return n + put32(buf + n, index);
}

size_t tpm2_build_nv_read(uint8_t buf[static 35], uint32_t auth, uint32_t index, uint16_t size,
                          uint16_t offset) {
        size_t n = header(buf, TPM_ST_SESSIONS, 35, TPM_CC_NV_READ);

        n += put32(buf + n, auth);
        n += put32(buf + n, index);
        n += put32(buf + n, 9); /* authorizationSize: the one session below */
        n += put32(buf + n, TPM_RS_PW);
        n += put16(buf + n, 0); /* nonceCaller: empty */
        buf[n++] = TPMA_SESSION_CONTINUESESSION;
        n += put16(buf + n, 0); /* hmac: the password, empty */
        n += put16(buf + n, size);
        return n + put16(buf + n, offset);
}

/* ---- parsers ---- */

int tpm2_parse_header(const uint8_t *buf, size_t len, uint32_t *ret_rc) {
        Cursor c = {buf, len};
        uint16_t tag;
        uint32_t size, rc;

        if (!buf || len < TPM2_HEADER_SIZE)
                return -EBADMSG;
        tag = get16(&c);
        size = get32(&c);
        rc = get32(&c);
        if ((tag != TPM_ST_NO_SESSIONS && tag != TPM_ST_SESSIONS) || size != len)
                return -EBADMSG;
        if (ret_rc)
                *ret_rc = rc;
        return rc == 0 ? 0 : -EPROTO;
}

int tpm2_parse_nv_buffer_max(const uint8_t *buf, size_t len, uint32_t *ret) {
        uint32_t count;
        Cursor c;
        int r;

        r = tpm2_parse_header(buf, len, NULL);
        if (r < 0)
                return r;
        c = (Cursor){buf + TPM2_HEADER_SIZE, len - TPM2_HEADER_SIZE};
        (void) get8(&c); /* moreData */
        if (get32(&c) != TPM_CAP_TPM_PROPERTIES)
                return -EBADMSG;
        count = get32(&c);
        if (c.bad || count > c.left / 8)
                return -EBADMSG;
        for (uint32_t i = 0; i < count; i++) {
                uint32_t property = get32(&c), value = get32(&c);

                if (property == TPM_PT_NV_BUFFER_MAX && !c.bad) {
                        *ret = value;
                        return 0;
                }
        }
        return c.bad ? -EBADMSG : -ENODATA;
}

int tpm2_parse_nv_read_public(const uint8_t *buf, size_t len, Tpm2NvPublic *ret) {
        const uint8_t *p;
        Tpm2NvPublic v;
        Cursor c, pub;
        size_t n;
        int r;

        r = tpm2_parse_header(buf, len, NULL);
        if (r < 0)
                return r;
        c = (Cursor){buf + TPM2_HEADER_SIZE, len - TPM2_HEADER_SIZE};
        /* TPM2B_NV_PUBLIC: the size covers TPMS_NV_PUBLIC exactly */
        p = get_tpm2b(&c, c.left, &n);
        if (!p)
                return -EBADMSG;
        pub = (Cursor){p, n};
        v.index = get32(&pub);
        v.name_alg = get16(&pub);
        v.attributes = get32(&pub);
        (void) get_tpm2b(&pub, TPM2_DIGEST_MAX, &n); /* authPolicy */
        v.data_size = get16(&pub);
        if (pub.bad || pub.left != 0)
                return -EBADMSG;
        (void) get_tpm2b(&c, 2 + TPM2_DIGEST_MAX, &n); /* nvName: nameAlg + digest */
        if (c.bad || c.left != 0)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int tpm2_parse_nv_read(const uint8_t *buf, size_t len, const uint8_t **ret_data, size_t *ret_size) {
        const uint8_t *p, *data;
        uint32_t param_size;
        Cursor c, params;
        size_t n;
        int r;

        r = tpm2_parse_header(buf, len, NULL);
        if (r < 0)
                return r;
        c = (Cursor){buf + TPM2_HEADER_SIZE, len - TPM2_HEADER_SIZE};
        if (buf[0] != (TPM_ST_SESSIONS >> 8) || buf[1] != (TPM_ST_SESSIONS & 0xFF))
                return -EBADMSG; /* a successful NV_Read answers with its session */
        param_size = get32(&c);
        if (c.bad || param_size > c.left || !take(&c, param_size, &p))
                return -EBADMSG;
        params = (Cursor){p, param_size};
        data = get_tpm2b(&params, TPM2_RESPONSE_MAX, &n); /* TPM2B_MAX_NV_BUFFER */
        if (!data || params.left != 0)
                return -EBADMSG;
        /* the response session: nonceTPM, sessionAttributes, hmac (empty for a password session) */
        (void) get_tpm2b(&c, TPM2_DIGEST_MAX, &(size_t){0});
        (void) get8(&c);
        (void) get_tpm2b(&c, TPM2_DIGEST_MAX, &(size_t){0});
        if (c.bad || c.left != 0)
                return -EBADMSG;
        *ret_data = data;
        *ret_size = n;
        return 0;
}

int tpm2_nv_read_auth(const Tpm2NvPublic *pub, uint32_t *ret) {
        if (pub->attributes & TPMA_NV_AUTHREAD)
                *ret = pub->index;
        else if (pub->attributes & TPMA_NV_OWNERREAD)
                *ret = TPM_RH_OWNER;
        else
                return -EACCES;
        return 0;
}

const char *tpm2_rc_to_string(uint32_t rc, char *buf, size_t size) {
        static const struct {
                uint32_t rc;
                const char *name;
        } table[] = {
                {TPM_RC_HANDLE, "TPM_RC_HANDLE"},
                {TPM_RC_AUTH_FAIL, "TPM_RC_AUTH_FAIL"},
                {TPM_RC_BAD_AUTH, "TPM_RC_BAD_AUTH"},
                {TPM_RC_NV_RANGE, "TPM_RC_NV_RANGE"},
                {TPM_RC_NV_LOCKED, "TPM_RC_NV_LOCKED"},
                {TPM_RC_NV_AUTHORIZATION, "TPM_RC_NV_AUTHORIZATION"},
                {TPM_RC_NV_UNINITIALIZED, "TPM_RC_NV_UNINITIALIZED"},
                {TPM_RC_YIELDED, "TPM_RC_YIELDED"},
                {TPM_RC_TESTING, "TPM_RC_TESTING"},
                {TPM_RC_NV_RATE, "TPM_RC_NV_RATE"},
                {TPM_RC_RETRY, "TPM_RC_RETRY"},
        };
        uint32_t base = (rc & TPM_RC_FMT1) ? TPM_RC_FMT1 + (rc & 0x3FU) : rc;

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].rc == base) {
                        if (base != rc)
                                (void) snprintf(buf, size, "%s (0x%03x, %s %u)", table[i].name, rc,
                                                rc & 0x40U ? "parameter" : "handle/session",
                                                (rc >> 8) & 0xFU);
                        else
                                (void) snprintf(buf, size, "%s (0x%03x)", table[i].name, rc);
                        return buf;
                }
        (void) snprintf(buf, size, "TPM response code 0x%x", rc);
        return buf;
}

static uint32_t rc_base(uint32_t rc) {
        return (rc & TPM_RC_FMT1) ? TPM_RC_FMT1 + (rc & 0x3FU) : rc;
}

static bool rc_transient(uint32_t rc) {
        return rc == TPM_RC_YIELDED || rc == TPM_RC_TESTING || rc == TPM_RC_NV_RATE || rc == TPM_RC_RETRY;
}

/* ---- transport ---- */

int tpm2_open(int root_fd, const char *path, Tpm2 **ret) {
        _cleanup_close_ int fd = -EBADF, dev = -EBADF;
        char proc[64];
        struct stat st;
        Tpm2 *t;

        if (isempty(path) || !ret)
                return -EINVAL;
        fd = open_in_root(root_fd, path, O_PATH | O_CLOEXEC, 0);
        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0)
                return -errno;
        (void) snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (S_ISCHR(st.st_mode)) {
                dev = open(proc, O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (dev < 0)
                        return -errno;
        } else if (S_ISSOCK(st.st_mode)) {
                /* connect(2) to the socket this O_PATH fd resolved beneath the root, by its /proc path */
                struct sockaddr_un sa = {.sun_family = AF_UNIX};

                (void) snprintf(sa.sun_path, sizeof sa.sun_path, "%s", proc);
                dev = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (dev < 0)
                        return -errno;
                if (connect(dev, (struct sockaddr *) &sa, sizeof sa) < 0)
                        return -errno;
        } else
                return -ENOTTY;
        t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        t->fd = TAKE_FD(dev);
        t->socket = S_ISSOCK(st.st_mode);
        *ret = t;
        return 0;
}

Tpm2 *tpm2_close(Tpm2 *t) {
        if (t) {
                if (t->fd >= 0)
                        (void) close(t->fd);
                free(t);
        }
        return NULL;
}

static int wait_fd(int fd, short events, usec_t deadline) {
        for (;;) {
                usec_t now = now_usec(CLOCK_MONOTONIC);
                struct pollfd p = {.fd = fd, .events = events};
                int r;

                if (now >= deadline)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int) ((deadline - now) / USEC_PER_MSEC) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r > 0)
                        return 0;
        }
}

int tpm2_transmit(Tpm2 *t, const uint8_t *cmd, size_t size, uint8_t *resp, size_t max, size_t *ret_size) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + TPM2_TIMEOUT_USEC;
        size_t n = 0, want = TPM2_HEADER_SIZE;
        ssize_t k;
        int r;

        if (!t || !cmd || size < TPM2_HEADER_SIZE || !resp || max < TPM2_HEADER_SIZE)
                return -EINVAL;
        /* The kernel's TPM device takes a command in one write(); a socket may take it in pieces. */
        for (size_t w = 0; w < size; w += (size_t) k) {
                r = wait_fd(t->fd, POLLOUT, deadline);
                if (r < 0)
                        return r;
                k = t->socket ? send(t->fd, cmd + w, size - w, MSG_NOSIGNAL)
                              : write(t->fd, cmd + w, size - w);
                if (k < 0 && errno == EINTR)
                        k = 0;
                else if (k < 0)
                        return -errno;
                else if (!t->socket && (size_t) k != size)
                        return -EIO;
        }
        while (n < want) {
                r = wait_fd(t->fd, POLLIN, deadline);
                if (r < 0)
                        return r;
                k = read(t->fd, resp + n, max - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return -ECONNRESET;
                n += (size_t) k;
                if (n >= TPM2_HEADER_SIZE && want == TPM2_HEADER_SIZE) {
                        want = ((size_t) resp[2] << 24) | ((size_t) resp[3] << 16) |
                               ((size_t) resp[4] << 8) | resp[5];
                        if (want < TPM2_HEADER_SIZE || want > max)
                                return -EBADMSG;
                }
        }
        if (n != want)
                return -EBADMSG;
        *ret_size = n;
        return 0;
}

/* One command, repeated while the TPM answers with a transient warning (RETRY, YIELDED, TESTING, NV_RATE). */
static int tpm2_command(Tpm2 *t, const uint8_t *cmd, size_t size, uint8_t *resp, size_t *ret_size,
                        uint32_t *ret_rc) {
        uint32_t rc = 0;
        int r;

        for (unsigned attempt = 0;; attempt++) {
                r = tpm2_transmit(t, cmd, size, resp, TPM2_RESPONSE_MAX, ret_size);
                if (r < 0)
                        return r;
                r = tpm2_parse_header(resp, *ret_size, &rc);
                if (r != -EPROTO || !rc_transient(rc) || attempt + 1 >= TPM2_RETRIES)
                        break;
                (void) nanosleep(&(struct timespec){.tv_nsec = 50 * 1000 * 1000}, NULL);
        }
        if (ret_rc)
                *ret_rc = rc;
        return r;
}

int tpm2_nv_buffer_max(Tpm2 *t, uint32_t *ret) {
        uint8_t cmd[22], resp[TPM2_RESPONSE_MAX];
        size_t n;
        int r;

        r = tpm2_command(t, cmd, tpm2_build_get_capability_nv_buffer_max(cmd), resp, &n, NULL);
        if (r < 0)
                return r;
        return tpm2_parse_nv_buffer_max(resp, n, ret);
}

int tpm2_nv_read_public(Tpm2 *t, uint32_t index, Tpm2NvPublic *ret) {
        uint8_t cmd[14], resp[TPM2_RESPONSE_MAX];
        uint32_t rc = 0;
        size_t n;
        int r;

        r = tpm2_command(t, cmd, tpm2_build_nv_read_public(cmd, index), resp, &n, &rc);
        if (r == -EPROTO && rc_base(rc) == TPM_RC_HANDLE)
                return -ENOENT;
        if (r < 0)
                return r;
        r = tpm2_parse_nv_read_public(resp, n, ret);
        if (r >= 0 && ret->index != index)
                return -EBADMSG;
        return r;
}

static int nv_read_error(uint32_t rc) {
        switch (rc_base(rc)) {
        case TPM_RC_HANDLE:
                return -ENOENT;
        case TPM_RC_NV_UNINITIALIZED:
                return -ENODATA;
        case TPM_RC_NV_LOCKED:
        case TPM_RC_NV_AUTHORIZATION:
        case TPM_RC_AUTH_FAIL:
        case TPM_RC_BAD_AUTH:
                return -EACCES;
        default:
                return -EPROTO;
        }
}

int tpm2_nv_read(Tpm2 *t, uint32_t index, void **ret, size_t *ret_size, uint32_t *ret_rc) {
        _cleanup_free_ uint8_t *data = NULL;
        uint8_t resp[TPM2_RESPONSE_MAX];
        uint32_t auth, chunk = 0, rc = 0;
        Tpm2NvPublic pub;
        int r;

        r = tpm2_nv_read_public(t, index, &pub);
        if (r < 0)
                return r;
        if (!(pub.attributes & TPMA_NV_WRITTEN))
                return -ENODATA;
        if (pub.attributes & TPMA_NV_READLOCKED)
                return -EACCES;
        r = tpm2_nv_read_auth(&pub, &auth);
        if (r < 0)
                return r;
        if (pub.data_size > TPM2_NV_DATA_MAX)
                return -E2BIG;
        if (tpm2_nv_buffer_max(t, &chunk) < 0 || chunk == 0)
                chunk = TPM2_NV_CHUNK_DEFAULT;
        chunk = MIN(chunk, TPM2_RESPONSE_MAX - 64U); /* what a response of ours can carry */
        data = malloc(MAX(pub.data_size, 1U));
        if (!data)
                return -ENOMEM;
        for (uint32_t off = 0; off < pub.data_size;) {
                uint16_t want = (uint16_t) MIN(chunk, (uint32_t) pub.data_size - off);
                const uint8_t *got;
                uint8_t cmd[35];
                size_t n, got_size;

                r = tpm2_command(t, cmd, tpm2_build_nv_read(cmd, auth, index, want, (uint16_t) off), resp,
                                 &n, &rc);
                if (r == -EPROTO) {
                        if (ret_rc)
                                *ret_rc = rc;
                        return nv_read_error(rc);
                }
                if (r < 0)
                        return r;
                r = tpm2_parse_nv_read(resp, n, &got, &got_size);
                if (r < 0)
                        return r;
                if (got_size != want)
                        return -EBADMSG;
                memcpy(data + off, got, got_size);
                off += want;
        }
        *ret = TAKE_PTR(data);
        *ret_size = pub.data_size;
        return 0;
}
