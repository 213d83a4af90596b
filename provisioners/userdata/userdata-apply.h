/* SPDX-License-Identifier: MIT */
/*
 * The cloud-config modules, one function each, with cloud-init's behaviour (cc_write_files, cc_users_groups,
 * cc_ssh, cc_set_hostname, cc_update_etc_hosts, cc_timezone, cc_ca_certs, cc_yum_add_repo, cc_mounts). Every
 * file access goes through the root fd; accounts through the shadow tools (user.h run_shadow_tool(), so a
 * scratch root gets --prefix); passwords are hashed and set through chpasswd -e on its stdin, never on a command
 * line. Each returns <0 when the module failed as a whole, else the number of changes; *ret_summary says what
 * was done without quoting the user data (counts, entry indexes, reasons). One bad entry is reported in the
 * summary and skipped.
 */
#pragma once

#include "context.h"
#include "provisioner.h"
#include "userdata-config.h"
#include "userdata-exec.h"

#define UD_SUDOERS_FILE "/etc/sudoers.d/90-cloud-init-users"

typedef enum UdOsFamily {
        UD_OS_REDHAT, /* Azure Linux, Mariner, Fedora, RHEL and the default */
        UD_OS_DEBIAN, /* Debian, Ubuntu */
} UdOsFamily;

UdOsFamily userdata_os_family(int root_fd);

/* hostname and fqdn as cloud-init's util.get_hostname_fqdn() works them out; the fallback is the VM's name. */
int userdata_hostname_fqdn(const UserDataConfig *cfg, const char *fallback, char **ret_hostname,
                           char **ret_fqdn);

/* What the provisioners apply: hostname, PasswordAuthentication, the administrator's keys and groups, whether
 * the SSH host keys are cloud-config's business. Always called (idempotent); returns the problems found. */
int userdata_adjust_provision_data(Context *c, const UserDataConfig *cfg, ProvisionData *d,
                                   char **ret_summary);

int userdata_write_files(Context *c, const UserDataConfig *cfg, bool deferred, char **ret_summary);
int userdata_groups(Context *c, const UserDataConfig *cfg, char **ret_summary);
int userdata_users(Context *c, const UserDataConfig *cfg, const char *admin, char **ret_summary);
int userdata_ssh_host_keys(Context *c, const UserDataConfig *cfg, char **ret_summary);
int userdata_root_keys(Context *c, const UserDataConfig *cfg, const ProvisionData *d, char **ret_summary);
int userdata_timezone(Context *c, const UserDataConfig *cfg, char **ret_summary);
int userdata_etc_hosts(Context *c, const UserDataConfig *cfg, const char *fallback_hostname,
                       char **ret_summary);
int userdata_ca_certs(Context *c, const UserDataConfig *cfg, char **ret_summary);
int userdata_yum_repos(Context *c, const UserDataConfig *cfg, char **ret_summary);
int userdata_mounts(Context *c, const UserDataConfig *cfg, char **ret_summary);
