/* SPDX-License-Identifier: MIT */
/*
 * The user-data phases (userdata.h): choosing the source, keeping the bytes, splitting/parsing/merging, and the
 * order in which the modules run — cloud-init's cloud_init_modules for the provisioning phase, its
 * cloud_final_modules for the after-Ready one. On disk, under <StateDirectory>/userdata/ (0700):
 *
 *   user-data, origin                 the bytes as received (0600); "<source> <VM id>" (rewritten only on change)
 *   includes/<sha256 of the URL>      what #include fetched (0600): the final phase and `show` read it back
 *   instances/<VM id>/sem/<module>    "ran for this instance" markers: after an (idempotent) configuration
 *                                     module ran; before a script or power_state runs, as cloud-init does
 *   instances/<VM id>/scripts/        the user's scripts and runcmd (0700)
 *   instances/<VM id>/boothooks/      the boothooks (0700)
 *   scripts/per-{boot,instance,once}/ the text/x-shellscript-per-* parts (0700)
 *   sem/per-once                      the per-once scripts ran (ever)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fileio.h"
#include "http.h"
#include "kvp.h"
#include "log.h"
#include "macro.h"
#include "spawn-util.h"
#include "strutil.h"
#include "userdata-apply.h"
#include "userdata-exec.h"
#include "userdata-merge.h"
#include "userdata-status.h"
#include "userdata.h"
#include "version.h"

#define USERDATA_INCLUDE_BODY_MAX (1024U * 1024U)
#define USERDATA_FETCH_TIMEOUT    (10U * USEC_PER_SEC)
#define KVP_KEY_USERDATA          "PROVISIONING_USERDATA"

static void *mfree(void *p) {
        free(p);
        return NULL;
}

/* ---- the document ---- */

void user_data_doc_done(UserDataDoc *d) {
        user_data_done(&d->parts);
        ynode_free(d->merged);
        user_data_config_done(&d->config);
        free(d->source);
        *d = (UserDataDoc){};
}

static int merge_part(UserDataDoc *doc, const UserDataPart *p, unsigned index) {
        _cleanup_ynode_ YNode *root = NULL, *merged = NULL, *empty = NULL;
        _cleanup_free_ char *why = NULL;
        UserDataConfig *c = &doc->config;
        Mergers m = {};
        YamlError err;
        int r, n;

        r = yaml_parse(p->data, p->size, &root, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                char path[64];

                snprintf(path, sizeof path, "format-l%u.c%u", err.line ?: 1, err.column ?: 1);
                return user_data_config_add_problem(c, path, index, err.line, "%s is not valid YAML: %s",
                                                    p->filename, err.message);
        }
        if (root->type == YNODE_NULL)
                return user_data_config_add_problem(c, "", index, 1, "%s: empty cloud config", p->filename);
        if (root->type != YNODE_MAP)
                return user_data_config_add_problem(c, "", index, root->line,
                                                    "%s: cloud-config is not a YAML dict", p->filename);
        ynode_set_part(root, index);
        n = mergers_extract(root, &m, &why);
        if (n >= 0 && p->merge_type) {
                int k = mergers_parse_string(p->merge_type, &m, &why);

                n = k < 0 ? k : n + k;
        }
        if (n == -ENOMEM)
                return n;
        if (n < 0)
                return user_data_config_add_problem(c, "merge_how", index, root->line, "%s: %s", p->filename,
                                                    strna(why));
        if (n == 0)
                mergers_default(&m);
        if (!doc->merged) {
                /* the first part merges into {} */
                empty = ynode_new_map();
                if (!empty)
                        return -ENOMEM;
        }
        r = cloud_config_merge(doc->merged ?: empty, root, &m, &merged, &why);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return user_data_config_add_problem(c, "", index, root->line, "%s could not be merged: %s",
                                                    p->filename, strna(why));
        ynode_free(doc->merged);
        doc->merged = TAKE_PTR(merged);
        doc->n_cloud_config++;
        return 0;
}

int user_data_doc_parse(const void *buf, size_t size, UserDataFetchFunc fetch, void *userdata,
                        UserDataDoc *ret) {
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};
        int r;

        r = user_data_split(buf, size, fetch, userdata, &doc.parts);
        if (r < 0)
                return r;
        r = user_data_config_parse(NULL, &doc.config); /* defaults */
        if (r < 0)
                return r;
        for (char **e = doc.parts.errors; e && *e; e++) {
                r = user_data_config_add_problem(&doc.config, "", 0, 0, "%s", *e);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < doc.parts.n_parts; i++) {
                const UserDataPart *p = &doc.parts.parts[i];

                if (p->type == UD_PART_CLOUD_CONFIG) {
                        r = merge_part(&doc, p, (unsigned) i);
                        if (r < 0)
                                return r;
                } else if (!user_data_part_type_supported(p->type)) {
                        _cleanup_free_ char *what = NULL;

                        if (asprintf(&what, "part %s: %s", p->filename,
                                     p->type == UD_PART_UNKNOWN
                                             ? p->content_type
                                             : user_data_part_type_to_string(p->type)) < 0 ||
                            strv_push(&doc.config.unsupported, what) < 0)
                                return -ENOMEM;
                        what = NULL;
                }
        }
        if (doc.merged) {
                /* keep what the splitter and the parts reported: parse into the same record */
                UserDataConfig parsed;
                char **uns = TAKE_PTR(doc.config.unsupported);
                UdProblem *probs = TAKE_PTR(doc.config.problems);
                size_t n_probs = doc.config.n_problems;

                doc.config.n_problems = 0;
                r = user_data_config_parse(doc.merged, &parsed);
                user_data_config_done(&doc.config);
                doc.config = parsed;
                for (size_t i = 0; i < n_probs; i++) {
                        if (r >= 0)
                                r = user_data_config_add_problem(&doc.config, probs[i].path, probs[i].part,
                                                                 probs[i].line, "%s", probs[i].message);
                        free(probs[i].path);
                        free(probs[i].message);
                }
                free(probs);
                for (char **u = uns; r >= 0 && u && *u; u++)
                        r = strv_extend(&doc.config.unsupported, *u);
                strv_free(uns);
                if (r < 0)
                        return r;
        }
        *ret = doc;
        doc = (UserDataDoc){};
        return 0;
}

/* ---- paths ---- */

static int state_path(const Context *c, char **ret, const char *fmt, ...) _printf_(3, 4);
static int state_path(const Context *c, char **ret, const char *fmt, ...) {
        _cleanup_free_ char *rel = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&rel, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        return asprintf(ret, "%s/" USERDATA_DIR "/%s", c->config.state_dir, rel) < 0 ? -ENOMEM : 0;
}

static bool vm_id_ok(const char *id) {
        return !isempty(id) && strlen(id) < 64 && strspn(id, "0123456789abcdefABCDEF-") == strlen(id);
}

/* ---- markers ---- */

static int sem_path(const Context *c, const char *vm_id, const char *module, char **ret) {
        if (vm_id)
                return state_path(c, ret, "instances/%s/sem/%s", vm_id, module);
        return state_path(c, ret, "sem/%s", module);
}

static bool sem_has(const Context *c, const char *vm_id, const char *module) {
        _cleanup_free_ char *p = NULL;

        return sem_path(c, vm_id, module, &p) >= 0 && access_in_root(c->root_fd, p) >= 0;
}

static int sem_set(const Context *c, const char *vm_id, const char *module) {
        _cleanup_free_ char *p = NULL;

        /* the file's existence is the record (its mtime says when): the same bytes every time */
        if (sem_path(c, vm_id, module, &p) < 0)
                return -ENOMEM;
        return write_string_file_atomic_in_root(c->root_fd, p, "done\n", 0600, WRITE_MKDIR);
}

/* ---- includes ---- */

static int url_hash(const char *url, char ret[static 65]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;

        if (!EVP_Digest(url, strlen(url), md, &n, EVP_sha256(), NULL))
                return -EIO;
        for (unsigned i = 0; i < n && i < 32; i++)
                sprintf(ret + 2 * i, "%02x", md[i]);
        return 0;
}

int userdata_fetch_url(const char *url, bool once, void *userdata, char **ret, size_t *ret_size) {
        const Context *c = userdata;
        _cleanup_(http_response_freep) HttpResponse *resp = NULL;
        HttpRequest req = {
                .method = HTTP_METHOD_GET,
                .url = url,
                .timeout = USERDATA_FETCH_TIMEOUT,
                .max_response = USERDATA_INCLUDE_BODY_MAX,
                .use_proxy = true,
        };
        char *body;
        int r;

        if (!startswith(url, "https://") &&
            !(startswith(url, "http://") && c && c->config.userdata_allow_http))
                return -EPROTONOSUPPORT;
        if (strlen(url) > HTTP_URL_MAX || strpbrk(url, " \t\r\n"))
                return -EINVAL;
        r = http_request_sync(&req, &resp);
        if (r < 0)
                return r;
        if (!http_status_ok(resp->status))
                return http_status_to_errno(resp->status);
        body = malloc(resp->body_size + 1);
        if (!body)
                return -ENOMEM;
        memcpy(body, resp->body, resp->body_size);
        body[resp->body_size] = 0;
        *ret = body;
        *ret_size = resp->body_size;
        return 0;
}

typedef struct FetchCtx {
        Context *c;
        bool network;      /* may go to the network (else the cache only) */
        bool prefer_cache; /* take the cache first, even for a plain #include */
} FetchCtx;

static int fetch_cached(const char *url, bool once, void *userdata, char **ret, size_t *ret_size) {
        FetchCtx *f = userdata;
        _cleanup_free_ char *path = NULL;
        char hash[65];
        int r;

        r = url_hash(url, hash);
        if (r < 0)
                return r;
        r = state_path(f->c, &path, "includes/%s", hash);
        if (r < 0)
                return r;
        /* #include-once: the cached copy is the content for good (cloud-init's urlcache) */
        if (once || f->prefer_cache || !f->network) {
                r = read_file_in_root(f->c->root_fd, path, USERDATA_INCLUDE_BODY_MAX, ret, ret_size);
                if (r >= 0 || !f->network)
                        return r;
        }
        r = userdata_fetch_url(url, once, f->c, ret, ret_size);
        if (r < 0)
                return r;
        (void) write_file_atomic_in_root(f->c->root_fd, path, *ret, *ret_size, 0600, 0, 0, WRITE_MKDIR);
        return 0;
}

/* ---- the bytes ---- */

/* Writes path (0600) unless it already holds exactly data: a later boot rewrites nothing. */
static int write_if_changed(Context *c, const char *path, const void *data, size_t size) {
        _cleanup_free_ char *cur = NULL;
        size_t cur_size;
        int r;

        if (read_file_in_root(c->root_fd, path, USERDATA_MAX, &cur, &cur_size) >= 0 && cur_size == size &&
            memcmp(cur, data, size) == 0) {
                explicit_bzero(cur, cur_size);
                return 0;
        }
        if (cur)
                explicit_bzero(cur, strlen(cur));
        r = write_file_atomic_in_root(c->root_fd, path, data, size, 0600, 0, 0, WRITE_MKDIR | WRITE_SYNC);
        return r < 0 ? r : 1;
}

/* user-data (the bytes) and origin ("<source> <VM id>"). */
static int save_bytes(Context *c, const void *data, size_t size, const char *source, const char *vm_id) {
        _cleanup_free_ char *p = NULL, *o = NULL, *line = NULL, *dir = NULL;
        int r;

        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        r = state_path(c, &dir, "includes");
        if (r < 0)
                return r;
        r = mkdir_p_in_root(c->root_fd, dir, 0700);
        if (r < 0)
                return r;
        r = state_path(c, &p, "user-data");
        if (r < 0)
                return r;
        r = write_if_changed(c, p, data, size);
        if (r < 0)
                return r;
        if (state_path(c, &o, "origin") < 0 || asprintf(&line, "%s %s\n", source, vm_id) < 0)
                return -ENOMEM;
        return write_if_changed(c, o, line, strlen(line));
}

/* The origin file: source and VM id of the saved user data. */
static int read_origin(Context *c, char **ret_source, char **ret_vm_id) {
        _cleanup_free_ char *p = NULL, *line = NULL;
        char *space;
        int r;

        r = state_path(c, &p, "origin");
        if (r < 0)
                return r;
        r = read_one_line_in_root(c->root_fd, p, 256, &line);
        if (r < 0)
                return r;
        space = strchr(line, ' ');
        if (!space)
                return -EBADMSG;
        *space = 0;
        if (ret_source && !(*ret_source = strdup(line)))
                return -ENOMEM;
        if (ret_vm_id && !(*ret_vm_id = strdup(space + 1))) {
                if (ret_source)
                        *ret_source = mfree(*ret_source);
                return -ENOMEM;
        }
        return 0;
}

int userdata_load_saved(Context *c, char **ret, size_t *ret_size, char **ret_source) {
        _cleanup_free_ char *p = NULL, *src = NULL, *data = NULL;
        size_t size;
        int r;

        r = state_path(c, &p, "user-data");
        if (r < 0)
                return r;
        r = read_file_in_root(c->root_fd, p, USERDATA_MAX, &data, &size);
        if (r < 0)
                return r;
        if (ret_source) {
                if (read_origin(c, &src, NULL) < 0 && !(src = strdup("saved")))
                        return -ENOMEM;
                *ret_source = TAKE_PTR(src);
        }
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int saved_vm_id(Context *c, char **ret) {
        return read_origin(c, NULL, ret);
}

/* The user data of this boot: the configured sources in order, else this instance's saved copy. */
static int pick_source(Context *c, const UserDataInput *in, void **ret, size_t *ret_size, char **ret_source,
                       bool *ret_fresh) {
        _cleanup_free_ char *saved_id = NULL, *src = NULL, *data = NULL;
        size_t size;

        for (char **s = c->config.userdata_sources; s && *s; s++) {
                if (streq(*s, "ovf") && in->custom_data && in->custom_data_size > 0) {
                        void *d = malloc(in->custom_data_size);

                        if (!d)
                                return -ENOMEM;
                        memcpy(d, in->custom_data, in->custom_data_size);
                        *ret = d;
                        *ret_size = in->custom_data_size;
                        *ret_fresh = true;
                        return (*ret_source = strdup("ovf")) ? 1 : -ENOMEM;
                }
                if (streq(*s, "ovf") && !isempty(in->custom_data_raw)) {
                        /* not base64: used as it is (waagent keeps it undecoded too) */
                        *ret = strdup(in->custom_data_raw);
                        if (!*ret)
                                return -ENOMEM;
                        *ret_size = strlen(in->custom_data_raw);
                        *ret_fresh = true;
                        return (*ret_source = strdup("ovf")) ? 1 : -ENOMEM;
                }
                if (streq(*s, "imds") && !isempty(in->imds_user_data)) {
                        void *d = NULL;
                        size_t ds;
                        int r = base64_decode(in->imds_user_data, strlen(in->imds_user_data), &d, &ds);

                        if (r == -ENOMEM)
                                return r;
                        if (r >= 0 && ds > 0) {
                                *ret = d;
                                *ret_size = ds;
                                *ret_fresh = true;
                                return (*ret_source = strdup("imds")) ? 1 : -ENOMEM;
                        }
                        free(d);
                }
        }
        /* a later boot without the media: this instance's copy */
        if (!c->config.userdata_sources || !in->vm_id || saved_vm_id(c, &saved_id) < 0 ||
            !streq(saved_id, in->vm_id))
                return 0;
        if (userdata_load_saved(c, &data, &size, &src) < 0)
                return 0;
        *ret = TAKE_PTR(data);
        *ret_size = size;
        *ret_source = TAKE_PTR(src);
        *ret_fresh = false;
        return 1;
}

/* ---- status ---- */

/* The record's description of the user data; its module and script records are kept for the same VM id. */
static int status_fill(UserDataStatus *s, const UserDataDoc *doc, const char *source, const char *vm_id,
                       size_t size) {
        if (!streq_ptr(s->vm_id, vm_id))
                userdata_status_done(s);
        for (size_t i = 0; i < s->n_parts; i++) {
                free(s->parts[i].name);
                free(s->parts[i].type);
        }
        s->parts = mfree(s->parts);
        s->n_parts = 0;
        s->unsupported = strv_free(s->unsupported);
        for (size_t i = 0; i < s->n_problems; i++) {
                free(s->problems[i].path);
                free(s->problems[i].part);
        }
        s->problems = mfree(s->problems);
        s->n_problems = 0;
        s->size = size;
        s->gzip = doc->parts.gzip;
        s->mime = doc->parts.mime;
        if (free_and_strdup(&s->source, source) < 0 || free_and_strdup(&s->vm_id, vm_id) < 0)
                return -ENOMEM;
        for (size_t i = 0; i < doc->parts.n_parts; i++) {
                const UserDataPart *p = &doc->parts.parts[i];
                UdPartStatus *a = reallocarray(s->parts, s->n_parts + 1, sizeof *a);

                if (!a)
                        return -ENOMEM;
                s->parts = a;
                a[s->n_parts] = (UdPartStatus){
                        .name = strdup(p->filename),
                        .type = strdup(p->type == UD_PART_UNKNOWN ? p->content_type
                                                                  : user_data_part_type_to_string(p->type)),
                        .supported = user_data_part_type_supported(p->type),
                        .size = p->size,
                };
                if (!a[s->n_parts].name || !a[s->n_parts].type)
                        return -ENOMEM;
                s->n_parts++;
        }
        for (char **u = doc->config.unsupported; u && *u; u++)
                if (strv_extend(&s->unsupported, *u) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < doc->config.n_problems; i++) {
                const UdProblem *p = &doc->config.problems[i];
                UdProblemStatus *a = reallocarray(s->problems, s->n_problems + 1, sizeof *a);

                if (!a)
                        return -ENOMEM;
                s->problems = a;
                a[s->n_problems] = (UdProblemStatus){
                        .path = strdup(p->path),
                        .part = strdup(p->part < doc->parts.n_parts ? doc->parts.parts[p->part].filename
                                                                    : "user-data"),
                        .line = p->line,
                };
                if (!a[s->n_problems].path || !a[s->n_problems].part)
                        return -ENOMEM;
                s->n_problems++;
        }
        return 0;
}

/* The warning for the journal, the console and KVP: unsupported keys and problem locations, no values. */
static int warning_text(const UserDataDoc *doc, char **ret) {
        _cleanup_free_ char *t = NULL;
        char *n;

        if (doc->config.unsupported) {
                _cleanup_free_ char *list = NULL;

                for (char **u = doc->config.unsupported; *u; u++) {
                        if (asprintf(&n, "%s%s%s", strempty(list), list ? ", " : "", *u) < 0)
                                return -ENOMEM;
                        free(list);
                        list = n;
                }
                if (asprintf(&t, "User data: not supported by azl-agent, ignored: %s.", list) < 0)
                        return -ENOMEM;
        }
        if (doc->config.n_problems > 0) {
                _cleanup_free_ char *list = NULL;

                for (size_t i = 0; i < MIN(doc->config.n_problems, (size_t) 10); i++) {
                        const UdProblem *p = &doc->config.problems[i];

                        if (asprintf(&n, "%s%s%s%s(%s line %u)", strempty(list), list ? ", " : "", p->path,
                                     isempty(p->path) ? "" : " ",
                                     p->part < doc->parts.n_parts ? doc->parts.parts[p->part].filename
                                                                  : "user-data",
                                     p->line) < 0)
                                return -ENOMEM;
                        free(list);
                        list = n;
                }
                if (asprintf(&n,
                             "%s%sUser data: %zu problem(s) in the cloud-config: %s%s; see 'azl-agent "
                             "userdata "
                             "show'.",
                             strempty(t), t ? " " : "", doc->config.n_problems, list,
                             doc->config.n_problems > 10 ? ", …" : "") < 0)
                        return -ENOMEM;
                free(t);
                t = n;
        }
        *ret = TAKE_PTR(t);
        return 0;
}

/* ---- scripts ---- */

static char *dos2unix(const char *data, size_t size, size_t *ret_size) {
        const char *nl = memchr(data, '\n', size);
        char *out = malloc(size + 1), *o = out;

        if (!out)
                return NULL;
        if (!nl || nl == data || nl[-1] != '\r') {
                memcpy(out, data, size);
                out[size] = 0;
                *ret_size = size;
                return out;
        }
        for (size_t i = 0; i < size; i++)
                if (!(data[i] == '\r' && i + 1 < size && data[i + 1] == '\n'))
                        *o++ = data[i];
        *o = 0;
        *ret_size = (size_t) (o - out);
        return out;
}

static int write_script(Context *c, const char *path, const char *data, size_t size) {
        _cleanup_free_ char *fixed = NULL;
        size_t fsize;
        int r;

        fixed = dos2unix(data, size, &fsize);
        if (!fixed)
                return -ENOMEM;
        r = write_file_atomic_in_root(c->root_fd, path, fixed, fsize, 0700, 0, 0, WRITE_MKDIR);
        explicit_bzero(fixed, fsize);
        return r;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names in a directory (regular files), sorted; what run-parts would run. */
static int list_dir(Context *c, const char *dir, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        _cleanup_close_ int fd = open_in_root(c->root_fd, dir, O_RDONLY | O_DIRECTORY, 0);
        DIR *d;

        if (fd == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d)
                return negative_errno();
        fd = -EBADF;
        for (struct dirent *de; (de = readdir(d));) {
                struct stat st;

                if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                if (strv_extend(&l, de->d_name) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        if (l)
                qsort(l, strv_length(l), sizeof *l, strcmp_ptr);
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- the provisioning phase ---- */

typedef struct Run {
        Context *c;
        UserDataStatus *status;
        const char *vm_id;
        int changed;
        bool failed;
} Run;

/*
 * Runs a module unless its per-instance marker says it ran, and records it in the status. The marker is written
 * after the module ran (cloud-init writes it before): these modules are idempotent, so a run killed in between
 * (power loss, kill -9) does the module again and ends where an uninterrupted run would have.
 */
static int run_module(Run *run, const char *name, bool per_instance, int (*fn)(Run *run, char **summary)) {
        _cleanup_free_ char *summary = NULL;
        int r, k;

        if (per_instance && sem_has(run->c, run->vm_id, name))
                return 0;
        r = fn(run, &summary);
        if (r == -ENOMEM)
                return r;
        if (r == -ENODATA) /* nothing to do for this module: no marker either */
                return 0;
        if (r < 0)
                run->failed = true;
        if (r > 0)
                run->changed = true;
        k = userdata_status_set_module(run->status, name,
                                       r < 0   ? "failed"
                                       : r > 0 ? "changed"
                                               : "unchanged",
                                       summary);
        if (k < 0)
                return k;
        return per_instance ? sem_set(run->c, run->vm_id, name) : 0;
}

typedef struct ProvisionModules {
        Run run;
        const UserDataDoc *doc;
        ProvisionData *d;
} ProvisionModules;

#define PM(run) ((ProvisionModules *) (run))

static int m_write_files(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;
        bool any = false;

        for (size_t i = 0; i < cfg->n_write_files; i++)
                any = any || !cfg->write_files[i].defer;
        return any ? userdata_write_files(run->c, cfg, false, summary) : -ENODATA;
}

static int m_mounts(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->mounts_set || cfg->swap_filename || cfg->swap_size
                       ? userdata_mounts(run->c, cfg, summary)
                       : -ENODATA;
}

static int m_etc_hosts(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        if (cfg->manage_etc_hosts != UD_HOSTS_TEMPLATE && cfg->manage_etc_hosts != UD_HOSTS_LOCALHOST)
                return -ENODATA;
        return userdata_etc_hosts(run->c, cfg, PM(run)->d->hostname, summary);
}

static int m_ca_certs(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->ca_certs_trusted || cfg->ca_certs_remove_defaults
                       ? userdata_ca_certs(run->c, cfg, summary)
                       : -ENODATA;
}

static int m_groups(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->n_groups > 0 ? userdata_groups(run->c, cfg, summary) : -ENODATA;
}

static int m_users(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->n_users > 0 ? userdata_users(run->c, cfg, PM(run)->d->username, summary) : -ENODATA;
}

static int m_ssh_host_keys(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->n_ssh_keys > 0 || cfg->ssh_genkeytypes_set || cfg->ssh_deletekeys_set
                       ? userdata_ssh_host_keys(run->c, cfg, summary)
                       : -ENODATA;
}

static int m_root_keys(Run *run, char **summary) {
        return PM(run)->doc->n_cloud_config > 0
                       ? userdata_root_keys(run->c, &PM(run)->doc->config, PM(run)->d, summary)
                       : -ENODATA;
}

static int m_timezone(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->timezone ? userdata_timezone(run->c, cfg, summary) : -ENODATA;
}

static int m_yum_repos(Run *run, char **summary) {
        const UserDataConfig *cfg = &PM(run)->doc->config;

        return cfg->n_yum_repos > 0 ? userdata_yum_repos(run->c, cfg, summary) : -ENODATA;
}

/* A script run during provisioning (boothooks, bootcmd): our cgroup, output to the log and the journal. */
static int run_early(Run *run, const char *name, const char *path, const char *argv0, UdLog *log) {
        _cleanup_(ud_exec_result_done) UdExecResult res = {.exit_status = -1};
        _cleanup_free_ char *env_id = NULL;
        const char *argv[3] = {argv0 ?: path, argv0 ? path : NULL, NULL};
        char *env[2] = {NULL, NULL};
        UdScriptStatus *sc;
        int r;

        if (asprintf(&env_id, "INSTANCE_ID=%s", strempty(run->vm_id)) < 0)
                return -ENOMEM;
        env[0] = env_id;
        sc = userdata_status_script(run->status, name, "early");
        if (!sc)
                return -ENOMEM;
        sc->started_at = now_usec(CLOCK_REALTIME);
        userdata_log_line(log, "%s: started", name);
        r = userdata_exec(run->c, (char *const *) argv, NULL, env, "azl-userdata", log, &res);
        sc->finished_at = now_usec(CLOCK_REALTIME);
        sc->exit_status = r < 0 ? -1 : res.exit_status;
        if (free_and_strdup(&sc->state, r >= 0 && res.exit_status == 0 ? "done" : "failed") < 0 ||
            free_and_strdup(&sc->output, res.tail) < 0)
                return -ENOMEM;
        userdata_log_line(log, "%s: %s %d", name, res.signal ? "killed by signal" : "exit status",
                          res.signal ?: res.exit_status);
        if (r < 0 || res.exit_status != 0)
                run->failed = true;
        (void) userdata_status_save(run->c, run->status);
        return 0;
}

static int run_boot_parts(ProvisionModules *pm, UdLog *log) {
        const UserDataDoc *doc = pm->doc;
        Run *run = &pm->run;
        int r;

        /* boothooks: the #cloud-boothook line stripped, every boot (cloud-init's BootHookPartHandler) */
        for (size_t i = 0; i < doc->parts.n_parts; i++) {
                const UserDataPart *p = &doc->parts.parts[i];
                _cleanup_free_ char *path = NULL, *name = NULL;
                const char *data = p->data;
                size_t size = p->size;

                if (p->type != UD_PART_BOOTHOOK)
                        continue;
                if (size >= 15 && strncmp(data, "#cloud-boothook", 15) == 0) {
                        data += 15;
                        size -= 15;
                }
                while (size > 0 && strchr(" \t\r\n", *data) && *data) {
                        data++;
                        size--;
                }
                if (asprintf(&name, "boothook-%s", p->filename) < 0 ||
                    state_path(run->c, &path, "instances/%s/boothooks/%s", run->vm_id, p->filename) < 0)
                        return -ENOMEM;
                r = write_script(run->c, path, data, size);
                if (r < 0) {
                        run->failed = true;
                        continue;
                }
                r = run_early(run, name, path, NULL, log);
                if (r < 0)
                        return r;
        }
        /* bootcmd: shellified, run with /bin/sh, every boot */
        if (doc->config.bootcmd) {
                _cleanup_free_ char *path = NULL;

                if (state_path(run->c, &path, "instances/%s/bootcmd.sh", run->vm_id) < 0)
                        return -ENOMEM;
                r = write_script(run->c, path, doc->config.bootcmd, strlen(doc->config.bootcmd));
                if (r < 0)
                        run->failed = true;
                else {
                        r = run_early(run, "bootcmd", path, "/bin/sh", log);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Writes the scripts of the after-Ready phase where it finds them: instance scripts and runcmd, per-* parts. */
static int write_final_scripts(Context *c, const UserDataDoc *doc, const char *vm_id, bool *failed) {
        for (size_t i = 0; i < doc->parts.n_parts; i++) {
                const UserDataPart *p = &doc->parts.parts[i];
                _cleanup_free_ char *path = NULL;
                int r;

                switch (p->type) {
                case UD_PART_SCRIPT:
                        r = state_path(c, &path, "instances/%s/scripts/%s", vm_id, p->filename);
                        break;
                case UD_PART_SCRIPT_PER_BOOT:
                        r = state_path(c, &path, "scripts/per-boot/%s", p->filename);
                        break;
                case UD_PART_SCRIPT_PER_INSTANCE:
                        r = state_path(c, &path, "scripts/per-instance/%s", p->filename);
                        break;
                case UD_PART_SCRIPT_PER_ONCE:
                        r = state_path(c, &path, "scripts/per-once/%s", p->filename);
                        break;
                case UD_PART_CLOUD_CONFIG:
                case UD_PART_BOOTHOOK:
                case UD_PART_JINJA:
                case UD_PART_PART_HANDLER:
                case UD_PART_CLOUD_CONFIG_JSONP:
                case UD_PART_UNKNOWN:
                case _UD_PART_TYPE_MAX:
                case _UD_PART_TYPE_INVALID:
                default:
                        continue;
                }
                if (r < 0)
                        return r;
                r = write_script(c, path, p->data, p->size);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        *failed = true;
        }
        if (doc->config.runcmd) {
                _cleanup_free_ char *path = NULL;
                int r = state_path(c, &path, "instances/%s/scripts/runcmd", vm_id);

                if (r < 0)
                        return r;
                r = write_script(c, path, doc->config.runcmd, strlen(doc->config.runcmd));
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        *failed = true;
        }
        return 0;
}

static int kvp_report_userdata(Context *c, const UserDataDoc *doc, const char *source) {
        _cleanup_free_ char *value = NULL, *uns = NULL;
        char *n;

        if (!c->config.kvp)
                return 0;
        for (char **u = doc->config.unsupported; u && *u; u++) {
                if (asprintf(&n, "%s%s%s", strempty(uns), uns ? "," : "", *u) < 0)
                        return -ENOMEM;
                free(uns);
                uns = n;
        }
        if (asprintf(&value, "source=%s|parts=%zu|cloud_config=%u|problems=%zu|unsupported=%s", source,
                     doc->parts.n_parts, doc->n_cloud_config, doc->config.n_problems, strempty(uns)) < 0)
                return -ENOMEM;
        return kvp_report(c, KVP_KEY_USERDATA, value);
}

static int ensure_dirs(Context *c, const char *vm_id) {
        _cleanup_free_ char *dir = NULL;
        int r;

        r = mkdir_p_in_root(c->root_fd, c->config.state_dir, 0700);
        if (r < 0)
                return r;
        r = state_path(c, &dir, "instances/%s/sem", vm_id);
        if (r < 0)
                return r;
        return mkdir_p_in_root(c->root_fd, dir, 0700);
}

int userdata_provision(Context *c, const UserDataInput *in, ProvisionData *d, char **ret_summary,
                       char **ret_warning) {
        _cleanup_(userdata_status_done) UserDataStatus status = {};
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};
        _cleanup_free_ char *source = NULL, *adjust = NULL, *summary = NULL, *warning = NULL;
        _cleanup_free_ void *data = NULL;
        ProvisionModules pm = {.run = {.c = c, .status = &status}, .doc = &doc, .d = d};
        UdLog log = {.fd = -EBADF};
        const char *vm_id = in->vm_id ?: d->vm_id;
        FetchCtx fetch = {.c = c, .network = !in->boot_only, .prefer_cache = in->boot_only};
        bool fresh = false, final_work;
        size_t size = 0;
        int r;

        if (ret_warning)
                *ret_warning = NULL;
        r = pick_source(c, in, &data, &size, &source, &fresh);
        if (r < 0)
                return r;
        if (r == 0 || !vm_id_ok(vm_id)) {
                if (free_and_strdup(&status.state, "none") < 0)
                        return -ENOMEM;
                (void) userdata_status_save(c, &status);
                if (ret_summary)
                        *ret_summary = strdup(r == 0 ? "no user data" : "no VM id: user data not used");
                return USERDATA_NONE;
        }
        pm.run.vm_id = vm_id;
        if (userdata_status_load(c, &status) < 0)
                userdata_status_done(&status);
        r = ensure_dirs(c, vm_id);
        if (r < 0)
                return r;
        if (fresh) {
                r = save_bytes(c, data, size, source, vm_id);
                if (r < 0)
                        return r;
                if (streq(source, "ovf")) {
                        /* waagent's copy, for extensions and scripts that read it there */
                        r = mkdir_p_in_root(c->root_fd, "/var/lib/waagent", 0700);
                        if (r >= 0)
                                r = write_if_changed(c, USERDATA_WAAGENT_COPY, data, size);
                        if (r < 0)
                                return r;
                }
        }
        r = user_data_doc_parse(data, size, fetch_cached, &fetch, &doc);
        explicit_bzero(data, size);
        if (r == -E2BIG) {
                if (free_and_strdup(&status.state, "degraded") < 0)
                        return -ENOMEM;
                (void) userdata_status_save(c, &status);
                if (ret_summary)
                        *ret_summary = strdup("user data larger than allowed: not used");
                return USERDATA_UNCHANGED;
        }
        if (r < 0)
                return r;
        r = status_fill(&status, &doc, source, vm_id, size);
        if (r < 0)
                return r;
        status.provisioned_at = now_usec(CLOCK_REALTIME);
        if (doc.parts.ignition) {
                if (free_and_strdup(&status.state, "ignition") < 0)
                        return -ENOMEM;
                (void) userdata_status_save(c, &status);
                if (ret_summary)
                        *ret_summary = strdup("an Ignition config: left to Ignition");
                return USERDATA_UNCHANGED;
        }
        if (free_and_strdup(&status.state, "running") < 0)
                return -ENOMEM;
        (void) userdata_status_save(c, &status);

        /* what the provisioners apply (every run: they would undo it otherwise) */
        r = userdata_adjust_provision_data(c, &doc.config, d, &adjust);
        if (r < 0)
                return r;

        userdata_log_open(c, &log);
        r = run_boot_parts(&pm, &log);
        if (r >= 0 && !in->boot_only) {
                static const struct {
                        const char *name;
                        int (*fn)(Run *run, char **summary);
                } modules[] = {
                        /* cloud-init's cloud_init_modules order, then timezone and yum_add_repo */
                        {"write_files", m_write_files},
                        {"mounts", m_mounts},
                        {"update_etc_hosts", m_etc_hosts},
                        {"ca_certs", m_ca_certs},
                        {"groups", m_groups},
                        {"users", m_users},
                        {"ssh_host_keys", m_ssh_host_keys},
                        {"disable_root", m_root_keys},
                        {"timezone", m_timezone},
                        {"yum_repos", m_yum_repos},
                };

                for (size_t i = 0; r >= 0 && i < ELEMENTSOF(modules); i++)
                        r = run_module(&pm.run, modules[i].name, !streq(modules[i].name, "update_etc_hosts"),
                                       modules[i].fn);
                if (r >= 0)
                        (void) kvp_report_userdata(c, &doc, source);
        }
        if (r >= 0)
                r = write_final_scripts(c, &doc, vm_id, &pm.run.failed);
        userdata_log_close(&log);
        if (r < 0)
                return r;

        /* the rest happens after Ready (azl-userdata.service) */
        final_work = true;
        if (free_and_strdup(&status.state, final_work ? "pending" : pm.run.failed ? "degraded" : "done") < 0)
                return -ENOMEM;
        (void) userdata_status_save(c, &status);

        r = warning_text(&doc, &warning);
        if (r < 0)
                return r;
        if (ret_summary) {
                size_t n_scripts = 0;

                for (size_t i = 0; i < doc.parts.n_parts; i++)
                        n_scripts += doc.parts.parts[i].type == UD_PART_SCRIPT ||
                                     doc.parts.parts[i].type == UD_PART_SCRIPT_PER_BOOT ||
                                     doc.parts.parts[i].type == UD_PART_SCRIPT_PER_INSTANCE ||
                                     doc.parts.parts[i].type == UD_PART_SCRIPT_PER_ONCE;
                if (asprintf(&summary,
                             "%s user data%s: %zu part(s), %u cloud-config, %zu unsupported, %zu "
                             "problem(s)%s; "
                             "after Ready: %zu script(s)%s%s",
                             streq(source, "ovf")    ? "CustomData"
                             : streq(source, "imds") ? "IMDS"
                                                     : "saved",
                             fresh ? "" : " (saved copy)", doc.parts.n_parts, doc.n_cloud_config,
                             strv_length(doc.config.unsupported), doc.config.n_problems,
                             pm.run.failed ? ", a module failed" : "", n_scripts,
                             doc.config.runcmd ? ", runcmd" : "",
                             doc.config.packages || doc.config.package_update || doc.config.package_upgrade
                                     ? ", packages"
                                     : "") < 0)
                        return -ENOMEM;
                *ret_summary = TAKE_PTR(summary);
        }
        if (ret_warning)
                *ret_warning = TAKE_PTR(warning);
        return pm.run.changed ? USERDATA_CHANGED : USERDATA_UNCHANGED;
}

/* ---- the after-Ready phase ---- */

static const char *package_manager(Context *c) {
        static const char *const pms[] = {"/usr/bin/dnf", "/usr/bin/tdnf", "/usr/bin/yum"};

        for (size_t i = 0; i < ELEMENTSOF(pms); i++)
                if (access_in_root(c->root_fd, pms[i]) >= 0)
                        return pms[i];
        return NULL;
}

static int run_script(Run *run, const char *name, const char *frequency, char *const *argv, UdLog *log) {
        _cleanup_(ud_exec_result_done) UdExecResult res = {.exit_status = -1};
        _cleanup_free_ char *unit = NULL, *uname = NULL;
        UdScriptStatus *sc;
        int r;

        if (asprintf(&uname, "%s-%s", frequency, name) < 0)
                return -ENOMEM;
        unit = userdata_unit_name("azl-userdata", uname);
        if (!unit)
                return -ENOMEM;
        sc = userdata_status_script(run->status, name, frequency);
        if (!sc)
                return -ENOMEM;
        sc->started_at = now_usec(CLOCK_REALTIME);
        sc->finished_at = 0;
        sc->exit_status = -1;
        if (free_and_strdup(&sc->state, "running") < 0)
                return -ENOMEM;
        (void) userdata_status_save(run->c, run->status);
        userdata_log_line(log, "%s (%s): started", name, frequency);
        r = userdata_exec(run->c, argv, unit, NULL, "azl-userdata", log, &res);
        sc = userdata_status_script(run->status, name, frequency);
        if (!sc)
                return -ENOMEM;
        sc->finished_at = now_usec(CLOCK_REALTIME);
        sc->exit_status = r < 0 ? -1 : res.exit_status;
        if (free_and_strdup(&sc->state, r >= 0 && res.exit_status == 0 ? "done" : "failed") < 0 ||
            free_and_strdup(&sc->output, r < 0 ? strerror(-r) : res.tail) < 0)
                return -ENOMEM;
        userdata_log_line(log, "%s (%s): %s %d", name, frequency,
                          res.signal ? "killed by signal" : "exit status", res.signal ?: res.exit_status);
        if (r < 0 || res.exit_status != 0)
                run->failed = true;
        run->changed = true;
        (void) userdata_status_save(run->c, run->status);
        return 0;
}

/* run-parts over a directory of scripts (cloud-init's subp.runparts: sorted, executable files). */
static int run_parts(Run *run, const char *dir, const char *frequency, UdLog *log) {
        _cleanup_strv_free_ char **names = NULL;
        int r;

        r = list_dir(run->c, dir, &names);
        if (r < 0)
                return r;
        for (char **n = names; n && *n; n++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, *n) < 0)
                        return -ENOMEM;
                r = run_script(run, *n, frequency, (char *const[]){path, NULL}, log);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int final_packages(Run *run, const UserDataConfig *cfg, UdLog *log) {
        const char *pm = package_manager(run->c);
        _cleanup_strv_free_ char **argv = NULL;
        int r;

        if (!cfg->packages && !cfg->package_update && !cfg->package_upgrade)
                return 0;
        if (!pm) {
                if (strv_extend(&run->status->unsupported, "packages (no dnf, tdnf or yum on this system)") <
                    0)
                        return -ENOMEM;
                return userdata_status_set_module(run->status, "packages", "skipped", "no dnf, tdnf or yum");
        }
        if (cfg->package_update || cfg->package_upgrade || cfg->packages) {
                /* cloud-init's rhel distro refreshes the metadata before installing */
                r = run_script(run, "package-update", "instance",
                               (char *const[]){(char *) pm, (char *) "-y", (char *) "makecache", NULL}, log);
                if (r < 0)
                        return r;
        }
        if (cfg->package_upgrade) {
                r = run_script(run, "package-upgrade", "instance",
                               (char *const[]){(char *) pm, (char *) "-y", (char *) "upgrade", NULL}, log);
                if (r < 0)
                        return r;
        }
        if (cfg->packages) {
                if (strv_extend(&argv, pm) < 0 || strv_extend(&argv, "-y") < 0 ||
                    strv_extend(&argv, "install") < 0 || strv_extend(&argv, "--") < 0)
                        return -ENOMEM;
                for (char **p = cfg->packages; *p; p++)
                        if (strv_extend(&argv, *p) < 0)
                                return -ENOMEM;
                r = run_script(run, "package-install", "instance", argv, log);
                if (r < 0)
                        return r;
        }
        return userdata_status_set_module(run->status, "packages", "changed", NULL);
}

/* $UPTIME, $TIMESTAMP, $VERSION, $DATASOURCE (also lower case, also ${…}), as cloud-init's basic templater. */
static int render_final_message(const char *tmpl, char **ret) {
        char uptime[32] = "", ts[64] = "", *out = NULL;
        size_t size = 0;
        FILE *f;

        {
                _cleanup_fclose_ FILE *u = fopen("/proc/uptime", "re");
                double secs;

                if (u && fscanf(u, "%lf", &secs) == 1)
                        snprintf(uptime, sizeof uptime, "%.2f", secs);
        }
        {
                time_t t = time(NULL);
                struct tm tm;

                if (gmtime_r(&t, &tm))
                        strftime(ts, sizeof ts, "%a, %d %b %Y %H:%M:%S +0000", &tm);
        }
        f = open_memstream(&out, &size);
        if (!f)
                return -ENOMEM;
        for (const char *p = tmpl; *p;) {
                static const char *const names[] = {"uptime", "timestamp", "version", "datasource"};
                bool done = false;

                if (*p == '$') {
                        bool brace = p[1] == '{';
                        const char *n = p + 1 + brace;
                        size_t len =
                                strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");

                        for (size_t i = 0; i < ELEMENTSOF(names) && !done; i++) {
                                if (len != strlen(names[i]) ||
                                    (strncmp(n, names[i], len) != 0 && strncasecmp(n, names[i], len) != 0) ||
                                    (brace && n[len] != '}'))
                                        continue;
                                /* only all lower or all upper case, as the substitution dict has both */
                                fputs(i == 0 ? uptime : i == 1 ? ts : i == 2 ? PACKAGE_VERSION : "Azure", f);
                                p = n + len + brace;
                                done = true;
                        }
                }
                if (!done)
                        fputc(*p++, f);
        }
        if (fclose(f) != 0) {
                free(out);
                return -ENOMEM;
        }
        *ret = out;
        return 0;
}

static int final_message(Run *run, const UserDataConfig *cfg, UdLog *log) {
        _cleanup_free_ char *msg = NULL, *path = NULL;
        int r;

        r = render_final_message(cfg->final_message
                                         ?: "azl-agent " PACKAGE_VERSION " finished the user data at "
                                            "$TIMESTAMP. Up $UPTIME seconds",
                                 &msg);
        if (r < 0)
                return r;
        /* stdout: the unit sends it to the journal and the console, as cloud-init's final_message */
        printf("%s\n", msg);
        fflush(stdout);
        userdata_log_line(log, "%s", msg);
        r = state_path(run->c, &path, "instances/%s/boot-finished", run->vm_id);
        if (r < 0)
                return r;
        (void) write_string_file_atomic_in_root(run->c->root_fd, path, "finished\n", 0600, WRITE_MKDIR);
        return userdata_status_set_module(run->status, "final_message", "changed", NULL);
}

static int power_state(Run *run, const UserDataConfig *cfg) {
        const UdPowerState *ps = &cfg->power_state;
        const char *opt;
        _cleanup_free_ char *out = NULL;
        int r;

        if (!ps->set)
                return 0;
        if (ps->condition && !ps->condition_value)
                return userdata_status_set_module(run->status, "power_state", "skipped",
                                                  "condition is false");
        if (run->c->root && !streq(run->c->root, "/"))
                return userdata_status_set_module(run->status, "power_state", "skipped", "alternate root");
        opt = streq(ps->mode, "reboot") ? "-r" : streq(ps->mode, "halt") ? "-H" : "-P";
        r = userdata_status_set_module(run->status, "power_state", "changed", ps->mode);
        if (r < 0)
                return r;
        (void) userdata_status_save(run->c, run->status);
        r = spawn_and_wait((char *const[]){(char *) "shutdown", (char *) opt, ps->delay, ps->message, NULL},
                           &out);
        if (r != 0) {
                run->failed = true;
                return userdata_status_set_module(run->status, "power_state", "failed", "shutdown failed");
        }
        return 0;
}

static int final_deferred_files(Run *run, const UserDataConfig *cfg) {
        _cleanup_free_ char *summary = NULL;
        bool any = false;
        int r;

        for (size_t i = 0; i < cfg->n_write_files; i++)
                any = any || cfg->write_files[i].defer;
        if (!any)
                return 0;
        r = userdata_write_files(run->c, cfg, true, &summary);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                run->failed = true;
        return userdata_status_set_module(run->status, "write_files_deferred",
                                          r < 0   ? "failed"
                                          : r > 0 ? "changed"
                                                  : "unchanged",
                                          summary);
}

int userdata_final(Context *c, const char *vm_id) {
        _cleanup_(userdata_status_done) UserDataStatus status = {};
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};
        _cleanup_free_ char *data = NULL, *source = NULL, *saved_id = NULL, *dir = NULL;
        Run run = {.c = c, .status = &status, .vm_id = vm_id};
        FetchCtx fetch = {.c = c, .network = false};
        UdLog log = {.fd = -EBADF};
        size_t size;
        bool once;
        int r;

        r = userdata_status_load(c, &status);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return r;
        if (!vm_id_ok(vm_id) || !c->config.userdata_sources || saved_vm_id(c, &saved_id) < 0 ||
            !streq(saved_id, vm_id) || userdata_load_saved(c, &data, &size, &source) < 0) {
                if (!streq_ptr(status.state, "none")) {
                        userdata_status_done(&status);
                        if (free_and_strdup(&status.state, "none") < 0)
                                return -ENOMEM;
                        (void) userdata_status_save(c, &status);
                }
                return 0;
        }
        r = user_data_doc_parse(data, size, fetch_cached, &fetch, &doc);
        explicit_bzero(data, size);
        if (r < 0)
                return r;
        if (doc.parts.ignition)
                return 0;
        if (!status.state || !streq_ptr(status.vm_id, vm_id)) { /* no record of the provisioning phase */
                r = status_fill(&status, &doc, source, vm_id, size);
                if (r < 0)
                        return r;
        }
        /* degraded by the provisioning phase (a module, a bootcmd) stays degraded */
        for (size_t i = 0; i < status.n_modules; i++)
                run.failed |= streq_ptr(status.modules[i].result, "failed");
        for (size_t i = 0; i < status.n_scripts; i++)
                run.failed |= streq_ptr(status.scripts[i].frequency, "early") &&
                              streq_ptr(status.scripts[i].state, "failed");
        run.failed |= status.n_problems > 0;
        status.final_started_at = now_usec(CLOCK_REALTIME);
        status.final_finished_at = 0;
        if (free_and_strdup(&status.state, "running") < 0)
                return -ENOMEM;
        (void) userdata_status_save(c, &status);
        userdata_log_open(c, &log);

        /* scripts may have been written by an older run; the saved user data is the truth */
        r = write_final_scripts(c, &doc, vm_id, &run.failed);
        if (r >= 0 && !sem_has(c, vm_id, "packages")) {
                r = sem_set(c, vm_id, "packages");
                if (r >= 0)
                        r = final_packages(&run, &doc.config, &log);
        }
        if (r >= 0 && !sem_has(c, vm_id, "write_files_deferred")) {
                r = sem_set(c, vm_id, "write_files_deferred");
                if (r >= 0)
                        r = final_deferred_files(&run, &doc.config);
        }
        once = sem_has(c, NULL, "per-once");
        if (r >= 0 && !once) {
                r = sem_set(c, NULL, "per-once");
                if (r >= 0)
                        r = state_path(c, &dir, "scripts/per-once");
                if (r >= 0)
                        r = run_parts(&run, dir, "once", &log);
        }
        if (r >= 0) {
                free(dir);
                dir = NULL;
                r = state_path(c, &dir, "scripts/per-boot");
                if (r >= 0)
                        r = run_parts(&run, dir, "boot", &log);
        }
        if (r >= 0 && !sem_has(c, vm_id, "scripts_per_instance")) {
                free(dir);
                dir = NULL;
                r = sem_set(c, vm_id, "scripts_per_instance");
                if (r >= 0)
                        r = state_path(c, &dir, "scripts/per-instance");
                if (r >= 0)
                        r = run_parts(&run, dir, "instance", &log);
        }
        if (r >= 0 && !sem_has(c, vm_id, "scripts_user")) {
                free(dir);
                dir = NULL;
                r = sem_set(c, vm_id, "scripts_user");
                if (r >= 0)
                        r = state_path(c, &dir, "instances/%s/scripts", vm_id);
                if (r >= 0)
                        r = run_parts(&run, dir, "instance", &log);
        }
        if (r >= 0)
                r = final_message(&run, &doc.config, &log);
        if (r >= 0 && free_and_strdup(&status.state, run.failed ? "degraded" : "done") < 0)
                r = -ENOMEM;
        status.final_finished_at = now_usec(CLOCK_REALTIME);
        if (r >= 0 && !sem_has(c, vm_id, "power_state")) {
                /* the status is final before a reboot or power-off takes us away */
                (void) userdata_status_save(c, &status);
                r = sem_set(c, vm_id, "power_state");
                if (r >= 0)
                        r = power_state(&run, &doc.config);
                if (r >= 0 && run.failed && !streq(status.state, "degraded") &&
                    free_and_strdup(&status.state, "degraded") < 0)
                        r = -ENOMEM;
        }
        userdata_log_close(&log);
        if (r < 0) {
                (void) free_and_strdup(&status.state, "degraded");
                (void) userdata_status_save(c, &status);
                return r;
        }
        r = userdata_status_save(c, &status);
        if (r < 0)
                return r;
        return run.failed ? 1 : 0;
}
