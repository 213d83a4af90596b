/* SPDX-License-Identifier: MIT */
/*
 * Waiting for the network to reach an endpoint before asking it (issue #21). azl-provision.service starts once the
 * system is up, not after network-online.target: the media step needs no network and runs while the DHCP client
 * is still at work; the first request (IMDS) waits here for a route instead of failing with ENETUNREACH and
 * waiting out a retry backoff (1, 2, 4 s …).
 *
 * A route exists when connect(2) of a UDP socket to the address succeeds: the kernel's routing decision, and no
 * packet is sent. The wait re-checks on every rtnetlink route, address and link change (RTMGRP_*), and every
 * 250 ms in case a notification was missed.
 */
#pragma once

#include <netinet/in.h>

#include "strutil.h"

/* The IPv4 literal host of an http(s) URL ("http://169.254.169.254", "http://127.0.0.1:8080/x"); -EINVAL for a
 * name or anything else (then there is nothing to wait for). */
int url_ipv4_host(const char *url, struct in_addr *ret);

/* Waits until the kernel has a route to address, at most timeout: 0 (ret_waited: how long), -ETIMEDOUT. */
int route_wait(struct in_addr address, usec_t timeout, usec_t *ret_waited);
