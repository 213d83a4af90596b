"""Rendering of the goal-state documents from a scenario.

A ``GoalStateSnapshot`` is built every time the scenario or the incarnation /
etag changes, so that every document served for one incarnation is
consistent.  Shapes (our own samples in tests/data; the interop suite serves WALinuxAgent's):

* goal state            - protocol §1.4, tests/data/wire/goal-state.xml
* HostingEnvironment    - protocol §1.4, tests/data/wire/hosting-environment.xml
* SharedConfig          - protocol §1.4 (fetched, not interpreted by the guest)
* ExtensionsConfig      - protocol §3.1, tests/data/wire/ext-conf*.xml
* vmSettings (HGAP)     - protocol §3.2, tests/data/hostgaplugin/vm-settings*.json
* PluginVersionManifest - protocol §3.3, tests/data/wire/manifest.xml
"""

import base64
import hashlib
import hmac
import io
import json
import os
import stat
import zipfile
from urllib.parse import quote

from . import crypto
from .util import dotnet_ticks, stable_uuid, xml_attr, xml_text

SAS_VERSION = "2018-03-28"
SAS_EXPIRY = "9999-01-01T00%3a00%3a00Z"


def quote_role_path(text):
    """Percent-encode like the real goal-state URLs (%2D for '-', %5F for '_')."""
    return "".join(ch if (ch.isalnum() or ch == ".") else "%%%02X" % ord(ch) for ch in text)


def build_zip(source_dir):
    """Zip an extension folder deterministically.

    Modes: the source file's mode plus rw-r--r--, and rwxr-xr-x for files that
    start with ``#!`` (published packages carry executable scripts, even when
    a checked-out folder lost the bits).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(source_dir):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, source_dir)
                info = zipfile.ZipInfo(rel, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(full, "rb") as handle:
                    data = handle.read()
                mode = stat.S_IMODE(os.stat(full).st_mode) | 0o644
                if data.startswith(b"#!"):
                    mode |= 0o755
                info.external_attr = (mode | stat.S_IFREG) << 16
                archive.writestr(info, data)
    return buf.getvalue()


class BlobArtifact:
    def __init__(self, data, content_type):
        self.data = data
        self.content_type = content_type
        self.md5 = base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


class GoalStateSnapshot:
    """Every document of one goal state, pre-rendered."""

    def __init__(self, scenario, incarnation, etag_serial, urls, sas_key, tenant_certs, ticks=None, ext_ticks=None):
        self.scenario = scenario
        self.data = scenario.data
        self.incarnation = incarnation
        self.etag_serial = etag_serial
        self.urls = urls
        self.sas_key = sas_key
        self.tenant_certs = tenant_certs
        self.container_id = self.data["wire"]["containerId"]
        self.role_instance_id = scenario.role_instance_id
        self.config_name = scenario.config_name(incarnation)
        self.created_ticks = ticks or dotnet_ticks()
        self.ext_ticks = ext_ticks or self.created_ticks
        self.activity_id = stable_uuid("activity", self.data["vm"]["vmId"], incarnation, etag_serial)
        self.correlation_id = stable_uuid("correlation", self.data["vm"]["vmId"], incarnation, etag_serial)
        digest = hashlib.sha256(("%s:%s:%s" % (self.data["vm"]["vmId"], incarnation, etag_serial)).encode()).digest()
        self.etag = str(int.from_bytes(digest[:8], "big") >> 1)
        self.blobs = {}
        vm = self.data["vm"]
        self.status_blob_path = "/$system/%s.%s.status" % (vm["name"], vm["vmId"])
        self.status_blob_url = self.sas_url(self.status_blob_path, "rw")
        self.artifacts_profile_path = "/$system/%s.%s.vmSettings" % (vm["name"], vm["vmId"])
        self._build_artifacts()
        self._protected = {}
        self._encrypt_protected_settings()
        self.versions_xml = scenario.fixture_bytes("versionsFixture") or self._render_versions()
        self.goal_state_xml = scenario.fixture_bytes("goalStateFixture") or self._render_goal_state()
        self.hosting_env_xml = scenario.fixture_bytes("hostingEnvironmentConfigFixture") or self._render_hosting_env()
        self.shared_config_xml = scenario.fixture_bytes("sharedConfigFixture") or self._render_shared_config()
        self.ext_conf_xml = scenario.fixture_bytes("extensionsConfigFixture") or self._render_extensions_config()
        self.remote_access_xml = scenario.fixture_bytes("remoteAccessFixture")
        vm_settings_fixture = scenario.fixture_bytes("vmSettingsFixture")
        if vm_settings_fixture is not None:
            self.vm_settings = vm_settings_fixture
            self.etag = str(int.from_bytes(hashlib.sha256(vm_settings_fixture + str(etag_serial).encode()).digest()[:8], "big") >> 1)
        else:
            self.vm_settings = json.dumps(self._vm_settings_obj(), indent=4).encode("utf-8")

    # -- URLs -----------------------------------------------------------------
    def sas_url(self, path, perms):
        return self.urls["blob"] + path + "?" + sas_query(self.sas_key, path, perms)

    def config_url(self, kind):
        base = "%s/machine/%s/%s" % (self.urls["wire"], self.container_id, quote_role_path(self.role_instance_id))
        if kind == "certificates":
            return "%s?comp=certificates&incarnation=%d" % (base, self.incarnation)
        return "%s?comp=config&type=%s&incarnation=%d" % (base, kind, self.incarnation)

    # -- WireServer documents ------------------------------------------------
    def _render_versions(self):
        wire = self.data["wire"]
        supported = "".join("<Version>%s</Version>" % xml_text(v) for v in wire["supportedVersions"])
        return ('<?xml version="1.0" encoding="utf-8"?>\n<Versions>\n  <Preferred>\n    <Version>%s</Version>\n'
                '  </Preferred>\n  <Supported>\n    %s\n  </Supported>\n</Versions>\n'
                % (xml_text(wire["preferredVersion"]), supported)).encode("utf-8")

    def _render_goal_state(self):
        certs = ""
        if self.tenant_certs:
            certs = "\n          <Certificates>%s</Certificates>" % xml_text(self.config_url("certificates"))
        doc = """<?xml version="1.0" encoding="utf-8"?>
<GoalState xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="goalstate10.xsd">
  <Version>2012-11-30</Version>
  <Incarnation>{inc}</Incarnation>
  <Machine>
    <ExpectedState>Started</ExpectedState>
    <StopRolesDeadlineHint>300000</StopRolesDeadlineHint>
    <LBProbePorts>
      <Port>16001</Port>
    </LBProbePorts>
    <ExpectHealthReport>FALSE</ExpectHealthReport>
  </Machine>
  <Container>
    <ContainerId>{cid}</ContainerId>
    <RoleInstanceList>
      <RoleInstance>
        <InstanceId>{iid}</InstanceId>
        <State>Started</State>
        <Configuration>
          <HostingEnvironmentConfig>{hec}</HostingEnvironmentConfig>
          <SharedConfig>{shared}</SharedConfig>
          <ExtensionsConfig>{ext}</ExtensionsConfig>
          <FullConfig>{full}</FullConfig>{certs}
          <ConfigName>{cfg}</ConfigName>
        </Configuration>
      </RoleInstance>
    </RoleInstanceList>
  </Container>
</GoalState>
""".format(inc=self.incarnation, cid=xml_text(self.container_id), iid=xml_text(self.role_instance_id),
           hec=xml_text(self.config_url("hostingEnvironmentConfig")),
           shared=xml_text(self.config_url("sharedConfig")),
           ext=xml_text(self.config_url("extensionsConfig")),
           full=xml_text(self.config_url("fullConfig")), certs=certs, cfg=xml_text(self.config_name))
        return doc.encode("utf-8")

    def _deployment_block(self):
        dep = self.scenario.deployment_id.replace("-", "")
        return ('  <Deployment name=%s guid=%s incarnation="%d" isNonCancellableTopologyChangeEnabled="false">\n'
                '    <Service name=%s guid="{00000000-0000-0000-0000-000000000000}" />\n'
                '    <ServiceInstance name=%s guid=%s />\n  </Deployment>\n'
                '  <Incarnation number="1" instance=%s guid=%s />\n'
                % (xml_attr(dep), xml_attr("{%s}" % self.scenario.deployment_id), self.incarnation - 1,
                   xml_attr(self.data["vm"]["name"]), xml_attr(dep + ".0"),
                   xml_attr("{%s}" % stable_uuid("svcinst", dep)), xml_attr(self.scenario.role_name),
                   xml_attr("{%s}" % stable_uuid("incarnation", dep, self.incarnation))))

    def _render_hosting_env(self):
        stored = "".join(
            '    <StoredCertificate name="Stored%dMicrosoft.WindowsAzure.Plugins.RemoteAccess.PasswordEncryption" '
            'certificateId="sha1:%s" storeName="My" configurationLevel="System" />\n' % (i, c.thumbprint)
            for i, c in enumerate(self.tenant_certs))
        role = self.scenario.role_name
        dep = self.scenario.deployment_id.replace("-", "")
        doc = ('<?xml version="1.0" encoding="utf-8"?>\n'
               '<HostingEnvironmentConfig version="1.0.0.0" goalStateIncarnation="%d">\n'
               '  <StoredCertificates>\n%s  </StoredCertificates>\n%s'
               '  <Role guid=%s name=%s hostingEnvironmentVersion="1" software="" softwareType="ApplicationPackage" '
               'entryPoint="" parameters="" settleTimeSeconds="10" />\n'
               '  <HostingEnvironmentSettings name="full" Runtime="rd_fabric_stable.azfabric.runtimePackage_1.0.0.0.zip">\n'
               '    <CAS mode="full" />\n    <PrivilegeLevel mode="max" />\n'
               '    <AdditionalProperties><CgiHandlers></CgiHandlers></AdditionalProperties>\n'
               '  </HostingEnvironmentSettings>\n'
               '  <ApplicationSettings>\n'
               '    <Setting name="__ModelData" value=%s />\n'
               '  </ApplicationSettings>\n'
               '  <ResourceReferences>\n'
               '    <Resource name="DiagnosticStore" type="directory" '
               'request="Microsoft.Cis.Fabric.Controller.Descriptions.ServiceDescription.Data.Policy" '
               'sticky="true" size="1" path=%s disableQuota="false" />\n'
               '  </ResourceReferences>\n'
               '</HostingEnvironmentConfig>\n'
               % (self.incarnation, stored, self._deployment_block(),
                  xml_attr("{%s}" % stable_uuid("role", dep)), xml_attr(role),
                  xml_attr('<m role="%s" xmlns="urn:azure:m:v1"><r name="%s" /></m>' % (role, role)),
                  xml_attr("%s.%s.DiagnosticStore\\" % (dep, role))))
        return doc.encode("utf-8")

    def _render_shared_config(self):
        nic = self.data["network"]["interfaces"][0]
        address = nic["ipv4"][0]["privateIpAddress"] if nic["ipv4"] else "0.0.0.0"
        public = nic["ipv4"][0].get("publicIpAddress") if nic["ipv4"] else ""
        role = self.scenario.role_name
        endpoints = ""
        if public:
            endpoints = ('      <InputEndpoints>\n'
                         '        <Endpoint name="SSH" address=%s protocol="tcp" isPublic="true" '
                         'loadBalancedPublicAddress=%s enableDirectServerReturn="false" isDirectAddress="false" '
                         'disableStealthMode="false">\n'
                         '          <LocalPorts><LocalPortRange from="22" to="22" /></LocalPorts>\n'
                         '        </Endpoint>\n      </InputEndpoints>\n'
                         % (xml_attr(address + ":22"), xml_attr(public + ":22")))
        doc = ('<?xml version="1.0" encoding="utf-8"?>\n'
               '<SharedConfig version="1.0.0.0" goalStateIncarnation="%d">\n%s'
               '  <Role guid=%s name=%s settleTimeSeconds="10" />\n'
               '  <LoadBalancerSettings timeoutSeconds="0" waitLoadBalancerProbeCount="8">\n'
               '    <Probes>\n      <Probe name="D41D8CD98F00B204E9800998ECF8427E" />\n    </Probes>\n'
               '  </LoadBalancerSettings>\n'
               '  <OutputEndpoints>\n    <Endpoint name=%s type="SFS">\n'
               '      <Target instance=%s endpoint="Microsoft.WindowsAzure.Plugins.RemoteAccess.Rdp" />\n'
               '    </Endpoint>\n  </OutputEndpoints>\n'
               '  <Instances>\n    <Instance id=%s address=%s>\n'
               '      <FaultDomains randomId="0" updateId="0" updateCount="0" />\n%s'
               '    </Instance>\n  </Instances>\n</SharedConfig>\n'
               % (self.incarnation, self._deployment_block(),
                  xml_attr("{%s}" % stable_uuid("role", self.scenario.deployment_id.replace("-", ""))),
                  xml_attr(role), xml_attr(role + ":Microsoft.WindowsAzure.Plugins.RemoteAccess.Rdp"),
                  xml_attr(role), xml_attr(role), xml_attr(address), endpoints))
        return doc.encode("utf-8")

    # -- extensions -----------------------------------------------------------
    def _manifest_name(self, ext):
        publisher, kind = ext["name"].rsplit(".", 1)
        return "%s_%s_%s_manifest.xml" % (publisher, kind, self.data["vm"]["location"])

    def manifest_url(self, ext, failover=False):
        folder = "/extensions-failover/" if failover else "/extensions/"
        return self.urls["blob"] + folder + self._manifest_name(ext)

    def _build_artifacts(self):
        """Extension zips + manifests, GA manifests, artifacts profile, fixtures."""
        for ext in self.data["extensions"]:
            plugins = []
            for ver in ext["manifestVersions"]:
                zip_path = "/extensions/%s__%s" % (ext["name"], ver["version"])
                source = ver.get("source")
                if source:
                    data = open(source, "rb").read() if os.path.isfile(source) else build_zip(source)
                    self.blobs[zip_path] = BlobArtifact(data, "application/octet-stream")
                plugins.append("    <Plugin>\n      <Version>%s</Version>\n      <Uris>\n        <Uri>%s</Uri>\n"
                               "      </Uris>\n    </Plugin>\n"
                               % (xml_text(ver["version"]), xml_text(self.urls["blob"] + zip_path)))
            manifest = ('<?xml version="1.0" encoding="utf-8"?>\n'
                        '<PluginVersionManifest xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
                        '  <Plugins>\n%s  </Plugins>\n  <InternalPlugins />\n</PluginVersionManifest>\n'
                        % "".join(plugins)).encode("utf-8")
            for failover in (False, True):
                folder = "/extensions-failover/" if failover else "/extensions/"
                self.blobs[folder + self._manifest_name(ext)] = BlobArtifact(manifest, "application/xml")
        ga_manifest = ('<?xml version="1.0" encoding="utf-8"?>\n'
                       '<PluginVersionManifest xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
                       '  <Plugins />\n  <InternalPlugins />\n</PluginVersionManifest>\n').encode("utf-8")
        for family in self.data["gaFamilies"]:
            self.blobs[self._ga_manifest_path(family)] = BlobArtifact(ga_manifest, "application/xml")
        profile = json.dumps({"onHold": bool(self.data["onHold"])}).encode("utf-8")
        self.blobs[self.artifacts_profile_path] = BlobArtifact(profile, "application/json")
        for blob_path, rel in (self.data.get("blobFixtures") or {}).items():
            with open(self.scenario.resolve_path(rel, "blobFixtures"), "rb") as handle:
                data = handle.read()
            ctype = "application/xml" if rel.endswith(".xml") else (
                "application/json" if rel.endswith(".json") else "application/octet-stream")
            self.blobs[blob_path] = BlobArtifact(data, ctype)

    def _ga_manifest_path(self, family):
        return "/ga/Microsoft.OSTCLinuxAgent_%s_%s_manifest.xml" % (family, self.data["vm"]["location"])

    def _encrypt_protected_settings(self):
        def encrypt(owner, settings, cert_index):
            if settings is None:
                return
            cert = self.tenant_certs[cert_index]
            payload = settings if isinstance(settings, str) else json.dumps(settings, separators=(",", ":"))
            blob = crypto.encrypt_for_cert(payload.encode("utf-8"), cert.cert_pem)
            self._protected[owner] = (base64.b64encode(blob).decode("ascii"), cert.thumbprint)

        for ext in self.data["extensions"]:
            encrypt(ext["name"], ext.get("protectedSettings"), ext.get("protectedSettingsCert", 0))
            for mc in ext.get("multiConfig") or []:
                encrypt(ext["name"] + "/" + mc["name"], mc.get("protectedSettings"), mc.get("protectedSettingsCert", 0))

    def _handler_settings(self, owner, public):
        settings = {}
        if owner in self._protected:
            data, thumb = self._protected[owner]
            settings["protectedSettingsCertThumbprint"] = thumb
            settings["protectedSettings"] = data
        settings["publicSettings"] = public if public is not None else {}
        return {"runtimeSettings": [{"handlerSettings": settings}]}

    @staticmethod
    def _depends_xml(deps, level, name=None):
        if not deps:
            return ""
        inner = "".join("      <DependsOnExtension%s handler=%s />\n"
                        % ((" extension=%s" % xml_attr(d["extension"])) if d.get("extension") else "",
                           xml_attr(d["handler"])) for d in deps)
        return "    <DependsOn dependencyLevel=\"%d\"%s>\n%s    </DependsOn>\n" % (
            level, (" name=%s" % xml_attr(name)) if name else "", inner)

    def _render_extensions_config(self):
        data = self.data
        fams = "".join("    <GAFamily>\n      <Name>%s</Name>\n      <Uris>\n        <Uri>%s</Uri>\n      </Uris>\n"
                       "    </GAFamily>\n" % (xml_text(f), xml_text(self.urls["blob"] + self._ga_manifest_path(f)))
                       for f in data["gaFamilies"])
        multi = any(ext.get("multiConfig") for ext in data["extensions"])
        required = ("<RequiredFeatures>\n  <RequiredFeature>\n    <Name>MultipleExtensionsPerHandler</Name>\n"
                    "  </RequiredFeature>\n</RequiredFeatures>\n") if multi else ""
        plugins, settings = [], []
        for ext in data["extensions"]:
            plugins.append('  <Plugin name=%s version=%s location=%s state=%s autoUpgrade=%s failoverlocation=%s '
                           'runAsStartupTask="false" isJson="true" useExactVersion="true"%s />\n'
                           % (xml_attr(ext["name"]), xml_attr(ext["version"]), xml_attr(self.manifest_url(ext)),
                              xml_attr(ext["state"]), xml_attr("true" if ext["autoUpgrade"] else "false"),
                              xml_attr(self.manifest_url(ext, failover=True)),
                              (" encodedSignature=%s" % xml_attr(ext["encodedSignature"]))
                              if ext.get("encodedSignature") else ""))
            body = ""
            if ext.get("multiConfig"):
                for mc in ext["multiConfig"]:
                    body += self._depends_xml(mc.get("dependsOn"), mc["dependencyLevel"], mc["name"])
                for mc in ext["multiConfig"]:
                    rs = json.dumps(self._handler_settings(ext["name"] + "/" + mc["name"], mc.get("publicSettings")))
                    body += '    <ExtensionRuntimeSettings seqNo="%d" name=%s state=%s>%s</ExtensionRuntimeSettings>\n' % (
                        mc["seqNo"], xml_attr(mc["name"]), xml_attr(mc["state"]), xml_text(rs))
            else:
                body += self._depends_xml(ext.get("dependsOn"), ext["dependencyLevel"])
                rs = json.dumps(self._handler_settings(ext["name"], ext.get("publicSettings")))
                body += '    <RuntimeSettings seqNo="%d">%s</RuntimeSettings>\n' % (ext["seqNo"], xml_text(rs))
            settings.append("  <Plugin name=%s version=%s>\n%s  </Plugin>\n"
                            % (xml_attr(ext["name"]), xml_attr(ext["version"]), body))
        profile = ""
        if data["onHold"]:
            profile = '<InVMArtifactsProfileBlob statusBlobType="BlockBlob">%s</InVMArtifactsProfileBlob>\n' % xml_text(
                self.sas_url(self.artifacts_profile_path, "r"))
        doc = ('<?xml version="1.0" encoding="utf-8"?>\n'
               '<Extensions version="1.0.0.0" goalStateIncarnation="%d">'
               '<GuestAgentExtension xmlns:i="http://www.w3.org/2001/XMLSchema-instance">\n'
               '  <GAFamilies>\n%s  </GAFamilies>\n  <Location>%s</Location>\n  <ServiceName>CRP</ServiceName>\n'
               '</GuestAgentExtension>\n%s'
               '<StatusUploadBlob statusBlobType=%s>%s</StatusUploadBlob>\n'
               '<Plugins>\n%s</Plugins>\n<PluginSettings>\n%s</PluginSettings>\n%s'
               '<InVMGoalStateMetaData inSvdSeqNo="%d" createdOnTicks="%d" activityId=%s correlationId=%s />\n'
               '</Extensions>\n'
               % (self.incarnation, fams, xml_text(data["vm"]["location"]), required,
                  xml_attr(data["statusBlobType"]), xml_text(self.status_blob_url), "".join(plugins),
                  "".join(settings), profile, self.incarnation, self.created_ticks,
                  xml_attr(self.activity_id), xml_attr(self.correlation_id)))
        return doc.encode("utf-8")

    def _vm_settings_obj(self):
        """Fast Track goal state (protocol §3.2; hostgaplugin/vm_settings.json schema)."""
        data = self.data
        vm = data["vm"]
        goal_states = []
        for ext in data["extensions"]:
            entry = {
                "name": ext["name"], "version": ext["version"],
                "location": self.manifest_url(ext), "failoverlocation": self.manifest_url(ext, failover=True),
                "additionalLocations": list(ext.get("additionalLocations") or []),
                "state": ext["state"], "autoUpgrade": bool(ext["autoUpgrade"]), "runAsStartupTask": False,
                "isJson": True, "useExactVersion": True, "settingsSeqNo": ext["seqNo"],
                "isMultiConfig": bool(ext.get("multiConfig")),
            }
            if ext.get("encodedSignature"):
                entry["encodedSignature"] = ext["encodedSignature"]
            settings = []
            if ext.get("multiConfig"):
                for mc in ext["multiConfig"]:
                    item = self._vm_setting(ext["name"] + "/" + mc["name"], mc.get("publicSettings"))
                    item.update({"seqNo": mc["seqNo"], "extensionName": mc["name"], "extensionState": mc["state"]})
                    settings.append(item)
                deps = [self._vm_depends(mc.get("dependsOn"), mc["dependencyLevel"], mc["name"])
                        for mc in ext["multiConfig"] if mc.get("dependsOn")]
            else:
                settings.append(self._vm_setting(ext["name"], ext.get("publicSettings")))
                deps = [self._vm_depends(ext["dependsOn"], ext["dependencyLevel"])] if ext.get("dependsOn") else []
            entry["settings"] = settings
            if deps:
                entry["dependsOn"] = deps
            goal_states.append(entry)
        obj = {
            "hostGAPluginVersion": data["hgap"]["version"],
            "vmSettingsSchemaVersion": "0.0",
            "activityId": self.activity_id,
            "correlationId": self.correlation_id,
            "inSvdSeqNo": self.incarnation,
            "extensionsLastModifiedTickCount": self.ext_ticks,
            "extensionGoalStatesSource": "FastTrack",
            "onHold": bool(data["onHold"]),
            "statusUploadBlob": {"statusBlobType": data["statusBlobType"], "value": self.status_blob_url},
            "inVMMetadata": {"subscriptionId": vm["subscriptionId"], "resourceGroupName": vm["resourceGroup"],
                             "vmName": vm["name"], "location": vm["location"], "vmId": vm["vmId"],
                             "vmSize": vm["size"], "osType": vm["osType"]},
            "requiredFeatures": ([{"name": "MultipleExtensionsPerHandler"}]
                                 if any(e.get("multiConfig") for e in data["extensions"]) else []),
            "gaFamilies": [{"name": f, "uris": [self.urls["blob"] + self._ga_manifest_path(f)]}
                           for f in data["gaFamilies"]],
            "extensionGoalStates": goal_states,
        }
        return obj

    def _vm_setting(self, owner, public):
        item = {}
        if owner in self._protected:
            data, thumb = self._protected[owner]
            item["protectedSettingsCertThumbprint"] = thumb
            item["protectedSettings"] = data
        item["publicSettings"] = json.dumps(public if public is not None else {}, separators=(",", ":"))
        return item

    @staticmethod
    def _vm_depends(deps, level, name=None):
        out = {"dependsOnExtension": [dict({"handler": d["handler"]}, **({"extension": d["extension"]}
                                                                          if d.get("extension") else {}))
                                      for d in deps],
               "dependencyLevel": level}
        if name:
            out["name"] = name
        return out

    def describe(self):
        return {"incarnation": self.incarnation, "etag": self.etag, "containerId": self.container_id,
                "roleInstanceId": self.role_instance_id, "configName": self.config_name,
                "createdOnTicks": self.created_ticks, "extensionsLastModifiedTickCount": self.ext_ticks,
                "statusBlobUrl": self.status_blob_url, "goalStateUrls": {
                    k: self.config_url(k) for k in ("hostingEnvironmentConfig", "sharedConfig",
                                                    "extensionsConfig", "certificates")},
                "tenantCertificates": [c.describe() for c in self.tenant_certs],
                "blobs": sorted(self.blobs)}


def sas_signature(key, path, perms):
    return base64.b64encode(hmac.new(key, ("%s\n%s" % (perms, path)).encode("utf-8"), hashlib.sha256).digest()).decode()


def sas_query(key, path, perms):
    """A SAS query string in the shape CRP hands out (protocol §3.1 StatusUploadBlob)."""
    return "sv=%s&sr=b&sk=system-1&sig=%s&se=%s&sp=%s" % (
        SAS_VERSION, quote(sas_signature(key, path, perms), safe=""), SAS_EXPIRY, perms)
