"""Provisioning media: ovf-env.xml and its ISO (protocol §5.3, protocol §5.2).

The ISO carries ``ovf-env.xml`` (and ``CustomData.bin`` with the raw custom
data, which Ignition reads — protocol §5.3) and the volume label
``rd_rdfe_stable.<YYMMDD-HHMM>`` the real media have.  It is written with
``genisoimage`` (``-J -R``) or, if absent, ``xorriso -as mkisofs``.
"""

import base64
import datetime
import hashlib
import os
import shutil
import subprocess
import tempfile

from .util import atomic_write, bool_str, xml_text


def key_fingerprint(key_data):
    """SHA-1 of the decoded SSH public key blob, upper-case hex."""
    try:
        blob = base64.b64decode(key_data.split()[1])
    except (IndexError, ValueError):
        blob = key_data.encode("utf-8")
    return hashlib.sha1(blob).hexdigest().upper()


def render_public_key(key):
    """One PublicKey element; a key given by a certificate has its thumbprint as Fingerprint and no Value."""
    if "keyData" not in key:
        return ("          <PublicKey>\n            <Fingerprint>%s</Fingerprint>\n            <Path>%s</Path>\n"
                "          </PublicKey>\n" % (xml_text(key["fingerprint"]), xml_text(key["path"])))
    return ("          <PublicKey>\n            <Fingerprint>%s</Fingerprint>\n            <Path>%s</Path>\n"
            "            <Value>%s</Value>\n          </PublicKey>\n"
            % (key_fingerprint(key["keyData"]), xml_text(key["path"]), xml_text(key["keyData"])))


def render_ovf_env(scenario, pps_type=None):
    fixture = scenario.fixture_bytes("ovfEnvFixture")
    if fixture is not None:
        return fixture
    d = scenario.data
    admin = d["admin"]
    pps_type = d["ppsType"] if pps_type is None else pps_type
    keys = "".join(render_public_key(k) for k in admin["sshKeys"])
    password = "        <UserPassword>%s</UserPassword>\n" % xml_text(admin["password"]) if admin.get("password") else ""
    custom = d.get("customDataBytes")
    custom_xml = "        <CustomData>%s</CustomData>\n" % base64.b64encode(custom).decode() if custom else ""
    pps_xml = ""
    if pps_type != "None":
        pps_xml = "      <wa:PreprovisionedVMType>%s</wa:PreprovisionedVMType>\n" % xml_text(pps_type)
    doc = """<?xml version="1.0" encoding="utf-8"?>
<Environment xmlns="http://schemas.dmtf.org/ovf/environment/1" xmlns:oe="http://schemas.dmtf.org/ovf/environment/1" xmlns:wa="http://schemas.microsoft.com/windowsazure" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <wa:ProvisioningSection>
    <wa:Version>1.0</wa:Version>
    <LinuxProvisioningConfigurationSet xmlns="http://schemas.microsoft.com/windowsazure" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <ConfigurationSetType>LinuxProvisioningConfiguration</ConfigurationSetType>
      <HostName>{host}</HostName>
      <UserName>{user}</UserName>
{password}      <DisableSshPasswordAuthentication>{disable}</DisableSshPasswordAuthentication>
      <SSH>
        <PublicKeys>
{keys}        </PublicKeys>
      </SSH>
{custom}    </LinuxProvisioningConfigurationSet>
  </wa:ProvisioningSection>
  <wa:PlatformSettingsSection>
    <wa:Version>1.0</wa:Version>
    <wa:PlatformSettings>
      <wa:KmsServerHostname>kms.core.windows.net</wa:KmsServerHostname>
      <wa:ProvisionGuestAgent>{pga}</wa:ProvisionGuestAgent>
      <wa:GuestAgentPackageName xsi:nil="true"/>
      <wa:RetainWindowsPEPassInUnattend>true</wa:RetainWindowsPEPassInUnattend>
      <wa:RetainOfflineServicingPassInUnattend>true</wa:RetainOfflineServicingPassInUnattend>
      <wa:PreprovisionedVm>{ppsvm}</wa:PreprovisionedVm>
{ppstype}    </wa:PlatformSettings>
  </wa:PlatformSettingsSection>
</Environment>
""".format(host=xml_text(d["vm"]["computerName"]), user=xml_text(admin["username"]), password=password,
           disable=bool_str(admin["disablePasswordAuthentication"]), keys=keys,
           custom=custom_xml.replace("        <CustomData>", "      <CustomData>"),
           pga=bool_str(d["provisionGuestAgent"]), ppsvm=bool_str(pps_type != "None"), ppstype=pps_xml)
    doc = doc.replace("\n        <UserPassword>", "\n      <UserPassword>")
    return doc.encode("utf-8")


def volume_label(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return "rd_rdfe_stable." + now.strftime("%y%m%d-%H%M")


def make_iso(files, out_path, label=None):
    """Write an ISO9660 (+Joliet, +Rock Ridge) image holding *files* (name -> bytes)."""
    label = label or volume_label()
    with tempfile.TemporaryDirectory(prefix="azfabric-iso-") as tmp:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        for name, data in files.items():
            with open(os.path.join(root, name), "wb") as handle:
                handle.write(data)
        tmp_iso = os.path.join(tmp, "out.iso")
        if shutil.which("genisoimage"):
            cmd = ["genisoimage", "-quiet", "-o", tmp_iso, "-V", label, "-J", "-R", root]
        elif shutil.which("xorriso"):
            cmd = ["xorriso", "-as", "mkisofs", "-quiet", "-o", tmp_iso, "-V", label, "-J", "-R", root]
        else:
            raise RuntimeError("neither genisoimage nor xorriso is installed (apt-get install genisoimage)")
        # xorriso 1.5.4 (Debian 12) dies of SIGSEGV now and then under load ("UNIX-SIGNAL: SIGSEGV" on stderr,
        # exit 1); a crash is retried, a refusal is not.
        for _ in range(3):
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            crashed = proc.returncode < 0 or b"UNIX-SIGNAL" in proc.stderr
            if proc.returncode == 0 or not crashed:
                break
        if proc.returncode != 0:
            raise RuntimeError("%s failed: %s" % (cmd[0], proc.stderr.decode("utf-8", "replace")))
        with open(tmp_iso, "rb") as handle:
            atomic_write(out_path, handle.read())
    return label


def write_media(scenario, out_dir):
    """``azfabric.py media``: write ovf-env.xml and ovf-env.iso into *out_dir*."""
    os.makedirs(out_dir, exist_ok=True)
    ovf = render_ovf_env(scenario)
    atomic_write(os.path.join(out_dir, "ovf-env.xml"), ovf, mode=0o600)
    files = {"ovf-env.xml": ovf}
    custom = scenario.data.get("customDataBytes")
    if custom and not scenario.data.get("ovfEnvFixture"):
        files["CustomData.bin"] = custom
    label = make_iso(files, os.path.join(out_dir, "ovf-env.iso"))
    return {"ovf_env": os.path.join(out_dir, "ovf-env.xml"), "iso": os.path.join(out_dir, "ovf-env.iso"),
            "label": label}
