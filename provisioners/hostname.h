/* SPDX-License-Identifier: MIT */
/*
 * Hostname validation (RFC 1123 §2.1, RFC 952): labels of 1–63 characters [A-Za-z0-9-], not starting or
 * ending with '-', separated by single dots, 253 characters at most.
 *
 * An FQDN is accepted; its first label becomes the static hostname. This is what cloud-init does by
 * default (the distro's set_hostname() gets the short name unless prefer_fqdn_over_hostname), and it keeps
 * /etc/hostname within HOST_NAME_MAX (64) whatever the domain part.
 */
#pragma once

#include <stdbool.h>

bool hostname_is_valid_rfc1123(const char *s);

/* Validates s and returns its first label. -EINVAL when s is not a valid hostname. */
int hostname_static_name(const char *s, char **ret);
