/* fuzz_strace.c - the strace -c summary parser on arbitrary text. */
#include <stdlib.h>

#include "strace.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    static struct qsl_strace_row rows[64];
    struct qsl_strace_summary s = {.rows = rows, .cap = 64};
    enum qsl_strace_err e = qsl_strace_parse((const char *)d, n, &s);
    if (s.n > s.cap || (e == QSL_STRACE_OK && s.total.syscall[0] == '\0'))
        abort();
    return 0;
}
