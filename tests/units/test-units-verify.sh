#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# `systemd-analyze verify` on every unit we ship, without systemd as PID 1 (this runs in containers and CI):
# a scratch root gets the host's systemd units, ours (ExecStart pointing at the freshly built binary, copied
# to the path the package installs), Fedora-like sshd/sshd-keygen units and Flatcar's sshd.socket, a Hyper-V
# KVP daemon unit, networkd with wait-online, and a "disable *" preset policy so only our preset file enables
# our units. Then:
#   1. verify each of our unit files: no output at all is allowed (unknown keys, bad values, missing
#      executables, missing man pages all print a line but not all of them change the exit status);
#   2. verify multi-user.target: the whole boot transaction with our units enabled must have no ordering cycle
#      (cycles are only printed, never an error exit);
#   3. a canary unit with a bad key must produce output, so an environment where verify checks nothing fails
#      instead of passing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
need systemd-analyze systemctl

export SYSTEMD_LOG_LEVEL=notice SYSTEMD_LOG_COLOR=0 SYSTEMD_PAGER=cat LC_ALL=C.UTF-8

host_unitdir=
for d in "$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)" /usr/lib/systemd/system /lib/systemd/system; do
        if [[ -n $d && -f $d/basic.target ]]; then
                host_unitdir=$d
                break
        fi
done
[[ -n $host_unitdir ]] || skip "no systemd unit directory with basic.target on this host"

root=$scratch/root
unitdir=$root/usr/lib/systemd/system
mkdir -p "$unitdir" "$root/usr/lib/systemd/system-preset" "$root/etc/systemd/system" "$root/usr/bin" \
        "$root/usr/sbin" "$root/bin"
cp -a "$host_unitdir"/. "$unitdir"/
# Masks (absolute links to /dev/null) and any other absolute link would dangle inside the scratch root.
find "$unitdir" -type l -lname '/*' -delete
# Drop host units that share names with ours (e.g. a waagent package's azure.slice).
rm -f "$unitdir"/azl-*.service "$unitdir"/azure*.slice

# Our units, as installed by the package.
for t in "$AZL_SOURCE_ROOT"/units/*.service.in; do
        n=$(basename "$t" .in)
        render_unit "$t" /usr/bin "$unitdir/$n"
done
cp "$AZL_SOURCE_ROOT"/units/*.slice "$unitdir"/
cp "$AZL_SOURCE_ROOT"/units/90-azl-agent.preset "$root/usr/lib/systemd/system-preset/"
echo 'disable *' >"$root/usr/lib/systemd/system-preset/99-default-disable.preset"
install -m 0755 "$AZL_AGENT" "$root/usr/bin/azl-agent"
install -m 0755 /bin/sh "$root/bin/sh"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/sbin/sshd"
printf '#!/bin/sh\nexit 0\n' >"$root/usr/sbin/hypervkvpd"
chmod 0755 "$root/usr/sbin/sshd" "$root/usr/sbin/hypervkvpd"

# The neighbours we order against, as Fedora / Azure Linux (sshd, sshd-keygen, hypervkvpd) and Flatcar /
# Azure Container Linux (socket-activated sshd) ship them.
cat >"$unitdir/sshd.service" <<'UNIT'
[Unit]
Description=OpenSSH server daemon
After=network.target sshd-keygen.target
Wants=sshd-keygen.target
[Service]
Type=notify
ExecStart=/usr/sbin/sshd -D
[Install]
WantedBy=multi-user.target
UNIT
cat >"$unitdir/sshd-keygen.target" <<'UNIT'
[Unit]
Wants=sshd-keygen@rsa.service sshd-keygen@ecdsa.service sshd-keygen@ed25519.service
PartOf=sshd.service
UNIT
cat >"$unitdir/sshd-keygen@.service" <<'UNIT'
[Unit]
Description=OpenSSH %i Server Key Generation
ConditionFileNotEmpty=|!/etc/ssh/ssh_host_%i_key
[Service]
Type=oneshot
ExecStart=/usr/sbin/sshd -t
UNIT
cat >"$unitdir/sshd.socket" <<'UNIT'
[Unit]
Description=OpenSSH Server Socket
Conflicts=sshd.service
[Socket]
ListenStream=22
Accept=yes
[Install]
WantedBy=sockets.target
UNIT
cat >"$unitdir/sshd@.service" <<'UNIT'
[Unit]
Description=OpenSSH per-connection server daemon
After=sshd-keygen.target
[Service]
ExecStart=-/usr/sbin/sshd -i
StandardInput=socket
UNIT
cat >"$unitdir/hypervkvpd.service" <<'UNIT'
[Unit]
Description=Hyper-V KVP daemon
ConditionVirtualization=microsoft
[Service]
ExecStart=/usr/sbin/hypervkvpd -n
[Install]
WantedBy=multi-user.target
UNIT

# Enable: ours through the preset policy only, the neighbours explicitly.
systemctl --root="$root" preset azl-provision.service azl-agent.service azl-userdata.service >/dev/null 2>&1
for u in azl-provision.service azl-agent.service azl-userdata.service; do
        state=$(systemctl --root="$root" is-enabled "$u" 2>/dev/null || true)
        [[ $state == enabled ]] || fail "$u is '$state' after 'systemctl preset' with 90-azl-agent.preset"
done
systemctl --root="$root" enable sshd.service hypervkvpd.service >/dev/null 2>&1
mkdir -p "$root/etc/systemd/system/network-online.target.wants" "$root/etc/systemd/system/sockets.target.wants"
ln -sf /usr/lib/systemd/system/systemd-networkd-wait-online.service "$root/etc/systemd/system/network-online.target.wants/"
ln -sf /usr/lib/systemd/system/sshd.socket "$root/etc/systemd/system/sockets.target.wants/"

verify() { # label args…
        local label=$1 out rc=0
        shift
        out=$(systemd-analyze verify --root="$root" "$@" 2>&1) || rc=$?
        if [[ $rc -ne 0 || -n $out ]]; then
                printf '%s\n' "$out" >&2
                fail "systemd-analyze verify $label: exit $rc, output above"
        fi
        echo "ok: verify $label"
}

# 3. Canary first: verify must complain about a bad key here, or the checks below mean nothing.
printf '[Unit]\nDescription=canary\n[Service]\nExecStart=/usr/bin/azl-agent detect\nNoSuchKey=1\n' \
        >"$unitdir/azl-canary.service"
canary=$(systemd-analyze verify --root="$root" --man=no azl-canary.service 2>&1 || true)
grep -q "NoSuchKey" <<<"$canary" || fail "systemd-analyze verify does not report a bad key in this environment: '$canary'"
rm -f "$unitdir/azl-canary.service"

# 1. Each unit on its own. Man pages are checked when they were built and man(1) is available.
ours=(azl-provision.service azl-agent.service azl-userdata.service azure.slice azure-vmextensions.slice)
man_arg=--man=no
if command -v man >/dev/null && [[ -f $AZL_UNITS_BUILD_DIR/azl-agent.8 && -f $AZL_UNITS_BUILD_DIR/agent.conf.5 ]]; then
        mkdir -p "$scratch/man/man8" "$scratch/man/man5"
        cp "$AZL_UNITS_BUILD_DIR/azl-agent.8" "$scratch/man/man8/"
        cp "$AZL_UNITS_BUILD_DIR/agent.conf.5" "$scratch/man/man5/"
        export MANPATH=$scratch/man
        man_arg=--man=yes
else
        echo "note: man pages not built or man(1) missing: Documentation= not checked"
fi
for u in "${ours[@]}"; do
        verify "$u" "$man_arg" --recursive-errors=no "$u"
done
verify "${ours[*]}" --man=no "${ours[@]}"

# 2. The boot transaction.
verify multi-user.target --man=no multi-user.target

# 4. azl-provision.service must outlive the agent's own deadlines (IMDS + health report, from the built-in
#    defaults), or systemd kills a run that would still have succeeded.
mkdir -p "$scratch/empty"
defaults=$("$AZL_AGENT" --root "$scratch/empty" config)
imds=$(sed -n 's/^IMDSDeadlineSec=//p' <<<"$defaults")
health=$(sed -n 's/^HealthDeadlineSec=//p' <<<"$defaults")
timeout=$(sed -n 's/^TimeoutStartSec=//p' "$AZL_SOURCE_ROOT/units/azl-provision.service.in")
case $timeout in
*min) timeout_s=$((${timeout%min} * 60)) ;;
*s) timeout_s=${timeout%s} ;;
*[0-9]) timeout_s=$timeout ;;
*) fail "cannot read TimeoutStartSec=$timeout" ;;
esac
[[ -n $imds && -n $health ]] || fail "azl-agent config lacks IMDSDeadlineSec=/HealthDeadlineSec="
((timeout_s >= imds + health + 120)) ||
        fail "azl-provision.service TimeoutStartSec=$timeout < IMDSDeadlineSec=$imds + HealthDeadlineSec=$health + 2 min"
echo "ok: TimeoutStartSec=$timeout covers IMDS ${imds}s + health ${health}s"
