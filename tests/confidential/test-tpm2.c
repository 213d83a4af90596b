/* SPDX-License-Identifier: MIT */
/*
 * TPM 2.0 NV reads (provisioners/confidential/tpm2.h): the command bytes, every parser against truncation and lies about
 * sizes, and the whole read against a small NV-only TPM served on a unix socket beneath a scratch root (the real
 * thing, swtpm, is exercised by tests/confidential/test_confidential.py).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "tests.h"
#include "tpm2.h"

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

static uint32_t get32(const uint8_t *p) {
        return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* A response: header with the final size, then body. */
static size_t response(uint8_t *buf, uint16_t tag, uint32_t rc, const uint8_t *body, size_t n) {
        size_t k = put16(buf, tag);

        k += put32(buf + k, (uint32_t) (10 + n));
        k += put32(buf + k, rc);
        if (n > 0) /* body may be NULL for an empty one */
                memcpy(buf + k, body, n);
        return k + n;
}

/* The NV_ReadPublic body for index (attributes, size), nameAlg SHA-256, a 32-byte auth policy. */
static size_t read_public_body(uint8_t *b, uint32_t index, uint32_t attributes, uint16_t size) {
        size_t k = 2;

        k += put32(b + k, index);
        k += put16(b + k, 0x000B);
        k += put32(b + k, attributes);
        k += put16(b + k, 32);
        memset(b + k, 0xAA, 32);
        k += 32;
        k += put16(b + k, size);
        put16(b, (uint16_t) (k - 2));
        k += put16(b + k, 34); /* nvName: nameAlg + SHA-256 digest */
        memset(b + k, 0x55, 34);
        return k + 34;
}

static void test_builders(void **state) {
        static const uint8_t cap[] = {0x80, 0x01, 0, 0, 0, 22,   0,    0, 0x01, 0x7A, 0,
                                      0,    0,    6, 0, 0, 0x01, 0x2C, 0, 0,    0,    1};
        static const uint8_t pub[] = {0x80, 0x01, 0, 0, 0, 14, 0, 0, 0x01, 0x69, 0x01, 0x40, 0x00, 0x01};
        static const uint8_t rd[] = {0x80, 0x02, 0,    0,    0,    35,   0, 0,    0x01, 0x4E, 0x40, 0,
                                     0,    0x01, 0x01, 0x40, 0,    0x01, 0, 0,    0,    9,    0x40, 0,
                                     0,    0x09, 0,    0,    0x01, 0,    0, 0x02, 0,    0x04, 0};
        uint8_t buf[64];

        assert_int_equal(tpm2_build_get_capability_nv_buffer_max(buf), sizeof cap);
        assert_memory_equal(buf, cap, sizeof cap);
        assert_int_equal(tpm2_build_nv_read_public(buf, TPM2_NV_INDEX_HCL_REPORT), sizeof pub);
        assert_memory_equal(buf, pub, sizeof pub);
        assert_int_equal(tpm2_build_nv_read(buf, 0x40000001, TPM2_NV_INDEX_HCL_REPORT, 512, 1024),
                         sizeof rd);
        assert_memory_equal(buf, rd, sizeof rd);
}

static void test_parse_read_public(void **state) {
        uint8_t body[256], buf[300];
        Tpm2NvPublic p;
        uint32_t rc = 0, auth;
        size_t n, m;
        char text[96];

        m = read_public_body(body, 0x01400001, TPMA_NV_OWNERREAD | TPMA_NV_WRITTEN, 2600);
        n = response(buf, 0x8001, 0, body, m);
        assert_int_equal(tpm2_parse_nv_read_public(buf, n, &p), 0);
        assert_int_equal(p.index, 0x01400001);
        assert_int_equal(p.data_size, 2600);
        assert_int_equal(p.name_alg, 0x000B);
        assert_int_equal(tpm2_nv_read_auth(&p, &auth), 0);
        assert_int_equal(auth, 0x40000001); /* owner */
        p.attributes |= TPMA_NV_AUTHREAD;
        assert_int_equal(tpm2_nv_read_auth(&p, &auth), 0);
        assert_int_equal(auth, 0x01400001); /* the index itself */
        p.attributes = TPMA_NV_POLICYREAD;
        assert_int_equal(tpm2_nv_read_auth(&p, &auth), -EACCES);

        /* Every truncation, and the header's size disagreeing with what came, is refused. */
        for (size_t k = 0; k < n; k++) {
                uint8_t cut[300];

                memcpy(cut, buf, k);
                if (k >= 6)
                        put32(cut + 2, (uint32_t) k);
                assert_int_equal(tpm2_parse_nv_read_public(cut, k, &p), -EBADMSG);
        }
        assert_int_equal(tpm2_parse_nv_read_public(buf, n - 1, &p), -EBADMSG);
        /* a TPM2B_NV_PUBLIC size that does not cover the structure exactly */
        body[1]++;
        n = response(buf, 0x8001, 0, body, m);
        assert_int_equal(tpm2_parse_nv_read_public(buf, n, &p), -EBADMSG);
        body[1]--;
        /* trailing bytes after nvName */
        body[m] = 0;
        n = response(buf, 0x8001, 0, body, m + 1);
        assert_int_equal(tpm2_parse_nv_read_public(buf, n, &p), -EBADMSG);

        /* An error response: the code comes back, named. */
        n = response(buf, 0x8001, 0x18B, NULL, 0);
        assert_int_equal(tpm2_parse_header(buf, n, &rc), -EPROTO);
        assert_int_equal(rc, 0x18B);
        assert_string_equal(tpm2_rc_to_string(rc, text, sizeof text),
                            "TPM_RC_HANDLE (0x18b, handle/session 1)");
        assert_string_equal(tpm2_rc_to_string(0x14A, text, sizeof text), "TPM_RC_NV_UNINITIALIZED (0x14a)");
        n = response(buf, 0x8003, 0, NULL, 0); /* no such tag */
        assert_int_equal(tpm2_parse_header(buf, n, NULL), -EBADMSG);
}

static size_t nv_read_response(uint8_t *buf, const uint8_t *data, uint16_t size, int32_t param_delta) {
        uint8_t body[TPM2_RESPONSE_MAX];
        size_t k = 0;

        k += put32(body + k, (uint32_t) (2 + size + param_delta));
        k += put16(body + k, size);
        memcpy(body + k, data, size);
        k += size;
        k += put16(body + k, 0); /* nonceTPM */
        body[k++] = 0x01;        /* sessionAttributes */
        k += put16(body + k, 0); /* hmac */
        return response(buf, 0x8002, 0, body, k);
}

static void test_parse_read(void **state) {
        uint8_t buf[TPM2_RESPONSE_MAX + 64], data[100];
        const uint8_t *got;
        size_t n, size;
        uint32_t max = 0;

        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t) i;
        n = nv_read_response(buf, data, sizeof data, 0);
        assert_int_equal(tpm2_parse_nv_read(buf, n, &got, &size), 0);
        assert_int_equal(size, sizeof data);
        assert_memory_equal(got, data, sizeof data);
        for (size_t k = 10; k < n; k++) {
                put32(buf + 2, (uint32_t) k);
                assert_int_equal(tpm2_parse_nv_read(buf, k, &got, &size), -EBADMSG);
        }
        /* parameterSize that disagrees with the buffer inside it, either way */
        n = nv_read_response(buf, data, sizeof data, 1);
        assert_int_equal(tpm2_parse_nv_read(buf, n, &got, &size), -EBADMSG);
        n = nv_read_response(buf, data, sizeof data, -1);
        assert_int_equal(tpm2_parse_nv_read(buf, n, &got, &size), -EBADMSG);
        /* a success without a session area is not an NV_Read answer */
        n = response(buf, 0x8001, 0, data, 20);
        assert_int_equal(tpm2_parse_nv_read(buf, n, &got, &size), -EBADMSG);

        /* GetCapability: the property among others; a count larger than what follows */
        uint8_t cap[64];
        size_t k = 0;
        cap[k++] = 0;
        k += put32(cap + k, 6);
        k += put32(cap + k, 2);
        k += put32(cap + k, 0x12B);
        k += put32(cap + k, 7);
        k += put32(cap + k, 0x12C);
        k += put32(cap + k, 1024);
        n = response(buf, 0x8001, 0, cap, k);
        assert_int_equal(tpm2_parse_nv_buffer_max(buf, n, &max), 0);
        assert_int_equal(max, 1024);
        put32(cap + 5, 3);
        n = response(buf, 0x8001, 0, cap, k);
        assert_int_equal(tpm2_parse_nv_buffer_max(buf, n, &max), -EBADMSG);
}

/* ---- a TPM that knows NV indexes only, on a unix socket ---- */

typedef struct FakeTpm {
        int listen_fd;
        uint32_t attributes;
        uint8_t data[3000];
        uint16_t size;
        uint32_t chunk;
        unsigned reads;
        uint32_t last_auth;
} FakeTpm;

static size_t fake_answer(FakeTpm *t, const uint8_t *cmd, size_t n, uint8_t *resp) {
        uint32_t code = get32(cmd + 6);
        uint8_t body[TPM2_RESPONSE_MAX];

        if (code == 0x17A) { /* GetCapability */
                size_t k = 0;

                body[k++] = 0;
                k += put32(body + k, 6);
                k += put32(body + k, 1);
                k += put32(body + k, 0x12C);
                k += put32(body + k, t->chunk);
                return response(resp, 0x8001, 0, body, k);
        }
        if (code == 0x169) { /* NV_ReadPublic */
                if (get32(cmd + 10) != TPM2_NV_INDEX_HCL_REPORT)
                        return response(resp, 0x8001, 0x18B, NULL, 0);
                return response(resp, 0x8001, 0, body,
                                read_public_body(body, TPM2_NV_INDEX_HCL_REPORT, t->attributes, t->size));
        }
        if (code == 0x14E && n == 35) { /* NV_Read */
                uint16_t want = (uint16_t) ((cmd[31] << 8) | cmd[32]),
                         off = (uint16_t) ((cmd[33] << 8) | cmd[34]);

                t->last_auth = get32(cmd + 10);
                if (get32(cmd + 22) != 0x40000009)
                        return response(resp, 0x8001, 0x9A2, NULL, 0);
                if (want > t->chunk || off + want > t->size)
                        return response(resp, 0x8001, 0x146, NULL, 0);
                t->reads++;
                return nv_read_response(resp, t->data + off, want, 0);
        }
        return response(resp, 0x8001, 0x143, NULL, 0); /* TPM_RC_COMMAND_CODE */
}

static void *fake_tpm_thread(void *userdata) {
        FakeTpm *t = userdata;

        for (;;) {
                int fd = accept(t->listen_fd, NULL, NULL);
                uint8_t cmd[256], resp[TPM2_RESPONSE_MAX + 64];

                if (fd < 0)
                        return NULL;
                for (;;) {
                        ssize_t n = read(fd, cmd, sizeof cmd);
                        size_t m;

                        if (n <= 0)
                                break;
                        m = fake_answer(t, cmd, (size_t) n, resp);
                        /* in two pieces, as a stream may deliver it */
                        if (write(fd, resp, 3) != 3 || write(fd, resp + 3, m - 3) != (ssize_t) (m - 3))
                                break;
                }
                close(fd);
        }
}

static void test_fake_tpm(void **state) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        _cleanup_close_ int root = -EBADF;
        _cleanup_free_ void *data = NULL;
        char *dir = tmpdir_new();
        FakeTpm t = {.attributes = TPMA_NV_OWNERREAD | TPMA_NV_WRITTEN, .size = 2600, .chunk = 700};
        pthread_t thread;
        Tpm2 *tpm = NULL;
        uint32_t rc = 0;
        size_t size = 0;

        for (size_t i = 0; i < sizeof t.data; i++)
                t.data[i] = (uint8_t) (i * 7);
        (void) snprintf(sa.sun_path, sizeof sa.sun_path, "%s/dev/tpm.sock", dir);
        write_test_file(dir, "dev/.keep", "");
        t.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(t.listen_fd >= 0);
        assert_int_equal(bind(t.listen_fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(t.listen_fd, 4), 0);
        assert_int_equal(pthread_create(&thread, NULL, fake_tpm_thread, &t), 0);
        assert_int_equal(root_open(dir, &root), 0);

        /* Beneath the root: "/dev/tpm.sock" is the scratch tree's. A path that is no device or socket is refused. */
        assert_int_equal(tpm2_open(root, "/dev/.keep", &tpm), -ENOTTY);
        assert_int_equal(tpm2_open(root, "/dev/tpmrm0", &tpm), -ENOENT);
        assert_int_equal(tpm2_open(root, "/dev/tpm.sock", &tpm), 0);
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), 0);
        assert_int_equal(size, 2600);
        assert_memory_equal(data, t.data, 2600);
        assert_int_equal(t.reads, 4); /* 700 + 700 + 700 + 500 */
        assert_int_equal(t.last_auth, 0x40000001);
        free(data);
        data = NULL;

        /* AUTHREAD: the index authorizes itself */
        t.attributes |= TPMA_NV_AUTHREAD;
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), 0);
        assert_int_equal(t.last_auth, TPM2_NV_INDEX_HCL_REPORT);
        free(data);
        data = NULL;

        /* not written, read-locked, policy only, absent */
        t.attributes = TPMA_NV_OWNERREAD;
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), -ENODATA);
        t.attributes = TPMA_NV_OWNERREAD | TPMA_NV_WRITTEN | TPMA_NV_READLOCKED;
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), -EACCES);
        t.attributes = TPMA_NV_POLICYREAD | TPMA_NV_WRITTEN;
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), -EACCES);
        assert_int_equal(tpm2_nv_read(tpm, 0x01400002, &data, &size, &rc), -ENOENT);
        /* an index larger than we read */
        t.attributes = TPMA_NV_OWNERREAD | TPMA_NV_WRITTEN;
        t.size = TPM2_NV_DATA_MAX + 1;
        assert_int_equal(tpm2_nv_read(tpm, TPM2_NV_INDEX_HCL_REPORT, &data, &size, &rc), -E2BIG);
        assert_null(data);

        tpm = tpm2_close(tpm);
        shutdown(t.listen_fd, SHUT_RDWR);
        close(t.listen_fd);
        pthread_join(thread, NULL);
        tmpdir_remove(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_builders),
                cmocka_unit_test(test_parse_read_public),
                cmocka_unit_test(test_parse_read),
                cmocka_unit_test(test_fake_tpm),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
