#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds (once) the Debian bookworm VM images of the VM test rig and caches them OUTSIDE the repository:
#
#   $AZL_VM_CACHE (default /var/cache/azl-agent-vm)/<hash of the rig inputs>/
#       rootfs/                 debootstrap tree (shared by the flavours)
#       <flavour>/base.qcow2    GPT disk 4 GiB, one 1.5 GiB ext4 partition LABEL=rootfs (growpart has work)
#       <flavour>/vmlinuz, initrd.img   direct kernel boot (no bootloader)
#       <flavour>/packages.txt  dpkg-query -W of the image
#       rig_root_ed25519[.pub]  rig-only diagnostics key for root (not the scenario's key)
#
# Flavours: base     no provisioning agent; the agent under test is unpacked into it per run (tests/vm/boot.sh)
#           cloudinit  Debian's cloud-init (Azure datasource)
#           waagent    Debian's waagent, self-provisioning (Provisioning.Agent=waagent)
#
#   tests/vm/build-image.sh [flavour...]      (default: all three)
#
# NEEDS THE DEBIAN MIRROR: this is the only step of the VM rig that uses the network. CI runs it before the test
# suite enters its private network namespace; the boot tests themselves need no network and exit 77 when the
# image is missing. Nothing here starts a guest or talks to any Azure address.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

FLAVOURS=("$@")
[ ${#FLAVOURS[@]} -gt 0 ] || FLAVOURS=(base cloudinit waagent)
MIRROR=${AZL_VM_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
ROOT_SIZE=1536M
DISK_SIZE=4G

[ "$(id -u)" = 0 ] || { echo "build-image: needs root (debootstrap, chroot)" >&2; exit 1; }
need=()
for c in debootstrap qemu-img sgdisk mkfs.ext4 ssh-keygen; do command -v "$c" >/dev/null || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
        echo "build-image: installing tools for: ${need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                debootstrap qemu-system-x86 qemu-utils gdisk e2fsprogs openssh-client socat genisoimage >/dev/null
fi

mkdir -p "$VM_CACHE"
exec 9>"$VM_CACHE/.lock"
flock 9
echo "build-image: cache $VM_CACHE"
T0=$SECONDS

MOUNTS=()
cleanup() {
        local i
        for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
        MOUNTS=()
}
trap cleanup EXIT

chroot_mounts() {
        local r=$1
        mount -t proc proc "$r/proc" && MOUNTS+=("$r/proc")
        mount -t sysfs sysfs "$r/sys" && MOUNTS+=("$r/sys")
        mount --bind /dev "$r/dev" && MOUNTS+=("$r/dev")
        mount --bind /dev/pts "$r/dev/pts" && MOUNTS+=("$r/dev/pts")
}

# ---------------------------------------------------------------- the shared root filesystem
ROOTFS=$VM_CACHE/rootfs
if [ ! -e "$ROOTFS/.done" ]; then
        rm -rf "$ROOTFS"
        t=$SECONDS
        mkdir -p "$VM_CACHE_ROOT/aptcache"
        # Runtime libraries of azl-agent are in the base, so only the agent itself is added per run.
        debootstrap --variant=minbase --cache-dir="$VM_CACHE_ROOT/aptcache" \
                --include=systemd,systemd-sysv,udev,dbus,iproute2,openssh-server,sudo,curl,ca-certificates,\
linux-image-amd64,initramfs-tools,cloud-guest-utils,e2fsprogs,fdisk,gdisk,parted,util-linux,procps,kmod,netbase,\
less,eject,openssl,libcurl4,libjson-c5,libxml2,libnl-3-200,libnl-route-3-200,libarchive13,libssl3,libfdisk1,\
libudev1,libcrypt1,libnftables1,libcryptsetup12,libyaml-0-2,passwd,python3 \
                "$SUITE" "$ROOTFS" "$MIRROR" 2>&1 | tail -3 || true
        [ -x "$ROOTFS/usr/bin/systemctl" ] || { echo "build-image: debootstrap failed" >&2; exit 1; }

        : > "$ROOTFS/etc/resolv.conf"            # debootstrap copied the host's; the guest has no DNS
        echo rigvm > "$ROOTFS/etc/hostname"
        printf '127.0.0.1 localhost\n::1 localhost\n' > "$ROOTFS/etc/hosts"
        chroot "$ROOTFS" passwd -dq root >/dev/null 2>&1 || chroot "$ROOTFS" passwd -d root
        echo 'LABEL=rootfs / ext4 defaults,discard 0 1' > "$ROOTFS/etc/fstab"
        : > "$ROOTFS/etc/machine-id"             # "uninitialized": every overlay boots as a first boot
        rm -f "$ROOTFS/var/lib/dbus/machine-id"

        install -m 0644 "$HERE/guest/20-rig.network" "$ROOTFS/etc/systemd/network/20-rig.network"
        install -m 0644 "$HERE/guest/rig-clock.service" "$ROOTFS/etc/systemd/system/rig-clock.service"
        install -D -m 0755 "$HERE/guest/rig-meter.sh" "$ROOTFS/usr/local/sbin/rig-meter"
        install -D -m 0755 "$HERE/guest/rig-inject-hook" "$ROOTFS/etc/initramfs-tools/hooks/rig-inject"
        install -D -m 0755 "$HERE/guest/rig-inject-init-bottom" "$ROOTFS/etc/initramfs-tools/scripts/init-bottom/rig-inject"
        mkdir -p "$ROOTFS/etc/systemd/journald.conf.d"
        printf '[Journal]\nStorage=volatile\n' > "$ROOTFS/etc/systemd/journald.conf.d/rig.conf"
        # Unit accounting for the measurements (cgroup v2: cpu.stat, memory.peak).
        mkdir -p "$ROOTFS/etc/systemd/system.conf.d"
        printf '[Manager]\nDefaultCPUAccounting=yes\nDefaultMemoryAccounting=yes\n' \
                > "$ROOTFS/etc/systemd/system.conf.d/rig.conf"

        # rig-only root access for diagnostics, kept out of root's authorized_keys (cloud-init rewrites that).
        rm -f "$VM_CACHE/rig_root_ed25519" "$VM_CACHE/rig_root_ed25519.pub"
        ssh-keygen -q -t ed25519 -N '' -C rig-diagnostics -f "$VM_CACHE/rig_root_ed25519"
        install -m 0644 "$VM_CACHE/rig_root_ed25519.pub" "$ROOTFS/etc/ssh/rig_root_authorized_keys"
        printf '\n# test rig (tests/vm): diagnostics key for root\nMatch User root\n\tAuthorizedKeysFile /etc/ssh/rig_root_authorized_keys\n' \
                >> "$ROOTFS/etc/ssh/sshd_config"
        # No SSH host keys in the image (each VM makes its own, see guest/rig-ssh-hostkeys.service).
        rm -f "$ROOTFS"/etc/ssh/ssh_host_*
        install -m 0644 "$HERE/guest/rig-ssh-hostkeys.service" "$ROOTFS/etc/systemd/system/rig-ssh-hostkeys.service"

        printf 'MODULES=list\n' > "$ROOTFS/etc/initramfs-tools/conf.d/rig.conf"
        printf '%s\n' virtio_pci virtio_blk virtio_net virtio_scsi ext4 sr_mod isofs ahci >> "$ROOTFS/etc/initramfs-tools/modules"

        chroot_mounts "$ROOTFS"
        chroot "$ROOTFS" update-initramfs -u -k all >/dev/null
        chroot "$ROOTFS" systemctl enable systemd-networkd rig-clock.service rig-ssh-hostkeys.service >/dev/null 2>&1
        chroot "$ROOTFS" systemctl mask e2scrub_reap.service e2scrub_all.timer apt-daily.timer \
                apt-daily-upgrade.timer fstrim.timer man-db.timer >/dev/null 2>&1 || true
        cleanup
        touch "$ROOTFS/.done"
        echo "build-image: rootfs in $((SECONDS - t)) s"
fi

# ---------------------------------------------------------------- flavours
variant_tree() {        # flavour → TREE = a copy of rootfs with the flavour's packages and configuration
        local f=$1 r=$VM_CACHE/rootfs-$1
        TREE=$ROOTFS
        [ "$f" != base ] || return 0
        TREE=$r
        if [ ! -e "$r/.done" ]; then
                rm -rf "$r"
                cp -a "$ROOTFS" "$r"
                rm -f "$r/.done"
                chroot_mounts "$r"
                cp /etc/resolv.conf "$r/etc/resolv.conf"
                printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"; chmod +x "$r/usr/sbin/policy-rc.d"
                chroot "$r" apt-get update -qq
                case $f in
                cloudinit)
                        chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                                --no-install-recommends cloud-init locales isc-dhcp-client >/dev/null
                        # cloud-config's locale module runs update-locale en_US.UTF-8
                        sed -i 's/^# *en_US.UTF-8/en_US.UTF-8/' "$r/etc/locale.gen"
                        chroot "$r" locale-gen >/dev/null
                        meter_units=(cloud-init-local.service cloud-init.service cloud-config.service cloud-final.service)
                        ;;
                waagent)
                        chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                                --no-install-recommends waagent >/dev/null
                        sed -i -e 's/^Provisioning.Agent=.*/Provisioning.Agent=waagent/' "$r/etc/waagent.conf"
                        grep -q '^Provisioning.Agent=waagent' "$r/etc/waagent.conf" ||
                                echo 'Provisioning.Agent=waagent' >> "$r/etc/waagent.conf"
                        meter_units=()
                        ;;
                *) echo "build-image: unknown flavour $f" >&2; exit 2 ;;
                esac
                for u in "${meter_units[@]}"; do
                        mkdir -p "$r/etc/systemd/system/$u.d"
                        printf '[Service]\nExecStartPost=-/usr/local/sbin/rig-meter %s\n' "$u" > "$r/etc/systemd/system/$u.d/rig-meter.conf"
                done
                chroot "$r" apt-get clean
                rm -rf "$r"/var/lib/apt/lists/*
                rm -f "$r/usr/sbin/policy-rc.d"
                : > "$r/etc/resolv.conf"
                : > "$r/etc/machine-id"
                cleanup
                touch "$r/.done"
        fi
}

for f in "${FLAVOURS[@]}"; do
        out=$VM_CACHE/$f
        if [ -e "$out/.done" ]; then echo "build-image: $f cached ($out)"; continue; fi
        t=$SECONDS
        variant_tree "$f"
        tree=$TREE
        rm -rf "$out"; mkdir -p "$out"
        chroot "$tree" dpkg-query -W > "$out/packages.txt"
        cp "$tree"/boot/vmlinuz-* "$out/vmlinuz"
        cp "$tree"/boot/initrd.img-* "$out/initrd.img"
        mkfs.ext4 -q -F -L rootfs -E root_owner=0:0 -d "$tree" "$out/root.ext4" "$ROOT_SIZE"
        rm -f "$out/disk.raw"; truncate -s "$DISK_SIZE" "$out/disk.raw"
        sgdisk -o -n 1:2048:+"$ROOT_SIZE" -t 1:8300 -c 1:rootfs "$out/disk.raw" >/dev/null   # not -q: it writes nothing
        dd if="$out/root.ext4" of="$out/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
        qemu-img convert -O qcow2 "$out/disk.raw" "$out/base.qcow2"
        rm -f "$out/disk.raw" "$out/root.ext4"
        touch "$out/.done"
        echo "build-image: $f image in $((SECONDS - t)) s: $(grep -E '^(linux-image-[0-9][^[:space:]]*|systemd|cloud-init|waagent)[[:space:]]' "$out/packages.txt" | tr '\t\n' ' ')"
done
ln -sfn "$VM_CACHE" "$VM_CACHE_ROOT/current"
echo "build-image: done in $((SECONDS - T0)) s ($VM_CACHE)"
