/* SPDX-License-Identifier: MIT */
/*
 * Extension packages (wire protocol §4.1, §4.11): a downloaded zip is verified (optional CMS signature) and
 * extracted into <extensions_dir>/<Name>-<Version>/, HandlerManifest.json is found (anywhere in the tree, as
 * waagent accepts) and copied to the root, every file gets u+x, and HandlerEnvironment.json + config/ status/
 * are created.
 *
 * Extraction does not use archive_write_disk(): that API resolves paths relative to the process' cwd and so
 * cannot be anchored to the agent's root fd. Entries are instead written by our own writer relative to the
 * handler directory fd with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), which is
 * the kernel-enforced version of ARCHIVE_EXTRACT_SECURE_NODOTDOT | SECURE_SYMLINKS | SECURE_NOABSOLUTEPATHS;
 * the same three rules are also checked on every entry name first so that a bad package fails with a clear
 * reason. Additionally: only regular files, directories and symlinks whose target stays inside the
 * directory; no hard links; limits on entry count (the zip's central directory is checked before anything is
 * written), per-entry and total size (declared sizes first, then the bytes actually inflated). On any failure
 * the handler directory is removed: nothing is left behind, nothing is written outside it.
 *
 * The zip is a file descriptor, read in chunks (verification and extraction alike): the daemon downloads
 * packages of up to 256 MiB into ext_package_download_file() and its memory stays bounded whatever their size.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "fileio.h"
#include "handler-manifest.h"

#define EXT_PACKAGE_ZIP_MAX        (1024ULL * 1024ULL * 1024ULL) /* downloaded zip */
#define EXT_PACKAGE_ENTRIES_MAX    65536U
#define EXT_PACKAGE_ENTRY_SIZE_MAX (1024ULL * 1024ULL * 1024ULL)
#define EXT_PACKAGE_TOTAL_SIZE_MAX (4ULL * 1024ULL * 1024ULL * 1024ULL)
#define EXT_PACKAGE_PATH_MAX       1024U

/* The Microsoft root waagent verifies against (§4.11), installed as data by the package. */
#define EXT_SIGNING_ROOT_PATH_DEFAULT "/usr/share/azl-agent/microsoft_root_certificate.pem"
/* waagent signature_validation_util: eContentType of the detached SignedData. */
#define EXT_SIGNATURE_CONTENT_TYPE_OID "2.123.456.7.8.9"

typedef struct ExtPackageLimits {
        uint64_t max_entries;
        uint64_t max_entry_size;
        uint64_t max_total_size;
} ExtPackageLimits;

typedef struct ExtPackageOptions {
        const ExtPackageLimits *limits; /* NULL: the defaults above */
        const char *log_dir;            /* in-root, NULL: /var/log/azure */
        const char *encoded_signature;  /* Plugin@encodedSignature (base64 DER CMS), NULL: unsigned */
        const char *signing_root_pem;   /* PEM text of the trusted root(s), NULL: none available */
        WriteBatch *batch; /* the signature marker and HandlerEnvironment.json join it (the caller commits);
                            * NULL: committed before the install returns */
} ExtPackageOptions;

/*
 * The outcome of §4.11 validation for one package. It is kept next to the extracted package, so that later runs
 * (an agent restart, SignatureValidation= changed to enforce) know it without the zip: an empty
 * EXT_SIGNATURE_VALIDATED_FILE when valid (waagent's name), else EXT_SIGNATURE_NOT_VALIDATED_FILE holding the
 * state's string and the detail on two lines; neither when validation was off. Files of these names that the
 * package itself carries are removed before either is written.
 */
typedef enum ExtSignatureState {
        EXT_SIGNATURE_NOT_CHECKED,  /* SignatureValidation=off */
        EXT_SIGNATURE_VALID,        /* CMS signature, signer chain and signingInfo verified */
        EXT_SIGNATURE_NOT_SIGNED,   /* no encodedSignature in the goal state */
        EXT_SIGNATURE_BAD,          /* malformed, or not a signature of these bytes */
        EXT_SIGNATURE_UNTRUSTED,    /* the signer does not chain to the trust anchor (or there is none) */
        EXT_SIGNATURE_SIGNING_INFO, /* HandlerManifest.json signingInfo missing or another extension's */
        _EXT_SIGNATURE_STATE_MAX,
        _EXT_SIGNATURE_STATE_INVALID = -EINVAL,
} ExtSignatureState;

#define EXT_SIGNATURE_VALIDATED_FILE     "package_validated"
#define EXT_SIGNATURE_NOT_VALIDATED_FILE "package_not_validated"

/* "not checked", "valid", "not signed", "signature does not verify", "signer not trusted",
 * "signingInfo does not match". */
const char *ext_signature_state_to_string(ExtSignatureState s);
ExtSignatureState ext_signature_state_from_string(const char *s);

/* What happened; filled whether or not the installation succeeded (it is a report, not a ret_ value). */
typedef struct ExtPackageReport {
        int code;    /* EXT_CODE_* for the handler status, 0 on success */
        char *error; /* why it failed */
        ExtSignatureState signature;
        char *signature_error;  /* detail of a state other than VALID/NOT_CHECKED */
        bool signature_refused; /* enforce: the package was refused for its signature */
} ExtPackageReport;

void ext_package_report_done(ExtPackageReport *r);

/* An anonymous read-write file (O_TMPFILE, else created and unlinked at once) in the extensions directory lib_dir
 * beneath root_fd, to download a package into: on the filesystem the handler directories are extracted to, never
 * in memory. */
int ext_package_download_file(int root_fd, const char *lib_dir, int *ret_fd);

/* The validation state recorded in an installed handler directory (NOT_CHECKED when nothing is recorded);
 * ret_detail (may be NULL) gets the recorded detail. */
int ext_package_signature_read(int handler_dir_fd, ExtSignatureState *ret, char **ret_detail);

/*
 * Verifies (per Config.signature_mode), extracts and initializes the package of handler name/version, the zip
 * in the regular file zip_fd (read from offset 0; its file offset is not preserved). An existing
 * <Name>-<Version>/ is replaced. Returns 0, or a negative errno with report->code/error set.
 */
int extension_package_install(Context *c, const char *name, const char *version, int zip_fd,
                              const ExtPackageOptions *opts, ExtPackageReport *report);
/* The same for a zip in memory (copied to a memfd). */
int extension_package_install_from_zip(Context *c, const char *name, const char *version, const void *zip,
                                       size_t len, const ExtPackageOptions *opts, ExtPackageReport *report);

/* Lower layers, for tests and the daemon. Extraction of the zip file zip_fd into an already open directory fd. */
int ext_package_extract(int dir_fd, int zip_fd, const ExtPackageLimits *limits, char **ret_error);
/* Finds HandlerManifest.json below dir_fd, copies it (BOM stripped) to the root, returns its parse. */
int ext_package_locate_manifest(int dir_fd, HandlerManifest *ret, int *ret_code, char **ret_error);
/* chmod u+x on every regular file below dir_fd (§4.1). */
int ext_package_make_executable(int dir_fd);

/* Number of entries the zip's (zip64) end of central directory declares; -EBADMSG if not a zip. */
int ext_zip_declared_entries(const void *zip, size_t len, uint64_t *ret);

/* §4.11: detached CMS SignedData over the zip bytes, chain to a root in root_pem, purpose any, no time check.
 * -EBADMSG: the signature is malformed or does not verify; -EKEYREJECTED: the signer does not chain to a root in
 * root_pem; -ENOKEY: root_pem holds no certificate. */
int ext_signature_verify(const void *zip, size_t len, const char *encoded_signature, const char *root_pem,
                         char **ret_error);
/* The same over the zip file zip_fd, digested in chunks. */
int ext_signature_verify_fd(int zip_fd, const char *encoded_signature, const char *root_pem,
                            char **ret_error);
/*
 * The trusted root(s) for package signatures: EXT_SIGNING_ROOT_PATH_DEFAULT beneath root_fd (the system the
 * agent manages: under --root the target's copy, with its symlinks resolved inside it, never the host's).
 * -ENOENT when that system has none.
 */
int ext_signing_root_read(int root_fd, char **ret);
/* §4.11: signingInfo type/publisher/version == name.rsplit(".", 1) and version (case-insensitive). */
int ext_signing_info_check(const HandlerManifest *m, const char *name, const char *version,
                           char **ret_error);
