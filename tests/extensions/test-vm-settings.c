/* SPDX-License-Identifier: MIT */
/*
 * vmSettings (Fast Track) parser tests, and the goal-state choice between ExtensionsConfig and vmSettings.
 * Our own documents (tests/data/hostgaplugin/vm-settings*.json: the canonical one with single- and
 * multi-config handlers, dependencies and an uninstall; an HGAP too old for signatures; a Fabric copy; a newer
 * one on hold with keys in other cases, an unknown blob type and no manifests; an HGAP too old for Fast Track;
 * a parse error) are compared with a table of the values waagent's rules give
 * (extensions_goal_state_from_vm_settings.py: single-config settings take settingsSeqNo and the handler
 * state, multi-config ones their own extensionName/seqNo/extensionState; dependsOn sets levels; keys are
 * case-insensitive). Public settings are compared as compact JSON. The interop group does the same for
 * WALinuxAgent's hostgaplugin/ fixtures with the values waagent derives from them.
 */
/* Expected-value tables laid out by hand, one handler per row: not clang-formatted. */
/* clang-format off */
#include <stdio.h>
#include <string.h>

#include "extensions-goal-state.h"
#include "macro.h"
#include "strutil.h"
#include "tests.h"

typedef struct ExpSettings {
        const char *name;
        unsigned seq_no;
        ExtensionState state;
        int level;
        const char *public_settings;
        const char *thumbprint;
        bool has_protected;
} ExpSettings;

typedef struct ExpHandler {
        const char *name;
        const char *version;
        ExtensionState state;
        bool multi_config;
        size_t n_locations;
        bool has_signature;
        const char *invalid_reason;
        size_t n_settings;
        ExpSettings settings[6];
} ExpHandler;

typedef struct ExpGoalState {
        const char *file;
        StatusBlobType blob_type;
        bool has_blob;
        bool profile;
        GoalStateSource source;
        bool on_hold;
        uint64_t ticks;
        const char *activity_id;
        size_t n_required_features;
        size_t n_families;
        size_t n_handlers;
        ExpHandler handlers[8];
} ExpGoalState;

#define OWN_THUMB "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D"
#define OWN_ACTIVITY "1d2c3b4a-5f6e-4a7b-8c9d-0e1f2a3b4c5d"

/* tests/data/hostgaplugin/vm-settings*.json with waagent's rules (§3.2). */
static const ExpGoalState own_expected[] = {
        {
                .file = "hostgaplugin/vm-settings.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .ticks = UINT64_C(639090000001234600),
                .activity_id = OWN_ACTIVITY,
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 4,
                .handlers = {
                        { "AzlAgent.SampleHandler", "1.0.0", EXTENSION_STATE_ENABLED, false, 3, true, NULL, 1, {
                                { "AzlAgent.SampleHandler", 4, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"hello from fast track\"}", OWN_THUMB, true },
                        } },
                        { "AzlTest.RunCommand", "2.1.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 2, {
                                { "first", 1, EXTENSION_STATE_ENABLED, 0, "{\"script\":\"echo first\"}", NULL, false },
                                { "second", 3, EXTENSION_STATE_DISABLED, 2, "{\"script\":\"echo second\"}", NULL, false },
                        } },
                        { "AzlTest.Monitor", "1.4.0", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "AzlTest.Monitor", 0, EXTENSION_STATE_ENABLED, 1, "{}", NULL, false },
                        } },
                        { "AzlTest.Retired", "0.9", EXTENSION_STATE_UNINSTALL, false, 2, false, NULL, 0, {
                        } },
                },
        },
        {
                /* HGAPs before 1.0.8.159 send no encodedSignature */
                .file = "hostgaplugin/vm-settings-hgap-1.0.8.158.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .ticks = UINT64_C(639090000001234600),
                .activity_id = OWN_ACTIVITY,
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .n_handlers = 1,
                .handlers = {
                        { "AzlAgent.SampleHandler", "1.0.0", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "AzlAgent.SampleHandler", 4, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"hello from fast track\"}", OWN_THUMB, true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm-settings-fabric.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .ticks = UINT64_C(639090000000000000),
                .activity_id = OWN_ACTIVITY,
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FABRIC,
                .n_handlers = 1,
                .handlers = {
                        { "AzlTest.Monitor", "1.4.0", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "AzlTest.Monitor", 0, EXTENSION_STATE_ENABLED, 1, "{}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm-settings-newer.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .ticks = UINT64_C(639095000000000000),
                .activity_id = OWN_ACTIVITY,
                .n_required_features = 1,
                .n_families = 1,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 2,
                .handlers = {
                        { "AzlTest.NoManifest", "1.0", EXTENSION_STATE_ENABLED, false, 0, false, NULL, 1, {
                                { "AzlTest.NoManifest", 2, EXTENSION_STATE_ENABLED, 0, "{\"k\":\"v\"}", NULL, false },
                        } },
                        { "AzlTest.EmptyLocations", "1.1", EXTENSION_STATE_ENABLED, false, 0, false, NULL, 0, {
                        } },
                },
        },
};

/* Derived from the fixtures with waagent's rules (§3.2): single-config settings take settingsSeqNo and the
 * handler state, multi-config ones their own extensionName/seqNo/extensionState; dependsOn sets levels. */
static const ExpGoalState peer_expected[] = {
        {
                .file = "hostgaplugin/vm_settings-agent_family_version.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726699999999999),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 4,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 0, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo '4abb1e88-f349-41f8-8442-247d9fdfcac5'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'e865c9bc-a7b3-42c6-9a79-cfa98a1ee8b3'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f923e416-0340-485c-9243-8b84fb9930c6'\"}}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-difference_in_required_features.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 5,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 1, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 2, "{\"source\":{\"script\":\"echo '4abb1e88-f349-41f8-8442-247d9fdfcac5'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 1, "{\"source\":{\"script\":\"echo 'e865c9bc-a7b3-42c6-9a79-cfa98a1ee8b3'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f923e416-0340-485c-9243-8b84fb9930c6'\"}}", NULL, false },
                        } },
                        { "Microsoft.OSTCExtensions.VMAccessForLinux", "1.5.11", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.OSTCExtensions.VMAccessForLinux", 0, EXTENSION_STATE_ENABLED, 0, NULL, "59A10F50FFE2A0408D3F03FE336C8FD5716CF25C", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-empty_depends_on.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637693267431616449),
                .activity_id = "2e7f8b5d-f637-4721-b757-cb190d49b4e9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 0, "{\"commandToExecute\":\"echo '09cd27e9-fbd6-48ad-be86-55f3783e0a23'\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-fabric-no_thumbprints.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205299),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FABRIC,
                .on_hold = true,
                .n_handlers = 5,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", NULL, false },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", NULL, false },
                        } },
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 1, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 2, "{\"source\":{\"script\":\"echo '4abb1e88-f349-41f8-8442-247d9fdfcac5'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 1, "{\"source\":{\"script\":\"echo 'e865c9bc-a7b3-42c6-9a79-cfa98a1ee8b3'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f923e416-0340-485c-9243-8b84fb9930c6'\"}}", NULL, false },
                        } },
                        { "Microsoft.OSTCExtensions.VMAccessForLinux", "1.5.11", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 0, {
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-invalid_blob_type.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637693267431616449),
                .activity_id = "2e7f8b5d-f637-4721-b757-cb190d49b4e9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 2,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 0, "{\"commandToExecute\":\"echo '09cd27e9-fbd6-48ad-be86-55f3783e0a23'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo '737fa9f1-e9bf-4c3e-ab1f-9e03cd0b5b40'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f6a0a405-c028-4e68-bd77-5d491fbbd9cf'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo '338e316a-01bf-4513-8ae1-b603b09ad155'\"}}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-missing_cert.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205299),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.OSTCExtensions.VMAccessForLinux", "1.5.11", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.OSTCExtensions.VMAccessForLinux", 0, EXTENSION_STATE_ENABLED, 0, NULL, "59A10F50FFE2A0408D3F03FE336C8FD5716CF25C", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-no_manifests.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637829610574739741),
                .activity_id = "89d50bf1-fa55-4257-8af3-3db0c9f81ab4",
                .n_required_features = 0,
                .n_families = 1,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 3,
                .handlers = {
                        { "Microsoft.Azure.Monitor.WorkloadInsights.Test.Workload.LinuxConfigAgent", "3.0", EXTENSION_STATE_UNINSTALL, false, 0, false, NULL, 0, {
                        } },
                        { "Microsoft.Azure.Monitor.WorkloadInsights.Test.Workload.LinuxInstallerAgent", "11.0", EXTENSION_STATE_UNINSTALL, false, 0, false, NULL, 0, {
                        } },
                        { "Microsoft.Azure.Monitor.Workloads.Workload.WLILinuxExtension", "0.2.127", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.Workloads.Workload.WLILinuxExtension", 7, EXTENSION_STATE_ENABLED, 0, "{\"workloadConfig\":null}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-no_status_upload_blob.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = false,
                .profile = false,
                .ticks = UINT64_C(637726657706209999),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 1,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 1, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-out-of-sync.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657000000000),
                .activity_id = "AAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-redact.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(638693753947160515),
                .activity_id = "845594b9-d46c-4649-9f3d-be3bbf795a21",
                .n_required_features = 0,
                .n_families = 1,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 3,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.10", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 1, EXTENSION_STATE_ENABLED, 0, NULL, "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                        { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", "1.0.4.7", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", 12, EXTENSION_STATE_ENABLED, 0, "{\"azureResourceId\":\"/subscriptions/z99z9999/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm01\",\"forceReOnboarding\":false,\"vNextEnabled\":false,\"autoUpdate\":true}", "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandLinux", "1.0.5", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.CPlat.Core.RunCommandLinux", 13, EXTENSION_STATE_ENABLED, 0, "{}", "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-redact_formatted.json",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(638693753947160515),
                .activity_id = "845594b9-d46c-4649-9f3d-be3bbf795a21",
                .n_required_features = 0,
                .n_families = 1,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = false,
                .n_handlers = 3,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.10", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 1, EXTENSION_STATE_ENABLED, 0, NULL, "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                        { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", "1.0.4.7", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", 12, EXTENSION_STATE_ENABLED, 0, "{\"azureResourceId\":\"/subscriptions/z99z9999/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm01\",\"forceReOnboarding\":false,\"vNextEnabled\":false,\"autoUpdate\":true}", "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandLinux", "1.0.5", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.CPlat.Core.RunCommandLinux", 13, EXTENSION_STATE_ENABLED, 0, "{}", "FF56DAC2F36EDDE292DE9D49B200D7CBEE05D2F4", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-requested_version_properties_false.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726699999999999),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 4,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 0, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo '4abb1e88-f349-41f8-8442-247d9fdfcac5'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'e865c9bc-a7b3-42c6-9a79-cfa98a1ee8b3'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f923e416-0340-485c-9243-8b84fb9930c6'\"}}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-supported_hgap_version_for_signature.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205299),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 2,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 3, true, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings-unsupported_hgap_version_for_signature.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205299),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "hostgaplugin/vm_settings.json",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205299),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
                .source = GOAL_STATE_SOURCE_FAST_TRACK,
                .on_hold = true,
                .n_handlers = 5,
                .handlers = {
                        { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", "1.9.1", EXTENSION_STATE_ENABLED, false, 3, true, NULL, 1, {
                                { "Microsoft.Azure.Monitor.AzureMonitorLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"GCS_AUTO_CONFIG\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", "2.15.112", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Security.Monitoring.AzureSecurityLinuxAgent", 0, EXTENSION_STATE_ENABLED, 0, "{\"enableGenevaUpload\":true}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 1, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandHandlerLinux", "1.2.0", EXTENSION_STATE_ENABLED, true, 3, false, NULL, 3, {
                                { "MCExt1", 0, EXTENSION_STATE_ENABLED, 2, "{\"source\":{\"script\":\"echo '4abb1e88-f349-41f8-8442-247d9fdfcac5'\"}}", NULL, false },
                                { "MCExt2", 0, EXTENSION_STATE_ENABLED, 1, "{\"source\":{\"script\":\"echo 'e865c9bc-a7b3-42c6-9a79-cfa98a1ee8b3'\"}}", NULL, false },
                                { "MCExt3", 0, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"echo 'f923e416-0340-485c-9243-8b84fb9930c6'\"}}", NULL, false },
                        } },
                        { "Microsoft.OSTCExtensions.VMAccessForLinux", "1.5.11", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.OSTCExtensions.VMAccessForLinux", 0, EXTENSION_STATE_ENABLED, 0, NULL, "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
};

static size_t handler_locations(const ExtensionHandler *h) {
        return !!h->location + !!h->failover_location + strv_length(h->additional_locations);
}

static void check_goal_state(TestReadFn read, const ExpGoalState *e) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = read(e->file, &size);
        if (vm_settings_parse(buf, size, "123", &gs, &error) < 0)
                fail_msg("%s: %s", e->file, strna(error));
        assert_string_equal(gs.id, "etag_123");
        assert_int_equal(gs.channel, GOAL_STATE_CHANNEL_HOSTGAPLUGIN);
        assert_int_equal(gs.source, e->source);
        assert_int_equal(gs.on_hold, e->on_hold);
        assert_int_equal(gs.status_upload_blob_type, e->blob_type);
        assert_int_equal(gs.status_upload_blob != NULL, e->has_blob);
        assert_int_equal(gs.created_on_ticks, e->ticks);
        assert_string_equal(gs.activity_id, e->activity_id);
        assert_int_equal(strv_length(gs.required_features), e->n_required_features);
        assert_int_equal(gs.n_agent_families, e->n_families);
        if (gs.n_handlers != e->n_handlers)
                fail_msg("%s: %zu handlers, expected %zu", e->file, gs.n_handlers, e->n_handlers);

        for (size_t i = 0; i < e->n_handlers; i++) {
                const ExpHandler *eh = &e->handlers[i];
                const ExtensionHandler *h = &gs.handlers[i];

                print_message("  %s: %s %s\n", e->file, eh->name, eh->version);
                assert_string_equal(h->name, eh->name);
                assert_string_equal(h->version, eh->version);
                assert_null(h->invalid_reason);
                assert_int_equal(h->state, eh->state);
                assert_int_equal(h->is_multi_config, eh->multi_config);
                assert_int_equal(handler_locations(h), eh->n_locations);
                assert_int_equal(h->encoded_signature != NULL, eh->has_signature);
                assert_int_equal(h->n_settings, eh->n_settings);
                for (size_t j = 0; j < eh->n_settings; j++) {
                        const ExpSettings *es = &eh->settings[j];
                        const ExtensionSettings *s = &h->settings[j];

                        assert_string_equal(s->name, es->name);
                        assert_int_equal(s->seq_no, es->seq_no);
                        assert_int_equal(s->state, es->state);
                        assert_int_equal(s->dependency_level, es->level);
                        if (es->public_settings)
                                assert_string_equal(s->public_settings, es->public_settings);
                        else
                                assert_null(s->public_settings);
                        if (es->thumbprint)
                                assert_string_equal(s->protected_settings_cert_thumbprint, es->thumbprint);
                        else
                                assert_null(s->protected_settings_cert_thumbprint);
                        assert_int_equal(s->protected_settings != NULL, es->has_protected);
                }
        }
}

static void test_all_documents(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(own_expected); i++)
                check_goal_state(test_data_read, &own_expected[i]);
}

static void interop_all_fixtures(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(peer_expected); i++)
                check_goal_state(fixture_read, &peer_expected[i]);
}

static void test_vm_settings_details(void **state) {
        _cleanup_free_ char *buf = NULL, *protected = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        const ExtensionHandler *h;
        size_t size;

        buf = test_data_read("hostgaplugin/vm-settings.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "0123456789", &gs, NULL), 0);
        assert_string_equal(gs.id, "etag_0123456789");
        assert_string_equal(gs.host_ga_plugin_version, "1.0.8.159");
        assert_string_equal(gs.in_svd_seq_no, "6");
        assert_string_equal(gs.correlation_id, "9e8d7c6b-5a4f-4e3d-2c1b-0a9f8e7d6c5b");
        assert_string_equal(gs.required_features[0], "MultipleExtensionsPerHandler");
        assert_string_equal(gs.status_upload_blob,
                            "https://azlteststatus.blob.core.windows.net/vhds/azl-test-vm.status?sv=2024-01-01&sr=b"
                            "&sp=rw&sig=QXpsVGVzdFNpZw%3D%3D");
        assert_string_equal(gs.agent_families[1].version, "9.1.2.3");
        /* "failoverlocation" for one handler, "failoverLocation" for the next: keys are case-folded. */
        h = &gs.handlers[0];
        assert_string_equal(h->failover_location,
                            "https://azltestmirror.blob.core.windows.net/handlers/AzlAgent.SampleHandler_manifest.xml");
        assert_string_equal(gs.handlers[1].failover_location,
                            "https://azltestmirror.blob.core.windows.net/handlers/AzlTest.RunCommand_manifest.xml");
        assert_string_equal(h->encoded_signature, "MIIBYXpsLWFnZW50IHRlc3Qgc2lnbmF0dXJlIHBsYWNlaG9sZGVy");
        protected = test_data_read("wire/protected-settings.txt", &size);
        assert_string_equal(h->settings[0].protected_settings, strstrip(protected));
}

static void test_no_manifests(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        /* no manifest locations at all, for the agent family and for the handlers */
        buf = test_data_read("hostgaplugin/vm-settings-newer.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(gs.n_agent_families, 1);
        assert_int_equal(strv_length(gs.agent_families[0].uris), 0);
        assert_int_equal(gs.n_handlers, 2);
        assert_int_equal(handler_locations(&gs.handlers[0]), 0);
        assert_int_equal(handler_locations(&gs.handlers[1]), 0);
        /* and an unknown blob type is BlockBlob */
        assert_int_equal(gs.status_upload_blob_type, STATUS_BLOB_TYPE_BLOCK);
        assert_true(gs.status_upload_blob_type_defaulted);
}

static void test_parse_error(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        ExtensionsGoalState gs = { .id = (char *) "untouched" };
        size_t size;

        buf = test_data_read("hostgaplugin/vm-settings-parse-error.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, &error), -EBADMSG);
        assert_true(startswith(error, "Error parsing vmSettings [HGAP: 0.0.0.0]: "));
        assert_string_equal(gs.id, "untouched");
}

static void test_unsupported_version(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        ExtensionsGoalState gs = { .id = (char *) "untouched" };
        size_t size;

        buf = test_data_read("hostgaplugin/vm-settings-old-hgap.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, &error), -EOPNOTSUPP);
        assert_string_equal(error, "HostGAPlugin 1.0.8.120 does not support the vmSettings API. Will not use FastTrack.");
        assert_string_equal(gs.id, "untouched");
}

static void interop_vm_settings_details(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        const ExtensionHandler *h;
        size_t size;

        buf = fixture_read("hostgaplugin/vm_settings.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "0123456789", &gs, NULL), 0);
        assert_string_equal(gs.host_ga_plugin_version, "1.0.8.133");
        assert_string_equal(gs.in_svd_seq_no, "1");
        assert_string_equal(gs.correlation_id, "9a47a2a2-e740-4bfc-b11b-4f2f7cfe7d2e");
        assert_string_equal(gs.required_features[0], "MultipleExtensionsPerHandler");
        assert_true(startswith(gs.status_upload_blob, "https://dcrcl3a0xs.blob.core.windows.net/$system/"));
        /* "failoverlocation" in this document, "failoverLocation" in waagent's code: keys are case-folded. */
        h = &gs.handlers[0];
        assert_string_equal(h->failover_location,
                            "https://zrdfepirv2cbn06prdstr01a.blob.core.windows.net/a47f0806d764480a8d989d009c75007d/"
                            "Microsoft.Azure.Monitor_AzureMonitorLinuxAgent_useast2euap_manifest.xml");
        assert_true(startswith(h->encoded_signature, "MIInEAYJKoZIhvcNAQcC"));
        assert_true(startswith(h->settings[0].protected_settings, "MIIBsAYJKoZIhvcNAQcDoIIBoTCCAZ0CAQAxggFpMIIBZQIBADBN"));
}

static void interop_no_manifests(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        /* waagent test_it_should_parse_missing_{agent,extension}_manifests_as_empty */
        buf = fixture_read("hostgaplugin/vm_settings-no_manifests.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(gs.n_agent_families, 1);
        assert_int_equal(strv_length(gs.agent_families[0].uris), 0);
        assert_int_equal(gs.n_handlers, 3);
        assert_int_equal(handler_locations(&gs.handlers[0]), 0);
        assert_int_equal(handler_locations(&gs.handlers[1]), 0);
        assert_string_equal(gs.handlers[2].location,
                            "https://umsakzkwhng2ft0jjptl.blob.core.windows.net/deeb2df6-c025-e6fb-b015-449ed6a676bc/"
                            "deeb2df6-c025-e6fb-b015-449ed6a676bc_manifest.xml");
        assert_string_equal(gs.handlers[2].failover_location,
                            "https://umsafmqfbv4hgrd1hqff.blob.core.windows.net/deeb2df6-c025-e6fb-b015-449ed6a676bc/"
                            "deeb2df6-c025-e6fb-b015-449ed6a676bc_manifest.xml");
}

static void interop_invalid_blob_type(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = fixture_read("hostgaplugin/vm_settings-invalid_blob_type.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(gs.status_upload_blob_type, STATUS_BLOB_TYPE_BLOCK);
        assert_true(gs.status_upload_blob_type_defaulted);
}

static void interop_parse_error(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        ExtensionsGoalState gs = { .id = (char *) "untouched" };
        size_t size;

        buf = fixture_read("hostgaplugin/vm_settings-parse_error.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, &error), -EBADMSG);
        assert_true(startswith(error, "Error parsing vmSettings [HGAP: 0.0.0.0]: "));
        assert_string_equal(gs.id, "untouched");
}

static void interop_unsupported_version(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        ExtensionsGoalState gs = { .id = (char *) "untouched" };
        size_t size;

        buf = fixture_read("hostgaplugin/vm_settings-unsupported_version.json", &size);
        assert_int_equal(vm_settings_parse(buf, size, "1", &gs, &error), -EOPNOTSUPP);
        assert_string_equal(error, "HostGAPlugin 1.0.8.116 does not support the vmSettings API. Will not use FastTrack.");
        assert_string_equal(gs.id, "untouched");
}

static void test_rejected_documents(void **state) {
        static const struct {
                const char *doc;
                const char *error;
        } bad[] = {
                { "[]", "Error parsing vmSettings [HGAP: 0.0.0.0]: not a JSON object" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"statusUploadBlob\": {\"statusBlobType\": \"PageBlob\"}}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: Missing statusUploadBlob.value" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": {}}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: extension_goal_states should be an array (got object)" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": [{\"name\": \"A\", \"version\": \"1\", "
                  "\"state\": \"enabled\", \"settings\": [{\"protectedSettings\": \"SECRET\"}]}]}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: The certificate thumbprint for protected settings is "
                  "missing (extension: A)" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": [{\"name\": \"A\", \"version\": \"1\", "
                  "\"state\": \"running\"}]}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: Invalid extension state: running (A)" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": [{\"name\": \"A\", \"version\": \"1\", "
                  "\"state\": \"enabled\", \"settingsSeqNo\": 1, \"settings\": [{}, {}]}]}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: Single-config extension includes multiple settings "
                  "(extension: A)" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": [{\"name\": \"A\", \"version\": \"1\", "
                  "\"state\": \"enabled\", \"settingsSeqNo\": 1, \"settings\": [{}], \"dependsOn\": [{\"dependencyLevel\": 1},"
                  " {\"dependencyLevel\": 2}]}]}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: dependsOn should be an array with exactly one item for "
                  "single-config extensions (A)" },
                { "{\"hostGAPluginVersion\": \"1.0.8.140\", \"extensionGoalStates\": [{\"name\": \"A\", \"version\": \"1\", "
                  "\"state\": \"enabled\", \"isMultiConfig\": true, \"settings\": [{\"extensionName\": \"x\", \"seqNo\": 1, "
                  "\"extensionState\": \"enabled\"}], \"dependsOn\": [{\"name\": \"y\", \"dependencyLevel\": 1}]}]}",
                  "Error parsing vmSettings [HGAP: 1.0.8.140]: Dependency 'y' does not correspond to any of the settings "
                  "in the extension" },
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *error = NULL;
                ExtensionsGoalState gs = {};

                assert_true(vm_settings_parse(bad[i].doc, strlen(bad[i].doc), "e", &gs, &error) < 0);
                assert_string_equal(error, bad[i].error);
                /* protected settings never leak into the reason */
                assert_null(strstr(error, "SECRET"));
        }
}

static void parse_document(TestReadFn read, const char *rel, const char *tag, bool vm, ExtensionsGoalState *ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;

        buf = read(rel, &size);
        if (vm)
                assert_int_equal(vm_settings_parse(buf, size, tag, ret, NULL), 0);
        else
                assert_int_equal(ext_conf_parse(buf, size, tag, ret, NULL), 0);
}

typedef struct ChooseDocuments {
        TestReadFn read;
        const char *ext_conf, *vm_settings, *vm_settings_newer, *vm_settings_fabric;
} ChooseDocuments;

static void check_goal_state_choose(const ChooseDocuments *d) {
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState ec = {}, vm = {}, vm_newer = {}, fabric = {};

        parse_document(d->read, d->ext_conf, "1", false, &ec);
        parse_document(d->read, d->vm_settings, "e1", true, &vm);
        parse_document(d->read, d->vm_settings_newer, "e2", true, &vm_newer);
        parse_document(d->read, d->vm_settings_fabric, "e3", true, &fabric);

        /* Both new: the more recent by createdOnTicks wins. */
        assert_ptr_equal(goal_state_choose(NULL, &ec, &vm), &vm);
        /* Only one new. */
        assert_ptr_equal(goal_state_choose(NULL, &ec, NULL), &ec);
        assert_ptr_equal(goal_state_choose(&ec, NULL, &vm), &vm);
        /* Nothing new: keep the current one. */
        assert_ptr_equal(goal_state_choose(&vm, NULL, NULL), &vm);
        assert_null(goal_state_choose(NULL, NULL, NULL));
        /* An older goal state does not replace a newer current one (e.g. a tenant-cert rotation incarnation). */
        assert_ptr_equal(goal_state_choose(&vm_newer, &ec, NULL), &vm_newer);
        /* vmSettings from Fabric are ignored. */
        assert_ptr_equal(goal_state_choose(NULL, &ec, &fabric), &ec);
        assert_ptr_equal(goal_state_choose(&ec, NULL, &fabric), &ec);
        /* Equal ticks: ExtensionsConfig (waagent picks vmSettings only when strictly newer). */
        vm.created_on_ticks = ec.created_on_ticks;
        assert_ptr_equal(goal_state_choose(NULL, &ec, &vm), &ec);
}

/* wire/ext-conf.xml: 639090000001234567; vm-settings.json: …600 (33 ticks later); vm-settings-newer.json:
 * 639095000000000000; vm-settings-fabric.json: source Fabric. */
static void test_goal_state_choose(void **state) {
        check_goal_state_choose(&(ChooseDocuments) { test_data_read, "wire/ext-conf.xml", "hostgaplugin/vm-settings.json",
                                                     "hostgaplugin/vm-settings-newer.json",
                                                     "hostgaplugin/vm-settings-fabric.json" });
}

/* hostgaplugin/ext_conf.xml: 637726657706205217; vm_settings.json: ...299 (82 ticks later);
 * vm_settings-agent_family_version.json: 637726699999999999; -fabric-no_thumbprints: source Fabric. */
static void interop_goal_state_choose(void **state) {
        check_goal_state_choose(&(ChooseDocuments) { fixture_read, "hostgaplugin/ext_conf.xml",
                                                     "hostgaplugin/vm_settings.json",
                                                     "hostgaplugin/vm_settings-agent_family_version.json",
                                                     "hostgaplugin/vm_settings-fabric-no_thumbprints.json" });
}

static void test_versions(void **state) {
        assert_true(flexible_version_compare("1.0.8.116", HGAP_MIN_VERSION_FOR_VM_SETTINGS) < 0);
        assert_true(flexible_version_compare("1.0.8.133", HGAP_MIN_VERSION_FOR_VM_SETTINGS) == 0);
        assert_true(flexible_version_compare("1.0.8.1330", "1.0.8.133") > 0);
        assert_true(flexible_version_compare("1.0", "1.0.0.0") == 0);
        assert_true(flexible_version_compare("2.15.112", "2.9.999") > 0);
        assert_true(flexible_version_has_prefix("1.0.2", "1.0"));
        assert_true(flexible_version_has_prefix("1.0", "1.0"));
        assert_false(flexible_version_has_prefix("1.1", "1.0"));
        assert_false(flexible_version_has_prefix("1.10", "1.1"));
        assert_false(flexible_version_has_prefix("1", "1.0.1"));
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_all_fixtures),
                cmocka_unit_test(interop_vm_settings_details),
                cmocka_unit_test(interop_no_manifests),
                cmocka_unit_test(interop_invalid_blob_type),
                cmocka_unit_test(interop_parse_error),
                cmocka_unit_test(interop_unsupported_version),
                cmocka_unit_test(interop_goal_state_choose),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_documents),
                cmocka_unit_test(test_vm_settings_details),
                cmocka_unit_test(test_no_manifests),
                cmocka_unit_test(test_parse_error),
                cmocka_unit_test(test_unsupported_version),
                cmocka_unit_test(test_rejected_documents),
                cmocka_unit_test(test_goal_state_choose),
                cmocka_unit_test(test_versions),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
/* clang-format on */
