#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The confidential-VM parts (issue #22) on a real kernel: the VM rig's Debian guest (qemu TCG) against the fabric's
"confidential" scenario on the real addresses.

    test-vm-crypt.py [--build DIR]

  * azl-agent provisions the guest as a confidential VM (IMDS securityType ConfidentialVM): Ready, with the
    WireServer guard installed (required there), `status --json` saying confidential/active and the defaults;
  * `azl-agent attest` in the guest verifies the fabric's attested document over the real IMDS address, trusting
    the fabric's test root (injected as /etc/azl-agent/attestation-root.pem);
  * the encrypted-root growth test (provisioners/disk/test-grow-crypt: LUKS1/LUKS2 on loop devices, key in the dm
    table, in the kernel keyring with and without cloud-init's key file, a cached passphrase) runs in the guest,
    whose kernel has dm-crypt — the build host's may not. Every one of its tests must pass, none skip.

Exit 77 like test-vm-boot.py (no qemu/socat/ssh, image not built, agent not built). Env: AZL_VM_KEEP=DIR.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmrig  # noqa: E402

SKIP = 77
LIBDIR = "/usr/local/lib/azl-test"


def find_lib(name):
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith(name + " ") and "x86-64" in line:
            return line.split("=>")[1].strip()
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("AZL_BUILD_ROOT", ""))
    ap.add_argument("--ready-timeout", type=int, default=480)
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
    test_bin = os.path.join(args.build, "provisioners", "disk", "test-grow-crypt")
    agent = os.path.join(args.build, "agent", "azl-agent")
    cmocka = find_lib("libcmocka.so.0")
    if not os.path.exists(test_bin) or not os.path.exists(agent) or not cmocka:
        print("SKIP: needs the built azl-agent and test-grow-crypt (--build) and libcmocka.so.0")
        return SKIP

    keep = os.environ.get("AZL_VM_KEEP")
    out = tempfile.mkdtemp(prefix="azl-vm-crypt-")
    vm = vmrig.VM("base", out, scenario="confidential")
    # The fabric makes its attestation chain at <state dir>/attestation-pki unless it is there: make it now, so that
    # its root can go into the guest.
    pki = os.path.join(out, "fabric", "attestation-pki")
    subprocess.run([sys.executable, vmrig.FABRIC, "pki", "--out", pki], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(pki, "root.pem")) as f:
        root_pem = f.read()
    extra = {"/etc/azl-agent/attestation-root.pem": root_pem,
             "/etc/azl-agent/agent.conf.d/50-rig-attestation.conf":
                 "[Attestation]\nTrustAnchors=/etc/azl-agent/attestation-root.pem\n"}
    inject, enabled, dest = vmrig.make_inject_tar(args.build, out, extra_files=extra)
    os.makedirs(os.path.join(dest, LIBDIR.lstrip("/")), exist_ok=True)
    shutil.copy(test_bin, os.path.join(dest, LIBDIR.lstrip("/"), "test-grow-crypt"))
    shutil.copy(cmocka, os.path.join(dest, LIBDIR.lstrip("/"), "libcmocka.so.0"))
    inject = vmrig.pack_tar(dest, out)
    size = os.path.getsize(inject)
    if size % 512:
        with open(inject, "ab") as f:
            f.write(b"\0" * (512 - size % 512))

    failed = []

    def check(ok, what, detail=""):
        print("%s: %s%s" % ("ok" if ok else "FAIL", what, (" — " + detail) if detail else ""), flush=True)
        if not ok:
            failed.append(what)
        return ok

    try:
        vm.start(inject_tar=inject)
        ready = vm.wait_ready(args.ready_timeout, settled_unit="azl-provision.service")
        check(ready is not None, "the confidential VM was provisioned (accepted Ready)",
              json.dumps(vm.health_reports())[:600])
        # sshd comes up (host keys, the provisioning's reload) after Ready under TCG: wait for it, bounded, as
        # test-vm-boot.py does before its first login.
        deadline = time.time() + 300
        while True:
            r = vm.ssh("true", root=True, check=False, timeout=40)
            if r.returncode == 0 or time.time() > deadline or not vm.alive():
                break
            time.sleep(3)
        check(r.returncode == 0, "ssh into the guest", r.stderr[-400:])
        r = vm.ssh("azl-agent status --json", root=True, check=False, timeout=90)
        try:
            doc = json.loads(r.stdout)
        except ValueError:
            doc = {}
        conf = doc.get("confidential", {})
        check(conf.get("active") is True and (conf.get("imds") or {}).get("security_type") == "ConfidentialVM",
              "status: confidential, IMDS securityType ConfidentialVM", json.dumps(conf)[:600])
        check(conf.get("policies", {}).get("extension_signatures", "").startswith("enforce"),
              "status: extension signatures enforced by default")
        check((doc.get("firewall") or {}).get("state") == "active", "the required WireServer guard is installed",
              json.dumps(doc.get("firewall")))

        r = vm.ssh("azl-agent attest --nonce 1234567890", root=True, check=False, timeout=120)
        try:
            att = json.loads(r.stdout)
        except ValueError:
            att = {}
        check(r.returncode == 0 and att.get("nonce") == "1234567890" and att.get("vmId") == vm.endpoints["vm_id"],
              "attest in the guest verifies the fabric's document over 169.254.169.254", r.stderr[-800:])

        r = vm.ssh("modprobe dm_crypt; mkdir -p /run/cryptsetup; LD_LIBRARY_PATH=%s %s/test-grow-crypt 2>&1"
                   % (LIBDIR, LIBDIR), root=True, check=False, timeout=900)
        print(r.stdout[-6000:])
        check(r.returncode == 0, "test-grow-crypt in the guest exits 0", "rc=%d" % r.returncode)
        check("[  PASSED  ] 7 test(s)." in r.stdout and "SKIPPED" not in r.stdout,
              "all 7 encrypted-root growth tests ran and passed on a kernel with dm-crypt")
    finally:
        vm.stop()
        if keep:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(out, keep, symlinks=True)
            print("kept in " + keep)
        shutil.rmtree(out, ignore_errors=True)
    if failed:
        print("FAILED: " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
