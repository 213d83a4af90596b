/* SPDX-License-Identifier: MIT */
/*
 * libarchive, loaded for the operation that needs it (common/dlopen-util.h): extracting a handler package,
 * un-gzipping custom data, writing the collect-logs tarball. The daemon then maps neither libarchive nor what
 * only it pulls in (libacl, libbz2, …) between packages. Call sites use the sym_ pointers between
 * archive_dl_open() and archive_dl_close(); declare the handle before any struct archive, so that the cleanup
 * frees the archive first.
 */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#define ARCHIVE_SONAME "libarchive.so.13"

#define ARCHIVE_DL_SYMBOLS(X)                                                                               \
        X(archive_entry_filetype)                                                                           \
        X(archive_entry_free)                                                                               \
        X(archive_entry_hardlink)                                                                           \
        X(archive_entry_new)                                                                                \
        X(archive_entry_pathname)                                                                           \
        X(archive_entry_set_filetype)                                                                       \
        X(archive_entry_set_mtime)                                                                          \
        X(archive_entry_set_pathname)                                                                       \
        X(archive_entry_set_perm)                                                                           \
        X(archive_entry_set_size)                                                                           \
        X(archive_entry_size)                                                                               \
        X(archive_entry_size_is_set)                                                                        \
        X(archive_entry_symlink)                                                                            \
        X(archive_error_string)                                                                             \
        X(archive_filter_code)                                                                              \
        X(archive_read_data)                                                                                \
        X(archive_read_data_block)                                                                          \
        X(archive_read_free)                                                                                \
        X(archive_read_new)                                                                                 \
        X(archive_read_next_header)                                                                         \
        X(archive_read_open_fd)                                                                             \
        X(archive_read_open_memory)                                                                         \
        X(archive_read_support_filter_gzip)                                                                 \
        X(archive_read_support_format_raw)                                                                  \
        X(archive_read_support_format_zip)                                                                  \
        X(archive_write_add_filter_gzip)                                                                    \
        X(archive_write_add_filter_zstd)                                                                    \
        X(archive_write_close)                                                                              \
        X(archive_write_data)                                                                               \
        X(archive_write_free)                                                                               \
        X(archive_write_header)                                                                             \
        X(archive_write_new)                                                                                \
        X(archive_write_open_fd)                                                                            \
        X(archive_write_set_format_pax_restricted)

#define ARCHIVE_DL_DECLARE(f) extern typeof(f) *sym_##f;
ARCHIVE_DL_SYMBOLS(ARCHIVE_DL_DECLARE)
#undef ARCHIVE_DL_DECLARE

/* Loads libarchive (or takes one more reference). -EOPNOTSUPP when it or a symbol is missing, with
 * *ret_error (may be NULL) saying which. */
int archive_dl_open(void **ret_handle, char **ret_error);
void archive_dl_closep(void **handle);
