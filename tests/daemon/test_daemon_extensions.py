#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Extension handlers run for real by `azl-agent daemon` (issue #8) against the simulated fabric, in a private network
namespace. The handlers are the recorder test extension (tests/extensions/handlers/recorder), which appends every
operation it runs to $AZL_TEST_RECORD and dumps the §4.4 environment and the settings file it saw into its directory.

  * multi-config (scenario ext-multiconfig): two instances of one handler → config/<ext>.<seq>.settings each, with
    the protected settings still encrypted to the tenant certificate (decrypted here with the .crt/.prv the daemon
    wrote), ConfigExtensionName/ConfigSequenceNumber per instance, one handlerAggregateStatus entry per instance
    with its extensionName; then disabling one instance runs its disable, deletes its files and stops reporting it;
  * dependencies (scenario ext-dependencies): B depends on A; A's status turns terminal only after its enable has
    returned, and B's install starts only after that (the recorder's log), protocol §4.6;
  * a failing install: code 1007 and "Non-zero exit code: 7, <cmd>\\n[stdout]…" (protocol §4.5); the dependent handler is
    skipped with code -1 and waagent's "Skipping processing of extensions since execution of dependent extension …";
  * update 1.0.0 → 1.1.0 and uninstall through new incarnations: the exact operation order of protocol §4.6;
  * certificates that change under the same incarnation (issue #19): a new container id (hibernate-resume) brings a
    new <thumb>.crt/.prv (0600) without an ExtensionsConfig fetch, and a Fast Track goal state whose protected
    settings are encrypted to a certificate the agent does not hold makes it fetch the Certificates; the recorder
    decrypts its settings with the files;
  * a container host (ref issue #8): the daemon at / in a private mount namespace where / (hence /usr and /etc) is
    read-only and only /var and /run are writable; the sample extension and the recorder succeed and nothing but
    /var and /run was written. Skipped without root or mount namespaces.
"""
import base64
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
import azltest  # noqa: E402
from test_daemon import PERIOD, DaemonTest, wait_for  # noqa: E402

SCENARIOS = os.path.join(azltest.SRC, "tests", "fabric", "scenarios")
RECORDER = os.path.join(azltest.SRC, "tests", "extensions", "handlers", "recorder")
SAMPLE = "AzlAgent.SampleHandler"
FEATURES = '[{"Key": "ExtensionTelemetryPipeline", "Value": "1.0"}]'


def scenario_patch(name):
    """A scenario of tests/fabric/scenarios as a merge patch over the default one (sources made absolute)."""
    with open(os.path.join(SCENARIOS, name + ".json")) as f:
        sc = json.load(f)
    for ext in sc.get("extensions", []):
        if ext.get("source") and not os.path.isabs(ext["source"]):
            ext["source"] = os.path.normpath(os.path.join(SCENARIOS, ext["source"]))
    return sc


class ExtensionsTest(DaemonTest):
    def setUp(self):
        super().setUp()
        self.record = os.path.join(self.workdir, "record.txt")

    def start_daemon(self, env=None):
        super().start_daemon(dict({"AZL_TEST_RECORD": self.record}, **(env or {})))

    def recorded(self):
        try:
            with open(self.record) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def entries(self, name, blob=None):
        blob = blob if blob is not None else self.status_blob()
        return [h for h in (blob or {}).get("aggregateStatus", {}).get("handlerAggregateStatus", [])
                if h.get("handlerName") == name]

    @staticmethod
    def settings_status(entry):
        return entry.get("runtimeSettingsStatus", {}).get("settingsStatus", {}).get("status", {})

    def wait_success(self, name, count=1, version=None, timeout=60):
        """Until `count` entries of handler `name` are Ready with a terminal success settings status."""
        def ok():
            es = self.entries(name)
            if len(es) == count and all(e["status"] == "Ready" and self.settings_status(e).get("status") == "success"
                                        and (version is None or e["handlerVersion"] == version) for e in es):
                return es
            return None
        return wait_for("%d %s entr%s Ready/success" % (count, name, "y" if count == 1 else "ies"), ok, timeout)

    def handler_dir(self, name, version):
        return self.root.file("/var/lib/waagent/%s-%s" % (name, version))

    def read_handler_file(self, name, version, rel):
        with open(os.path.join(self.handler_dir(name, version), rel)) as f:
            return f.read()

    def wire_host(self):
        return self.fabric.endpoints["wireserver"].rsplit(":", 1)[0]


class TestMultiConfig(ExtensionsTest):
    NAME = "AzlTest.MultiConfig"

    def decrypt(self, protected, thumb):
        libdir = self.root.file("/var/lib/waagent")
        p = subprocess.run(["openssl", "smime", "-decrypt", "-inform", "DER", "-recip",
                            os.path.join(libdir, thumb + ".crt"), "-inkey", os.path.join(libdir, thumb + ".prv")],
                           input=base64.b64decode(protected), capture_output=True, check=True)
        return json.loads(p.stdout)

    def test_two_instances_then_disable_one(self):
        patch = scenario_patch("ext-multiconfig")
        self.start_all(patch)
        entries = self.wait_success(self.NAME, count=2, version="1.0.0")
        by_name = {e["runtimeSettingsStatus"]["extensionName"]: e for e in entries}
        self.assertEqual(set(by_name), {"first", "second"})
        for inst, seq in (("first", 1), ("second", 2)):
            e = by_name[inst]
            self.assertEqual(e["runtimeSettingsStatus"]["sequenceNumber"], seq)
            self.assertEqual(e["code"], 0)
            self.assertEqual(self.settings_status(e)["formattedMessage"]["message"], "enabled 1.0.0")
        # install once (for the first instance, as waagent), enable per instance, in goal-state order
        self.assertEqual(self.recorded(), "install 1.0.0 first\nenable 1.0.0 first\nenable 1.0.0 second\n")

        # Settings files per instance (protocol §4.3): public settings as given, protected still encrypted to the tenant
        # certificate, which the daemon wrote as <thumb>.crt/.prv; each instance saw its own file.
        thumb = self.control_json("/state")["goalState"]["tenantCertificates"][0]["thumbprint"]
        d = self.handler_dir(self.NAME, "1.0.0")
        self.assertEqual(sorted(f for f in os.listdir(os.path.join(d, "config")) if f.endswith(".settings")),
                         ["first.1.settings", "second.2.settings"])
        first = json.loads(self.read_handler_file(self.NAME, "1.0.0", "config/first.1.settings"))
        hs = first["runtimeSettings"][0]["handlerSettings"]
        self.assertEqual(hs["publicSettings"], {"instance": "first", "n": 1})
        self.assertEqual(hs["protectedSettingsCertThumbprint"], thumb)
        self.assertEqual(self.decrypt(hs["protectedSettings"], thumb), {"secret": "first-protected-value"})
        second = json.loads(self.read_handler_file(self.NAME, "1.0.0", "config/second.2.settings"))
        # no protected settings: explicit nulls, which extensions depend on (protocol §4.3)
        self.assertEqual(second, {"runtimeSettings": [{"handlerSettings": {
            "publicSettings": {"instance": "second", "n": 2}, "protectedSettings": None,
            "protectedSettingsCertThumbprint": None}}]})
        for inst, seq in (("first", 1), ("second", 2)):
            self.assertEqual(self.read_handler_file(self.NAME, "1.0.0", "settings-seen-enable-%s.json" % inst),
                             self.read_handler_file(self.NAME, "1.0.0", "config/%s.%d.settings" % (inst, seq)))
            # the §4.4 variables exactly, per instance (sorted by the handler)
            self.assertEqual(self.read_handler_file(self.NAME, "1.0.0", "env-enable-%s.txt" % inst),
                             "AZURE_GUEST_AGENT_EXTENSION_PATH=%s\n"
                             "AZURE_GUEST_AGENT_EXTENSION_SUPPORTED_FEATURES=%s\n"
                             "AZURE_GUEST_AGENT_EXTENSION_VERSION=1.0.0\n"
                             "AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=NOT_RUN\n"
                             "AZURE_GUEST_AGENT_WIRE_PROTOCOL_ADDRESS=%s\n"
                             "ConfigExtensionName=%s\n"
                             "ConfigSequenceNumber=%d\n" % (d, FEATURES, self.wire_host(), inst, seq))
            self.assertEqual(self.read_handler_file(self.NAME, "1.0.0", "config/%s.HandlerState" % inst), "enabled")
            with open(os.path.join(d, "status", "%s.%d.status" % (inst, seq))) as f:
                self.assertEqual(json.load(f)[0]["status"]["status"], "success")
        self.assertEqual(self.read_handler_file(self.NAME, "1.0.0", "config/HandlerState"), "Enabled")

        # Disable "second", new settings for "first" (protocol §4.6 multi-config): second's disable runs first, its files
        # go, it is no longer reported; first is enabled again with seqNo 3.
        os.unlink(self.record)
        ext = patch["extensions"][0]
        ext["multiConfig"][0].update(seqNo=3, publicSettings={"instance": "first", "n": 3})
        ext["multiConfig"][1]["state"] = "disabled"
        self.fabric.patch_scenario({"extensions": patch["extensions"]})

        def settled():
            # A blob uploaded mid-run may carry the entry before its new settings status: not settled yet.
            es = self.entries(self.NAME)
            # An entry without runtimeSettingsStatus is a handler between operations: not settled yet either.
            return es if (len(es) == 1 and es[0].get("runtimeSettingsStatus", {}).get("sequenceNumber") == 3
                          and self.settings_status(es[0]).get("status") == "success") else None
        entries = wait_for("only the first instance reported, with seqNo 3", settled, timeout=30)
        self.assertEqual(entries[0]["runtimeSettingsStatus"]["extensionName"], "first")
        self.assertEqual(self.recorded(), "disable 1.0.0 second\nenable 1.0.0 first\n")
        config = sorted(os.listdir(os.path.join(d, "config")))
        self.assertIn("first.3.settings", config)
        self.assertEqual([f for f in config if f.startswith("second.")], [])
        self.assertEqual([f for f in os.listdir(os.path.join(d, "status")) if f.startswith("second.")], [])
        self.assertIn("ConfigSequenceNumber=3\n", self.read_handler_file(self.NAME, "1.0.0", "env-enable-first.txt"))
        self.stop_daemon()


class TestDependencies(ExtensionsTest):
    A, B = "AzlTest.DependencyA", "AzlTest.DependsOnA"

    def test_b_waits_for_a_terminal_status(self):
        # A's enable leaves "transitioning"; its terminal status comes 2 s after enable returned.
        self.start(scenario_patch("ext-dependencies"), f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon({"AZL_TEST_STATUS_DELAY": "2"})
        self.wait_success(self.A, version="1.0.0")
        self.wait_success(self.B, version="2.0.0")
        wait_for("B's terminal status recorded", lambda: "status-success 2.0.0" in self.recorded())
        # B is listed first in the goal state, A (level 0) runs first; B's install starts only once A's status
        # is terminal (the dependency wait polls every 5 s, protocol §4.6).
        self.assertEqual(self.recorded(), "install 1.0.0\nenable 1.0.0\nstatus-success 1.0.0\n"
                                          "install 2.0.0\nenable 2.0.0\nstatus-success 2.0.0\n")
        self.stop_daemon()

    def test_failing_install_skips_dependent(self):
        self.start(scenario_patch("ext-dependencies"), f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon({"AZL_TEST_FAIL": "install"})

        def reported():
            a, b = self.entries(self.A), self.entries(self.B)
            return (a[0], b[0]) if a and b and a[0]["code"] != 0 and b[0]["code"] != 0 else None
        a, b = wait_for("both handlers reported failed", reported, timeout=60)
        # protocol §4.5: the operation's code (1007 InstallProcessingFailed), the exit code and output in the message
        self.assertEqual(a["status"], "NotReady")
        self.assertEqual(a["code"], 1007)
        msg = a["formattedMessage"]["message"]
        self.assertTrue(msg.startswith("Non-zero exit code: 7, "), msg)
        self.assertIn("%s/handler.sh install\n[stdout]\nrecorder install stdout\n" % self.handler_dir(self.A, "1.0.0"), msg)
        self.assertIn("[stderr]\nrecorder install stderr\n", msg)
        self.assertNotIn("runtimeSettingsStatus", a)   # enable never ran: no status file
        # protocol §4.6: nothing of B ran; it is reported with waagent's message and code -1
        self.assertEqual(b["status"], "NotReady")
        self.assertEqual(b["code"], -1)
        self.assertEqual(b["formattedMessage"]["message"],
                         "Skipping processing of extensions since execution of dependent extension %s failed" % self.A)
        self.assertEqual(self.recorded(), "install 1.0.0\n")
        self.assertEqual(self.read_handler_file(self.A, "1.0.0", "config/HandlerState"), "NotInstalled")
        self.assertFalse(os.path.exists(self.handler_dir(self.B, "2.0.0")), "B was not even downloaded")
        self.stop_daemon()


class TestUpdateUninstall(ExtensionsTest):
    NAME = "AzlTest.Lifecycle"

    def ext(self, version, seq, state="enabled"):
        return {"extensions": [{"name": self.NAME, "version": version, "source": RECORDER, "state": state,
                                "seqNo": seq, "publicSettings": {"seq": seq}}]}

    def test_update_then_uninstall_order(self):
        self.start_all(self.ext("1.0.0", 0))
        self.wait_success(self.NAME, version="1.0.0")
        self.assertEqual(self.recorded(), "install 1.0.0\nenable 1.0.0\n")
        os.unlink(self.record)

        # protocol §4.6 update: old disable, (mrseq/status copied), new update, old uninstall, new install, new enable
        self.fabric.patch_scenario(self.ext("1.1.0", 1))
        entry = self.wait_success(self.NAME, version="1.1.0")[0]
        self.assertEqual(entry["runtimeSettingsStatus"]["sequenceNumber"], 1)
        self.assertEqual(self.recorded(),
                         "disable 1.0.0\nupdate 1.1.0\nuninstall 1.0.0\ninstall 1.1.0\nenable 1.1.0\n")
        self.assertFalse(os.path.exists(self.handler_dir(self.NAME, "1.0.0")))
        upd = self.read_handler_file(self.NAME, "1.1.0", "env-update.txt")
        for line in ("VERSION=1.1.0", "AZURE_GUEST_AGENT_UPDATING_FROM_VERSION=1.0.0",
                     "AZURE_GUEST_AGENT_DISABLE_CMD_EXIT_CODE=0"):
            self.assertIn(line + "\n", upd)
        self.assertIn("AZURE_GUEST_AGENT_UNINSTALL_CMD_EXIT_CODE=0\n",
                      self.read_handler_file(self.NAME, "1.1.0", "env-install.txt"))
        self.assertEqual(self.read_handler_file(self.NAME, "1.1.0", "config/HandlerState"), "Enabled")
        os.unlink(self.record)

        # protocol §4.6 uninstall: disable, uninstall, directory removed, no longer reported
        self.fabric.patch_scenario(self.ext("1.1.0", 1, state="uninstall"))
        wait_for("the handler to disappear from disk and the status blob", lambda: self.status_blob() is not None and
                 not self.entries(self.NAME) and not os.path.exists(self.handler_dir(self.NAME, "1.1.0")), timeout=30)
        self.assertEqual(self.recorded(), "disable 1.1.0\nuninstall 1.1.0\n")
        self.assertFalse(os.path.exists(self.handler_dir(self.NAME, "1.1.0")))
        self.stop_daemon()


SIGNING_ROOT = "/usr/share/azl-agent/microsoft_root_certificate.pem"      # read from the daemon's --root


class TestSignatures(ExtensionsTest):
    """SignatureValidation= (issue #17 §2): three packages built from the recorder — unsigned, signed but tampered
    (the zip served is not the one signed), validly signed by a test CA whose root is the root's trust anchor —
    under off, report and enforce. Asserted per cell: the handler directory on disk and its marker, whether the
    handler ran (the recorder's log), the entry in the fabric's status blob (status, code, message, settings
    status) and the daemon's log line."""
    # name → (version, kind); versions differ so that the recorder's log tells the handlers apart
    HANDLERS = {"AzlTest.Unsigned": ("1.0.1", "unsigned"), "AzlTest.Tampered": ("1.0.2", "tampered"),
                "AzlTest.Signed": ("1.0.3", "valid")}

    @classmethod
    def setUpClass(cls):
        cls.pki = tempfile.mkdtemp(prefix="azl-sig-")
        p = lambda *a: os.path.join(cls.pki, *a)  # noqa: E731
        with open(p("ca.cnf"), "w") as f:
            f.write("[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\n"
                    "keyUsage=critical,keyCertSign\n[leaf]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")
        run = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("root.key"), "-out",
            p("root.pem"), "-days", "2", "-subj", "/CN=AzlTest Signing Root", "-config", p("ca.cnf"),
            "-extensions", "ca")
        run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p("leaf.key"), "-out", p("leaf.csr"),
            "-subj", "/CN=AzlTest Publisher", "-config", p("ca.cnf"))
        run("openssl", "x509", "-req", "-in", p("leaf.csr"), "-CA", p("root.pem"), "-CAkey", p("root.key"),
            "-CAcreateserial", "-out", p("leaf.pem"), "-days", "2", "-extfile", p("ca.cnf"), "-extensions", "leaf")
        cls.packages = {}
        for name, (version, kind) in cls.HANDLERS.items():
            publisher, typ = name.rsplit(".", 1)
            with open(os.path.join(RECORDER, "HandlerManifest.json")) as f:
                manifest = json.load(f)
            manifest[0]["signingInfo"] = {"type": typ, "publisher": publisher, "version": version}
            signed = p(name + ".zip")
            cls.make_zip(signed, manifest, extra=None)
            sig = None
            if kind != "unsigned":
                run("openssl", "cms", "-sign", "-binary", "-in", signed, "-signer", p("leaf.pem"), "-inkey",
                    p("leaf.key"), "-md", "sha384", "-outform", "DER", "-out", signed + ".p7s")
                with open(signed + ".p7s", "rb") as f:
                    sig = base64.b64encode(f.read()).decode()
            served = signed
            if kind == "tampered":
                served = p(name + "-served.zip")
                cls.make_zip(served, manifest, extra=("tampered.txt", "not what was signed\n"))
            cls.packages[name] = (version, kind, served, sig)

    @classmethod
    def tearDownClass(cls):
        subprocess.run(["rm", "-rf", cls.pki])

    @staticmethod
    def make_zip(path, manifest, extra):
        import zipfile
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("HandlerManifest.json", json.dumps(manifest))
            with open(os.path.join(RECORDER, "handler.sh"), "rb") as f:
                z.writestr("handler.sh", f.read())
            if extra:
                z.writestr(*extra)

    def run_mode(self, mode):
        exts = []
        for name, (version, kind, served, sig) in self.packages.items():
            e = {"name": name, "version": version, "source": served, "state": "enabled", "seqNo": 0,
                 "publicSettings": {"kind": kind}}
            if sig:
                e["encodedSignature"] = sig
            exts.append(e)
        self.start({"extensions": exts}, f"GoalStatePeriodSec={PERIOD:g}\n[Extensions]\nSignatureValidation={mode}\n")
        anchor = self.root.file(SIGNING_ROOT)
        os.makedirs(os.path.dirname(anchor), exist_ok=True)
        shutil.copy(os.path.join(self.pki, "root.pem"), anchor)
        self.start_daemon()

        def settled():
            es = {n: self.entries(n) for n in self.packages}
            if not all(len(v) == 1 for v in es.values()):
                return None
            done = all(e[0]["status"] == "Ready" and self.settings_status(e[0]).get("status") == "success"
                       or e[0]["status"] == "NotReady" and e[0]["code"] != 0 for e in es.values())
            return {n: v[0] for n, v in es.items()} if done else None
        entries = wait_for("three handlers reported under SignatureValidation=" + mode, settled, timeout=90)
        self.stop_daemon()
        with open(self.daemon_log.name) as f:
            log = f.read()
        return entries, log

    def check_installed(self, name, entries, log, marker, warning):
        version = self.packages[name][0]
        e = entries[name]
        self.assertEqual(e["status"], "Ready", e)
        self.assertEqual(e["code"], 0)
        self.assertEqual(self.settings_status(e)["status"], "success")
        self.assertIn("install %s\nenable %s\n" % (version, version), self.recorded())
        d = self.handler_dir(name, version)
        self.assertTrue(os.path.exists(os.path.join(d, "handler.sh")))
        for m in ("package_validated", "package_not_validated"):
            self.assertEqual(os.path.exists(os.path.join(d, m)), m == marker, "%s %s" % (name, m))
        msg = e["formattedMessage"]["message"]
        if warning:
            self.assertEqual(msg, "Plugin enabled. Warning: package %s (SignatureValidation=report)" % warning)
            self.assertIn("Extension %s %s: package %s, installed anyway (SignatureValidation=report)."
                          % (name, version, warning), log)
            self.assertEqual(self.read_handler_file(name, version, "package_not_validated").splitlines()[0], warning)
        else:
            self.assertEqual(msg, "Plugin enabled")
            self.assertNotIn("Extension %s %s: package" % (name, version), log)

    def check_refused(self, name, entries, log, code, reason):
        version = self.packages[name][0]
        e = entries[name]
        self.assertEqual(e["status"], "NotReady", e)
        self.assertEqual(e["code"], code)
        msg = e["formattedMessage"]["message"]
        self.assertTrue(msg.startswith("Package %s %s refused (SignatureValidation=enforce): %s"
                                       % (name, version, reason)), msg)
        # waagent reports the refusal at the extension level too, for CRP to match the sequence number
        st = self.settings_status(e)
        self.assertEqual((st["status"], st["code"], st["operation"]), ("error", code, "Download"))
        self.assertEqual(st["formattedMessage"]["message"], msg)
        self.assertFalse(os.path.exists(self.handler_dir(name, version)), "nothing put in place")
        self.assertNotIn(" %s\n" % version, self.recorded(), "nothing of it ran")
        self.assertIn("Extension %s %s: package %s, refused (SignatureValidation=enforce)." % (name, version, reason),
                      log)

    def test_off(self):
        entries, log = self.run_mode("off")
        for name in self.packages:
            self.check_installed(name, entries, log, marker=None, warning=None)

    def test_report(self):
        entries, log = self.run_mode("report")
        self.check_installed("AzlTest.Unsigned", entries, log, "package_not_validated", "not signed")
        self.check_installed("AzlTest.Tampered", entries, log, "package_not_validated", "signature does not verify")
        self.check_installed("AzlTest.Signed", entries, log, "package_validated", None)

    def test_enforce(self):
        entries, log = self.run_mode("enforce")
        self.check_refused("AzlTest.Unsigned", entries, log, 1009, "not signed")
        self.check_refused("AzlTest.Tampered", entries, log, 1007, "signature does not verify")
        self.check_installed("AzlTest.Signed", entries, log, "package_validated", None)
        self.assertEqual(self.recorded(), "install 1.0.3\nenable 1.0.3\n")


class TestHostileNames(ExtensionsTest):
    """Names and versions Azure would not send (issue #17 §6), in ExtensionsConfig and vmSettings alike (the fabric
    serves both): each reported as the handler's error, its package never downloaded, nothing run; a good handler
    in the same goal state runs."""
    HOSTILE = [("Evil.$(touch${IFS}$AZL_TEST_PWNED)", "1.0.0"), ("AzlTest.Hostile", "1.0;touch${IFS}$AZL_TEST_PWNED;#"),
               ("Evil Space.Ext", "1.0.0")]

    def test_hostile_names(self):
        exts = [{"name": n, "version": v, "source": RECORDER, "state": "enabled", "seqNo": 0, "publicSettings": {},
                 "unsafeName": True} for n, v in self.HOSTILE]
        exts.append({"name": "AzlTest.Good", "version": "1.0.0", "source": RECORDER, "state": "enabled",
                     "seqNo": 0, "publicSettings": {}})
        pwned = os.path.join(self.workdir, "pwned")
        self.start({"extensions": exts}, f"GoalStatePeriodSec={PERIOD:g}\n")
        self.start_daemon({"AZL_TEST_PWNED": pwned})
        self.wait_success("AzlTest.Good")

        def reported():
            es = [self.entries(n) for n, _ in self.HOSTILE]
            return es if all(len(e) == 1 for e in es) else None
        for (name, version), e in zip(self.HOSTILE, wait_for("the hostile handlers reported", reported)):
            self.assertEqual((e[0]["status"], e[0]["code"]), ("NotReady", 1000), name)
            self.assertTrue(e[0]["formattedMessage"]["message"].startswith("Invalid extension handler "), e[0])
        self.stop_daemon()
        self.assertEqual(self.recorded(), "install 1.0.0\nenable 1.0.0\n")
        self.assertFalse(os.path.exists(pwned))
        with open(self.daemon_log.name) as f:
            log = f.read()
        self.assertIn("Downloading AzlTest.Good 1.0.0.", log)
        for name, _ in self.HOSTILE:
            self.assertNotIn("Downloading %s" % name, log)
        # Nor prefetched (the daemon fetches a run's packages concurrently): the fabric saw no request for their
        # manifests or zips, directly or through the HostGAPlugin.
        gets = [json.dumps(r) for r in self.fabric.requests() if r["method"] == "GET"]
        self.assertEqual([r for r in gets if "Evil" in r or "Hostile" in r], [])
        self.assertTrue([r for r in gets if "AzlTest_Good" in r], "the good one's manifest was fetched")
        self.assertEqual([d for d in os.listdir(self.root.file("/var/lib/waagent"))
                          if d.startswith(("Evil", "AzlTest.Hostile"))], [])


class TestCertificateRefresh(ExtensionsTest):
    """Issue #19: certificates that change while the WireServer incarnation stays the same. After a hibernate-resume
    (or any container change) the goal state references new certificates; a Fast Track goal state may reference a
    certificate the agent has never fetched. The recorder decrypts its protected settings with <thumb>.crt/.prv
    from the agent's directory, as real extensions do."""
    NAME = "AzlTest.Certificates"

    def ext(self, seq, secret, cert):
        return {"name": self.NAME, "version": "1.0.0", "source": RECORDER, "seqNo": seq,
                "publicSettings": {"seq": seq}, "protectedSettings": {"secret": secret}, "protectedSettingsCert": cert}

    def certs(self, *names):
        return [{"name": n} for n in names]

    def thumbprints(self):
        return [c["thumbprint"] for c in self.control_json("/state")["goalState"]["tenantCertificates"]]

    def protected_seen(self, seq):
        """What the handler decrypted at its enable of sequence number seq (None: it could not)."""
        es = self.entries(self.NAME)
        if not es or es[0].get("runtimeSettingsStatus", {}).get("sequenceNumber") != seq or \
                self.settings_status(es[0]).get("status") != "success":
            return None
        path = os.path.join(self.handler_dir(self.NAME, "1.0.0"), "protected-seen-enable.json")
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def assert_certificate_files(self, thumb):
        libdir = self.root.file("/var/lib/waagent")
        for suffix in (".crt", ".prv"):
            path = os.path.join(libdir, thumb + suffix)
            self.assertTrue(os.path.exists(path), path)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600, path)

    def certificate_requests(self, since):
        return [r for r in self.requests_since(since) if "comp=certificates" in r["query"]]

    def start_with_one_certificate(self):
        self.start_all({"extensions": [self.ext(0, "before", 0)], "tenantCertificates": self.certs("TenantCert0")})
        wait_for("the first enable to decrypt its settings", lambda: self.protected_seen(0), timeout=60)
        self.assertEqual(self.protected_seen(0), {"secret": "before"})
        return self.control_json("/state")

    def test_container_change_brings_new_certificates(self):
        # A hibernate-resume: new container id, one more certificate, the same incarnation (bump=none).
        before = self.start_with_one_certificate()
        seq = self.last_seq()
        self.fabric.patch_scenario({"wire": {"containerId": "6f3c2b1a-9e8d-4c7b-a6f5-0e1d2c3b4a59"},
                                    "tenantCertificates": self.certs("TenantCert0", "ResumeCert")}, bump="none")
        after = self.control_json("/state")
        self.assertEqual(after["incarnation"], before["incarnation"])
        self.assertNotEqual(after["containerId"], before["containerId"])
        new_thumb = self.thumbprints()[1]
        libdir = self.root.file("/var/lib/waagent")
        wait_for("the new certificate's files", lambda: os.path.exists(os.path.join(libdir, new_thumb + ".prv")),
                 timeout=PERIOD * 4 + 2)
        self.assert_certificate_files(new_thumb)
        reqs = self.certificate_requests(seq)
        self.assertTrue(reqs and all(after["containerId"] in r["path"] for r in reqs), reqs)
        self.assertEqual([r for r in self.requests_since(seq) if "type=extensionsConfig" in r["query"]], [],
                         "same incarnation: ExtensionsConfig is not fetched again")

        # The handler sees it: a Fast Track change whose settings are encrypted to the new certificate needs no
        # further Certificates request, and the handler decrypts them.
        seq = self.last_seq()
        self.fabric.patch_scenario({"extensions": [self.ext(1, "after resume", 1)]}, bump="etag")
        wait_for("the handler to decrypt with the new certificate", lambda: self.protected_seen(1), timeout=60)
        self.assertEqual(self.protected_seen(1), {"secret": "after resume"})
        self.assertEqual(self.certificate_requests(seq), [], "the certificate was already there")
        self.stop_daemon()

    CERTIFICATES_FAIL_TWICE = [{"endpoint": "wireserver", "query": {"comp": "certificates"}, "nth": [1, 2],
                                "status": 500}]

    def test_container_change_certificates_fail_then_succeed(self):
        # The pass that sees the new container id cannot get the Certificates (AES and 3DES both answer 500): the
        # next pass, with the same container id, still fetches them.
        self.start_with_one_certificate()
        self.fabric.set_faults(self.CERTIFICATES_FAIL_TWICE)
        self.fabric.patch_scenario({"wire": {"containerId": "6f3c2b1a-9e8d-4c7b-a6f5-0e1d2c3b4a59"},
                                    "tenantCertificates": self.certs("TenantCert0", "ResumeCert")}, bump="none")
        new_thumb = self.thumbprints()[1]
        libdir = self.root.file("/var/lib/waagent")
        wait_for("the new certificate's files", lambda: os.path.exists(os.path.join(libdir, new_thumb + ".prv")),
                 timeout=30)
        self.assert_certificate_files(new_thumb)
        statuses = [r["status"] for r in self.fabric.requests("wireserver") if "comp=certificates" in r["query"]]
        self.assertEqual(statuses[-3:], [500, 500, 200], statuses)
        self.stop_daemon()

    def test_fast_track_certificates_fail_then_succeed(self):
        # The Fast Track goal state's vmSettings is not sent again after the failed pass (if-none-match): the goal
        # state must still run, once its certificate is there.
        self.start_with_one_certificate()
        self.fabric.set_faults(self.CERTIFICATES_FAIL_TWICE)
        self.fabric.patch_scenario({"extensions": [self.ext(1, "fast track", 1)],
                                    "tenantCertificates": self.certs("TenantCert0", "FastTrackCert")}, bump="etag")
        wait_for("the handler to decrypt with the new certificate", lambda: self.protected_seen(1), timeout=60)
        self.assertEqual(self.protected_seen(1), {"secret": "fast track"})
        self.stop_daemon()

    def test_fast_track_settings_reference_unknown_certificate(self):
        # A Fast Track goal state (bump=etag: same incarnation and container) whose protected settings are encrypted
        # to a certificate the agent has not fetched yet.
        before = self.start_with_one_certificate()
        seq = self.last_seq()
        self.fabric.patch_scenario({"extensions": [self.ext(1, "fast track", 1)],
                                    "tenantCertificates": self.certs("TenantCert0", "FastTrackCert")}, bump="etag")
        after = self.control_json("/state")
        self.assertEqual((after["incarnation"], after["containerId"]), (before["incarnation"], before["containerId"]))
        wait_for("the handler to decrypt with the new certificate", lambda: self.protected_seen(1), timeout=60)
        self.assertEqual(self.protected_seen(1), {"secret": "fast track"})
        self.assert_certificate_files(self.thumbprints()[1])
        self.assertTrue(self.certificate_requests(seq))
        self.assertEqual([r for r in self.requests_since(seq) if "type=extensionsConfig" in r["query"]], [])
        self.stop_daemon()


# Runs in the daemon's own mount namespace (unshare --mount --propagation private): nothing of it reaches the host.
# "/" (and /usr when it is a mount of its own) is made read-only with a bind remount, which changes only this
# namespace's mount; /var and /run become the test's writable directories.
CONTAINER_HOST_SH = r"""
set -eu
mount --bind "$RW_VAR" /var
mount --bind "$RW_RUN" /run
mount -o remount,bind,ro /
if mountpoint -q /usr; then mount -o remount,bind,ro /usr; fi
if touch /usr/.azl-rw-probe 2>/dev/null || touch /.azl-rw-probe 2>/dev/null; then
        echo "container-host setup: / or /usr is still writable" >&2
        exit 99
fi
exec "$AGENT" --config "$CONF" -v daemon
"""


class TestReadOnlyRoot(ExtensionsTest):
    """The container host of issue #8: the same daemon at / with / and /usr read-only, /var and /run writable."""
    HANDLERS = (SAMPLE, TestDependencies.A, TestDependencies.B)

    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("needs root for mount namespaces")
        if subprocess.run(["unshare", "--mount", "--propagation", "private", "true"]).returncode != 0:
            self.skipTest("cannot create a mount namespace")
        self.rw_var = os.path.join(self.workdir, "rw-var")
        self.rw_run = os.path.join(self.workdir, "rw-run")
        os.makedirs(self.rw_var, mode=0o755)
        os.makedirs(self.rw_run, mode=0o755)
        self.record = "/var/tmp/record.txt"     # as the handlers see it: the daemon runs at /

    def tearDown(self):
        super().tearDown()
        # The per-handler slices of the cgroup fallback are host objects (cgroupfs is not below /): remove ours.
        for top in ("/sys/fs/cgroup/unified/azure-vmextensions.slice", "/sys/fs/cgroup/azure-vmextensions.slice"):
            for name in self.HANDLERS:
                slice_dir = os.path.join(top, "azure-vmextensions-%s.slice" % name.replace("-", "_"))
                if os.path.isdir(slice_dir):
                    for leaf in os.listdir(slice_dir):
                        if os.path.isdir(os.path.join(slice_dir, leaf)):
                            try:
                                os.rmdir(os.path.join(slice_dir, leaf))
                            except OSError:
                                pass
                    try:
                        os.rmdir(slice_dir)
                    except OSError:
                        pass

    def recorded(self):
        try:
            with open(os.path.join(self.rw_var, "tmp", "record.txt")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def var(self, path):
        return os.path.join(self.rw_var, os.path.relpath(path, "/var"))

    def handler_dir(self, name, version):
        return self.var("/var/lib/waagent/%s-%s" % (name, version))

    def test_extensions_with_read_only_root(self):
        patch = scenario_patch("ext-dependencies")
        with open(azltest.DEFAULT_SCENARIO) as f:
            patch["extensions"] = json.load(f)["extensions"] + patch["extensions"]
        self.fabric = azltest.Fabric(self.workdir, patch)
        e = self.fabric.endpoints
        conf = os.path.join(self.workdir, "agent.conf")
        with open(conf, "w") as f:
            f.write(f"[Endpoints]\nIMDS={e['imds']}\nWireServer={e['wireserver']}\nHostGAPluginPort={e['hgap_port']}\n"
                    f"[Timeouts]\nGoalStatePeriodSec={PERIOD:g}\n")
        os.makedirs(os.path.join(self.rw_var, "tmp"), mode=0o1777)
        before = self.snapshot_outside_var()
        self.daemon_log = open(os.path.join(self.workdir, "daemon.log"), "a")
        env = dict(os.environ, AGENT=os.path.abspath(azltest.AGENT), CONF=conf, RW_VAR=self.rw_var,
                   RW_RUN=self.rw_run, AZL_TEST_RECORD=self.record)
        self.daemon = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                                        CONTAINER_HOST_SH], stdout=self.daemon_log, stderr=subprocess.STDOUT, env=env)

        sample = self.wait_success(SAMPLE, version="1.0.0")[0]
        self.assertEqual(self.settings_status(sample)["formattedMessage"]["message"], "hello from azfabric")
        self.wait_success(TestDependencies.A, version="1.0.0")
        self.wait_success(TestDependencies.B, version="2.0.0")
        self.assertEqual(self.recorded(), "install 1.0.0\nenable 1.0.0\ninstall 2.0.0\nenable 2.0.0\n")
        gs = self.status_blob()["aggregateStatus"]["vmArtifactsAggregateStatus"]["goalStateAggregateStatus"]
        self.assertEqual(gs["status"], "Success")
        self.stop_daemon()

        # Everything landed below /var (the waagent layout, the agent's state, extension logs) ...
        for path in ("/var/lib/waagent/%s-1.0.0/config/0.settings" % SAMPLE, "/var/lib/waagent/TransportPrivate.pem",
                     "/var/lib/azl-agent/daemon.json", "/var/log/azure/%s/CommandExecution.log" % SAMPLE,
                     "/var/lib/waagent/%s-1.0.0/status/0.status" % TestDependencies.A):
            self.assertTrue(os.path.exists(self.var(path)), path)
        # ... nothing was attempted elsewhere (a write to the read-only root fails with EROFS, which every caller
        # logs), and the host tree outside /var is unchanged.
        with open(self.daemon_log.name) as f:
            log = f.read()
        self.assertNotIn("Read-only file system", log)
        self.assertNotIn("EROFS", log)
        self.assertEqual(self.snapshot_outside_var(), before)

    @staticmethod
    def snapshot_outside_var():
        """Names and mtimes of the directories a misplaced write would land in (the host's own, outside /var)."""
        snap = {}
        for d in ("/etc", "/usr/share", "/usr/lib", "/usr/local", "/", "/opt"):
            try:
                snap[d] = (os.stat(d).st_mtime_ns, sorted(os.listdir(d)))
            except OSError:
                pass
        return snap

def main():
    azltest.main(root_reason=None)


if __name__ == "__main__":
    main()
