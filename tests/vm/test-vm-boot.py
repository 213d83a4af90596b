#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Boot a Debian guest (qemu TCG) against the simulated fabric and check that it gets provisioned.

    test-vm-boot.py --agent azl-agent [--build DIR]   the agent under test (meson install --destdir, per run)
    test-vm-boot.py --agent cloudinit | waagent       a peer that exists today: proves the rig itself

Asserts (all agents): the fabric recorded an accepted health report State=Ready; ssh as the scenario's admin user
with the scenario's key works. azl-agent also: azl-provision.service finished before ssh.service started
(ActiveEnterTimestampMonotonic / InactiveExitTimestampMonotonic, and systemd-analyze critical-chain is logged),
the root partition grew, `azl-agent status --json` (or state.json while --json is not there) lists the steps,
none failed, state "ready"; and extensions (issue #8) under systemd: the fabric's status blob shows the scenario's
sample extension Ready/success, then two extensions added by a new incarnation: the recorder test extension ran its
enable as a transient service azure-vmextensions-<Name>.slice/enable_<uuid>.service under azure.slice with the rig's
[Extensions] CPUQuotaPercent=50 / MemoryMaxMiB=128 on the unit (recorded by the handler itself while running), and
the privileged test extension wrote /etc and ran a setgid tool as another user, without no_new_privs or a seccomp
filter — while azl-agent.service itself runs confined (issue #17 §7: no_new_privs, seccomp, its capability bounding
set; `systemd-analyze security` of both units is printed); Reprovision() over D-Bus runs `provision --force` as a
transient service azure.slice/azl-reprovision_<uuid>.service, outside that sandbox, and it exits 0. cloudinit additionally checks that the root partition
grew.

Exit 77 only when the environment cannot run a VM at all (no network namespace; qemu/socat/ssh missing),
AZL_VM_TESTS=0, or the image could not be built because the Debian mirror is unreachable
(tests/vm/ensure-images.sh recorded it; the reason is the one line printed). Anything else the rig needs and does
not have — an image whose build failed or was never run, no built agent — fails (issue #17 §8: a rig failure is
not a skip), as does an agent that says it cannot provision. No timing is asserted; the timeline is printed.
Env: AZL_VM_KEEP=DIR keeps the run directory there (serial log, journal, fabric request log).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmrig  # noqa: E402

SKIP = 77
INITIAL_ROOT = 1536 * 1024 * 1024        # build-image.sh ROOT_SIZE
FLAVOUR = {"azl-agent": "base", "cloudinit": "cloudinit", "waagent": "waagent"}
AGENT_UNITS = {"azl-agent": ["azl-provision.service"],
               "cloudinit": ["cloud-init-local.service"],
               "waagent": ["walinuxagent.service"]}
# Extensions under systemd (azl-agent only): quotas for every extension scope, and a second extension.
RIG_EXTENSIONS_CONF = {"/etc/azl-agent/agent.conf.d/50-rig-extensions.conf":
                       "[Extensions]\nCPUQuotaPercent=50\nMemoryMaxMiB=128\n"}
PROBE = "AzlTest.VmProbe"
PRIV = "AzlTest.Privileged"
RECORDER = os.path.join(vmrig.SRC, "tests", "extensions", "handlers", "recorder")
PRIVILEGED = os.path.join(vmrig.SRC, "tests", "extensions", "handlers", "privileged")
FULL_CAPS = "000001ffffffffff"


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, detail=""):
        print("%s: %s%s" % ("ok" if ok else "FAIL", what, (" — " + detail) if detail else ""), flush=True)
        if not ok:
            self.failed += 1
        return ok


def agent_binary(build):
    return os.path.join(build, "agent", "azl-agent")


def image_build_status():
    """tests/vm/ensure-images.sh's record for this image cache: ("ok"|"mirror-unreachable"|"failed"|None, why)."""
    try:
        with open(os.path.join(vmrig.cache_dir(), "build-status")) as f:
            kind, _, why = f.read().strip().partition(" ")
            return kind, why
    except OSError:
        return None, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", choices=sorted(FLAVOUR), required=True)
    ap.add_argument("--build", default=os.environ.get("AZL_BUILD_ROOT", ""))
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--ready-timeout", type=int, default=480)
    args = ap.parse_args()

    if os.environ.get("AZL_VM_TESTS") == "0":
        print("SKIP: AZL_VM_TESTS=0")
        return SKIP
    if not vmrig.enter_private_netns():
        print("SKIP: cannot create a private network namespace (unshare --net)")
        return SKIP
    missing = vmrig.missing_tools()
    if missing:
        print("SKIP: missing tools: %s (apt-get install qemu-system-x86 qemu-utils socat openssh-client)"
              % " ".join(missing))
        return SKIP
    flavour = FLAVOUR[args.agent]
    if not vmrig.image_dir(flavour):
        kind, why = image_build_status()
        if kind == "mirror-unreachable":
            print("SKIP: " + why)
            return SKIP
        if kind == "failed":
            print("FAIL: VM image '%s' not built: %s" % (flavour, why))
        else:
            print("FAIL: VM image '%s' not built in %s — run tests/vm/ensure-images.sh first (scripts/run-tests.sh "
                  "does, before entering the test namespace; AZL_VM_TESTS=0 skips the vm tests)"
                  % (flavour, vmrig.cache_dir()))
        return 1
    if args.agent == "azl-agent" and (not args.build or not os.path.exists(agent_binary(args.build))):
        print("FAIL: no built azl-agent in %r (pass --build or set AZL_BUILD_ROOT)" % args.build)
        return 1

    keep = os.environ.get("AZL_VM_KEEP")
    out = tempfile.mkdtemp(prefix="azl-vm-%s-" % args.agent)
    c = Checks()
    vm = vmrig.VM(flavour, out, scenario=args.scenario)
    scen = vm.fabric_scenario()
    inject = None
    if args.agent == "azl-agent":
        inject, enabled, _ = vmrig.make_inject_tar(args.build, out, extra_files=RIG_EXTENSIONS_CONF)
        print("inject: %s, enabled %s" % (inject, enabled))
    try:
        vm.start(inject_tar=inject)
        ready = vm.wait_ready(args.ready_timeout,
                              settled_unit="azl-provision.service" if args.agent == "azl-agent" else None)
        c.check(ready is not None, "fabric recorded an accepted health report State=Ready",
                json.dumps(vm.health_reports())[:600] if not ready else ready.get("client", ""))
        login = vm.wait_ssh_user(240 if ready else 30)
        expect = "%s\n%s" % (scen["admin"]["username"], scen["vm"].get("computerName") or scen["vm"]["name"])
        c.check(login is not None and login[1].strip() == expect,
                "ssh as %s with a scenario key (tests/fabric/scenarios/keys/)" % vm.user,
                "%r with %s" % (login[1].strip(), login[2]) if login else "no login with demo_ed25519 or demo_rsa")
        if args.agent == "azl-agent":
            # every key of the scenario must work for our agent (waagent 2.7 keeps only the last of two keys)
            for key in vm.user_keys:
                r = vm.ssh("true", key=key, check=False, timeout=40)
                c.check(r.returncode == 0, "ssh as %s with %s" % (vm.user, os.path.basename(key)), r.stderr.strip())
        facts = vm.collect() if vm.alive() else {"units": {}, "sections": {}}
        sec = facts["sections"]
        if args.agent == "azl-agent":
            u = facts["units"].get("azl-provision.service", {})
            print("\n".join(sec.get("chain", [])))
            prov_done = int(u.get("ActiveEnterTimestampMonotonic") or 0)
            ssh_start = int(facts["units"].get("ssh.service", {}).get("InactiveExitTimestampMonotonic") or 0)
            c.check(u.get("ActiveState") == "active" and u.get("Result") == "success",
                    "azl-provision.service active/success", "%s/%s" % (u.get("ActiveState"), u.get("Result")))
            c.check(0 < prov_done <= ssh_start, "azl-provision finished before sshd started",
                    "azl-provision active at %.2f s, ssh started at %.2f s" % (prov_done / 1e6, ssh_start / 1e6))
            check_status(c, vm, sec)
            check_extensions(c, vm)
            check_reprovision(c, vm)
        if args.agent in ("azl-agent", "cloudinit"):
            size = root_partition_size(sec.get("rootfs", []))
            c.check(size is not None and size > INITIAL_ROOT, "root partition grew",
                    "vda1 %s bytes (image: %d)" % (size, INITIAL_ROOT))
            # The mounted ext4 itself grew online (EXT4_IOC_RESIZE_FS), not only its partition.
            fs = root_filesystem_size(sec.get("rootfs", []))
            c.check(fs is not None and fs > INITIAL_ROOT, "root filesystem grew online",
                    "/ %s bytes (image partition: %d)" % (fs, INITIAL_ROOT))
        tl = vm.timeline(facts, AGENT_UNITS[args.agent]) if facts["units"] else {}
        print("timeline (s since guest kernel start): " + json.dumps(
            {k: (round(v, 2) if isinstance(v, float) else v) for k, v in tl.items()
             if k not in ("kernel_start_host", "qemu_start_host")}))
        print("\n".join(sec.get("analyze", [])))
    finally:
        vm.stop()
        if c.failed:
            for f in ("serial.log",):
                p = os.path.join(out, f)
                if os.path.exists(p):
                    print("--- tail of %s" % f)
                    print("".join(open(p, errors="replace").readlines()[-40:]))
        if keep:
            shutil.copytree(out, os.path.join(keep, os.path.basename(out)), dirs_exist_ok=True, symlinks=True)
            print("kept: %s" % os.path.join(keep, os.path.basename(out)))
        shutil.rmtree(out, ignore_errors=True)
    print("%s: %d check(s) failed" % ("FAIL" if c.failed else "PASS", c.failed))
    return 1 if c.failed else 0


def root_filesystem_size(lines):
    """findmnt -n -b -o SOURCE,SIZE / → the mounted root filesystem's size in bytes."""
    for line in lines:
        f = line.split()
        if len(f) == 2 and f[0].startswith("/dev/") and f[1].isdigit():
            return int(f[1])
    return None


def root_partition_size(lines):
    for line in lines:
        f = line.split()
        if len(f) >= 3 and f[0].endswith("vda1") and f[2] == "part":
            return int(f[1])
    return None


def check_status(c, vm, sec):
    r = vm.ssh("azl-agent status --json", root=True, check=False, timeout=60)
    doc, source = None, "azl-agent status --json"
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        # --json arrives with the status work (issue #9); until then read what it would print
        rr = vm.ssh("cat /var/lib/azl-agent/state.json", root=True, check=False, timeout=60)
        source = "state.json (status --json: rc=%d)" % r.returncode
        try:
            doc = json.loads(rr.stdout)
        except ValueError:
            doc = None
    if not c.check(isinstance(doc, dict), "provisioning status readable", source):
        return
    doc = doc.get("provisioning", doc) if "steps" not in doc else doc
    steps = doc.get("steps") or []
    names = [s.get("name") for s in steps]
    c.check(doc.get("state") == "ready", "status: state ready", "%s via %s" % (doc.get("state"), source))
    c.check(len(steps) > 0 and all(s.get("result") in ("changed", "unchanged", "skipped") for s in steps),
            "status: every step reported, none failed",
            ", ".join("%s=%s" % (s.get("name"), s.get("result")) for s in steps))
    for want in ("imds", "report-ready"):
        c.check(any(want in (n or "") for n in names), "status: a step for %s" % want, str(names))
    # The image's networkd reloads with our files (a new DHCP lease): the wait for the links comes before the
    # first fabric request after it, Ready, not in the network step, so the local steps ran in between.
    net = next((s for s in steps if s.get("name") == "network"), {})
    if "reload done" in (net.get("summary") or ""):
        wait = next((s for s in steps if s.get("name") == "network-wait"), {})
        c.check((wait.get("summary") or "").startswith("links up again"), "status: links up again after the reload",
                str(wait))
        c.check("network-wait" in names and "user" in names and "report-ready" in names
                and names.index("user") < names.index("network-wait") < names.index("report-ready"),
                "status: the local steps ran before the wait for the links, Ready after it", str(names))
    else:
        c.check(False, "status: the network step reloaded networkd (the rig's image has it)", str(net))


def extension_entry(vm, name):
    try:
        blob = vm.control("/status-blob")
    except Exception:
        return None
    for h in blob.get("aggregateStatus", {}).get("handlerAggregateStatus", []):
        if h.get("handlerName") == name:
            return h
    return None


def wait_extension(vm, name, timeout):
    """The handler's entry in the fabric's status blob once Ready with settings status success (else the last)."""
    deadline, h = time.time() + timeout, None
    while time.time() < deadline and vm.alive():
        h = extension_entry(vm, name)
        st = ((h or {}).get("runtimeSettingsStatus") or {}).get("settingsStatus", {}).get("status", {})
        if h and h.get("status") == "Ready" and st.get("status") == "success":
            return h, True
        time.sleep(2)
    return h, False


def proc_status(text):
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line) if text else {}


def check_extensions(c, vm):
    """Extensions under systemd (issues #8, #17): the status blob, transient services with the configured limits,
    handlers outside the confined daemon's sandbox."""
    with open(os.path.join(vmrig.SRC, "tests", "fabric", "scenarios", vm.scenario + ".json")) as f:
        extensions = json.load(f)["extensions"]
    sample = extensions[0]
    # Generous waits: TCG on a shared 2-core host runs an extension command in minutes when the host is loaded.
    h, ok = wait_extension(vm, sample["name"], 420)
    c.check(ok, "status blob: %s Ready/success" % sample["name"], json.dumps(h)[:400])
    # Two more extensions in a new incarnation: the recorder (its cgroup and its unit's limits) and the privileged
    # one (writes /etc, runs a setgid tool as another user).
    patch = {"extensions": extensions + [
        {"name": PROBE, "version": "1.0.0", "source": RECORDER, "publicSettings": {"probe": True}},
        {"name": PRIV, "version": "1.0.0", "source": PRIVILEGED, "publicSettings": {}}]}
    req = urllib.request.Request(vm.endpoints["control"] + "/scenario?mode=merge&bump=incarnation",
                                 data=json.dumps(patch).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    vmrig._opener.open(req, timeout=10).read()
    h, ok = wait_extension(vm, PROBE, 600)
    c.check(ok, "status blob: %s (new incarnation) Ready/success" % PROBE, json.dumps(h)[:400])
    hp, okp = wait_extension(vm, PRIV, 300)
    c.check(okp, "status blob: %s Ready/success (wrote /etc, ran a setgid tool)" % PRIV, json.dumps(hp)[:600])
    d = "/var/lib/waagent/%s-1.0.0" % PROBE
    dp = "/var/lib/waagent/%s-1.0.0" % PRIV
    r = vm.ssh("cat %s/cgroup-enable.txt; echo ---; cat %s/unit-enable.txt; echo ---; "
               "systemctl list-units --all --no-legend --plain 'azure-vmextensions-*'; echo ---; "
               "cat /etc/azl-ext-probe.conf; echo ---; cat %s/proc-status.txt; echo ---; cat %s/chage.txt; echo ---; "
               "cat %s/cgroup-enable.txt; echo ---; "
               "grep -E '^(NoNewPrivs|Seccomp|CapBnd):' /proc/$(systemctl show -p MainPID --value azl-agent)/status; "
               "echo ---; journalctl -b -u azl-agent --no-pager -o cat | grep -m1 '^container-host:'; "
               "echo ---; grep -E ' enable .*isolation ' /var/log/azure/%s/CommandExecution.log | tail -n 1; "
               "echo ---; p=$(systemctl show -p MainPID --value azl-agent); readlink /proc/$p/exe; "
               "grep -oE 'lib(fdisk|cryptsetup|nftables|archive)[^/]*$' /proc/$p/maps | sort -u"
               % (d, d, dp, dp, dp, PROBE), root=True, check=False, timeout=300)
    parts = (r.stdout.split("---\n") + [""] * 12)[:12]
    # systemd-analyze security loads every unit: slow under TCG, on its own with room to finish
    ra = vm.ssh("systemd-analyze security --no-pager azl-agent.service azl-provision.service 2>&1 | "
                "grep 'Overall exposure'", root=True, check=False, timeout=600)
    cg = re.search(r"^0::(/\S+)$", parts[0], re.M)
    slice_name = "azure-vmextensions-%s.slice" % PROBE
    c.check(cg is not None and re.fullmatch(r"/azure\.slice/azure-vmextensions\.slice/%s/enable_[0-9a-f-]{36}\.service"
                                            % re.escape(slice_name), cg.group(1)) is not None,
            "enable ran as a transient service in %s" % slice_name, cg.group(1) if cg else parts[0].strip()[:300])
    props = dict(line.split("=", 1) for line in parts[1].splitlines() if "=" in line)
    c.check(props.get("Slice") == slice_name and props.get("MemoryMax") == str(128 * 1024 * 1024)
            and props.get("CPUQuotaPerSecUSec") == "500ms" and props.get("KillMode") == "process",
            "the service had MemoryMax=128M, CPUQuota=50%, KillMode=process (read by the handler while running)",
            json.dumps(props))
    c.check(("azure-vmextensions-%s.slice" % sample["name"]) in parts[2] and slice_name in parts[2],
            "systemd knows the per-extension slices", parts[2].strip()[:400])
    c.check(parts[3].startswith("written by the privileged test extension"), "an extension wrote /etc",
            parts[3].strip()[:200])
    ps = proc_status(parts[4])
    c.check(ps.get("NoNewPrivs", "").strip() == "0" and ps.get("Seccomp", "").strip() == "0"
            and ps.get("CapBnd", "").strip() == FULL_CAPS,
            "the handler runs without the daemon's no_new_privs, seccomp filter or bounding set", json.dumps(ps))
    c.check("rc=0" in parts[5], "a setgid tool (chage as nobody) worked for the handler", parts[5].strip()[-300:])
    pcg = re.search(r"^0::(/\S+)$", parts[6], re.M)
    c.check(pcg is not None and re.fullmatch(r"/azure\.slice/azure-vmextensions\.slice/azure-vmextensions-"
                                             r"AzlTest\.Privileged\.slice/enable_[0-9a-f-]{36}\.service", pcg.group(1))
            is not None, "the privileged handler ran as a transient service too", pcg.group(1) if pcg else "")
    ds = proc_status(parts[7])
    c.check(ds.get("NoNewPrivs", "").strip() == "1" and ds.get("Seccomp", "").strip() == "2"
            and ds.get("CapBnd", "").strip() not in ("", FULL_CAPS),
            "azl-agent.service runs confined (no_new_privs, seccomp, reduced bounding set)", json.dumps(ds))
    c.check(parts[8].strip() == "container-host: no", "detect (ExecCondition=+, outside the sandbox) sees the host",
            parts[8].strip())
    c.check("isolation systemd-service, limits cpu 50% memory 128 MiB applied" in parts[9],
            "CommandExecution.log: a transient service, with its limits read back from the unit", parts[9].strip()[-400:])
    c.check(parts[10].strip() == "/usr/libexec/azl-agent/azl-agent-daemon",
            "azl-agent.service runs /usr/libexec/azl-agent/azl-agent-daemon (exec'd by `azl-agent daemon`), which "
            "maps no libfdisk, libcryptsetup, libnftables or libarchive after the extensions ran", parts[10].strip())
    print("systemd-analyze security in the guest:\n" + ra.stdout.strip())
    scores = dict(re.findall(r"for (\S+): ([0-9.]+)", ra.stdout))
    c.check(float(scores.get("azl-agent.service", "10")) <= 4.5, "azl-agent.service exposure at most 4.5",
            str(scores))


def check_reprovision(c, vm):
    """Reprovision() under systemd (issue #17 §7): the run writes /etc and /home, which the confined daemon cannot, so
    systemd spawns it as a transient service; it must end with exit status 0 and Reprovisioning false."""
    obj = "org.azurelinux.Agent1 /org/azurelinux/Agent1 org.azurelinux.Agent1"
    r = vm.ssh("busctl call %s Reprovision" % obj, root=True, check=False, timeout=120)
    c.check(r.returncode == 0, "Reprovision() accepted", (r.stdout + r.stderr).strip()[:300])
    line, deadline = "", time.monotonic() + 600
    while r.returncode == 0 and time.monotonic() < deadline:
        q = vm.ssh("busctl get-property %s Reprovisioning; journalctl -b -u azl-agent --no-pager -o cat | "
                   "grep -E '^Provisioning run azl-reprovision_' | tail -n 1" % obj, root=True, check=False, timeout=120)
        if q.stdout.startswith("b false") and "exited" in q.stdout:
            line = q.stdout.splitlines()[-1]
            break
        time.sleep(10)
    c.check(re.fullmatch(r"Provisioning run azl-reprovision_[0-9a-f-]{36}\.service exited with status 0\.", line)
            is not None, "the reprovisioning run was a transient service and succeeded", line or "no exit seen")


if __name__ == "__main__":
    sys.exit(main())
