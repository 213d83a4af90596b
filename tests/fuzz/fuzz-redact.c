/* SPDX-License-Identifier: MIT */
/*
 * The structural secret removal of collect-logs (agent/redact.c redact_text), over arbitrary text: logs, JSON,
 * XML, any mix. Invariants: the output is a fixed point (redacting it again changes nothing), it never holds
 * more removals than the input had candidates, and whenever the input had a complete "protectedSettings":
 * "<value>" member, its value is gone.
 */
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
                                _cleanup_free_ char *value = strndup(v, (size_t) (e - v));

                                fuzz_check(value && !strstr(once, value));
                        }
                }
        }
        return 0;
}
