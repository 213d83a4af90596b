/* SPDX-License-Identifier: MIT */
/*
 * Cleanup helpers for OpenSSL 3 objects (style rule 8: one header per third-party library). Every OpenSSL
 * object the extensions module creates is released through one of these, so error paths cannot leak keys.
 */
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY *, EVP_PKEY_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_PKEY_CTX *, EVP_PKEY_CTX_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509 *, X509_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_NAME *, X509_NAME_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_EXTENSION *, X509_EXTENSION_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(CMS_ContentInfo *, CMS_ContentInfo_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS12 *, PKCS12_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIO *, BIO_free_all);
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_INTEGER *, ASN1_INTEGER_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(PKCS8_PRIV_KEY_INFO *, PKCS8_PRIV_KEY_INFO_free);

static inline void sk_X509_pop_freep(STACK_OF(X509) * *s) {
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}
static inline void sk_PKCS7_pop_freep(STACK_OF(PKCS7) * *s) {
        if (*s)
                sk_PKCS7_pop_free(*s, PKCS7_free);
}
static inline void sk_PKCS12_SAFEBAG_pop_freep(STACK_OF(PKCS12_SAFEBAG) * *s) {
        if (*s)
                sk_PKCS12_SAFEBAG_pop_free(*s, PKCS12_SAFEBAG_free);
}

#define _cleanup_evp_pkey_ _cleanup_(EVP_PKEY_freep)
#define _cleanup_x509_     _cleanup_(X509_freep)
#define _cleanup_bio_      _cleanup_(BIO_free_allp)
