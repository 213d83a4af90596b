#!/usr/bin/env python3
"""WireServer: versions, goal state, config documents, incarnations, health validation."""

import json
import xml.etree.ElementTree as ET

import fabric_testlib as ftl

ftl.ensure_netns()

# The exact bytes waagent sent (protocol §1.5, waagent-request-trace.txt).
REF_CID = "c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2"
REF_IID = "b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0"
REF_NOT_READY = (
    b'<?xml version="1.0" encoding="utf-8"?><Health xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><GoalStateIncarnation>1</GoalStateIncarnation><Container>'
    b'<ContainerId>c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2</ContainerId><RoleInstanceList><Role><InstanceId>'
    b'b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0</InstanceId><Health><State>NotReady</State><Details>'
    b'<SubStatus>Provisioning</SubStatus><Description>Starting</Description></Details></Health></Role>'
    b'</RoleInstanceList></Container></Health>')
REF_READY = (
    b'<?xml version="1.0" encoding="utf-8"?><Health xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    b'xmlns:xsd="http://www.w3.org/2001/XMLSchema"><GoalStateIncarnation>1</GoalStateIncarnation><Container>'
    b'<ContainerId>c6d5526c-5ac2-4200-b6e2-56f2b70c5ab2</ContainerId><RoleInstanceList><Role><InstanceId>'
    b'b61f93d0-e1ed-40b2-b067-22c243233448.MachineRole_IN_0</InstanceId><Health><State>Ready</State></Health>'
    b'</Role></RoleInstanceList></Container></Health>')
# cloud-init's pretty-printed template (protocol §1.5)
CLOUD_INIT_FAILURE = """<?xml version="1.0" encoding="utf-8"?>
<Health xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <GoalStateIncarnation>{inc}</GoalStateIncarnation>
  <Container>
    <ContainerId>{cid}</ContainerId>
    <RoleInstanceList>
      <Role>
        <InstanceId>{iid}</InstanceId>
        <Health>
          <State>NotReady</State>
          <Details>
            <SubStatus>ProvisioningFailed</SubStatus>
            <Description>{desc}</Description>
          </Details>
        </Health>
      </Role>
    </RoleInstanceList>
  </Container>
</Health>
"""
HEALTH_HEADERS = {"Content-Type": "text/xml;charset=utf-8"}


def goal_state_urls(xml_bytes):
    root = ET.fromstring(xml_bytes)
    cfg = root.find("Container/RoleInstanceList/RoleInstance/Configuration")
    return {child.tag: child.text for child in cfg}


class WireServerDocuments(ftl.FabricCase):
    def test_versions(self):
        status, headers, body = self.request("wire", "/?comp=versions")
        self.assertEqual(status, 200)
        root = ET.fromstring(body)
        self.assertEqual(root.findtext("Preferred/Version"), "2015-04-05")
        self.assertIn("2012-11-30", [v.text for v in root.findall("Supported/Version")])
        self.assertTrue(headers["content-type"].startswith("text/xml"))

    def test_goal_state_requires_version_header(self):
        status, _, body = self.request("wire", "/machine/?comp=goalstate")
        self.assertEqual(status, 400)
        self.assertIn(b"x-ms-version", body)

    def test_goal_state_and_documents(self):
        status, _, body = self.wire("/machine/?comp=goalstate")
        self.assertEqual(status, 200)
        root = ET.fromstring(body)
        snap = self.fabric.snapshot
        self.assertEqual(root.findtext("Incarnation"), str(snap.incarnation))
        self.assertEqual(root.findtext("Container/ContainerId"), snap.container_id)
        self.assertEqual(root.findtext("Container/RoleInstanceList/RoleInstance/InstanceId"), snap.role_instance_id)
        urls = goal_state_urls(body)
        self.assertEqual(set(urls), {"HostingEnvironmentConfig", "SharedConfig", "ExtensionsConfig", "FullConfig",
                                     "Certificates", "ConfigName"})
        for key in ("HostingEnvironmentConfig", "SharedConfig", "ExtensionsConfig", "Certificates"):
            self.assertTrue(urls[key].startswith(self.urls["wire"] + "/machine/"), urls[key])
        _, _, hec = self.wire(ftl.url_path(urls["HostingEnvironmentConfig"]))
        hec = ET.fromstring(hec)
        self.assertEqual(hec.find("Incarnation").get("instance"), "_azl-demo")
        self.assertTrue(hec.find("Deployment").get("name"))
        self.assertTrue(hec.find("Role").get("name"))
        _, _, shared = self.wire(ftl.url_path(urls["SharedConfig"]))
        self.assertEqual(ET.fromstring(shared).find("Instances/Instance").get("address"), "10.0.0.4")
        _, _, ext = self.wire(ftl.url_path(urls["ExtensionsConfig"]))
        ext = ET.fromstring(ext)
        plugin = ext.find("Plugins/Plugin")
        self.assertEqual((plugin.get("name"), plugin.get("version"), plugin.get("state")),
                         ("AzlAgent.SampleHandler", "1.0.0", "enabled"))
        self.assertTrue(plugin.get("location").startswith(self.urls["blob"]))
        settings = json.loads(ext.find("PluginSettings/Plugin/RuntimeSettings").text)
        handler = settings["runtimeSettings"][0]["handlerSettings"]
        self.assertEqual(handler["publicSettings"], {"message": "hello from azfabric"})
        self.assertEqual(handler["protectedSettingsCertThumbprint"], self.fabric.tenant_certs[0].thumbprint)
        blob = ext.find("StatusUploadBlob")
        self.assertEqual(blob.get("statusBlobType"), "BlockBlob")
        self.assertTrue(blob.text.startswith(self.urls["blob"] + "/$system/"))
        self.assertIn("sig=", blob.text)
        meta = ext.find("InVMGoalStateMetaData")
        self.assertEqual(meta.get("inSvdSeqNo"), str(snap.incarnation))
        self.assertGreater(int(meta.get("createdOnTicks")), 638000000000000000)

    def test_incarnation_changes_with_scenario(self):
        _, _, before = self.wire("/machine/?comp=goalstate")
        old_inc = int(ET.fromstring(before).findtext("Incarnation"))
        old_urls = goal_state_urls(before)
        state = self.control("/scenario", method="POST",
                             body={"extensions": [{"name": "AzlAgent.SampleHandler", "version": "1.0.0",
                                                   "source": ftl.SAMPLE_HANDLER, "seqNo": 1,
                                                   "publicSettings": {"message": "second"}}]})
        self.assertEqual(state["incarnation"], old_inc + 1)
        _, _, after = self.wire("/machine/?comp=goalstate")
        self.assertEqual(int(ET.fromstring(after).findtext("Incarnation")), old_inc + 1)
        _, _, ext = self.wire(ftl.url_path(goal_state_urls(after)["ExtensionsConfig"]))
        self.assertIn(b'seqNo="1"', ext)
        self.assertIn(b"second", ext)
        # a container change (e.g. live migration) makes old URLs 410 Gone
        self.control("/scenario?bump=none", method="POST", body={"wire": {"containerId": "11111111-2222-3333-4444-555555555555"}})
        status, _, _ = self.wire(ftl.url_path(old_urls["ExtensionsConfig"]))
        self.assertEqual(status, 410)

    def test_telemetry_and_health_service_sinks(self):
        body = (b'<?xml version="1.0"?><TelemetryData version="1.0"><Provider id="69B669B9-4AF8-4C50-BDC4-6006FA76E975">'
                b'<Event id="1"><![CDATA[<Param Name="Name" Value="WALinuxAgent" T="mt:wstr" />]]></Event>'
                b'</Provider></TelemetryData>')
        status, _, _ = self.wire("/machine?comp=telemetrydata", method="POST", body=body,
                                 headers={"Content-Type": "text/xml;charset=utf-8"})
        self.assertEqual(status, 200)
        status, _, _ = self.request("wire", "/HealthService", method="POST",
                                    body={"Api": "reporttargethealth", "Version": "1.0", "Source": "WALinuxAgent",
                                          "Observations": []}, headers={"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        kinds = [e["kind"] for e in self.control("/events")]
        self.assertIn("telemetry", kinds)
        self.assertIn("healthservice", kinds)


class HealthValidation(ftl.FabricCase):
    scenario_overrides = {"wire": {"containerId": REF_CID, "roleInstanceId": REF_IID}}

    def post(self, body, headers=None):
        status, _, data = self.wire("/machine?comp=health", method="POST", body=body,
                                    headers=dict(HEALTH_HEADERS, **(headers or {})))
        return status, data.decode("utf-8", "replace")

    def test_reference_bytes_accepted(self):
        self.assertEqual(self.post(REF_NOT_READY)[0], 200)
        self.assertEqual(self.post(REF_READY)[0], 200)
        reports = self.control("/health-reports")[-2:]
        self.assertEqual([(r["state"], r["subStatus"], r["description"]) for r in reports],
                         [("NotReady", "Provisioning", "Starting"), ("Ready", None, None)])
        self.assertTrue(all(r["accepted"] for r in reports))

    def test_pretty_printed_failure_accepted(self):
        body = CLOUD_INIT_FAILURE.format(inc=1, cid=REF_CID, iid=REF_IID,
                                         desc="result=error|reason=x &amp; y &lt;z&gt;").encode()
        self.assertEqual(self.post(body)[0], 200)
        self.assertEqual(self.control("/health-reports")[-1]["description"], "result=error|reason=x & y <z>")

    def test_reordered_rejected(self):
        swapped = REF_READY.replace(
            b"<GoalStateIncarnation>1</GoalStateIncarnation><Container>", b"<Container>").replace(
            b"</Container></Health>", b"</Container><GoalStateIncarnation>1</GoalStateIncarnation></Health>")
        status, reason = self.post(swapped)
        self.assertEqual(status, 400)
        self.assertIn("order", reason)
        details_swapped = REF_NOT_READY.replace(
            b"<SubStatus>Provisioning</SubStatus><Description>Starting</Description>",
            b"<Description>Starting</Description><SubStatus>Provisioning</SubStatus>")
        self.assertEqual(self.post(details_swapped)[0], 400)
        self.assertFalse(self.control("/health-reports")[-1]["accepted"])

    def test_wrong_incarnation_container_instance_rejected(self):
        status, reason = self.post(REF_READY.replace(b">1</GoalStateIncarnation>", b">2</GoalStateIncarnation>"))
        self.assertEqual(status, 400)
        self.assertIn("incarnation", reason)
        status, reason = self.post(REF_READY.replace(REF_CID.encode(), b"00000000-0000-0000-0000-000000000000"))
        self.assertEqual(status, 400)
        self.assertIn("InvalidContainerConfiguration", reason)
        status, _ = self.post(REF_READY.replace(b"MachineRole_IN_0", b"MachineRole_IN_1"))
        self.assertEqual(status, 400)

    def test_field_values_rejected(self):
        self.assertEqual(self.post(REF_READY.replace(b"<State>Ready</State>", b"<State>Healthy</State>"))[0], 400)
        self.assertEqual(self.post(REF_NOT_READY.replace(b">Provisioning</SubStatus>", b">Booting</SubStatus>"))[0], 400)
        long_ok = REF_NOT_READY.replace(b">Starting<", b">" + b"x" * 3686 + b"<")
        self.assertEqual(self.post(long_ok)[0], 200)
        too_long = REF_NOT_READY.replace(b">Starting<", b">" + b"x" * 3687 + b"<")
        status, reason = self.post(too_long)
        self.assertEqual(status, 400)
        self.assertIn("3686", reason)
        # escaping does not count: 3686 characters after unescape
        escaped = REF_NOT_READY.replace(b">Starting<", b">" + b"&amp;" * 3686 + b"<")
        self.assertEqual(self.post(escaped)[0], 200)
        self.assertEqual(self.post(b"<Health><not-closed>")[0], 400)
        self.assertEqual(self.post(REF_READY, headers={"Content-Type": "application/json"})[0], 400)

    def test_stale_container_is_gone(self):
        self.control("/scenario?bump=none", method="POST", body={"wire": {"containerId": "99999999-2222-3333-4444-555555555555"}})
        try:
            status, _ = self.post(REF_READY)
            self.assertEqual(status, 410)
        finally:
            self.control("/scenario?bump=none", method="POST", body={"wire": {"containerId": REF_CID}})

    def test_json_health_dialect(self):
        status, _, _ = self.request("wire", "/provisioning/health", method="POST", body={"state": "Ready"},
                                    headers={"Content-Type": "application/json"})
        self.assertEqual(status, 200)
        self.assertEqual(self.control("/health-reports")[-1]["dialect"], "json")


if __name__ == "__main__":
    ftl.main()
