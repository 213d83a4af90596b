/* SPDX-License-Identifier: MIT */
/*
 * `azl-agent userdata validate FILE|-`   check user data as cloud-init's `cloud-init schema --config-file`:
 *                                        formats, YAML, merging, the schema of the modules azl-agent implements;
 *                                        problems with part, line and key path; exit 1 when there are any.
 *                                        Keys of modules azl-agent does not implement are listed (not errors).
 * `azl-agent userdata show [--json] [--part NAME]`
 *                                        this instance's user data as it was received and split: source, parts,
 *                                        the merged cloud-config's keys, problems; with --part, that part's
 *                                        decoded bytes. Root only: the user data may hold secrets.
 * `azl-agent userdata run`               the after-Ready phase (azl-userdata.service): packages, deferred files,
 *                                        scripts, runcmd, final_message, power_state. Exit 0 when all went well,
 *                                        2 when something failed (degraded; the unit counts 2 as success).
 *
 * validate never fetches #include URLs (it runs anywhere, on anyone's file); show reads the copies the
 * provisioning run kept.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "agent.h"
#include "fileio.h"
#include "json-util.h"
#include "log.h"
#include "macro.h"
#include "provision-state.h"
#include "userdata-status.h"
#include "userdata.h"

static int read_input(const char *path, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (streq(path, "-"))
                return read_full_fd(STDIN_FILENO, USERDATA_MAX, ret, ret_size);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_full_fd(fd, USERDATA_MAX, ret, ret_size);
        return r;
}

static const char *part_name(const UserDataDoc *doc, unsigned part) {
        return part < doc->parts.n_parts ? doc->parts.parts[part].filename : "user-data";
}

static void print_problems(const UserDataDoc *doc, const char *file) {
        for (size_t i = 0; i < doc->config.n_problems; i++) {
                const UdProblem *p = &doc->config.problems[i];

                if (doc->parts.n_parts > 1 || doc->parts.mime)
                        printf("%s: %s:%u: %s%s%s\n", file, part_name(doc, p->part), p->line, p->path,
                               isempty(p->path) ? "" : ": ", p->message);
                else
                        printf("%s:%u: %s%s%s\n", file, p->line, p->path, isempty(p->path) ? "" : ": ",
                               p->message);
        }
}

static int verb_validate(int argc, char **argv) {
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r;

        if (argc != 2)
                return log_error_errno(EINVAL, "Usage: azl-agent userdata validate FILE|-");
        r = read_input(argv[1], &buf, &size);
        if (r == -E2BIG)
                return log_error_errno(r,
                                       "%s is larger than %u bytes, the most user data azl-agent accepts.",
                                       argv[1], USERDATA_MAX);
        if (r < 0)
                return log_error_errno(r, "Failed to read %s: %m", argv[1]);
        r = user_data_doc_parse(buf, size, NULL, NULL, &doc);
        explicit_bzero(buf, size);
        if (r < 0)
                return log_error_errno(r, "Failed to parse %s: %m", argv[1]);
        if (doc.parts.ignition) {
                printf("%s: an Ignition config; azl-agent leaves it to Ignition.\n", argv[1]);
                return 0;
        }
        for (size_t i = 0; i < doc.parts.n_parts; i++)
                if (!user_data_part_type_supported(doc.parts.parts[i].type))
                        printf("%s: part %s (%s) is not supported by azl-agent\n", argv[1],
                               doc.parts.parts[i].filename, doc.parts.parts[i].content_type);
        for (char **u = doc.config.unsupported; u && *u; u++)
                if (!startswith(*u, "part "))
                        printf("%s: key '%s' is not supported by azl-agent (ignored)\n", argv[1], *u);
        if (doc.config.n_problems > 0) {
                printf("Invalid user-data %s\n", argv[1]);
                print_problems(&doc, argv[1]);
                printf("Error: Cloud config schema errors: ");
                for (size_t i = 0; i < doc.config.n_problems; i++)
                        printf("%s%s%s%s", i ? ", " : "", doc.config.problems[i].path,
                               isempty(doc.config.problems[i].path) ? "" : ": ",
                               doc.config.problems[i].message);
                printf("\n");
                return EXIT_FAILURE;
        }
        if (doc.parts.n_parts == 0) {
                printf("%s: no user data.\n", argv[1]);
                return 0;
        }
        printf("Valid schema %s\n", argv[1]);
        return 0;
}

static int show_json(const UserDataDoc *doc, const char *source) {
        _cleanup_json_ struct json_object *o = json_object_new_object(), *parts = json_object_new_array(),
                                          *keys = json_object_new_array(), *uns = json_object_new_array(),
                                          *probs = json_object_new_array();

        if (!o || !parts || !keys || !uns || !probs)
                return log_oom();
        json_object_object_add(o, "source", json_object_new_string(source));
        json_object_object_add(o, "gzip", json_object_new_boolean(doc->parts.gzip));
        json_object_object_add(o, "mime", json_object_new_boolean(doc->parts.mime));
        json_object_object_add(o, "ignition", json_object_new_boolean(doc->parts.ignition));
        for (size_t i = 0; i < doc->parts.n_parts; i++) {
                const UserDataPart *p = &doc->parts.parts[i];
                struct json_object *j = json_object_new_object();

                if (!j)
                        return log_oom();
                json_object_object_add(j, "name", json_object_new_string(p->filename));
                json_object_object_add(j, "content_type", json_object_new_string(p->content_type));
                json_object_object_add(j, "type",
                                       json_object_new_string(user_data_part_type_to_string(p->type)));
                json_object_object_add(j, "supported",
                                       json_object_new_boolean(user_data_part_type_supported(p->type)));
                json_object_object_add(j, "size", json_object_new_int64((int64_t) p->size));
                json_object_array_add(parts, j);
        }
        for (char **k = doc->config.keys; k && *k; k++)
                json_object_array_add(keys, json_object_new_string(*k));
        for (char **k = doc->config.unsupported; k && *k; k++)
                json_object_array_add(uns, json_object_new_string(*k));
        for (size_t i = 0; i < doc->config.n_problems; i++) {
                const UdProblem *p = &doc->config.problems[i];
                struct json_object *j = json_object_new_object();

                if (!j)
                        return log_oom();
                json_object_object_add(j, "path", json_object_new_string(p->path));
                json_object_object_add(j, "part", json_object_new_string(part_name(doc, p->part)));
                json_object_object_add(j, "line", json_object_new_int((int) p->line));
                json_object_object_add(j, "message", json_object_new_string(p->message));
                json_object_array_add(probs, j);
        }
        json_object_object_add(o, "parts", TAKE_PTR(parts));
        json_object_object_add(o, "cloud_config_keys", TAKE_PTR(keys));
        json_object_object_add(o, "unsupported", TAKE_PTR(uns));
        json_object_object_add(o, "problems", TAKE_PTR(probs));
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

static int include_from_cache(const char *url, bool once, void *userdata, char **ret, size_t *ret_size) {
        /* show never fetches: the provisioning run's copies only (a miss is reported as a problem) */
        return -ENOENT;
}

static int verb_show(Context *c, int argc, char **argv) {
        static const struct option options[] = {{"json", no_argument, NULL, 'j'},
                                                {"part", required_argument, NULL, 'p'},
                                                {"help", no_argument, NULL, 'h'},
                                                {}};
        _cleanup_(user_data_doc_done) UserDataDoc doc = {};
        _cleanup_free_ char *buf = NULL, *source = NULL;
        const char *part = NULL;
        bool json = false;
        size_t size;
        int opt, r;

        optind = 0;
        while ((opt = getopt_long(argc, argv, "jp:h", options, NULL)) >= 0)
                switch (opt) {
                case 'j':
                        json = true;
                        break;
                case 'p':
                        part = optarg;
                        break;
                case 'h':
                        printf("azl-agent userdata show [--json] [--part NAME]\n");
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc)
                return log_error_errno(EINVAL, "Unexpected argument '%s'.", argv[optind]);
        if (geteuid() != 0)
                return log_error_errno(EPERM, "Only root may read the user data (it may hold secrets).");
        r = userdata_load_saved(c, &buf, &size, &source);
        if (r == -ENOENT) {
                printf("No user data (nothing in %s/" USERDATA_DIR ").\n", c->config.state_dir);
                return 0;
        }
        if (r < 0)
                return log_error_errno(r, "Failed to read the saved user data: %m");
        r = user_data_doc_parse(buf, size, include_from_cache, NULL, &doc);
        explicit_bzero(buf, size);
        if (r < 0)
                return log_error_errno(r, "Failed to parse the saved user data: %m");
        if (part) {
                for (size_t i = 0; i < doc.parts.n_parts; i++)
                        if (streq(doc.parts.parts[i].filename, part)) {
                                fwrite(doc.parts.parts[i].data, 1, doc.parts.parts[i].size, stdout);
                                return 0;
                        }
                return log_error_errno(ENOENT, "No part named '%s'.", part);
        }
        if (json)
                return show_json(&doc, source);
        printf("%-12s %s, %zu bytes%s%s%s\n", "source:", source, size, doc.parts.gzip ? ", gzip" : "",
               doc.parts.mime ? ", MIME multipart" : "", doc.parts.ignition ? ", Ignition config" : "");
        if (doc.parts.n_parts > 0)
                printf("parts:\n");
        for (size_t i = 0; i < doc.parts.n_parts; i++) {
                const UserDataPart *p = &doc.parts.parts[i];

                printf("  %-20s %-28s %8zu bytes%s\n", p->filename, p->content_type, p->size,
                       user_data_part_type_supported(p->type) ? "" : "  (not supported)");
        }
        if (doc.config.keys) {
                printf("cloud-config keys:");
                for (char **k = doc.config.keys; *k; k++)
                        printf(" %s%s", *k,
                               strv_contains(doc.config.unsupported, *k) ? " (not supported)" : "");
                printf("\n");
        }
        if (doc.config.n_problems > 0) {
                printf("problems:\n");
                for (size_t i = 0; i < doc.config.n_problems; i++) {
                        const UdProblem *p = &doc.config.problems[i];

                        printf("  %s:%u: %s%s%s\n", part_name(&doc, p->part), p->line, p->path,
                               isempty(p->path) ? "" : ": ", p->message);
                }
        }
        return 0;
}

static int verb_run(Context *c, int argc, char **argv) {
        _cleanup_free_ char *vm_id = NULL;
        int r;

        if (argc != 1)
                return log_error_errno(EINVAL, "Usage: azl-agent userdata run");
        r = provisioned_marker_read(c, &vm_id);
        if (r < 0)
                return log_error_errno(r, "Failed to read the provisioned marker: %m");
        if (r == 0) {
                log_info("This VM is not provisioned by azl-agent: no user data to run.");
                return EXIT_NOT_APPLICABLE;
        }
        r = userdata_final(c, vm_id);
        if (r < 0)
                return log_error_errno(r, "User data after Ready failed: %m");
        if (r > 0) {
                log_warning("User data: something failed; see 'azl-agent status' and " USERDATA_LOG_FILE
                            ".");
                return EXIT_DEGRADED;
        }
        return 0;
}

int verb_userdata(Context *c, int argc, char **argv) {
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h")) {
                printf("azl-agent userdata validate FILE|-\n"
                       "azl-agent userdata show [--json] [--part NAME]\n"
                       "azl-agent userdata run\n");
                return argc < 2 ? EXIT_FAILURE : 0;
        }
        if (streq(argv[1], "validate"))
                return verb_validate(argc - 1, argv + 1);
        if (streq(argv[1], "show"))
                return verb_show(c, argc - 1, argv + 1);
        if (streq(argv[1], "run"))
                return verb_run(c, argc - 1, argv + 1);
        return log_error_errno(EINVAL, "Unknown userdata command '%s' (validate, show, run).", argv[1]);
}
