# SPDX-License-Identifier: MIT
"""The VM test rig: one Debian guest under qemu TCG against the simulated fabric (tests/fabric) on loopback.

Network safety: everything runs in a private network namespace that has only `lo` (enter_private_netns()
re-executes the caller under `unshare --net` and refuses to go on if a default route exists). In it the fabric
serves the real Azure addresses on `lo` (`azfabric.py serve --real-addresses`, which itself refuses to start in a
namespace with a route out), because the documents it hands out (goal-state URLs, HostGAPlugin links) carry the
addresses it is bound to and the guest must be able to follow them. The guest's only network is qemu's user-mode
stack with restrict=on: the only ways out of the VM are guestfwd rules for 169.254.169.254:80, 168.63.129.16:80 and
168.63.129.16:32526 (socat to the same address inside the namespace) and one hostfwd 127.0.0.1:<port> → guest :22.
The fabric's blob store stays on 127.0.0.1 of the namespace, which the guest cannot reach; agents use the
HostGAPlugin's artifact/status proxies instead (as on Azure).

Used by tests/vm/test-vm-boot.py and bench/vmbench.py:

    vm = VM(flavour="cloudinit", out="/tmp/x")          # image from tests/vm/build-image.sh
    vm.start(inject_tar=None)                           # fabric + media + overlay + qemu
    vm.wait_ready(timeout=420)                          # accepted health report State=Ready
    vm.wait_ssh_user(timeout=300)                       # scenario user + scenario key
    facts = vm.collect()                                # timings and guest facts (root via the rig key)
    vm.stop()
"""
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
FABRIC = os.path.join(SRC, "tests", "fabric", "azfabric.py")
SCENARIO_KEYS = os.path.join(SRC, "tests", "fabric", "scenarios", "keys")
ASSET_TAG = "7783-7084-3265-9085-8269-3286-77"
# The default scenario's NIC (network.interfaces[0].macAddress): cloud-init matches IMDS NICs by MAC.
GUEST_MAC = "00:0d:3a:1b:2c:3d"

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def log(*a):
    print("vmrig:", *a, flush=True)


def enter_private_netns():
    """Re-exec the current program under `unshare --net` (once), bring up lo, refuse if there is a route out."""
    if os.environ.get("AZL_VM_NETNS") != "1":
        if subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode != 0:
            return False
        env = dict(os.environ, AZL_VM_NETNS="1")
        os.execvpe("unshare", ["unshare", "--net", sys.executable] + sys.argv, env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for fam in ("-4", "-6"):
        r = subprocess.run(["ip", fam, "route", "show", "default"], capture_output=True, text=True)
        if r.stdout.strip():
            raise SystemExit("vmrig: the network namespace has a default route (%s), refusing" % r.stdout.strip())
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout.splitlines()
    if any(": lo:" not in l for l in links):
        raise SystemExit("vmrig: the network namespace has interfaces besides lo, refusing")
    return True


def cache_dir():
    """Same key as tests/vm/lib.sh: sha256 of build-image.sh + guest/* (sorted like the shell glob)."""
    h = hashlib.sha256()
    names = ["build-image.sh"] + ["guest/" + n for n in sorted(os.listdir(os.path.join(HERE, "guest")),
                                                                key=lambda s: s.encode())]
    for n in names:
        with open(os.path.join(HERE, n), "rb") as f:
            h.update(f.read())
    root = os.environ.get("AZL_VM_CACHE", "/var/cache/azl-agent-vm")
    return os.path.join(root, h.hexdigest()[:12])


def image_dir(flavour):
    d = os.path.join(cache_dir(), flavour)
    return d if os.path.exists(os.path.join(d, ".done")) else None


def missing_tools():
    return [t for t in ("qemu-system-x86_64", "qemu-img", "socat", "ssh") if not shutil.which(t)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def parse_time(s):
    """Fabric timestamps: 2026-11-21T20:48:54.269Z (UTC)."""
    return datetime.datetime.strptime(s.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()



def gen1_smbios_uuid(vm_id):
    """The SMBIOS UUID an Azure Generation 1 VM shows for vm_id: the first three fields byte-swapped."""
    f = vm_id.split("-")
    swap = lambda h: "".join(reversed([h[i:i + 2] for i in range(0, len(h), 2)]))
    return "-".join([swap(f[0]), swap(f[1]), swap(f[2])] + f[3:])

class SerialStamper(threading.Thread):
    """Reads the guest's serial port (a qemu unix-socket chardev) and stamps every line with the host clock."""

    def __init__(self, sock_path, raw_path, stamped_path):
        super().__init__(daemon=True)
        self.sock_path, self.raw, self.stamped = sock_path, raw_path, stamped_path
        self.lines = []            # (host_time, text)
        self.lock = threading.Lock()

    def run(self):
        s = socket.socket(socket.AF_UNIX)
        for _ in range(300):
            try:
                s.connect(self.sock_path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            return
        buf = b""
        with open(self.raw, "wb") as raw, open(self.stamped, "w") as st:
            while True:
                try:
                    data = s.recv(65536)
                except OSError:
                    break
                if not data:
                    break
                now = time.time()
                raw.write(data)
                raw.flush()
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.decode("utf-8", "replace").rstrip("\r")
                    st.write("%.3f %s\n" % (now, text))
                    st.flush()
                    with self.lock:
                        self.lines.append((now, text))

    def grep(self, needle):
        with self.lock:
            return [(t, l) for t, l in self.lines if needle in l]


class VM:
    def __init__(self, flavour, out, scenario="default", mem=1024, smp=2, qemu_timeout=900):
        self.flavour, self.out, self.scenario = flavour, os.path.abspath(out), scenario
        self.mem, self.smp, self.qemu_timeout = mem, smp, qemu_timeout
        self.img = image_dir(flavour)
        if not self.img:
            raise FileNotFoundError("image %s not built (tests/vm/build-image.sh)" % flavour)
        self.cache = cache_dir()
        self.fabric = self.qemu = self.serial = None
        self.endpoints = {}
        self.t_qemu = None
        os.makedirs(self.out, exist_ok=True)
        # ssh refuses private keys readable by others: copies with mode 0600
        # the default scenario authorizes both keys for the admin user at the same path; waagent 2.7 keeps only
        # the last one it writes (RSA), so logins try each and report which one worked
        self.user_keys = [self._key_copy(os.path.join(SCENARIO_KEYS, k), "user_key_" + k.split("_")[1])
                          for k in ("demo_ed25519", "demo_rsa")]
        self.user_key = self.user_keys[0]
        self.root_key = self._key_copy(os.path.join(self.cache, "rig_root_ed25519"), "root_key")
        self.ssh_port = free_port()
        self.user = self.fabric_scenario()["admin"]["username"]

    def _key_copy(self, src, name):
        dst = os.path.join(self.out, name)
        shutil.copyfile(src, dst)
        os.chmod(dst, 0o600)
        return dst

    def fabric_scenario(self):
        r = subprocess.run([sys.executable, FABRIC, "scenario", "--scenario", self.scenario],
                           check=True, capture_output=True, text=True)
        return json.loads(r.stdout)

    # ------------------------------------------------------------------ start / stop
    def start(self, inject_tar=None, extra_append="", disk=None):
        """disk: boot this existing overlay (a second boot of the same machine) instead of a fresh one."""
        out = self.out
        ready = os.path.join(out, "fabric-ready.json")
        self.fabric = subprocess.Popen(
            [sys.executable, FABRIC, "serve", "--scenario", self.scenario, "--real-addresses",
             "--state-dir", os.path.join(out, "fabric"), "--ready-file", ready],
            stdout=open(os.path.join(out, "fabric.out"), "w"), stderr=open(os.path.join(out, "fabric.err"), "w"),
            start_new_session=True)
        for _ in range(300):
            if os.path.exists(ready):
                break
            if self.fabric.poll() is not None:
                raise RuntimeError("fabric exited: " + open(os.path.join(out, "fabric.err")).read())
            time.sleep(0.1)
        self.endpoints = json.load(open(ready))
        ep = self.endpoints
        if ep["imds"] != "http://169.254.169.254:80" or ep["wireserver"] != "168.63.129.16:80" \
                or int(ep["hgap_port"]) != 32526:
            raise RuntimeError("fabric is not on the real addresses: %s" % ep)
        media = json.loads(subprocess.run(
            [sys.executable, FABRIC, "media", "--scenario", self.scenario, "--out", os.path.join(out, "media")],
            check=True, capture_output=True, text=True).stdout)
        if disk is None:
            disk = os.path.join(out, "disk.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                            os.path.join(self.img, "base.qcow2"), disk], check=True)
        self.disk = disk
        vm_uuid = ep.get("vm_id") or self.fabric_scenario()["vm"]["vmId"]
        # The guest boots without UEFI, as an Azure Generation 1 VM: there the SMBIOS system UUID holds the vmId
        # with its first three fields byte-swapped (common/platform.h; cloud-init and azure-init swap it back).
        smbios_uuid = gen1_smbios_uuid(vm_uuid)
        sock = os.path.join(out, "serial.sock")
        # the cmd form forks one socat per guest connection (the tcp: chardev form is a single shared stream)
        fwd = lambda ip, port: "guestfwd=tcp:%s:%d-cmd:socat - TCP:%s:%d" % (ip, port, ip, port)
        netdev = ",".join([
            "user", "id=n0", "restrict=on", "ipv6=off",
            # libslirp accepts guestfwd addresses only inside its network: 168.0.0.0/7 holds both Azure addresses
            "net=168.0.0.0/7", "host=168.0.0.2", "dns=168.0.0.3", "dhcpstart=168.0.0.15",
            fwd("169.254.169.254", 80),
            fwd("168.63.129.16", 80),
            fwd("168.63.129.16", 32526),
            "hostfwd=tcp:127.0.0.1:%d-:22" % self.ssh_port,
        ])
        append = ("root=LABEL=rootfs rw console=ttyS0,115200 panic=-1 quiet systemd.show_status=0 net.ifnames=1 "
                  + extra_append).strip()
        cmd = [
            "timeout", "--kill-after=10", str(self.qemu_timeout),
            "qemu-system-x86_64", "-nodefaults", "-accel", "tcg", "-cpu", "max,-hypervisor", "-machine", "q35",
            "-smp", str(self.smp), "-m", str(self.mem), "-nographic", "-no-reboot",
            "-kernel", os.path.join(self.img, "vmlinuz"), "-initrd", os.path.join(self.img, "initrd.img"),
            "-append", append,
            "-drive", "file=%s,if=none,id=root,format=qcow2,cache=unsafe,discard=unmap" % disk,
            "-device", "virtio-blk-pci,drive=root",
            "-netdev", netdev,
            "-device", "virtio-net-pci,netdev=n0,romfile=,mac=" + GUEST_MAC,
            "-chardev", "socket,id=ser0,path=%s,server=on,wait=on" % sock,
            "-serial", "chardev:ser0", "-monitor", "none", "-display", "none",
            "-drive", "file=%s,media=cdrom,if=ide,readonly=on" % media["iso"],
            "-smbios", "type=0,vendor=Microsoft Corporation,version=Hyper-V UEFI Release v4.1",
            "-smbios", "type=1,manufacturer=Microsoft Corporation,product=Virtual Machine,"
                       "version=Hyper-V UEFI Release v4.1,uuid=" + smbios_uuid,
            "-smbios", "type=3,manufacturer=Microsoft Corporation,asset=" + ASSET_TAG,
        ]
        if inject_tar:
            cmd += ["-drive", "file=%s,if=none,id=inj,format=raw,readonly=on" % inject_tar,
                    "-device", "virtio-blk-pci,drive=inj,serial=riginject"]
        with open(os.path.join(out, "qemu-cmd.txt"), "w") as f:
            f.write(" ".join("'%s'" % c for c in cmd) + "\n")
        self.t_qemu = time.time()
        self.qemu = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=open(os.path.join(out, "qemu.out"), "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.serial = SerialStamper(sock, os.path.join(out, "serial.log"), os.path.join(out, "serial.stamped"))
        self.serial.start()
        log("%s: qemu pid %d, ssh 127.0.0.1:%d, fabric control %s, out %s"
            % (self.flavour, self.qemu.pid, self.ssh_port, ep["control"], out))

    def alive(self):
        return self.qemu is not None and self.qemu.poll() is None

    def stop(self, keep_disk=False):
        if self.alive():
            # a clean poweroff keeps the overlay consistent for a post-mortem; kill if it takes too long
            self.ssh("systemctl poweroff", root=True, timeout=20, check=False)
            try:
                self.qemu.wait(60)
            except subprocess.TimeoutExpired:
                pass
        for p in (self.qemu, self.fabric):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        if self.serial:
            self.serial.join(5)
        disk = getattr(self, "disk", os.path.join(self.out, "disk.qcow2"))
        if os.path.exists(disk) and not keep_disk and not os.environ.get("AZL_VM_KEEP_DISK"):
            os.unlink(disk)

    # ------------------------------------------------------------------ fabric
    def control(self, path):
        with _opener.open(self.endpoints["control"] + path, timeout=10) as r:
            data = r.read().decode()
        if path.startswith("/requests"):
            return [json.loads(l) for l in data.splitlines() if l.strip()]
        return json.loads(data)

    def health_reports(self):
        try:
            return self.control("/health-reports")
        except Exception:
            return []

    def ready_report(self):
        for h in self.health_reports():
            if h.get("accepted") and h.get("state") == "Ready":
                return h
        return None

    def wait_ready(self, timeout, settled_unit=None):
        """Until the fabric has an accepted Ready. With settled_unit (a oneshot), give up early once that unit
        has finished or failed (or does not exist) without a Ready report — checked over the rig's root ssh."""
        deadline = time.time() + timeout
        next_probe = time.time() + 20
        while time.time() < deadline and self.alive():
            h = self.ready_report()
            if h:
                return h
            if settled_unit and time.time() > next_probe:
                next_probe = time.time() + 10
                r = self.ssh("systemctl show -p LoadState -p ActiveState %s; echo System=$(systemctl "
                             "is-system-running)" % settled_unit, root=True, timeout=30, check=False)
                st = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l)
                booted = st.get("System") in ("running", "degraded")
                if r.returncode in (0, 1) and st.get("LoadState") and (
                        st.get("LoadState") == "not-found" or st.get("ActiveState") in ("active", "failed")
                        or (st.get("ActiveState") == "inactive" and booted)):
                    time.sleep(3)
                    h = self.ready_report()
                    if not h:
                        log("%s settled (%s) without a Ready report" % (settled_unit, st))
                    return h
            time.sleep(1)
        return None

    # ------------------------------------------------------------------ ssh
    def ssh(self, command, root=False, timeout=60, check=True, user=None, key=None):
        cmd = ["ssh", "-p", str(self.ssh_port), "-i", key or (self.root_key if root else self.user_key),
               "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=15",
               "%s@127.0.0.1" % (user or ("root" if root else self.user)), command]
        # The connection itself may be refused for an instant: sshd re-executes itself when it is reloaded (the
        # agent reloads it once the RSA/ECDSA host keys exist, after Ready). Through slirp the TCP connect always
        # succeeds and the guest's refusal shows as an ssh failure (255) before any command ran: retried, at most
        # twice. A command's own failure is never retried.
        for attempt in range(3):
            try:
                r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                if check:
                    raise
                return subprocess.CompletedProcess(cmd, 255, "", "timeout")
            if r.returncode != 255 or not any(m in r.stderr for m in (
                    "kex_exchange_identification", "Connection refused", "Connection reset",
                    "Connection closed by remote host")):
                break
            time.sleep(2)
        if check and r.returncode != 0:
            raise RuntimeError("ssh %r: rc=%d %s" % (command, r.returncode, r.stderr.strip()))
        return r

    def wait_ssh_user(self, timeout):
        """ssh as the scenario's admin user with one of the scenario's keys; returns (host time, stdout, key
        file name) or None."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.alive():
            for key in self.user_keys:
                r = self.ssh("id -un; cat /proc/sys/kernel/hostname", timeout=40, check=False, key=key)
                if r.returncode == 0:
                    return time.time(), r.stdout, os.path.basename(key)
            time.sleep(2)
        return None

    # ------------------------------------------------------------------ facts
    def kernel_start_host(self):
        """Host-clock time of the guest kernel's start: min(host stamp - guest uptime) over RIGCLOCK lines."""
        best = None
        for t, line in self.serial.grep("RIGCLOCK "):
            try:
                up = float(line.split("RIGCLOCK ", 1)[1].split()[0])
            except (IndexError, ValueError):
                continue
            k = t - up
            best = k if best is None else min(best, k)
        return best

    UNITS = ["ssh.service", "azl-provision.service", "azl-agent.service", "cloud-init-local.service",
             "cloud-init.service", "cloud-config.service", "cloud-final.service", "walinuxagent.service",
             "systemd-networkd-wait-online.service", "network-online.target", "multi-user.target"]

    def collect(self, settle=300):
        """Guest facts through the rig's root key, once the boot finished (or after `settle` s); logs land in
        out/guest/."""
        g = os.path.join(self.out, "guest")
        os.makedirs(g, exist_ok=True)
        facts = {}
        props = "-p Id -p ActiveState -p Result -p ExecMainStartTimestampMonotonic -p ActiveEnterTimestampMonotonic " \
                "-p InactiveExitTimestampMonotonic -p ExecMainExitTimestampMonotonic -p CPUUsageNSec -p MemoryCurrent"
        script = r"""
set +e
echo '=== running'; timeout %d systemctl is-system-running --wait 2>&1
echo '=== show'; systemctl show %s %s
echo '=== meter'; for f in /run/rig-meter/*.service; do [ -f "$f" ] && cat "$f" && echo; done
echo '=== samples'; cat /run/rig-meter/samples 2>/dev/null
echo '=== waagent-cgroup'; cg=/sys/fs/cgroup/system.slice/walinuxagent.service
  [ -d $cg ] && { grep usage_usec $cg/cpu.stat; echo "memory_peak=$(cat $cg/memory.peak)"; }
echo '=== rootfs'; findmnt -n -b -o SOURCE,SIZE / ; lsblk -b -n -o NAME,SIZE,TYPE /dev/vda
echo '=== hostname'; cat /proc/sys/kernel/hostname
echo '=== uptime'; cat /proc/uptime
echo '=== analyze'; systemd-analyze time 2>&1
echo '=== chain'; systemd-analyze critical-chain ssh.service 2>&1
echo '=== chain-agent'; for u in azl-provision.service cloud-init-local.service walinuxagent.service; do
  [ "$(systemctl show -p LoadState --value $u)" = loaded ] && systemd-analyze critical-chain $u 2>&1; done
echo '=== blame'; systemd-analyze blame 2>&1 | head -40
echo '=== failed'; systemctl --failed --no-legend
echo '=== azl-status'; command -v azl-agent >/dev/null && azl-agent status --json --long; echo "rc=$?"
echo '=== cloud-init'; command -v cloud-init >/dev/null && cloud-init status --long
""" % (settle, " ".join(self.UNITS), props)
        r = self.ssh(script, root=True, timeout=settle + 120, check=False)
        open(os.path.join(g, "facts.txt"), "w").write(r.stdout + r.stderr)
        sections, cur = {}, None
        for line in r.stdout.splitlines():
            if line.startswith("=== "):
                cur = line[4:].strip()
                sections[cur] = []
            elif cur:
                sections[cur].append(line)
        facts["sections"] = sections
        units, u = {}, {}
        for line in sections.get("show", []) + [""]:
            if not line.strip():
                if u.get("Id"):
                    units[u["Id"]] = u
                u = {}
                continue
            k, _, v = line.partition("=")
            u[k] = v
        facts["units"] = units
        for name, cmd in (("journal.txt", "journalctl -b --no-pager -o short-monotonic"),
                          ("journal-azl.txt", "journalctl -b --no-pager -o short-monotonic -u azl-provision -u azl-agent"),
                          ("blame.txt", "systemd-analyze blame")):
            rr = self.ssh(cmd, root=True, timeout=120, check=False)
            open(os.path.join(g, name), "w").write(rr.stdout + rr.stderr)
        return facts

    def timeline(self, facts, agent_units):
        """Seconds since guest kernel start (host clock mapped through RIGCLOCK)."""
        k = self.kernel_start_host()
        t = {"kernel_start_host": k, "qemu_start_host": self.t_qemu}
        h = self.ready_report()
        reqs = []
        try:
            reqs = self.control("/requests")
        except Exception:
            pass
        if k is not None:
            if h:
                t["kernel_to_ready"] = parse_time(h["time"]) - k
            if reqs:
                t["kernel_to_first_request"] = parse_time(reqs[0]["time"]) - k
        def mono(unit, prop):
            v = facts["units"].get(unit, {}).get(prop, "")
            return int(v) / 1e6 if v.isdigit() and int(v) > 0 else None
        t["kernel_to_sshd"] = mono("ssh.service", "ActiveEnterTimestampMonotonic")
        starts = [mono(u, "InactiveExitTimestampMonotonic") for u in agent_units]
        starts = [s for s in starts if s is not None]
        if starts:
            t["kernel_to_agent_start"] = min(starts)
            if "kernel_to_ready" in t:
                t["agent_start_to_ready"] = t["kernel_to_ready"] - min(starts)
        t["requests"] = len(reqs)
        t["health_reports"] = [(x.get("state"), x.get("accepted"), x.get("time")) for x in self.health_reports()]
        return t


SAMPLER_UNIT = """[Unit]
Description=rig: cgroup CPU/memory samples of the agents' units (tests/vm, injected per run)
DefaultDependencies=no

[Service]
Type=simple
ExecStart=/usr/local/sbin/rig-sampler %s

[Install]
WantedBy=sysinit.target
"""
# Shell builtins only (one fork per second, for sleep): "<uptime> <unit> <usage_usec> <memory.peak> <Pss kB>
# <Private_Dirty kB>" per unit whose cgroup exists, once a second, into /run/rig-meter/samples. Pss and private
# dirty are the sums of /proc/<pid>/smaps_rollup over the unit's processes (cgroup.procs): the agent's own memory,
# where memory.peak also counts the page cache its cgroup caused.
SAMPLER = """#!/bin/sh
mkdir -p /run/rig-meter
while :; do
        read up _ < /proc/uptime
        for u in "$@"; do
                cg=/sys/fs/cgroup/system.slice/$u
                [ -r "$cg/cpu.stat" ] || cg=/sys/fs/cgroup/azure.slice/$u  # azl-agent.service: Slice=azure.slice
                [ -r "$cg/cpu.stat" ] || continue
                read k usec < "$cg/cpu.stat"
                read peak < "$cg/memory.peak"
                pss=0 pd=0
                while read pid; do
                        [ -r /proc/$pid/smaps_rollup ] || continue
                        while read k v _; do
                                case $k in
                                Pss:) pss=$((pss + v)) ;;
                                Private_Dirty:) pd=$((pd + v)) ;;
                                esac
                        done < /proc/$pid/smaps_rollup
                done < "$cg/cgroup.procs"
                echo "$up $u $usec $peak $pss $pd"
        done >> /run/rig-meter/samples 2>/dev/null
        sleep 1
done
"""


def add_sampler(dest, units):
    """Adds the sampler (a unit + script) to a destdir tree that becomes an inject tar."""
    os.makedirs(os.path.join(dest, "usr/local/sbin"), exist_ok=True)
    os.makedirs(os.path.join(dest, "etc/systemd/system/sysinit.target.wants"), exist_ok=True)
    with open(os.path.join(dest, "usr/local/sbin/rig-sampler"), "w") as f:
        f.write(SAMPLER)
    os.chmod(os.path.join(dest, "usr/local/sbin/rig-sampler"), 0o755)
    with open(os.path.join(dest, "etc/systemd/system/rig-sampler.service"), "w") as f:
        f.write(SAMPLER_UNIT % " ".join(units))
    link = os.path.join(dest, "etc/systemd/system/sysinit.target.wants/rig-sampler.service")
    if not os.path.lexists(link):
        os.symlink("/etc/systemd/system/rig-sampler.service", link)


def pack_tar(dest, out_dir):
    tar = os.path.join(out_dir, "inject.tar")
    # Debian's image has merged /usr: /lib, /bin, /sbin are symlinks into /usr, and tar would replace such a
    # symlink by a directory (systemd.pc on Debian puts units in /lib/systemd/system). Map those under usr/.
    merged = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
    with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as t:
        for name in sorted(os.listdir(dest)):
            t.add(os.path.join(dest, name), arcname=("usr/" + name) if name in merged else name)
    return tar


def make_sampler_tar(out_dir, units):
    """An inject tar with only the sampler, for the peers' images."""
    dest = os.path.join(out_dir, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(dest)
    add_sampler(dest, units)
    return pack_tar(dest, out_dir)


def parse_samples(text):
    """/run/rig-meter/samples → {unit: [(uptime, usage_usec, memory_peak, pss_bytes, private_dirty_bytes)]}
    (the last two None in samples of an older sampler)"""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) in (4, 6) and f[2].isdigit():
            mem = [int(x) * 1024 if x.isdigit() else None for x in f[4:6]] if len(f) == 6 else [None, None]
            out.setdefault(f[1], []).append((float(f[0]), int(f[2]), int(f[3]) if f[3].isdigit() else 0, *mem))
    return out


def make_inject_tar(build_dir, out_dir, sampler_units=None, extra_files=None):
    """`meson install --destdir` of the agent, units enabled like the preset, packed as the inject tar;
    extra_files: {guest path: text or bytes} added (e.g. an agent.conf drop-in)."""
    dest = os.path.join(out_dir, "destdir")
    shutil.rmtree(dest, ignore_errors=True)
    r = subprocess.run(["meson", "install", "-C", build_dir, "--destdir", dest, "--no-rebuild", "--quiet"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("meson install failed: " + r.stdout[-2000:] + r.stderr[-2000:])
    # enable what units/90-azl-agent.preset enables, by the units' [Install] WantedBy=
    enabled = []
    for root, _, files in os.walk(dest):
        for f in files:
            if f not in ("azl-provision.service", "azl-agent.service", "azl-userdata.service") \
                    or "/system-preset" in root:
                continue
            path = os.path.join(root, f)
            guest_path = "/" + os.path.relpath(path, dest)
            for line in open(path):
                if line.startswith("WantedBy="):
                    for tgt in line.split("=", 1)[1].split():
                        wants = os.path.join(dest, "etc/systemd/system", tgt + ".wants")
                        os.makedirs(wants, exist_ok=True)
                        link = os.path.join(wants, f)
                        if not os.path.lexists(link):
                            os.symlink(guest_path, link)
                        enabled.append((f, tgt, guest_path))
    # the rig's meter (guest/rig-meter.sh): CPU and memory peak of the oneshot while its cgroup exists
    dropin = os.path.join(dest, "etc/systemd/system/azl-provision.service.d")
    os.makedirs(dropin, exist_ok=True)
    with open(os.path.join(dropin, "rig-meter.conf"), "w") as f:
        f.write("[Service]\nExecStartPost=-/usr/local/sbin/rig-meter azl-provision.service\n")
    if sampler_units:
        add_sampler(dest, sampler_units)
    for guest_path, text in (extra_files or {}).items():
        path = os.path.join(dest, guest_path.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
    tar = pack_tar(dest, out_dir)
    # a raw disk must be a whole number of 512-byte sectors (tar pads to 10240 already; keep it explicit)
    size = os.path.getsize(tar)
    if size % 512:
        with open(tar, "ab") as f:
            f.write(b"\0" * (512 - size % 512))
    return tar, enabled, dest
