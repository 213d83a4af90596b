/* SPDX-License-Identifier: MIT */
/*
 * The structural secret removal of collect-logs (agent/redact.c redact_text), over arbitrary text: logs, JSON,
 * XML, any mix. Invariants: the output is a fixed point (redacting it again changes nothing), it never holds
 * the same count of removals the second time, and a complete "protectedSettings": "<letters>" member of the input
 * is not in the output with that value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *text = NULL, *once = NULL, *twice = NULL;
        unsigned n1 = 0, n2 = 0;

        if (!fuzz_setup(size))
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                return 0;
        if (redact_text(text, &once, &n1) < 0)
                return 0;
        fuzz_check(redact_text(once, &twice, &n2) >= 0);
        fuzz_check(streq(once, twice));
        fuzz_check(n2 == n1);
        {
                /* A value made only of letters after a plain member name must not survive. */
                const char *p = strstr(text, "\"protectedSettings\": \"");

                if (p) {
                        const char *v = p + strlen("\"protectedSettings\": \""), *e = v;

                        while ((*e >= 'A' && *e <= 'Z') || (*e >= 'a' && *e <= 'z'))
                                e++;
                        if (*e == '"' && e - v >= 12) {
                                _cleanup_free_ char *member = NULL;

                                /* The member with that value must be gone (the letters may well appear elsewhere,
                                 * "ctedSettings" in the name itself: found by the first libFuzzer run). */
                                if (asprintf(&member, "\"protectedSettings\": \"%.*s\"", (int) (e - v), v) >
                                    0)
                                        fuzz_check(!strstr(once, member));
                        }
                }
        }
        return 0;
}
