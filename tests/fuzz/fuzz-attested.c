/* SPDX-License-Identifier: MIT */
/*
 * IMDS attested data (provisioners/confidential/attested.c): the response parser (JSON → base64 → DER), the signed document's
 * parser and its timestamp form, and the PKCS#7 path of attested_verify() against an empty trust store (every
 * input must end in an error, never a verified document). Invariants: a parsed signature is 1..ATTESTED_SIGNATURE_MAX
 * bytes; a parsed document has a normalized vmId, bounded strings and expires no earlier than it was created.
 */
#include <ctype.h>

#include "attested.h"
#include "fuzz.h"

static void check_document(const AttestedDocument *d) {
        fuzz_check(strnlen(d->vm_id, sizeof d->vm_id) == 36);
        for (size_t k = 0; k < 36; k++)
                fuzz_check((k == 8 || k == 13 || k == 18 || k == 23)
                                   ? d->vm_id[k] == '-'
                                   : isxdigit((unsigned char) d->vm_id[k]) &&
                                             !isupper((unsigned char) d->vm_id[k]));
        fuzz_check(d->nonce && fuzz_string_ok(d->nonce, ATTESTED_STRING_MAX));
        fuzz_check(fuzz_string_ok(d->sku, ATTESTED_STRING_MAX));
        fuzz_check(fuzz_string_ok(d->subscription_id, ATTESTED_STRING_MAX));
        fuzz_check(fuzz_string_ok(d->plan_name, ATTESTED_STRING_MAX));
        fuzz_check(d->created_on_text && d->expires_on_text);
        fuzz_check(d->expires_on >= d->created_on);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        AttestedDocument d = {};
        JsonError err = {};
        void *der = NULL;
        size_t der_size = 0;
        char *text;
        usec_t t;

        if (!fuzz_setup(size))
                return 0;

        if (attested_response_parse((const char *) data, size, &der, &der_size, &err) >= 0) {
                fuzz_check(der && der_size > 0 && der_size <= ATTESTED_SIGNATURE_MAX);
                free(der);
        }
        fuzz_check(fuzz_array_terminated(err.field) && fuzz_array_terminated(err.message));

        if (attested_document_parse((const char *) data, size, &d, NULL) >= 0) {
                check_document(&d);
                attested_document_done(&d);
        }

        /* the timestamp form, on a terminated copy of a short input */
        if (size < 64) {
                text = strndup((const char *) data, size);
                if (text && attested_parse_timestamp(text, &t) >= 0)
                        fuzz_check(t % USEC_PER_SEC == 0);
                free(text);
        }

        /* the DER path: nothing can verify against an empty store */
        if (size > 0 && size <= ATTESTED_SIGNATURE_MAX) {
                AttestedTrust trust = {.store = X509_STORE_new()};
                AttestedVerified v = {};
                char *reason = NULL;

                if (trust.store && strv_extend(&trust.signer_domains, "metadata.azure.com") >= 0)
                        fuzz_check(attested_verify(data, size, &trust, &v, &reason) < 0 && !v.content);
                free(reason);
                attested_trust_done(&trust);
        }
        return 0;
}
