/* SPDX-License-Identifier: MIT */
/*
 * Handler directory contract (§4.3, §4.4, §4.7, §4.8); see ext-handler.h. Library code: no logging above
 * debug, every file access relative to the root fd.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ext-beneath.h"
#include "ext-handler.h"
#include "ext-util.h"
#include "fileio.h"
#include "json-util.h"
#include "string-table.h"

void ext_layout_init(ExtLayout *l, const Context *c, const char *log_dir) {
        *l = (ExtLayout){
                .root_fd = c->root_fd,
                .root = c->root,
                .lib_dir = c->config.extensions_dir ?: "/var/lib/waagent",
                .log_dir = log_dir ?: EXT_LOG_DIR_DEFAULT,
        };
}

bool ext_name_is_valid(const char *s) {
        if (isempty(s) || streq(s, ".") || streq(s, "..") || strlen(s) > 200)
                return false;
        for (const char *p = s; *p; p++)
                if (*p == '/' || (unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool ascii_isalnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool ext_handler_name_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n == 0 || n > EXT_HANDLER_NAME_MAX || !ascii_isalnum(s[0]) || !ascii_isalnum(s[n - 1]))
                return false;
        for (const char *p = s; *p; p++)
                if (!ascii_isalnum(*p) && !strchr(".-_", *p))
                        return false;
        return true;
}

bool ext_handler_version_is_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;
        bool digit = false;

        if (n == 0 || n > EXT_HANDLER_VERSION_MAX)
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '.' && digit)
                        digit = false;
                else if (*p >= '0' && *p <= '9')
                        digit = true;
                else
                        return false;
        }
        return digit;
}

const char *ext_handler_name_check(const char *name, const char *version) {
        if (!ext_handler_name_is_valid(name))
                return "Invalid extension handler name: only ASCII letters, digits, '.', '-' and '_' are "
                       "allowed "
                       "(starting and ending with a letter or digit, at most 128 characters)";
        if (!ext_handler_version_is_valid(version))
                return "Invalid extension handler version: dot-separated decimal numbers expected";
        return NULL;
}

void handler_paths_done(HandlerPaths *p) {
        char **all[] = {&p->dir,
                        &p->config_dir,
                        &p->status_dir,
                        &p->heartbeat_file,
                        &p->log_dir,
                        &p->events_dir,
                        &p->host_dir,
                        &p->host_config_dir,
                        &p->host_status_dir,
                        &p->host_heartbeat_file,
                        &p->host_log_dir,
                        &p->host_events_dir};

        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                *all[i] = mfree_str(*all[i]);
}

int handler_paths_build(const ExtLayout *l, const char *name, const char *version, HandlerPaths *ret) {
        _cleanup_(handler_paths_done) HandlerPaths p = {};
        int r;

        if (!ext_handler_name_is_valid(name) || !ext_handler_version_is_valid(version))
                return -EINVAL;
        if (asprintf(&p.dir, "%s/%s-%s", l->lib_dir, name, version) < 0 ||
            asprintf(&p.config_dir, "%s/config", p.dir) < 0 ||
            asprintf(&p.status_dir, "%s/status", p.dir) < 0 ||
            asprintf(&p.heartbeat_file, "%s/heartbeat.log", p.dir) < 0 ||
            asprintf(&p.log_dir, "%s/%s", l->log_dir, name) < 0 ||
            asprintf(&p.events_dir, "%s/events", p.log_dir) < 0)
                return -ENOMEM;
        if ((r = path_join_root(l->root, p.dir, &p.host_dir)) < 0 ||
            (r = path_join_root(l->root, p.config_dir, &p.host_config_dir)) < 0 ||
            (r = path_join_root(l->root, p.status_dir, &p.host_status_dir)) < 0 ||
            (r = path_join_root(l->root, p.heartbeat_file, &p.host_heartbeat_file)) < 0 ||
            (r = path_join_root(l->root, p.log_dir, &p.host_log_dir)) < 0 ||
            (r = path_join_root(l->root, p.events_dir, &p.host_events_dir)) < 0)
                return r;
        *ret = p;
        p = (HandlerPaths){};
        return 0;
}

static const char *const handler_state_table[_HANDLER_STATE_MAX] = {
        [HANDLER_STATE_NOT_INSTALLED] = "NotInstalled",
        [HANDLER_STATE_INSTALLED] = "Installed",
        [HANDLER_STATE_ENABLED] = "Enabled",
        [HANDLER_STATE_FAILED_UPGRADE] = "FailedUpgrade",
};

DEFINE_STRING_TABLE_LOOKUP_CASE(handler_state, HandlerState);

int handler_dir_open(const ExtLayout *l, const char *name, const char *version, int flags) {
        _cleanup_free_ char *path = NULL;

        if (!ext_handler_name_is_valid(name) || !ext_handler_version_is_valid(version))
                return -EINVAL;
        if (asprintf(&path, "%s/%s-%s", l->lib_dir, name, version) < 0)
                return -ENOMEM;
        /* The directory itself is the agent's (extension_package_install() made it); below it, beneath. */
        return open_in_root(l->root_fd, path, flags | O_DIRECTORY, 0);
}

static int config_file_path(const char *file, char **ret) {
        if (!ext_name_is_valid(file))
                return -EINVAL;
        return asprintf(ret, "config/%s", file) < 0 ? -ENOMEM : 0;
}

static int config_read_line(const ExtLayout *l, const char *name, const char *version, const char *file,
                            char **ret) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        _cleanup_close_ int dir = -EBADF;
        size_t size;
        int r;

        r = config_file_path(file, &path);
        if (r < 0)
                return r;
        dir = handler_dir_open(l, name, version, O_PATH);
        if (dir < 0)
                return dir;
        r = read_file_beneath(dir, path, 256, &text, &size);
        if (r < 0)
                return r;
        text[strcspn(text, "\n")] = 0;
        *ret = TAKE_PTR(text);
        return 0;
}

static int config_write(const ExtLayout *l, const char *name, const char *version, const char *file,
                        const char *text, WriteBatch *batch) {
        _cleanup_free_ char *path = NULL;
        _cleanup_close_ int dir = -EBADF;
        int r;

        r = config_file_path(file, &path);
        if (r < 0)
                return r;
        dir = handler_dir_open(l, name, version, O_PATH);
        if (dir < 0)
                return dir;
        r = mkdir_p_beneath(dir, "config", 0700);
        if (r < 0)
                return r;
        return write_file_atomic_beneath(batch, dir, path, text, strlen(text), 0600, false);
}

int handler_state_read(const ExtLayout *l, const char *name, const char *version, HandlerState *ret) {
        _cleanup_free_ char *line = NULL;
        HandlerState s;
        int r;

        r = config_read_line(l, name, version, "HandlerState", &line);
        if (r == -ENOENT) {
                *ret = HANDLER_STATE_NOT_INSTALLED;
                return 0;
        }
        if (r < 0)
                return r;
        s = handler_state_from_string(strstrip(line));
        if (s < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}

int handler_state_write(const ExtLayout *l, const char *name, const char *version, HandlerState s,
                        WriteBatch *batch) {
        return config_write(l, name, version, "HandlerState", handler_state_to_string(s), batch);
}

int handler_ext_state_read(const ExtLayout *l, const char *name, const char *version, const char *ext,
                           bool *ret_enabled) {
        _cleanup_free_ char *file = NULL, *line = NULL;
        int r;

        if (asprintf(&file, "%s.HandlerState", ext) < 0)
                return -ENOMEM;
        r = config_read_line(l, name, version, file, &line);
        if (r == -ENOENT) {
                *ret_enabled = false;
                return 0;
        }
        if (r < 0)
                return r;
        *ret_enabled = strcasecmp(strstrip(line), "enabled") == 0;
        return 0;
}

int handler_ext_state_write(const ExtLayout *l, const char *name, const char *version, const char *ext,
                            bool enabled) {
        _cleanup_free_ char *file = NULL;

        if (asprintf(&file, "%s.HandlerState", ext) < 0)
                return -ENOMEM;
        return config_write(l, name, version, file, enabled ? "enabled" : "disabled", NULL);
}

int handler_environment_format(const HandlerPaths *p, const char *name, char **ret) {
        _cleanup_json_ struct json_object *arr = json_object_new_array(), *o = json_object_new_object(),
                                          *env = json_object_new_object();

        if (!arr || !o || !env)
                return -ENOMEM;
        /* Key order and the float version 1.0 as waagent's create_handler_env() emits them (§4.3). */
        if (json_object_object_add(env, "logFolder", json_object_new_string(p->host_log_dir)) < 0 ||
            json_object_object_add(env, "configFolder", json_object_new_string(p->host_config_dir)) < 0 ||
            json_object_object_add(env, "statusFolder", json_object_new_string(p->host_status_dir)) < 0 ||
            json_object_object_add(env, "heartbeatFile", json_object_new_string(p->host_heartbeat_file)) <
                    0 ||
            json_object_object_add(env, "eventsFolder", json_object_new_string(p->host_events_dir)) < 0 ||
            json_object_object_add(env, "eventsFolder_preview", json_object_new_string(p->host_events_dir)) <
                    0)
                return -ENOMEM;
        if (json_object_object_add(o, "name", json_object_new_string(name)) < 0 ||
            json_object_object_add(o, "version", json_object_new_double_s(1.0, "1.0")) < 0 ||
            json_object_object_add(o, "handlerEnvironment", json_object_get(env)) < 0 ||
            json_object_array_add(arr, json_object_get(o)) < 0)
                return -ENOMEM;
        return json_dumps_python(arr, ret);
}

int handler_environment_write(const ExtLayout *l, const char *name, const char *version, WriteBatch *batch) {
        _cleanup_(handler_paths_done) HandlerPaths p = {};
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int dir = -EBADF;
        int r;

        r = handler_paths_build(l, name, version, &p);
        if (r < 0)
                return r;
        if ((r = mkdir_p_in_root(l->root_fd, p.dir, 0755)) < 0 ||
            (r = mkdir_p_in_root(l->root_fd, p.events_dir, 0700)) < 0)
                return r;
        dir = handler_dir_open(l, name, version, O_PATH);
        if (dir < 0)
                return dir;
        /* config/ and status/ hold (encrypted) settings: 0700 (§4.6 "initialize"); the package may have brought
         * them, possibly as symlinks: beneath the handler directory or refused. */
        if ((r = mkdir_p_beneath(dir, "config", 0700)) < 0 || (r = mkdir_p_beneath(dir, "status", 0700)) < 0)
                return r;
        r = handler_environment_format(&p, name, &text);
        if (r < 0)
                return r;
        return write_file_atomic_beneath(batch, dir, "HandlerEnvironment.json", text, strlen(text), 0644,
                                         false);
}

int ext_settings_file_name(const char *ext, unsigned seq, char **ret) {
        int n = ext ? asprintf(ret, "%s.%u.settings", ext, seq) : asprintf(ret, "%u.settings", seq);

        return n < 0 ? -ENOMEM : 0;
}

static struct json_object *string_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

int ext_settings_format(const ExtensionSettings *s, char **ret) {
        _cleanup_json_ struct json_object *doc = NULL, *hs = NULL, *pub = NULL;
        struct json_object *arr, *item;
        int r;

        if (!s) {
                /* "Extension has no settings, write empty 0.settings" (waagent 2.0.x behaviour, §4.3). */
                char *e = strdup("");
                if (!e)
                        return -ENOMEM;
                *ret = e;
                return 0;
        }
        if (s->public_settings) {
                r = json_parse_buffer(s->public_settings, strlen(s->public_settings), &pub, NULL);
                if (r < 0)
                        return r;
        }
        hs = json_object_new_object();
        doc = json_object_new_object();
        arr = json_object_new_array();
        item = json_object_new_object();
        if (!hs || !doc || !arr || !item) {
                json_object_put(arr);
                json_object_put(item);
                return -ENOMEM;
        }
        /* Key order of waagent update_settings(); absent values serialize as null (extensions rely on it). */
        if (json_object_object_add(hs, "publicSettings", TAKE_PTR(pub)) < 0 ||
            json_object_object_add(hs, "protectedSettings", string_or_null(s->protected_settings)) < 0 ||
            json_object_object_add(hs, "protectedSettingsCertThumbprint",
                                   string_or_null(s->protected_settings_cert_thumbprint)) < 0 ||
            json_object_object_add(item, "handlerSettings", json_object_get(hs)) < 0 ||
            json_object_array_add(arr, item) < 0 || json_object_object_add(doc, "runtimeSettings", arr) < 0)
                return -ENOMEM;
        return json_dumps_python(doc, ret);
}

int ext_settings_write(const ExtLayout *l, const char *name, const char *version, const char *ext,
                       const ExtensionSettings *s, WriteBatch *batch) {
        _cleanup_free_ char *file = NULL;
        _cleanup_erase_ char *text = NULL;
        int r;

        r = ext_settings_file_name(ext, s ? s->seq_no : 0, &file);
        if (r < 0)
                return r;
        r = ext_settings_format(s, &text);
        if (r < 0)
                return r;
        return config_write(l, name, version, file, text, batch);
}

static int env_set(char ***env, const char *key, const char *value) {
        _cleanup_free_ char *kv = NULL;
        size_t klen = strlen(key);
        int r;

        if (!value)
                return 0;
        if (asprintf(&kv, "%s=%s", key, value) < 0)
                return -ENOMEM;
        for (char **e = *env; e && *e; e++)
                if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=') {
                        free(*e);
                        *e = TAKE_PTR(kv);
                        return 0;
                }
        r = strv_push(env, kv);
        if (r < 0)
                return r;
        kv = NULL;
        return 0;
}

int ext_command_env_build(const ExtCommandEnv *e, char *const *agent_env, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        char seq[16];
        int r;

        (void) snprintf(seq, sizeof seq, "%u", e->seq_no);
        if ((r = env_set(&env, "AZURE_GUEST_AGENT_EXTENSION_PATH", e->handler_host_dir)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_EXTENSION_VERSION", e->version)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS",
                         e->wire_protocol_address ?: EXT_WIRE_PROTOCOL_ADDRESS_DEFAULT)) < 0 ||
            (r = env_set(&env, "ConfigSequenceNumber", seq)) < 0 ||
            (r = env_set(&env, "ConfigExtensionName", e->extension_name)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES",
                         EXT_SUPPORTED_FEATURES_ENV)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE", e->uninstall_exit_code)) < 0 ||
            (r = env_set(&env, "VERSION", e->update_to_version)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_UPDATING_FROM_VERSION", e->updating_from_version)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_DISABLE_CMD_EXIT_CODE", e->disable_exit_code)) < 0 ||
            (r = env_set(&env, "AZURE_GUEST_AGENT_DISABLE_CMD_EXIT_CODES_MULTIPLE_EXTENSIONS",
                         e->disable_exit_codes_multi)) < 0)
                return r;
        /* env.update(os.environ): the agent's own environment wins (§4.4). */
        for (char *const *a = agent_env; a && *a; a++) {
                _cleanup_free_ char *key = NULL;
                const char *eq = strchr(*a, '=');

                if (!eq || eq == *a)
                        continue;
                key = strndup(*a, (size_t) (eq - *a));
                if (!key)
                        return -ENOMEM;
                r = env_set(&env, key, eq + 1);
                if (r < 0)
                        return r;
        }
        if (!env && !(env = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

/* len without an incomplete UTF-8 sequence at its end (output read up to EXT_OUTPUT_MESSAGE_MAX bytes). */
static size_t utf8_complete_len(const char *s, size_t len) {
        const unsigned char *u = (const unsigned char *) s;

        /* The last byte that is no continuation byte, within 4 of the end: does its sequence fit? */
        for (size_t i = len; i > 0 && len - i < 4; i--)
                if ((u[i - 1] & 0xC0) != 0x80) {
                        size_t need = u[i - 1] >= 0xF0 ? 4 : u[i - 1] >= 0xE0 ? 3 : u[i - 1] >= 0xC0 ? 2 : 1;

                        return len - (i - 1) < need ? i - 1 : len;
                }
        return len;
}

/* The last n of the len bytes of s, shortened so that they start on a UTF-8 character boundary. */
static size_t utf8_tail_len(const char *s, size_t len, size_t n) {
        for (size_t i = 0; i < 3 && n > 0 && n < len && ((unsigned char) s[len - n] & 0xC0) == 0x80; i++)
                n--;
        return n;
}

int ext_format_output(const char *out, size_t out_len, const char *err, size_t err_len, char **ret) {
        /* waagent format_stdout_stderr(): template "[stdout]\n{0}\n\n[stderr]\n{1}", 26 characters of which
         * 6 are placeholders, max_len_each = (3200 - 26 + 6) / 2 = 1590; keep the tails. */
        const size_t max_len = EXT_OUTPUT_MESSAGE_MAX, max_each = (max_len - 26 + 6) / 2;
        _cleanup_free_ char *msg = NULL;
        size_t o, e;

        /* Cut on character boundaries: no incomplete sequence at the end, no tail starting inside one. */
        out_len = utf8_complete_len(out, out_len);
        err_len = utf8_complete_len(err, err_len);
        o = out_len, e = err_len;

        if (out_len + err_len >= max_len) {
                if (out_len < max_each)
                        e = MIN(max_each + (max_each - out_len), err_len);
                else if (err_len < max_each)
                        o = MIN(max_each + (max_each - err_len), out_len);
                else
                        o = e = max_each;
        }
        o = utf8_tail_len(out, out_len, o);
        e = utf8_tail_len(err, err_len, e);
        if (asprintf(&msg, "[stdout]\n%.*s\n\n[stderr]\n%.*s", (int) o, out + (out_len - o), (int) e,
                     err + (err_len - e)) < 0)
                return -ENOMEM;
        /* Handler output is arbitrary bytes; the status blob, daemon.json and D-Bus need valid UTF-8. */
        return utf8_make_valid(msg, SIZE_MAX, ret);
}

void installed_handlers_free(InstalledHandler *h, size_t n) {
        for (size_t i = 0; h && i < n; i++) {
                free(h[i].name);
                free(h[i].version);
                strv_free(h[i].enabled_extensions);
        }
        free(h);
}

/* "<Name>-<Version>": the version is the part after the last '-', digits and dots only. */
static int split_handler_dir(const char *d, char **ret_name, char **ret_version) {
        const char *dash = strrchr(d, '-');

        if (!dash || dash == d || !dash[1] || strspn(dash + 1, "0123456789.") != strlen(dash + 1))
                return -EINVAL;
        *ret_name = strndup(d, (size_t) (dash - d));
        *ret_version = strdup(dash + 1);
        if (!*ret_name || !*ret_version) {
                *ret_name = mfree_str(*ret_name);
                *ret_version = mfree_str(*ret_version);
                return -ENOMEM;
        }
        return 0;
}

static int scan_enabled_extensions(const ExtLayout *l, InstalledHandler *h) {
        _cleanup_close_ int dir = handler_dir_open(l, h->name, h->version, O_PATH);
        DIR *d;
        int fd;

        if (dir < 0)
                return dir;
        fd = open_beneath(dir, "config", O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT || fd == -EXDEV)
                return 0;
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                closep(&fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *ext = NULL;
                bool enabled = false;

                if (!endswith(de->d_name, ".HandlerState") || streq(de->d_name, "HandlerState") ||
                    strlen(de->d_name) <= strlen(".HandlerState"))
                        continue;
                ext = strndup(de->d_name, strlen(de->d_name) - strlen(".HandlerState"));
                if (!ext || handler_ext_state_read(l, h->name, h->version, ext, &enabled) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
                if (enabled && strv_extend(&h->enabled_extensions, ext) < 0) {
                        closedir(d);
                        return -ENOMEM;
                }
        }
        closedir(d);
        return 0;
}

int installed_handlers_scan(const ExtLayout *l, InstalledHandler **ret, size_t *ret_n) {
        InstalledHandler *list = NULL;
        size_t n = 0;
        DIR *d;
        int fd, r = 0;

        fd = open_in_root(l->root_fd, l->lib_dir, O_RDONLY | O_DIRECTORY, 0);
        if (fd == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (fd < 0)
                return fd;
        d = fdopendir(fd);
        if (!d) {
                closep(&fd);
                return -errno;
        }
        for (struct dirent *de; (de = readdir(d));) {
                _cleanup_free_ char *name = NULL, *version = NULL, *manifest = NULL;
                InstalledHandler *h;

                if (de->d_name[0] == '.' || startswith(de->d_name, "WALinuxAgent-") ||
                    split_handler_dir(de->d_name, &name, &version) < 0 || !ext_handler_name_is_valid(name) ||
                    !ext_handler_version_is_valid(version))
                        continue;
                if (asprintf(&manifest, "%s/%s/HandlerManifest.json", l->lib_dir, de->d_name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (access_in_root(l->root_fd, manifest) < 0)
                        continue;
                r = EXT_ARRAY_GROW(list, n, EXT_HANDLERS_MAX, &h);
                if (r < 0)
                        break;
                h->name = TAKE_PTR(name);
                h->version = TAKE_PTR(version);
                if (handler_state_read(l, h->name, h->version, &h->state) < 0)
                        h->state = HANDLER_STATE_NOT_INSTALLED;
                r = scan_enabled_extensions(l, h);
                if (r < 0)
                        break;
        }
        closedir(d);
        if (r < 0) {
                installed_handlers_free(list, n);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

void ext_handler_result_done(ExtHandlerResult *r) {
        if (!r)
                return;
        free(r->name);
        free(r->version);
        free(r->extension);
        free(r->status);
        free(r->message);
        free(r->signature_problem);
        ext_status_done(&r->extension_status);
        *r = (ExtHandlerResult){};
}

int ext_handler_result_set(ExtHandlerResult *r, const char *status, int code, const char *message) {
        int k;

        if ((k = free_and_strdup(&r->status, status)) < 0 || (k = free_and_strdup(&r->message, message)) < 0)
                return k;
        r->code = code;
        return 0;
}

int ext_handler_result_set_extension_status(ExtHandlerResult *r, const char *status, int code,
                                            const char *operation, const char *msg) {
        ExtensionStatus s = {};

        s.name = strdup(r->extension ?: r->name);
        s.status = strdup(status);
        s.message = msg ? strdup(msg) : NULL;
        s.operation = operation ? strdup(operation) : NULL;
        s.code = code;
        if (!s.name || !s.status || (msg && !s.message) || (operation && !s.operation)) {
                ext_status_done(&s);
                return -ENOMEM;
        }
        ext_status_done(&r->extension_status);
        r->extension_status = s;
        r->has_extension_status = true;
        return 0;
}

static int read_heartbeat(const ExtLayout *l, ExtHandlerResult *r, usec_t now) {
        _cleanup_(heartbeat_done) Heartbeat hb = {};
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int dir = -EBADF, fd = -EBADF;
        struct stat st;
        size_t size;
        int k;

        dir = handler_dir_open(l, r->name, r->version, O_PATH);
        if (dir < 0)
                return dir;
        fd = open_beneath(dir, "heartbeat.log", O_RDONLY | O_NOFOLLOW, 0);
        if (fd < 0)
                return ext_handler_result_set(r, "NotReady", EXT_CODE_PLUGIN_PROCESSING_ERROR,
                                              "Failed to get heart beat file");
        if (fstat(fd, &st) < 0)
                return -errno;
        /* mtime older than 600 s → Unresponsive, code -1 (§4.8, collect_heartbeat). */
        if (now > (usec_t) st.st_mtim.tv_sec * USEC_PER_SEC + HEARTBEAT_STALE_USEC)
                return ext_handler_result_set(r, "Unresponsive", -1,
                                              "Extension heartbeat is not updated for more than 10 minutes");
        k = read_full_fd(fd, 64U * 1024U, &buf, &size);
        if (k < 0 || heartbeat_parse(buf, size, &hb, NULL) < 0)
                return ext_handler_result_set(r, "NotReady", EXT_CODE_PLUGIN_PROCESSING_ERROR,
                                              "Failed to parse heart beat file");
        return ext_handler_result_set(r, hb.status, hb.code, hb.message);
}

int ext_handler_result_read_status(const ExtLayout *l, ExtHandlerResult *r, bool report_heartbeat,
                                   usec_t now_realtime) {
        _cleanup_free_ char *path = NULL, *buf = NULL, *error = NULL, *msg = NULL;
        _cleanup_close_ int dir = -EBADF;
        ExtensionStatus s = {};
        size_t size;
        int k;

        if (report_heartbeat) {
                k = read_heartbeat(l, r, now_realtime);
                if (k < 0)
                        return k;
        }
        if (!r->has_settings)
                return 0; /* no runtimeSettingsStatus for a handler without settings (§4.9) */
        if (r->extension && !ext_name_is_valid(r->extension))
                return -EINVAL;
        k = r->extension ? asprintf(&path, "status/%s.%u.status", r->extension, r->seq_no)
                         : asprintf(&path, "status/%u.status", r->seq_no);
        if (k < 0)
                return -ENOMEM;
        dir = handler_dir_open(l, r->name, r->version, O_PATH);
        /* No handler directory (a package refused under SignatureValidation=enforce): what the agent reported on
         * the extension's behalf stays (waagent keeps it as a placeholder status file). */
        if (dir == -ENOENT && r->has_extension_status)
                return 0;
        k = dir < 0 ? dir : read_file_beneath(dir, path, EXT_STATUS_PARSE_MAX, &buf, &size);
        if (k == -ENOENT) {
                if (asprintf(&msg,
                             "This status is being reported by the Guest Agent since no status file was "
                             "reported by extension %s",
                             r->extension ?: r->name) < 0)
                        return -ENOMEM;
                return ext_handler_result_set_extension_status(r, "transitioning", 0, NULL, msg);
        }
        if (k < 0) {
                (void) ext_handler_result_set_extension_status(r, "error", EXT_ERROR_CODE_UNKNOWN, NULL,
                                                               "Failed to get status file");
                return -EAGAIN;
        }
        k = ext_status_parse(buf, size, &s, &error);
        if (k == -ENODATA)
                return ext_handler_result_set_extension_status(r, "transitioning", 0, NULL,
                                                               "Extension has not reported status yet");
        if (k < 0) {
                if (asprintf(&msg, "Malformed status file [%s]", strna(error)) < 0)
                        return -ENOMEM;
                (void) ext_handler_result_set_extension_status(r, "error", EXT_CODE_SETTINGS_STATUS_INVALID,
                                                               NULL, msg);
                return -EAGAIN;
        }
        ext_status_done(&r->extension_status);
        r->extension_status = s;
        r->has_extension_status = true;
        return 0;
}

void ext_handler_result_to_report(const ExtHandlerResult *r, HandlerStatusReport *ret) {
        *ret = (HandlerStatusReport){
                .name = r->name,
                .version = r->version,
                .status = r->status ?: "NotReady",
                .code = r->code,
                .message = r->message,
                .extension_status = r->has_extension_status ? &r->extension_status : NULL,
                .sequence_number = r->seq_no,
                .extension_name = r->extension,
        };
}

int ext_rm_rf_at(int dir_fd, const char *name) {
        _cleanup_close_ int fd = -EBADF;
        DIR *d;
        int r = 0;

        if (unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF; /* owned by d now */
        for (struct dirent *de; (de = readdir(d));) {
                int k;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                k = ext_rm_rf_at(dirfd(d), de->d_name);
                if (k < 0 && r == 0)
                        r = k;
        }
        closedir(d);
        if (unlinkat(dir_fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
                r = -errno;
        return r;
}

int ext_copy_file_at(int src_dir_fd, const char *src, int dst_dir_fd, const char *dst) {
        _cleanup_close_ int in = -EBADF, out = -EBADF;
        _cleanup_free_ char *buf = NULL, *tmp = NULL;
        struct stat st;
        size_t size;
        int r;

        in = openat(src_dir_fd, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0)
                return -errno;
        if (fstat(in, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        r = read_full_fd(in, EXT_STATUS_PARSE_MAX, &buf, &size);
        if (r < 0)
                return r;
        if (asprintf(&tmp, ".%s.tmp", dst) < 0)
                return -ENOMEM;
        out = openat(dst_dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                     st.st_mode & 07777);
        if (out < 0)
                return -errno;
        if (fchmod(out, st.st_mode & 07777) < 0 || (size > 0 && write(out, buf, size) != (ssize_t) size) ||
            fsync(out) < 0 || renameat(dst_dir_fd, tmp, dst_dir_fd, dst) < 0) {
                r = negative_errno();
                (void) unlinkat(dst_dir_fd, tmp, 0);
                return r;
        }
        return 0;
}
