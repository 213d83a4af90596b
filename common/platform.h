/* SPDX-License-Identifier: MIT */
/*
 * Where are we running? A pure function over a root directory (and an environment), so tests use fake trees.
 *
 *  Azure VM        SMBIOS chassis asset tag (DMI type 3) equals 7783-7084-3265-9085-8269-3286-77, the value
 *                  Hyper-V on Azure sets (cloud-init's ChassisAssetTag.AZURE_CLOUD, azure-init, systemd hwdb).
 *  VM id           /sys/class/dmi/id/product_uuid, lower-cased; on Generation 1 VMs (BIOS: neither
 *                  /sys/firmware/efi nor /dev/efi) the first three fields are stored little-endian by the
 *                  firmware and must be byte-swapped to match IMDS compute.vmId (cloud-init, azure-init).
 *  WSL             /proc/sys/kernel/osrelease contains "microsoft" or "WSL", or /run/WSL exists, or $WSL_INTEROP.
 *  Container host  / or /usr mounted read-only (Azure Container Linux, Flatcar), or os-release says so.
 *  Confidential    the guest's own view of a TEE (docs/security.md "Confidential VMs"): the SEV-SNP and TDX guest
 *  guest           devices (/dev/sev-guest, /dev/tdx_guest), the configfs-tsm report interface
 *                  (/sys/kernel/config/tsm/report) and the CPU flags a guest kernel sets (sev_snp, tdx_guest, sev,
 *                  sev_es; only counted with the "hypervisor" flag, since a host CPU shows sev_snp too). Azure's
 *                  confidential VMs run behind a paravisor that hides all of these from the guest (Linux
 *                  Documentation/virt/hyperv/coco.rst, "CPUID flags"): there the vTPM's HCL report is the guest's
 *                  evidence (provisioners/confidential/tpm2.h), and IMDS securityProfile.securityType says ConfidentialVM.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>

#define AZURE_CHASSIS_ASSET_TAG "7783-7084-3265-9085-8269-3286-77"

typedef enum Platform {
        PLATFORM_NONE, /* nothing we serve: stay silent */
        PLATFORM_AZURE,
        PLATFORM_WSL,
        _PLATFORM_MAX,
        _PLATFORM_INVALID = -EINVAL,
} Platform;

typedef enum ConfidentialTech {
        CONFIDENTIAL_TECH_NONE,
        CONFIDENTIAL_TECH_SEV, /* AMD SEV / SEV-ES guest (CPU flags only) */
        CONFIDENTIAL_TECH_SEV_SNP,
        CONFIDENTIAL_TECH_TDX,
        CONFIDENTIAL_TECH_TSM, /* a configfs-tsm report provider whose vendor the files do not tell */
        _CONFIDENTIAL_TECH_MAX,
        _CONFIDENTIAL_TECH_INVALID = -EINVAL,
} ConfidentialTech;

typedef struct PlatformInfo {
        Platform platform;
        bool generation2; /* Azure: UEFI firmware */
        bool container_host;
        char vm_id[37];   /* Azure: normalized VM id, "" when unknown */
        char reason[256]; /* why platform was chosen (or why not) */
        char container_reason[160];
        ConfidentialTech confidential; /* the guest's own view of a TEE */
        char confidential_evidence
                [256]; /* what was found ("/dev/sev-guest, CPU flag sev_snp") or what was not */
} PlatformInfo;

/* env may be NULL (then nothing is taken from the environment). */
int platform_detect(int root_fd, char *const *env, PlatformInfo *ret);

const char *platform_to_string(Platform p);
const char *confidential_tech_to_string(ConfidentialTech t);

/* Applies the Gen1 byte swap to a normalized UUID string in place (fields 1-3 reversed). */
int vm_id_swap_gen1(char uuid[static 37]);
