#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Capture and re-use of an azl-agent image in the VM rig (issue #19): what an image pipeline does.

    test-vm-deprovision.py [--build DIR]

1. Boot the base image with the agent under test as VM A (default scenario) until the fabric has Ready and the
   admin user can log in.
2. As root in the guest: `waagent -force -deprovision+user` (the front end, as Packer's Azure builder runs it),
   then check the guest: no admin user or home, no SSH host keys, the agent's state directory empty, root's
   password without a hash, no /etc/hostname; power off, keeping the disk.
3. Boot the same disk as a new VM B: new VM id (SMBIOS and IMDS), another computer name, the new VM's
   provisioning ISO, a fresh fabric. Checks: the fabric has Ready from B, the admin user logs in with the
   scenario key, the hostname is B's, state.json and the provisioned marker name B's VM id, the SSH host keys
   are new, and `azl-agent analyze` shows B's provisioning run.

Exit 77 when the rig cannot run (as test-vm-boot.py). Env: AZL_VM_KEEP=DIR keeps the run directories.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmrig  # noqa: E402

SKIP = 77
VM_B = "6d1f8c2a-4b3e-4f70-9a21-0c5e7d3b8f46"
HOST_B = "azl-recaptured"


class Checks:
    def __init__(self):
        self.failed = 0

    def check(self, ok, what, detail=""):
        print("%s: %s%s" % ("ok" if ok else "FAIL", what, (" — " + detail) if detail else ""), flush=True)
        if not ok:
            self.failed += 1
        return ok


def boot(c, vm, inject, label, disk=None):
    vm.start(inject_tar=inject, disk=disk)
    ready = vm.wait_ready(480, settled_unit="azl-provision.service")
    c.check(ready is not None, "%s: the fabric recorded an accepted Ready" % label,
            json.dumps(vm.health_reports())[:600])
    login = vm.wait_ssh_user(240 if ready else 30)
    c.check(login is not None, "%s: ssh as %s with the scenario key" % (label, vm.user))
    return login


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("AZL_BUILD_ROOT", ""))
    args = ap.parse_args()

    if not vmrig.enter_private_netns():
        print("SKIP: cannot create a private network namespace (unshare --net)")
        return SKIP
    missing = vmrig.missing_tools()
    if missing:
        print("SKIP: missing tools: %s" % " ".join(missing))
        return SKIP
    if not vmrig.image_dir("base"):
        print("SKIP: VM image 'base' not built in %s — run tests/vm/build-image.sh first" % vmrig.cache_dir())
        return SKIP
    if not args.build or not os.path.exists(os.path.join(args.build, "agent", "azl-agent")):
        print("SKIP: no built azl-agent (pass --build or set AZL_BUILD_ROOT)")
        return SKIP

    keep = os.environ.get("AZL_VM_KEEP")
    out = tempfile.mkdtemp(prefix="azl-vm-deprovision-")
    c = Checks()
    vm_a = vmrig.VM("base", os.path.join(out, "a"))
    inject, _, _ = vmrig.make_inject_tar(args.build, out)
    scen_b = vm_a.fabric_scenario()
    scen_b["vm"]["vmId"] = VM_B
    scen_b["vm"]["computerName"] = HOST_B
    path_b = os.path.join(out, "scenario-b.json")
    with open(path_b, "w") as f:
        json.dump(scen_b, f)
    vm_b = None
    try:
        # ---- 1. VM A
        boot(c, vm_a, inject, "A")
        keys_a = vm_a.ssh("cat /etc/ssh/ssh_host_ed25519_key.pub", root=True, check=False).stdout

        # ---- 2. deprovision as an image pipeline does. One ssh session: without host keys sshd takes no new
        # connection afterwards (as on Azure, where Packer then deallocates the VM through the API).
        r = vm_a.ssh("waagent -force -deprovision+user; echo RC=$?; "
                     "echo USER=$(getent passwd %s | wc -l); echo HOME=$(test -e /home/%s && echo 1 || echo 0); "
                     "echo STATE=$(ls -A /var/lib/azl-agent | wc -l); "
                     "echo STATE_NAMES=$(ls -A /var/lib/azl-agent | tr '\\n' ' '); "
                     "echo KEYS=$(ls /etc/ssh | grep -c ssh_host_); "
                     "echo ROOTPW=$(getent shadow root | cut -d: -f2); "
                     "echo HOSTNAME_FILE=$(test -e /etc/hostname && echo yes || echo no); "
                     "echo DAEMON=$(systemctl is-active azl-agent.service); "
                     "sync; (sleep 2; systemctl poweroff) >/dev/null 2>&1 &" % (vm_a.user, vm_a.user),
                     root=True, check=False, timeout=180)
        print(r.stdout + r.stderr)
        got = dict(l.split("=", 1) for l in r.stdout.splitlines() if "=" in l and l.split("=", 1)[0].isupper())
        c.check(got.get("RC") == "0", "waagent -force -deprovision+user exits 0", str(got.get("RC")))
        c.check(got.get("USER") == "0" and got.get("HOME") == "0", "the admin user and its home are gone",
                str(got))
        c.check(got.get("STATE") == "0", "the agent's state directory is empty", str(got))
        c.check(got.get("KEYS") == "0", "no SSH host keys left", str(got))
        c.check(got.get("ROOTPW") is not None and "$" not in got["ROOTPW"], "root's password holds no hash",
                str(got))
        c.check(got.get("HOSTNAME_FILE") == "no", "/etc/hostname removed", str(got))
        c.check(got.get("DAEMON") in ("inactive", "failed"), "azl-agent.service stopped", str(got))
        vm_a.stop(keep_disk=True)

        # ---- 3. the image boots as VM B
        vm_b = vmrig.VM("base", os.path.join(out, "b"), scenario=path_b)
        login = boot(c, vm_b, inject, "B", disk=vm_a.disk)
        c.check(login is not None and login[1].split("\n")[1].strip() == HOST_B, "B has its own hostname",
                repr(login[1]) if login else "")
        facts = vm_b.ssh("cat /var/lib/azl-agent/provisioned; cat /etc/ssh/ssh_host_ed25519_key.pub; "
                         "azl-agent status --json", root=True, check=False)
        text = facts.stdout
        c.check(text.startswith(VM_B + "\n"), "the provisioned marker names B's VM id", text[:80])
        c.check(keys_a.strip() and keys_a.strip() not in text, "new SSH host keys")
        try:
            status = json.loads(text[text.index("{"):])
        except ValueError:
            status = {}
        prov = status.get("provisioning", {})
        c.check(prov.get("state") == "ready" and prov.get("vm_id") == VM_B, "status: ready, VM id B",
                json.dumps(prov)[:300])
        results = {s["name"]: s.get("result") for s in prov.get("steps", [])}
        c.check(results.get("user") == "changed" and results.get("ssh-host-keys") == "changed" and
                results.get("marker") == "changed", "a first-boot run: user created, host keys made, marker written",
                json.dumps(results))
        an = vm_b.ssh("azl-agent analyze --json", root=True, check=False)
        try:
            boots = json.loads(an.stdout)["boots"]
        except (ValueError, KeyError):
            boots = []
        c.check(len(boots) == 1 and any(r["name"] == "ssh-host-keys" for r in boots[0]["records"]),
                "analyze: one boot (A's records went with the state), B's provisioning steps",
                an.stdout[:300] or "rc %d: %s" % (an.returncode, an.stderr[:300]))
    finally:
        for vm in (vm_b, vm_a):
            if vm is not None:
                vm.stop()
        if keep:
            shutil.copytree(out, os.path.join(keep, os.path.basename(out)), dirs_exist_ok=True, symlinks=True)
            print("kept: %s" % os.path.join(keep, os.path.basename(out)))
        shutil.rmtree(out, ignore_errors=True)
    print("%s: %d check(s) failed" % ("FAIL" if c.failed else "PASS", c.failed))
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
