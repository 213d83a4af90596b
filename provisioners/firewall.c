/* SPDX-License-Identifier: MIT */
/*
 * The WireServer guard: see firewall.h for the table and why. The nftables text is built here from values that
 * cannot carry syntax: the address is formatted by inet_ntop() from a parsed in_addr, cgroup paths are checked
 * against the characters of systemd unit names before they are quoted. Everything goes through one nft_ctx with
 * buffered output and errors, so nothing reaches our stdout/stderr and the error text becomes the status reason.
 * The context lives for one reconcile or remove, not for the daemon's life: libnftables keeps its cache (five
 * 128 KiB hash tables, every bucket written) in the context, ≈ 660 KiB of private memory between passes. And a
 * reconcile that finds the ruleset's generation unchanged since it last listed our table needs no context at all:
 * the kernel bumps the generation at every committed nftables transaction, so nobody can have flushed, deleted
 * or edited the table in between (one netlink round trip instead of ≈ 6 ms of libnftables per daemon pass).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>
#include <linux/magic.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <nftables/libnftables.h>

#include "dlopen-util.h"
#include "fileio.h"
#include "firewall.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"

#define CGROUP_FS           "/sys/fs/cgroup" /* nftables resolves "socket cgroupv2" paths beneath it */
#define CGROUP_SEARCH_DEPTH 8U               /* slices nest; systemd's deepest are a few levels */
#define CGROUP_SEARCH_DIRS  4096U            /* directories visited looking for one unit */
#define NFT_TEXT_MAX        (64U * 1024U)    /* our listing; far larger means it is not ours any more */

static const char *const firewall_state_table[_FIREWALL_STATE_MAX] = {
        [FIREWALL_ACTIVE] = "active",           [FIREWALL_DISABLED] = "disabled",
        [FIREWALL_PROXY_AGENT] = "proxy-agent", [FIREWALL_SKIPPED] = "skipped",
        [FIREWALL_FAILED] = "failed",
};

const char *firewall_state_to_string(FirewallState s) {
        return s >= 0 && s < _FIREWALL_STATE_MAX ? firewall_state_table[s] : NULL;
}

FirewallState firewall_state_from_string(const char *s) {
        for (size_t i = 0; s && i < _FIREWALL_STATE_MAX; i++)
                if (streq(firewall_state_table[i], s))
                        return (FirewallState) i;
        return _FIREWALL_STATE_INVALID;
}

/* ---- status ---- */

void firewall_status_done(FirewallStatus *s) {
        free(s->detail);
        *s = (FirewallStatus){};
}

int firewall_status_set(FirewallStatus *s, FirewallState state, const char *fmt, ...) {
        _cleanup_free_ char *detail = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        if (strlen(detail) > FIREWALL_DETAIL_MAX)
                detail[FIREWALL_DETAIL_MAX] = 0;
        free(s->detail);
        s->detail = TAKE_PTR(detail);
        s->state = state;
        return 0;
}

int firewall_status_to_json(const FirewallStatus *s, char **ret) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        char *text;

        if (!o || !firewall_state_to_string(s->state))
                return o ? -EINVAL : -ENOMEM;
        if (json_object_object_add(o, "version", json_object_new_int(1)) < 0 ||
            json_object_object_add(o, "state", json_object_new_string(firewall_state_to_string(s->state))) <
                    0 ||
            json_object_object_add(o, "detail", json_object_new_string(strempty(s->detail))) < 0)
                return -ENOMEM;
        text = strdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        if (!text)
                return -ENOMEM;
        *ret = text;
        return 0;
}

int firewall_status_from_json(const char *buf, size_t len, FirewallStatus *ret) {
        _cleanup_json_ struct json_object *o = NULL;
        struct json_object *v;
        FirewallStatus s = {};
        FirewallState state;
        int r;

        r = json_parse_buffer(buf, len, &o, NULL);
        if (r < 0)
                return r;
        if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "state", &v) ||
            !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        state = firewall_state_from_string(json_object_get_string(v));
        if (state < 0)
                return -EBADMSG;
        s.state = state;
        if (json_object_object_get_ex(o, "detail", &v) && json_object_is_type(v, json_type_string) &&
            !(s.detail = strndup(json_object_get_string(v), FIREWALL_DETAIL_MAX)))
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int status_path(const char *state_dir, char **ret) {
        return asprintf(ret, "%s/" FIREWALL_STATUS_FILE, state_dir) < 0 ? -ENOMEM : 0;
}

int firewall_status_save(int root_fd, const char *state_dir, const FirewallStatus *s) {
        _cleanup_free_ char *text = NULL, *path = NULL;
        int r;

        r = firewall_status_to_json(s, &text);
        if (r < 0)
                return r;
        r = status_path(state_dir, &path);
        if (r < 0)
                return r;
        r = mkdir_p_in_root(root_fd, state_dir, 0700);
        if (r < 0)
                return r;
        return write_string_file_atomic_in_root(root_fd, path, text, 0644, WRITE_SYNC);
}

int firewall_status_load(int root_fd, const char *state_dir, FirewallStatus *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        size_t size;
        int r;

        r = status_path(state_dir, &path);
        if (r < 0)
                return r;
        r = read_file_in_root(root_fd, path, 64U * 1024U, &buf, &size);
        if (r < 0)
                return r;
        return firewall_status_from_json(buf, size, ret);
}

/* ---- address ---- */

int firewall_address_from_endpoint(const char *endpoint, struct in_addr *ret) {
        _cleanup_free_ char *host = NULL;
        const char *colon;
        struct in_addr a;

        if (isempty(endpoint))
                return -EINVAL;
        if (endpoint[0] == '[')
                return -EAFNOSUPPORT; /* IPv6: the WireServer has no IPv6 address */
        colon = strchr(endpoint, ':');
        host = colon ? strndup(endpoint, colon - endpoint) : strdup(endpoint);
        if (!host)
                return -ENOMEM;
        if (inet_pton(AF_INET, host, &a) != 1)
                return -EAFNOSUPPORT;
        if ((ntohl(a.s_addr) >> 24) == 127)
                return -EADDRNOTAVAIL;
        *ret = a;
        return 0;
}

/* ---- cgroups ---- */

/* Where the cgroup2 hierarchy is, relative to /sys/fs/cgroup (nftables' base): "" on a unified system,
 * "unified/" in systemd's hybrid layout. -ENOMEDIUM without cgroup2. */
static int cgroup2_prefix(const char **ret) {
        struct statfs s;

        if (statfs(CGROUP_FS, &s) >= 0 && s.f_type == CGROUP2_SUPER_MAGIC) {
                *ret = "";
                return 0;
        }
        if (statfs(CGROUP_FS "/unified", &s) >= 0 && s.f_type == CGROUP2_SUPER_MAGIC) {
                *ret = "unified/";
                return 0;
        }
        return -ENOMEDIUM;
}

static bool cgroup_path_is_valid(const char *p) {
        if (isempty(p) || strlen(p) > 256 || p[0] == '/' || p[strlen(p) - 1] == '/')
                return false;
        for (const char *c = p; *c; c++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-/", *c))
                        return false;
        for (const char *c = p; c; c = strchr(c, '/') ? strchr(c, '/') + 1 : NULL)
                if (c[0] == '/' || startswith(c, "./") || startswith(c, "../") || streq(c, ".") ||
                    streq(c, ".."))
                        return false;
        return true;
}

/* Depth-first beneath dir_fd (whose path relative to the cgroup2 root is prefix), descending into slices only:
 * systemd places every unit's cgroup directly in a slice, and containers' own trees live in scopes. */
static int search_slices(int dir_fd, const char *prefix, const char *unit, unsigned depth, unsigned *budget,
                         char **ret) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        DIR *d;
        int r = -ENOENT;

        if (fstatat(dir_fd, unit, &st, AT_SYMLINK_NOFOLLOW) >= 0 && S_ISDIR(st.st_mode)) {
                if (asprintf(ret, "%s%s%s", prefix, *prefix ? "/" : "", unit) < 0)
                        return -ENOMEM;
                return 0;
        }
        if (depth >= CGROUP_SEARCH_DEPTH)
                return -ENOENT;
        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; r == -ENOENT && (de = readdir(d));) {
                _cleanup_close_ int sub = -EBADF;
                _cleanup_free_ char *p = NULL;

                if (de->d_type != DT_DIR || !endswith(de->d_name, ".slice"))
                        continue;
                if ((*budget)-- == 0) {
                        r = -ELOOP;
                        break;
                }
                sub = openat(dirfd(d), de->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        continue;
                if (asprintf(&p, "%s%s%s", prefix, *prefix ? "/" : "", de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = search_slices(sub, p, unit, depth + 1, budget, ret);
        }
        closedir(d);
        return r;
}

int firewall_resolve_unit(const char *cgroup2_root, const char *unit, char **ret_path) {
        _cleanup_free_ char *root = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned budget = CGROUP_SEARCH_DIRS;
        const char *prefix;
        struct stat st;
        int r;

        if (isempty(unit))
                return -EINVAL;
        if (!cgroup2_root) {
                r = cgroup2_prefix(&prefix);
                if (r < 0)
                        return r;
                if (asprintf(&root, CGROUP_FS "/%s", prefix) < 0)
                        return -ENOMEM;
                cgroup2_root = root;
        }
        fd = open(cgroup2_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        if (strchr(unit, '/')) {
                const char *p = unit[0] == '/' ? unit + 1 : unit;

                if (!cgroup_path_is_valid(p))
                        return -EINVAL;
                if (fstatat(fd, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        return negative_errno();
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                return (*ret_path = strdup(p)) ? 0 : -ENOMEM;
        }
        if (!cgroup_path_is_valid(unit))
                return -EINVAL;
        return search_slices(fd, "", unit, 0, &budget, ret_path);
}

/* ---- nftables ---- */

typedef struct AllowedCgroup {
        char *path;     /* relative to the cgroup2 root */
        unsigned level; /* its depth: the root is level 0 */
        ino_t id;       /* what nftables matches (the directory's inode is the cgroup id) */
} AllowedCgroup;

struct Firewall {
        void *nft_lib; /* libnftables, loaded with the context (below) */
        struct nft_ctx *nft;
        char *listing;       /* our table as listed right after we installed it; NULL = not installed */
        char *cgroups;       /* "path=id;…" of the allowed cgroups the installed table names */
        uint32_t generation; /* the ruleset generation read before `listing` was listed */
        bool have_generation;
};

/* The ruleset generation (NFT_MSG_GETGEN on NETLINK_NETFILTER, answered by NFT_MSG_NEWGEN with NFTA_GEN_ID in
 * network byte order). Any failure just means "unknown": the caller lists the table as before. */
static int nft_generation(uint32_t *ret) {
        struct {
                struct nlmsghdr nh;
                struct nfgenmsg nfg;
        } req = {
                .nh.nlmsg_len = sizeof(req),
                .nh.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN,
                .nh.nlmsg_flags = NLM_F_REQUEST,
                .nh.nlmsg_seq = 1,
                .nfg.nfgen_family = AF_UNSPEC,
                .nfg.version = NFNETLINK_V0,
        };
        struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
        struct timeval tv = {.tv_sec = 1};
        _cleanup_close_ int fd = -EBADF;
        union {
                struct nlmsghdr nh;
                uint8_t bytes[1024];
        } buf;
        ssize_t n;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *) &kernel, sizeof kernel) !=
            (ssize_t) sizeof req)
                return -errno ?: -EIO;
        n = recv(fd, &buf, sizeof buf, 0);
        if (n < 0)
                return -errno;
        for (struct nlmsghdr *h = &buf.nh; NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n)) {
                uint8_t *p;
                size_t len;

                if (h->nlmsg_type == NLMSG_ERROR)
                        return -EPROTO;
                if (h->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN) ||
                    h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
                        continue;
                p = (uint8_t *) NLMSG_DATA(h) + NLMSG_ALIGN(sizeof(struct nfgenmsg));
                len = h->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
                while (len >= NLA_HDRLEN) {
                        struct nlattr a;
                        uint32_t id;

                        memcpy(&a, p, sizeof a);
                        if (a.nla_len < NLA_HDRLEN || a.nla_len > len)
                                break;
                        if ((a.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID &&
                            a.nla_len == NLA_HDRLEN + sizeof id) {
                                memcpy(&id, p + NLA_HDRLEN, sizeof id);
                                *ret = ntohl(id);
                                return 0;
                        }
                        len -= MIN(len, (size_t) NLA_ALIGN(a.nla_len));
                        p += NLA_ALIGN(a.nla_len);
                }
        }
        return -EBADMSG;
}

int firewall_new(Firewall **ret) {
        Firewall *f = calloc(1, sizeof(Firewall));

        if (!f)
                return -ENOMEM;
        *ret = f;
        return 0;
}

/* libnftables (and libnftnl, libmnl, libjansson, libxtables, libgmp) is mapped only while a context exists:
 * dlopen()ed with it, dlclose()d with it (common/dlopen-util.h), so the idle daemon maps none of them. */
#define NFT_SONAME "libnftables.so.1"
static typeof(nft_ctx_new) *sym_nft_ctx_new;
static typeof(nft_ctx_free) *sym_nft_ctx_free;
static typeof(nft_ctx_clear_include_paths) *sym_nft_ctx_clear_include_paths;
static typeof(nft_ctx_buffer_output) *sym_nft_ctx_buffer_output;
static typeof(nft_ctx_buffer_error) *sym_nft_ctx_buffer_error;
static typeof(nft_ctx_get_output_buffer) *sym_nft_ctx_get_output_buffer;
static typeof(nft_ctx_get_error_buffer) *sym_nft_ctx_get_error_buffer;
static typeof(nft_ctx_set_dry_run) *sym_nft_ctx_set_dry_run;
static typeof(nft_run_cmd_from_buffer) *sym_nft_run_cmd_from_buffer;

static const DlSymbol nft_symbols[] = {
        DL_SYMBOL(nft_ctx_new),
        DL_SYMBOL(nft_ctx_free),
        DL_SYMBOL(nft_ctx_clear_include_paths),
        DL_SYMBOL(nft_ctx_buffer_output),
        DL_SYMBOL(nft_ctx_buffer_error),
        DL_SYMBOL(nft_ctx_get_output_buffer),
        DL_SYMBOL(nft_ctx_get_error_buffer),
        DL_SYMBOL(nft_ctx_set_dry_run),
        DL_SYMBOL(nft_run_cmd_from_buffer),
};

static int nft_open(Firewall *f, char **ret_error) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (f->nft)
                return 0;
        if (!f->nft_lib) {
                r = dlopen_symbols(NFT_SONAME, nft_symbols, ELEMENTSOF(nft_symbols), &f->nft_lib, &error);
                if (r < 0) {
                        if (ret_error &&
                            asprintf(ret_error, "Cannot load %s: %s", NFT_SONAME, strna(error)) < 0)
                                *ret_error = NULL;
                        return r;
                }
        }
        f->nft = sym_nft_ctx_new(NFT_CTX_DEFAULT);
        if (!f->nft)
                return -ENOMEM;
        /* Our text never includes files: no lookups in /etc/nftables. Output and errors stay in memory. */
        sym_nft_ctx_clear_include_paths(f->nft);
        if (sym_nft_ctx_buffer_output(f->nft) != 0 || sym_nft_ctx_buffer_error(f->nft) != 0)
                return -ENOMEM;
        return 0;
}

static void nft_close(Firewall *f) {
        if (f->nft)
                sym_nft_ctx_free(f->nft);
        f->nft = NULL;
        dlclose_handle(&f->nft_lib);
}

Firewall *firewall_free(Firewall *f) {
        if (!f)
                return NULL;
        nft_close(f);
        free(f->listing);
        free(f->cgroups);
        free(f);
        return NULL;
}

/* The first line of libnftables' error text, without "Error: ", as the reason for the status. */
#define NFT_ERROR_MAX 512U
static int error_line(const char *text, char **ret) {
        const char *s = strempty(text);
        size_t n;

        if (startswith(s, "Error: "))
                s += strlen("Error: ");
        n = strcspn(s, "\n");
        if (n == 0) {
                s = "libnftables failed without a message";
                n = strlen(s);
        }
        return (*ret = strndup(s, MIN(n, (size_t) NFT_ERROR_MAX))) ? 0 : -ENOMEM;
}

/* Runs cmd; on success ret_output (may be NULL) gets what nft printed, on failure ret_error the reason. */
static int nft_run(Firewall *f, const char *cmd, char **ret_output, char **ret_error) {
        int r;

        r = nft_open(f, ret_error);
        if (r < 0)
                return r;
        /* Reading a buffer rewinds it: start from empty buffers. */
        (void) sym_nft_ctx_get_output_buffer(f->nft);
        (void) sym_nft_ctx_get_error_buffer(f->nft);
        r = sym_nft_run_cmd_from_buffer(f->nft, cmd);
        if (r != 0) {
                if (ret_error && error_line(sym_nft_ctx_get_error_buffer(f->nft), ret_error) < 0)
                        return -ENOMEM;
                return -EIO;
        }
        if (ret_output) {
                const char *out = sym_nft_ctx_get_output_buffer(f->nft);

                if (strlen(strempty(out)) > NFT_TEXT_MAX)
                        return -E2BIG;
                if (!(*ret_output = strdup(strempty(out))))
                        return -ENOMEM;
        }
        return 0;
}

/* Applies text in a child process. Parsing `meta skuid 0` makes libnftables try the uid as a user name first
 * (getpwnam("0")), and that loads an NSS module (libnss_systemd) into the process for good: the daemon keeps
 * none. The transaction is the kernel's either way; the parent's context lists the result. */
static int nft_apply(Firewall *f, const char *text, char **ret_error) {
        _cleanup_close_ int read_fd = -EBADF;
        char error[NFT_ERROR_MAX + 1];
        int pipefd[2], status, r;
        size_t n = 0;
        pid_t pid;

        r = nft_open(f, ret_error);
        if (r < 0)
                return r;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                (void) close(pipefd[0]);
                (void) close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                _cleanup_free_ char *reason = NULL;

                (void) close(pipefd[0]);
                r = nft_run(f, text, NULL, &reason);
                if (r < 0 && reason)
                        (void) !write(pipefd[1], reason, strnlen(reason, NFT_ERROR_MAX));
                _exit(r >= 0 ? 0 : r == -EIO ? 1 : 2);
        }
        (void) close(pipefd[1]);
        read_fd = pipefd[0];
        for (;;) {
                ssize_t k = read(read_fd, error + n, NFT_ERROR_MAX - n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0 || (n += (size_t) k) >= NFT_ERROR_MAX)
                        break;
        }
        error[n] = 0;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (ret_error && n > 0 && !(*ret_error = strdup(error)))
                return -ENOMEM;
        return WIFEXITED(status) && WEXITSTATUS(status) == 1 ? -EIO : -EPROTO;
}

/* Our table as nftables lists it now; NULL when it does not exist (or cannot be listed: then installing it
 * says why). */
static int list_table(Firewall *f, char **ret) {
        int r;

        r = nft_run(f, "list table " FIREWALL_FAMILY " " FIREWALL_TABLE "\n", ret, NULL);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                *ret = NULL;
        return 0;
}

static void allowed_cgroups_free(AllowedCgroup *a, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(a[i].path);
        free(a);
}

/* The allowed units' cgroups that exist now, with their ids; ret_key is their "path=id;…" fingerprint, and
 * ret_missing counts the units that are not running. */
static int allowed_cgroups(char *const *units, AllowedCgroup **ret, size_t *ret_n, char **ret_key,
                           size_t *ret_missing) {
        _cleanup_free_ AllowedCgroup *a = NULL;
        _cleanup_free_ char *key = NULL, *root = NULL;
        size_t n = 0, missing = 0, key_size = 0;
        const char *prefix = NULL;
        FILE *k;
        int r;

        if (strv_length(units) > FIREWALL_UNITS_MAX)
                return -E2BIG;
        if (strv_length(units) > 0) {
                r = cgroup2_prefix(&prefix);
                if (r < 0)
                        return r;
                if (asprintf(&root, CGROUP_FS "/%s", prefix) < 0)
                        return -ENOMEM;
                a = calloc(strv_length(units), sizeof(AllowedCgroup));
                if (!a)
                        return -ENOMEM;
        }
        k = open_memstream(&key, &key_size);
        if (!k)
                return -ENOMEM;
        for (char *const *u = units; u && *u; u++) {
                _cleanup_free_ char *path = NULL, *full = NULL;
                struct stat st;

                r = firewall_resolve_unit(root, *u, &path);
                if (r == -ENOENT) {
                        missing++;
                        continue;
                }
                if (r >= 0 && (asprintf(&full, "%s/%s", root, path) < 0))
                        r = -ENOMEM;
                if (r >= 0 && stat(full, &st) < 0)
                        r = negative_errno();
                if (r == -ENOENT) {
                        missing++;
                        continue;
                }
                if (r < 0) {
                        fclose(k);
                        allowed_cgroups_free(TAKE_PTR(a), n);
                        return r;
                }
                a[n].level = 1;
                for (const char *c = path; *c; c++)
                        a[n].level += *c == '/';
                a[n].id = st.st_ino;
                fprintf(k, "%s=%llu;", path, (unsigned long long) st.st_ino);
                a[n++].path = TAKE_PTR(path);
        }
        if (fclose(k) != 0) {
                allowed_cgroups_free(TAKE_PTR(a), n);
                return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        *ret_n = n;
        *ret_key = TAKE_PTR(key);
        *ret_missing = missing;
        return 0;
}

/* The transaction that replaces our table (or creates it) in one step. */
static int table_text(struct in_addr address, const AllowedCgroup *a, size_t n, const char *prefix,
                      char **ret) {
        _cleanup_free_ char *text = NULL;
        char addr[INET_ADDRSTRLEN];
        size_t size = 0;
        FILE *t;

        if (!inet_ntop(AF_INET, &address, addr, sizeof addr))
                return -EINVAL;
        t = open_memstream(&text, &size);
        if (!t)
                return -ENOMEM;
        fputs("add table " FIREWALL_FAMILY " " FIREWALL_TABLE "\n"
              "delete table " FIREWALL_FAMILY " " FIREWALL_TABLE "\n"
              "table " FIREWALL_FAMILY " " FIREWALL_TABLE " {\n"
              "\tchain output {\n"
              "\t\ttype filter hook output priority filter; policy accept;\n",
              t);
        fprintf(t, "\t\tip daddr %s tcp dport 53 accept\n", addr);
        fprintf(t, "\t\tip daddr %s meta skuid 0 accept\n", addr);
        for (size_t i = 0; i < n; i++)
                /* Checked by cgroup_path_is_valid(): no quote, backslash or whitespace can be in it. */
                fprintf(t, "\t\tip daddr %s socket cgroupv2 level %u \"%s%s\" accept\n", addr, a[i].level,
                        strempty(prefix), a[i].path);
        fprintf(t, "\t\tip daddr %s meta l4proto tcp ct state invalid,new reject with tcp reset\n", addr);
        fputs("\t}\n}\n", t);
        if (fclose(t) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        return 0;
}

int firewall_warm_up(struct in_addr address) {
        _cleanup_(firewall_freep) Firewall *f = NULL;
        _cleanup_free_ char *text = NULL;
        int r;

        r = firewall_new(&f);
        if (r >= 0)
                r = nft_open(f, NULL);
        if (r >= 0)
                r = table_text(address, NULL, 0, "", &text);
        if (r < 0)
                return r;
        /* libnftables(3): the transaction goes to the kernel, which loads what it needs, and is not committed */
        sym_nft_ctx_set_dry_run(f->nft, true);
        return nft_run(f, text, NULL, NULL);
}

int firewall_reconcile(Firewall *f, struct in_addr address, char *const *allow_units, char **ret_summary,
                       char **ret_error) {
        _cleanup_free_ char *now = NULL, *after = NULL, *key = NULL, *text = NULL, *summary = NULL,
                            *error = NULL;
        AllowedCgroup *a = NULL;
        size_t n = 0, missing = 0;
        const char *prefix = "";
        char addr[INET_ADDRSTRLEN];
        FirewallChange change;
        uint32_t gen = 0;
        bool have_gen;
        int r;

        r = allowed_cgroups(allow_units, &a, &n, &key, &missing);
        if (r < 0) {
                if (ret_error && asprintf(ret_error, "Cannot resolve [Firewall] AllowUnits=: %s",
                                          r == -ENOMEDIUM ? "no cgroup2 hierarchy" : strerror(-r)) < 0)
                        return -ENOMEM;
                return r;
        }
        if (n > 0)
                (void) cgroup2_prefix(&prefix);
        r = 0;
        if (!inet_ntop(AF_INET, &address, addr, sizeof addr))
                r = -EINVAL;
        else if ((n + missing == 0
                          ? asprintf(&summary,
                                     "table " FIREWALL_FAMILY " " FIREWALL_TABLE " guards %s: root only",
                                     addr)
                          : asprintf(&summary,
                                     "table " FIREWALL_FAMILY " " FIREWALL_TABLE
                                     " guards %s: root and %zu of %zu allowed unit(s) (%zu not "
                                     "running)",
                                     addr, n, n + missing, missing)) < 0)
                r = -ENOMEM;
        if (r < 0)
                goto finish;

        /* Read before listing: a commit after this read shows up as a new generation next time. */
        have_gen = nft_generation(&gen) >= 0;
        if (have_gen && f->have_generation && gen == f->generation && f->listing &&
            streq_ptr(key, f->cgroups)) {
                change = FIREWALL_UNCHANGED;
                goto done;
        }
        r = list_table(f, &now);
        if (r < 0)
                goto finish;
        if (now && f->listing && streq(now, f->listing) && streq_ptr(key, f->cgroups)) {
                f->generation = gen;
                f->have_generation = have_gen;
                change = FIREWALL_UNCHANGED;
                goto done;
        }
        r = table_text(address, a, n, prefix, &text);
        if (r < 0)
                goto finish;
        r = nft_apply(f, text, &error);
        if (r < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(error);
                goto finish;
        }
        have_gen = nft_generation(&gen) >= 0; /* our commit bumped it */
        r = list_table(f, &after);
        if (r < 0)
                goto finish;
        if (!after) {
                if (ret_error && !(*ret_error = strdup("the table cannot be listed after it was installed")))
                        r = -ENOMEM;
                else
                        r = -EIO;
                goto finish;
        }
        if (!now)
                change = f->listing ? FIREWALL_RESTORED : FIREWALL_INSTALLED;
        else if (f->listing ? !streq(now, f->listing) : !streq(now, after))
                change = FIREWALL_RESTORED; /* edited since we (or an earlier run) installed it */
        else if (f->listing && !streq_ptr(key, f->cgroups))
                change = FIREWALL_UPDATED;
        else
                change = FIREWALL_UNCHANGED; /* a first look at a table an earlier run installed */
        free(f->listing);
        f->listing = TAKE_PTR(after);
        free(f->cgroups);
        f->cgroups = TAKE_PTR(key);
        f->generation = gen;
        f->have_generation = have_gen;
done:
        if (ret_summary)
                *ret_summary = TAKE_PTR(summary);
        r = (int) change;
finish:
        allowed_cgroups_free(a, n);
        nft_close(f);
        return r;
}

int firewall_remove(Firewall *f, char **ret_error) {
        _cleanup_free_ char *now = NULL;
        int r;

        r = list_table(f, &now);
        if (r < 0)
                goto finish;
        free(f->listing);
        free(f->cgroups);
        f->listing = f->cgroups = NULL;
        f->have_generation = false;
        if (!now)
                goto finish;
        r = nft_run(f, "delete table " FIREWALL_FAMILY " " FIREWALL_TABLE "\n", NULL, ret_error);
        if (r >= 0)
                r = 1;
finish:
        nft_close(f);
        return r;
}
