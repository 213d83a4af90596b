# SPDX-License-Identifier: MIT
"""The operator verbs (issue #19) on scratch roots against the simulated fabric:

  * deprovision: provision, deprovision --user, provision again as a new instance (new VM id) → the same tree as a
    fresh root provisioned as that instance (files, bytes, modes; the few inherently variable files compared by
    what they must agree on); --dry-run and a declined prompt change nothing; the waagent front end maps
    -force -deprovision+user;
  * collect-logs: after provisioning and a daemon run with the sample extension, the archive holds the journal,
    status, config, state and extension files, and none of the scenario's secrets (admin password, custom data,
    protectedSettings and their plaintext, SAS signatures, private keys) — a canary line proves the search reads
    the archive's contents; the size cap and the manifest of what was left out;
  * analyze: show/blame (text and JSON) from the records of that same provisioning + daemon run, split by boot.
"""
import gzip
import io
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import azltest  # noqa: E402
from azltest import wait_for  # noqa: E402

VM_B = "0f0e0d0c-0b0a-4908-8706-050403020100"
PASSWORD = "Sup3r-S3cret-Pw!fid"
CUSTOM = "#cloud-config\nruncmd:\n  - echo CUSTOMDATA-SECRET-7d1f\n"
PROTECTED_PLAIN = "PROTECTED-SECRET-9c2e"
SAS_SIG = "SASSIGSECRETd0b2Xq%3D"
CANARY = "CANARY-VISIBLE-LINE-42"
EXT = "AzlAgent.SampleHandler"    # tests/fabric/ext/sample-handler

# Files whose content is variable by nature, compared by what two provisionings of one instance must share.
RANDOM_KEYS = "etc/ssh/ssh_host_"            # host keys: fresh random keys each time; existence and mode only
SHADOW = ("etc/shadow", "etc/shadow-")      # password hashes have a random salt: compared by what they verify
STATE = "var/lib/azl-agent/state.json"      # timestamps and durations differ
TIMELINE = "var/lib/azl-agent/timeline.jsonl"
KVP = "var/lib/hyperv/.kvp_pool_1"         # hv_kvp_daemon's pool, reset at boot; both runs happen in one boot here
CONFIDENTIAL = "var/lib/azl-agent/confidential.json"  # when it was recorded differs
# The user data's record: when it ran, and whether a module changed something. disable_root's lines in root's
# authorized_keys survive deprovision (as with waagent -deprovision+user after cloud-init), so on the reused root
# that module finds them in place ("unchanged"); the file itself is compared byte for byte.
USERDATA = "var/lib/azl-agent/userdata.json"


def tree(root):
    """{relative path: (type, mode, bytes or link target)} of every entry below root."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid))
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), (st.st_uid, st.st_gid, f.read()))
    return out


def system_dirs(root):
    """Directories any system has that the minimal scratch root lacks (root's home, dhclient's lease dir)."""
    os.makedirs(root.file("/root"), mode=0o700, exist_ok=True)
    os.makedirs(root.file("/var/lib/dhclient"), mode=0o755, exist_ok=True)


def shadow_verified(data):
    """The shadow file with each crypt hash (random salt; yescrypt as the agent writes) replaced by whether it
    matches PASSWORD."""
    lines = []
    for line in data.decode().splitlines():
        f = line.split(":")
        if len(f) > 1 and f[1].startswith("$"):
            f[1] = "<hash of the scenario password>" if azltest.crypt_matches(PASSWORD, f[1]) else "<other hash>"
        lines.append(":".join(f))
    return lines


def normalized_state(data):
    s = json.loads(data)
    for k in ("started_at", "finished_at"):
        s.pop(k)
    s["health"].pop("at")
    for step in s["steps"]:
        step.pop("duration_usec")
        step.pop("start_usec", None)
    return s


class OperatorCase(azltest.FabricTestCase):
    def refresh_media(self, root):
        """The new instance's provisioning media, as the platform attaches it."""
        media = self.fabric.media(os.path.join(self.workdir, "media-" + os.path.basename(os.path.dirname(root.path))))
        os.makedirs(root.file("/var/lib/azl-agent/seed"), exist_ok=True)
        shutil.copy(media, root.file("/var/lib/azl-agent/seed/ovf-env.xml"))

    def provision_ok(self, root):
        r = root.run("provision")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(root.read("/var/lib/azl-agent/state.json"))["state"], "ready")


class Deprovision(OperatorCase):
    def test_dry_run_and_declined_prompt_change_nothing(self):
        fabric, root = self.start()
        self.provision_ok(root)
        before = tree(root.path)
        r = root.run("deprovision", "--user", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in ("userdel  azureuser", "remove   /etc/ssh/ssh_host_ed25519_key",
                     "remove   /var/lib/azl-agent/provisioned", "remove   /var/lib/azl-agent/seed",
                     "remove   /etc/sudoers.d/azl-agent", "lock     /etc/shadow", "reset    /etc/hostname"):
            self.assertIn(line, r.stdout)
        self.assertEqual(tree(root.path), before)
        r = subprocess.run([azltest.AGENT, "--root", root.path, "deprovision", "--user"], input="n\n",
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Do you want to proceed? [y/N] Nothing changed.", r.stdout)
        self.assertEqual(tree(root.path), before)

    def test_reprovision_as_new_instance_equals_fresh_root(self):
        fabric, r2 = self.start({"admin": {"password": PASSWORD, "disablePasswordAuthentication": False}})
        self.provision_ok(r2)
        first_keys = r2.read("/etc/ssh/ssh_host_ed25519_key.pub")
        system_dirs(r2)
        with open(r2.file("/root/.bash_history"), "w") as f:
            f.write("ls\n")
        with open(r2.file("/home/azureuser/.bash_history"), "w") as f:
            f.write("sudo waagent -force -deprovision+user\n")
        with open(r2.file("/var/lib/dhclient/dhclient--eth0.lease"), "w") as f:
            f.write("lease { fixed-address 10.0.0.4; }\n")
        os.makedirs(r2.file("/var/lib/waagent/" + EXT + "-1.0.0/status"), exist_ok=True)

        r = r2.run("deprovision", "--user", "--force")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        self.assertIsNone(r2.passwd_entry("azureuser"))
        for gone in ("/home/azureuser", "/etc/sudoers.d/azl-agent", "/etc/ssh/ssh_host_ed25519_key",
                     "/etc/hostname", "/root/.bash_history", "/var/lib/dhclient/dhclient--eth0.lease",
                     "/var/lib/waagent", "/var/lib/azl-agent/provisioned", "/var/lib/azl-agent/state.json",
                     "/var/lib/azl-agent/seed", "/var/lib/azl-agent/ovf-env.xml"):
            self.assertFalse(os.path.lexists(r2.file(gone)), gone)
        self.assertTrue(os.path.isdir(r2.file("/var/lib/azl-agent")))
        self.assertEqual(os.listdir(r2.file("/var/lib/azl-agent")), [])
        root_shadow = [l for l in r2.read("/etc/shadow").splitlines() if l.startswith("root:")][0]
        self.assertIn(root_shadow.split(":")[1], ("*", "!", "!!", "!*", "*LOCK*"))
        self.assertEqual(r2.run("status").stdout.count("not run"), 1)

        # The image boots as a new VM: new VM id, its own media.
        fabric.patch_scenario({"vm": {"vmId": VM_B}})
        self.refresh_media(r2)
        self.provision_ok(r2)
        self.assertEqual(r2.read("/var/lib/azl-agent/provisioned"), VM_B + "\n")
        self.assertNotEqual(r2.read("/etc/ssh/ssh_host_ed25519_key.pub"), first_keys)

        # A fresh root provisioned as the same new instance.
        os.makedirs(os.path.join(self.workdir, "fresh"))
        r1 = azltest.ScratchRoot(os.path.join(self.workdir, "fresh"), fabric)
        system_dirs(r1)
        self.provision_ok(r1)

        a, b = tree(r1.path), tree(r2.path)
        self.assertEqual(sorted(a), sorted(b), "the same files exist")
        for rel in sorted(a):
            if rel.startswith(RANDOM_KEYS):
                self.assertEqual(a[rel][:2], b[rel][:2], rel)
                self.assertEqual(a[rel][2][:2], b[rel][2][:2], rel)
            elif rel == STATE:
                self.assertEqual(normalized_state(a[rel][2][2]), normalized_state(b[rel][2][2]))
                self.assertEqual(a[rel][:2], b[rel][:2])
            elif rel == TIMELINE:
                def steps(data):
                    return [(x["source"], x["name"], x["result"]) for x in map(json.loads, data.splitlines())]
                self.assertEqual(steps(a[rel][2][2]), steps(b[rel][2][2]))
            elif rel in SHADOW:
                self.assertEqual(a[rel][:2], b[rel][:2], rel)
                self.assertEqual(a[rel][2][:2], b[rel][2][:2], rel)
                self.assertEqual(shadow_verified(a[rel][2][2]), shadow_verified(b[rel][2][2]), rel)
            elif rel == KVP:
                self.assertEqual(a[rel][:2], b[rel][:2])
            elif rel == USERDATA:
                def record(data):
                    d = json.loads(data)
                    d.pop("provisioned_at", None)
                    for m in d.get("modules", []):
                        m.pop("result", None)
                        m.pop("summary", None)
                    return d
                self.assertEqual(a[rel][:2], b[rel][:2])
                self.assertEqual(record(a[rel][2][2]), record(b[rel][2][2]))
            elif rel == CONFIDENTIAL:
                def verdict(data):
                    d = json.loads(data)
                    d.pop("recorded_at")
                    return d
                self.assertEqual(a[rel][:2], b[rel][:2])
                self.assertEqual(verdict(a[rel][2][2]), verdict(b[rel][2][2]))
            else:
                self.assertEqual(a[rel], b[rel], rel)


class WaagentFrontEnd(OperatorCase):
    """The waagent command maps onto azl-agent. It has no --root (it serves the real root), so it is run next to a
    stand-in azl-agent that records its argv: the front end execs the azl-agent in its own directory first."""

    def test_argv_mapping(self):
        d = os.path.join(self.workdir, "bin")
        os.makedirs(d)
        shutil.copy(os.path.join(os.path.dirname(azltest.AGENT), "waagent"), d)
        record = os.path.join(self.workdir, "argv")
        with open(os.path.join(d, "azl-agent"), "w") as f:
            f.write("#!/bin/sh\nprintf '%%s\\n' \"$@\" > %s\n" % record)
        os.chmod(os.path.join(d, "azl-agent"), 0o755)
        waagent = os.path.join(d, "waagent")
        cases = [(["-force", "-deprovision+user"], ["deprovision", "--user", "--force"]),
                 (["-deprovision"], ["deprovision"]),
                 (["--deprovision", "-force", "-verbose"], ["-v", "deprovision", "--force"]),
                 (["/deprovision+user"], ["deprovision", "--user"]),
                 (["-collect-logs", "-full"], ["collect-logs"])]
        for args, want in cases:
            r = subprocess.run([waagent] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(record) as f:
                self.assertEqual(f.read().split("\n")[:-1], want, args)
        r = subprocess.run([waagent, "-version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^azl-agent \S+ \(waagent compatibility front end\)")
        for bad in (["-daemon"], ["-deprovision", "-collect-logs"], []):
            if os.path.exists(record):
                os.unlink(record)
            r = subprocess.run([waagent] + bad, capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, bad)
            self.assertFalse(os.path.exists(record), bad)


class DaemonRun(OperatorCase):
    """A provisioning and a daemon run that processed the sample extension: real records and files."""

    def run_daemon_until_ready(self, root):
        log = open(os.path.join(self.workdir, "daemon.log"), "w")
        d = subprocess.Popen([azltest.AGENT, "--root", root.path, "-v", "daemon"], stdout=log, stderr=subprocess.STDOUT)
        try:
            def ready():
                try:
                    blob = json.loads(self.fabric._control("GET", "/status-blob"))
                except Exception:
                    return None
                hs = blob.get("aggregateStatus", {}).get("handlerAggregateStatus", [])
                return any(h.get("handlerName") == EXT and h.get("status") == "Ready" for h in hs)
            wait_for("the sample extension Ready", ready, 90)
        finally:
            d.send_signal(signal.SIGTERM)
            d.wait(20)
            log.close()

    def setUp(self):
        super().setUp()
        fabric, root = self.start({"admin": {"password": PASSWORD, "disablePasswordAuthentication": False},
                                   "customData": CUSTOM,
                                   "extensions": [{"name": EXT, "version": "1.0.0", "source": "ext/sample-handler",
                                                   "state": "enabled", "seqNo": 0,
                                                   "publicSettings": {"message": "hello from azfabric"},
                                                   "protectedSettings": {"secret": PROTECTED_PLAIN},
                                                   "protectedSettingsCert": 0}]},
                                  conf_extra="GoalStatePeriodSec=1\n")
        self.provision_ok(root)
        self.run_daemon_until_ready(root)


class CollectLogs(DaemonRun):
    def plant(self, root):
        """What a handler's own log and a goal-state copy might hold: every kind of secret, and a canary."""
        logdir = root.file("/var/log/azure/" + EXT)
        os.makedirs(logdir, exist_ok=True)
        with open(os.path.join(logdir, "extension.log"), "w") as f:
            f.write(f"{CANARY}\n"
                    f"uploading to https://acct.blob.core.windows.net/vhds/status?sv=2020-08-04&sig={SAS_SIG}&se=2030\n"
                    f"decrypted settings: {{\"secret\": \"{PROTECTED_PLAIN}\"}}\n"
                    "{\"adminPassword\": \"another-pw-value\", \"user\": \"azureuser\"}\n")
        with open(root.file("/var/lib/waagent/ExtensionsConfig.1.xml"), "w") as f:
            f.write("<Extensions><StatusUploadBlob>https://acct.blob.core.windows.net/s?sig=" + SAS_SIG +
                    "</StatusUploadBlob><PluginSettings><Plugin name=\"x\"><RuntimeSettings seqNo=\"0\">"
                    "{\"runtimeSettings\":[{\"handlerSettings\":{\"protectedSettingsCertThumbprint\":\"AB\","
                    "\"protectedSettings\":\"MIIBxgYJKoZIhvcNAQcDoIIBtzPLANTEDBLOB\"}}]}"
                    "</RuntimeSettings></Plugin></PluginSettings></Extensions>\n")

    def secrets(self, root):
        """The scenario's secrets as they exist on this machine, each of which must not be in the archive."""
        out = {"password": PASSWORD, "custom data": "CUSTOMDATA-SECRET-7d1f", "protected plaintext": PROTECTED_PLAIN,
               "SAS signature": SAS_SIG, "planted protectedSettings": "MIIBxgYJKoZIhvcNAQcDoIIBtzPLANTEDBLOB",
               "planted password": "another-pw-value", "private key": "PRIVATE KEY"}
        import base64
        out["custom data (base64)"] = base64.b64encode(CUSTOM.encode()).decode()
        lib = root.file("/var/lib/waagent")
        prv = [f for f in os.listdir(lib) if f.endswith(".prv")]
        self.assertTrue(prv, os.listdir(lib))
        for p in prv:
            with open(os.path.join(lib, p)) as f:
                body = [l for l in f.read().splitlines() if l and not l.startswith("-----")]
            out["private key line of " + p] = body[1]
        settings = [os.path.join(d, f) for d, _, fs in os.walk(lib) for f in fs if f.endswith(".settings")]
        self.assertTrue(settings)
        for s in settings:
            with open(s) as f:
                ps = json.load(f)["runtimeSettings"][0]["handlerSettings"]["protectedSettings"]
            out["protectedSettings of " + os.path.basename(s)] = ps
        # The seed holds the custom data in clear, as the provisioning media does; its password was scrubbed after
        # use (docs/security.md), which is the only reason it is not there.
        seed = root.read("/var/lib/azl-agent/seed/ovf-env.xml")
        self.assertIn('scrubbed-by="azl-agent"', seed)
        self.assertNotIn(PASSWORD, seed)
        self.assertIn(base64.b64encode(CUSTOM.encode()).decode(), seed)
        return out

    def archive_text(self, path):
        with tarfile.open(path) as t:
            members = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
        return members, b"\n".join(members.values())

    def test_secrets_removed_canary_kept(self):
        root = self.root
        self.plant(root)
        secrets = self.secrets(root)
        out = os.path.join(self.workdir, "logs.tar.gz")
        r = root.run("collect-logs", "-o", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), out)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out, "rb") as f:
            self.assertEqual(f.read(2), b"\x1f\x8b")
        members, blob = self.archive_text(out)
        # The search works on what is inside: the canary is found.
        self.assertIn(CANARY.encode(), blob)
        for what, s in secrets.items():
            self.assertNotIn(s.encode(), blob, what)
        names = set(members)
        for want in ("azl-agent-logs/MANIFEST.txt", "azl-agent-logs/journal.txt", "azl-agent-logs/status.json",
                     "azl-agent-logs/agent.conf", "azl-agent-logs/var/lib/azl-agent/state.json",
                     "azl-agent-logs/var/lib/azl-agent/timeline.jsonl",
                     "azl-agent-logs/var/lib/azl-agent/seed/ovf-env.xml",
                     "azl-agent-logs/var/log/azure/%s/extension.log" % EXT,
                     "azl-agent-logs/var/lib/waagent/ExtensionsConfig.1.xml"):
            self.assertIn(want, names)
        self.assertTrue(any(n.endswith("/config/0.settings") for n in names), names)
        self.assertTrue(any(n.endswith("/status/0.status") for n in names), names)
        self.assertFalse(any(n.endswith(".prv") or n.endswith(".crt") for n in names), names)
        status = json.loads(members["azl-agent-logs/status.json"])
        self.assertEqual(status["provisioning"]["state"], "ready")
        # What replaced the secrets, and the manifest's account of what was left out.
        self.assertIn(b'"protectedSettings":"(removed)"', blob.replace(b" ", b""))
        # the seed was scrubbed after provisioning (nothing left to remove); the element redaction is test-redact's
        self.assertIn(b"<UserPassword scrubbed-by=\"azl-agent\"/>", members["azl-agent-logs/var/lib/azl-agent/seed/ovf-env.xml"])
        self.assertIn(b"sig=***", members["azl-agent-logs/var/log/azure/%s/extension.log" % EXT])
        manifest = members["azl-agent-logs/MANIFEST.txt"].decode()
        self.assertRegex(manifest, r"var/lib/waagent/[0-9A-F]{40}\.prv +private key or certificate material")
        self.assertRegex(manifest, r"var/lib/waagent/%s-1.0.0/\S+ +handler package file" % EXT)

    def test_size_cap_and_zstd(self):
        root = self.root
        big = root.file("/var/log/azure/%s/big.log" % EXT)
        os.makedirs(os.path.dirname(big), exist_ok=True)
        with open(big, "w") as f:
            f.write(("x" * 99 + "\n") * 30000)   # 3 MB
        out = os.path.join(self.workdir, "logs.tar.gz")
        r = root.run("collect-logs", "-o", out, "--max-size", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        members, _ = self.archive_text(out)
        self.assertNotIn("azl-agent-logs/var/log/azure/%s/big.log" % EXT, members)
        self.assertLess(sum(len(v) for v in members.values()), 1024 * 1024 + 64 * 1024)
        self.assertRegex(members["azl-agent-logs/MANIFEST.txt"].decode(), r"big\.log +size cap reached")
        if shutil.which("zstd"):
            out = os.path.join(self.workdir, "logs.tar.zst")
            r = root.run("collect-logs", "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(4), b"\x28\xb5\x2f\xfd")
            tar = subprocess.run(["zstd", "-dc", out], capture_output=True, check=True).stdout
            with tarfile.open(fileobj=io.BytesIO(tar)) as t:
                self.assertIn("azl-agent-logs/MANIFEST.txt", t.getnames())


class AnalyzeEmpty(OperatorCase):
    def test_no_records(self):
        fabric, root = self.start()
        r = root.run("analyze")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("No records yet", r.stdout)
        self.assertEqual(json.loads(root.run("analyze", "--json").stdout), {"boots": []})


class Analyze(DaemonRun):
    def test_show_blame_json_per_boot(self):
        root = self.root
        r = root.run("analyze", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(len(doc["boots"]), 1)
        recs = doc["boots"][0]["records"]
        prov = [x["name"] for x in recs if x["source"] == "provision"]
        # provision_boot_steps (agent/provision.c); proxy-agent records nothing without ProvisionGuestProxyAgent
        self.assertEqual(prov[:5], ["media", "imds", "firewall", "wireserver", "network"])
        self.assertIn("report-ready", prov)
        ext = [x for x in recs if x["source"] == "extension"]
        ops = [x["name"].rsplit(" ", 1)[1] for x in ext]
        for op in ("download", "install", "enable"):
            self.assertIn(op, ops)
        self.assertTrue(all(x["result"] == "success" for x in ext), ext)
        self.assertTrue(all(x["duration_usec"] >= 0 and x["offset_usec"] >= 0 for x in recs))
        self.assertTrue(all(x["run"] for x in recs))
        # Offsets follow the start times; provisioning came first.
        offsets = [x["offset_usec"] for x in recs]
        self.assertEqual(offsets, sorted(offsets))
        self.assertEqual(recs[0]["offset_usec"], 0)

        show = root.run("analyze", "show").stdout
        self.assertIn("-- Boot 1 of 1 (boot id ", show)
        self.assertIn("provisioning run started ", show)
        self.assertIn("extensions goal state ", show)
        self.assertRegex(show, r"\|`->ssh-host-keys +@\d+\.\d{6}s +\+\d+\.\d{6}s +changed")

        blame = json.loads(root.run("analyze", "blame", "--json").stdout)["boots"][0]["records"]
        durations = [x["duration_usec"] for x in blame]
        self.assertEqual(durations, sorted(durations, reverse=True))
        text = root.run("analyze", "blame").stdout
        self.assertEqual(text.splitlines()[1].split()[0], "%d.%06ds" % divmod(durations[0], 1000000))

        # An earlier boot: the same run's records with another boot id, before this boot's.
        path = root.file("/var/lib/azl-agent/timeline.jsonl")
        with open(path) as f:
            lines = f.read().splitlines()
        earlier = []
        for line in lines:
            x = json.loads(line)
            x["boot_id"] = "0" * 32
            earlier.append(json.dumps(x))
        with open(path, "w") as f:
            f.write("\n".join(earlier + lines) + "\n{truncated by a crash\n")
        r = root.run("analyze", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Ignored 1 damaged line", r.stderr)
        boots = json.loads(r.stdout)["boots"]
        self.assertEqual([b["boot_id"] for b in boots][0], "0" * 32)
        self.assertEqual(len(boots), 2)
        self.assertEqual(len(boots[0]["records"]), len(boots[1]["records"]))
        self.assertIn("-- Boot 2 of 2", root.run("analyze").stdout)

if __name__ == "__main__":
    azltest.main()
