/* SPDX-License-Identifier: MIT */
/*
 * The merged cloud-config (a YNode map) → a typed UserDataConfig, checked against cloud-init's schema for the
 * modules azl-agent implements (cloudinit/config/schemas/schema-cloud-config-v1.json: key names, types,
 * defaults). Problems are collected, not fatal: each names the key path as cloud-init's schema validation does
 * ("users.0.sudo", "write_files.1.permissions") with the part and line it came from, in jsonschema's words
 * ("'abc' is not of type 'array'"); the offending value is left out and the rest is used. Top-level keys of
 * modules azl-agent does not implement are listed in UserDataConfig.unsupported — reported, never silently
 * dropped.
 *
 * Values are read as cloud-init reads them: runcmd/bootcmd through shellify() (a string is a shell line, a list
 * is quoted word by word), write_files content decoded per `encoding` (b64, gzip, gz+b64, text/plain),
 * `permissions` as an integer or an octal string (decode_perms), booleans from YAML booleans or the strings
 * true/yes/on/1 (get_cfg_option_bool), users normalized as ug_util.normalize_users_groups() (a comma-separated
 * string, a list of names and maps, or the deprecated map form; later entries for the same name fill in what
 * earlier ones left unset). Pure.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "yaml-node.h"

#define USERDATA_USERS_MAX    256U
#define USERDATA_FILES_MAX    256U
#define USERDATA_PROBLEMS_MAX 256U

typedef struct UdProblem {
        char *path;          /* "users.0.sudo"; "" for the document itself */
        unsigned part, line; /* part index and 1-based line; line 0 when unknown */
        char *message;
} UdProblem;

typedef struct UdUser {
        char *name;      /* NULL for the "default" entry (the VM's administrator) */
        bool is_default; /* "default" was listed */
        char *gecos, *homedir, *primary_group, *shell, *expiredate, *selinux_user, *inactive;
        char *passwd;            /* a hash (useradd --password); secret */
        char *hashed_passwd;     /* secret */
        char *plain_text_passwd; /* secret */
        bool passwd_set, hashed_passwd_set, plain_text_passwd_set;
        char **groups;
        char **sudo;      /* rules; NULL: none */
        bool lock_passwd; /* default true */
        bool system, no_create_home, no_user_group, no_log_init, create_groups;
        bool uid_set;
        uint32_t uid;
        char **ssh_authorized_keys;
        unsigned part, line;
        bool configured; /* a map entry was applied (normalization) */
} UdUser;

typedef struct UdGroup {
        char *name;
        char **members;
} UdGroup;

typedef struct UdWriteFile {
        char *path;    /* absolute, normalized */
        char *content; /* decoded bytes (NUL-terminated; may hold NULs: see size) */
        size_t size;
        char *owner; /* "user[:group]"; default root:root */
        mode_t mode; /* default 0644 */
        bool append, defer;
        char *source_uri;      /* source.uri: fetched, content is the fallback */
        char **source_headers; /* "Name: value" */
        unsigned part, line;
} UdWriteFile;

typedef enum UdHostsMode {
        UD_HOSTS_UNSET,
        UD_HOSTS_FALSE,
        UD_HOSTS_TEMPLATE,  /* true / "template" */
        UD_HOSTS_LOCALHOST, /* "localhost" */
} UdHostsMode;

typedef enum UdPwauth {
        UD_PWAUTH_UNSET,
        UD_PWAUTH_NO,
        UD_PWAUTH_YES,
        UD_PWAUTH_UNCHANGED,
} UdPwauth;

typedef struct UdKeyValue {
        char *key;
        char *value; /* secret for ssh_keys private keys */
} UdKeyValue;

typedef struct UdRepo {
        char *id;            /* the section name: the yum_repos key, spaces → '_' */
        UdKeyValue *options; /* rendered values (booleans → 1/0, lists joined) */
        size_t n_options;
} UdRepo;

typedef struct UdMount {
        char *fields[6]; /* fs_spec, fs_file, vfstype, mntops, freq, passno; NULL = default */
        size_t n_fields;
} UdMount;

typedef struct UdPowerState {
        bool set;
        char *mode;  /* poweroff, reboot, halt */
        char *delay; /* "now" or "+N" (minutes) */
        char *message;
        bool condition; /* a condition given (only true/false are supported) */
        bool condition_value;
        uint64_t timeout;
} UdPowerState;

typedef struct UserDataConfig {
        /* accounts */
        UdUser *users;
        size_t n_users;
        bool users_set; /* `users` given: without "default" cloud-init would not create the admin */
        UdGroup *groups;
        size_t n_groups;
        char **ssh_authorized_keys;
        /* ssh */
        UdPwauth ssh_pwauth;
        bool disable_root; /* default true */
        char *disable_root_opts;
        bool ssh_deletekeys; /* default true */
        bool ssh_deletekeys_set;
        char **ssh_genkeytypes; /* NULL: rsa, ecdsa, ed25519 */
        bool ssh_genkeytypes_set;
        UdKeyValue *ssh_keys; /* "rsa_private" → PEM, … */
        size_t n_ssh_keys;
        /* identity */
        char *hostname, *fqdn;
        int prefer_fqdn_over_hostname; /* -1 unset */
        bool preserve_hostname;
        UdHostsMode manage_etc_hosts;
        char *timezone;
        /* files and commands */
        UdWriteFile *write_files;
        size_t n_write_files;
        char *bootcmd; /* shellified: "#!/bin/sh\n…" */
        char *runcmd;
        /* packages */
        char **packages; /* "name" or "name-version" */
        bool package_update, package_upgrade, package_reboot_if_required;
        UdRepo *yum_repos;
        size_t n_yum_repos;
        char *yum_repo_dir;
        /* certificates */
        char **ca_certs_trusted;
        bool ca_certs_remove_defaults;
        /* storage */
        UdMount *mounts;
        size_t n_mounts;
        bool mounts_set;
        char *mount_default_fields[6];
        char *swap_filename;
        uint64_t swap_size; /* bytes; 0 = none */
        bool swap_size_auto;
        /* the end */
        char *final_message;
        UdPowerState power_state;

        char **keys;        /* top-level keys seen (sorted, for `show`) */
        char **unsupported; /* top-level keys of modules azl-agent does not implement (sorted) */
        UdProblem *problems;
        size_t n_problems;
} UserDataConfig;

void user_data_config_done(UserDataConfig *c);

/* Converts the merged cloud-config. Always fills *ret (problems inside); -ENOMEM only. root may be NULL. */
int user_data_config_parse(const YNode *root, UserDataConfig *ret);

/* Adds a problem (for the layers above: parse errors of a part, merge errors). */
int user_data_config_add_problem(UserDataConfig *c, const char *path, unsigned part, unsigned line,
                                 const char *fmt, ...) __attribute__((__format__(printf, 5, 6)));

/* cloud-init's util.shellify(): "#!/bin/sh\n" and one line per entry. -EINVAL with *ret_error for a wrong type. */
int user_data_shellify(const YNode *list, char **ret, char **ret_error);

/* decode_perms(): an integer as is, anything else as an octal string; -EINVAL when undecodable. */
int user_data_decode_perms(const YNode *v, mode_t *ret);

/* get_cfg_option_bool(): a YAML boolean, or a string/number among true/1/on/yes (case-insensitive). */
bool user_data_is_true(const YNode *v);
