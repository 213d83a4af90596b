#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs everything azl-agent needs to build and to run its whole test suite on Debian 12 (as root).
# The product targets Fedora/Azure Linux; azl-agent.spec lists the same dependencies by pkgconfig() name.
set -euo pipefail

packages=(
        # build
        meson ninja-build pkg-config gcc
        libcurl4-openssl-dev libjson-c-dev libxml2-dev libnl-3-dev libnl-route-3-dev
        libsystemd-dev libudev-dev libssl-dev libarchive-dev libfdisk-dev libcrypt-dev libcmocka-dev
        clang-format
        libyaml-dev libnftables-dev libcryptsetup-dev
        # tests: fabric, media, users, ssh, disks, networking, units, packaging; the man page, unit and
        # completion checks (groff, man/lexgrog, bash-completion's _init_completion)
        python3 openssl genisoimage xorriso iproute2 util-linux fdisk gdisk e2fsprogs xfsprogs btrfs-progs ntfs-3g
        passwd sudo openssh-client dbus systemd udev rpm scdoc tmux groff-base man-db bash-completion
        nftables
        # confidential VMs (issue #22): the vTPM's HCL report from swtpm (NV index written with tpm2-tools)
        swtpm swtpm-tools tpm2-tools libtss2-tcti-swtpm0
        # memcheck of a whole provisioning (suite valgrind); the ASan + UBSan build uses gcc's libasan/libubsan
        valgrind
        # peers, run only inside private network namespaces by the interop tests and benchmarks
        waagent
        # the VM rig (tests/vm): qemu TCG, image build, guestfwd helpers
        qemu-system-x86 qemu-utils debootstrap socat
)

if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: run as root (apt-get install)." >&2
        exit 1
fi
missing=()
for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
        echo "install-deps: all ${#packages[@]} packages present."
        exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# No package may start a service while installing: waagent's init script would otherwise try to reach
# 168.63.129.16 from the host network. policy-rc.d exit 101 = "action forbidden" (invoke-rc.d(8)).
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy"
        chmod 755 "$policy"
        created_policy=1
fi
trap '[ $created_policy = 1 ] && rm -f "$policy"' EXIT
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
