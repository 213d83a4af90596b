/* SPDX-License-Identifier: MIT */
/*
 * ExtensionsConfig parser tests. Our own documents (tests/data/wire/ext-conf*.xml: the canonical single
 * handler, multi-config with dependencies and every requested state, one invalid configuration of each kind
 * beside a valid handler, and an empty goal state) are parsed and compared with a table of the values waagent's
 * rules give (extensions_goal_state_from_extensions_config.py: handlers in Plugins order, PluginSettings matched
 * by name case-insensitively, single-config settings named after the handler, multi-config settings per
 * ExtensionRuntimeSettings with their own seqNo/state and DependsOn@name levels, invalid configurations kept
 * as handlers carrying waagent's error text). Public settings are compared as compact JSON. The interop group
 * does the same for every ExtensionsConfig fixture of waagent (wire/, wire/multi-config/, wire/invalid_config/,
 * hostgaplugin/) with the values waagent derives from them.
 */
/* Expected-value tables laid out by hand, one handler per row: not clang-formatted. */
/* clang-format off */
#include <stdio.h>
#include <string.h>

#include "ext-plan.h"
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
        uint64_t ticks;
        const char *activity_id;
        size_t n_required_features;
        size_t n_families;
        size_t n_handlers;
        ExpHandler handlers[8];
} ExpGoalState;

#define OWN_THUMB "E488489693D19133A637CCF4E1B5BFFFB1ABDF3D"

/* tests/data/wire/ext-conf*.xml with waagent's rules. */
static const ExpGoalState own_expected[] = {
        {
                .file = "wire/ext-conf.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(639090000001234567),
                .activity_id = "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "AzlAgent.SampleHandler", "1.0.0", EXTENSION_STATE_ENABLED, false, 4, true, NULL, 1, {
                                { "AzlAgent.SampleHandler", 4, EXTENSION_STATE_ENABLED, 0,
                                  "{\"message\":\"hello from the tests\",\"items\":[1,2]}", OWN_THUMB, true },
                        } },
                },
        },
        {
                .file = "wire/ext-conf-multi-config.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,     /* "AppendBlob" is not a status blob type */
                .has_blob = true,
                .n_required_features = 1,
                .n_families = 1,
                .n_handlers = 4,
                .handlers = {
                        { "AzlTest.RunCommand", "2.1.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "first", 1, EXTENSION_STATE_ENABLED, 0, "{\"script\":\"echo first\"}", NULL, false },
                                { "second", 5, EXTENSION_STATE_ENABLED, 2, "{\"script\":\"echo second\",\"timeout\":30}", NULL, false },
                                { "third", 2, EXTENSION_STATE_DISABLED, 3, "{\"script\":\"echo third\"}", NULL, false },
                        } },
                        { "AzlTest.Monitor", "1.4.0", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "AzlTest.Monitor", 0, EXTENSION_STATE_ENABLED, 1, "{}", NULL, false },
                        } },
                        { "AzlTest.Retired", "0.9", EXTENSION_STATE_UNINSTALL, false, 2, false, NULL, 0, {
                        } },
                        /* single-config settings carry no state of their own: the handler's decides */
                        { "AzlTest.Legacy", "3.0", EXTENSION_STATE_DISABLED, false, 2, false, NULL, 1, {
                                { "AzlTest.Legacy", 2, EXTENSION_STATE_ENABLED, 0, NULL, OWN_THUMB, true },
                        } },
                },
        },
        {
                .file = "wire/ext-conf-invalid.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = false,
                .n_required_features = 2,
                .n_families = 2,
                .n_handlers = 7,
                .handlers = {
                        { "AzlTest.Both", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Both RuntimeSettings and ExtensionRuntimeSettings found for the same extension: AzlTest.Both and version: 1.0", 0, {
                        } },
                        { "AzlTest.Mismatch", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Extension PluginSettings Version Mismatch! Expected PluginSettings version: 1.0 for Extension: AzlTest.Mismatch but found versions: (1.1, 1.2)", 0, {
                        } },
                        { "AzlTest.TwoSettings", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Multiple RuntimeSettings found for the same extension: AzlTest.TwoSettings and version: 1.0 (Expected: 1; Available: 2)", 0, {
                        } },
                        { "AzlTest.TwoPlugins", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Multiple plugin settings found for the same extension: AzlTest.TwoPlugins and version: 1.0 (Expected: 1; Available: 2)", 0, {
                        } },
                        { "AzlTest.TwoDependsOn", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Extension Handler can only have a single dependsOn node for Single config extensions. Found: 2", 0, {
                        } },
                        { "AzlTest.EmptyState", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, "Received empty Extensions.Plugins.Plugin.state, failing Handler", 0, {
                        } },
                        { "AzlTest.Valid", "1.0", EXTENSION_STATE_ENABLED, false, 1, false, NULL, 1, {
                                { "AzlTest.Valid", 3, EXTENSION_STATE_ENABLED, 0, "{\"n\":3}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/ext-conf-empty.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .n_families = 1,
                .n_handlers = 0,
        },
};

/* Derived from the fixtures with waagent's rules. The version list of a PluginSettings version mismatch is a
 * Python set in waagent (unordered); it is given here in document order. */
static const ExpGoalState peer_expected[] = {
        {
                .file = "wire/ext_conf-no_encoded_signature.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf-no_gs_metadata.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = 0,
                .activity_id = NULL,
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf-vm_access_with_invalid_signature.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.OSTCExtensions.Edp.VMAccessForLinux", "1.7.0", EXTENSION_STATE_ENABLED, false, 2, true, NULL, 1, {
                                { "Microsoft.OSTCExtensions.Edp.VMAccessForLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf-vm_access_with_signature.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.OSTCExtensions.Edp.VMAccessForLinux", "1.7.0", EXTENSION_STATE_ENABLED, false, 2, true, NULL, 1, {
                                { "Microsoft.OSTCExtensions.Edp.VMAccessForLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, true, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_additional_locations.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 4, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_aks_extension.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 4,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling non-AKS\"}", NULL, false },
                        } },
                        { "Microsoft.AKS.Compute.AKS.Linux.AKSNode", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.AKS.Compute.AKS.Linux.AKSNode", 0, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling AKSNode\"}", NULL, false },
                        } },
                        { "Microsoft.AKS.Compute.AKS-Engine.Linux.Billing", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.AKS.Compute.AKS-Engine.Linux.Billing", 0, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling AKSBilling\"}", NULL, false },
                        } },
                        { "Microsoft.AKS.Compute.AKS.Linux.Billing", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 0, {
                        } },
                },
        },
        {
                .file = "wire/ext_conf_autoupgrade.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_autoupgrade_internalversion.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.3.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_dependencies_with_empty_settings.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 1, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "OSTCExtensions.OtherExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 0, {
                        } },
                },
        },
        {
                .file = "wire/ext_conf_downgrade_rsm_version.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_in_vm_artifacts_profile.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_in_vm_empty_artifacts_profile.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_in_vm_metadata.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637405409304121230),
                .activity_id = "555e551c-600e-4fb4-90ba-8ab8ec28eccc",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_internalversion.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.3.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_invalid_and_valid_handlers.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.InvalidExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Both RuntimeSettings and ExtensionRuntimeSettings found for the same extension: OSTCExtensions.InvalidExampleHandlerLinux and version: 1.0.0", 0, {
                        } },
                        { "OSTCExtensions.ValidExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ValidExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_invalid_vm_metadata.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(0),
                .activity_id = NULL,
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_missing_family.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 1,
                .n_handlers = 0,
                .handlers = {
                },
        },
        {
                .file = "wire/ext_conf_multiple_extensions.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 5,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.EnterpriseCloud.Monitoring.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.EnterpriseCloud.Monitoring.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.CPlat.Core.ExampleExtensionLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.CPlat.Core.ExampleExtensionLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.OSTCExtensions.Edp.ExampleExtensionLinuxInTest", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.OSTCExtensions.Edp.ExampleExtensionLinuxInTest", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_no_extensions-block_blob.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 0,
                .n_handlers = 0,
                .handlers = {
                },
        },
        {
                .file = "wire/ext_conf_no_extensions-no_status_blob.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = false,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 0,
                .n_handlers = 0,
                .handlers = {
                },
        },
        {
                .file = "wire/ext_conf_no_extensions-page_blob.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 0,
                .handlers = {
                },
        },
        {
                .file = "wire/ext_conf_no_public.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, NULL, "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_no_settings.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 0, {
                        } },
                },
        },
        {
                .file = "wire/ext_conf_redact.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(638697286354582862),
                .activity_id = "b72a79fc-6f88-41f5-9f9c-0f3b808de282",
                .n_required_features = 0,
                .n_families = 1,
                .n_handlers = 3,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.10", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 1, EXTENSION_STATE_ENABLED, 0, NULL, "3CA9F246CB9F2D4D17A1BBF732CA5D70AE5CB810", true },
                        } },
                        { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", "1.0.4.7", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.AzureDefenderForServers.MDE.Linux", 12, EXTENSION_STATE_ENABLED, 0, "{\"azureResourceId\":\"/subscriptions/z99z9999/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/vm01\",\"forceReOnboarding\":false,\"vNextEnabled\":false,\"autoUpdate\":true}", "3CA9F246CB9F2D4D17A1BBF732CA5D70AE5CB810", true },
                        } },
                        { "Microsoft.CPlat.Core.RunCommandLinux", "1.0.5", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.CPlat.Core.RunCommandLinux", 13, EXTENSION_STATE_ENABLED, 0, "{}", "3CA9F246CB9F2D4D17A1BBF732CA5D70AE5CB810", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_required_features.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 3,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinuxWithRequiredFeatures", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinuxWithRequiredFeatures", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_rsm_version.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_sequencing.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 2, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "OSTCExtensions.OtherExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.OtherExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 1, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_settings_case_mismatch.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 5,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.EnterpriseCloud.Monitoring.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.EnterpriseCloud.Monitoring.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.CPlat.Core.ExampleExtensionLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.CPlat.Core.ExampleExtensionLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                        { "Microsoft.OSTCExtensions.Edp.ExampleExtensionLinuxInTest", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.OSTCExtensions.Edp.ExampleExtensionLinuxInTest", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_upgradeguid.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_version_missing_in_agent_family.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_version_missing_in_manifest.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_version_not_from_rsm.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/ext_conf_vm_not_enabled_for_rsm_upgrades.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.ExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 0, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_mc_disabled_extensions.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415129555522297),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 4, {
                                { "firstExtension", 1, EXTENSION_STATE_DISABLED, 0, "{\"source\":{\"script\":\"Write-Host First: Hello World 1234!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"firstRunCommand\"}],\"timeoutInSeconds\":120}", NULL, false },
                                { "secondExtension", 2, EXTENSION_STATE_DISABLED, 0, "{\"message\":\"Disabling secondExtension\"}", NULL, false },
                                { "thirdExtension", 99, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling thirdExtension\"}", NULL, false },
                                { "fourthExtension", 101, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling fourthExtension\"}", NULL, false },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 10, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling SingleConfig Extension\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_mc_update_extensions.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415129555522297),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.1.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "firstExtension", 1, EXTENSION_STATE_DISABLED, 0, "{\"message\":\"Disabling firstExtension\"}", NULL, false },
                                { "secondExtension", 2, EXTENSION_STATE_DISABLED, 0, "{\"message\":\"Disabling secondExtension\"}", NULL, false },
                                { "thirdExtension", 99, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling thirdExtension\"}", NULL, false },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.1.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 10, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling SingleConfig extension\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_multi_config_no_dependencies.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415129555522297),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "firstExtension", 1, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling firstExtension\"}", NULL, false },
                                { "secondExtension", 2, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling secondExtension\"}", NULL, false },
                                { "thirdExtension", 3, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling thirdExtension\"}", NULL, false },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 9, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling SingleConfig extension\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_with_disabled_multi_config.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415145688521507),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 5,
                .handlers = {
                        { "Microsoft.CPlat.Core.RunCommandHandlerWindows", "2.3.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "firstRunCommand", 3, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"Write-Host First: Hello World 66!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"firstRunCommand2\"}],\"timeoutInSeconds\":120}", NULL, false },
                                { "secondRunCommand", 3, EXTENSION_STATE_ENABLED, 1, "{\"source\":{\"script\":\"Write-Host Second: Hello World 66!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"secondRunCommand2\"}],\"timeoutInSeconds\":120}", NULL, false },
                                { "thirdRunCommand", 1, EXTENSION_STATE_DISABLED, 4, "{\"source\":{\"script\":\"Write-Host Third: Hello World 3!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"thirdRunCommand\"}],\"timeoutInSeconds\":120}", NULL, false },
                        } },
                        { "Microsoft.Azure.Security.AntimalwareSignature.AntimalwareConfiguration", "2.0.53.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Security.AntimalwareSignature.AntimalwareConfiguration", 1, EXTENSION_STATE_ENABLED, 0, "{}", NULL, false },
                        } },
                        { "Microsoft.Azure.Geneva.GenevaMonitoring", "2.20.0.1", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Geneva.GenevaMonitoring", 2, EXTENSION_STATE_ENABLED, 0, "{}", NULL, false },
                        } },
                        { "Microsoft.Compute.CustomScriptExtension", "1.10.9", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Compute.CustomScriptExtension", 3, EXTENSION_STATE_ENABLED, 1, "{\"fileUris\":[\"https://test.blob.core.windows.net/windowsagent/VerifyAgentRunning.ps1\"],\"commandToExecute\":\"echo Hello 666\"}", NULL, false },
                        } },
                        { "Microsoft.Compute.VMAccessAgent", "2.4.7", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Compute.VMAccessAgent", 2, EXTENSION_STATE_ENABLED, 2, "{\"UserName\":\"test1234\"}", "EE22B5ECAC6A83B581A7CAC1772BEBD0E016649F", true },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_with_multi_config.xml",
                .blob_type = STATUS_BLOB_TYPE_PAGE,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415129555522297),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 5,
                .handlers = {
                        { "Microsoft.CPlat.Core.RunCommandHandlerWindows", "2.3.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "firstRunCommand", 2, EXTENSION_STATE_ENABLED, 0, "{\"source\":{\"script\":\"Write-Host First: Hello World 1234!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"firstRunCommand\"}],\"timeoutInSeconds\":120}", NULL, false },
                                { "secondRunCommand", 2, EXTENSION_STATE_ENABLED, 3, "{\"source\":{\"script\":\"Write-Host First: Hello World 1234!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"secondRunCommand\"}],\"timeoutInSeconds\":120}", NULL, false },
                                { "thirdRunCommand", 1, EXTENSION_STATE_ENABLED, 4, "{\"source\":{\"script\":\"Write-Host Third: Hello World 3!\"},\"parameters\":[{\"name\":\"extensionName\",\"value\":\"thirdRunCommand\"}],\"timeoutInSeconds\":120}", NULL, false },
                        } },
                        { "Microsoft.Azure.Security.AntimalwareSignature.AntimalwareConfiguration", "2.0.53.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Security.AntimalwareSignature.AntimalwareConfiguration", 1, EXTENSION_STATE_ENABLED, 0, "{}", NULL, false },
                        } },
                        { "Microsoft.Azure.Geneva.GenevaMonitoring", "2.20.0.1", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Geneva.GenevaMonitoring", 1, EXTENSION_STATE_ENABLED, 0, "{}", NULL, false },
                        } },
                        { "Microsoft.Compute.CustomScriptExtension", "1.10.9", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Compute.CustomScriptExtension", 2, EXTENSION_STATE_ENABLED, 1, "{\"fileUris\":[\"https://test.blob.core.windows.net/windowsagent/VerifyAgentRunning.ps1\"],\"commandToExecute\":\"echo Hello 1234\"}", NULL, false },
                        } },
                        { "Microsoft.Compute.VMAccessAgent", "2.4.7", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Compute.VMAccessAgent", 1, EXTENSION_STATE_ENABLED, 2, "{\"UserName\":\"test1234\"}", "EE22B5ECAC6A83B581A7CAC1772BEBD0E016649F", true },
                        } },
                },
        },
        {
                .file = "wire/multi-config/ext_conf_with_multi_config_dependencies.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637415129555522297),
                .activity_id = NULL,
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 3,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, true, 2, false, NULL, 3, {
                                { "firstExtension", 2, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling firstExtension\"}", NULL, false },
                                { "secondExtension", 2, EXTENSION_STATE_ENABLED, 2, "{\"message\":\"Enabling secondExtension\"}", NULL, false },
                                { "thirdExtension", 1, EXTENSION_STATE_ENABLED, 3, "{\"message\":\"Enabling thirdExtension\"}", NULL, false },
                        } },
                        { "Microsoft.Powershell.ExampleExtension", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Powershell.ExampleExtension", 2, EXTENSION_STATE_ENABLED, 1, "{\"message\":\"Enabling dependent SingleConfig extension\"}", NULL, false },
                        } },
                        { "Microsoft.Azure.Geneva.GenevaMonitoring", "1.1.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "Microsoft.Azure.Geneva.GenevaMonitoring", 1, EXTENSION_STATE_ENABLED, 0, "{\"message\":\"Enabling independent SingleConfig extension\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "wire/invalid_config/ext_conf_multiple_depends_on_for_single_handler.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 2,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Extension Handler can only have a single dependsOn node for Single config extensions. Found: 2", 0, {
                        } },
                        { "OSTCExtensions.OtherExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, NULL, 1, {
                                { "OSTCExtensions.OtherExampleHandlerLinux", 0, EXTENSION_STATE_ENABLED, 1, "{\"foo\":\"bar\"}", "F6ABAA61098A301EBB8A571C3C7CF77F355F7FA9", true },
                        } },
                },
        },
        {
                .file = "wire/invalid_config/ext_conf_multiple_runtime_settings_same_plugin.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Multiple RuntimeSettings found for the same extension: OSTCExtensions.ExampleHandlerLinux and version: 1.0.0 (Expected: 1; Available: 2)", 0, {
                        } },
                },
        },
        {
                .file = "wire/invalid_config/ext_conf_multiple_settings_for_same_handler.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Multiple plugin settings found for the same extension: OSTCExtensions.ExampleHandlerLinux and version: 1.0.0 (Expected: 1; Available: 2)", 0, {
                        } },
                },
        },
        {
                .file = "wire/invalid_config/ext_conf_plugin_settings_version_mismatch.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Extension PluginSettings Version Mismatch! Expected PluginSettings version: 1.0.0 for Extension: OSTCExtensions.ExampleHandlerLinux but found versions: (1.0.1, 1.0.2)", 0, {
                        } },
                },
        },
        {
                .file = "wire/invalid_config/ext_conf_single_and_multi_config_settings_same_plugin.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = false,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "OSTCExtensions.ExampleHandlerLinux", "1.0.0", EXTENSION_STATE_ENABLED, false, 2, false, "Both RuntimeSettings and ExtensionRuntimeSettings found for the same extension: OSTCExtensions.ExampleHandlerLinux and version: 1.0.0", 0, {
                        } },
                },
        },
        {
                .file = "hostgaplugin/ext_conf-agent_family_version.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
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
                .file = "hostgaplugin/ext_conf-empty_depends_on.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637693267431616449),
                .activity_id = "2e7f8b5d-f637-4721-b757-cb190d49b4e9",
                .n_required_features = 1,
                .n_families = 2,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 0, "{\"commandToExecute\":\"echo '09cd27e9-fbd6-48ad-be86-55f3783e0a23'\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/ext_conf-invalid_blob_type.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637693267431616449),
                .activity_id = "2e7f8b5d-f637-4721-b757-cb190d49b4e9",
                .n_required_features = 1,
                .n_families = 2,
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
                .file = "hostgaplugin/ext_conf-no_status_upload_blob.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = false,
                .profile = true,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 0,
                .n_families = 1,
                .n_handlers = 1,
                .handlers = {
                        { "Microsoft.Azure.Extensions.CustomScript", "2.1.6", EXTENSION_STATE_ENABLED, false, 3, false, NULL, 1, {
                                { "Microsoft.Azure.Extensions.CustomScript", 0, EXTENSION_STATE_ENABLED, 1, "{\"commandToExecute\":\"echo 'cee174d4-4daa-4b07-9958-53b9649445c2'\"}", NULL, false },
                        } },
                },
        },
        {
                .file = "hostgaplugin/ext_conf-rsm_version_properties_false.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
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
                .file = "hostgaplugin/ext_conf.xml",
                .blob_type = STATUS_BLOB_TYPE_BLOCK,
                .has_blob = true,
                .profile = true,
                .ticks = UINT64_C(637726657706205217),
                .activity_id = "a33f6f53-43d6-4625-b322-1a39651a00c9",
                .n_required_features = 1,
                .n_families = 2,
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
};

static size_t handler_locations(const ExtensionHandler *h) {
        return !!h->location + !!h->failover_location + strv_length(h->additional_locations);
}

static void check_goal_state(TestReadFn read, const ExpGoalState *e) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = read(e->file, &size);
        if (ext_conf_parse(buf, size, "1", &gs, &error) < 0)
                fail_msg("%s: %s", e->file, strna(error));
        assert_string_equal(gs.id, "incarnation_1");
        assert_int_equal(gs.channel, GOAL_STATE_CHANNEL_WIRESERVER);
        assert_int_equal(gs.source, GOAL_STATE_SOURCE_FABRIC);
        assert_int_equal(gs.status_upload_blob_type, e->blob_type);
        assert_int_equal(gs.status_upload_blob != NULL, e->has_blob);
        assert_int_equal(gs.artifacts_profile_blob != NULL, e->profile);
        assert_int_equal(gs.created_on_ticks, e->ticks);
        if (e->activity_id)
                assert_string_equal(gs.activity_id, e->activity_id);
        else
                assert_true(isempty(gs.activity_id));
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
                if (eh->invalid_reason) {
                        assert_non_null(h->invalid_reason);
                        assert_string_equal(h->invalid_reason, eh->invalid_reason);
                        assert_int_equal(h->n_settings, 0);
                        continue;
                }
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
                        assert_false(s->settings_invalid);
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

/* tests/data/wire/ext-conf.xml in full: the canonical single-handler document. */
static void test_ext_conf_details(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL, *protected = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        const ExtensionHandler *h;
        char ts[64];
        size_t size;

        buf = test_data_read("wire/ext-conf.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, NULL, &gs, &error), 0);
        /* Without an incarnation the document's goalStateIncarnation is used. */
        assert_string_equal(gs.id, "incarnation_3");
        /* &amp; unescaped; the URL is used verbatim */
        assert_string_equal(gs.status_upload_blob,
                            "https://azlteststatus.blob.core.windows.net/vhds/azl-test-vm.status?sv=2024-01-01&sr=b"
                            "&sp=rw&se=9999-12-31&sig=QXpsVGVzdFNpZw%3D%3D");
        assert_false(gs.status_upload_blob_type_defaulted);
        assert_string_equal(gs.artifacts_profile_blob,
                            "https://azlteststatus.blob.core.windows.net/profiles/azl-test-vm.profile?sv=2024-01-01"
                            "&sr=b&sp=r&sig=UHJvZmlsZVNpZw%3D%3D");
        assert_string_equal(gs.correlation_id, "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d");
        /* For ExtensionsConfig the reported inSvdSeqNo is the incarnation; the attribute is kept for reference. */
        assert_string_equal(gs.in_svd_seq_no, "12");
        assert_int_equal(ticks_format_timestamp(gs.created_on_ticks, ts, sizeof ts), 0);
        /* float(ticks) / 10**7 as waagent computes it: .1234567 becomes .123459 */
        assert_string_equal(ts, "2026-03-13T12:00:00.123459Z");

        assert_int_equal(gs.n_agent_families, 2);
        assert_string_equal(gs.agent_families[0].name, "Prod");
        assert_null(gs.agent_families[0].version);
        assert_int_equal(strv_length(gs.agent_families[0].uris), 2);
        assert_string_equal(gs.agent_families[0].uris[1],
                            "https://azltestmirror.blob.core.windows.net/agent/AzlAgent_Prod_northeurope_manifest.xml");
        assert_string_equal(gs.agent_families[1].name, "Test");
        assert_string_equal(gs.agent_families[1].version, "9.1.2.3");

        /* the PluginSettings name differs in case from the Plugin name: matched all the same */
        h = extensions_goal_state_find_handler(&gs, "azlagent.samplehandler");
        assert_non_null(h);
        assert_string_equal(h->location,
                            "https://azltestartifacts.blob.core.windows.net/handlers/AzlAgent.SampleHandler_manifest.xml");
        assert_string_equal(h->failover_location,
                            "https://azltestmirror.blob.core.windows.net/handlers/AzlAgent.SampleHandler_manifest.xml");
        assert_string_equal(h->encoded_signature, "MIIBYXpsLWFnZW50IHRlc3Qgc2lnbmF0dXJlIHBsYWNlaG9sZGVy");
        protected = test_data_read("wire/protected-settings.txt", &size);
        assert_string_equal(h->settings[0].protected_settings, strstrip(protected));
}

/* wire/ext_conf.xml in full: the canonical single-handler document. */
static void interop_ext_conf_details(void **state) {
        _cleanup_free_ char *buf = NULL, *error = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        const ExtensionHandler *h;
        char ts[64];
        size_t size;

        buf = fixture_read("wire/ext_conf.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, NULL, &gs, &error), 0);
        /* Without an incarnation the document's goalStateIncarnation is used. */
        assert_string_equal(gs.id, "incarnation_9");
        assert_string_equal(gs.status_upload_blob,
                            "https://test.blob.core.windows.net/vhds/test-cs12.test-cs12.test-cs12.status?sr=b&sp=rw"
                            "&se=9999-01-01&sk=key1&sv=2014-02-14&sig=hfRh7gzUE7sUtYwke78IOlZOrTRCYvkec4hGZ9zZzXo");
        assert_false(gs.status_upload_blob_type_defaulted);
        assert_string_equal(gs.correlation_id, "9a47a2a2-e740-4bfc-b11b-4f2f7cfe7d2e");
        /* For ExtensionsConfig the reported inSvdSeqNo is the incarnation; the attribute is kept for reference. */
        assert_string_equal(gs.in_svd_seq_no, "10");
        assert_int_equal(ticks_format_timestamp(gs.created_on_ticks, ts, sizeof ts), 0);
        /* waagent computes float(ticks) / 10**7, which rounds to .620522 (the exact value is .6205217). */
        assert_string_equal(ts, "2021-11-16T13:22:50.620522Z");

        assert_int_equal(gs.n_agent_families, 2);
        assert_string_equal(gs.agent_families[0].name, "Prod");
        assert_null(gs.agent_families[0].version);
        assert_string_equal(gs.agent_families[0].uris[0], "http://mock-goal-state/manifest_of_ga.xml");
        assert_string_equal(gs.agent_families[1].name, "Test");

        h = extensions_goal_state_find_handler(&gs, "ostcextensions.examplehandlerlinux");
        assert_non_null(h);
        assert_string_equal(h->location, "http://mock-goal-state/rdfepirv2hknprdstr03.blob.core.windows.net/"
                                         "b01058962be54ceca550a390fa5ff064/"
                                         "Microsoft.OSTCExtensions_ExampleHandlerLinux_asiaeast_manifest.xml");
        assert_string_equal(h->failover_location, "http://mock-goal-state/rdfepirv2hknprdstr04.blob.core.windows.net/"
                                                  "b01058962be54ceca550a390fa5ff064/"
                                                  "Microsoft.OSTCExtensions_ExampleHandlerLinux_asiaeast_manifest.xml");
        assert_true(startswith(h->encoded_signature, "MIInEAYJKoZIhvcNAQcCoIInATCCJv0CAQMxDTALBglghkgBZQMEAgIw"));
        assert_string_equal(h->settings[0].protected_settings, "MIICWgYJK");
}

static void test_additional_locations(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = test_data_read("wire/ext-conf.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(strv_length(gs.handlers[0].additional_locations), 2);
        assert_string_equal(gs.handlers[0].additional_locations[0],
                            "https://azltestthird.blob.core.windows.net/handlers/AzlAgent.SampleHandler_manifest.xml");
        assert_string_equal(gs.handlers[0].additional_locations[1],
                            "https://azltestfourth.blob.core.windows.net/handlers/AzlAgent.SampleHandler_manifest.xml");
}

static void test_invalid_blob_type(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        /* waagent: "Status Blob type 'AppendBlob' is not valid, assuming BlockBlob" — not an error. */
        buf = test_data_read("wire/ext-conf-multi-config.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(gs.status_upload_blob_type, STATUS_BLOB_TYPE_BLOCK);
        assert_true(gs.status_upload_blob_type_defaulted);
}

static void test_required_features(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = test_data_read("wire/ext-conf-invalid.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(strv_length(gs.required_features), 2);
        assert_string_equal(gs.required_features[0], "AzlTestFeatureA");
        assert_string_equal(gs.required_features[1], "AzlTestFeatureB");
}

static void interop_additional_locations(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = fixture_read("wire/ext_conf_additional_locations.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(strv_length(gs.handlers[0].additional_locations), 2);
        assert_string_equal(gs.handlers[0].additional_locations[0],
                            "http://mock-goal-state/additionalLocation/3/manifest.xml");
        assert_string_equal(gs.handlers[0].additional_locations[1],
                            "http://mock-goal-state/additionalLocation/4/manifest.xml");
}

static void interop_invalid_blob_type(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        /* waagent: "Status Blob type 'INVALID_BLOB_TYPE' is not valid, assuming BlockBlob" — not an error. */
        buf = fixture_read("hostgaplugin/ext_conf-invalid_blob_type.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_int_equal(gs.status_upload_blob_type, STATUS_BLOB_TYPE_BLOCK);
        assert_true(gs.status_upload_blob_type_defaulted);
}

static void interop_required_features(void **state) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        size_t size;

        buf = fixture_read("wire/ext_conf_required_features.xml", &size);
        assert_int_equal(ext_conf_parse(buf, size, "1", &gs, NULL), 0);
        assert_string_equal(gs.required_features[0], "TestRequiredFeature1");
        assert_string_equal(gs.required_features[1], "TestRequiredFeature2");
        assert_string_equal(gs.required_features[2], "TestRequiredFeature3");
}

static const char invalid_settings_doc[] =
        "<Extensions><Plugins>"
        "<Plugin name=\"A.B\" version=\"1.0\" location=\"http://l\" state=\"enabled\"/>"
        "<Plugin name=\"C.D\" version=\"2.0\" state=\"\"/>"
        "</Plugins><PluginSettings>"
        "<Plugin name=\"A.B\" version=\"1.0\"><RuntimeSettings seqNo=\"7\">{not json</RuntimeSettings></Plugin>"
        "</PluginSettings></Extensions>";

static void test_invalid_settings_keep_seqno(void **state) {
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        _cleanup_free_ char *error = NULL;

        assert_int_equal(ext_conf_parse(invalid_settings_doc, strlen(invalid_settings_doc), "3", &gs, &error), 0);
        assert_int_equal(gs.n_handlers, 2);
        assert_int_equal(gs.handlers[0].n_settings, 1);
        assert_true(gs.handlers[0].settings[0].settings_invalid);
        assert_int_equal(gs.handlers[0].settings[0].seq_no, 7);
        assert_string_equal(gs.handlers[0].settings[0].name, "A.B");
        assert_null(gs.handlers[0].settings[0].public_settings);
        assert_string_equal(gs.handlers[1].invalid_reason,
                            "Received empty Extensions.Plugins.Plugin.state, failing Handler");
        /* Missing StatusUploadBlob: BlockBlob, no URL (the caller forces a refresh). */
        assert_null(gs.status_upload_blob);
        assert_int_equal(gs.status_upload_blob_type, STATUS_BLOB_TYPE_BLOCK);
}

/* A Plugin without a version is an invalid handler, reported with version "" (crashed the plan; fuzz-ext-conf). */
static void test_plugin_without_version(void **state) {
        static const char doc[] =
                "<Extensions><Plugins><Plugin name=\"A\" state=\"enabled\"/></Plugins><PluginSettings>"
                "<Plugin name=\"A\" version=\"1.0\"><RuntimeSettings seqNo=\"0\">{}</RuntimeSettings></Plugin>"
                "</PluginSettings></Extensions>";
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        _cleanup_(ext_plan_done) ExtPlan plan = {};
        _cleanup_free_ char *error = NULL;
        InstalledHandler installed[] = { { .name = (char *) "A", .version = (char *) "0.9",
                                           .state = HANDLER_STATE_ENABLED } };

        assert_int_equal(ext_conf_parse(doc, strlen(doc), "3", &gs, &error), 0);
        assert_int_equal(gs.n_handlers, 1);
        assert_null(gs.handlers[0].version);
        assert_string_equal(gs.handlers[0].invalid_reason, "Plugin A has no version");
        assert_int_equal(ext_plan_compute(installed, ELEMENTSOF(installed), &gs, &plan), 0);
        assert_int_equal(plan.n_groups, 1);
        assert_string_equal(plan.groups[0].version, "");
        assert_int_equal(plan.n_ops, 1);
        assert_int_equal(plan.ops[0].type, EXT_OP_REPORT_ERROR);
}

static void test_rejected_documents(void **state) {
        static const char *const bad[] = {
                "",
                "<Extensions>",
                "not xml at all",
                "<!DOCTYPE x [<!ENTITY a \"b\">]><Extensions/>",
                "<Extensions><Plugins><Plugin name=\"A\" version=\"1\" state=\"enabled\"/></Plugins><PluginSettings>"
                "<Plugin name=\"A\" version=\"1\"><RuntimeSettings seqNo=\"x1\">{}</RuntimeSettings></Plugin>"
                "</PluginSettings></Extensions>",
                "<Extensions><Plugins><Plugin name=\"A\" version=\"1\" state=\"enabled\"/></Plugins><PluginSettings>"
                "<Plugin name=\"A\" version=\"1\"><RuntimeSettings seqNo=\"1\">{\"x\": 1}</RuntimeSettings></Plugin>"
                "</PluginSettings></Extensions>",
                /* a Plugin without a name (crashed the plan; fuzz-ext-conf) */
                "<Extensions><Plugins><Plugin version=\"1.0\" state=\"enabled\" location=\"http://x\"/></Plugins>"
                "</Extensions>",
                "<Extensions><Plugins><Plugin name=\"\" version=\"1.0\" state=\"enabled\"/></Plugins></Extensions>",
                /* ... also when the Plugin is invalid anyway (fuzz-ext-conf) */
                "<Extensions><Plugins><Plugin version=\"2.0\" state=\"bogus\"/></Plugins></Extensions>",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                ExtensionsGoalState gs = { .id = (char *) "untouched" };
                _cleanup_free_ char *error = NULL;

                assert_true(ext_conf_parse(bad[i], strlen(bad[i]), "5", &gs, &error) < 0);
                assert_non_null(error);
                assert_true(startswith(error, "Error parsing ExtensionsConfig (incarnation: 5): "));
                /* ret is only written on success */
                assert_string_equal(gs.id, "untouched");
        }
}

static void test_too_many_handlers(void **state) {
        _cleanup_free_ char *doc = NULL, *error = NULL;
        _cleanup_(extensions_goal_state_done) ExtensionsGoalState gs = {};
        FILE *f;
        size_t size;

        f = open_memstream(&doc, &size);
        assert_non_null(f);
        fputs("<Extensions><Plugins>", f);
        for (unsigned i = 0; i <= EXT_HANDLERS_MAX; i++)
                fprintf(f, "<Plugin name=\"H%u\" version=\"1.0\" state=\"enabled\"/>", i);
        fputs("</Plugins></Extensions>", f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(ext_conf_parse(doc, size, "1", &gs, &error), -E2BIG);
        assert_non_null(strstr(error, "Too many plugins"));
}

static void check_artifacts_profile(TestReadFn read, const char *rel) {
        _cleanup_free_ char *buf = NULL;
        bool on_hold = false;
        size_t size;

        buf = read(rel, &size);
        assert_int_equal(artifacts_profile_parse(buf, size, &on_hold, NULL), 0);
        assert_true(on_hold);
}

static void interop_artifacts_profile(void **state) {
        check_artifacts_profile(fixture_read, "wire/in_vm_artifacts_profile.json");
}

static void test_artifacts_profile(void **state) {
        _cleanup_free_ char *error = NULL;
        bool on_hold = false;

        check_artifacts_profile(test_data_read, "wire/in-vm-artifacts-profile.json");
        assert_int_equal(artifacts_profile_parse("{\"onHold\": \"False\"}", 19, &on_hold, NULL), 0);
        assert_false(on_hold);
        assert_int_equal(artifacts_profile_parse("{}", 2, &on_hold, NULL), 0);
        assert_false(on_hold);
        on_hold = true;
        assert_int_equal(artifacts_profile_parse("{\"onHold\": \"maybe\"}", 19, &on_hold, &error), -EBADMSG);
        assert_string_equal(error, "Invalid value for onHold: \"maybe\"");
        assert_true(on_hold);
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest interop[] = {
                cmocka_unit_test(interop_all_fixtures),
                cmocka_unit_test(interop_ext_conf_details),
                cmocka_unit_test(interop_additional_locations),
                cmocka_unit_test(interop_invalid_blob_type),
                cmocka_unit_test(interop_required_features),
                cmocka_unit_test(interop_artifacts_profile),
        };
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_all_documents),
                cmocka_unit_test(test_ext_conf_details),
                cmocka_unit_test(test_additional_locations),
                cmocka_unit_test(test_invalid_blob_type),
                cmocka_unit_test(test_required_features),
                cmocka_unit_test(test_invalid_settings_keep_seqno),
                cmocka_unit_test(test_plugin_without_version),
                cmocka_unit_test(test_rejected_documents),
                cmocka_unit_test(test_too_many_handlers),
                cmocka_unit_test(test_artifacts_profile),
        };

        if (test_interop_mode(argc, argv))
                return cmocka_run_group_tests(interop, NULL, NULL);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
/* clang-format on */
