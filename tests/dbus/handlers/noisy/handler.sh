#!/bin/sh
# SPDX-License-Identifier: MIT
# Test extension "noisy" (tests/dbus/test_dbus.py): enable fails (exit 7) after printing what an extension may
# print: on stdout "x" and 2048 "é" (4097 bytes: the agent reads the first 3200, which end inside an "é"), on
# stderr invalid UTF-8 (\377\376) and a stand-in for a secret, 23 bytes, so that the stdout tail the agent keeps
# (3180 bytes less the stderr, ext_format_output()) would start inside an "é" too.
# Every other operation succeeds silently.
[ "$1" = enable ] || exit 0
s='é'
i=0
while [ $i -lt 11 ]; do
        s="$s$s"
        i=$((i + 1))
done
printf 'x%s' "$s"
printf '\377\376 secret-output-4f1c9\n' >&2
exit 7
