#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make-scratch-root.sh DIR: a minimal system tree for provisioning tests and the demo — the account
# databases (copied from the host), /etc/skel, sudoers.d, sshd drop-in dir, an empty /home, the agent's
# directories, empty /dev and /proc as in an image (a tool run there gets them mounted privately), and the
# tools provisioning runs, with their libraries (install-root-tools.sh: on an alternate root the agent runs
# the root's own tools chrooted into it, never the host's). Nothing of the host is touched.
set -euo pipefail
root=${1:?usage: make-scratch-root.sh DIR}
mkdir -p "$root"/{etc/skel,etc/sudoers.d,etc/ssh/sshd_config.d,home,var/lib/azl-agent,var/lib/hyperv,run,tmp,dev,proc}
for f in passwd group shadow gshadow login.defs; do
        [ -e "/etc/$f" ] && cp -p "/etc/$f" "$root/etc/$f"
done
[ -e /etc/skel/.bashrc ] && cp -p /etc/skel/.bashrc "$root/etc/skel/"
printf '#includedir /etc/sudoers.d\n' > "$root/etc/sudoers"
chmod 0440 "$root/etc/sudoers"
printf 'Include /etc/ssh/sshd_config.d/*.conf\n' > "$root/etc/ssh/sshd_config"
printf 'scratch\n' > "$root/etc/hostname"
chmod 1777 "$root/tmp"
bash "$(dirname "$0")/install-root-tools.sh" "$root"
