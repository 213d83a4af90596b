#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""cloud-init as the oracle of azl-agent's user data (issue #18).

The same three user-data documents — a `#!` script, a cloud-config, a MIME multipart — are given (as ovf-env.xml
CustomData of the default scenario) to the cloud-init image (Debian's cloud-init 22.4.2) and to the azl-agent
image, one boot each. After Ready and the after-Ready phase (`cloud-init status --wait`, `azl-agent status
--wait`), the rig's root ssh collects the same facts from both guests:

  * users of the documents in /etc/passwd (gecos, home, shell) and their groups (by name: UIDs depend on the
    order accounts are made), the documents' groups and members, their shadow lock state;
  * every sudoers rule of those users (the lines of /etc/sudoers.d/*, whatever the file);
  * the files the documents write: bytes (sha256), mode, owner, group;
  * the markers their commands leave (content).

A table of every difference is printed; the test fails on any that is not in KNOWN (documented in
docs/userdata.md). Exit 77 without the images (tests/vm/build-image.sh), qemu, socat, ssh or a built agent.
Each boot takes 1–2 minutes under TCG: about 10 minutes for the six.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmrig  # noqa: E402

SKIP = 77
KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDFQl9NVmlqTdT2CeaPdMINCrwDsLFlUS2/eXUkNkZq5 "
       "oracle@rig (TEST KEY, do not use)")

SCRIPT = """#!/bin/sh
echo "script ran as $(id -un)" > /var/tmp/oracle-script
"""

CLOUD_CONFIG = """#cloud-config
groups:
  - oracle-ops
  - oracle-dev: [root]
users:
  - default
  - name: oracle
    gecos: Oracle User
    groups: [oracle-ops, users]
    shell: /bin/bash
    sudo: ALL=(ALL) NOPASSWD:ALL
    ssh_authorized_keys: [%s]
  - name: oracle2
    lock_passwd: false
    hashed_passwd: $6$azlDemoSalt$JEhih6sN00MmnKQOvS8oX5ObfWZt8xC6GcxlSWT/Kd9hptgMWCJ/pnEKCwp34wys6SL8iDbKjcFO2AX0cthBd.
    sudo: ['ALL=(root) NOPASSWD:/usr/bin/id', 'ALL=(ALL) ALL']
write_files:
  - path: /etc/oracle/plain.conf
    content: |
      plain text
    permissions: '0640'
  - path: /etc/oracle/octal
    content: octal
    permissions: 0600
  - path: /etc/oracle/b64.bin
    encoding: b64
    content: AAECAwQF
  - path: /etc/oracle/gz
    encoding: gz+b64
    content: H4sIAAAAAAAAA8tIzcnJBwCGphA2BQAAAA==
  - path: /etc/oracle/owned
    owner: oracle:oracle
    content: owned by oracle
    defer: true
  - path: /etc/oracle/plain.conf
    content: "appended\\n"
    append: true
bootcmd:
  - echo boot >> /var/tmp/oracle-bootcmd
runcmd:
  - [touch, /var/tmp/oracle-runcmd]
  - echo "runcmd $(id -u)" > /var/tmp/oracle-runcmd-2
""" % KEY

MULTIPART = """Content-Type: multipart/mixed; boundary="ORACLE"
MIME-Version: 1.0

--ORACLE
Content-Type: text/cloud-config; charset="us-ascii"
Content-Disposition: attachment; filename="a.yaml"

#cloud-config
users:
  - default
  - name: multi
    groups: users
write_files:
  - path: /etc/oracle/from-part-a
    content: a
runcmd:
  - echo part-a >> /var/tmp/oracle-order

--ORACLE
Content-Type: text/cloud-config
Merge-Type: list(append)+dict(recurse_array)+str()

#cloud-config
runcmd:
  - echo part-b >> /var/tmp/oracle-order
write_files:
  - path: /etc/oracle/from-part-b
    content: b
--ORACLE
Content-Type: text/x-shellscript
Content-Disposition: attachment; filename="setup.sh"

#!/bin/sh
echo setup >> /var/tmp/oracle-order
--ORACLE
Content-Type: text/cloud-boothook

#cloud-boothook
#!/bin/sh
echo "boothook" >> /var/tmp/oracle-boothook
--ORACLE--
"""

DOCS = {"script": SCRIPT, "cloud-config": CLOUD_CONFIG, "multipart": MULTIPART}
USERS = ["oracle", "oracle2", "multi"]
GROUPS = ["oracle-ops", "oracle-dev", "oracle", "users"]
FILES = ["/etc/oracle/plain.conf", "/etc/oracle/octal", "/etc/oracle/b64.bin", "/etc/oracle/gz", "/etc/oracle/owned",
         "/etc/oracle/from-part-a", "/etc/oracle/from-part-b", "/home/oracle/.ssh/authorized_keys"]
MARKERS = ["/var/tmp/oracle-script", "/var/tmp/oracle-bootcmd", "/var/tmp/oracle-runcmd", "/var/tmp/oracle-runcmd-2",
           "/var/tmp/oracle-order", "/var/tmp/oracle-boothook"]
# (document, fact kind, fact key) → why the two may differ; docs/userdata.md lists the same.
KNOWN = {
    # Debian's cloud-init 22.4.2 leaves a new user's authorized_keys 0644 root:root (sshd accepts it); azl-agent
    # gives the file to its user, 0600, as ssh-keygen and sshd's StrictModes expect. Same bytes.
    ("cloud-config", "file", "/home/oracle/.ssh/authorized_keys"): "authorized_keys 0600 user-owned (on purpose)",
}

COLLECT = r"""
set +e
for u in %(users)s; do
  l=$(getent passwd $u) && echo "passwd $u $(echo "$l" | cut -d: -f5-7)"
  [ -n "$l" ] && echo "groups $u $(id -nG $u | tr ' ' '\n' | sort | tr '\n' ' ')"
  s=$(getent shadow $u | cut -d: -f2) && case "$s" in '!'*|'*'*) echo "shadow $u locked";; '') ;; *) echo "shadow $u $s";; esac
  grep -h "^$u[[:space:]]" /etc/sudoers.d/* 2>/dev/null | sort | sed "s/^/sudo /"
done
for g in %(groups)s; do l=$(getent group $g) && echo "group $g $(echo "$l" | cut -d: -f4 | tr ',' '\n' | grep -Ev '^(azureuser)?$' | sort | tr '\n' ' ')"; done
for f in %(files)s; do [ -e "$f" ] && echo "file $f $(stat -c '%%a %%U %%G' $f) $(sha256sum < $f | cut -c1-16)"; done
for m in %(markers)s; do [ -e "$m" ] && echo "marker $m $(tr '\n' '|' < $m)"; done
true
"""


def facts(vm):
    script = COLLECT % {"users": " ".join(USERS), "groups": " ".join(GROUPS), "files": " ".join(FILES),
                        "markers": " ".join(MARKERS)}
    r = vm.ssh(script, root=True, timeout=120, check=True)
    out = {}
    for line in r.stdout.splitlines():
        kind, _, rest = line.partition(" ")
        key, _, value = rest.partition(" ")
        if kind == "sudo":
            out.setdefault(("sudo", key.split()[0] if key else ""), []).append(rest)
        else:
            out[(kind, key)] = value.strip()
    return {k: (sorted(v) if isinstance(v, list) else v) for k, v in out.items()}


def wait_root_ssh(vm, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and vm.alive():
        if vm.ssh("true", root=True, timeout=40, check=False).returncode == 0:
            return True
        time.sleep(3)
    return False


def boot(flavour, out, scenario_path, build, doc_name):
    vm = vmrig.VM(flavour, os.path.join(out, "%s-%s" % (doc_name, flavour)), scenario=scenario_path,
                  qemu_timeout=1800)  # a shared, loaded host: TCG boots take longer
    inject = None
    if flavour == "base":
        inject, _, _ = vmrig.make_inject_tar(build, vm.out)
    try:
        vm.start(inject_tar=inject)
        ready = vm.wait_ready(900, settled_unit="azl-provision.service" if flavour == "base" else None)
        if not ready:
            raise RuntimeError("%s: no Ready report" % flavour)
        # cloud-init reports Ready from its init stage, before sshd runs: the rig's root ssh first
        if not wait_root_ssh(vm, 600):
            raise RuntimeError("%s: no root ssh after Ready" % flavour)
        wait = "azl-agent status --wait >/dev/null" if flavour == "base" else "cloud-init status --wait >/dev/null"
        r = vm.ssh("timeout 600 sh -c '%s'; echo rc=$?; systemctl is-system-running --wait" % wait, root=True,
                   timeout=700, check=False)
        print("%s/%s: after-Ready phase: %s" % (doc_name, flavour, " ".join(r.stdout.split())), flush=True)
        return facts(vm)
    finally:
        vm.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("AZL_BUILD_ROOT", ""))
    ap.add_argument("--doc", action="append", choices=sorted(DOCS))
    args = ap.parse_args()
    if not vmrig.enter_private_netns():
        print("SKIP: cannot create a private network namespace (unshare --net)")
        return SKIP
    missing = vmrig.missing_tools()
    if missing:
        print("SKIP: missing tools: %s" % " ".join(missing))
        return SKIP
    for flavour in ("base", "cloudinit"):
        if not vmrig.image_dir(flavour):
            print("SKIP: VM image '%s' not built — run tests/vm/build-image.sh first" % flavour)
            return SKIP
    if not args.build or not os.path.exists(os.path.join(args.build, "agent", "azl-agent")):
        print("SKIP: no built azl-agent (pass --build or set AZL_BUILD_ROOT)")
        return SKIP

    out = tempfile.mkdtemp(prefix="azl-vm-oracle-")
    base = json.loads(open(os.path.join(vmrig.SRC, "tests", "fabric", "scenarios", "default.json")).read())
    differences, unexpected = [], 0
    try:
        for name in args.doc or sorted(DOCS):
            scen = dict(base, customData=DOCS[name])
            path = os.path.join(out, "scenario-%s.json" % name)
            with open(path, "w") as f:
                json.dump(scen, f)
            ci = boot("cloudinit", out, path, args.build, name)
            az = boot("base", out, path, args.build, name)
            print("%s: cloud-init %d facts, azl-agent %d facts" % (name, len(ci), len(az)), flush=True)
            for key in sorted(set(ci) | set(az), key=str):
                if ci.get(key) != az.get(key):
                    why = KNOWN.get((name,) + tuple(key))
                    differences.append((name, key, ci.get(key), az.get(key), why))
                    unexpected += why is None
            if not ci:
                differences.append((name, ("nothing",), "no facts", "", None))
                unexpected += 1
    finally:
        keep = os.environ.get("AZL_VM_KEEP")
        if keep:
            shutil.copytree(out, os.path.join(keep, os.path.basename(out)), dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(out, ignore_errors=True)

    print("\n%-12s %-44s %-36s %-36s %s" % ("document", "fact", "cloud-init", "azl-agent", "known"))
    for name, key, a, b, why in differences:
        print("%-12s %-44s %-36s %-36s %s" % (name, " ".join(key)[:44], str(a)[:36], str(b)[:36], why or "NO"))
    if not differences:
        print("(no difference)")
    print("%s: %d difference(s), %d unexpected" % ("FAIL" if unexpected else "PASS", len(differences), unexpected))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
